// Every FHIRPath expression that R4 itself defines must compile: SearchParameter.expression (from
// the embedded definitions) and StructureDefinition constraint expressions (from HL7's bundles).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fhir/fhirpath/fhirpath.h"

namespace benhan::fhir::fhirpath {
namespace {

namespace fs = std::filesystem;

TEST(DefinitionsParse, EverySearchParameterExpression) {
  auto defs = Definitions::LoadEmbedded();
  ASSERT_TRUE(defs.ok());
  size_t n = 0;
  for (const SearchParamDef& p : (*defs)->AllSearchParams()) {
    std::vector<std::string> exprs;
    if (!p.expression.empty()) exprs.push_back(p.expression);
    for (const auto& c : p.components) {
      if (!c.expression.empty()) exprs.push_back(c.expression);
    }
    for (const auto& e : exprs) {
      ++n;
      auto r = Compile(e);
      EXPECT_TRUE(r.ok()) << p.url << ": " << r.status().message();
    }
  }
  EXPECT_GT(n, 1000u);
  std::cout << "search-parameter expressions compiled: " << n << "\n";
}

TEST(DefinitionsParse, EveryStructureDefinitionConstraint) {
  const fs::path dir = fs::path(BENHAN_NPM_DIR) / "hl7.fhir.r4.examples";
  size_t n = 0;
  for (const char* file : {"Bundle-resources.json", "Bundle-types.json"}) {
    std::ifstream in(dir / file, std::ios::binary);
    if (!in) GTEST_SKIP() << (dir / file) << " not found: run scripts/install-deps.sh";
    std::stringstream ss;
    ss << in.rdbuf();
    boost::json::value bundle = boost::json::parse(ss.str());
    for (const auto& entry : bundle.at("entry").as_array()) {
      const auto& r = entry.at("resource").as_object();
      if (r.at("resourceType") != "StructureDefinition") continue;
      const auto* snap = r.if_contains("snapshot");
      if (snap == nullptr) continue;
      for (const auto& el : snap->at("element").as_array()) {
        const auto* cs = el.as_object().if_contains("constraint");
        if (cs == nullptr) continue;
        for (const auto& c : cs->as_array()) {
          const auto* e = c.as_object().if_contains("expression");
          if (e == nullptr) continue;
          ++n;
          auto res = CompileCached(e->as_string());
          EXPECT_TRUE(res.ok()) << r.at("id").as_string() << " " << c.at("key").as_string() << ": "
                                << res.status().message();
        }
      }
    }
  }
  EXPECT_GT(n, 5000u);
  std::cout << "constraint expressions compiled: " << n << "\n";
}

}  // namespace
}  // namespace benhan::fhir::fhirpath
