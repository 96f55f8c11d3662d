// `benhan migrate-store`: a clinic's SQLite database moved to PostgreSQL keeps every version,
// tombstone, history entry, search answer and audit row.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include "app/migrate_store.h"
#include "store/postgres/pg_store.h"
#include "support/pg_cluster.h"
#include "support/test_server.h"

namespace json = boost::json;

namespace benhan::testing {
namespace {

std::string Body(const std::string& id, const std::string& family) {
  return json::serialize(json::object{
      {"resourceType", "Patient"},
      {"id", id},
      {"name", json::array{json::object{{"family", family}, {"given", json::array{"Văn"}}}}}});
}

// What a client sees of the database: reads, every version, histories and searches.
std::vector<std::string> Snapshot(TestServer& s) {
  std::vector<std::string> out;
  auto strip = [](std::string body) {  // Bundle ids and timestamps differ per response
    json::value v = json::parse(body);
    if (v.is_object()) {
      v.as_object().erase("id");
      v.as_object().erase("meta");
      v.as_object().erase("link");
      if (auto* e = v.as_object().if_contains("entry")) {
        for (auto& x : e->as_array()) x.as_object().erase("fullUrl");
      }
    }
    return json::serialize(v);
  };
  for (const char* path :
       {"/fhir/Patient/p1", "/fhir/Patient/p2", "/fhir/Patient/p3", "/fhir/Patient/p1/_history/1",
        "/fhir/Patient/p1/_history/2", "/fhir/Patient/p3/_history/2", "/fhir/Patient/p1/_history",
        "/fhir/Patient/_history", "/fhir/_history", "/fhir/Patient?name=nguyen",
        "/fhir/Patient?family=tran&_total=accurate", "/fhir/Patient?_content=van&_sort=-_id"}) {
    Response r = s.Request("GET", path);
    out.push_back(std::string(path) + " " + std::to_string(r.status) + " " + strip(r.body));
  }
  return out;
}

// The destination: an empty PostgreSQL database whose schema a first start of a server on it
// created. Sets *pg_dir to that server's data directory (kept) and returns the database's name
// ("" if the server did not start).
std::string EmptyDestination(std::string* pg_dir) {
  ServerOptions po;
  po.config["storage"] = "postgresql";
  auto first = TestServer::Start(po);
  if (!first) return "";
  first->KeepDataDir();
  *pg_dir = first->data_dir();
  first.reset();
  std::string db;
  std::getline(std::ifstream(*pg_dir + "/pg-database"), db);
  return db;
}

TEST(MigrateStore, SqliteToPostgresKeepsEveryVersionAndAuditRow) {
  std::string why;
  if (TestPostgres(&why).empty()) GTEST_SKIP() << "PostgreSQL is not available: " << why;
  auto src = TestServer::Start();
  ASSERT_TRUE(src);
  ASSERT_EQ(src->Request("PUT", "/fhir/Patient/p1", Body("p1", "Nguyễn")).status, 201);
  ASSERT_EQ(src->Request("PUT", "/fhir/Patient/p1", Body("p1", "Trần")).status, 200);
  ASSERT_EQ(src->Request("PUT", "/fhir/Patient/p2", Body("p2", "Nguyễn")).status, 201);
  ASSERT_EQ(src->Request("PUT", "/fhir/Patient/p3", Body("p3", "Lê")).status, 201);
  ASSERT_EQ(src->Request("DELETE", "/fhir/Patient/p3").status, 200);
  ASSERT_EQ(src->Request("PUT", "/fhir/Patient/p1", Body("p1", "Trần Nguyễn")).status, 200);
  std::vector<std::string> before = Snapshot(*src);
  src->Stop();  // flushes the audit log and closes the database

  std::string pg_dir;
  std::string db = EmptyDestination(&pg_dir);
  ASSERT_FALSE(db.empty());
  {
    store::PostgresOptions o;
    o.url = TestPostgres(nullptr) + db;
    auto dest = store::OpenPostgresStore(o);
    ASSERT_TRUE(dest.ok()) << dest.status().ToString();
    auto sum = app::MigrateStore(src->data_dir(), **dest, nullptr);
    ASSERT_TRUE(sum.ok()) << sum.status().ToString();
    EXPECT_EQ(sum->versions, 6);
    EXPECT_EQ(sum->resources, 3);
    EXPECT_GT(sum->audit_rows, 6);
    // A second run refuses: the destination is no longer empty.
    EXPECT_EQ(app::MigrateStore(src->data_dir(), **dest, nullptr).status().code(),
              Code::kPreconditionFailed);
    // The audit trail came along.
    PGconn* c = PQconnectdb(o.url.c_str());
    PGresult* r = PQexec(c, "SELECT COUNT(*) FROM audit_event");
    EXPECT_EQ(std::string(PQgetvalue(r, 0, 0)), std::to_string(sum->audit_rows));
    sqlite3* lite = nullptr;
    ASSERT_EQ(sqlite3_open_v2((src->data_dir() + "/benhan.db").c_str(), &lite, SQLITE_OPEN_READONLY,
                              nullptr),
              SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(lite, "SELECT COUNT(*) FROM audit_event", -1, &st, nullptr);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int64(st, 0), sum->audit_rows);
    sqlite3_finalize(st);
    sqlite3_close(lite);
    PQclear(r);
    PQfinish(c);
  }
  ServerOptions again;
  again.data_dir = pg_dir;
  again.config["storage"] = "postgresql";
  auto dst = TestServer::Start(again);
  ASSERT_TRUE(dst);
  std::vector<std::string> after = Snapshot(*dst);
  ASSERT_EQ(before.size(), after.size());
  for (size_t i = 0; i < before.size(); ++i) EXPECT_EQ(before[i], after[i]);
  dst.reset();
  std::error_code ec;
  std::filesystem::remove_all(pg_dir, ec);
  if (!::testing::Test::HasFailure()) DropTestDatabase(db);
}

// Rows the source stored compressed with its own dictionaries (sqlite.compress_after) arrive in
// PostgreSQL as their JSON, next to rows stored plain before the first dictionary.
TEST(MigrateStore, CompressedSqliteRowsArriveAsTheirJson) {
  std::string why;
  if (TestPostgres(&why).empty()) GTEST_SKIP() << "PostgreSQL is not available: " << why;
  static const char* kFamily[] = {"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng"};
  auto bundle = [&](int from, int to) {
    json::array entries;
    for (int i = from; i < to; ++i) {
      std::string id = "c" + std::to_string(i);
      json::object body = json::parse(Body(id, kFamily[i % 7])).as_object();
      body["birthDate"] = std::to_string(1950 + i % 60) + "-0" + std::to_string(1 + i % 9) + "-2" +
                          std::to_string(i % 8);
      entries.push_back(json::object{{"resource", body},
                                     {"request", {{"method", "PUT"}, {"url", "Patient/" + id}}}});
    }
    return json::serialize(
        json::object{{"resourceType", "Bundle"}, {"type", "transaction"}, {"entry", entries}});
  };
  ServerOptions so;
  so.config["sqlite.compress_after"] = "200";
  auto src = TestServer::Start(so);
  ASSERT_TRUE(src);
  ASSERT_EQ(src->Request("POST", "/fhir", bundle(0, 300)).status, 200);
  src->Stop();  // closing the store waits for the dictionary it started training at 300 versions
  so.data_dir = src->data_dir();
  auto again = TestServer::Start(so);
  ASSERT_TRUE(again);
  ASSERT_EQ(again->Request("POST", "/fhir", bundle(300, 350)).status, 200);
  std::vector<std::string> before;
  for (int i : {0, 150, 299, 300, 349}) {
    Response r = again->Request("GET", "/fhir/Patient/c" + std::to_string(i));
    ASSERT_EQ(r.status, 200);
    before.push_back(r.body);
  }
  again->Stop();
  {
    sqlite3* lite = nullptr;
    ASSERT_EQ(sqlite3_open_v2((src->data_dir() + "/benhan.db").c_str(), &lite, SQLITE_OPEN_READONLY,
                              nullptr),
              SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(lite,
                       "SELECT (SELECT COUNT(*) FROM json_dict), SUM(substr(json, 1, 4) = "
                       "x'28b52ffd'), COUNT(*) FROM resource_version",
                       -1, &st, nullptr);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int64(st, 0), 1);
    EXPECT_EQ(sqlite3_column_int64(st, 1), 50);  // the second bundle
    EXPECT_EQ(sqlite3_column_int64(st, 2), 350);
    sqlite3_finalize(st);
    sqlite3_close(lite);
  }
  std::string pg_dir;
  std::string db = EmptyDestination(&pg_dir);
  ASSERT_FALSE(db.empty());
  {
    store::PostgresOptions o;
    o.url = TestPostgres(nullptr) + db;
    auto dest = store::OpenPostgresStore(o);
    ASSERT_TRUE(dest.ok()) << dest.status().ToString();
    auto sum = app::MigrateStore(src->data_dir(), **dest, nullptr);
    ASSERT_TRUE(sum.ok()) << sum.status().ToString();
    EXPECT_EQ(sum->versions, 350);
  }
  ServerOptions pa;
  pa.data_dir = pg_dir;
  pa.config["storage"] = "postgresql";
  auto dst = TestServer::Start(pa);
  ASSERT_TRUE(dst);
  size_t k = 0;
  for (int i : {0, 150, 299, 300, 349}) {
    Response r = dst->Request("GET", "/fhir/Patient/c" + std::to_string(i));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, before[k++]) << "Patient/c" << i;
  }
  Response found = dst->Request("GET", "/fhir/Patient?family=dang&_total=accurate");
  EXPECT_NE(found.body.find("\"total\":50"), std::string::npos) << found.body;
  dst.reset();
  std::error_code ec;
  std::filesystem::remove_all(pg_dir, ec);
  if (!::testing::Test::HasFailure()) DropTestDatabase(db);
}

}  // namespace
}  // namespace benhan::testing
