#include "digitize/icd10_coder.h"

#include "core/text.h"
#include "terminology/concept_index.h"

namespace benhan::digitize {

std::optional<Coding> Icd10Coder::CodePhrase(std::string_view phrase) const {
  auto cs = source_();
  if (!cs) return std::nullopt;
  std::string folded = text::Fold(phrase);
  if (folded.empty()) return std::nullopt;
  size_t total = 0;
  auto hits = cs->index().Search(folded, 0, 24, &total);
  // Among the names that contain every word, prefer (as coders do for an unqualified
  // diagnosis) the one that starts with the phrase, then the unspecified / essential form,
  // then the name with the fewest extra words; names that add a cause ("do ..."), "secondary",
  // "in pregnancy" or a complication ("có ...") rank lower.
  const auto words = terminology::SplitWords(folded);
  const terminology::Concept* best = nullptr;
  int best_score = -1000000;
  for (const auto& h : hits) {
    if (h.kind != terminology::ConceptIndex::MatchKind::kWords) continue;
    std::string name = text::Fold(h.item->display);
    auto name_words = terminology::SplitWords(name);
    int score = 0;
    if (name.rfind(folded, 0) == 0) score += 100;
    if (name.find("khong xac dinh") != std::string::npos ||
        name.find("vo can") != std::string::npos)
      score += 10;
    for (const char* q : {" do ", " thu phat", " trong thai ky", " phat sinh", " co bien chung",
                          " co suy", " khac"}) {
      if ((" " + name + " ").find(q) != std::string::npos &&
          (" " + folded + " ").find(q) == std::string::npos)
        score -= 5;
    }
    score -= static_cast<int>(name_words.size()) - static_cast<int>(words.size());
    if (score > best_score) {
      best_score = score;
      best = h.item;
    }
  }
  if (!best) return std::nullopt;
  return Coding{terminology::kIcd10VnUrl, best->code, best->display};
}

std::optional<Coding> Icd10Coder::Lookup(std::string_view code) const {
  auto cs = source_();
  if (!cs) return std::nullopt;
  const terminology::Concept* c = cs->Find(code);
  if (!c) return std::nullopt;
  return Coding{terminology::kIcd10VnUrl, c->code, c->display};
}

}  // namespace benhan::digitize
