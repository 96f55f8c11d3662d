// ConceptIndex: the autocomplete index behind $expand?filter=. Built once per code system version
// (or expanded value set) when it is loaded; queries never allocate per concept beyond a few
// arrays of the concept count.
//
// Matching: the filter is folded like search strings (core/text.h: lower case, marks removed,
// đ->d), split into words; a concept matches when every query word is a word of its Vietnamese or
// English name or of an "alias" property — exactly, as a prefix, or, when the word is no word or word start of any name,
// with one typo (substitution, insertion, deletion or two swapped letters; 3 letters or more) — or
// when the whole filter is its code or a prefix of it (with or without the dot). Ranking: exact
// code, code prefix, then names matched by exact/prefix words, then names needing a typo; among
// equals: more query words matched whole, common codes, codes usable as they are before categories
// that have more specific codes, the name starting with the first query word, shorter names, then
// code order.
//
// Thread-safety: immutable after construction; Search is safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "terminology/code_system.h"

namespace benhan::terminology {

class ConceptIndex {
 public:
  // Indexes `concepts` (borrowed: they must outlive the index and not move).
  explicit ConceptIndex(const std::vector<const Concept*>& concepts);

  enum class MatchKind : uint8_t { kCode = 0, kCodePrefix = 1, kWords = 2, kFuzzy = 3 };
  struct Hit {
    const Concept* item;
    MatchKind kind;
  };
  // The matches of `filter` in rank order, from `offset`, at most `count`; `*total` gets the
  // number of all matches. An empty filter lists every concept in code-system order.
  std::vector<Hit> Search(std::string_view filter, size_t offset, size_t count,
                          size_t* total) const;
  size_t size() const { return concepts_.size(); }

 private:
  struct Entry {
    uint32_t first_word = UINT32_MAX;  // word id of the first word of the name
    uint16_t words = 0;                // number of words in the name
  };
  std::vector<const Concept*> concepts_;
  std::vector<Entry> entries_;
  std::vector<std::string> words_;                       // sorted unique folded words
  std::vector<std::vector<uint32_t>> postings_;          // word id -> concept ordinals (ascending)
  std::vector<std::pair<std::string, uint32_t>> codes_;  // (CodeKey, ordinal), sorted
};

// Splits folded text into words (runs of letters/digits; bytes >= 0x80 count as letters).
std::vector<std::string> SplitWords(std::string_view folded);
// True if a and b differ by at most one edit (substitution, insertion, deletion, adjacent swap).
bool WithinOneEdit(std::string_view a, std::string_view b);

}  // namespace benhan::terminology
