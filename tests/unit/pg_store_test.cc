// store/postgres: the PostgreSQL backend's version model, index replacement, group commit,
// migrations and error mapping, on a real server (support/pg_cluster.h), each test in a new
// database.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <atomic>
#include <thread>

#include "store/postgres/pg_store.h"
#include "support/pg_cluster.h"

namespace benhan::store {
namespace {

using testing::CreateTestDatabase;
using testing::DropTestDatabase;
using testing::TestPostgres;

class PgStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (TestPostgres(&why).empty()) GTEST_SKIP() << "PostgreSQL is not available: " << why;
    auto db = CreateTestDatabase();
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = *db;
    url_ = TestPostgres(nullptr) + db_;
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    if (!db_.empty() && !HasFailure()) DropTestDatabase(db_);
  }
  void Reopen() {
    store_.reset();
    PostgresOptions o;
    o.url = url_;
    o.pool_size = 4;
    auto s = OpenPostgresStore(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  // One value of a SQL query on the test database.
  std::string Sql(const std::string& sql) {
    PGconn* c = PQconnectdb(url_.c_str());
    PGresult* r = PQexec(c, sql.c_str());
    std::string v = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0
                        ? PQgetvalue(r, 0, 0)
                        : std::string(PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
    return v;
  }
  static NewVersion Version(const std::string& id, int64_t v, const fhir::IndexEntries* ix,
                            bool deleted = false) {
    NewVersion nv;
    nv.type = "Patient";
    nv.id = id;
    nv.version = v;
    nv.last_updated_us = 1000 + v;
    nv.method = v == 1 ? "POST" : "PUT";
    nv.deleted = deleted;
    nv.json = deleted ? ""
                      : "{\"resourceType\":\"Patient\",\"id\":\"" + id +
                            "\",\"v\":" + std::to_string(v) + "}";
    nv.index = ix;
    return nv;
  }
  int64_t CountByFamily(const std::string& folded) {
    Query q;
    Condition c;
    c.param = "family";
    c.kind = ParamKind::kString;
    QueryValue v;
    v.code = folded;
    c.any_of.push_back(v);
    q.all_of.push_back(c);
    q.want_total = true;
    auto r = store_->Search("Patient", q);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->total.value_or(-1) : -1;
  }
  std::string db_, url_;
  std::unique_ptr<Store> store_;
};

TEST_F(PgStoreTest, VersionsHistoryAndTombstones) {
  EXPECT_EQ(store_->backend_name(), "postgresql");
  ASSERT_TRUE(RunInTransaction(*store_, [&](Transaction& t) {
                return t.Put(Version("a", 1, nullptr)).status();
              }).ok());
  ASSERT_TRUE(RunInTransaction(*store_, [&](Transaction& t) {
                return t.Put(Version("a", 2, nullptr)).status();
              }).ok());
  Status st = RunInTransaction(
      *store_, [&](Transaction& t) { return t.Put(Version("a", 4, nullptr)).status(); });
  EXPECT_EQ(st.code(), Code::kPreconditionFailed);
  ASSERT_TRUE(RunInTransaction(*store_, [&](Transaction& t) {
                return t.Put(Version("a", 3, nullptr, true)).status();
              }).ok());
  auto cur = store_->Read("Patient", "a");
  ASSERT_TRUE(cur.ok());
  EXPECT_TRUE(cur->deleted);
  EXPECT_EQ(cur->version, 3);
  auto v1 = store_->VRead("Patient", "a", 1);
  ASSERT_TRUE(v1.ok());
  EXPECT_NE(v1->json.find("\"v\":1"), std::string::npos);
  HistoryQuery hq;
  hq.type = "Patient";
  hq.id = "a";
  auto h = store_->History(hq);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->entries.size(), 3u);
  EXPECT_EQ(h->entries[0].version, 3);
  EXPECT_GT(h->entries[0].seq, h->entries[1].seq);
  EXPECT_EQ(store_->Read("Patient", "nope").status().code(), Code::kNotFound);
}

TEST_F(PgStoreTest, UpdateReplacesEveryKindOfIndexRowAndSurvivesReopen) {
  fhir::IndexEntries a, b;
  std::string long_text(300, 'x');
  a.strings.push_back({"family", "nguyen", "Nguyễn"});
  a.strings.push_back({"address", long_text, "quote \" and \\ backslash, {braces}"});
  a.tokens.push_back({"identifier", "http://example.org/ids", "123", "so the"});
  a.references.push_back({"organization", "Organization", "o1", ""});
  a.dates.push_back({"birthdate", -1000000, 86400000000});
  a.numbers.push_back({"length", 1.5});
  a.quantities.push_back(
      {"weight", 5.4, "http://unitsofmeasure.org", "mg", "mg", "ucum:g", 0.0054});
  a.uris.push_back({"url", "http://example.org/x"});
  b.strings.push_back({"family", "tran", "Trần"});
  auto rows = [&] {
    return Sql(
        "SELECT (SELECT COUNT(*) FROM idx_string) + (SELECT COUNT(*) FROM idx_token) + (SELECT "
        "COUNT(*) FROM idx_reference) + (SELECT COUNT(*) FROM idx_date) + (SELECT COUNT(*) FROM "
        "idx_number) + (SELECT COUNT(*) FROM idx_quantity) + (SELECT COUNT(*) FROM idx_uri)");
  };
  ASSERT_TRUE(RunInTransaction(*store_, [&](Transaction& t) {
                return t.Put(Version("p", 1, &a)).status();
              }).ok());
  EXPECT_EQ(rows(), std::to_string(a.size()));
  EXPECT_EQ(Sql("SELECT exact FROM idx_string WHERE folded <> 'nguyen'"),
            "quote \" and \\ backslash, {braces}");
  EXPECT_EQ(CountByFamily("nguyen"), 1);
  ASSERT_TRUE(RunInTransaction(*store_, [&](Transaction& t) {
                return t.Put(Version("p", 2, &b)).status();
              }).ok());
  EXPECT_EQ(rows(), "1");
  EXPECT_EQ(CountByFamily("nguyen"), 0);
  EXPECT_EQ(CountByFamily("tran"), 1);
  Reopen();
  EXPECT_EQ(CountByFamily("tran"), 1);
  // Two versions of one resource in one transaction: the second replaces the first's rows.
  ASSERT_TRUE(RunInTransaction(*store_, [&](Transaction& t) {
                RETURN_IF_ERROR(t.Put(Version("p", 3, &a)).status());
                return t.Put(Version("p", 4, &b)).status();
              }).ok());
  EXPECT_EQ(rows(), "1");
  ASSERT_TRUE(RunInTransaction(*store_, [&](Transaction& t) {
                return t.Put(Version("p", 5, nullptr, true)).status();
              }).ok());
  EXPECT_EQ(CountByFamily("tran"), 0);
  EXPECT_EQ(rows(), "0");
}

TEST_F(PgStoreTest, SavepointRollbackUndoesBufferedRows) {
  fhir::IndexEntries ix;
  ix.strings.push_back({"family", "pham", "Phạm"});
  ASSERT_TRUE(RunInTransaction(*store_, [&](Transaction& t) {
                RETURN_IF_ERROR(t.Put(Version("keep", 1, &ix)).status());
                RETURN_IF_ERROR(t.Savepoint());
                RETURN_IF_ERROR(t.Put(Version("undo", 1, &ix)).status());
                RETURN_IF_ERROR(t.Audit(
                    AuditRecord{1, "u", "create", "Patient", "undo", 1, 201, "local", "", "", ""}));
                return t.RollbackToSavepoint();
              }).ok());
  EXPECT_EQ(CountByFamily("pham"), 1);
  EXPECT_EQ(store_->Read("Patient", "undo").status().code(), Code::kNotFound);
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM audit_event"), "0");
}

TEST_F(PgStoreTest, AuditRowsAreWritten) {
  std::vector<AuditRecord> recs;
  for (int i = 0; i < 3; ++i)
    recs.push_back(
        AuditRecord{i, "dr.an", "read", "Patient", "x", 1, 200, "127.0.0.1", "q=\"1\"", "", ""});
  ASSERT_TRUE(store_->AppendAudit(recs).ok());
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM audit_event WHERE principal = 'dr.an'"), "3");
  EXPECT_EQ(Sql("SELECT detail FROM audit_event LIMIT 1"), "q=\"1\"");
}

TEST_F(PgStoreTest, GroupCommitIsolatesFailingUnits) {
  GroupCommitter gc(*store_);
  fhir::IndexEntries ix;
  ix.strings.push_back({"family", "le", "Lê"});
  constexpr int kThreads = 8, kPerThread = 10;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string id = "g";  // appended: GCC 12 warns -Wrestrict, wrongly, on "g" + to_string
        id += std::to_string(t * 100 + i);
        bool bad = i % 5 == 4;
        Status st = gc.Run([&](Transaction& txn) -> Status {
          auto r = txn.Put(Version(id, 1, &ix));
          if (!r.ok()) return r.status();
          if (bad) return Status(Code::kProcessing, "deliberate failure");
          return Status::Ok();
        });
        if (bad) {
          EXPECT_EQ(st.code(), Code::kProcessing);
          failures++;
        } else {
          EXPECT_TRUE(st.ok()) << st.ToString();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(CountByFamily("le"), kThreads * kPerThread - failures.load());
}

TEST_F(PgStoreTest, SchemaVersionIsRecordedAndNewerSchemaRefused) {
  EXPECT_EQ(Sql("SELECT MAX(version) FROM benhan_schema"), std::to_string(PostgresSchemaVersion()));
  int from = -1, to = -1;
  ASSERT_TRUE(MigratePostgres(url_, &from, &to).ok());
  EXPECT_EQ(from, PostgresSchemaVersion());
  EXPECT_EQ(to, PostgresSchemaVersion());
  store_.reset();
  Sql("INSERT INTO benhan_schema (version, name) VALUES (999, 'future.sql') RETURNING version");
  PostgresOptions o;
  o.url = url_;
  auto s = OpenPostgresStore(o);
  EXPECT_EQ(s.status().code(), Code::kNotSupported);
}

// The server drops every connection of the pool (a restart, a fail-over): reads answer without
// an error (a dropped idle connection is replaced) and writes are retried by RunInTransaction.
TEST_F(PgStoreTest, LostConnectionsAreReplacedAndWritesRetried) {
  ASSERT_TRUE(RunInTransaction(*store_, [&](Transaction& t) {
                return t.Put(Version("c", 1, nullptr)).status();
              }).ok());
  ASSERT_TRUE(store_->Read("Patient", "c").ok());
  auto kill_all = [&] {
    Sql("SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = "
        "current_database() AND pid <> pg_backend_pid()");
  };
  kill_all();
  auto r = store_->Read("Patient", "c");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  kill_all();
  Status st = RunInTransaction(
      *store_, [&](Transaction& t) { return t.Put(Version("c", 2, nullptr)).status(); });
  EXPECT_TRUE(st.ok()) << st.ToString();
  kill_all();
  auto h = store_->VRead("Patient", "c", 2);
  EXPECT_TRUE(h.ok()) << h.status().ToString();
}

TEST(PgStoreOpen, UnreachableServerIsUnavailable) {
  PostgresOptions o;
  o.url = "postgresql://postgres@127.0.0.1:1/nothing?connect_timeout=2";
  auto s = OpenPostgresStore(o);
  EXPECT_EQ(s.status().code(), Code::kUnavailable);
  EXPECT_TRUE(IsPostgresUrl("postgresql://u@h:5432/db"));
  EXPECT_TRUE(IsPostgresUrl("postgres://u@h/db"));
  EXPECT_FALSE(IsPostgresUrl("sqlite"));
}

}  // namespace
}  // namespace benhan::store
