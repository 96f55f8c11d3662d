// Compression of the resource JSON that the SQLite backend stores (resource_version.json).
//
// A stored value is either the canonical JSON as is (it starts with '{'; empty for a tombstone),
// or one zstd frame (RFC 8878; it starts with the magic number 28 B5 2F FD) made with a
// dictionary kept in the same database (table json_dict, migration 006_json_dict.sql). The
// dictionaries are trained from the database's own resources (TrainJsonDictionary), so a
// clinic's records shrink 5-8x, not the ~2x that small documents get without one, and the
// database needs nothing from outside to be read back. Every frame names its dictionary and
// carries a checksum of its content: a damaged row is reported, never returned altered. See
// docs/storage_format.md.
//
// Thread-safety: Encode, Decode, Add and the accessors may be called from any thread at once.
// Ownership: the codec copies the dictionaries it is given and owns the zstd state built from them.
// Errors: Decode returns kInternal, naming the dictionary or zstd's complaint, for a value that is
// neither JSON nor a frame it can decode; Load and Add return kInternal for a dictionary zstd
// rejects.
#pragma once

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace benhan::store::sqlite {

class JsonCodec {
 public:
  JsonCodec();
  ~JsonCodec();
  JsonCodec(const JsonCodec&) = delete;
  JsonCodec& operator=(const JsonCodec&) = delete;

  // Adds every dictionary of json_dict, read through `db` (schema 6 or later), in id order.
  Status Load(sqlite3* db);
  // Adds a dictionary that is committed in json_dict; values are encoded with the newest added.
  Status Add(std::string_view dict);

  // The zstd ids of the dictionaries known, in the order added.
  std::vector<uint32_t> dictionary_ids() const;

  // The stored form of `json` in *out: a frame with the newest dictionary, or `json` itself when
  // there is no dictionary yet or `json` is empty (tombstones).
  void Encode(std::string_view json, std::string* out) const;
  // The JSON of a stored value, in *out.
  Status Decode(std::string_view stored, std::string* out) const;
  static bool IsCompressed(std::string_view stored);

 private:
  struct Dict;
  mutable std::shared_mutex mu_;
  std::vector<std::unique_ptr<Dict>> dicts_;  // guarded by mu_; newest last
};

// A zstd dictionary of at most `max_bytes` trained from `samples` (resource JSON). Errors:
// kInvalid when zstd finds the samples too few or too small to train on.
Result<std::string> TrainJsonDictionary(const std::vector<std::string>& samples, size_t max_bytes);

// The id a dictionary's frames carry (0 for bytes that are not a zstd dictionary).
uint32_t JsonDictionaryId(std::string_view dict);

}  // namespace benhan::store::sqlite
