// Differential test of search: for a broad set of queries over the Synthea data, the ids the server
// returns must equal the ids found by evaluating the same SearchParameter's FHIRPath expression on
// every loaded resource with the FHIR matching rules (string: folded prefix of any part, token:
// system|code, reference: Type/id, date: overlap rules of ge/le) — an independent evaluation that
// shares neither the index tables nor the SQL compiler.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "core/clock.h"
#include "core/text.h"
#include "fhir/fhirpath/fhirpath.h"
#include "fhir/indexer.h"
#include "support/test_server.h"

namespace json = boost::json;
namespace fs = std::filesystem;

namespace benhan::testing {
namespace {

struct Loaded {
  std::map<std::string, std::vector<json::value>> by_type;  // stored resources (with server ids)
};

std::set<std::string> ServerIds(TestServer& s, const std::string& type, const std::string& query) {
  std::set<std::string> ids;
  std::string url = "/fhir/" + type + "?" + query + "&_count=1000&_elements=id";
  for (int page = 0; page < 50 && !url.empty(); ++page) {
    Response r = s.Request("GET", url);
    EXPECT_EQ(r.status, 200) << url << " " << r.body.substr(0, 300);
    if (r.status != 200) break;
    json::value b = r.Json();
    for (const auto& e : b.at("entry").get_array()) {
      if (e.at("search").at("mode") == json::value("match"))
        ids.insert(std::string(e.at("resource").at("id").get_string()));
    }
    url.clear();
    for (const auto& l : b.at("link").get_array()) {
      if (l.at("relation") == json::value("next")) {
        std::string u(l.at("url").get_string());
        url = u.substr(u.find("/fhir/"));
      }
    }
  }
  return ids;
}

fhir::fhirpath::Collection Values(const fhir::Definitions& defs, const std::string& type,
                                  const std::string& code, const json::value& res) {
  const fhir::SearchParamDef* p = defs.FindSearchParam(type, code);
  EXPECT_NE(p, nullptr) << type << "." << code;
  auto expr = fhir::fhirpath::CompileCached(fhir::ExpressionFor(p->expression, type, defs));
  EXPECT_TRUE(expr.ok());
  fhir::fhirpath::EvalOptions opts;
  opts.stub_unresolved_references = true;
  auto r = fhir::fhirpath::Evaluate(**expr, res, defs, opts);
  return r.ok() ? *r : fhir::fhirpath::Collection{};
}

std::string_view Str(const json::value& o, std::string_view k) {
  if (!o.is_object()) return {};
  const auto* v = o.get_object().if_contains(k);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

// Independent matchers.
bool StringMatches(const fhir::fhirpath::Item& it, const std::string& folded_prefix) {
  std::vector<std::string> parts;
  const json::value& v = it.json();
  if (v.is_string()) parts.emplace_back(v.get_string());
  if (v.is_object()) {
    for (const auto& kv : v.get_object()) {
      if (kv.value().is_string()) parts.emplace_back(kv.value().get_string());
      if (kv.value().is_array()) {
        for (const auto& e : kv.value().get_array()) {
          if (e.is_string()) parts.emplace_back(e.get_string());
        }
      }
    }
  }
  for (const auto& p : parts) {
    if (text::Fold(p).rfind(folded_prefix, 0) == 0) return true;
  }
  return false;
}

bool TokenMatches(const fhir::fhirpath::Item& it, const std::string& system,
                  const std::string& code) {
  const json::value& v = it.json();
  if (v.is_string()) return system.empty() && v.get_string() == code;
  std::vector<const json::value*> codings;
  if (const auto* c = v.is_object() ? v.get_object().if_contains("coding") : nullptr;
      c && c->is_array()) {
    for (const auto& cd : c->get_array()) codings.push_back(&cd);
  } else {
    codings.push_back(&v);
  }
  for (const json::value* cd : codings) {
    std::string_view c = Str(*cd, "code");
    if (c.empty()) c = Str(*cd, "value");
    if (c == code && (system.empty() || Str(*cd, "system") == system)) return true;
  }
  return false;
}

bool ReferenceMatches(const fhir::fhirpath::Item& it, const std::string& ref) {
  return Str(it.json(), "reference") == ref;
}

// ge: the resource's range reaches at or after the value; le: starts at or before its end.
bool DateMatches(const fhir::fhirpath::Item& it, const std::string& prefix, const InstantRange& q) {
  const json::value& v = it.json();
  int64_t low = INT64_MIN / 2, high = INT64_MAX / 2;
  if (v.is_string()) {
    auto r = ParseFhirDateRange(v.get_string());
    if (!r) return false;
    low = r->low;
    high = r->high;
  } else if (v.is_object()) {
    if (auto r = ParseFhirDateRange(Str(v, "start"))) low = r->low;
    if (auto r = ParseFhirDateRange(Str(v, "end"))) high = r->high;
    if (Str(v, "start").empty() && Str(v, "end").empty()) return false;
  } else {
    return false;
  }
  if (prefix == "ge") return high > q.low;
  return low < q.high;  // le
}

// True if the FHIRPath boolean expression `expr` (a predicate over the resource) yields true.
bool FhirPathTrue(const fhir::Definitions& defs, const std::string& expr, const json::value& res) {
  auto compiled = fhir::fhirpath::CompileCached(expr);
  EXPECT_TRUE(compiled.ok()) << expr;
  if (!compiled.ok()) return false;
  auto r = fhir::fhirpath::Evaluate(**compiled, res, defs);
  if (!r.ok() || r->size() != 1) return false;
  const json::value& v = r->front().json();
  return v.is_bool() && v.get_bool();
}

// Every string of the resource, folded: has a word that starts with `word`.
bool ContentHasWord(const json::value& v, const std::string& word) {
  if (v.is_string()) {
    std::string f = text::Fold(v.get_string());
    for (size_t p = f.find(word); p != std::string::npos; p = f.find(word, p + 1)) {
      if (p == 0 || !std::isalnum(static_cast<unsigned char>(f[p - 1]))) return true;
    }
    return false;
  }
  if (v.is_array()) {
    for (const auto& e : v.get_array())
      if (ContentHasWord(e, word)) return true;
  }
  if (v.is_object()) {
    for (const auto& kv : v.get_object())
      if (kv.key() != "resourceType" && ContentHasWord(kv.value(), word)) return true;
  }
  return false;
}

TEST(SearchDifferential, SyntheaQueriesAgreeWithFhirPath) {
  std::string data = SharedDataDir();
  if (data.empty()) GTEST_SKIP() << "../shared/data is absent: no Synthea data";
  auto server = TestServer::Start();
  ASSERT_TRUE(server);
  std::vector<std::string> files = SortedFiles(data + "/synthea/r4-bundles");
  files.resize(25);  // a third of the data keeps the test quick; the queries come from it
  for (const auto& f : files)
    ASSERT_EQ(server->Request("POST", "/fhir", ReadFile(f)).status, 200) << f;

  const fhir::Definitions& defs = *server->node().defs();
  Loaded loaded;
  for (const char* type :
       {"Patient", "Observation", "Condition", "Encounter", "Immunization", "Procedure"}) {
    std::string url = std::string("/fhir/") + type + "?_count=1000";
    while (!url.empty()) {
      json::value b = server->Request("GET", url).Json();
      for (const auto& e : b.at("entry").get_array())
        loaded.by_type[type].push_back(e.at("resource"));
      url.clear();
      for (const auto& l : b.at("link").get_array()) {
        if (l.at("relation") == json::value("next")) {
          std::string u(l.at("url").get_string());
          url = u.substr(u.find("/fhir/"));
        }
      }
    }
  }
  ASSERT_GT(loaded.by_type["Observation"].size(), 500u);

  struct Q {
    std::string type, query;
    std::function<bool(const json::value&)> expected;
  };
  std::vector<Q> queries;
  std::mt19937 rng(7);
  auto pick = [&](const std::string& type) -> const json::value& {
    auto& v = loaded.by_type[type];
    return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)];
  };
  for (int i = 0; i < 12; ++i) {
    // string: a prefix of a patient's family name, folded, in upper case
    const json::value& p = pick("Patient");
    std::string family(Str(p.at("name").at(0), "family"));
    std::string prefix = text::Fold(family.substr(0, 3));
    std::string upper = prefix;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    queries.push_back({"Patient", "family=" + upper, [&, prefix](const json::value& r) {
                         for (const auto& it : Values(defs, "Patient", "family", r)) {
                           if (StringMatches(it, prefix)) return true;
                         }
                         return false;
                       }});
    // token: an observation's code (system|code and code alone)
    const json::value& o = pick("Observation");
    std::string sys(Str(o.at("code").at("coding").at(0), "system")),
        code(Str(o.at("code").at("coding").at(0), "code"));
    for (bool with_system : {true, false}) {
      std::string s = with_system ? sys : "";
      queries.push_back({"Observation", "code=" + (with_system ? sys + "|" : "") + code,
                         [&, s, code](const json::value& r) {
                           for (const auto& it : Values(defs, "Observation", "code", r)) {
                             if (TokenMatches(it, s, code)) return true;
                           }
                           return false;
                         }});
    }
    // reference + date: a patient's encounters on or after a date, conditions before a date
    std::string pref(Str(o.at("subject"), "reference"));
    std::string date = std::to_string(std::uniform_int_distribution<int>(1990, 2019)(rng));
    auto range = *ParseFhirDateRange(date);
    queries.push_back({"Encounter", "subject=" + pref + "&date=ge" + date,
                       [&, pref, range](const json::value& r) {
                         bool subject = false, when = false;
                         for (const auto& it : Values(defs, "Encounter", "subject", r))
                           subject |= ReferenceMatches(it, pref);
                         for (const auto& it : Values(defs, "Encounter", "date", r))
                           when |= DateMatches(it, "ge", range);
                         return subject && when;
                       }});
    queries.push_back({"Condition", "patient=" + pref + "&onset-date=le" + date,
                       [&, pref, range](const json::value& r) {
                         bool subject = false, when = false;
                         for (const auto& it : Values(defs, "Condition", "patient", r))
                           subject |= ReferenceMatches(it, pref);
                         for (const auto& it : Values(defs, "Condition", "onset-date", r))
                           when |= DateMatches(it, "le", range);
                         return subject && when;
                       }});
    // chained: observations of patients whose family name starts with the prefix
    queries.push_back(
        {"Observation", "subject:Patient.family=" + prefix, [&, prefix](const json::value& r) {
           for (const auto& it : Values(defs, "Observation", "subject", r)) {
             std::string_view ref = Str(it.json(), "reference");
             if (ref.rfind("Patient/", 0) != 0) continue;
             std::string pid(ref.substr(8));
             for (const auto& pt : loaded.by_type["Patient"]) {
               if (Str(pt, "id") != pid) continue;
               for (const auto& f : Values(defs, "Patient", "family", pt)) {
                 if (StringMatches(f, prefix)) return true;
               }
             }
           }
           return false;
         }});
  }
  // Quantities, composites, :missing, _has and _content, judged by FHIRPath's own UCUM comparison
  // (fhirpath/values.cc, not the search index's fhir/ucum) or by plain walks of the resources.
  static const std::set<std::string> kUnits = {"kg", "cm",    "mm[Hg]", "mg/dL",  "g/dL",
                                               "%",  "kg/m2", "Cel",    "mmol/L", "/min"};
  int quantity_queries = 0;
  for (int i = 0; i < 400 && quantity_queries < 16; ++i) {
    const json::value& o = pick("Observation");
    const auto* vq = o.get_object().if_contains("valueQuantity");
    if (vq == nullptr || Str(*vq, "system") != "http://unitsofmeasure.org" ||
        !kUnits.count(std::string(Str(*vq, "code"))))
      continue;
    ++quantity_queries;
    std::string unit(Str(*vq, "code"));
    double value = vq->at("value").to_number<double>();
    const char* prefix = (i % 4 == 0) ? "gt" : (i % 4 == 1) ? "lt" : (i % 4 == 2) ? "ge" : "le";
    const char* op = (i % 4 == 0) ? ">" : (i % 4 == 1) ? "<" : (i % 4 == 2) ? ">=" : "<=";
    char num[32];
    std::snprintf(num, sizeof num, "%g", value);
    std::string literal = std::string(num) + " '" + unit + "'";
    // Unit conversions in the query: kg -> g, cm -> m (the same quantity, another unit).
    std::string qnum = num, qunit = unit;
    if (unit == "kg") {
      std::snprintf(num, sizeof num, "%g", value * 1000);
      qnum = num;
      qunit = "g";
    } else if (unit == "cm") {
      std::snprintf(num, sizeof num, "%g", value / 100);
      qnum = num;
      qunit = "m";
    }
    std::string query =
        "value-quantity=" + std::string(prefix) + qnum + "|http://unitsofmeasure.org|" + qunit;
    std::string encoded;  // the query string, percent-encoded where the URL needs it
    for (char c : query) {
      if (c == '[')
        encoded += "%5B";
      else if (c == ']')
        encoded += "%5D";
      else if (c == '%')
        encoded += "%25";
      else if (c == '/')
        encoded += "%2F";
      else
        encoded += c;
    }
    std::string expr =
        "Observation.value.ofType(Quantity).where(system = "
        "'http://unitsofmeasure.org').exists($this " +
        std::string(op) + " " + literal + ")";
    queries.push_back({"Observation", encoded,
                       [&, expr](const json::value& r) { return FhirPathTrue(defs, expr, r); }});
  }
  EXPECT_GE(quantity_queries, 8);
  for (int bound : {110, 130, 150}) {
    // composite: systolic blood pressure components above a bound (same component as the code)
    queries.push_back({"Observation",
                       "component-code-value-quantity=http://loinc.org|8480-6$gt" +
                           std::to_string(bound) + "|http://unitsofmeasure.org|mm%5BHg%5D",
                       [&, bound](const json::value& r) {
                         return FhirPathTrue(
                             defs,
                             "Observation.component.exists(code.coding.exists(system = "
                             "'http://loinc.org' and code = '8480-6') and value.ofType(Quantity) "
                             "> " +
                                 std::to_string(bound) + " 'mm[Hg]')",
                             r);
                       }});
  }
  // combo-value-quantity is searched through the rows of value-quantity and
  // component-value-quantity (fhir::Indexer::AliasOf): the Observation's own value or any
  // component's (blood pressure panels have only component values).
  for (const char* q :
       {"gt100|http://unitsofmeasure.org|mm%5BHg%5D", "lt70|http://unitsofmeasure.org|mm%5BHg%5D",
        "ge20|http://unitsofmeasure.org|kg%2Fm2", "le5|http://unitsofmeasure.org|%25"}) {
    std::string v = q;
    std::string prefix = v.substr(0, 2);
    std::string number = v.substr(2, v.find('|') - 2);
    std::string unit = v.substr(v.rfind('|') + 1);
    for (auto [from, to] : {std::pair<const char*, const char*>{"%5B", "["},
                            {"%5D", "]"},
                            {"%2F", "/"},
                            {"%25", "%"}}) {
      for (size_t at; (at = unit.find(from)) != std::string::npos;) unit.replace(at, 3, to);
    }
    std::string op = prefix == "gt" ? ">" : prefix == "lt" ? "<" : prefix == "ge" ? ">=" : "<=";
    std::string test =
        "value.ofType(Quantity).where(system = 'http://unitsofmeasure.org').exists($this " + op +
        " " + number + " '" + unit + "')";
    std::string expr = "Observation." + test + " or Observation.component." + test;
    queries.push_back({"Observation", "combo-value-quantity=" + v,
                       [&, expr](const json::value& r) { return FhirPathTrue(defs, expr, r); }});
  }
  for (const char* missing : {"true", "false"}) {
    queries.push_back({"Observation", std::string("combo-value-quantity:missing=") + missing,
                       [&, missing](const json::value& r) {
                         bool none =
                             !FhirPathTrue(defs,
                                           "Observation.value.ofType(Quantity).exists() or "
                                           "Observation.component.value.ofType(Quantity).exists()",
                                           r);
                         return none == (std::string_view(missing) == "true");
                       }});
  }
  for (const char* missing : {"true", "false"}) {
    queries.push_back({"Condition", std::string("abatement-date:missing=") + missing,
                       [&, missing](const json::value& r) {
                         bool none = Values(defs, "Condition", "abatement-date", r).empty();
                         return none == (std::string_view(missing) == "true");
                       }});
  }
  for (int i = 0; i < 4; ++i) {
    // _has: patients with a condition of a code; _content: conditions with a word
    const json::value& c = pick("Condition");
    std::string code(Str(c.at("code").at("coding").at(0), "code"));
    queries.push_back(
        {"Patient", "_has:Condition:patient:code=" + code, [&, code](const json::value& p) {
           std::string ref = "Patient/" + std::string(Str(p, "id"));
           for (const auto& cond : loaded.by_type["Condition"]) {
             bool mine = false, coded = false;
             for (const auto& it : Values(defs, "Condition", "patient", cond))
               mine |= ReferenceMatches(it, ref);
             for (const auto& it : Values(defs, "Condition", "code", cond))
               coded |= TokenMatches(it, "", code);
             if (mine && coded) return true;
           }
           return false;
         }});
    std::string display = text::Fold(Str(c.at("code").at("coding").at(0), "display"));
    std::string word = display.substr(0, display.find(' '));
    if (word.size() < 3) continue;
    queries.push_back({"Condition", "_content=" + word,
                       [&, word](const json::value& r) { return ContentHasWord(r, word); }});
  }
  int nonempty = 0;
  for (const auto& q : queries) {
    std::set<std::string> want;
    for (const auto& r : loaded.by_type[q.type]) {
      if (q.expected(r)) want.insert(std::string(Str(r, "id")));
    }
    std::set<std::string> got = ServerIds(*server, q.type, q.query);
    EXPECT_EQ(got, want) << q.type << "?" << q.query << ": server " << got.size() << ", FHIRPath "
                         << want.size();
    if (!want.empty()) ++nonempty;
  }
  std::printf("search differential: %zu queries agree (%d with results)\n", queries.size(),
              nonempty);
  EXPECT_GT(nonempty, static_cast<int>(queries.size()) / 2);
}

}  // namespace
}  // namespace benhan::testing
