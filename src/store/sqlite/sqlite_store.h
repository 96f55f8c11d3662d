// The embedded SQLite backend of Store: one file `benhan.db` in the data directory, WAL mode, one
// writer connection (writes serialized by a mutex, BEGIN IMMEDIATE) and a pool of reader
// connections for snapshot reads. Schema migrations are applied on open.
//
// Thread-safety: all Store methods are thread-safe. Ownership: created by Open(), owned by the
// caller.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/status.h"
#include "store/store.h"

namespace benhan::store {

inline constexpr int kDefaultSqlitePageSize = 8192;

struct SqliteOptions {
  std::string path;    // database file; ":memory:" is not supported (readers need a file)
  int readers = 4;     // reader connections
  int cache_mib = 64;  // page cache per connection
  // Page size of a new database (a power of two, 4096-65536); an existing database keeps its own.
  // Every commit writes each page it dirtied whole to the WAL: small pages suit many small
  // commits (HL7 v2 messages, REST writes), large ones bulk loads; measured in docs/benchmarks.md
  // ("Page size and the memory map").
  int page_size = kDefaultSqlitePageSize;
  // Bytes of the database file read through a memory map instead of the page cache (MiB; 0: none).
  // Off by default: with a map SQLite decodes a page's header again at every access and each first
  // touch of a mapped page faults; a search that visits thousands of pages (`_has`, codes with
  // many matches) ran 2-3x slower with 256 MiB mapped (docs/benchmarks.md, "Page size and the
  // memory map").
  int mmap_mib = 0;
  // Every write transaction durable before it is reported done (power-loss durability): the WAL is
  // fdatasync'ed after the commit, outside the write lock, once for all the commits made before
  // the sync began (Store::WaitDurable). false: synchronous=NORMAL, never synced by a commit.
  bool synchronous_full = true;
  // Resource JSON is stored zstd-compressed with dictionaries trained from the database's own
  // resources (sqlite/json_codec.h): the first once it holds this many versions, another each
  // time it has grown 16-fold. Until then, and with 0 (never compress), JSON is stored as is.
  // Rows keep the form they were written in; both are always read.
  int64_t compress_after = 1000;
  // Tests only: called after each dictionary training in the background, with its outcome.
  std::function<void(const Status&)> dictionary_hook;
  // Tests only: called before each WAL sync (done=false; an error fails the sync instead of
  // running it) and after it succeeded (done=true).
  std::function<Status(bool done)> wal_sync_hook;
};

// Opens (creating and migrating if needed) the database. Errors: kUnavailable if the file cannot be
// opened, kInternal if a migration fails, kNotSupported if the schema is newer than this binary.
Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options);

// Schema version this binary writes.
int SqliteSchemaVersion();

}  // namespace benhan::store
