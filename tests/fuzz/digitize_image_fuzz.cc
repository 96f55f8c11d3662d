// Fuzz target for the digitizer's file input (digitize/page_source.h): any bytes as an uploaded
// scan (PNG, JPEG, TIFF, PDF or anything else) must give pages or a Status, never a crash, with
// small limits so a header claiming a huge page is refused before decoding. OCR itself is not run
// (Tesseract is a separate project with its own fuzzing); every page is decoded.
#include <cstddef>
#include <cstdint>
#include <string>

#include "digitize/page_source.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  benhan::digitize::InputLimits limits;
  limits.max_pages = 8;
  limits.max_pixels = 4'000'000;
  limits.pdf_render_dpi = 72;
  auto src = benhan::digitize::PageSource::Open(
      std::string(reinterpret_cast<const char*>(data), size), limits);
  if (!src.ok()) return 0;
  for (int i = 0; i < (*src)->page_count(); ++i) (void)(*src)->Load(i);
  return 0;
}
