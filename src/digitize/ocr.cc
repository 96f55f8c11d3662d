#include "digitize/ocr.h"

#include <leptonica/allheaders.h>
#include <tesseract/baseapi.h>
#include <tesseract/resultiterator.h>

#include <cmath>
#include <mutex>

#include "core/text.h"

namespace benhan::digitize {

void PixDeleter::operator()(Pix* p) const {
  if (p) pixDestroy(&p);
}

namespace {

// Leptonica prints warnings for every odd image; benhan reports errors itself.
void QuietLeptonica() {
  static std::once_flag once;
  std::call_once(once, [] { setMsgSeverity(L_SEVERITY_NONE); });
}

constexpr float kPi = 3.14159265358979f;

}  // namespace

PixPtr CleanPage(Pix* page, int dpi, float* scale, float* skew_degrees, int* out_dpi) {
  QuietLeptonica();
  *scale = 1;
  *skew_degrees = 0;
  *out_dpi = dpi;
  // 1. Grey.
  PixPtr grey(pixConvertTo8(page, 0));
  if (!grey) return nullptr;
  // 2. Low-resolution scans: upscale to ~300 dpi (Tesseract's LSTM wants x-heights of 20-30 px).
  if (dpi > 0 && dpi < 250) {
    float f = 300.0f / static_cast<float>(dpi);
    PixPtr up(pixScaleGrayLI(grey.get(), f, f));
    if (up) {
      grey = std::move(up);
      *scale = f;
      *out_dpi = 300;
    }
  }
  // 3. Denoise: a 3x3 median removes salt-and-pepper noise and JPEG ringing but keeps strokes
  // and the small Vietnamese marks (they are larger than 3 px at 300 dpi).
  if (PixPtr med(pixMedianFilter(grey.get(), 3, 3)); med) grey = std::move(med);
  // 4. Background normalisation: uneven lighting, grey paper, shadows at the fold -> white.
  if (PixPtr norm(pixBackgroundNormSimple(grey.get(), nullptr, nullptr)); norm) {
    grey = std::move(norm);
  }
  // 5. Deskew: find the angle on a binarised copy, rotate the grey image (area mapping keeps the
  // strokes smooth).
  PixPtr bin(pixConvertTo1(grey.get(), 160));
  if (bin) {
    float angle = 0, conf = 0;
    if (pixFindSkew(bin.get(), &angle, &conf) == 0 && conf > 2.5f && std::fabs(angle) > 0.1f) {
      PixPtr rot(
          pixRotate(grey.get(), angle * kPi / 180.0f, L_ROTATE_AREA_MAP, L_BRING_IN_WHITE, 0, 0));
      if (rot) {
        grey = std::move(rot);
        *skew_degrees = angle;
      }
    }
  }
  // 6. Binarise: after the background normalisation the paper is at 200, so one global
  // threshold separates ink (a local Otsu per tile turns blank tiles into noise).
  PixPtr pixb(pixConvertTo1(grey.get(), 150));
  if (!pixb) return grey;
  return pixb;
}

struct OcrEngine::Impl {
  tesseract::TessBaseAPI api;
};

OcrEngine::OcrEngine(OcrOptions options) : options_(std::move(options)), impl_(new Impl) {}
OcrEngine::~OcrEngine() {
  if (impl_) impl_->api.End();
}

Result<std::unique_ptr<OcrEngine>> OcrEngine::Create(const OcrOptions& options) {
  QuietLeptonica();
  std::unique_ptr<OcrEngine> e(new OcrEngine(options));
  const char* datapath = options.tessdata.empty() ? nullptr : options.tessdata.c_str();
  if (e->impl_->api.Init(datapath, options.language.c_str(), tesseract::OEM_LSTM_ONLY) != 0) {
    return Status(Code::kUnavailable,
                  "Không tải được mô hình OCR '" + options.language +
                      "' (Tesseract language data not found" +
                      (datapath ? std::string(" in ") + datapath : std::string()) +
                      "; install tesseract-ocr-vie)");
  }
  e->impl_->api.SetVariable("debug_file", "/dev/null");
  e->impl_->api.SetPageSegMode(tesseract::PSM_AUTO);
  return e;
}

Result<OcrPage> OcrEngine::Recognize(Pix* page, int page_number) {
  if (!page || pixGetWidth(page) < 8 || pixGetHeight(page) < 8) {
    return Status(Code::kInvalid,
                  "Trang " + std::to_string(page_number) + ": ảnh rỗng (empty image)");
  }
  const size_t pixels = static_cast<size_t>(pixGetWidth(page)) * pixGetHeight(page);
  if (pixels > options_.max_pixels) {
    return Status(Code::kInvalid, "Trang " + std::to_string(page_number) + ": ảnh quá lớn (" +
                                      std::to_string(pixels) + " pixels; limit " +
                                      std::to_string(options_.max_pixels) + ")");
  }
  OcrPage out;
  out.number = page_number;
  out.width = pixGetWidth(page);
  out.height = pixGetHeight(page);
  int dpi = pixGetXRes(page);
  if (dpi < 70 || dpi > 1200) dpi = options_.assumed_dpi;
  float scale = 1;
  PixPtr cleaned;
  Pix* input = page;
  if (options_.clean_up) {
    int out_dpi = dpi;
    cleaned = CleanPage(page, dpi, &scale, &out.skew_degrees, &out_dpi);
    if (cleaned) {
      input = cleaned.get();
      dpi = out_dpi;
    } else {
      scale = 1;
    }
  }
  out.dpi = dpi;
  auto& api = impl_->api;
  api.SetImage(input);
  api.SetSourceResolution(dpi);
  if (api.Recognize(nullptr) != 0) {
    api.Clear();
    return Status(Code::kInternal, "Trang " + std::to_string(page_number) +
                                       ": nhận dạng thất bại (recognition failed)");
  }
  std::unique_ptr<tesseract::ResultIterator> it(api.GetIterator());
  double conf_sum = 0;
  if (it) {
    do {
      std::unique_ptr<char[]> word(it->GetUTF8Text(tesseract::RIL_WORD));
      if (!word || word[0] == 0) continue;
      std::string w = text::Nfc(word.get());
      if (!out.text.empty()) {
        if (it->IsAtBeginningOf(tesseract::RIL_BLOCK) || it->IsAtBeginningOf(tesseract::RIL_PARA))
          out.text += "\n\n";
        else if (it->IsAtBeginningOf(tesseract::RIL_TEXTLINE))
          out.text += "\n";
        else
          out.text += " ";
      }
      OcrWord ow;
      ow.begin = out.text.size();
      out.text += w;
      ow.end = out.text.size();
      ow.text = std::move(w);
      ow.confidence = it->Confidence(tesseract::RIL_WORD);
      int l = 0, t = 0, r = 0, b = 0;
      if (it->BoundingBox(tesseract::RIL_WORD, &l, &t, &r, &b)) {
        ow.x = static_cast<int>(l / scale);
        ow.y = static_cast<int>(t / scale);
        ow.w = static_cast<int>((r - l) / scale);
        ow.h = static_cast<int>((b - t) / scale);
      }
      conf_sum += ow.confidence;
      out.words.push_back(std::move(ow));
    } while (it->Next(tesseract::RIL_WORD));
  }
  api.Clear();
  out.mean_confidence = out.words.empty()
                            ? 0.0f
                            : static_cast<float>(conf_sum / static_cast<double>(out.words.size()));
  return out;
}

}  // namespace benhan::digitize
