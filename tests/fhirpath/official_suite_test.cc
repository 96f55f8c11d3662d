// Runs HL7's official FHIRPath R4 test suite (tests-fhir-r4.xml) against the engine, reading the
// shared test data in place. Every case that does not pass must be listed with its reason in
// known_failures.txt; the test fails on a new failure (a regression) and prints the pass count.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "fhir/fhirpath/fhirpath.h"

namespace benhan::fhir::fhirpath {
namespace {

namespace fs = std::filesystem;

const fs::path kData = BENHAN_SHARED_DATA;
const fs::path kSuite = kData / "fhirpath-tests/official/tests-fhir-r4.xml";
const fs::path kInputs = kData / "fhirpath-tests/fhirpath.js/test/resources/r4";

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out.push_back(s[i]);
      continue;
    }
    size_t e = s.find(';', i);
    std::string_view ent = s.substr(i + 1, e - i - 1);
    if (ent == "lt")
      out += '<';
    else if (ent == "gt")
      out += '>';
    else if (ent == "amp")
      out += '&';
    else if (ent == "quot")
      out += '"';
    else if (ent == "apos")
      out += '\'';
    else
      out += std::string(s.substr(i, e - i + 1));
    i = e;
  }
  return out;
}

struct Case {
  std::string name;
  std::string group;
  std::string input;
  std::string expression;
  std::string invalid;  // "", "syntax", "semantic", "execution", "true"
  bool strict = false;
  bool predicate = false;
  std::vector<std::pair<std::string, std::string>> outputs;  // (type, text)
};

// A small reader for the suite's flat XML: <group>, <test attrs><expression attrs>..</expression>
// <output type=..>..</output></test>. Comments are skipped.
std::map<std::string, std::string> Attrs(std::string_view tag) {
  std::map<std::string, std::string> m;
  size_t i = 0;
  while (true) {
    size_t eq = tag.find('=', i);
    if (eq == std::string_view::npos) break;
    size_t ks = tag.find_last_of(" \t\n", eq);
    std::string key(tag.substr(ks + 1, eq - ks - 1));
    char q = tag[eq + 1];
    size_t end = tag.find(q, eq + 2);
    m[key] = Unescape(tag.substr(eq + 2, end - eq - 2));
    i = end + 1;
  }
  return m;
}

std::vector<Case> LoadSuite(const std::string& xml) {
  std::vector<Case> cases;
  std::string group;
  size_t i = 0;
  Case* cur = nullptr;
  while ((i = xml.find('<', i)) != std::string::npos) {
    if (xml.compare(i, 4, "<!--") == 0) {
      i = xml.find("-->", i) + 3;
      continue;
    }
    size_t e = xml.find('>', i);
    std::string_view tag(xml.data() + i + 1, e - i - 1);
    std::string_view tname = tag.substr(0, tag.find_first_of(" \t\n/"));
    if (tname == "group") {
      group = Attrs(tag)["name"];
    } else if (tname == "test") {
      cases.emplace_back();
      cur = &cases.back();
      auto a = Attrs(tag);
      cur->name = a.count("name") ? a["name"] : "unnamed-" + std::to_string(cases.size());
      cur->group = group;
      cur->input = a["inputfile"];
      cur->predicate = a["predicate"] == "true";
      cur->strict = a["mode"] == "strict";
    } else if ((tname == "expression" || tname == "output") && cur != nullptr) {
      auto a = Attrs(tag);
      size_t close = xml.find("</" + std::string(tname) + ">", e);
      std::string text = Unescape(std::string_view(xml).substr(e + 1, close - e - 1));
      if (tname == "expression") {
        cur->expression = text;
        cur->invalid = a["invalid"];
        if (a["mode"] == "strict") cur->strict = true;
      } else {
        cur->outputs.emplace_back(a["type"], text);
      }
      e = close;
    }
    i = e + 1;
  }
  return cases;
}

bool NumEq(double a, double b) { return std::fabs(a - b) <= 1e-9 * std::max(1.0, std::fabs(b)); }

// Compares one result item with an expected (type, text).
bool Matches(const Item& it, const std::string& type, std::string text, std::string* why) {
  const boost::json::value& v = it.json();
  std::string t = type;
  if (t.empty()) {
    if (text.rfind("@T", 0) == 0)
      t = "time";
    else if (text.rfind("@", 0) == 0)
      t = text.find('T') != std::string::npos ? "dateTime" : "date";
    else if (text.find('\'') != std::string::npos)
      t = "Quantity";
    else if (text == "true" || text == "false")
      t = "boolean";
    else if (text.find('.') != std::string::npos)
      t = "decimal";
    else
      t = "integer";
  }
  *why = "expected " + t + " " + text + ", got " + boost::json::serialize(v) + " (" +
         std::string(it.type()) + ")";
  if (t == "boolean") return v.is_bool() && v.get_bool() == (text == "true");
  if (t == "integer") return v.is_int64() && std::to_string(v.get_int64()) == text;
  if (t == "decimal") return v.is_number() && NumEq(v.to_number<double>(), std::stod(text));
  if (t == "date" || t == "dateTime" || t == "time") {
    if (!text.empty() && text[0] == '@') text = text.substr(1);
    if (t == "time" && !text.empty() && text[0] == 'T') text = text.substr(1);
    return v.is_string() && v.get_string() == text;
  }
  if (t == "Quantity") {
    auto sp = text.find(' ');
    double num = std::stod(text.substr(0, sp));
    std::string unit = text.substr(sp + 1);
    if (unit.size() >= 2 && unit.front() == '\'') unit = unit.substr(1, unit.size() - 2);
    if (!v.is_object()) return false;
    const auto* val = v.get_object().if_contains("value");
    const auto* u = v.get_object().if_contains("unit");
    const auto* code = v.get_object().if_contains("code");
    std::string got_unit = code && code->is_string() ? std::string(code->get_string())
                           : u && u->is_string()     ? std::string(u->get_string())
                                                     : "";
    return val && val->is_number() && NumEq(val->to_number<double>(), num) && got_unit == unit;
  }
  // string-like
  return v.is_string() && v.get_string() == text;
}

// Runs one case; returns "" if it passes, else the reason.
std::string RunCase(const Case& c, const Definitions& defs,
                    std::map<std::string, std::unique_ptr<boost::json::value>>& inputs) {
  const boost::json::value* input = nullptr;
  if (!c.input.empty()) {
    std::string json_name = c.input.substr(0, c.input.rfind('.')) + ".json";
    auto& slot = inputs[json_name];
    if (!slot) {
      std::string text = ReadFile(kInputs / json_name);
      if (text.empty()) return "input file " + json_name + " not found";
      slot = std::make_unique<boost::json::value>(boost::json::parse(text));
    }
    input = slot.get();
  }
  auto expr = Compile(c.expression);
  bool invalid = !c.invalid.empty();
  if (!expr.ok()) {
    return invalid ? "" : "unexpected syntax error: " + expr.status().message();
  }
  if (c.invalid == "syntax") return "expected a syntax error";
  std::string type;
  if (input != nullptr && input->is_object()) {
    if (const auto* rt = input->get_object().if_contains("resourceType"))
      type = std::string(rt->get_string());
  }
  Status check = CheckStrict(**expr, type, defs);
  if (!check.ok()) {
    return invalid ? "" : "unexpected strict-check error: " + check.message();
  }
  auto r = input != nullptr ? Evaluate(**expr, *input, defs) : EvaluateEmpty(**expr, defs);
  if (!r.ok()) return invalid ? "" : "unexpected evaluation error: " + r.status().message();
  if (invalid)
    return "expected an error (" + c.invalid + "), got " + boost::json::serialize(ToJson(*r));
  Collection got = *r;
  if (c.predicate) {
    got = {Item::Computed(boost::json::value(!got.empty()), "Boolean")};
  }
  if (got.size() != c.outputs.size()) {
    return "expected " + std::to_string(c.outputs.size()) + " items, got " +
           boost::json::serialize(ToJson(got));
  }
  for (size_t i = 0; i < got.size(); ++i) {
    std::string why;
    if (!Matches(got[i], c.outputs[i].first, c.outputs[i].second, &why))
      return "item " + std::to_string(i) + ": " + why;
  }
  return "";
}

TEST(OfficialSuite, R4) {
  if (!fs::exists(kSuite))
    GTEST_SKIP() << "official FHIRPath suite not found at " << kSuite << " (shared data absent)";
  auto defs = Definitions::LoadEmbedded();
  ASSERT_TRUE(defs.ok());
  std::vector<Case> cases = LoadSuite(ReadFile(kSuite));
  ASSERT_GT(cases.size(), 900u);

  // known_failures.txt: "name<TAB>reason" per line; '#' comments.
  std::map<std::string, std::string> known;
  {
    std::ifstream in(fs::path(BENHAN_FHIRPATH_TEST_DIR) / "known_failures.txt");
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      auto tab = line.find('\t');
      known[line.substr(0, tab)] = tab == std::string::npos ? "" : line.substr(tab + 1);
    }
  }
  std::map<std::string, std::unique_ptr<boost::json::value>> inputs;
  size_t passed = 0;
  std::vector<std::string> regressions, fixed;
  std::ostringstream failures;
  for (const Case& c : cases) {
    std::string why = RunCase(c, **defs, inputs);
    if (why.empty()) {
      ++passed;
      if (known.count(c.name)) fixed.push_back(c.name);
      continue;
    }
    failures << c.name << "\t" << c.group << ": " << why << "\n";
    if (!known.count(c.name)) regressions.push_back(c.name + ": " + c.expression + " -> " + why);
  }
  std::cout << "FHIRPath official R4 suite: " << passed << "/" << cases.size() << " passed ("
            << (100.0 * static_cast<double>(passed) / static_cast<double>(cases.size())) << "%)\n";
  if (const char* out = std::getenv("BENHAN_FHIRPATH_FAILURES_OUT")) {
    std::ofstream(out) << failures.str();
  }
  for (const auto& n : fixed)
    std::cout << "now passing (remove from known_failures.txt): " << n << "\n";
  for (const auto& r : regressions) ADD_FAILURE() << "not in known_failures.txt: " << r;
  RecordProperty("passed", static_cast<int>(passed));
  RecordProperty("total", static_cast<int>(cases.size()));
}

}  // namespace
}  // namespace benhan::fhir::fhirpath
