// FHIRPath search-parameter extraction benchmark over the Synthea R4 transaction bundles.
//
// For every resource of every bundle: the time to parse its JSON text, and the time to evaluate
// every search-parameter expression that applies to its type (compiled once, through
// CompileCached). Writes the (resource type -> expressions) list it used to --exprs-out so that the
// JavaScript baseline (fhirpath_js_bench.js) evaluates exactly the same expressions on the same
// resources.
//
//   fhirpath_bench [--data DIR] [--rounds N] [--exprs-out FILE]
#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "fhir/fhirpath/fhirpath.h"

namespace fs = std::filesystem;
using namespace benhan::fhir;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  std::string data = BENHAN_SHARED_DATA "/synthea/r4-bundles";
  std::string exprs_out;
  int rounds = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--data")
      data = argv[i + 1];
    else if (a == "--rounds")
      rounds = std::max(1, std::atoi(argv[i + 1]));
    else if (a == "--exprs-out")
      exprs_out = argv[i + 1];
  }
  if (!fs::exists(data)) {
    std::cerr << "Synthea data not found at " << data << "\n";
    return 1;
  }
  auto defs_r = Definitions::LoadEmbedded();
  if (!defs_r.ok()) return 1;
  const Definitions& defs = **defs_r;

  // The resources, as their own JSON text (what the server receives on a write).
  std::vector<std::string> texts;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(data)) {
    if (e.path().extension() == ".json") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    boost::json::value b = boost::json::parse(ss.str());
    for (const auto& entry : b.at("entry").as_array()) {
      texts.push_back(boost::json::serialize(entry.at("resource")));
    }
  }

  // Compile the expressions per type once (and write them out for the JavaScript run).
  std::map<std::string,
           std::vector<std::pair<std::string, std::shared_ptr<const fhirpath::Expression>>>>
      by_type;
  std::vector<boost::json::value> resources;
  resources.reserve(texts.size());
  for (const auto& t : texts) resources.push_back(boost::json::parse(t));
  for (const auto& r : resources) {
    std::string type(r.at("resourceType").as_string());
    if (by_type.count(type)) continue;
    auto& v = by_type[type];
    for (const SearchParamDef* p : defs.SearchParamsFor(type)) {
      if (p->expression.empty()) continue;
      auto e = fhirpath::CompileCached(p->expression);
      if (!e.ok()) {
        std::cerr << "compile failed: " << p->expression << "\n";
        return 1;
      }
      v.emplace_back(p->expression, *e);
    }
  }
  if (!exprs_out.empty()) {
    boost::json::object o;
    for (const auto& [type, v] : by_type) {
      boost::json::array a;
      for (const auto& [text, e] : v) a.emplace_back(text);
      o[type] = std::move(a);
    }
    std::ofstream(exprs_out) << boost::json::serialize(o);
  }

  size_t n_exprs = 0;
  for (const auto& r : resources)
    n_exprs += by_type[std::string(r.at("resourceType").as_string())].size();

  double best_parse = 1e300, best_eval = 1e300;
  size_t items = 0, errors = 0;
  for (int round = 0; round < rounds; ++round) {
    auto t0 = Clock::now();
    size_t sink = 0;
    for (const auto& t : texts) {
      boost::json::value v = boost::json::parse(t);
      sink += v.is_object();
    }
    auto t1 = Clock::now();
    items = 0;
    errors = 0;
    for (const auto& r : resources) {
      const auto& v = by_type[std::string(r.at("resourceType").as_string())];
      for (const auto& [text, e] : v) {
        auto res = fhirpath::Evaluate(*e, r, defs);
        if (res.ok())
          items += res->size();
        else
          ++errors;
      }
    }
    auto t2 = Clock::now();
    if (sink == 0) std::cerr << "";
    best_parse = std::min(best_parse, std::chrono::duration<double>(t1 - t0).count());
    best_eval = std::min(best_eval, std::chrono::duration<double>(t2 - t1).count());
  }
  double n = static_cast<double>(resources.size());
  std::printf(
      "resources: %zu (%zu bundles), search-parameter evaluations: %zu, result items: %zu, errors: "
      "%zu\n",
      resources.size(), files.size(), n_exprs, items, errors);
  std::printf("C++ JSON parse only:             %8.2f us/resource  (total %.3f s)\n",
              best_parse / n * 1e6, best_parse);
  std::printf("C++ extract all search params:   %8.2f us/resource  (total %.3f s)\n",
              best_eval / n * 1e6, best_eval);
  std::printf(
      "{\"cpp_parse_us\": %.3f, \"cpp_extract_us\": %.3f, \"resources\": %zu, \"items\": %zu}\n",
      best_parse / n * 1e6, best_eval / n * 1e6, resources.size(), items);
  return 0;
}
