// The patients of stored resource versions, remembered by the version's global change sequence
// (`VersionRecord::seq`). A stored version never changes, so an entry never goes stale: reads
// and searches of the same versions (a chart opened again, a page of results) skip the scan of
// the stored text (PatientCompartment::PatientsOfStored) that the access policy and the audit
// row's patient need.
//
// Ownership: values are copied in and out. Thread-safety: all methods are thread-safe (sharded
// mutexes). Memory is bounded: a shard that reaches kShardEntries is cleared before the next
// insertion (a cache, not a record). Errors: none.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace benhan::service {

class VersionPatients {
 public:
  static constexpr size_t kShards = 16;
  static constexpr size_t kShardEntries = 2048;

  // The patients remembered for version `seq` (> 0), or nullopt.
  std::optional<std::vector<std::string>> Get(int64_t seq) const {
    const Shard& s = shards_[ShardOf(seq)];
    std::lock_guard<std::mutex> l(s.mu);
    auto it = s.by_seq.find(seq);
    if (it == s.by_seq.end()) return std::nullopt;
    return it->second;
  }
  void Put(int64_t seq, const std::vector<std::string>& patients) {
    Shard& s = shards_[ShardOf(seq)];
    std::lock_guard<std::mutex> l(s.mu);
    if (s.by_seq.size() >= kShardEntries) s.by_seq.clear();
    s.by_seq.emplace(seq, patients);
  }

 private:
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<int64_t, std::vector<std::string>> by_seq;
  };
  static size_t ShardOf(int64_t seq) { return static_cast<uint64_t>(seq) % kShards; }
  std::array<Shard, kShards> shards_;
};

}  // namespace benhan::service
