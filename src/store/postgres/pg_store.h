// The PostgreSQL backend of Store (PostgreSQL 15, libpq): the same model and answers as the
// SQLite backend, for many concurrent clinicians and millions of resources. Selected by
// `storage: postgresql://USER@HOST:PORT/DB`; the data directory then holds no patient data.
//
// Connections: a pool on the primary (writes, reads by id, conditional operations) and one pool
// per read replica (searches and history, which tolerate replica lag; docs/postgresql.md states
// the read-your-writes rule). A replica that fails is skipped until it answers again: the primary
// takes its reads meanwhile.
//
// Writes: one write transaction at a time across every benhan process on the database (a
// transaction-scoped advisory lock taken before it first locks a resource), so the change
// sequence `seq` is in commit order, as with SQLite; concurrent requests of one process share
// transactions through GroupCommitter. Index rows and audit rows are sent in bulk (one
// INSERT ... SELECT FROM unnest(arrays) per table and transaction).
//
// Errors: SQLSTATE 40001/40P01 (serialization failure, deadlock) and 23505 (a racing create)
// are kConflict (RunInTransaction retries); a lost connection, a server shutting down or a
// read-only (demoted) primary are kUnavailable (retried; the pool reconnects); a statement timeout
// is kTimeout; text that is not UTF-8 is kInvalid; the rest kInternal.
//
// Thread-safety: all Store methods are thread-safe. Ownership: created by OpenPostgresStore(),
// owned by the caller.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "store/store.h"

namespace benhan::store {

struct PostgresOptions {
  std::string url;                        // postgresql://USER@HOST:PORT/DB (libpq URI)
  std::vector<std::string> replica_urls;  // read replicas (hot standbys); may be empty
  int pool_size = 8;                      // connections per server, opened on demand
  int statement_timeout_ms = 30000;       // 0: none
  bool migrate = true;                    // apply pending migrations on open
};

// True if `storage` names PostgreSQL (postgresql:// or postgres://).
bool IsPostgresUrl(const std::string& storage);

// Connects, applies pending schema migrations (under an advisory lock: several processes may
// start at once) unless !options.migrate, and returns the store. Errors: kUnavailable (cannot
// connect), kInternal (a migration failed), kNotSupported (the schema is newer than this binary,
// or older and !migrate).
Result<std::unique_ptr<Store>> OpenPostgresStore(const PostgresOptions& options);

// Applies pending migrations to the database at `url`; *from and *to receive the schema versions
// before and after. Errors as OpenPostgresStore.
Status MigratePostgres(const std::string& url, int* from, int* to);

// Schema version this binary writes (the number of embedded migrations).
int PostgresSchemaVersion();

}  // namespace benhan::store
