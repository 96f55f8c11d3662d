#include "store/store.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <random>
#include <thread>

namespace benhan::store {

Status RunInTransaction(Store& store, const std::function<Status(Transaction&)>& work,
                        int attempts) {
  thread_local std::mt19937 rng{std::random_device{}()};
  Status last;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    if (attempt > 0) {
      int base_ms = 2 << attempt;
      std::uniform_int_distribution<int> jitter(0, base_ms);
      std::this_thread::sleep_for(std::chrono::milliseconds(base_ms + jitter(rng)));
    }
    auto txn = store.BeginWrite();
    if (!txn.ok()) {
      last = txn.status();
    } else {
      last = work(**txn);
      if (last.ok()) last = (*txn)->Commit();
    }
    if (last.ok()) return last;
    if (last.code() != Code::kConflict && last.code() != Code::kUnavailable) return last;
  }
  return last;
}

struct GroupCommitter::Item {
  const std::function<Status(Transaction&)>* work;
  Status status;
  bool taken = false;  // in a leader's group
  bool done = false;   // committed and durable, or failed
};

GroupCommitter::GroupCommitter(Store& store, size_t max_group)
    : store_(store), max_group_(max_group) {}
GroupCommitter::~GroupCommitter() = default;

void GroupCommitter::SetMinGroup(size_t min_group, std::chrono::milliseconds max_wait) {
  {
    std::lock_guard<std::mutex> l(mu_);
    min_group_ = std::max<size_t>(1, min_group);
    max_wait_ = max_wait;
  }
  linger_cv_.notify_all();
}

Status GroupCommitter::Run(const std::function<Status(Transaction&)>& work) {
  Item me{&work, {}, false, false};
  std::unique_lock<std::mutex> lock(mu_);
  queue_.push_back(&me);
  if (leading_ && min_group_ > 1) linger_cv_.notify_one();
  while (!me.done) {
    if (leading_ || me.taken) {
      cv_.wait(lock);
      continue;
    }
    // Lead: take a group (in arrival order, including our own item) and commit it.
    leading_ = true;
    // Batching (min_group_ > 1: HL7 messages in flight, bulk import): while an earlier group's
    // sync is in progress, keep gathering until it ends. This group's sync could not begin before
    // that one ends anyway, and a bigger group writes each page it dirties once for more units.
    // Without batching (REST writes alone) the next group commits while the previous one syncs.
    if (min_group_ > 1 && syncing_units_ > 0) {
      linger_cv_.wait(lock, [&] {
        return syncing_units_ == 0 || min_group_ <= 1 || queue_.size() >= max_group_;
      });
    }
    // Units of earlier groups waiting for their sync will not come: their callers are blocked.
    auto enough = [&] { return queue_.size() + syncing_units_ >= min_group_; };
    if (!enough()) {
      auto deadline = std::chrono::steady_clock::now() + max_wait_;
      linger_cv_.wait_until(lock, deadline, enough);
    }
    std::vector<Item*> group;
    // Moves queued units into the group (up to max_group_); mu_ must be held.
    auto take_queued = [&] {
      while (!queue_.empty() && group.size() < max_group_) {
        group.push_back(queue_.front());
        group.back()->taken = true;
        queue_.pop_front();
      }
    };
    take_queued();
    lock.unlock();
    // Optimistic first: the units run back to back with no savepoints. A savepoint costs a copy of
    // every page its unit writes (SQLite's sub-journal), and units rarely fail under the lock. If
    // one does, the transaction is rolled back and the group runs again, each unit in its own
    // savepoint (a group of one needs no second run: its failure is its result).
    Status commit;
    bool savepoints = false;
    bool single_failed = false;
    uint64_t durable_ticket = 0;
    // One transaction, committed (visible) but not yet waited on for durability.
    auto run_once = [&](const std::function<Status(Transaction&)>& units) -> Status {
      auto txn = store_.BeginWrite();
      if (!txn.ok()) return txn.status();
      RETURN_IF_ERROR(units(**txn));
      return (*txn)->CommitVisible(&durable_ticket);
    };
    for (int attempt = 0; attempt < 5; ++attempt) {
      bool unit_failed = false;
      commit = run_once([&](Transaction& txn) -> Status {
        // Indexes, not iterators: the first (optimistic) run takes units that arrive meanwhile.
        for (size_t i = 0; i < group.size(); ++i) {
          Item* it = group[i];
          if (savepoints) RETURN_IF_ERROR(txn.Savepoint());
          try {
            it->status = (*it->work)(txn);
          } catch (const std::exception& e) {  // a bug in one unit must not strand the others
            it->status = Status(Code::kInternal, std::string("unit of work failed: ") + e.what());
          }
          if (!savepoints && !it->status.ok()) {
            unit_failed = true;
            return Status(Code::kInternal, "a unit failed");  // rolls the transaction back
          }
          if (it->status.ok()) {
            if (savepoints) RETURN_IF_ERROR(txn.ReleaseSavepoint());
          } else {
            RETURN_IF_ERROR(txn.RollbackToSavepoint());
          }
          // Units that arrived while this group was being written join it: the commit writes
          // each page it dirtied once for all of them, and they would otherwise wait for this
          // commit and then for their own. Not in a savepoint re-run (its group is fixed).
          if (i + 1 == group.size() && !savepoints) {
            std::lock_guard<std::mutex> l(mu_);
            take_queued();
          }
        }
        return Status::Ok();
      });
      if (unit_failed) {
        if (group.size() == 1) {
          single_failed = true;
          break;
        }
        savepoints = true;
        --attempt;  // not a retry of the commit
        continue;
      }
      if (commit.ok() || (commit.code() != Code::kConflict && commit.code() != Code::kUnavailable))
        break;
    }
    if (single_failed) commit = Status::Ok();  // the unit's own status stands
    // The next group may start now: this one's commit is written; its sync (WaitDurable) runs
    // while the next group works, and one sync may cover several groups.
    lock.lock();
    leading_ = false;
    syncing_units_ += group.size();
    cv_.notify_all();
    lock.unlock();
    Status durable = commit.ok() ? store_.WaitDurable(durable_ticket) : Status::Ok();
    lock.lock();
    syncing_units_ -= group.size();
    if (syncing_units_ == 0) linger_cv_.notify_all();  // a leader gathering during the sync
    for (Item* it : group) {
      if (!commit.ok())
        it->status = commit;
      else if (!durable.ok() && it->status.ok())
        it->status = durable;
      it->done = true;
    }
    cv_.notify_all();
  }
  return me.status;
}

}  // namespace benhan::store
