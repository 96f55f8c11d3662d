// The audit trail as a hash chain (store/audit_chain.h, security/audit_trail.h), through the real
// `benhan audit verify` command: intact chains pass; editing, deleting, reordering or truncating
// rows directly in the database (SQLite, PostgreSQL), rewriting the chain with recomputed hashes
// and forging a checkpoint are each detected and the first broken row is named. Concurrent
// appenders (two servers on one PostgreSQL database) chain correctly. Logins that fail are rows.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <cstdio>
#include <functional>
#include <thread>

#include "security_test_util.h"
#include "store/audit_chain.h"
#include "store/postgres/migrations.h"
#include "store/sqlite/migrations.h"
#include "support/pg_cluster.h"

namespace benhan::testing {
namespace {

struct CmdRun {
  int exit_code = -1;
  std::string out;
};

CmdRun Benhan(const std::string& args) {
  CmdRun r;
  std::string cmd = std::string(BENHAN_BIN) + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = ::pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// Some activity: writes, reads, searches, a failed login. Returns the server's data directory.
void Activity(TestServer& s) {
  for (int i = 0; i < 5; ++i) {
    auto r = s.Request("PUT", "/fhir/Patient/p" + std::to_string(i),
                       R"({"resourceType":"Patient","id":"p)" + std::to_string(i) +
                           R"(","name":[{"family":"Nguyễn"}]})",
                       {{"Content-Type", "application/fhir+json"}});
    ASSERT_EQ(r.status, 201) << r.body;
    ASSERT_EQ(s.Request("GET", "/fhir/Patient/p" + std::to_string(i)).status, 200);
  }
  ASSERT_EQ(s.Request("GET", "/fhir/Patient?family=nguyen").status, 200);
  ASSERT_EQ(
      s.Request("GET", "/fhir/Patient/p1", "", {{"Authorization", "Bearer wrong"}}, false).status,
      401);
  ASSERT_TRUE(s.node().audit().Flush().ok());
}

// --- SQLite ---------------------------------------------------------------------------------

class SqliteTamper : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = TestServer::Start();
    ASSERT_TRUE(s);
    Activity(*s);
    // A failed login is in the trail.
    auto f = s->Request("GET", "/fhir/AuditEvent?subtype=login-failed");
    ASSERT_EQ(f.status, 200);
    EXPECT_EQ(IdsOf(f).size(), 1u) << f.body;
    s->KeepDataDir();
    dir_ = s->data_dir();
    s.reset();  // stops; the last checkpoint is signed
  }
  void TearDown() override {
    std::error_code ec;
    if (!HasFailure()) std::filesystem::remove_all(dir_, ec);
    for (const auto& d : copies_) std::filesystem::remove_all(d, ec);
  }
  // A copy of the data directory with `sql` run on its database (by the sqlite3 library, as an
  // intruder with file access would).
  std::string Tampered(const std::string& sql) {
    std::string d = NewTempDir();
    copies_.push_back(d);
    std::filesystem::copy(dir_, d,
                          std::filesystem::copy_options::recursive |
                              std::filesystem::copy_options::overwrite_existing);
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open((d + "/benhan.db").c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "") << " in " << sql;
    sqlite3_free(err);
    sqlite3_close(db);
    return d;
  }
  int64_t LastAid() {
    sqlite3* db = nullptr;
    sqlite3_open((dir_ + "/benhan.db").c_str(), &db);
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db, "SELECT MAX(aid) FROM audit_event", -1, &s, nullptr);
    sqlite3_step(s);
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
  }
  std::string dir_;
  std::vector<std::string> copies_;
};

TEST_F(SqliteTamper, IntactChainVerifies) {
  CmdRun r = Benhan("audit verify --data " + dir_);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("audit trail intact"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 signed checkpoints verified"), std::string::npos) << r.out;
  EXPECT_GE(LastAid(), 12);
}

TEST_F(SqliteTamper, DatabaseRefusesUpdateAndDelete) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ + "/benhan.db").c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_NE(sqlite3_exec(db, "UPDATE audit_event SET principal = 'x' WHERE aid = 2", nullptr,
                         nullptr, &err),
            SQLITE_OK);
  EXPECT_NE(std::string(err ? err : "").find("append-only"), std::string::npos);
  sqlite3_free(err);
  err = nullptr;
  EXPECT_NE(sqlite3_exec(db, "DELETE FROM audit_event WHERE aid = 2", nullptr, nullptr, &err),
            SQLITE_OK);
  sqlite3_free(err);
  sqlite3_close(db);
}

TEST_F(SqliteTamper, EditedRowIsNamed) {
  std::string d = Tampered(
      "DROP TRIGGER audit_event_no_update; UPDATE audit_event SET principal = 'someone-else' "
      "WHERE aid = 5");
  CmdRun r = Benhan("audit verify --data " + d);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("BROKEN at row 5: row 5 was altered"), std::string::npos) << r.out;
}

TEST_F(SqliteTamper, DeletedRowIsNamed) {
  std::string d =
      Tampered("DROP TRIGGER audit_event_no_delete; DELETE FROM audit_event WHERE aid = 4");
  CmdRun r = Benhan("audit verify --data " + d);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("BROKEN at row 4: row 4 is missing"), std::string::npos) << r.out;
}

// The chain is untouched but a search posting is deleted: the row would vanish from "who viewed
// patient X"; verify names it.
TEST_F(SqliteTamper, DeletedSearchPostingIsNamed) {
  std::string d = Tampered(
      "DROP TRIGGER audit_posting_no_delete; DELETE FROM audit_posting WHERE kind = 2 AND "
      "block = 0 AND key = (SELECT principal FROM audit_event WHERE aid = 7)");
  CmdRun r = Benhan("audit verify --data " + d);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("hidden from searches"), std::string::npos) << r.out;
  // The first row of that principal is named (rows 1..7 share block 0).
  EXPECT_NE(r.out.find("BROKEN at row "), std::string::npos) << r.out;
}

TEST_F(SqliteTamper, ReorderedRowsAreNamed) {
  std::string d = Tampered(
      "DROP TRIGGER audit_event_no_update; UPDATE audit_event SET aid = -3 WHERE aid = 3; "
      "UPDATE audit_event SET aid = 3 WHERE aid = 6; UPDATE audit_event SET aid = 6 WHERE aid = "
      "-3");
  CmdRun r = Benhan("audit verify --data " + d);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("BROKEN at row 3"), std::string::npos) << r.out;
}

TEST_F(SqliteTamper, TruncatedTailIsCaughtByTheCheckpoint) {
  int64_t last = LastAid();
  std::string d = Tampered(
      "DROP TRIGGER audit_event_no_delete; DELETE FROM audit_event WHERE aid > " +
      std::to_string(last - 2) + "; UPDATE audit_head SET aid = " + std::to_string(last - 2) +
      ", hash = (SELECT hash FROM audit_event WHERE aid = " + std::to_string(last - 2) + ")");
  CmdRun r = Benhan("audit verify --data " + d);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("rows removed from the end"), std::string::npos) << r.out;
}

TEST_F(SqliteTamper, RewrittenChainIsCaughtByTheSignedCheckpoint) {
  // An intruder who knows the hash algorithm alters row 5 and recomputes every hash after it.
  std::string d = Tampered("DROP TRIGGER audit_event_no_update");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((d + "/benhan.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT aid, time, principal, action, rtype, id, version, status, "
                               "remote, detail, patient, flags, length(digest) FROM audit_event "
                               "ORDER BY aid",
                               -1, &s, nullptr),
            SQLITE_OK);
  std::vector<std::pair<int64_t, store::AuditRecord>> rows;
  while (sqlite3_step(s) == SQLITE_ROW) {
    auto text = [&](int c) {
      const unsigned char* t = sqlite3_column_text(s, c);
      return t ? std::string(reinterpret_cast<const char*>(t)) : std::string();
    };
    EXPECT_EQ(sqlite3_column_int(s, 12), 32)
        << "row " << sqlite3_column_int64(s, 0) << " is not in chain format 2";
    store::AuditRecord r{
        sqlite3_column_int64(s, 1), text(2), text(3), text(4),  text(5), sqlite3_column_int64(s, 6),
        sqlite3_column_int(s, 7),   text(8), text(9), text(10), text(11)};
    rows.emplace_back(sqlite3_column_int64(s, 0), r);
  }
  sqlite3_finalize(s);
  ASSERT_EQ(sqlite3_prepare_v2(db, "UPDATE audit_event SET principal = ?, digest = ? WHERE aid = ?",
                               -1, &s, nullptr),
            SQLITE_OK);
  store::AuditDigest prev, h;
  bool first = true;
  for (auto& [aid, r] : rows) {
    if (aid == 5) r.principal = "someone-else";
    store::AuditRowDigest(aid, r, first ? nullptr : &prev, &h);
    sqlite3_bind_text(s, 1, r.principal.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(s, 2, h.data(), static_cast<int>(h.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, aid);
    ASSERT_EQ(sqlite3_step(s), SQLITE_DONE);
    sqlite3_reset(s);
    prev = h;
    first = false;
  }
  sqlite3_finalize(s);
  std::string head = "UPDATE audit_head SET hash = '" + store::AuditDigestHex(prev) + "'";
  ASSERT_EQ(sqlite3_exec(db, head.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  CmdRun r = Benhan("audit verify --data " + d);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("differs from signed checkpoint"), std::string::npos) << r.out;
  // Forging the checkpoint too needs the signing key.
  std::string d2 = Tampered(
      "DROP TRIGGER audit_checkpoint_no_update; UPDATE audit_checkpoint SET "
      "hash = 'f00d' WHERE cid = 1");
  CmdRun r2 = Benhan("audit verify --data " + d2);
  EXPECT_EQ(r2.exit_code, 1) << r2.out;
  EXPECT_NE(r2.out.find("invalid signature"), std::string::npos) << r2.out;
}

TEST_F(SqliteTamper, RowsStoreTheirHashOnly) {
  // Chain format 2: the hash as 32 bytes; the previous row's hash is not repeated in the row.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ + "/benhan.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT COUNT(*), SUM(length(digest) = 32), SUM(prev_hash = '' AND "
                               "hash = ''), (SELECT v2_after FROM audit_head) FROM audit_event",
                               -1, &s, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_GE(sqlite3_column_int64(s, 0), 12);
  EXPECT_EQ(sqlite3_column_int64(s, 1), sqlite3_column_int64(s, 0));
  EXPECT_EQ(sqlite3_column_int64(s, 2), sqlite3_column_int64(s, 0));
  EXPECT_EQ(sqlite3_column_int64(s, 3), 0);  // a new database: format 2 from the first row
  sqlite3_finalize(s);
  sqlite3_close(db);
}

// Writes audit rows 1..n in chain format 1 (hex prev_hash and hash, schema 3) through `exec`, as
// a server before migration 004 did, and points audit_head at the last; returns its hash. The SQL
// is the same for SQLite and PostgreSQL.
std::string WriteFormatOneRows(int n, const std::function<void(const std::string&)>& exec) {
  std::string prev;
  for (int aid = 1; aid <= n; ++aid) {
    store::AuditRecord r{1700000000000000 + aid,
                         "legacy-user",
                         "read",
                         "Patient",
                         "old" + std::to_string(aid),
                         1,
                         200,
                         "10.0.0.1:5000",
                         "",
                         "old" + std::to_string(aid),
                         ""};
    std::string h = store::AuditRowHash(aid, r, prev);
    exec(
        "INSERT INTO audit_event (aid, time, principal, action, rtype, id, version, status, "
        "remote, detail, patient, flags, prev_hash, hash) VALUES (" +
        std::to_string(aid) + ", " + std::to_string(r.time_us) +
        ", 'legacy-user', 'read', 'Patient', '" + r.id + "', 1, 200, '10.0.0.1:5000', '', '" +
        r.patient + "', '', '" + prev + "', '" + h + "')");
    prev = h;
  }
  exec("UPDATE audit_head SET aid = " + std::to_string(n) + ", hash = '" + prev + "'");
  return prev;
}

// A database of schema version 3 (chain format 1: hex hashes, each row repeating the previous
// row's hash) is upgraded in place by the server; its old rows and the new format-2 rows verify as
// one chain, and tampering on either side of the boundary is named.
class SqliteUpgrade : public SqliteTamper {
 protected:
  static constexpr int kOldRows = 6;
  void SetUp() override {
    dir_ = NewTempDir();
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ + "/benhan.db").c_str(), &db), SQLITE_OK);
    auto exec = [&](const std::string& sql) {
      char* err = nullptr;
      EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
          << (err ? err : "") << " in " << sql.substr(0, 200);
      sqlite3_free(err);
    };
    exec("PRAGMA journal_mode=WAL");
    const auto& migrations = store::sqlite::Migrations();
    ASSERT_GE(migrations.size(), 4u);
    for (int i = 0; i < 3; ++i) exec(migrations[static_cast<size_t>(i)].sql);
    exec("PRAGMA user_version = 3");
    last_old_hash_ = WriteFormatOneRows(kOldRows, exec);
    sqlite3_close(db);
    ServerOptions o;
    o.data_dir = dir_;
    auto s = TestServer::Start(o);
    ASSERT_TRUE(s);
    Activity(*s);
    // The first new row links to the last old one (the FHIR AuditEvent shows both hashes).
    auto e = s->Request("GET", "/fhir/AuditEvent/audit-" + std::to_string(kOldRows + 1));
    ASSERT_EQ(e.status, 200) << e.body;
    EXPECT_NE(e.body.find(last_old_hash_), std::string::npos) << e.body;
    s->KeepDataDir();
    s.reset();
  }
  std::string last_old_hash_;
};

TEST_F(SqliteUpgrade, OldAndNewRowsVerifyAsOneChain) {
  CmdRun r = Benhan("audit verify --data " + dir_);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("audit trail intact"), std::string::npos) << r.out;
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ + "/benhan.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT (SELECT v2_after FROM audit_head), SUM(digest IS NULL AND "
                               "length(hash) = 64), SUM(length(digest) = 32), COUNT(*) FROM "
                               "audit_event",
                               -1, &s, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int64(s, 0), kOldRows);
  EXPECT_EQ(sqlite3_column_int64(s, 1), kOldRows);
  EXPECT_GE(sqlite3_column_int64(s, 2), 12);
  EXPECT_EQ(sqlite3_column_int64(s, 1) + sqlite3_column_int64(s, 2), sqlite3_column_int64(s, 3));
  sqlite3_finalize(s);
  sqlite3_close(db);
  EXPECT_NE(r.out.find(std::to_string(LastAid()) + " rows chained"), std::string::npos) << r.out;
}

TEST_F(SqliteUpgrade, TamperingOnEitherSideOfTheUpgradeIsNamed) {
  const std::string upd = "DROP TRIGGER audit_event_no_update; ";
  CmdRun old_edit =
      Benhan("audit verify --data " +
             Tampered(upd + "UPDATE audit_event SET principal = 'someone-else' WHERE aid = 3"));
  EXPECT_EQ(old_edit.exit_code, 1) << old_edit.out;
  EXPECT_NE(old_edit.out.find("BROKEN at row 3: row 3 was altered"), std::string::npos)
      << old_edit.out;
  CmdRun new_edit = Benhan("audit verify --data " +
                           Tampered(upd + "UPDATE audit_event SET detail = 'nothing' WHERE aid = " +
                                    std::to_string(kOldRows + 2)));
  EXPECT_EQ(new_edit.exit_code, 1) << new_edit.out;
  std::string at = std::to_string(kOldRows + 2);
  EXPECT_NE(new_edit.out.find("BROKEN at row " + at + ": row " + at + " was altered"),
            std::string::npos)
      << new_edit.out;
  CmdRun deleted =
      Benhan("audit verify --data " + Tampered("DROP TRIGGER audit_event_no_delete; DELETE FROM "
                                               "audit_event WHERE aid = " +
                                               std::to_string(kOldRows)));
  EXPECT_EQ(deleted.exit_code, 1) << deleted.out;
  std::string gone = std::to_string(kOldRows);
  EXPECT_NE(deleted.out.find("BROKEN at row " + gone + ": row " + gone + " is missing"),
            std::string::npos)
      << deleted.out;
  // Rows 5 (format 1) and 8 (format 2) swapped.
  CmdRun reordered = Benhan(
      "audit verify --data " +
      Tampered(upd + "UPDATE audit_event SET aid = -5 WHERE aid = 5; UPDATE audit_event SET aid = "
                     "5 WHERE aid = 8; UPDATE audit_event SET aid = 8 WHERE aid = -5"));
  EXPECT_EQ(reordered.exit_code, 1) << reordered.out;
  EXPECT_NE(reordered.out.find("BROKEN at row 5"), std::string::npos) << reordered.out;
  // Rows 8 and 9 (both format 2) swapped: no stored link, the recomputed one breaks at row 8.
  CmdRun swapped = Benhan(
      "audit verify --data " +
      Tampered(upd + "UPDATE audit_event SET aid = -8 WHERE aid = 8; UPDATE audit_event SET aid = "
                     "8 WHERE aid = 9; UPDATE audit_event SET aid = 9 WHERE aid = -8"));
  EXPECT_EQ(swapped.exit_code, 1) << swapped.out;
  EXPECT_NE(swapped.out.find("BROKEN at row 8"), std::string::npos) << swapped.out;
}

// --- PostgreSQL -----------------------------------------------------------------------------

class PgTamper : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    prefix_ = TestPostgres(&why);
    if (prefix_.empty()) GTEST_SKIP() << "PostgreSQL not available: " << why;
    ServerOptions o;
    o.config["storage"] = "postgresql";
    auto s = TestServer::Start(o);
    ASSERT_TRUE(s);
    Activity(*s);
    s->KeepDataDir();
    dir_ = s->data_dir();
    std::getline(std::ifstream(dir_ + "/pg-database"), db_);
    s->Stop();
    server_ = std::move(s);  // dropped (with its database) at the end
  }
  // A copy of the database with `sql` run on it through libpq (as psql would).
  std::string Tampered(const std::string& sql) {
    auto db = CreateTestDatabase(db_);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    PGconn* c = PQconnectdb((prefix_ + *db).c_str());
    EXPECT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
    PGresult* r = PQexec(c, sql.c_str());
    EXPECT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQerrorMessage(c) << " in " << sql;
    PQclear(r);
    PQfinish(c);
    return prefix_ + *db;
  }
  CmdRun Verify(const std::string& url) {
    return Benhan("audit verify --data " + dir_ + " --storage " + url);
  }
  std::string prefix_, dir_, db_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(PgTamper, IntactThenEditedDeletedReorderedAreNamed) {
  CmdRun ok = Verify(prefix_ + db_);
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  EXPECT_NE(ok.out.find("1 signed checkpoints verified"), std::string::npos) << ok.out;
  // The database refuses changes while the triggers are there.
  {
    PGconn* c = PQconnectdb((prefix_ + db_).c_str());
    PGresult* r = PQexec(c, "UPDATE audit_event SET principal = 'x' WHERE aid = 2");
    EXPECT_EQ(PQresultStatus(r), PGRES_FATAL_ERROR);
    EXPECT_NE(std::string(PQerrorMessage(c)).find("append-only"), std::string::npos);
    PQclear(r);
    r = PQexec(c, "TRUNCATE audit_event");
    EXPECT_EQ(PQresultStatus(r), PGRES_FATAL_ERROR);
    PQclear(r);
    PQfinish(c);
  }
  CmdRun edited = Verify(Tampered(
      "ALTER TABLE audit_event DISABLE TRIGGER USER; UPDATE audit_event SET detail = 'nothing "
      "to see' WHERE aid = 5"));
  EXPECT_EQ(edited.exit_code, 1) << edited.out;
  EXPECT_NE(edited.out.find("BROKEN at row 5: row 5 was altered"), std::string::npos) << edited.out;
  CmdRun deleted = Verify(Tampered(
      "ALTER TABLE audit_event DISABLE TRIGGER USER; DELETE FROM audit_event WHERE aid = 4"));
  EXPECT_EQ(deleted.exit_code, 1) << deleted.out;
  EXPECT_NE(deleted.out.find("BROKEN at row 4: row 4 is missing"), std::string::npos)
      << deleted.out;
  CmdRun reordered = Verify(Tampered(
      "ALTER TABLE audit_event DISABLE TRIGGER USER; UPDATE audit_event SET aid = -3 WHERE aid = "
      "3; UPDATE audit_event SET aid = 3 WHERE aid = 6; UPDATE audit_event SET aid = 6 WHERE aid "
      "= -3"));
  EXPECT_EQ(reordered.exit_code, 1) << reordered.out;
  EXPECT_NE(reordered.out.find("BROKEN at row 3"), std::string::npos) << reordered.out;
}

TEST_F(PgTamper, SchemaThreeDatabaseIsUpgradedAndVerifies) {
  // A database at schema version 3 with chain-format-1 rows (hex hashes, prev_hash stored), then
  // opened by the server (migration 004) and written to: old and new rows verify as one chain.
  auto db = CreateTestDatabase();
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  PGconn* c = PQconnectdb((prefix_ + *db).c_str());
  ASSERT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
  auto exec = [&](const std::string& sql) {
    PGresult* r = PQexec(c, sql.c_str());
    EXPECT_TRUE(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
        << PQerrorMessage(c) << " in " << sql.substr(0, 200);
    PQclear(r);
  };
  exec(
      "CREATE TABLE benhan_schema (version INTEGER NOT NULL, name TEXT NOT NULL, applied_at "
      "TIMESTAMPTZ NOT NULL DEFAULT now())");
  const auto& migrations = store::postgres::Migrations();
  ASSERT_GE(migrations.size(), 4u);
  for (int i = 0; i < 3; ++i) {
    exec(migrations[static_cast<size_t>(i)].sql);
    exec("INSERT INTO benhan_schema (version, name) VALUES (" + std::to_string(i + 1) + ", '" +
         migrations[static_cast<size_t>(i)].name + "')");
  }
  const std::string prev = WriteFormatOneRows(4, exec);
  PQfinish(c);
  std::string dir = NewTempDir();
  std::ofstream(dir + "/pg-database") << *db << "\n";
  {
    ServerOptions o;
    o.config["storage"] = "postgresql";
    o.data_dir = dir;
    auto s = TestServer::Start(o);
    ASSERT_TRUE(s);
    Activity(*s);
    auto e = s->Request("GET", "/fhir/AuditEvent/audit-5");
    ASSERT_EQ(e.status, 200) << e.body;
    EXPECT_NE(e.body.find(prev), std::string::npos) << e.body;  // links to the last old row
    s->Stop();
  }
  CmdRun ok = Benhan("audit verify --data " + dir + " --storage " + prefix_ + *db);
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  EXPECT_NE(ok.out.find("audit trail intact"), std::string::npos) << ok.out;
  // An edited format-1 row is still named.
  c = PQconnectdb((prefix_ + *db).c_str());
  exec(
      "ALTER TABLE audit_event DISABLE TRIGGER USER; UPDATE audit_event SET detail = 'x' WHERE "
      "aid = 3");
  PQfinish(c);
  CmdRun edited = Benhan("audit verify --data " + dir + " --storage " + prefix_ + *db);
  EXPECT_EQ(edited.exit_code, 1) << edited.out;
  EXPECT_NE(edited.out.find("BROKEN at row 3: row 3 was altered"), std::string::npos) << edited.out;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  DropTestDatabase(*db);
}

TEST_F(PgTamper, ConcurrentAppendersFromTwoServersChainInOrder) {
  // Two servers on one database (two connection pools), writing and reading at once.
  ServerOptions o1, o2;
  o1.config["storage"] = o2.config["storage"] = "postgresql";
  o1.data_dir = dir_;
  std::string dir2 = NewTempDir();
  std::filesystem::copy(dir_ + "/pg-database", dir2 + "/pg-database");
  std::filesystem::create_directories(dir2 + "/secrets");
  std::filesystem::copy(dir_ + "/secrets/audit-signing.pem", dir2 + "/secrets/audit-signing.pem");
  o2.data_dir = dir2;
  auto a = TestServer::Start(o1);
  auto b = TestServer::Start(o2);
  ASSERT_TRUE(a && b);
  auto work = [](TestServer* s, int k) {
    HttpClient c("127.0.0.1", s->port());
    for (int i = 0; i < 40; ++i) {
      std::string id = "c" + std::to_string(k) + "-" + std::to_string(i);
      auto r = c.Send(
          "PUT", "/fhir/Patient/" + id, R"({"resourceType":"Patient","id":")" + id + R"("})",
          {{"Authorization", "Bearer " + s->token()}, {"Content-Type", "application/fhir+json"}});
      EXPECT_EQ(r.status, 201) << r.body;
      c.Send("GET", "/fhir/Patient/" + id, "", {{"Authorization", "Bearer " + s->token()}});
    }
  };
  std::vector<std::thread> ts;
  for (int k = 0; k < 3; ++k) {
    ts.emplace_back(work, a.get(), k);
    ts.emplace_back(work, b.get(), 10 + k);
  }
  for (auto& t : ts) t.join();
  a->Stop();
  b->Stop();
  CmdRun r = Verify(prefix_ + db_);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  // 240 writes + 240 reads more than the activity's rows, all chained.
  EXPECT_NE(r.out.find("audit trail intact"), std::string::npos) << r.out;
  std::error_code ec;
  std::filesystem::remove_all(dir2, ec);
}

}  // namespace
}  // namespace benhan::testing
