// Search parameters whose rows would repeat other parameters' rows are derived from the R4
// expressions and not indexed (fhir::Indexer::AliasOf).
#include <gtest/gtest.h>

#include <cstdlib>

#include "fhir/indexer.h"

namespace benhan::fhir {
namespace {

TEST(ParamAlias, DerivedFromTheR4Expressions) {
  auto defs = Definitions::LoadEmbedded();
  ASSERT_TRUE(defs.ok());
  auto ix = Indexer::Create(*defs);
  ASSERT_TRUE(ix.ok());
  const Indexer& x = **ix;

  const auto* patient = x.AliasOf("Observation", "patient");
  ASSERT_NE(patient, nullptr);
  EXPECT_EQ(patient->sources, std::vector<std::string>{"subject"});
  EXPECT_EQ(patient->target_type, "Patient");

  const auto* combo = x.AliasOf("Observation", "combo-code");
  ASSERT_NE(combo, nullptr);
  EXPECT_EQ(combo->sources, (std::vector<std::string>{"code", "component-code"}));
  EXPECT_EQ(combo->target_type, "");

  const auto* cvq = x.AliasOf("Observation", "combo-code-value-quantity");
  ASSERT_NE(cvq, nullptr);
  EXPECT_EQ(cvq->sources,
            (std::vector<std::string>{"code-value-quantity", "component-code-value-quantity"}));

  // A union of other parameters' unions: value-quantity is `value as Quantity | value as
  // SampledData`, component-value-quantity the same on each component.
  const auto* cq = x.AliasOf("Observation", "combo-value-quantity");
  ASSERT_NE(cq, nullptr);
  EXPECT_EQ(cq->sources, (std::vector<std::string>{"component-value-quantity", "value-quantity"}));
  // A union that no other parameters' branches cover exactly stays indexed.
  EXPECT_EQ(x.AliasOf("Observation", "value-quantity"), nullptr);

  const auto* phonetic = x.AliasOf("Patient", "phonetic");
  ASSERT_NE(phonetic, nullptr);
  EXPECT_EQ(phonetic->sources, std::vector<std::string>{"name"});

  // Indexed parameters are not aliases; an alias's sources never are.
  for (const char* p : {"subject", "code", "name", "identifier"}) {
    EXPECT_EQ(x.AliasOf("Observation", p), nullptr) << p;
  }
  size_t n = 0;
  for (const auto& type : (*defs)->ResourceTypeNames()) {
    for (const auto* p : (*defs)->SearchParamsFor(type)) {
      const auto* a = x.AliasOf(type, p->code);
      if (a == nullptr) continue;
      ++n;
      if (std::getenv("BENHAN_LIST_ALIASES") != nullptr) {
        std::printf("%s.%s ->", type.c_str(), p->code.c_str());
        for (const auto& s : a->sources) std::printf(" %s", s.c_str());
        std::printf("%s%s\n", a->target_type.empty() ? "" : " where ", a->target_type.c_str());
      }
      for (const auto& s : a->sources) EXPECT_EQ(x.AliasOf(type, s), nullptr) << type << "." << s;
    }
  }
  std::printf("search parameter aliases: %zu\n", n);
  EXPECT_GT(n, 50u);
}

}  // namespace
}  // namespace benhan::fhir
