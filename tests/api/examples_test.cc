// Every JSON example of the official R4 specification that the validator accepts can be created
// (PUT with its own id) and read back with the same content plus meta. The examples the server
// rejects are listed, with the reason, in tests/api/rejected_examples.txt; the test fails if the
// set changes. Also: the Synthea patients load as transactions over HTTP.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <set>

#include "support/test_server.h"

namespace json = boost::json;
namespace fs = std::filesystem;

namespace benhan::testing {
namespace {

// Stored = original + id/meta: compare after dropping meta.versionId/lastUpdated (and empty meta).
json::value Normalize(json::value v) {
  auto& o = v.get_object();
  if (auto* m = o.if_contains("meta"); m && m->is_object()) {
    m->get_object().erase("versionId");
    m->get_object().erase("lastUpdated");
    if (m->get_object().empty()) o.erase("meta");
  }
  return v;
}

bool SameJson(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) return a.to_number<double>() == b.to_number<double>();
  if (a.kind() != b.kind()) return false;
  if (a.is_object()) {
    const auto& x = a.get_object();
    const auto& y = b.get_object();
    if (x.size() != y.size()) return false;
    for (const auto& kv : x) {
      const auto* o = y.if_contains(kv.key());
      if (!o || !SameJson(kv.value(), *o)) return false;
    }
    return true;
  }
  if (a.is_array()) {
    const auto& x = a.get_array();
    const auto& y = b.get_array();
    if (x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i) {
      if (!SameJson(x[i], y[i])) return false;
    }
    return true;
  }
  return a == b;
}

TEST(OfficialExamples, CreateAndReadBack) {
  std::string data = SharedDataDir();
  if (data.empty()) GTEST_SKIP() << "../shared/data is absent: official examples not available";
  auto server = TestServer::Start();
  ASSERT_TRUE(server);
  std::vector<std::string> files = SortedFiles(data + "/fhir-r4-spec/examples-json");
  std::map<std::string, std::string> rejected;  // file -> reason
  int stored = 0;
  for (const auto& f : files) {
    std::string text = ReadFile(f);
    json::value v = json::parse(text);
    std::string name = fs::path(f).filename().string();
    if (!v.is_object() || !v.get_object().contains("resourceType")) {
      rejected[name] = "not a FHIR resource";
      continue;
    }
    std::string type(v.at("resourceType").get_string());
    std::string id = v.get_object().contains("id") ? std::string(v.at("id").get_string()) : "";
    Response r = id.empty() ? server->Request("POST", "/fhir/" + type, text)
                            : server->Request("PUT", "/fhir/" + type + "/" + id, text);
    if (r.status != 200 && r.status != 201) {
      json::value oo = r.Json();
      std::string reason = std::to_string(r.status);
      if (oo.is_object() && oo.get_object().contains("issue")) {
        const auto& i = oo.at("issue").at(0).get_object();
        reason += " " + std::string(i.at("code").get_string()) + ": " +
                  std::string(i.at("diagnostics").get_string());
      }
      rejected[name] = reason;
      continue;
    }
    if (id.empty()) id = std::string(r.Json().at("id").get_string());
    Response back = server->Request("GET", "/fhir/" + type + "/" + id);
    ASSERT_EQ(back.status, 200) << name;
    json::value got = back.Json();
    EXPECT_EQ(got.at("meta").at("versionId"), json::value("1")) << name;
    json::value want = v;
    want.get_object()["id"] = id;
    EXPECT_TRUE(SameJson(Normalize(want), Normalize(got)))
        << name << " did not read back the same:\n"
        << json::serialize(want).substr(0, 800) << "\n"
        << json::serialize(got).substr(0, 800);
    ++stored;
  }
  // Compare with the committed list.
  fs::path list = fs::path(BENHAN_SOURCE_DIR) / "tests/api/rejected_examples.txt";
  if (std::getenv("BENHAN_UPDATE_REJECTED")) {
    std::ofstream out(list);
    out << "# Official R4 examples that benhan rejects, and why (tests/api/examples_test.cc).\n";
    for (const auto& [f, why] : rejected) out << f << "\t" << why << "\n";
  }
  std::map<std::string, std::string> expected;
  std::ifstream in(list);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto tab = line.find('\t');
    expected[line.substr(0, tab)] = tab == std::string::npos ? "" : line.substr(tab + 1);
  }
  for (const auto& [f, why] : rejected) {
    EXPECT_TRUE(expected.count(f)) << "newly rejected: " << f << ": " << why;
  }
  for (const auto& [f, why] : expected) {
    EXPECT_TRUE(rejected.count(f)) << "listed as rejected but now accepted: " << f;
  }
  std::printf("official examples: %d stored and read back, %zu rejected (listed with reasons)\n",
              stored, rejected.size());
  EXPECT_GT(stored, 690);
}

TEST(Synthea, LoadsAsTransactionsOverHttp) {
  std::string data = SharedDataDir();
  if (data.empty()) GTEST_SKIP() << "../shared/data is absent: Synthea data not available";
  auto server = TestServer::Start();
  ASSERT_TRUE(server);
  std::vector<std::string> files = SortedFiles(data + "/synthea/r4-bundles");
  ASSERT_EQ(files.size(), 71u);
  std::map<std::string, int64_t> want;  // type -> count
  int64_t total = 0;
  for (const auto& f : files) {
    std::string text = ReadFile(f);
    json::value b = json::parse(text);
    for (const auto& e : b.at("entry").get_array()) {
      want[std::string(e.at("resource").at("resourceType").get_string())]++;
      ++total;
    }
    Response r = server->Request("POST", "/fhir", text);
    ASSERT_EQ(r.status, 200) << f << ": " << r.body.substr(0, 1000);
    json::value resp = r.Json();
    EXPECT_EQ(resp.at("type"), json::value("transaction-response"));
    for (const auto& e : resp.at("entry").get_array()) {
      EXPECT_EQ(e.at("response").at("status"), json::value("201 Created"));
    }
  }
  for (const auto& [type, n] : want) {
    Response r = server->Request("GET", "/fhir/" + type + "?_summary=count");
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.Json().at("total").to_number<int64_t>(), n) << type;
  }
  // References were rewritten to stored resources: every Observation's subject resolves.
  Response obs = server->Request("GET", "/fhir/Observation?_count=20");
  json::value obs_json = obs.Json();
  for (const auto& e : obs_json.at("entry").get_array()) {
    std::string ref(e.at("resource").at("subject").at("reference").get_string());
    EXPECT_EQ(ref.rfind("Patient/", 0), 0u) << ref;
    EXPECT_EQ(server->Request("GET", "/fhir/" + ref).status, 200) << ref;
  }
  std::printf("synthea: %lld resources in %zu transactions\n", static_cast<long long>(total),
              files.size());
}

TEST(Synthea, ModernBundlesWithConditionalReferences) {
  std::string data = SharedDataDir();
  if (data.empty()) GTEST_SKIP() << "../shared/data is absent";
  auto server = TestServer::Start();
  ASSERT_TRUE(server);
  std::string dir = data + "/synthea/synthea-v3-modern/";
  // Organizations and practitioners first (batch with ifNoneExist), then patients (transactions
  // whose references are conditional: Practitioner?identifier=...).
  for (const char* f : {"hospitalInformation.json", "practitionerInformation.json"}) {
    Response r = server->Request("POST", "/fhir", ReadFile(dir + f));
    ASSERT_EQ(r.status, 200) << f << r.body.substr(0, 500);
    json::value rj = r.Json();
    for (const auto& e : rj.at("entry").get_array()) {
      std::string st(e.at("response").at("status").get_string());
      EXPECT_TRUE(st.rfind("2", 0) == 0) << f << ": " << st;
    }
  }
  // Loading the same batch again matches instead of duplicating (ifNoneExist).
  Response again = server->Request("POST", "/fhir", ReadFile(dir + "hospitalInformation.json"));
  ASSERT_EQ(again.status, 200);
  json::value again_json = again.Json();
  for (const auto& e : again_json.at("entry").get_array()) {
    EXPECT_EQ(e.at("response").at("status"), json::value("200 OK"));
  }
  int patients = 0;
  for (const auto& f : SortedFiles(dir)) {
    std::string name = fs::path(f).filename().string();
    if (name.find("Information") != std::string::npos) continue;
    Response r = server->Request("POST", "/fhir", ReadFile(f));
    ASSERT_EQ(r.status, 200) << name << ": " << r.body.substr(0, 800);
    ++patients;
  }
  Response r = server->Request("GET", "/fhir/Patient?_summary=count");
  EXPECT_EQ(r.Json().at("total").to_number<int>(), patients);
  Response enc = server->Request("GET", "/fhir/Encounter?_count=5");
  json::value enc_json = enc.Json();
  for (const auto& e : enc_json.at("entry").get_array()) {
    for (const auto& p : e.at("resource").at("participant").get_array()) {
      std::string ref(p.at("individual").at("reference").get_string());
      EXPECT_EQ(ref.rfind("Practitioner/", 0), 0u) << "conditional reference not resolved: " << ref;
    }
  }
}

}  // namespace
}  // namespace benhan::testing
