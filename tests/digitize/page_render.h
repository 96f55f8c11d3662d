// Test pages rendered at test time (pango/cairo with fonts from Debian packages) and degraded the
// way scans are (skew, blur, noise, JPEG artefacts, low resolution), plus the character error rate.
// Used by the OCR accuracy test and bench/digitize_bench. Thread-compatible (no shared state).
#pragma once

#include <string>
#include <vector>

#include "digitize/ocr.h"

namespace benhan::digitize::testing {

struct RenderOptions {
  int dpi = 300;
  double width_mm = 148, height_mm = 210;  // A5 keeps a page's OCR time reasonable on 2 cores
  double margin_mm = 12;
  std::string font = "Noto Serif 11";
};

struct RenderedPage {
  PixPtr pix;           // 8-bit grey, resolution set to dpi
  std::string truth;    // the text that fits on the page (what was drawn)
  size_t consumed = 0;  // bytes of the input used
};

// Renders as much of `text` as fits on one page ('\n' separates paragraphs).
RenderedPage RenderPage(const std::string& text, const RenderOptions& opts);

struct Degradation {
  double skew_degrees = 0;
  double blur_sigma = 0;   // Gaussian blur, in pixels at 300 dpi (scaled with the dpi)
  double noise_sigma = 0;  // additive Gaussian noise on 0..255
  double salt_pepper = 0;  // fraction of pixels set to black or white
  int jpeg_quality = 0;    // 0: no JPEG round trip
  unsigned seed = 1;
};
PixPtr Degrade(Pix* page, int dpi, const Degradation& d);

// Encodes a page as PNG / JPEG bytes (for tests of the file path).
std::string EncodePng(Pix* page);
std::string EncodeJpeg(Pix* page, int quality);

// A PDF with a text layer (cairo), one page per entry of `pages` (A4, 11 pt Noto Serif).
std::string RenderTextPdf(const std::vector<std::string>& pages);
// A scanned PDF: one page per image (leptonica, Flate), at `dpi`.
std::string ImagesToPdf(const std::vector<Pix*>& images, int dpi);

// Character error rate: Levenshtein distance over Unicode code points of the NFC texts with
// whitespace runs collapsed to one space, divided by the reference length.
double CharacterErrorRate(const std::string& reference, const std::string& hypothesis);

// Paragraphs of real Vietnamese medical text (VietBioNER articles) for rendering; empty if the
// data is absent. `files` are names in data_brat/Annotator_A (e.g. "1.txt").
std::string LoadVietBioNer(const std::vector<std::string>& files);

}  // namespace benhan::digitize::testing
