#include "page_render.h"

#include <cairo-pdf.h>
#include <cairo.h>
#include <leptonica/allheaders.h>
#include <pango/pangocairo.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include "core/text.h"

namespace benhan::digitize::testing {

RenderedPage RenderPage(const std::string& text, const RenderOptions& o) {
  const double px_per_mm = o.dpi / 25.4;
  const int w = static_cast<int>(o.width_mm * px_per_mm);
  const int h = static_cast<int>(o.height_mm * px_per_mm);
  const int margin = static_cast<int>(o.margin_mm * px_per_mm);
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
  cairo_t* cr = cairo_create(surface);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  PangoLayout* layout = pango_cairo_create_layout(cr);
  pango_cairo_context_set_resolution(pango_layout_get_context(layout), o.dpi);
  pango_layout_context_changed(layout);
  PangoFontDescription* fd = pango_font_description_from_string(o.font.c_str());
  pango_layout_set_font_description(layout, fd);
  pango_layout_set_width(layout, (w - 2 * margin) * PANGO_SCALE);
  pango_layout_set_wrap(layout, PANGO_WRAP_WORD);
  pango_layout_set_text(layout, text.data(), static_cast<int>(text.size()));
  // Keep the lines that fit.
  size_t cut = text.size();
  PangoLayoutIter* iter = pango_layout_get_iter(layout);
  do {
    PangoRectangle logical;
    pango_layout_iter_get_line_extents(iter, nullptr, &logical);
    if ((logical.y + logical.height) / PANGO_SCALE > h - 2 * margin) {
      cut = static_cast<size_t>(pango_layout_iter_get_index(iter));
      break;
    }
  } while (pango_layout_iter_next_line(iter));
  pango_layout_iter_free(iter);
  RenderedPage page;
  page.consumed = cut;
  std::string truth = text.substr(0, cut);
  pango_layout_set_text(layout, truth.data(), static_cast<int>(truth.size()));
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_move_to(cr, margin, margin);
  pango_cairo_show_layout(cr, layout);
  cairo_surface_flush(surface);
  Pix* pix = pixCreate(w, h, 8);
  const unsigned char* data = cairo_image_surface_get_data(surface);
  const int stride = cairo_image_surface_get_stride(surface);
  l_uint32* pd = pixGetData(pix);
  const int wpl = pixGetWpl(pix);
  for (int y = 0; y < h; ++y) {
    const uint32_t* row = reinterpret_cast<const uint32_t*>(data + static_cast<size_t>(y) * stride);
    l_uint32* line = pd + static_cast<size_t>(y) * wpl;
    for (int x = 0; x < w; ++x) {
      uint32_t p = row[x];
      int g = (((p >> 16) & 0xff) * 30 + ((p >> 8) & 0xff) * 59 + (p & 0xff) * 11) / 100;
      SET_DATA_BYTE(line, x, g);
    }
  }
  pixSetResolution(pix, o.dpi, o.dpi);
  pango_font_description_free(fd);
  g_object_unref(layout);
  cairo_destroy(cr);
  cairo_surface_destroy(surface);
  page.pix.reset(pix);
  page.truth = std::move(truth);
  return page;
}

PixPtr Degrade(Pix* page, int dpi, const Degradation& d) {
  PixPtr p(pixCopy(nullptr, page));
  if (d.skew_degrees != 0) {
    p.reset(pixRotate(p.get(), static_cast<float>(d.skew_degrees * M_PI / 180.0), L_ROTATE_AREA_MAP,
                      L_BRING_IN_WHITE, 0, 0));
  }
  if (d.blur_sigma > 0) {
    double sigma = d.blur_sigma * dpi / 300.0;
    int half = std::max(1, static_cast<int>(std::ceil(sigma * 2.5)));
    L_KERNEL* k = makeGaussianKernel(half, half, static_cast<float>(sigma), 1.0f);
    p.reset(pixConvolve(p.get(), k, 8, 1));
    kernelDestroy(&k);
  }
  if (d.noise_sigma > 0 || d.salt_pepper > 0) {
    std::mt19937 rng(d.seed);
    std::normal_distribution<double> gauss(0, d.noise_sigma > 0 ? d.noise_sigma : 1);
    std::uniform_real_distribution<double> uni(0, 1);
    const int w = pixGetWidth(p.get()), h = pixGetHeight(p.get()), wpl = pixGetWpl(p.get());
    l_uint32* data = pixGetData(p.get());
    for (int y = 0; y < h; ++y) {
      l_uint32* line = data + static_cast<size_t>(y) * wpl;
      for (int x = 0; x < w; ++x) {
        double v = GET_DATA_BYTE(line, x);
        if (d.noise_sigma > 0) v += gauss(rng);
        if (d.salt_pepper > 0) {
          double r = uni(rng);
          if (r < d.salt_pepper / 2)
            v = 0;
          else if (r < d.salt_pepper)
            v = 255;
        }
        SET_DATA_BYTE(line, x, static_cast<int>(std::clamp(v, 0.0, 255.0)));
      }
    }
  }
  if (d.jpeg_quality > 0) {
    l_uint8* buf = nullptr;
    size_t size = 0;
    pixWriteMemJpeg(&buf, &size, p.get(), d.jpeg_quality, 0);
    p.reset(pixReadMemJpeg(buf, size, 0, 1, nullptr, 0));
    lept_free(buf);
  }
  pixSetResolution(p.get(), dpi, dpi);
  return p;
}

std::string EncodePng(Pix* page) {
  l_uint8* buf = nullptr;
  size_t size = 0;
  pixWriteMemPng(&buf, &size, page, 0);
  std::string out(reinterpret_cast<char*>(buf), size);
  lept_free(buf);
  return out;
}

std::string EncodeJpeg(Pix* page, int quality) {
  l_uint8* buf = nullptr;
  size_t size = 0;
  pixWriteMemJpeg(&buf, &size, page, quality, 0);
  std::string out(reinterpret_cast<char*>(buf), size);
  lept_free(buf);
  return out;
}

namespace {
cairo_status_t AppendToString(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}
}  // namespace

std::string RenderTextPdf(const std::vector<std::string>& pages) {
  std::string out;
  const double w = 595, h = 842;  // A4 in points
  cairo_surface_t* surface = cairo_pdf_surface_create_for_stream(AppendToString, &out, w, h);
  cairo_t* cr = cairo_create(surface);
  PangoLayout* layout = pango_cairo_create_layout(cr);
  PangoFontDescription* fd = pango_font_description_from_string("Noto Serif 11");
  pango_layout_set_font_description(layout, fd);
  pango_layout_set_width(layout, static_cast<int>((w - 100) * PANGO_SCALE));
  pango_layout_set_wrap(layout, PANGO_WRAP_WORD);
  for (const auto& text : pages) {
    pango_layout_set_text(layout, text.data(), static_cast<int>(text.size()));
    cairo_move_to(cr, 50, 50);
    pango_cairo_show_layout(cr, layout);
    cairo_show_page(cr);
  }
  pango_font_description_free(fd);
  g_object_unref(layout);
  cairo_destroy(cr);
  cairo_surface_finish(surface);
  cairo_surface_destroy(surface);
  return out;
}

std::string ImagesToPdf(const std::vector<Pix*>& images, int dpi) {
  Pixa* pixa = pixaCreate(static_cast<l_int32>(images.size()));
  for (Pix* p : images) pixaAddPix(pixa, p, L_COPY);
  l_uint8* data = nullptr;
  size_t size = 0;
  pixaConvertToPdfData(pixa, dpi, 1.0, L_FLATE_ENCODE, 0, nullptr, &data, &size);
  pixaDestroy(&pixa);
  std::string out(reinterpret_cast<char*>(data), size);
  lept_free(data);
  return out;
}

namespace {
std::u32string Codepoints(const std::string& s) {
  std::string n = text::Nfc(s);
  std::u32string out;
  bool space = true;  // trims leading whitespace
  for (size_t i = 0; i < n.size();) {
    unsigned char c = static_cast<unsigned char>(n[i]);
    char32_t cp;
    int len;
    if (c < 0x80) {
      cp = c;
      len = 1;
    } else if ((c >> 5) == 6) {
      cp = c & 0x1f;
      len = 2;
    } else if ((c >> 4) == 14) {
      cp = c & 0x0f;
      len = 3;
    } else {
      cp = c & 0x07;
      len = 4;
    }
    for (int k = 1; k < len && i + k < n.size(); ++k) cp = (cp << 6) | (n[i + k] & 0x3f);
    i += len;
    if (cp == ' ' || cp == '\n' || cp == '\t' || cp == '\r') {
      if (!space) out.push_back(' ');
      space = true;
      continue;
    }
    space = false;
    out.push_back(cp);
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}
}  // namespace

double CharacterErrorRate(const std::string& reference, const std::string& hypothesis) {
  std::u32string a = Codepoints(reference), b = Codepoints(hypothesis);
  if (a.empty()) return b.empty() ? 0 : 1;
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    }
    std::swap(prev, cur);
  }
  return static_cast<double>(prev[b.size()]) / static_cast<double>(a.size());
}

std::string LoadVietBioNer(const std::vector<std::string>& files) {
  std::string out;
  for (const auto& f : files) {
    std::ifstream in(std::string(BENHAN_SHARED_DATA) +
                     "/vietnamese/VietBioNER/data_brat/Annotator_A/" + f);
    if (!in) return {};
    std::stringstream ss;
    ss << in.rdbuf();
    // Paragraphs: blank-line separated; lines inside a paragraph joined with spaces.
    std::string para, line;
    std::istringstream lines(ss.str());
    auto flush = [&] {
      if (!para.empty()) out += para + "\n";
      para.clear();
    };
    while (std::getline(lines, line)) {
      std::string t;
      for (char c : line) t += (c == '\t' || c == '\r') ? ' ' : c;
      while (!t.empty() && t.back() == ' ') t.pop_back();
      if (t.empty()) {
        flush();
        continue;
      }
      if (!para.empty()) para += ' ';
      para += t;
    }
    flush();
  }
  return out;
}

}  // namespace benhan::digitize::testing
