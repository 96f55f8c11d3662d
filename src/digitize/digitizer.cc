#include "digitize/digitizer.h"

#include <algorithm>

#include "core/text.h"

namespace benhan::digitize {

int RecognizedDocument::PageAt(size_t offset) const {
  int page = 1;
  for (size_t i = 0; i < page_offsets.size(); ++i)
    if (offset >= page_offsets[i]) page = static_cast<int>(i) + 1;
  return page;
}

Digitizer::~Digitizer() = default;

Result<std::unique_ptr<Digitizer>> Digitizer::Create(DigitizeOptions options,
                                                     const DiagnosisCoder* coder) {
  std::unique_ptr<Digitizer> d(new Digitizer);
  d->options_ = std::move(options);
  ASSIGN_OR_RETURN(Rules rules, Rules::Load(d->options_.rules_dir));
  d->rules_ = std::make_shared<Rules>(std::move(rules));
  d->extractor_ = MakeRuleExtractor(d->rules_, coder);
  // Fail early when the OCR model is missing.
  ASSIGN_OR_RETURN(auto engine, OcrEngine::Create(d->options_.ocr));
  d->idle_.push_back(std::move(engine));
  return d;
}

Result<std::unique_ptr<OcrEngine>> Digitizer::TakeEngine() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      auto e = std::move(idle_.back());
      idle_.pop_back();
      return e;
    }
  }
  return OcrEngine::Create(options_.ocr);
}

void Digitizer::ReturnEngine(std::unique_ptr<OcrEngine> e) {
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() < 4) idle_.push_back(std::move(e));
}

namespace {
// Share of letters that only Vietnamese uses (ă â đ ê ô ơ ư and the tone marks) among letters.
double VietnameseShare(const std::string& s) {
  size_t letters = 0, vn = 0;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (std::isalpha(c)) ++letters;
      ++i;
      continue;
    }
    size_t len = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
    ++letters;
    ++vn;  // non-ASCII letters in a Latin text: Vietnamese marks
    i += len;
  }
  return letters ? static_cast<double>(vn) / static_cast<double>(letters) : 0;
}
}  // namespace

Result<RecognizedDocument> Digitizer::Recognize(std::string bytes, const Progress& progress) {
  RecognizedDocument doc;
  ASSIGN_OR_RETURN(auto source, PageSource::Open(std::move(bytes), options_.limits));
  doc.content_type = source->content_type();
  const int total = source->page_count();
  std::unique_ptr<OcrEngine> engine;
  double conf_sum = 0;
  int conf_pages = 0;
  for (int i = 0; i < total; ++i) {
    ASSIGN_OR_RETURN(SourcePage page, source->Load(i));
    OcrPage out;
    if (page.has_text_layer) {
      out = std::move(page.text_layer);
    } else {
      if (!engine) {
        ASSIGN_OR_RETURN(engine, TakeEngine());
      }
      auto r = engine->Recognize(page.image.get(), page.number);
      if (!r.ok()) {
        ReturnEngine(std::move(engine));
        return r.status();
      }
      out = std::move(*r);
    }
    page.image.reset();  // one page image in memory at a time
    if (out.text.empty()) {
      doc.warnings.push_back("Trang " + std::to_string(page.number) +
                             ": trang trống, không có chữ (empty page)");
    } else {
      conf_sum += out.mean_confidence;
      ++conf_pages;
      if (out.mean_confidence < 60) {
        doc.warnings.push_back("Trang " + std::to_string(page.number) +
                               ": độ tin cậy nhận dạng thấp (" +
                               std::to_string(static_cast<int>(out.mean_confidence)) +
                               "%), cần kiểm tra bản quét (low OCR confidence)");
      }
    }
    if (!doc.text.empty()) doc.text += "\n\f\n";
    doc.page_offsets.push_back(doc.text.size());
    // Word spans are page-relative: make them document-relative.
    for (auto& w : out.words) {
      w.begin += doc.page_offsets.back();
      w.end += doc.page_offsets.back();
    }
    doc.text += out.text;
    out.text.clear();  // kept once, in doc.text
    out.text.shrink_to_fit();
    doc.pages.push_back(std::move(out));
    if (progress && !progress(i + 1, total)) {
      if (engine) ReturnEngine(std::move(engine));
      return Status(Code::kUnavailable, "Đã huỷ (cancelled)");
    }
  }
  if (engine) ReturnEngine(std::move(engine));
  doc.bytes = source->bytes();
  doc.mean_confidence = conf_pages ? conf_sum / conf_pages : 0;
  if (conf_pages == 0) {
    return Status(Code::kInvalid, "Không nhận dạng được chữ nào trong tài liệu (" +
                                      std::to_string(total) +
                                      " trang trống hoặc không đọc được; no text found)");
  }
  if (doc.text.size() > 200 && VietnameseShare(doc.text) < 0.02) {
    doc.warnings.push_back(
        "Văn bản có vẻ không phải tiếng Việt: trích xuất dữ liệu lâm sàng có thể không đầy đủ "
        "(text does not look Vietnamese)");
  }
  return doc;
}

Result<ExtractionDoc> Digitizer::Extract(const RecognizedDocument& doc) const {
  return extractor_->Extract(doc.text);
}

}  // namespace benhan::digitize
