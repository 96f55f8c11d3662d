// Vietnamese identifier validators (terminology/vn_identifiers.h).
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "terminology/vn_identifiers.h"

namespace benhan::terminology {
namespace {

size_t Errors(const std::vector<Issue>& v) {
  size_t n = 0;
  for (const auto& i : v) n += i.severity == "error";
  return n;
}

TEST(PersonalId, Valid) {
  EXPECT_TRUE(CheckPersonalId("001080000123", "1980-05-01", "male").empty());
  EXPECT_TRUE(CheckPersonalId("079195012345", "1995", "female").empty());
  EXPECT_TRUE(CheckPersonalId("038205999999", "2005-12-31", "male").empty());
  EXPECT_TRUE(CheckPersonalId("092310000001", "2010-01-01", "female").empty());
  EXPECT_TRUE(CheckPersonalId("001080000123", "", "").empty()) << "nothing to compare";
  EXPECT_TRUE(CheckPersonalId("001180000123", "1980", "other").empty());
}

TEST(PersonalId, Invalid) {
  EXPECT_EQ(Errors(CheckPersonalId("00108000012", "", "")), 1u) << "11 digits";
  EXPECT_EQ(Errors(CheckPersonalId("00108000012a", "", "")), 1u);
  EXPECT_EQ(Errors(CheckPersonalId("003080000123", "", "")), 1u) << "003 is no province";
  EXPECT_EQ(Errors(CheckPersonalId("101080000123", "", "")), 1u);
  auto sex = CheckPersonalId("001180000123", "1980-05-01", "male");
  ASSERT_EQ(Errors(sex), 1u);
  EXPECT_NE(sex[0].message.find("giới tính"), std::string::npos);
  EXPECT_NE(sex[0].message.find(" / personal ID"), std::string::npos) << "Vietnamese, then English";
  EXPECT_EQ(Errors(CheckPersonalId("001080000123", "1981-05-01", "male")), 1u) << "year";
  EXPECT_EQ(Errors(CheckPersonalId("001280000123", "1980-05-01", "male")), 1u) << "century";
  EXPECT_EQ(Errors(CheckPersonalId("001380000123", "1980-05-01", "male")), 2u) << "both";
}

TEST(InsuranceCard, ValidAndInvalid) {
  EXPECT_TRUE(CheckInsuranceCard("GD4790123456789").empty());
  EXPECT_TRUE(CheckInsuranceCard("DN1010000000001").empty());
  EXPECT_EQ(Errors(CheckInsuranceCard("GD479012345678")), 1u) << "14 characters";
  EXPECT_EQ(Errors(CheckInsuranceCard("gd4790123456789")), 1u) << "lower case";
  EXPECT_EQ(Errors(CheckInsuranceCard("GD6790123456789")), 1u) << "benefit level 6";
  EXPECT_EQ(Errors(CheckInsuranceCard("GD4030123456789")), 1u) << "province 03";
  auto unknown = CheckInsuranceCard("ZZ4790123456789");
  ASSERT_EQ(unknown.size(), 1u);
  EXPECT_EQ(unknown[0].severity, "warning") << "an unknown group is a warning";
}

TEST(FacilityCode, ValidAndInvalid) {
  EXPECT_TRUE(CheckFacilityCode("01001").empty());
  EXPECT_TRUE(CheckFacilityCode("79024").empty());
  EXPECT_EQ(Errors(CheckFacilityCode("1001")), 1u);
  EXPECT_EQ(Errors(CheckFacilityCode("03001")), 1u);
}

TEST(PatientIdentifiers, PathsOfEachProblem) {
  auto p =
      boost::json::parse(R"({"resourceType":"Patient","gender":"female","birthDate":"1990-02-03",
    "identifier":[{"system":"urn:other","value":"x"},
                  {"system":"https://benhan.vn/sid/cccd","value":"001090000001"},
                  {"system":"https://benhan.vn/sid/bhyt","value":"GD4790123456789"},
                  {"system":"https://benhan.vn/sid/ma-cskcb","value":"7902"}]})")
          .as_object();
  auto issues = CheckPatientIdentifiers(p);
  ASSERT_EQ(issues.size(), 2u);
  EXPECT_EQ(issues[0].expression, "Patient.identifier[1].value");
  EXPECT_EQ(issues[1].expression, "Patient.identifier[3].value");
}

TEST(NamingSystems, ThreeSystems) {
  auto ns = NamingSystems();
  ASSERT_EQ(ns.size(), 3u);
  EXPECT_EQ(ns[0].at("uniqueId").at(0).at("value").as_string(), kPersonalIdSystem);
}

}  // namespace
}  // namespace benhan::terminology
