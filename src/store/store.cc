#include "store/store.h"

#include <chrono>
#include <random>
#include <thread>

namespace benhan::store {

Status RunInTransaction(Store& store, const std::function<Status(Transaction&)>& work, int attempts) {
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

}  // namespace benhan::store
