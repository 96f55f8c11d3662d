// Read replicas on a real streaming replica: a primary and a hot standby (pg_basebackup) started
// by the test. Searches are served by the replica (while its replay is paused they miss a write
// another server just made), writes and reads by id go to the primary, the server that wrote
// sees its own write at once (read-your-writes), and searches keep being answered while the
// replica is stopped and restarted.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <thread>

#include "support/pg_cluster.h"
#include "support/test_server.h"

namespace json = boost::json;
namespace fs = std::filesystem;

namespace benhan::testing {
namespace {

std::string Sql(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  PGresult* r = PQexec(c, sql.c_str());
  std::string v = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0
                      ? PQgetvalue(r, 0, 0)
                      : std::string(PQresultErrorMessage(r));
  PQclear(r);
  PQfinish(c);
  return v;
}

std::string TempDir(const char* name) {
  std::string t = (fs::temp_directory_path() / (std::string(name) + "-XXXXXX")).string();
  return mkdtemp(t.data()) ? t : std::string();
}

std::string Patient(const std::string& id, const std::string& family) {
  return json::serialize(json::object{{"resourceType", "Patient"},
                                      {"id", id},
                                      {"name", json::array{json::object{{"family", family}}}}});
}

int64_t Total(TestServer& s, const std::string& query) {
  Response r = s.Request("GET", "/fhir/Patient?" + query + "&_total=accurate");
  EXPECT_EQ(r.status, 200) << r.body;
  json::value v = r.Json();
  return v.is_object() && v.as_object().contains("total") ? v.at("total").to_number<int64_t>() : -1;
}

bool WaitFor(const std::function<bool()>& cond, int seconds = 20) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

TEST(Replica, SearchesOnReplicaWritesOnPrimaryReadYourWritesAndFailOver) {
  if (PgBinDir().empty()) GTEST_SKIP() << "PostgreSQL 15 server binaries are not installed";
  auto primary = PgCluster::Start(TempDir("benhan-pg-primary"));
  ASSERT_TRUE(primary.ok()) << primary.status().ToString();
  ASSERT_EQ(Sql((*primary)->Url("postgres"), "CREATE DATABASE ehr"),
            "");  // (no rows: the empty error message)
  auto replica = PgCluster::StartReplica(**primary, TempDir("benhan-pg-replica"));
  ASSERT_TRUE(replica.ok()) << replica.status().ToString();
  const std::string primary_url = (*primary)->Url("ehr");
  const std::string replica_url = (*replica)->Url("ehr") + "?connect_timeout=2";
  EXPECT_EQ(Sql(replica_url, "SELECT pg_is_in_recovery()"), "t");

  // Server A writes; server B only reads. Both read searches from the replica.
  ServerOptions so;
  so.config["storage"] = primary_url;
  so.config["postgresql.replicas"] = replica_url;
  auto a = TestServer::Start(so);
  ASSERT_TRUE(a);
  auto b = TestServer::Start(so);
  ASSERT_TRUE(b);
  ASSERT_EQ(a->Request("PUT", "/fhir/Patient/p1", Patient("p1", "Nguyễn")).status, 201);
  // The write reached the replica: B's search (served there) finds it once it is replayed.
  ASSERT_TRUE(WaitFor([&] { return Total(*b, "family=nguyen") == 1; }));

  ASSERT_TRUE(WaitFor([&] { return Sql(replica_url, "SELECT COUNT(*) FROM resource") == "1"; }))
      << "the replica did not replay the first write: "
      << Sql((*primary)->Url("postgres"),
             "SELECT state || ' ' || replay_lsn::text FROM pg_stat_replication")
      << " / replica at " << Sql(replica_url, "SELECT pg_last_wal_replay_lsn()::text")
      << " / primary at " << Sql(primary_url, "SELECT pg_current_wal_insert_lsn()::text");
  // Pause replay on the replica: it stops seeing new writes.
  Sql(replica_url, "SELECT pg_wal_replay_pause()");
  ASSERT_TRUE(WaitFor(
      [&] { return Sql(replica_url, "SELECT pg_get_wal_replay_pause_state()") == "paused"; }));
  // Writes go to the primary (the replica is read-only and paused, yet the write succeeds).
  ASSERT_EQ(a->Request("PUT", "/fhir/Patient/p2", Patient("p2", "Nguyễn")).status, 201);
  EXPECT_EQ(Sql(primary_url, "SELECT COUNT(*) FROM resource"), "2");
  EXPECT_EQ(Sql(replica_url, "SELECT COUNT(*) FROM resource"), "1");
  // B's searches are served by the lagging replica: they do not see p2 yet...
  EXPECT_EQ(Total(*b, "family=nguyen"), 1);
  EXPECT_EQ(Total(*b, "_id=p2"), 0);
  // ...while reads by id go to the primary.
  EXPECT_EQ(b->Request("GET", "/fhir/Patient/p2").status, 200);
  // Read-your-writes: A, which made the write, searches the primary until the replica has it.
  EXPECT_EQ(Total(*a, "family=nguyen"), 2);
  // Replay resumes: B sees p2 from the replica.
  Sql(replica_url, "SELECT pg_wal_replay_resume()");
  ASSERT_TRUE(WaitFor([&] { return Total(*b, "family=nguyen") == 2; }));

  // The replica stops and restarts: every search is still answered (by the primary meanwhile).
  std::atomic<bool> stop{false};
  std::atomic<int> answered{0}, failed{0};
  std::thread reader([&] {
    HttpClient client("127.0.0.1", b->port());
    std::map<std::string, std::string> auth{{"Authorization", "Bearer " + b->token()}};
    while (!stop.load()) {
      Response r = client.Send("GET", "/fhir/Patient?family=nguyen&_total=accurate", "", auth);
      if (r.status == 200 && r.Json().at("total").to_number<int64_t>() == 2) {
        answered++;
      } else {
        failed++;
        ADD_FAILURE() << "search during replica restart: " << r.status << " " << r.body;
      }
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE((*replica)->Stop().ok());
  int during_stop = answered.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  EXPECT_GT(answered.load(), during_stop) << "no search answered while the replica was down";
  ASSERT_TRUE((*replica)->Restart().ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  stop = true;
  reader.join();
  EXPECT_EQ(failed.load(), 0);
  std::printf("  searches answered during the replica stop/restart: %d\n", answered.load());
  // Back on the replica (after its 2 s timeout): paused again, B misses a new write again.
  ASSERT_TRUE(WaitFor([&] { return Sql(replica_url, "SELECT pg_is_in_recovery()") == "t"; }));
  ASSERT_TRUE(WaitFor([&] { return Sql(replica_url, "SELECT COUNT(*) FROM resource") == "2"; }));
  Sql(replica_url, "SELECT pg_wal_replay_pause()");
  ASSERT_TRUE(WaitFor(
      [&] { return Sql(replica_url, "SELECT pg_get_wal_replay_pause_state()") == "paused"; }));
  ASSERT_EQ(a->Request("PUT", "/fhir/Patient/p3", Patient("p3", "Nguyễn")).status, 201);
  EXPECT_TRUE(WaitFor([&] { return Total(*b, "family=nguyen") == 2; }, 10))
      << "B's searches did not return to the replica";
  EXPECT_EQ(Total(*a, "family=nguyen"), 3);
  Sql(replica_url, "SELECT pg_wal_replay_resume()");
  a.reset();
  b.reset();
}

}  // namespace
}  // namespace benhan::testing
