// The indexer's shortcuts (fhir::Indexer::Extract): it skips a search parameter when the resource
// lacks every top-level element its expression starts from, and composite parameters over the same
// item share their components' evaluations. The shortcuts must never change the rows: checked over
// every official R4 example and every Synthea resource against evaluating every parameter and
// component separately (`shortcuts = false`).
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>

#include "fhir/definitions.h"
#include "fhir/indexer.h"
#include "support/test_server.h"

namespace benhan {
namespace {

namespace json = boost::json;

std::vector<std::string> Rows(const fhir::IndexEntries& e) {
  std::vector<std::string> out;
  for (const auto& r : e.strings) out.push_back("s " + r.param + " " + r.folded + " " + r.exact);
  for (const auto& r : e.tokens)
    out.push_back("t " + r.param + " " + r.system + "|" + r.code + " " + r.text);
  for (const auto& r : e.references)
    out.push_back("r " + r.param + " " + r.target_type + "/" + r.target_id + " " + r.url);
  for (const auto& r : e.dates)
    out.push_back("d " + r.param + " " + std::to_string(r.low) + " " + std::to_string(r.high));
  for (const auto& r : e.numbers) out.push_back("n " + r.param + " " + std::to_string(r.value));
  for (const auto& r : e.quantities) {
    out.push_back("q " + r.param + " " + std::to_string(r.value) + " " + r.system + " " + r.code +
                  " " + r.unit + " " + r.unit_key + " " + std::to_string(r.canonical));
  }
  for (const auto& r : e.uris) out.push_back("u " + r.param + " " + r.uri);
  std::sort(out.begin(), out.end());
  return out;
}

TEST(IndexerRoots, SkippingAbsentElementsNeverChangesTheRows) {
  std::string data = testing::SharedDataDir();
  if (data.empty()) GTEST_SKIP() << "../shared/data is absent: official examples not available";
  auto defs = fhir::Definitions::LoadEmbedded();
  ASSERT_TRUE(defs.ok());
  auto ix = fhir::Indexer::Create(*defs);
  ASSERT_TRUE(ix.ok());

  std::vector<json::value> resources = testing::ExampleAndSyntheaResources(data);
  ASSERT_GT(resources.size(), 8000u);
  size_t rows = 0;
  for (const auto& r : resources) {
    if (!r.is_object()) continue;
    auto fast = Rows((*ix)->Extract(r, true));
    auto full = Rows((*ix)->Extract(r, false));
    rows += full.size();
    ASSERT_EQ(fast, full) << json::serialize(r).substr(0, 300);
  }
  std::printf("resources %zu, index rows %zu: the same with and without skipping\n",
              resources.size(), rows);
  EXPECT_GT(rows, 80000u);
}

}  // namespace
}  // namespace benhan
