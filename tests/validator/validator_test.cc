// Validator tests: the official R4 examples (expected rejections listed in rejected_examples.txt),
// the Synthea bundles (all clean), table-driven bad inputs (bad_cases.json), and a throughput
// measurement on Synthea resources.
#include "fhir/validator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json.hpp>

namespace json = boost::json;
namespace fs = std::filesystem;

namespace benhan::fhir {
namespace {

const std::shared_ptr<const Definitions>& Defs() {
  static auto d = Definitions::LoadEmbedded();
  EXPECT_TRUE(d.ok()) << d.status().ToString();
  return *d;
}

const Validator& V() {
  static const Validator v(Defs());
  return v;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

json::value ParseOrDie(const std::string& text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  EXPECT_FALSE(ec) << ec.message();
  return v;
}

std::string FirstIssue(const Status& st) {
  const Issue& i = st.issues().front();
  return std::string(CodeName(i.code)) + " " + i.expression + ": " + i.message;
}

const fs::path kData = BENHAN_SHARED_DATA;
const fs::path kTestDir = BENHAN_VALIDATOR_TEST_DIR;

std::vector<fs::path> JsonFiles(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".json") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Every official example is validated; those rejected must be exactly the ones listed (with the
// first issue, for review) in rejected_examples.txt. Set BENHAN_UPDATE_REJECTED=1 to rewrite it.
TEST(ValidatorExamples, OfficialR4ExamplesMatchRejectedList) {
  fs::path dir = kData / "fhir-r4-spec/examples-json";
  if (!fs::exists(dir)) GTEST_SKIP() << "shared data not found at " << dir << "; nothing to check";
  std::map<std::string, std::string> rejected;
  size_t n = 0;
  for (const auto& f : JsonFiles(dir)) {
    json::value v = ParseOrDie(ReadFile(f));
    Status st = V().Validate(v);
    ++n;
    if (!st.ok()) rejected[f.filename().string()] = FirstIssue(st);
  }
  EXPECT_EQ(n, 707u);
  std::ostringstream now;
  for (const auto& [file, issue] : rejected) now << file << "\t" << issue << "\n";
  fs::path list = kTestDir / "rejected_examples.txt";
  if (std::getenv("BENHAN_UPDATE_REJECTED") != nullptr) {
    std::ofstream(list) << now.str();
  }
  std::set<std::string> expected;
  std::istringstream in(ReadFile(list));
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    expected.insert(line.substr(0, line.find('\t')));
  }
  std::set<std::string> got;
  for (const auto& [file, issue] : rejected) got.insert(file);
  for (const auto& f : got) {
    EXPECT_TRUE(expected.contains(f)) << "newly rejected: " << f << "\t" << rejected[f];
  }
  for (const auto& f : expected) EXPECT_TRUE(got.contains(f)) << "no longer rejected: " << f;
  std::printf("%zu examples, %zu rejected\n", n, rejected.size());
}

std::vector<json::value> SyntheaResources(size_t max_files) {
  std::vector<json::value> out;
  fs::path dir = kData / "synthea/r4-bundles";
  if (!fs::exists(dir)) return out;
  size_t files = 0;
  for (const auto& f : JsonFiles(dir)) {
    if (files++ >= max_files) break;
    json::value b = ParseOrDie(ReadFile(f));
    for (auto& e : b.at("entry").as_array()) out.push_back(e.at("resource"));
  }
  return out;
}

TEST(ValidatorSynthea, AllResourcesValidateClean) {
  if (!fs::exists(kData / "synthea/r4-bundles")) GTEST_SKIP() << "shared data not found: " << kData;
  std::vector<json::value> resources = SyntheaResources(SIZE_MAX);
  ASSERT_GT(resources.size(), 1000u);
  size_t bad = 0;
  for (const auto& r : resources) {
    Status st = V().Validate(r);
    if (!st.ok() && bad++ < 20)
      ADD_FAILURE() << r.at("resourceType").as_string() << ": " << st.ToString();
  }
  EXPECT_EQ(bad, 0u) << "of " << resources.size();
}

// Throughput on Synthea resources, one thread (a measurement, not a pass/fail gate; the
// bench/validator_bench.cc program measures the same with more repetitions).
TEST(ValidatorSynthea, Throughput) {
  if (!fs::exists(kData / "synthea/r4-bundles")) GTEST_SKIP() << "shared data not found: " << kData;
  std::vector<json::value> resources = SyntheaResources(10);
  ASSERT_FALSE(resources.empty());
  auto t0 = std::chrono::steady_clock::now();
  size_t ok = 0, n = 0;
  for (int rep = 0; rep < 3; ++rep) {
    for (const auto& r : resources) {
      ok += V().Validate(r).ok();
      ++n;
    }
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("validated %zu Synthea resources in %.3f s: %.0f resources/s\n", n, s, n / s);
  EXPECT_EQ(ok, n);
}

// Table-driven bad inputs: bad_cases.json, each case {name, purpose, resource, issues: [{code,
// expression, message_contains?}]}; the validator must report exactly these issues (in any order).
TEST(ValidatorCases, BadInputs) {
  json::value cases = ParseOrDie(ReadFile(kTestDir / "bad_cases.json"));
  ASSERT_TRUE(cases.is_array());
  for (const auto& c : cases.as_array()) {
    std::string name(c.at("name").as_string());
    SCOPED_TRACE(name);
    Status st = V().Validate(c.at("resource"));
    std::multiset<std::string> want, got;
    for (const auto& i : c.at("issues").as_array()) {
      want.insert(std::string(i.at("code").as_string()) + " " +
                  std::string(i.at("expression").as_string()));
    }
    for (const auto& i : st.issues())
      got.insert(std::string(CodeName(i.code)) + " " + i.expression);
    EXPECT_EQ(want, got) << name << ": " << st.ToString();
    for (const auto& i : c.at("issues").as_array()) {
      if (const json::value* m = i.as_object().if_contains("message_contains")) {
        bool found = false;
        for (const auto& is : st.issues()) {
          found |= is.message.find(std::string_view(m->as_string())) != std::string::npos;
        }
        EXPECT_TRUE(found) << name << ": no message contains '" << m->as_string() << "' in "
                           << st.ToString();
      }
    }
  }
}

TEST(ValidatorCases, BindingsCanBeSwitchedOff) {
  Validator lax(Defs(), ValidationOptions{.check_required_bindings = false});
  json::value p = ParseOrDie(R"({"resourceType":"Patient","gender":"femme"})");
  EXPECT_FALSE(V().Validate(p).ok());
  EXPECT_TRUE(lax.Validate(p).ok()) << lax.Validate(p).ToString();
}

TEST(ValidatorCases, ManyErrorsAreCapped) {
  json::object o;
  o["resourceType"] = "Patient";
  for (int i = 0; i < 1000; ++i) o["bogus" + std::to_string(i)] = 1;
  Status st = V().Validate(json::value(std::move(o)));
  EXPECT_EQ(st.issues().size(), Validator::kMaxIssues + 1);
}

TEST(ValidatorCases, DeepNestingIsReportedNotCrashed) {
  // Questionnaire.item.item... nested far deeper than kMaxDepth.
  std::string s = R"({"resourceType":"Questionnaire","status":"draft")";
  std::string tail = "}";
  for (int i = 0; i < 300; ++i) {
    s += R"(,"item":[{"linkId":"a","type":"group")";
    tail = "}]" + tail;
  }
  json::parse_options po;
  po.max_depth = 10000;
  json::value v = json::parse(s + tail, {}, po);
  Status st = V().Validate(v);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.ToString().find("nested too deeply"), std::string::npos) << st.ToString();
}

}  // namespace
}  // namespace benhan::fhir
