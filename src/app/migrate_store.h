// `benhan migrate-store`: copies a clinic's SQLite database (DIR/benhan.db) into an empty
// PostgreSQL database with every version, tombstone and audit row, in the original change order;
// versions keep their JSON (ids, versionIds, lastUpdated) byte for byte, and the current versions
// are indexed again by this binary's Indexer.
//
// Reads the SQLite file read-only (the server must be stopped: the data directory's lock is
// taken). Thread-safety: one call at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/status.h"
#include "store/store.h"

namespace benhan::app {

struct MigrateStoreSummary {
  int64_t versions = 0;
  int64_t resources = 0;  // current (latest) versions, tombstones included
  int64_t audit_rows = 0;
  double seconds = 0;
};

// Copies the SQLite database in `sqlite_dir` into `to` (which must hold no resource yet).
// `progress` (may be empty) is called with the versions copied so far. Errors: kNotFound (no
// database in sqlite_dir), kUnavailable (directory in use), kPreconditionFailed (`to` is not
// empty), store errors.
Result<MigrateStoreSummary> MigrateStore(const std::string& sqlite_dir, store::Store& to,
                                         const std::function<void(int64_t)>& progress);

}  // namespace benhan::app
