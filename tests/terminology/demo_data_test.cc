// The demo population generator (app/demo_data.h): deterministic, valid against the R4
// definitions, identifiers that pass the Vietnamese validators, ICD-10 codes from the starter set
// that the ICD-10 rules accept.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>

#include "app/demo_data.h"
#include "fhir/definitions.h"
#include "fhir/resource.h"
#include "fhir/validator.h"
#include "terminology/code_system.h"
#include "terminology/vn_address.h"
#include "terminology/vn_identifiers.h"

namespace json = boost::json;

namespace benhan::app {
namespace {

std::vector<json::object> Generate(int64_t n, uint64_t seed, int64_t first = 0) {
  std::vector<json::object> out;
  DemoOptions o;
  o.patients = n;
  o.seed = seed;
  o.first = first;
  GenerateDemoPopulation(o, [&](json::object&& r) { out.push_back(std::move(r)); });
  return out;
}

TEST(DemoData, DeterministicPerSeedAndPatient) {
  auto a = Generate(20, 7), b = Generate(20, 7), c = Generate(20, 8);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]);
  EXPECT_NE(a[0], c[0]);
  // Patient 10 is the same whether generated alone or within the first 20.
  auto tenth = Generate(1, 7, 10);
  int patients = 0;
  for (const auto& r : a) {
    if (r.at("resourceType").as_string() != "Patient") continue;
    if (patients++ == 10) {
      EXPECT_EQ(r, tenth[0]);
    }
  }
}

TEST(DemoData, ValidResourcesIdentifiersAndCodes) {
  auto defs = fhir::Definitions::LoadEmbedded();
  ASSERT_TRUE(defs.ok());
  fhir::Validator validator(*defs);
  auto starter = terminology::StarterIcd10();
  auto all = Generate(200, 2026);
  std::map<std::string, int> types;
  std::map<std::string, int> codes;
  std::map<std::string, std::string> gender_of;
  std::map<std::string, int> provinces;
  for (const auto& r : all) {
    std::string type(r.at("resourceType").as_string());
    ++types[type];
    Status st = validator.Validate(json::value(r));
    EXPECT_TRUE(st.ok()) << type << ": " << st.ToString() << "\n" << fhir::Serialize(r);
    if (type == "Patient") {
      auto issues = terminology::CheckPatientIdentifiers(r);
      EXPECT_TRUE(issues.empty()) << issues[0].message;
      // Current addresses: a current province (coded and named), no issue.
      auto addr = terminology::CheckPatientAddresses(r, terminology::WardData{});
      EXPECT_TRUE(addr.empty()) << addr[0].message;
      const auto& a = r.at("address").at(0).as_object();
      EXPECT_NE(terminology::FindCurrentProvinceByName(std::string(a.at("state").as_string())),
                nullptr);
      ++provinces[std::string(a.at("state").as_string())];
      gender_of["Patient/" + std::string(r.at("id").as_string())] =
          std::string(r.at("gender").as_string());
    }
    if (type == "Condition") {
      std::string code(r.at("code").at("coding").at(0).at("code").as_string());
      ++codes[code];
      const terminology::Concept* c = starter->Find(code);
      ASSERT_NE(c, nullptr) << code;
      EXPECT_FALSE(c->flags & terminology::kMoreSpecificExists) << code << " is a category";
      std::string g = gender_of[std::string(r.at("subject").at("reference").as_string())];
      if (c->flags & terminology::kMaleOnly) {
        EXPECT_EQ(g, "male") << code;
      }
      if (c->flags & terminology::kFemaleOnly) {
        EXPECT_EQ(g, "female") << code;
      }
    }
  }
  EXPECT_EQ(types["Patient"], 200);
  EXPECT_GE(provinces.size(), 20u) << "patients spread over the current provinces";
  EXPECT_GT(provinces["Thành phố Hồ Chí Minh"], provinces["Tỉnh Lai Châu"]);
  EXPECT_GE(types["Encounter"], 200);
  EXPECT_GE(types["Observation"], 4 * types["Encounter"]);
  EXPECT_EQ(types["MedicationRequest"], types["Encounter"]);
  for (const char* common : {"I10", "E11.9", "J06.9"}) EXPECT_GT(codes[common], 0) << common;
  EXPECT_GE(codes.size(), 15u) << "a spread of diagnoses";
}

}  // namespace
}  // namespace benhan::app
