// Digitizer: one scanned record (image or PDF bytes) -> recognised text (OCR or the PDF text
// layer, page by page) -> extracted facts -> draft FHIR resources (fhir_drafts.h).
//
// Ownership: owns its Rules, Extractor and a small pool of OcrEngines (one per concurrent
// Recognize call, created on demand); borrows the DiagnosisCoder, which must outlive it.
// Thread-safety: all methods are thread-safe.
// Errors: kUnavailable (no Tesseract language data), kInvalid for bad input (PageSource errors,
// a document without any text), kUnavailable (cancelled) when the progress callback asks to stop.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"
#include "digitize/extract.h"
#include "digitize/ocr.h"
#include "digitize/page_source.h"

namespace benhan::digitize {

struct DigitizeOptions {
  OcrOptions ocr;
  InputLimits limits;
  std::string rules_dir;  // empty: the embedded rules
};

struct RecognizedDocument {
  std::string content_type;  // of the scan
  std::string bytes;         // the scan as received
  std::string filename;      // for the attachment title; may be empty
  std::vector<OcrPage> pages;
  std::string text;                   // NFC; pages joined by "\n\f\n"
  std::vector<size_t> page_offsets;   // byte offset of each page's text in `text`
  std::vector<std::string> warnings;  // empty pages, low confidence, not Vietnamese...
  double mean_confidence = 0;
  int PageAt(size_t offset) const;  // 1-based page of a text offset
};

class Digitizer {
 public:
  static Result<std::unique_ptr<Digitizer>> Create(DigitizeOptions options,
                                                   const DiagnosisCoder* coder);
  ~Digitizer();

  // `progress(pages_done, pages_total)` after each page; returning false cancels (kCancelled).
  using Progress = std::function<bool(int done, int total)>;
  Result<RecognizedDocument> Recognize(std::string bytes, const Progress& progress = {});
  Result<ExtractionDoc> Extract(const RecognizedDocument& doc) const;
  const DigitizeOptions& options() const { return options_; }

 private:
  Digitizer() = default;
  Result<std::unique_ptr<OcrEngine>> TakeEngine();
  void ReturnEngine(std::unique_ptr<OcrEngine> e);

  DigitizeOptions options_;
  std::shared_ptr<const Rules> rules_;
  std::unique_ptr<Extractor> extractor_;
  std::mutex mu_;
  std::vector<std::unique_ptr<OcrEngine>> idle_;
};

}  // namespace benhan::digitize
