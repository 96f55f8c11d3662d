// The embedded SQLite backend of Store: one file `benhan.db` in the data directory, WAL mode, one
// writer connection (writes serialized by a mutex, BEGIN IMMEDIATE) and a pool of reader
// connections for snapshot reads. Schema migrations are applied on open.
//
// Thread-safety: all Store methods are thread-safe. Ownership: created by Open(), owned by the
// caller.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "store/store.h"

namespace benhan::store {

struct SqliteOptions {
  std::string path;              // database file; ":memory:" is not supported (readers need a file)
  int readers = 4;               // reader connections
  int cache_mib = 64;            // page cache per connection
  bool synchronous_full = true;  // fsync the WAL on every commit (power-loss durability)
};

// Opens (creating and migrating if needed) the database. Errors: kUnavailable if the file cannot be
// opened, kInternal if a migration fails, kNotSupported if the schema is newer than this binary.
Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options);

// Schema version this binary writes.
int SqliteSchemaVersion();

}  // namespace benhan::store
