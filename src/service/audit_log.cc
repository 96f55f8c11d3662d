#include "service/audit_log.h"

#include <chrono>
#include <iterator>

#include "core/log.h"

namespace benhan::service {
namespace {
constexpr size_t kWakeAt = 20000;  // queued records that wake the writer before its interval
}  // namespace

AuditLog::AuditLog(store::Store& store, int flush_interval_ms)
    : store_(store), interval_ms_(flush_interval_ms), thread_([this] { Run(); }) {}

AuditLog::~AuditLog() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  (void)Flush();
}

void AuditLog::Record(store::AuditRecord rec) {
  if (discarding()) return;
  std::lock_guard<std::mutex> l(mu_);
  queue_.push_back(std::move(rec));
  // The writer wakes every interval; only a very large backlog wakes it early. Batches by time
  // (thousands of rows at read rates) dirty each index page once per commit, not once per 1,000.
  if (queue_.size() == kWakeAt) cv_.notify_all();
}

Status AuditLog::Flush() {
  std::vector<store::AuditRecord> batch;
  {
    std::lock_guard<std::mutex> l(mu_);
    batch.swap(queue_);
  }
  if (batch.empty()) return Status::Ok();
  size_t n = batch.size();
  Status st = store_.TakeAudit(batch);  // moves the records into the transaction
  if (!st.ok()) {
    log::Error("audit: could not write " + std::to_string(n) + " events: " + st.ToString());
    std::lock_guard<std::mutex> l(mu_);
    // Keep them, in order, for the next try.
    queue_.insert(queue_.begin(), std::make_move_iterator(batch.begin()),
                  std::make_move_iterator(batch.end()));
  }
  return st;
}

void AuditLog::Run() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    cv_.wait_for(l, std::chrono::milliseconds(interval_ms_),
                 [&] { return stop_ || queue_.size() >= kWakeAt; });
    if (queue_.empty()) continue;
    l.unlock();
    (void)Flush();
    l.lock();
  }
}

}  // namespace benhan::service
