// Fuzz target for the clinical text extractor (digitize/): any bytes as OCR text must give facts
// with spans inside the text, or a Status — never a crash. The fact spans are checked, and the
// draft Bundle is built from the facts (the same path `benhan digitize --dry-run` takes).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "digitize/extract.h"
#include "digitize/fhir_drafts.h"
#include "digitize/icd10_coder.h"

namespace {

struct Fixture {
  std::shared_ptr<benhan::digitize::Rules> rules;
  std::unique_ptr<benhan::digitize::Icd10Coder> coder;
  std::unique_ptr<benhan::digitize::Extractor> extractor;
  Fixture() {
    rules = std::make_shared<benhan::digitize::Rules>(benhan::digitize::Rules::Load().value());
    coder = std::make_unique<benhan::digitize::Icd10Coder>(
        [] { return benhan::terminology::StarterIcd10(); });
    extractor = benhan::digitize::MakeRuleExtractor(rules, coder.get());
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture f;
  std::string text(reinterpret_cast<const char*>(data), size);
  auto r = f.extractor->Extract(text);
  if (!r.ok()) return 0;
  for (const auto& fact : r->facts) {
    if (fact.begin > fact.end || fact.end > r->text.size()) std::abort();
  }
  benhan::digitize::RecognizedDocument doc;
  doc.text = r->text;
  doc.page_offsets = {0};
  doc.content_type = "image/png";
  benhan::digitize::DraftOptions opts;
  opts.patient_id = "p";
  opts.now = "2024-01-01T00:00:00Z";
  std::string id;
  (void)benhan::digitize::BuildDraftBundle(doc, *r, opts, &id);
  return 0;
}
