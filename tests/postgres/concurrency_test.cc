// Many clients updating the same and different resources at once, over HTTP, on each backend:
// no update is lost (each resource's counter equals its number of successful updates), every
// refused update is answered 409 or 412, and the history holds every version, numbered 1..n.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <map>
#include <mutex>
#include <thread>

#include "support/pg_cluster.h"
#include "support/test_server.h"

namespace json = boost::json;

namespace benhan::testing {
namespace {

class Concurrency : public ::testing::TestWithParam<std::string> {};

std::string PatientBody(const std::string& id, int64_t counter) {
  return json::serialize(json::object{{"resourceType", "Patient"},
                                      {"id", id},
                                      {"multipleBirthInteger", counter},
                                      {"name", json::array{json::object{{"family", "Nguyễn"}}}}});
}

TEST_P(Concurrency, NoLostUpdatesAndCompleteHistory) {
  ServerOptions so;
  so.config["storage"] = GetParam();
  if (GetParam() == "postgresql") {
    std::string why;
    if (TestPostgres(&why).empty()) GTEST_SKIP() << "PostgreSQL is not available: " << why;
  }
  auto server = TestServer::Start(so);
  ASSERT_TRUE(server);
  // Resource "hot" is updated by every client; "own-N" by client N alone, half of them without
  // If-Match (last writer wins, but every write must still become a version).
  constexpr int kClients = 16, kRounds = 20;
  ASSERT_EQ(server->Request("PUT", "/fhir/Patient/hot", PatientBody("hot", 0)).status, 201);
  for (int c = 0; c < kClients; ++c) {
    std::string id = "own-" + std::to_string(c);
    ASSERT_EQ(server->Request("PUT", "/fhir/Patient/" + id, PatientBody(id, 0)).status, 201);
  }
  std::mutex mu;
  std::map<std::string, int64_t> successes;  // updates answered 200, by resource
  std::map<int, int64_t> statuses;
  std::vector<std::string> unexpected;
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      HttpClient client("127.0.0.1", server->port());
      std::map<std::string, std::string> auth{{"Authorization", "Bearer " + server->token()}};
      for (int round = 0; round < kRounds; ++round) {
        bool hot = round % 2 == 0;
        std::string id = hot ? "hot" : "own-" + std::to_string(c);
        bool conditional = hot || c % 2 == 0;
        // Read, increment, write back with If-Match: the version read must still be current.
        Response r = client.Send("GET", "/fhir/Patient/" + id, "", auth);
        if (r.status != 200) {
          std::lock_guard<std::mutex> l(mu);
          unexpected.push_back("GET " + id + ": " + std::to_string(r.status) + " " + r.body);
          continue;
        }
        json::value v = r.Json();
        int64_t counter = v.at("multipleBirthInteger").to_number<int64_t>();
        std::string version(v.at("meta").at("versionId").as_string());
        auto headers = auth;
        if (conditional) headers["If-Match"] = "W/\"" + version + "\"";
        Response w =
            client.Send("PUT", "/fhir/Patient/" + id, PatientBody(id, counter + 1), headers);
        std::lock_guard<std::mutex> l(mu);
        statuses[w.status]++;
        if (w.status == 200) {
          successes[id]++;
        } else if (!(conditional && (w.status == 409 || w.status == 412))) {
          unexpected.push_back("PUT " + id + ": " + std::to_string(w.status) + " " +
                               w.body.substr(0, 300));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& u : unexpected) ADD_FAILURE() << u;
  for (const auto& [status, n] : statuses)
    std::printf("  PUT answered %d: %lld\n", status, (long long)n);
  EXPECT_GT(successes["hot"], 0);
  EXPECT_GT(statuses[412] + statuses[409], 0) << "the hot resource saw no conflict at all";
  std::vector<std::string> ids{"hot"};
  for (int c = 0; c < kClients; ++c) ids.push_back("own-" + std::to_string(c));
  for (const auto& id : ids) {
    Response r = server->Request("GET", "/fhir/Patient/" + id);
    ASSERT_EQ(r.status, 200) << r.body;
    json::value v = r.Json();
    int64_t n = successes[id];
    // Every own-N update of an unconditional client still read the latest version (one client).
    EXPECT_EQ(v.at("multipleBirthInteger").to_number<int64_t>(), n) << id << ": an update was lost";
    EXPECT_EQ(std::string(v.at("meta").at("versionId").as_string()), std::to_string(n + 1)) << id;
    Response h = server->Request("GET", "/fhir/Patient/" + id + "/_history?_count=1000");
    ASSERT_EQ(h.status, 200) << h.body;
    json::value hb = h.Json();
    EXPECT_EQ(hb.at("total").to_number<int64_t>(), n + 1) << id;
    const auto& entries = hb.at("entry").as_array();
    ASSERT_EQ(static_cast<int64_t>(entries.size()), n + 1) << id;
    for (size_t i = 0; i < entries.size(); ++i) {  // newest first: n+1, n, ..., 1; counters too
      const auto& res = entries[i].at("resource");
      int64_t want = n + 1 - static_cast<int64_t>(i);
      EXPECT_EQ(std::string(res.at("meta").at("versionId").as_string()), std::to_string(want));
      EXPECT_EQ(res.at("multipleBirthInteger").to_number<int64_t>(), want - 1) << id;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, Concurrency, ::testing::Values("sqlite", "postgresql"));

}  // namespace
}  // namespace benhan::testing
