// Vietnamese administrative units: the built-in province lists and map, the ward importers (the
// government's layouts, samples in data/), autocomplete on them, and the Patient.address checks
// (cases in address_cases.json). HTTP-level: tests/conformance/cases/terminology/vn_address.json.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "terminology/concept_index.h"
#include "terminology/importers.h"
#include "terminology/vn_address.h"
#include "terminology/vn_identifiers.h"

namespace json = boost::json;

namespace benhan::terminology {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Data(const std::string& name) {
  return ReadAll(std::string(BENHAN_SOURCE_DIR) + "/tests/terminology/data/" + name);
}

CatalogInfo Info(const std::string& url = {}) {
  CatalogInfo i;
  i.version = "2025";
  i.url = url;
  return i;
}

std::string Prop(const Concept& c, const std::string& name) {
  for (const auto& [k, v] : c.properties)
    if (k == name) return v;
  return {};
}

TEST(Provinces, ThirtyFourCurrentSixtyThreeLegacyEachMappedToACurrentOne) {
  EXPECT_EQ(CurrentProvinces().size(), 34u);
  EXPECT_EQ(LegacyProvinces().size(), 63u);
  std::set<std::string> codes, targets;
  for (const auto& p : LegacyProvinces()) {
    EXPECT_TRUE(codes.insert(p.code).second) << p.code;
    ASSERT_NE(FindCurrentProvince(p.current), nullptr) << p.code << " -> " << p.current;
    targets.insert(p.current);
  }
  // Every current unit is made of at least one legacy unit, and keeps one member's code.
  EXPECT_EQ(targets.size(), 34u);
  for (const auto& c : CurrentProvinces()) {
    const ProvinceInfo* same = FindLegacyProvince(c.code);
    ASSERT_NE(same, nullptr) << c.code;
    EXPECT_EQ(std::string(same->current), c.code) << c.code;
  }
  // Spot checks of Resolution 202/2025/QH15.
  EXPECT_STREQ(FindLegacyProvince("74")->current, "79");  // Bình Dương -> TP Hồ Chí Minh
  EXPECT_STREQ(FindLegacyProvince("77")->current, "79");  // Bà Rịa - Vũng Tàu
  EXPECT_STREQ(FindLegacyProvince("27")->current, "24");  // Bắc Ninh -> Bắc Ninh (code 24)
  EXPECT_STREQ(FindLegacyProvince("64")->current, "52");  // Gia Lai -> Gia Lai (code 52)
  EXPECT_STREQ(FindLegacyProvince("89")->current, "91");  // An Giang -> An Giang (code 91)
  EXPECT_STREQ(FindLegacyProvince("93")->current, "92");  // Hậu Giang -> Cần Thơ
  EXPECT_STREQ(FindCurrentProvince("80")->name, "Tây Ninh");
  EXPECT_EQ(FindCurrentProvince("02"), nullptr);
}

TEST(Provinces, NamesWithoutDiacriticsPrefixesAndCommonAliases) {
  struct C {
    const char* name;
    const char* current;  // nullptr: not a current name
    const char* legacy;
  } cases[] = {
      {"ha noi", "01", "01"},
      {"Thành phố Hà Nội", "01", "01"},
      {"tp ho chi minh", "79", "79"},
      {"TP.HCM", "79", "79"},
      {"Sài Gòn", "79", "79"},
      {"TỈNH TUYÊN QUANG", "08", "08"},
      {"Hà Giang", nullptr, "02"},
      {"ba ria vung tau", nullptr, "77"},
      {"Bà Rịa - Vũng Tàu", nullptr, "77"},
      {"thua thien hue", "46", "46"},
      {"Hà Tây", nullptr, nullptr},
      {"", nullptr, nullptr},
  };
  for (const auto& c : cases) {
    const ProvinceInfo* cur = FindCurrentProvinceByName(c.name);
    const ProvinceInfo* old = FindLegacyProvinceByName(c.name);
    EXPECT_EQ(cur ? std::string(cur->code) : "", c.current ? c.current : "") << c.name;
    EXPECT_EQ(old ? std::string(old->code) : "", c.legacy ? c.legacy : "") << c.name;
  }
}

// The first autocomplete result of `query` in `cs`.
std::string First(const CodeSystemVersion& cs, const std::string& query) {
  size_t total = 0;
  auto hits = cs.index().Search(query, 0, 3, &total);
  return hits.empty() ? "" : hits[0].item->code;
}

TEST(Provinces, AutocompleteOnTheBuiltInCodeSystems) {
  auto cur = BuiltinProvinces();
  EXPECT_EQ(cur->url, kProvinceSystem);
  EXPECT_EQ(cur->value_set, kProvinceValueSet);
  EXPECT_EQ(First(*cur, "ha noi"), "01");
  EXPECT_EQ(First(*cur, "tp ho chi minh"), "79");
  EXPECT_EQ(First(*cur, "tp hcm"), "79");
  EXPECT_EQ(First(*cur, "sai gon"), "79");
  EXPECT_EQ(First(*cur, "ho chi"), "79");
  EXPECT_EQ(First(*cur, "da nang"), "48");
  EXPECT_EQ(First(*cur, "can tho"), "92");
  EXPECT_EQ(First(*cur, "dak lak"), "66");
  EXPECT_EQ(First(*cur, "Ho Chi Minh City"), "79");  // English
  EXPECT_EQ(First(*cur, "tuyen quamg"), "08");       // a typo
  EXPECT_EQ(First(*cur, "ha giang"), "");            // no longer a province
  auto old = BuiltinLegacyProvinces();
  EXPECT_EQ(First(*old, "ha giang"), "02");
  EXPECT_EQ(First(*old, "vung tau"), "77");
  EXPECT_EQ(old->Find("46")->display, "Tỉnh Thừa Thiên Huế");
  EXPECT_EQ(cur->Find("46")->display, "Thành phố Huế");
}

TEST(Provinces, ConceptMapLegacyToCurrent) {
  json::object cm = ProvinceConceptMap();
  EXPECT_EQ(cm.at("url").as_string(), kProvinceMap);
  const auto& g = cm.at("group").as_array().at(0).as_object();
  EXPECT_EQ(g.at("source").as_string(), kLegacyProvinceSystem);
  EXPECT_EQ(g.at("target").as_string(), kProvinceSystem);
  const auto& elements = g.at("element").as_array();
  ASSERT_EQ(elements.size(), 63u);
  std::map<std::string, std::pair<std::string, std::string>> by_code;  // -> (target, equivalence)
  for (const auto& e : elements) {
    const auto& t = e.at("target").as_array().at(0).as_object();
    by_code[std::string(e.at("code").as_string())] = {std::string(t.at("code").as_string()),
                                                      std::string(t.at("equivalence").as_string())};
  }
  EXPECT_EQ(by_code["02"], std::make_pair(std::string("08"), std::string("wider")));
  EXPECT_EQ(by_code["01"], std::make_pair(std::string("01"), std::string("equivalent")));
  EXPECT_EQ(by_code["08"], std::make_pair(std::string("08"), std::string("wider")));
}

TEST(PersonalId, ProvinceOfBirthRegistrationIsTheLegacyCode) {
  // The first 3 digits of the personal ID are the legacy (pre-2025) province code: 002 (Hà
  // Giang), 089 (An Giang) and 074 (Bình Dương) stay valid; 003 was never a province.
  EXPECT_TRUE(CheckPersonalId("002090001234", "1990-01-01", "male").empty());
  EXPECT_TRUE(CheckPersonalId("089195001234", "1995-01-01", "female").empty());
  EXPECT_TRUE(CheckPersonalId("074201001234", "2001-01-01", "male").empty());
  EXPECT_FALSE(CheckPersonalId("003090001234", "1990-01-01", "male").empty());
  // Every legacy province code is a valid prefix.
  for (const auto& p : LegacyProvinces())
    EXPECT_TRUE(CheckPersonalId(std::string("0") + p.code + "090001234", "", "").empty()) << p.code;
}

TEST(WardImport, AnnexLayoutWithProvinceHeadings) {
  auto r = ImportWardCsv(Data("wards_2025_annex_sample.csv"), Info());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->cs.url, kWardSystem);
  EXPECT_EQ(r->cs.value_set, kWardValueSet);
  EXPECT_EQ(r->cs.concepts.size(), 12u);
  EXPECT_EQ(r->rows, 13u);  // the Hà Tây row too
  ASSERT_EQ(r->problems.size(), 2u);
  EXPECT_NE(r->problems[0].find("province 'TỈNH HÀ TÂY' is not in the list"), std::string::npos);
  EXPECT_NE(r->problems[1].find("99999"), std::string::npos);
  const Concept* c = r->cs.Find("00070");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->display, "Phường Hoàn Kiếm");
  EXPECT_EQ(Prop(*c, "province"), "01");
  EXPECT_EQ(Prop(*c, "province-name"), "Thành phố Hà Nội");
  EXPECT_EQ(Prop(*c, "level"), "Phường");
  // Autocomplete on ward names without diacritics.
  EXPECT_EQ(First(r->cs, "hoan kiem"), "00070");
  EXPECT_EQ(First(r->cs, "o cho dua"), "00190");
  EXPECT_EQ(First(r->cs, "phuong nghia do"), "00160");
  EXPECT_EQ(First(r->cs, "yen hoa"), "00175");
}

TEST(WardImport, StatisticsOfficeExportOfTheLegacyList) {
  auto r = ImportWardCsv(Data("wards_legacy_nso_sample.csv"), Info(kLegacyWardSystem));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->cs.value_set, kLegacyWardValueSet);
  EXPECT_EQ(r->cs.concepts.size(), 23u);
  EXPECT_TRUE(r->problems.empty()) << r->problems.front();
  const Concept* c = r->cs.Find("00006");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->display, "Phường Vĩnh Phúc");
  EXPECT_EQ(c->display_en, "Vinh Phuc Commune");
  EXPECT_EQ(Prop(*c, "district"), "001");
  EXPECT_EQ(Prop(*c, "district-name"), "Quận Ba Đình");
  EXPECT_EQ(Prop(*c, "level"), "Phường");
  EXPECT_EQ(Prop(*r->cs.Find("00376"), "level"), "Thị trấn");
}

TEST(WardImport, CodesAndProblems) {
  // Zeros dropped by a spreadsheet, a code that is not one, a duplicate, a missing province.
  std::string csv =
      "Mã PX,Phường Xã,Mã TP\n"
      "70,Phường Hoàn Kiếm,1\n"
      "7A,Phường Sai,01\n"
      "00070,Phường Trùng,01\n"
      "00097,Phường Hồng Hà,\n";
  auto r = ImportWardCsv(csv, Info());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->cs.concepts.size(), 1u);
  EXPECT_EQ(r->cs.concepts[0].code, "00070");
  EXPECT_EQ(r->problems.size(), 3u);
  EXPECT_FALSE(ImportWardCsv("Mã PX,Tên\n", Info()).ok());
}

TEST(WardImport, ConversionTableAsConceptMap) {
  auto r = ImportWardMapCsv(Data("ward_conversion_sample.csv"), Info());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->rows, 22u);
  EXPECT_TRUE(r->problems.empty());
  const auto& cm = r->concept_map;
  EXPECT_EQ(cm.at("url").as_string(), kWardMap);
  const auto& g = cm.at("group").as_array().at(0).as_object();
  EXPECT_EQ(g.at("source").as_string(), kLegacyWardSystem);
  EXPECT_EQ(g.at("target").as_string(), kWardSystem);
  // 00040 Đồng Xuân was split between Ba Đình and Hoàn Kiếm; 00043 Hàng Mã went whole.
  std::map<std::string, std::vector<std::string>> targets;
  for (const auto& e : g.at("element").as_array())
    for (const auto& t : e.at("target").as_array())
      targets[std::string(e.at("code").as_string())].push_back(
          std::string(t.at("code").as_string()) + ":" +
          std::string(t.at("equivalence").as_string()));
  EXPECT_EQ(targets["00040"], (std::vector<std::string>{"00004:inexact", "00070:inexact"}));
  EXPECT_EQ(targets["00043"], (std::vector<std::string>{"00070:wider"}));
  EXPECT_EQ(targets["00112"], (std::vector<std::string>{"00004:inexact", "00103:inexact"}));
  EXPECT_EQ(r->elements, targets.size());
}

// The address cases against the built-in provinces and (when a case says so) the sample lists.
TEST(AddressChecks, Cases) {
  auto cur = ImportWardCsv(Data("wards_2025_annex_sample.csv"), Info());
  auto old = ImportWardCsv(Data("wards_legacy_nso_sample.csv"), Info(kLegacyWardSystem));
  auto map = ImportWardMapCsv(Data("ward_conversion_sample.csv"), Info());
  ASSERT_TRUE(cur.ok() && old.ok() && map.ok());
  WardData with;
  with.current = std::make_shared<CodeSystemVersion>(std::move(cur->cs));
  with.legacy = std::make_shared<CodeSystemVersion>(std::move(old->cs));
  std::multimap<std::string, std::pair<std::string, std::string>> m;
  for (const auto& e : map->concept_map.at("group").as_array()[0].at("element").as_array())
    for (const auto& t : e.at("target").as_array())
      m.emplace(std::string(e.at("code").as_string()),
                std::make_pair(std::string(t.at("code").as_string()),
                               std::string(t.at("display").as_string())));
  with.map = [&m](const std::string& code) {
    std::vector<std::pair<std::string, std::string>> out;
    auto [lo, hi] = m.equal_range(code);
    for (auto it = lo; it != hi; ++it) out.push_back(it->second);
    return out;
  };
  const WardData without;
  json::value doc = json::parse(
      ReadAll(std::string(BENHAN_SOURCE_DIR) + "/tests/terminology/address_cases.json"));
  const auto& cases = doc.at("cases").as_array();
  ASSERT_GE(cases.size(), 20u);
  for (const auto& cv : cases) {
    const auto& c = cv.as_object();
    std::string name(c.at("name").as_string());
    bool wards = c.contains("wards") && c.at("wards").as_bool();
    json::object patient{{"resourceType", "Patient"}, {"address", json::array{c.at("address")}}};
    auto issues = CheckPatientAddresses(patient, wards ? with : without);
    const auto& expect = c.at("expect").as_array();
    std::string got;
    for (const auto& i : issues) got += "\n  " + i.severity + " " + i.expression + ": " + i.message;
    ASSERT_EQ(issues.size(), expect.size()) << name << got;
    for (size_t k = 0; k < expect.size(); ++k) {
      const auto& e = expect[k].as_object();
      EXPECT_EQ(issues[k].severity, e.at("severity").as_string()) << name;
      EXPECT_EQ(issues[k].expression, e.at("expression").as_string()) << name;
      EXPECT_TRUE(
          std::regex_search(issues[k].message, std::regex(std::string(e.at("regex").as_string()))))
          << name << ": " << issues[k].message;
    }
  }
}

}  // namespace
}  // namespace benhan::terminology
