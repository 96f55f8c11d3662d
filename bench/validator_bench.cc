// Validator throughput on Synthea resources, one thread, against a baseline measured in the same
// run: parsing the same resources' JSON text with boost::json (the cost every write pays anyway).
//   ninja -C build validator_bench && ./build/bench/validator_bench [synthea-bundle-dir] [seconds]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "fhir/validator.h"

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

template <typename F>
double PerSecond(size_t items, double min_seconds, F&& fn) {
  size_t done = 0;
  auto t0 = std::chrono::steady_clock::now();
  double s = 0;
  do {
    fn();
    done += items;
    s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (s < min_seconds);
  return static_cast<double>(done) / s;
}

}  // namespace

int main(int argc, char** argv) {
  fs::path dir = argc > 1 ? fs::path(argv[1]) : fs::path(BENHAN_SHARED_DATA) / "synthea/r4-bundles";
  double seconds = argc > 2 ? std::atof(argv[2]) : 2.0;
  if (!fs::exists(dir)) {
    std::fprintf(stderr, "no Synthea bundles at %s\n", dir.c_str());
    return 1;
  }
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".json") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<json::value> resources;
  std::vector<std::string> texts;
  size_t bytes = 0;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    json::value b = json::parse(text);
    for (auto& e : b.at("entry").as_array()) {
      resources.push_back(e.at("resource"));
      texts.push_back(json::serialize(resources.back()));
      bytes += texts.back().size();
    }
  }
  auto defs = benhan::fhir::Definitions::LoadEmbedded();
  if (!defs.ok()) {
    std::fprintf(stderr, "%s\n", defs.status().ToString().c_str());
    return 1;
  }
  auto t0 = std::chrono::steady_clock::now();
  benhan::fhir::Validator validator(*defs);
  double build_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

  size_t invalid = 0;
  for (const auto& r : resources) invalid += !validator.Validate(r).ok();
  double validate = PerSecond(resources.size(), seconds, [&] {
    for (const auto& r : resources) {
      if (!validator.Validate(r).ok()) std::abort();
    }
  });
  double parse = PerSecond(resources.size(), seconds, [&] {
    for (const auto& t : texts) {
      json::value v = json::parse(t);
      if (!v.is_object()) std::abort();
    }
  });
  std::printf("%zu Synthea resources (%zu files, avg %zu bytes), %zu invalid\n", resources.size(),
              files.size(), bytes / std::max<size_t>(1, resources.size()), invalid);
  std::printf("Validator construction: %.1f ms\n", build_ms);
  std::printf("validate:              %10.0f resources/s\n", validate);
  std::printf("baseline json::parse:  %10.0f resources/s (validation costs %.0f%% of parsing)\n",
              parse, 100.0 * parse / validate);
  return 0;
}
