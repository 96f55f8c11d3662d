// AuditLog: records who read patient data. Reads are queued and written by a background thread in
// batches (at most `flush_interval_ms` late); writes are audited inside their own store transaction
// instead. Flush() forces the queue out; the destructor flushes.
// Thread-safety: Record() and Flush() are thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "store/store.h"

namespace benhan::service {

class AuditLog {
 public:
  explicit AuditLog(store::Store& store, int flush_interval_ms = 200);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  void Record(store::AuditRecord rec);
  Status Flush();

  // Benchmarks only (bench/access.sh's "nothing" baseline): from now on Record() drops events.
  // Called by `benhan serve --demo --bench-unaudited` alone; serve refuses that flag without
  // --demo, which has no authentication and only listens on loopback, so a production server
  // (tokens, any address) can never run unaudited. Writes are still audited in their transaction.
  void DiscardReadsForBenchmark() { discard_.store(true, std::memory_order_relaxed); }
  bool discarding() const { return discard_.load(std::memory_order_relaxed); }

 private:
  void Run();
  store::Store& store_;
  int interval_ms_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<store::AuditRecord> queue_;
  bool stop_ = false;
  std::atomic<bool> discard_{false};
  std::thread thread_;
};

}  // namespace benhan::service
