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

void AuditLog::Record(const Event& e) {
  if (discarding()) return;
  std::lock_guard<std::mutex> l(mu_);
  if (spare_.empty()) {
    queue_.emplace_back();
  } else {
    queue_.push_back(std::move(spare_.back()));  // moves the strings' storage, no allocation
    spare_.pop_back();
  }
  store::AuditRecord& r = queue_.back();
  r.time_us = e.time_us;
  r.principal.assign(e.principal);  // within the kept capacity: no allocation
  r.action.assign(e.action);
  r.type.assign(e.type);
  r.id.assign(e.id);
  r.version = e.version;
  r.status = e.status;
  r.remote.assign(e.remote);
  r.detail.assign(e.detail);
  r.patient.assign(e.patient);
  r.flags.assign(e.flags);
  if (queue_.size() == kWakeAt) cv_.notify_all();
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
    if (queue_.empty()) return Status::Ok();
    batch.swap(queue_);
    queue_.swap(empty_);  // the next records go into kept capacity
  }
  size_t n = batch.size();
  Status st = store_.TakeAudit(batch);  // the store may move the records into its transaction
  if (!st.ok()) {
    log::Error("audit: could not write " + std::to_string(n) + " events: " + st.ToString());
    std::lock_guard<std::mutex> l(mu_);
    // Keep them, in order, for the next try.
    queue_.insert(queue_.begin(), std::make_move_iterator(batch.begin()),
                  std::make_move_iterator(batch.end()));
    return st;
  }
  // Keep the written records for Record(const Event&) to refill. Outside the lock: drop what is
  // over the bound, and records whose strings grew large.
  auto big = [](const store::AuditRecord& r) {
    return r.principal.capacity() + r.action.capacity() + r.type.capacity() + r.id.capacity() +
               r.remote.capacity() + r.detail.capacity() + r.patient.capacity() +
               r.flags.capacity() >
           kMaxKeptBytes;
  };
  std::erase_if(batch, big);
  std::lock_guard<std::mutex> l(mu_);
  if (batch.size() + spare_.size() > kMaxSpare)
    batch.resize(kMaxSpare > spare_.size() ? kMaxSpare - spare_.size() : 0);
  if (spare_.empty()) {
    spare_.swap(batch);  // the usual case: the readers used up the spares of the last batch
  } else {
    spare_.insert(spare_.end(), std::make_move_iterator(batch.begin()),
                  std::make_move_iterator(batch.end()));
  }
  batch.clear();
  if (batch.capacity() > empty_.capacity()) empty_.swap(batch);
  return Status::Ok();
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
