#include "terminology/concept_index.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "core/text.h"

namespace benhan::terminology {

std::vector<std::string> SplitWords(std::string_view folded) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : folded) {
    unsigned char c = static_cast<unsigned char>(ch);
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80) {
      cur.push_back(ch);
    } else if (c >= 'A' && c <= 'Z') {
      cur.push_back(static_cast<char>(c - 'A' + 'a'));
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

bool WithinOneEdit(std::string_view a, std::string_view b) {
  if (a.size() > b.size()) std::swap(a, b);
  if (b.size() - a.size() > 1) return false;
  size_t i = 0;
  while (i < a.size() && a[i] == b[i]) ++i;
  if (i == a.size()) return true;  // equal, or b has one more letter at the end
  if (a.size() == b.size()) {
    if (a.substr(i + 1) == b.substr(i + 1)) return true;  // substitution
    // adjacent swap
    return i + 1 < a.size() && a[i] == b[i + 1] && a[i + 1] == b[i] &&
           a.substr(i + 2) == b.substr(i + 2);
  }
  return a.substr(i) == b.substr(i + 1);  // insertion in b
}

ConceptIndex::ConceptIndex(const std::vector<const Concept*>& concepts) : concepts_(concepts) {
  entries_.resize(concepts_.size());
  // word -> ordinals, built through a map then flattened into sorted vectors.
  std::map<std::string, std::vector<uint32_t>> words;
  std::vector<std::vector<std::string>> first_words(concepts_.size());
  for (uint32_t i = 0; i < concepts_.size(); ++i) {
    const Concept& c = *concepts_[i];
    auto vi = SplitWords(text::Fold(c.display));
    entries_[i].words = static_cast<uint16_t>(std::min<size_t>(vi.size(), 65535));
    if (!vi.empty()) first_words[i].push_back(vi[0]);
    auto add = [&](const std::vector<std::string>& ws) {
      for (const auto& w : ws) {
        auto& p = words[w];
        if (p.empty() || p.back() != i) p.push_back(i);
      }
    };
    add(vi);
    if (!c.display_en.empty()) add(SplitWords(text::Fold(c.display_en)));
    for (const auto& [k, v] : c.properties)  // other names ("TP HCM", "Sài Gòn")
      if (k == "alias") add(SplitWords(text::Fold(v)));
    codes_.emplace_back(CodeKey(c.code), i);
  }
  words_.reserve(words.size());
  postings_.reserve(words.size());
  for (auto& [w, p] : words) {
    words_.push_back(w);
    postings_.push_back(std::move(p));
  }
  for (uint32_t i = 0; i < concepts_.size(); ++i) {
    if (first_words[i].empty()) continue;
    auto it = std::lower_bound(words_.begin(), words_.end(), first_words[i][0]);
    entries_[i].first_word = static_cast<uint32_t>(it - words_.begin());
  }
  std::sort(codes_.begin(), codes_.end());
}

namespace {

// Spelling variants clinicians type for the same word.
std::vector<std::string> Variants(const std::string& w) {
  if (w == "type" || w == "typ") return {w, "tip"};
  if (w == "tip") return {w, "type"};
  return {w};
}

constexpr uint8_t kNone = 255;
// Per query word quality: 0 exact, 1 prefix, 2 fuzzy.

}  // namespace

std::vector<ConceptIndex::Hit> ConceptIndex::Search(std::string_view filter, size_t offset,
                                                    size_t count, size_t* total) const {
  std::vector<Hit> out;
  const size_t n = concepts_.size();
  std::string folded = text::Fold(filter);
  auto qwords = SplitWords(folded);
  if (qwords.empty()) {
    *total = n;
    for (size_t i = offset; i < n && out.size() < count; ++i)
      out.push_back(Hit{concepts_[i], MatchKind::kWords});
    return out;
  }
  // Codes: the whole filter as a code or code prefix.
  std::vector<uint8_t> code_kind(n, kNone);
  std::string key = CodeKey(filter);
  bool spaced = folded.find(' ') != std::string::npos;
  bool code_like = !spaced && key.size() >= 1 && key[0] >= 'a' && key[0] <= 'z' &&
                   (key.size() == 1 || (key[1] >= '0' && key[1] <= '9'));
  if (code_like) {
    auto it = std::lower_bound(codes_.begin(), codes_.end(), std::make_pair(key, uint32_t{0}));
    for (; it != codes_.end() && it->first.compare(0, key.size(), key) == 0; ++it)
      code_kind[it->second] = it->first.size() == key.size() ? 0 : 1;
  }
  // Words: best quality of each query word for each concept.
  const size_t k = qwords.size();
  std::vector<uint8_t> quality(n * k, kNone);
  for (size_t qi = 0; qi < k; ++qi) {
    auto mark = [&](size_t word_id, uint8_t q) {
      for (uint32_t ord : postings_[word_id]) {
        uint8_t& cell = quality[ord * k + qi];
        if (q < cell) cell = q;
      }
    };
    bool found = false;
    for (const std::string& v : Variants(qwords[qi])) {
      auto it = std::lower_bound(words_.begin(), words_.end(), v);
      for (; it != words_.end() && it->compare(0, v.size(), v) == 0; ++it) {
        mark(static_cast<size_t>(it - words_.begin()), it->size() == v.size() ? 0 : 1);
        found = true;
      }
    }
    // One typo: only for a word that is no word (or word start) of any name as typed.
    const std::string& w = qwords[qi];
    if (w.size() >= 3 && !found) {
      for (size_t id = 0; id < words_.size(); ++id) {
        const std::string& cand = words_[id];
        if (cand.size() + 1 < w.size()) continue;
        bool near = WithinOneEdit(w, cand);
        // A typo in a word still being typed: compare with the candidate's prefixes.
        for (size_t len = w.size() - 1; !near && len <= w.size() + 1 && len < cand.size(); ++len)
          near = WithinOneEdit(w, std::string_view(cand).substr(0, len));
        if (near) mark(id, 2);
      }
    }
  }
  struct Ranked {
    std::tuple<int, int, int, int, int, int> key;
    uint32_t ord;
    MatchKind kind;
  };
  std::vector<Ranked> ranked;
  for (uint32_t i = 0; i < n; ++i) {
    const Concept& c = *concepts_[i];
    if (code_kind[i] != kNone) {
      ranked.push_back(Ranked{{code_kind[i], c.common ? 0 : 1, 0, 0, 0, 0},
                              i,
                              code_kind[i] == 0 ? MatchKind::kCode : MatchKind::kCodePrefix});
      continue;
    }
    int worst = 0, exact = 0;
    const uint8_t* q = &quality[i * k];
    for (size_t qi = 0; qi < k; ++qi) {
      if (q[qi] == kNone) {
        worst = -1;
        break;
      }
      worst = std::max<int>(worst, q[qi]);
      exact += q[qi] == 0;
    }
    if (worst < 0) continue;
    bool starts = false;
    if (entries_[i].first_word != UINT32_MAX) {
      const std::string& fw = words_[entries_[i].first_word];
      starts = fw.compare(0, qwords[0].size(), qwords[0]) == 0;
    }
    MatchKind kind = worst == 2 ? MatchKind::kFuzzy : MatchKind::kWords;
    // Codes that can be used as they are (no more specific code) before their categories.
    int category = (c.flags & kMoreSpecificExists) ? 1 : 0;
    ranked.push_back(Ranked{{static_cast<int>(kind), -exact, c.common ? 0 : 1, category,
                             starts ? 0 : 1, entries_[i].words},
                            i,
                            kind});
  }
  *total = ranked.size();
  auto less = [](const Ranked& a, const Ranked& b) {
    return a.key != b.key ? a.key < b.key : a.ord < b.ord;
  };
  size_t want = std::min(ranked.size(), offset + count);
  std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(want),
                    ranked.end(), less);
  for (size_t i = offset; i < want; ++i)
    out.push_back(Hit{concepts_[ranked[i].ord], ranked[i].kind});
  return out;
}

}  // namespace benhan::terminology
