// $expand autocomplete latency over the full Ministry ICD-10 list, in process: the whole operation
// (TerminologyService::Expand: version resolution, index search, the ValueSet JSON) on a node
// whose store holds the imported CodeSystem, for a typing mix (every keystroke of the first 1-3
// words of 150 names drawn with a fixed seed, a typo'd variant of each, code prefixes). Baseline
// in the same run: a linear scan that folds nothing at query time (pre-folded names, substring
// test per query word), i.e. what the index replaces.
//
//   terminology_bench [ICD10_JSON] [ROUNDS=5]
// Prints p50/p95/p99/max in ms for both and the queries/s.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "app/node.h"
#include "core/text.h"
#include "terminology/concept_index.h"
#include "terminology/importers.h"

using namespace benhan;
using Clock = std::chrono::steady_clock;

namespace {

struct Stats {
  double p50, p95, p99, max, qps;
};

Stats Summarise(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))];
  };
  double sum = 0;
  for (double v : ms) sum += v;
  return Stats{at(0.50), at(0.95), at(0.99), ms.back(), 1000.0 * ms.size() / sum};
}

void Print(const char* name, const Stats& s, size_t n) {
  std::printf("%-34s n=%zu  p50 %.3f ms  p95 %.3f ms  p99 %.3f ms  max %.3f ms  %.0f queries/s\n",
              name, n, s.p50, s.p95, s.p99, s.max, s.qps);
}

}  // namespace

int main(int argc, char** argv) {
  std::string path = argc > 1 ? argv[1] : BENHAN_SHARED_DATA "/vietnam/icd10-vn.json";
  int rounds = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "terminology_bench: cannot read %s\n", path.c_str());
    return 1;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  terminology::CatalogInfo info;
  info.version = "bench";
  auto t0 = Clock::now();
  auto imported = terminology::ImportIcd10Json(ss.str(), info);
  if (!imported.ok()) {
    std::fprintf(stderr, "%s\n", imported.status().ToString().c_str());
    return 1;
  }
  double import_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  auto dir =
      std::filesystem::temp_directory_path() / ("benhan-termbench-" + std::to_string(getpid()));
  Config cfg;
  cfg.data_dir = dir.string();
  auto node = app::Node::Open(cfg);
  if (!node.ok()) {
    std::fprintf(stderr, "%s\n", node.status().ToString().c_str());
    return 1;
  }
  imported->cs.resource_id = "icd10-vn-bench";
  service::RequestContext ctx;
  auto t1 = Clock::now();
  auto w = (*node)->service().Update(ctx, "CodeSystem", "icd10-vn-bench",
                                     terminology::ToResource(imported->cs));
  double store_ms = std::chrono::duration<double, std::milli>(Clock::now() - t1).count();
  if (!w.ok()) {
    std::fprintf(stderr, "%s\n", w.status().ToString().c_str());
    return 1;
  }
  auto t2 = Clock::now();
  if (Status st = (*node)->terminology().Load(); !st.ok()) {
    std::fprintf(stderr, "%s\n", st.ToString().c_str());
    return 1;
  }
  double load_ms = std::chrono::duration<double, std::milli>(Clock::now() - t2).count();
  auto cs = (*node)->terminology().Resolve(terminology::kIcd10VnUrl, "bench");
  std::printf(
      "ICD-10: %zu concepts; parse+import %.0f ms, store as a CodeSystem %.0f ms, load + "
      "index %.0f ms\n",
      cs->concepts.size(), import_ms, store_ms, load_ms);

  // The typing mix.
  std::mt19937 rng(7);
  std::vector<std::string> queries;
  for (int i = 0; i < 150; ++i) {
    const auto& c =
        cs->concepts[std::uniform_int_distribution<size_t>(0, cs->concepts.size() - 1)(rng)];
    auto words = terminology::SplitWords(text::Fold(c.display));
    size_t take = std::min<size_t>(words.size(), 1 + i % 3);
    std::string phrase;
    for (size_t k = 0; k < take; ++k) phrase += (k ? " " : "") + words[k];
    for (size_t len = 2; len <= phrase.size(); ++len)
      if (phrase[len - 1] != ' ') queries.push_back(phrase.substr(0, len));
    if (phrase.size() > 4) {
      std::string typo = phrase;
      std::swap(typo[typo.size() / 2], typo[typo.size() / 2 + 1]);
      queries.push_back(typo);
    }
    queries.push_back(c.code.substr(0, std::min<size_t>(c.code.size(), 2 + i % 4)));
  }
  std::printf(
      "query mix: %zu queries (keystrokes of 150 names, typos, code prefixes), count=20, "
      "%d rounds\n",
      queries.size(), rounds);

  terminology::OpParams params{
      {"url", terminology::kIcd10VnValueSet}, {"filter", ""}, {"count", "20"}};
  std::vector<double> op_ms, idx_ms, scan_ms;
  (void)(*node)->terminology().Expand(params);  // warm-up (the reload after the store above)
  // Baseline: pre-folded names, substring test of every query word.
  std::vector<std::string> folded;
  for (const auto& c : cs->concepts) folded.push_back(text::Fold(c.display + " " + c.display_en));
  size_t sink = 0;
  for (int r = 0; r < rounds; ++r) {
    for (const auto& q : queries) {
      params[1].second = q;
      auto a = Clock::now();
      auto out = (*node)->terminology().Expand(params);
      auto b = Clock::now();
      if (!out.ok()) {
        std::fprintf(stderr, "%s: %s\n", q.c_str(), out.status().ToString().c_str());
        return 1;
      }
      op_ms.push_back(std::chrono::duration<double, std::milli>(b - a).count());
      size_t total = 0;
      auto c = Clock::now();
      sink += cs->index().Search(q, 0, 20, &total).size();
      auto d = Clock::now();
      idx_ms.push_back(std::chrono::duration<double, std::milli>(d - c).count());
      auto words = terminology::SplitWords(text::Fold(q));
      size_t hits = 0;
      for (const auto& f : folded) {
        bool all = true;
        for (const auto& wd : words) all = all && f.find(wd) != std::string::npos;
        hits += all;
      }
      sink += hits;
      scan_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - d).count());
    }
  }
  Print("$expand (TerminologyService)", Summarise(op_ms), op_ms.size());
  Print("index search only", Summarise(idx_ms), idx_ms.size());
  Print("baseline: linear substring scan", Summarise(scan_ms), scan_ms.size());
  node->reset();
  std::filesystem::remove_all(dir);
  return sink == 0 ? 1 : 0;
}
