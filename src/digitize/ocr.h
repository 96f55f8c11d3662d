// OCR of page images: leptonica page clean-up (grey, upscale of low-resolution scans, median
// denoise, background normalisation, deskew, binarisation) then Tesseract (LSTM, Vietnamese model
// `vie` from Debian tesseract-ocr-vie, automatic page segmentation). The text is NFC with a box and
// a confidence per word, and the word's byte span in the page text, so a fact extracted from the
// text can be shown where it is on the scan.
//
// Ownership: an OcrEngine owns one tesseract::TessBaseAPI (about 30 MB with the Vietnamese model).
// Thread-safety: an OcrEngine is NOT thread-safe (Tesseract keeps per-page state): use one per
// thread. CleanPage and the free functions are thread-safe.
// Errors: kUnavailable when the Tesseract data or language is missing; kInvalid for an image that
// cannot be used (empty, zero size, too large); recognition failures as kInternal.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

struct Pix;  // leptonica

namespace benhan::digitize {

// Owns a leptonica Pix (pixDestroy on destruction).
struct PixDeleter {
  void operator()(Pix* p) const;
};
using PixPtr = std::unique_ptr<Pix, PixDeleter>;

struct OcrWord {
  std::string text;                // NFC
  int x = 0, y = 0, w = 0, h = 0;  // box in the page image as given (before clean-up scaling)
  float confidence = 0;            // 0..100 (Tesseract's word confidence)
  size_t begin = 0, end = 0;       // byte span in OcrPage::text
};

struct OcrPage {
  int number = 1;              // 1-based
  std::string text;            // NFC; words joined by spaces, lines by '\n', blocks by "\n\n"
  std::vector<OcrWord> words;  // empty for a PDF text layer without positions
  float mean_confidence = 0;   // mean word confidence (0..100); 100 for a text layer
  int width = 0, height = 0;   // pixels of the page image (0 for a text layer)
  int dpi = 0;                 // resolution used (from the image, or assumed)
  float skew_degrees = 0;      // skew found and corrected by the clean-up
  std::string source = "ocr";  // "ocr" or "text-layer"
};

struct OcrOptions {
  std::string tessdata;            // directory with vie.traineddata; empty: Tesseract's default
  std::string language = "vie";    // Tesseract language(s), e.g. "vie+eng"
  bool clean_up = true;            // leptonica page clean-up before recognition
  int assumed_dpi = 300;           // when the image does not say (or says < 70)
  size_t max_pixels = 60'000'000;  // larger pages are refused (kInvalid), not decoded
};

// The page clean-up alone (exposed for tests and the benchmark): returns an 8-bit grey (or 1-bit)
// image at >= 300 dpi equivalent, deskewed; `*scale` gets the factor applied to the input size,
// `*skew_degrees` the skew that was corrected, `*dpi` the resolution of the result.
PixPtr CleanPage(Pix* page, int dpi, float* scale, float* skew_degrees, int* out_dpi);

class OcrEngine {
 public:
  static Result<std::unique_ptr<OcrEngine>> Create(const OcrOptions& options);
  ~OcrEngine();
  OcrEngine(const OcrEngine&) = delete;
  OcrEngine& operator=(const OcrEngine&) = delete;

  // Recognises one page image (any depth leptonica reads). The image is borrowed.
  Result<OcrPage> Recognize(Pix* page, int page_number = 1);
  const OcrOptions& options() const { return options_; }

 private:
  struct Impl;
  explicit OcrEngine(OcrOptions options);
  OcrOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace benhan::digitize
