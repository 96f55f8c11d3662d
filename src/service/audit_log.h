// AuditLog: records who read patient data. Reads are queued and written by a background thread in
// batches (at most `flush_interval_ms` late); writes are audited inside their own store transaction
// instead. Flush() forces the queue out; the destructor flushes.
// Written records are kept (up to kMaxSpare) and refilled by the next Record(const Event&): their
// strings keep their storage, so an audited read allocates nothing in the steady state, and the
// writer thread frees nothing that a request thread allocated (a cross-thread free takes the
// allocating thread's arena lock).
// Thread-safety: Record() and Flush() are thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string_view>
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

  // One event's fields, borrowed for the call (copied into a recycled record).
  struct Event {
    int64_t time_us = 0;
    std::string_view principal, action, type, id;
    int64_t version = 0;
    int status = 0;
    std::string_view remote, detail, patient, flags;
  };
  void Record(const Event& e);
  void Record(store::AuditRecord rec);
  Status Flush();

  // Written records kept for reuse at most; a record whose strings grew past kMaxKeptBytes is not
  // kept (one long search's query string must not stay allocated in thousands of records).
  static constexpr size_t kMaxSpare = 16384;
  static constexpr size_t kMaxKeptBytes = 512;

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
  std::vector<store::AuditRecord> queue_;  // waiting to be written, in order
  std::vector<store::AuditRecord> spare_;  // written, kept for their strings' storage
  std::vector<store::AuditRecord> empty_;  // no records, its capacity kept: the next queue_
  bool stop_ = false;
  std::atomic<bool> discard_{false};
  std::thread thread_;
};

}  // namespace benhan::service
