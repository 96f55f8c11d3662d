// Data-driven HL7 v2 cases over the shared samples (read in place from ../shared/data/hl7v2/,
// never copied): every message gets a well-formed ACK, the supported ones are applied, and our
// Patient, Encounter, Observation and ServiceRequest are compared field by field with what
// Microsoft's FHIR converter made of the same messages (microsoft-fhir-converter/expected-fhir/).
// Fields they map and we do not are counted and printed; docs/hl7v2-mapping.md lists them with
// the reason.
#include <gtest/gtest.h>

#include <array>
#include <boost/json.hpp>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>

#include "interop/hl7v2/inbound.h"
#include "interop/hl7v2/mapping.h"
#include "interop/hl7v2/message.h"
#include "support/test_server.h"

namespace benhan::interop::hl7v2 {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

const fs::path kDir = "/work/shared/data/hl7v2";

std::string Str(const json::value* v) {
  if (!v) return "";
  if (v->is_string()) return std::string(v->as_string());
  if (v->is_number()) return json::serialize(*v);
  if (v->is_bool()) return v->as_bool() ? "true" : "false";
  return "";
}

const json::value* At(const json::value& v, std::initializer_list<const char*> path) {
  const json::value* cur = &v;
  for (const char* p : path) {
    if (!cur) return nullptr;
    if (p[0] == '#') {
      size_t i = std::strtoul(p + 1, nullptr, 10);
      if (!cur->is_array() || cur->as_array().size() <= i) return nullptr;
      cur = &cur->as_array()[i];
    } else {
      if (!cur->is_object()) return nullptr;
      cur = cur->as_object().if_contains(p);
    }
  }
  return cur;
}

// A FHIR dateTime as seconds since 1970 (UTC) when it has a time and an offset, else the text.
// The converter writes instants in its machine's time zone: the same instant compares equal.
std::string Instant(const std::string& s) {
  int y, mo, d, h, mi, sec, oh = 0, om = 0;
  char sign = 0;
  if (std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &sec) != 6) return s;
  size_t t = s.find_first_of("+-Z", 19);
  if (t == std::string::npos) return s;
  if (s[t] != 'Z') {
    sign = s[t];
    std::sscanf(s.c_str() + t + 1, "%d:%d", &oh, &om);
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  long long epoch = timegm(&tm) - (sign == '-' ? -1 : 1) * (oh * 3600 + om * 60);
  return std::to_string(epoch);
}

double AsNumber(const std::string& s) {
  return s.empty() ? -1e300 : std::strtod(s.c_str(), nullptr);
}

struct Tally {
  std::map<std::string, std::array<int, 3>> fields;  // field -> {same, different, only theirs}
  std::map<std::string, int> unmapped;               // their top-level element we lack
  void Compare(const std::string& field, const std::string& theirs, const std::string& ours,
               bool numeric = false) {
    if (theirs.empty()) return;
    auto& t = fields[field];
    if (ours.empty())
      ++t[2];
    else if (Instant(theirs) == Instant(ours) && theirs.size() > 10)
      ++t[0];
    else if (numeric ? AsNumber(theirs) == AsNumber(ours) : theirs == ours)
      ++t[0];
    else
      ++t[1];
  }
};

std::vector<json::object> Resources(const json::value& bundle_or_entries, const std::string& type) {
  std::vector<json::object> out;
  const json::array* entries =
      bundle_or_entries.is_array() ? &bundle_or_entries.as_array() : nullptr;
  if (!entries && At(bundle_or_entries, {"entry"}))
    entries = &At(bundle_or_entries, {"entry"})->as_array();
  if (!entries) return out;
  for (const auto& e : *entries) {
    const json::value* r = At(e, {"resource"});
    if (r && Str(At(*r, {"resourceType"})) == type) out.push_back(r->as_object());
  }
  return out;
}

std::set<std::string> IdentifierValues(const json::value& r) {
  std::set<std::string> out;
  if (const json::value* ids = At(r, {"identifier"}); ids && ids->is_array())
    for (const auto& i : ids->as_array()) out.insert(Str(At(i, {"value"})));
  return out;
}

TEST(Hl7v2Samples, MicrosoftConverterFieldByField) {
  fs::path msgs = kDir / "microsoft-fhir-converter" / "messages";
  fs::path expected = kDir / "microsoft-fhir-converter" / "expected-fhir";
  if (!fs::exists(msgs)) GTEST_SKIP() << "no shared HL7 v2 samples at " << msgs;
  std::map<std::string, Tally> tallies;
  int compared = 0, mapped = 0, refused = 0;
  for (const std::string& file : testing::SortedFiles(msgs.string())) {
    std::string text = testing::ReadFile(file);
    auto m = Parse(text);
    if (!m.ok() || !IsSupported(m->type(), m->trigger())) continue;
    auto ours = MapToFhir(*m);
    if (!ours.ok()) {
      ++refused;
      std::printf("  not mapped: %s: %s\n", fs::path(file).filename().c_str(),
                  ours.status().ToString().c_str());
      continue;
    }
    ++mapped;
    fs::path exp = expected / (std::string(m->type()) + "_" + std::string(m->trigger())) /
                   (fs::path(file).stem().string() + "-expected.json");
    if (!fs::exists(exp)) continue;
    json::value theirs = json::parse(testing::ReadFile(exp.string()));
    json::value our_entries = *ours;
    ++compared;
    for (const char* type : {"Patient", "Encounter", "Observation", "ServiceRequest"}) {
      auto t = Resources(theirs, type);
      auto o = Resources(our_entries, type);
      Tally& tally = tallies[type];
      for (const auto& tr : t) {
        // Pair their resource with ours: by code (Observation), else the first.
        const json::object* match = o.empty() ? nullptr : &o.front();
        if (std::string(type) == "Observation") {
          match = nullptr;
          std::string code = Str(At(tr, {"code", "coding", "#0", "code"}));
          for (const auto& x : o)
            if (Str(At(x, {"code", "coding", "#0", "code"})) == code) match = &x;
        }
        if (!match) {
          tally.Compare("(resource)", "present", "");
          continue;
        }
        json::value a = tr, b = *match;
        for (const auto& [k, v] : tr) {
          (void)v;
          if (k != "id" && k != "meta" && !match->contains(k)) ++tally.unmapped[std::string(k)];
        }
        if (std::string(type) == "Patient") {
          std::set<std::string> ti = IdentifierValues(a), oi = IdentifierValues(b);
          for (const auto& v : ti) tally.Compare("identifier.value", v, oi.count(v) ? v : "");
          tally.Compare("name[0].family", Str(At(a, {"name", "#0", "family"})),
                        Str(At(b, {"name", "#0", "family"})));
          tally.Compare("name[0].given[0]", Str(At(a, {"name", "#0", "given", "#0"})),
                        Str(At(b, {"name", "#0", "given", "#0"})));
          tally.Compare("birthDate", Str(At(a, {"birthDate"})), Str(At(b, {"birthDate"})));
          tally.Compare("gender", Str(At(a, {"gender"})), Str(At(b, {"gender"})));
          tally.Compare("address[0].city", Str(At(a, {"address", "#0", "city"})),
                        Str(At(b, {"address", "#0", "city"})));
          tally.Compare("address[0].postalCode", Str(At(a, {"address", "#0", "postalCode"})),
                        Str(At(b, {"address", "#0", "postalCode"})));
          tally.Compare("telecom[0].value", Str(At(a, {"telecom", "#0", "value"})),
                        Str(At(b, {"telecom", "#0", "value"})));
          tally.Compare("deceasedDateTime", Str(At(a, {"deceasedDateTime"})),
                        Str(At(b, {"deceasedDateTime"})));
        } else if (std::string(type) == "Encounter") {
          tally.Compare("status", Str(At(a, {"status"})), Str(At(b, {"status"})));
          tally.Compare("class.code", Str(At(a, {"class", "code"})), Str(At(b, {"class", "code"})));
          tally.Compare("period.start", Str(At(a, {"period", "start"})),
                        Str(At(b, {"period", "start"})));
          tally.Compare("period.end", Str(At(a, {"period", "end"})), Str(At(b, {"period", "end"})));
          std::set<std::string> ti = IdentifierValues(a), oi = IdentifierValues(b);
          for (const auto& v : ti) tally.Compare("identifier.value", v, oi.count(v) ? v : "");
        } else if (std::string(type) == "Observation") {
          tally.Compare("code.coding[0].code", Str(At(a, {"code", "coding", "#0", "code"})),
                        Str(At(b, {"code", "coding", "#0", "code"})));
          tally.Compare("code.coding[0].system", Str(At(a, {"code", "coding", "#0", "system"})),
                        Str(At(b, {"code", "coding", "#0", "system"})));
          tally.Compare("status", Str(At(a, {"status"})), Str(At(b, {"status"})));
          tally.Compare("valueQuantity.value", Str(At(a, {"valueQuantity", "value"})),
                        Str(At(b, {"valueQuantity", "value"})), true);
          tally.Compare("valueQuantity.unit", Str(At(a, {"valueQuantity", "unit"})),
                        Str(At(b, {"valueQuantity", "unit"})));
          tally.Compare("valueString", Str(At(a, {"valueString"})), Str(At(b, {"valueString"})));
          tally.Compare("valueCodeableConcept.coding[0].code",
                        Str(At(a, {"valueCodeableConcept", "coding", "#0", "code"})),
                        Str(At(b, {"valueCodeableConcept", "coding", "#0", "code"})));
          tally.Compare("interpretation[0].coding[0].code",
                        Str(At(a, {"interpretation", "#0", "coding", "#0", "code"})),
                        Str(At(b, {"interpretation", "#0", "coding", "#0", "code"})));
          tally.Compare("referenceRange[0].low.value",
                        Str(At(a, {"referenceRange", "#0", "low", "value"})),
                        Str(At(b, {"referenceRange", "#0", "low", "value"})), true);
          tally.Compare("referenceRange[0].high.value",
                        Str(At(a, {"referenceRange", "#0", "high", "value"})),
                        Str(At(b, {"referenceRange", "#0", "high", "value"})), true);
          tally.Compare("effectiveDateTime", Str(At(a, {"effectiveDateTime"})),
                        Str(At(b, {"effectiveDateTime"})));
        } else {
          std::set<std::string> ti = IdentifierValues(a), oi = IdentifierValues(b);
          for (const auto& v : ti) tally.Compare("identifier.value", v, oi.count(v) ? v : "");
          tally.Compare("status", Str(At(a, {"status"})), Str(At(b, {"status"})));
          tally.Compare("intent", Str(At(a, {"intent"})), Str(At(b, {"intent"})));
          tally.Compare("code.coding[0].code", Str(At(a, {"code", "coding", "#0", "code"})),
                        Str(At(b, {"code", "coding", "#0", "code"})));
          tally.Compare("authoredOn", Str(At(a, {"authoredOn"})), Str(At(b, {"authoredOn"})));
        }
      }
    }
  }
  std::printf("messages mapped %d, refused %d, compared with the converter %d\n", mapped, refused,
              compared);
  for (const auto& [type, tally] : tallies) {
    std::printf("%s (field: same / different / only theirs)\n", type.c_str());
    for (const auto& [f, t] : tally.fields)
      std::printf("  %-40s %4d %4d %4d\n", f.c_str(), t[0], t[1], t[2]);
    std::string un;
    for (const auto& [k, n] : tally.unmapped) un += " " + k + "(" + std::to_string(n) + ")";
    std::printf("  elements they map and we do not:%s\n", un.c_str());
  }
  EXPECT_GT(compared, 10);
  // The core demographics must agree wherever both have them.
  for (const char* f : {"birthDate", "gender", "name[0].family"})
    EXPECT_EQ(tallies["Patient"].fields[f][1], 0) << "Patient." << f << " differs";
}

// Every sample message, through the whole inbound path: a well-formed ACK for each; the supported
// valid ones AA, the others AE/AR with an ERR, and a refused message changes nothing.
TEST(Hl7v2Samples, EveryMessageGetsAnAck) {
  if (!fs::exists(kDir)) GTEST_SKIP() << "no shared HL7 v2 samples at " << kDir;
  auto server = testing::TestServer::Start();
  ASSERT_TRUE(server);
  InboundProcessor inbound(server->node().service(), {});
  std::map<std::string, int> by_code;
  std::set<std::string> shown;
  int n = 0;
  for (const auto& entry : fs::recursive_directory_iterator(kDir)) {
    auto ext = entry.path().extension();
    if (!entry.is_regular_file() || (ext != ".hl7" && ext != ".txt")) continue;
    std::string text = testing::ReadFile(entry.path().string());
    for (std::string_view one : SplitMessages(text)) {
      ++n;
      auto out = inbound.Handle(one, "samples");
      if (!out.ack) {
        // Enhanced mode: the message asked for no accept ACK (MSH-15 NE, ER, SU).
        EXPECT_FALSE(SalvageHeader(one).Get(15).empty()) << entry.path();
        ++by_code["(none asked)"];
        continue;
      }
      auto ack = Parse(*out.ack);
      ASSERT_TRUE(ack.ok()) << entry.path() << ": " << *out.ack;
      std::string code = ack->Find("MSA")->Get(1);
      ++by_code[code];
      if (code != "AA" && code != "CA") {
        EXPECT_NE(ack->Find("ERR"), nullptr) << entry.path();
        if (!shown.insert(entry.path().string()).second) continue;  // one line per file
        auto head = Parse(one);
        std::printf(
            "  %s %s %s: %s\n", code.c_str(), entry.path().filename().c_str(),
            head.ok() ? (std::string(head->type()) + "^" + std::string(head->trigger())).c_str()
                      : "?",
            ack->Find("ERR") ? (ack->Find("ERR")->Get(8).empty() ? ack->Find("ERR")->Get(1, 4, 2)
                                                                 : ack->Find("ERR")->Get(8))
                                   .substr(0, 160)
                                   .c_str()
                             : "");
      }
    }
  }
  std::printf("%d messages:", n);
  for (const auto& [c, k] : by_code) std::printf(" %s %d", c.c_str(), k);
  std::printf("\n");
  // Sample files reuse MSH-10 (MSG00001...) across messages of one sender: those are duplicates
  // and get the first outcome again, so fewer are applied than are valid.
  EXPECT_GE(by_code["AA"] + by_code["CA"], 25);
}

}  // namespace
}  // namespace benhan::interop::hl7v2
