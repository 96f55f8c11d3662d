// PageSource: the pages of one input file — PNG, JPEG, TIFF (multi-page too) or PDF (its text
// layer when it has one, else each page rendered for OCR) — decoded one page at a time, so a long
// document never holds more than one page image in memory.
//
// Limits (InputLimits) are checked before decoding: file size, page count, pixels per page
// (decompression bombs are refused from the image header).
// Ownership: a PageSource owns a copy of the file bytes. Thread-safety: not thread-safe (one
// reader at a time); separate PageSources are independent.
// Errors (kTooLarge for a file or page count over the limits, else kInvalid; Vietnamese first, with
// the page number where it applies): unknown format, corrupt or truncated file, encrypted PDF,
// empty document, too many pages, page too large.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "digitize/ocr.h"

namespace benhan::digitize {

struct InputLimits {
  size_t max_file_bytes = 256u << 20;
  int max_pages = 1000;
  size_t max_pixels = 60'000'000;  // per page (A4 at 600 dpi is 35 Mpx)
  int pdf_render_dpi = 300;        // scanned PDF pages are rendered at this resolution
};

// One page: an image to recognise, or the text of a PDF text layer (with word boxes in points).
struct SourcePage {
  int number = 1;  // 1-based
  PixPtr image;    // null when text_layer is set
  bool has_text_layer = false;
  OcrPage text_layer;  // source "text-layer", words with boxes in PDF points
};

class PageSource {
 public:
  // Detects the format from the bytes' signature.
  static Result<std::unique_ptr<PageSource>> Open(std::string bytes, const InputLimits& limits);
  ~PageSource();

  // "image/png", "image/jpeg", "image/tiff", "application/pdf".
  const std::string& content_type() const { return content_type_; }
  int page_count() const { return page_count_; }
  const std::string& bytes() const { return bytes_; }
  // Page `index` (0-based). Errors name the page.
  Result<SourcePage> Load(int index);

 private:
  struct Pdf;
  PageSource() = default;
  std::string bytes_;
  std::string content_type_;
  int page_count_ = 0;
  InputLimits limits_;
  std::unique_ptr<Pdf> pdf_;
};

// The content type of `bytes` from its signature, or "" if not a supported format.
std::string SniffContentType(std::string_view bytes);

}  // namespace benhan::digitize
