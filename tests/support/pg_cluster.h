// A real PostgreSQL server for tests, started from the Debian binaries
// (/usr/lib/postgresql/15/bin) in a temporary directory on 127.0.0.1 and a free port, its socket
// in that directory, and stopped by its PID (never by name). As root, the server runs as the
// `postgres` user (PostgreSQL refuses to run as root).
//
// One server serves a whole test run: ctest starts it once (the `pg_cluster` fixture, see
// tests/CMakeLists.txt) and every test process finds it through BENHAN_PG_FIXTURE_FILE; a test
// binary run by hand starts its own for the process. Each test works in its own database.
//
// Thread-safety: not thread-safe; use from the test's main thread.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "core/status.h"

namespace benhan::testing {

// The directory of the PostgreSQL 15 server binaries, or "" if they are not installed.
std::string PgBinDir();

class PgCluster {
 public:
  // initdb in `dir` (created; must not exist or be empty) and starts the server. Errors:
  // kNotFound (no PostgreSQL binaries), kUnavailable (initdb or start failed; the log is in dir).
  static Result<std::unique_ptr<PgCluster>> Start(const std::string& dir);
  // A streaming replica (hot standby) of `primary`: pg_basebackup into `dir`, then started.
  static Result<std::unique_ptr<PgCluster>> StartReplica(const PgCluster& primary,
                                                         const std::string& dir);
  // Stops the server (if running) and removes its directory unless `keep_dir`.
  ~PgCluster();

  // postgresql://postgres@127.0.0.1:PORT/DB
  std::string Url(const std::string& db) const;
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& dir() const { return dir_; }
  // Fast shutdown by PID, waiting until the server has exited.
  Status Stop();
  // Starts the stopped server again on the same port.
  Status Restart();
  // Leaves the server running and its directory in place at destruction (the ctest fixture).
  void Detach() { detached_ = true; }

 private:
  PgCluster() = default;
  Status Launch();
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  bool detached_ = false;
};

// Stops a server started by PgCluster and then detached: its PID is the first line of
// dir/data/postmaster.pid. Removes `dir`.
Status StopDetachedCluster(const std::string& dir);

// The server of this test run: the ctest fixture's when it is up, else one started for this
// process (stopped when the process exits). Returns its URL prefix "postgresql://postgres@
// 127.0.0.1:PORT/"; "" with *why set when PostgreSQL cannot run here (tests then skip).
std::string TestPostgres(std::string* why);

// When TestPostgres()'s server started (epoch seconds), 0 if none.
int64_t TestPostgresStartTime();

// A new, empty database (or a copy of `template_db`) on TestPostgres(); returns its name.
Result<std::string> CreateTestDatabase(const std::string& template_db = "");
// Drops a database made by CreateTestDatabase.
void DropTestDatabase(const std::string& name);

}  // namespace benhan::testing
