// Digitization throughput on this machine, OCR and extraction measured separately.
//   digitize_bench [PAGES]   (default 6 A4 pages per condition)
// OCR: A4 pages at 300 dpi rendered from VietBioNER articles (../shared/data), clean and degraded
// (3° skew, blur, noise, JPEG q50), one OcrEngine on one thread (a worker's rate); prints pages
// per minute and CER. Extraction: the OCR text of those pages and the development-set records
// (tests/digitize/devset), run repeatedly; prints pages per minute.
#include <leptonica/allheaders.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "digitize/digitizer.h"
#include "digitize/icd10_coder.h"
#include "page_render.h"

using namespace benhan::digitize;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  const int pages = argc > 1 ? std::atoi(argv[1]) : 6;
  std::string text = testing::LoadVietBioNer({"1.txt", "12.txt", "2.txt", "3.txt", "4.txt"});
  if (text.empty()) {
    std::fprintf(stderr, "SKIP: ../shared/data/vietnamese/VietBioNER absent\n");
    return 0;
  }
  auto engine = OcrEngine::Create({});
  if (!engine.ok()) {
    std::fprintf(stderr, "%s\n", engine.status().message().c_str());
    return 1;
  }
  std::vector<std::string> ocr_texts;
  for (bool degraded : {false, true}) {
    size_t offset = 0;
    double secs = 0, cer = 0;
    for (int p = 0; p < pages; ++p) {
      testing::RenderOptions ro;
      ro.width_mm = 210;
      ro.height_mm = 297;
      ro.margin_mm = 20;
      auto page = testing::RenderPage(text.substr(offset), ro);
      offset += page.consumed;
      if (offset >= text.size()) offset = 0;
      testing::Degradation d;
      d.skew_degrees = 3;
      d.blur_sigma = 1;
      d.noise_sigma = 18;
      d.salt_pepper = 0.004;
      d.jpeg_quality = 50;
      d.seed = static_cast<unsigned>(p + 1);
      PixPtr img =
          degraded ? testing::Degrade(page.pix.get(), 300, d) : PixPtr(pixClone(page.pix.get()));
      auto t0 = Clock::now();
      auto r = (*engine)->Recognize(img.get(), p + 1);
      secs += std::chrono::duration<double>(Clock::now() - t0).count();
      if (!r.ok()) {
        std::fprintf(stderr, "%s\n", r.status().message().c_str());
        return 1;
      }
      cer += testing::CharacterErrorRate(page.truth, r->text);
      ocr_texts.push_back(r->text);
    }
    std::printf(
        "OCR %-9s A4 300 dpi: %d pages, %.2f s/page, %.1f pages/min (one core), CER %.2f%%\n",
        degraded ? "degraded" : "clean", pages, secs / pages, 60.0 * pages / secs,
        100.0 * cer / pages);
  }
  // Extraction.
  for (const auto& e : std::filesystem::directory_iterator(std::string(BENHAN_SOURCE_DIR) +
                                                           "/tests/digitize/devset")) {
    if (e.path().extension() != ".txt") continue;
    std::ifstream in(e.path());
    std::stringstream ss;
    ss << in.rdbuf();
    ocr_texts.push_back(ss.str());
  }
  auto rules = std::make_shared<Rules>(Rules::Load().value());
  Icd10Coder coder([] { return benhan::terminology::StarterIcd10(); });
  auto ex = MakeRuleExtractor(rules, &coder);
  size_t facts = 0, bytes = 0;
  int n = 0;
  auto t0 = Clock::now();
  while (std::chrono::duration<double>(Clock::now() - t0).count() < 3.0) {
    for (const auto& t : ocr_texts) {
      auto r = ex->Extract(t);
      facts += r.ok() ? r->facts.size() : 0;
      bytes += t.size();
      ++n;
    }
  }
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf(
      "Extraction: %d pages (%zu KB), %.2f ms/page, %.0f pages/min (one core), %.1f facts/page\n",
      n, bytes / 1024, 1000.0 * secs / n, 60.0 * n / secs, static_cast<double>(facts) / n);
  return 0;
}
