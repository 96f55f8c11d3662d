// Every route in api::Routes() (the table /metadata is generated from) is actually served, and
// /metadata advertises exactly the table's interactions.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>

#include "support/test_server.h"

namespace json = boost::json;

namespace benhan::testing {
namespace {

std::string Fill(std::string p, const std::string& id) {
  auto rep = [&](const std::string& from, const std::string& to) {
    for (size_t i = p.find(from); i != std::string::npos; i = p.find(from))
      p.replace(i, from.size(), to);
  };
  rep("{compartment}/{id}/{type}", "Patient/" + id + "/Observation");
  rep("{type}", "Patient");
  rep("{id}", id);
  rep("{vid}", "1");
  rep("{params}", "identifier=x|y");
  return p;
}

TEST(Routes, EveryRouteIsServedAndAdvertised) {
  auto server = TestServer::Start();
  ASSERT_TRUE(server);
  const std::string body = R"({"resourceType":"Patient","id":"r1","active":true})";
  ASSERT_EQ(server->Request("PUT", "/fhir/Patient/r1", body).status, 201);
  for (const auto& r : api::Routes()) {
    // Each route starts from an existing Patient/r1 (an earlier route may have deleted it).
    ASSERT_LT(server->Request("PUT", "/fhir/Patient/r1", body).status, 300);
    std::string path = "/fhir" + Fill(r.path, "r1");
    if (path == "/fhir/") path = "/fhir";
    std::string method = r.method;
    std::string payload;
    std::map<std::string, std::string> headers;
    if (method == "POST" && std::string(r.path) == "/") {
      payload =
          std::string(R"({"resourceType":"Bundle","type":")") + r.interaction + R"(","entry":[]})";
    } else if (method == "POST" || method == "PUT") {
      payload = body;
    } else if (method == "PATCH") {
      payload = R"([{"op":"replace","path":"/active","value":false}])";
      headers["Content-Type"] = "application/json-patch+json";
    }
    Response res = server->Request(method, path, payload, headers);
    EXPECT_TRUE(res.status >= 200 && res.status < 300)
        << method << " " << path << " -> " << res.status << " " << res.body.substr(0, 300);
  }
  Response meta = server->Request("GET", "/fhir/metadata");
  json::value cap = meta.Json();
  std::set<std::string> advertised, expected;
  for (const auto& i : cap.at("rest").at(0).at("resource").at(0).at("interaction").get_array()) {
    advertised.insert(std::string(i.at("code").get_string()));
  }
  for (const auto& r : api::Routes()) {
    if (!r.system_level && *r.interaction) expected.insert(r.interaction);
  }
  EXPECT_EQ(advertised, expected);
}

}  // namespace
}  // namespace benhan::testing
