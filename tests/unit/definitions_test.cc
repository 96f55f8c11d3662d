#include "fhir/definitions.h"

#include <gtest/gtest.h>

namespace benhan::fhir {
namespace {

const Definitions& Defs() {
  static auto d = Definitions::LoadEmbedded();
  EXPECT_TRUE(d.ok()) << d.status().ToString();
  return **d;
}

TEST(Definitions, HasEveryR4ResourceType) {
  EXPECT_EQ(Defs().fhir_version(), "4.0.1");
  EXPECT_EQ(Defs().ResourceTypeNames().size(), 146u);
  EXPECT_TRUE(Defs().IsResourceType("Patient"));
  EXPECT_TRUE(Defs().IsResourceType("Observation"));
  EXPECT_FALSE(Defs().IsResourceType("DomainResource"));
  EXPECT_FALSE(Defs().IsResourceType("HumanName"));
  EXPECT_TRUE(Defs().IsA("Age", "Quantity"));
  EXPECT_TRUE(Defs().IsA("Patient", "Resource"));
}

TEST(Definitions, ResolvesChildrenAndChoices) {
  const TypeDef* obs = Defs().FindType("Observation");
  ASSERT_NE(obs, nullptr);
  ChildRef v = Defs().FindChild(*obs, 0, "valueQuantity");
  ASSERT_TRUE(v);
  EXPECT_EQ(v.def().path, "Observation.value[x]");
  EXPECT_EQ(v.chosen_type, "Quantity");
  ChildRef id = Defs().FindChild(*obs, 0, "id");  // inherited from Resource
  ASSERT_TRUE(id);
  ChildRef comp = Defs().FindChild(*obs, 0, "component");
  ASSERT_TRUE(comp);
  EXPECT_EQ(comp.def().max, kUnbounded);
  ChildRef node = Defs().NodeOf(comp, "BackboneElement");
  EXPECT_TRUE(Defs().FindChild(*node.type, node.element, "code"));
  EXPECT_FALSE(Defs().FindChild(*obs, 0, "valueFoo"));
  EXPECT_FALSE(Defs().FindChild(*obs, 0, "nonsense"));
}

TEST(Definitions, SearchParamsAndValueSets) {
  EXPECT_NE(Defs().FindSearchParam("Patient", "name"), nullptr);
  EXPECT_NE(Defs().FindSearchParam("Patient", "_id"), nullptr);
  EXPECT_NE(Defs().FindSearchParam("Observation", "_lastUpdated"), nullptr);
  const auto* gender = Defs().ValueSetCodes("http://hl7.org/fhir/ValueSet/administrative-gender");
  ASSERT_NE(gender, nullptr);
  EXPECT_TRUE(gender->count("female"));
  EXPECT_NE(Defs().PrimitiveRegex("date"), nullptr);
  const auto* p = Defs().CompartmentParams("Patient", "Observation");
  ASSERT_NE(p, nullptr);
}

}  // namespace
}  // namespace benhan::fhir
