// Engine behaviour on hand-written cases, focused on what search-parameter extraction needs.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "fhir/fhirpath/fhirpath.h"

namespace benhan::fhir::fhirpath {
namespace {

const Definitions& Defs() {
  static auto d = Definitions::LoadEmbedded();
  EXPECT_TRUE(d.ok()) << d.status().ToString();
  return **d;
}

const boost::json::value& Obs() {
  static const boost::json::value v = boost::json::parse(R"({
    "resourceType": "Observation", "id": "o1", "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
    "subject": {"reference": "Patient/p1"},
    "effectiveDateTime": "2020-03-04T10:00:00Z",
    "valueQuantity": {"value": 70.5, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"},
    "component": [{"code": {"text": "a"}, "valueString": "x"}, {"code": {"text": "b"}, "valueInteger": 3}],
    "extension": [{"url": "http://e/1", "valueBoolean": true}]
  })");
  return v;
}

Collection Eval(std::string_view text, const boost::json::value& in = Obs(),
                EvalOptions opts = {}) {
  auto e = CompileCached(text);
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  if (!e.ok()) return {};
  auto r = Evaluate(**e, in, Defs(), opts);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : Collection{};
}

std::string Json(std::string_view text, const boost::json::value& in = Obs(),
                 EvalOptions opts = {}) {
  return boost::json::serialize(ToJson(Eval(text, in, opts)));
}

TEST(FhirPath, PathsKeepTypesAndPointIntoInput) {
  Collection c = Eval("Observation.code.coding");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].type(), "Coding");
  EXPECT_TRUE(c[0].is_input_node());
  EXPECT_EQ(&c[0].json(), &Obs().at("code").at("coding").at(0));
  Collection v = Eval("Observation.value");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].type(), "Quantity");
  EXPECT_EQ(Eval("Observation.effective")[0].type(), "dateTime");
  EXPECT_EQ(Json("Observation.component.value"), R"(["x",3])");
}

TEST(FhirPath, SearchParameterShapes) {
  EXPECT_EQ(Json("Observation.value as Quantity"), Json("Observation.valueQuantity"));
  EXPECT_EQ(Json("(Observation.value as Quantity).value"), "[7.05E1]");
  EXPECT_EQ(Json("Observation.value.ofType(Quantity).unit"), R"(["kg"])");
  EXPECT_EQ(Json("Observation.code.coding.where(system='http://loinc.org').code"),
            R"(["29463-7"])");
  EXPECT_EQ(Json("Observation.status | Observation.id"), R"(["final","o1"])");
  EXPECT_EQ(Json("Observation.extension('http://e/1').value"), "[true]");
  EXPECT_EQ(Json("Observation.component.exists()"), "[true]");
  EXPECT_EQ(Json("Observation.component.first().code.text"), R"(["a"])");
  EvalOptions stub;
  stub.stub_unresolved_references = true;
  EXPECT_EQ(Eval("Observation.subject.where(resolve() is Patient)", Obs(), stub).size(), 1u);
  EXPECT_EQ(Eval("Observation.subject.where(resolve() is Group)", Obs(), stub).size(), 0u);
}

TEST(FhirPath, ArithmeticAndLogic) {
  boost::json::value empty;
  EXPECT_EQ(Json("1 + 2 * 3", empty), "[7]");
  EXPECT_EQ(Json("(true and {}) or true", empty), "[true]");
  EXPECT_EQ(Json("{} and true", empty), "[]");
  EXPECT_EQ(Json("'a' & {} & 'b'", empty), R"(["ab"])");
  EXPECT_EQ(Json("@2020-01-01 + 1 month", empty), R"(["2020-02-01"])");
  EXPECT_EQ(Json("5 'mg' = 0.005 'g'", empty), "[true]");
}

TEST(FhirPath, SyntaxErrorsCarryPositionAndReason) {
  auto e = Compile("Patient.name.where(");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), Code::kInvalid);
  EXPECT_NE(e.status().message().find("at 19"), std::string::npos) << e.status().message();
  auto f = Compile("Patient.name.nofunction()");
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("unknown function 'nofunction'"), std::string::npos);
}

TEST(FhirPath, EvaluationErrorsAreValues) {
  auto e = Compile("Observation.component.single()");
  ASSERT_TRUE(e.ok());
  auto r = Evaluate(**e, Obs(), Defs());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kProcessing);
}

TEST(FhirPath, CacheReturnsSameExpression) {
  auto a = CompileCached("Patient.name");
  auto b = CompileCached("Patient.name");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->get(), b->get());
}

}  // namespace
}  // namespace benhan::fhir::fhirpath

namespace benhan::fhir::fhirpath {
namespace {

// Regression (found by ASan on the official suite): items navigated from a computed value (here the
// children of a resolve() stub) must keep that value alive after the expression that made it ends.
TEST(FhirPathRegression, ChildrenOfComputedValuesStayAlive) {
  auto defs = Definitions::LoadEmbedded();
  ASSERT_TRUE(defs.ok());
  boost::json::value obs = boost::json::parse(
      R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p1"}})");
  EvalOptions opts;
  opts.stub_unresolved_references = true;
  for (const char* text :
       {"Observation.subject.resolve().id", "(Observation.subject.resolve() | {}).id = 'p1'",
        "Observation.subject.resolve().children().count() > 0"}) {
    auto e = Compile(text);
    ASSERT_TRUE(e.ok()) << text;
    auto r = Evaluate(**e, obs, **defs, opts);
    ASSERT_TRUE(r.ok()) << text << ": " << r.status().ToString();
    ASSERT_FALSE(r->empty()) << text;
    // Touch every result after the evaluation's temporaries are gone.
    for (const auto& it : *r) EXPECT_FALSE(boost::json::serialize(it.json()).empty());
  }
}

}  // namespace
}  // namespace benhan::fhir::fhirpath
