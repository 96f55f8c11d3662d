// PatientCompartment::PatientsOfJson (the streaming read of a stored resource's patients, used on
// every read and search match) must give exactly PatientsOf's answer on the parsed resource: the
// same ids in the same order. Checked over every official R4 example and every Synthea resource,
// and on hand-made edge cases (escapes, nesting, absolute and versioned references, bad JSON).
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "fhir/definitions.h"
#include "service/access_policy.h"
#include "support/test_server.h"

namespace benhan {
namespace {

namespace json = boost::json;

class CompartmentJson : public ::testing::Test {
 protected:
  void SetUp() override {
    auto defs = fhir::Definitions::LoadEmbedded();
    ASSERT_TRUE(defs.ok());
    defs_ = *defs;
    pc_ = std::make_unique<service::PatientCompartment>(*defs_);
  }
  // Both answers for one resource text.
  void Same(const std::string& type, const std::string& text) {
    json::value v = json::parse(text);
    auto want = pc_->PatientsOf(type, v.as_object());
    auto got = pc_->PatientsOfJson(type, text);
    ASSERT_TRUE(got.ok()) << got.status().ToString() << " " << text.substr(0, 300);
    EXPECT_EQ(*got, want) << text.substr(0, 300);
    First(type, text, want);
  }
  // FirstPatientOfStored (the audit row's patient) is the first of those ids.
  void First(const std::string& type, const std::string& text,
             const std::vector<std::string>& want) {
    auto first = pc_->FirstPatientOfStored(type, text);
    ASSERT_TRUE(first.ok()) << first.status().ToString() << " " << text.substr(0, 300);
    EXPECT_EQ(*first, want.empty() ? std::string() : want.front()) << text.substr(0, 300);
    // PatientsOfStored (the policy's input on every restricted read) is all of them, in order.
    auto all = pc_->PatientsOfStored(type, text);
    ASSERT_TRUE(all.ok()) << all.status().ToString() << " " << text.substr(0, 300);
    EXPECT_EQ(*all, want) << text.substr(0, 300);
  }
  std::shared_ptr<const fhir::Definitions> defs_;
  std::unique_ptr<service::PatientCompartment> pc_;
};

TEST_F(CompartmentJson, EdgeCases) {
  Same("Patient",
       R"({"resourceType":"Patient","id":"p1","link":[{"other":{"reference":"Patient/p2"}}]})");
  Same("Patient", R"({"resourceType":"Patient","contact":[{"id":"x"}],"id":"p\u0031"})");
  Same("Patient", R"({"i\u0064":"p9","resourceType":"Patient","name":[{"text":"\u0041"}]})");
  Same("Observation", R"({"resourceType":"Observation","subject":{"reference":"Patient/a"},
      "performer":[{"reference":"Practitioner/x"},{"reference":"Patient/b"},{"reference":"Patient/a"}]})");
  // performer before subject in the text: subject's path comes first in the answer all the same
  Same("Observation", R"({"resourceType":"Observation","performer":[{"reference":"Patient/b"}],
      "subject":{"reference":"Patient/a"}})");
  // escapes in keys and values, absolute and versioned references, a false prefix
  Same("Observation",
       R"({"subj\u0065ct":{"refer\u0065nce":"http://h/fhir/Patient/\u0061bc/_history/2"}})");
  Same("Observation",
       R"({"subject":{"reference":"NotPatient/z"},"performer":[{"reference":"x/Patient/"}]})");
  // a "reference" deeper than the path end, or beside it, is not the element's reference
  Same("Observation", R"({"subject":{"identifier":{"assigner":{"reference":"Patient/no"}}},
      "reference":"Patient/no2","note":[{"text":"Patient/no3"}]})");
  Same("Encounter", R"({"resourceType":"Encounter","subject":{"reference":"Patient/e1"},
      "participant":[{"individual":{"reference":"Practitioner/d"}}],"id":"e","n":[1,2.5,true,null,-3]})");
  Same("AllergyIntolerance",
       R"({"patient":{"reference":"Patient/q"},"recorder":{"reference":"Patient/r"},
      "asserter":{"reference":"Patient/q"}})");
  Same("Organization",
       R"({"resourceType":"Organization","id":"o","partOf":{"reference":"Patient/x"}})");
  // reference not a string
  Same("Observation", R"({"subject":{"reference":{"reference":"Patient/x"}}})");
  Same("Observation", R"({"subject":[[{"reference":"Patient/nested"}]]})");
  // the first compartment path decides even when another path's patient comes first in the text;
  // a reference that is no patient's does not count; escapes and whitespace
  Same("Observation", R"({"performer":[{"reference":"Patient/b"}],"subject":{"reference":"Group/g"},
      "subject":{"reference":"Patient/a"}})");
  Same("Observation",
       " {\n\t\"note\" : [ {\"text\" : \"a \\\" b\\\\\"} ] ,"
       " \"subject\" : { \"reference\" : \"Patient/w\" } } ");
  Same("Observation", R"({"status":"x\"","subject":{"display":"\\","reference":"Patient/q\/1"}})");
  Same("Observation", R"({"performer":[{"reference":"Patient/p"}],"valueQuantity":{"value":-1.5e3},
      "x":[true,false,null,[]],"y":{}})");
  Same("Observation", R"({"resourceType":"Observation"})");
  // values no compartment path goes into are skipped whole: references and brackets inside them
  Same("Observation",
       R"({"contained":[{"resourceType":"Coverage","beneficiary":{"reference":"Patient/c"}}],
      "note":[{"text":"[{]} \" }]\\"},{"text":"\\\\\"]}"}],"code":{"coding":[[],{}]},"subject":{"reference":"Patient/a"}})");
  Same("ExplanationOfBenefit",
       R"({"contained":[{"subject":{"reference":"Patient/x"}}],"patient":{"reference":"Patient/p"},
      "item":[{"x":[{"y":{"reference":"Patient/z"}}]}]})");
  // "Patient/" spelt with escapes (no plain "Patient/" in the text), before or after a plain one
  Same("Observation", R"({"subject":{"reference":"Patient\/x"}})");
  Same("Observation", R"({"subject":{"reference":"Pat\u0069ent/x"},"note":[{"text":"a\nb"}]})");
  Same("Observation",
       R"({"subject":{"reference":"Patient/a"},"performer":[{"reference":"Patient\/b"}]})");
  Same("Observation",
       R"({"performer":[{"reference":"Patient\/b"}],"subject":{"reference":"Patient/a"}})");
  // the last "Patient/" in a note or a non-compartment element; patients after an escape-free tail
  Same("Observation",
       R"({"subject":{"reference":"Patient/a"},"note":[{"text":"see Patient/z"}],"x":1})");
  Same("Observation", R"({"focus":[{"reference":"Patient/f"}],"subject":{"reference":"Group/g"}})");
  Same(
      "Observation",
      R"({"performer":[{"reference":"Patient/b"},{"reference":"Patient/c"}],"subject":{"reference":"Patient/a"},"id":"o"})");
  Same("Observation", R"({"note":[{"text":"q\"r"}],"subject":{"reference":"Organization/o"}})");
}

TEST_F(CompartmentJson, NotAnObjectIsAnError) {
  for (std::string bad :
       {"", "[]", "[{\"subject\":{\"reference\":\"Patient/a\"}}]", "1", "\"x\"", "null", "{",
        "{\"subject\":}", "{} {}", "{}x", "{\"id\":\"a\"", "{\"id\":\"\\q\"}"}) {
    EXPECT_FALSE(pc_->PatientsOfJson("Observation", bad).ok()) << bad;
    EXPECT_FALSE(pc_->PatientsOfJson("Patient", bad).ok()) << bad;
    EXPECT_FALSE(pc_->PatientsOfJson("Organization", bad).ok()) << bad;
  }
  EXPECT_TRUE(pc_->PatientsOfJson("Observation", " {} ").ok());
  // The stored-text scans fall back to the validating parser when unsure. A Patient's text is
  // read to its end; other types' only up to their last "Patient/" (the text was validated when
  // written), so a break after that point, or inside text with no patient reference, may go
  // unnoticed; text that is no object at all fails.
  for (std::string bad : {"", "[]", "1", "{", "{\"subject\":}", "{} {}", "{}x", "{\"id\":\"a\""}) {
    EXPECT_FALSE(pc_->FirstPatientOfStored("Patient", bad).ok()) << bad;
    EXPECT_FALSE(pc_->PatientsOfStored("Patient", bad).ok()) << bad;
  }
  for (std::string bad : {"", "[]", "1", "{", "{}x", "{\"id\":\"a\"", " [{\"subject\":{}}] ",
                          "{\"subject\":{\"reference\":\"Patient/a"}) {
    EXPECT_FALSE(pc_->FirstPatientOfStored("Observation", bad).ok()) << bad;
    EXPECT_FALSE(pc_->PatientsOfStored("Observation", bad).ok()) << bad;
    EXPECT_FALSE(pc_->PatientsOfStored("Organization", bad).ok()) << bad;
  }
}

TEST_F(CompartmentJson, SameAsTheDomOnEveryExampleAndSyntheaResource) {
  std::string data = testing::SharedDataDir();
  if (data.empty()) GTEST_SKIP() << "../shared/data is absent: examples not available";
  // Synthea's bundles refer to their Patient as urn:uuid:ID; stored, that is Patient/ID.
  std::vector<json::value> resources =
      testing::ExampleAndSyntheaResources(data, /*patient_refs_as_stored=*/true);
  ASSERT_GT(resources.size(), 8000u);
  size_t with_patient = 0;
  for (const auto& r : resources) {
    if (!r.is_object() || !r.as_object().contains("resourceType")) continue;
    std::string type(r.at("resourceType").as_string());
    std::string text = json::serialize(r);
    auto want = pc_->PatientsOf(type, r.as_object());
    auto got = pc_->PatientsOfJson(type, text);
    ASSERT_TRUE(got.ok()) << type << " " << text.substr(0, 200);
    ASSERT_EQ(*got, want) << type << " " << text.substr(0, 300);
    First(type, text, want);
    with_patient += !want.empty();
  }
  EXPECT_GT(with_patient, 7000u);
}

}  // namespace
}  // namespace benhan
