#include "digitize/page_source.h"

#include <leptonica/allheaders.h>
#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-image.h>
#include <poppler-page-renderer.h>
#include <poppler-page.h>

#include <cmath>
#include <cstdio>
#include <mutex>

#include "core/text.h"

namespace benhan::digitize {

namespace {

Status PageError(int number, const std::string& what) {
  return Status(Code::kInvalid, "Trang " + std::to_string(number) + ": " + what);
}

void QuietPoppler() {
  static std::once_flag once;
  std::call_once(once, [] {
    poppler::set_debug_error_function([](const std::string&, void*) {}, nullptr);
    setMsgSeverity(L_SEVERITY_NONE);
  });
}

std::string Utf8(const poppler::ustring& u) {
  poppler::byte_array b = u.to_utf8();
  return std::string(b.begin(), b.end());
}

// Number of directories in a TIFF held in memory.
int TiffPageCount(const std::string& bytes) {
  FILE* f = fmemopen(const_cast<char*>(bytes.data()), bytes.size(), "rb");
  if (!f) return 0;
  l_int32 n = 0;
  if (tiffGetCount(f, &n) != 0) n = 0;
  std::fclose(f);
  return n;
}

}  // namespace

struct PageSource::Pdf {
  std::unique_ptr<poppler::document> doc;
};

PageSource::~PageSource() = default;

std::string SniffContentType(std::string_view b) {
  if (b.size() >= 8 && b.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8))
    return "image/png";
  if (b.size() >= 3 && static_cast<unsigned char>(b[0]) == 0xFF &&
      static_cast<unsigned char>(b[1]) == 0xD8 && static_cast<unsigned char>(b[2]) == 0xFF)
    return "image/jpeg";
  if (b.size() >= 4 && (b.substr(0, 4) == std::string_view("II*\0", 4) ||
                        b.substr(0, 4) == std::string_view("MM\0*", 4)))
    return "image/tiff";
  // %PDF- may follow a little garbage (the PDF specification allows 1024 bytes).
  size_t pdf = b.substr(0, 1024).find("%PDF-");
  if (pdf != std::string_view::npos) return "application/pdf";
  return "";
}

Result<std::unique_ptr<PageSource>> PageSource::Open(std::string bytes, const InputLimits& limits) {
  QuietPoppler();
  if (bytes.empty()) return Status(Code::kInvalid, "Tệp rỗng (empty file)");
  if (bytes.size() > limits.max_file_bytes) {
    return Status(Code::kTooLarge, "Tệp quá lớn: " + std::to_string(bytes.size()) +
                                       " byte (file too large; limit " +
                                       std::to_string(limits.max_file_bytes) + ")");
  }
  std::unique_ptr<PageSource> s(new PageSource);
  s->limits_ = limits;
  s->content_type_ = SniffContentType(bytes);
  if (s->content_type_.empty()) {
    return Status(Code::kInvalid,
                  "Định dạng tệp không được hỗ trợ (unsupported file format: expected PNG, JPEG, "
                  "TIFF or PDF)");
  }
  s->bytes_ = std::move(bytes);
  const std::string& b = s->bytes_;
  if (s->content_type_ == "application/pdf") {
    if (b.size() > static_cast<size_t>(INT32_MAX)) return Status(Code::kInvalid, "PDF quá lớn");
    s->pdf_ = std::make_unique<Pdf>();
    s->pdf_->doc.reset(poppler::document::load_from_raw_data(b.data(), static_cast<int>(b.size())));
    if (!s->pdf_->doc) {
      return Status(Code::kInvalid, "Tệp PDF hỏng hoặc không đọc được (corrupt PDF)");
    }
    if (s->pdf_->doc->is_locked()) {
      return Status(Code::kInvalid, "Tệp PDF được mã hoá (encrypted PDF): hãy gỡ mật khẩu trước");
    }
    s->page_count_ = s->pdf_->doc->pages();
  } else if (s->content_type_ == "image/tiff") {
    s->page_count_ = TiffPageCount(b);
  } else {
    s->page_count_ = 1;
  }
  if (s->page_count_ <= 0) {
    return Status(Code::kInvalid, "Tài liệu không có trang nào đọc được (no readable page)");
  }
  if (s->page_count_ > limits.max_pages) {
    return Status(Code::kTooLarge, "Tài liệu có " + std::to_string(s->page_count_) +
                                       " trang, vượt giới hạn " + std::to_string(limits.max_pages) +
                                       " (too many pages; digitize.max_pages)");
  }
  if (s->content_type_ == "image/png" || s->content_type_ == "image/jpeg" ||
      s->content_type_ == "image/tiff") {
    l_int32 format = 0, w = 0, h = 0, bps = 0, spp = 0, cmap = 0;
    if (pixReadHeaderMem(reinterpret_cast<const l_uint8*>(b.data()), b.size(), &format, &w, &h,
                         &bps, &spp, &cmap) != 0 ||
        w <= 0 || h <= 0) {
      return Status(Code::kInvalid, "Ảnh hỏng hoặc bị cắt cụt (corrupt or truncated image)");
    }
    if (static_cast<size_t>(w) * static_cast<size_t>(h) > limits.max_pixels) {
      return PageError(
          1, "ảnh quá lớn " + std::to_string(w) + "x" + std::to_string(h) + " (image too large)");
    }
  }
  return s;
}

Result<SourcePage> PageSource::Load(int index) {
  SourcePage page;
  page.number = index + 1;
  if (index < 0 || index >= page_count_) return PageError(page.number, "không có (no such page)");
  const auto* data = reinterpret_cast<const l_uint8*>(bytes_.data());
  if (content_type_ == "application/pdf") {
    std::unique_ptr<poppler::page> p(pdf_->doc->create_page(index));
    if (!p) return PageError(page.number, "trang PDF hỏng (corrupt PDF page)");
    // Text layer: words with boxes, lines split where the baseline moves.
    std::vector<poppler::text_box> boxes = p->text_list();
    size_t letters = 0;
    OcrPage& tl = page.text_layer;
    double last_y = -1e9, last_h = 0;
    for (auto& box : boxes) {
      std::string w = text::Nfc(Utf8(box.text()));
      if (w.empty()) continue;
      poppler::rectf r = box.bbox();
      if (!tl.text.empty()) {
        tl.text += std::fabs(r.y() - last_y) > std::max(2.0, last_h * 0.5) ? "\n" : " ";
      }
      OcrWord ow;
      ow.begin = tl.text.size();
      tl.text += w;
      ow.end = tl.text.size();
      ow.text = std::move(w);
      ow.x = static_cast<int>(r.x());
      ow.y = static_cast<int>(r.y());
      ow.w = static_cast<int>(r.width());
      ow.h = static_cast<int>(r.height());
      ow.confidence = 100;
      for (char c : ow.text) letters += !std::isspace(static_cast<unsigned char>(c));
      tl.words.push_back(std::move(ow));
      last_y = r.y();
      last_h = r.height();
    }
    if (letters >= 16) {
      tl.number = page.number;
      tl.source = "text-layer";
      tl.mean_confidence = 100;
      page.has_text_layer = true;
      return page;
    }
    page.text_layer = {};
    // A scanned page: render it.
    poppler::rectf size = p->page_rect();
    const double dpi = limits_.pdf_render_dpi;
    const double pw = size.width() * dpi / 72.0, ph = size.height() * dpi / 72.0;
    if (pw < 1 || ph < 1) return PageError(page.number, "trang rỗng (empty page)");
    if (pw * ph > static_cast<double>(limits_.max_pixels)) {
      return PageError(page.number, "trang quá lớn để hiển thị (page too large to render)");
    }
    poppler::page_renderer renderer;
    renderer.set_render_hint(poppler::page_renderer::antialiasing, true);
    renderer.set_render_hint(poppler::page_renderer::text_antialiasing, true);
    renderer.set_image_format(poppler::image::format_gray8);
    poppler::image img = renderer.render_page(p.get(), dpi, dpi);
    if (!img.is_valid() || img.width() <= 0 || img.height() <= 0) {
      return PageError(page.number, "không hiển thị được trang PDF (render failed)");
    }
    Pix* pix = pixCreate(img.width(), img.height(), 8);
    if (!pix) return PageError(page.number, "không đủ bộ nhớ (out of memory)");
    const char* src = img.const_data();
    l_uint32* dst = pixGetData(pix);
    const int wpl = pixGetWpl(pix);
    for (int y = 0; y < img.height(); ++y) {
      const auto* row = reinterpret_cast<const unsigned char*>(src + static_cast<size_t>(y) *
                                                                         img.bytes_per_row());
      l_uint32* line = dst + static_cast<size_t>(y) * wpl;
      for (int x = 0; x < img.width(); ++x) SET_DATA_BYTE(line, x, row[x]);
    }
    pixSetResolution(pix, static_cast<int>(dpi), static_cast<int>(dpi));
    page.image.reset(pix);
    return page;
  }
  Pix* pix = nullptr;
  if (content_type_ == "image/tiff") {
    pix = pixReadMemTiff(data, bytes_.size(), index);
  } else {
    pix = pixReadMem(data, bytes_.size());
  }
  if (!pix) return PageError(page.number, "ảnh hỏng hoặc bị cắt cụt (corrupt or truncated image)");
  page.image.reset(pix);
  const size_t pixels = static_cast<size_t>(pixGetWidth(pix)) * pixGetHeight(pix);
  if (pixels > limits_.max_pixels) return PageError(page.number, "ảnh quá lớn (image too large)");
  return page;
}

}  // namespace benhan::digitize
