// AuditLog: records who read patient data. Reads are queued and written by a background thread in
// batches (at most `flush_interval_ms` late); writes are audited inside their own store transaction
// instead. Flush() forces the queue out; the destructor flushes.
// Thread-safety: Record() and Flush() are thread-safe.
#pragma once

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

 private:
  void Run();
  store::Store& store_;
  int interval_ms_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<store::AuditRecord> queue_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace benhan::service
