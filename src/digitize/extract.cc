#include "digitize/extract.h"

#include <utf8proc.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/text.h"

extern "C" {
#define BENHAN_RULE_FILE(name)                     \
  extern const char benhan_rules_##name##_begin[]; \
  extern const char benhan_rules_##name##_end[];
BENHAN_RULE_FILE(sections)
BENHAN_RULE_FILE(demographics)
BENHAN_RULE_FILE(vitals)
BENHAN_RULE_FILE(labs)
BENHAN_RULE_FILE(units)
BENHAN_RULE_FILE(abbreviations)
BENHAN_RULE_FILE(findings)
BENHAN_RULE_FILE(cues)
BENHAN_RULE_FILE(medication)
#undef BENHAN_RULE_FILE
}

namespace benhan::digitize {

const char* AssertionName(Assertion a) {
  switch (a) {
    case Assertion::kPresent:
      return "present";
    case Assertion::kNegated:
      return "negated";
    case Assertion::kHistory:
      return "history";
    case Assertion::kUncertain:
      return "uncertain";
    case Assertion::kFamily:
      return "family";
  }
  return "present";
}

// ---------------------------------------------------------------------------------------------
// Folding with an offset map.

void FoldWithMap(std::string_view text, std::string* folded, std::vector<size_t>* to_text) {
  folded->clear();
  to_text->clear();
  folded->reserve(text.size());
  to_text->reserve(text.size() + 1);
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  size_t i = 0;
  while (i < text.size()) {
    utf8proc_int32_t cp = -1;
    utf8proc_ssize_t n =
        utf8proc_iterate(p + i, static_cast<utf8proc_ssize_t>(text.size() - i), &cp);
    if (n <= 0 || cp < 0) {  // invalid byte: keep it as is
      folded->push_back(text[i]);
      to_text->push_back(i);
      ++i;
      continue;
    }
    auto emit = [&](utf8proc_int32_t c) {
      utf8proc_uint8_t buf[4];
      utf8proc_ssize_t len = utf8proc_encode_char(c, buf);
      for (utf8proc_ssize_t k = 0; k < len; ++k) {
        folded->push_back(static_cast<char>(buf[k]));
        to_text->push_back(i);
      }
    };
    if (cp == 0x0111 || cp == 0x0110) {
      emit('d');
    } else if (cp < 0x80) {
      emit(cp == '\t' || cp == '\r' ? ' ' : utf8proc_tolower(cp));
    } else {
      utf8proc_int32_t dec[8];
      int last = 0;
      utf8proc_ssize_t m = utf8proc_decompose_char(cp, dec, 8, UTF8PROC_DECOMPOSE, &last);
      if (m <= 0 || m > 8) {
        emit(utf8proc_tolower(cp));
      } else {
        for (utf8proc_ssize_t k = 0; k < m; ++k) {
          if (utf8proc_category(dec[k]) == UTF8PROC_CATEGORY_MN) continue;
          emit(utf8proc_tolower(dec[k]));
        }
      }
    }
    i += static_cast<size_t>(n);
  }
  to_text->push_back(text.size());
}

namespace {

std::string FoldTerm(std::string_view s) {
  std::string f;
  std::vector<size_t> m;
  FoldWithMap(s, &f, &m);
  // collapse whitespace, trim
  std::string out;
  for (char c : f) {
    if (c == ' ') {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::vector<std::string> SplitTab(const std::string& line) {
  std::vector<std::string> cols;
  std::string cur;
  for (char c : line) {
    if (c == '\t') {
      cols.push_back(cur);
      cur.clear();
    } else if (c != '\r') {
      cur += c;
    }
  }
  cols.push_back(cur);
  return cols;
}

using Table = std::vector<std::vector<std::string>>;

Result<Table> ParseTable(const std::string& name, std::string_view data, size_t min_cols) {
  Table t;
  std::istringstream in{std::string(data)};
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty() || line[0] == '#' || line == "\r") continue;
    auto cols = SplitTab(line);
    if (cols.size() < min_cols) {
      return Status(Code::kInvalid, "rules/" + name + " line " + std::to_string(n) + ": expected " +
                                        std::to_string(min_cols) + " tab-separated columns");
    }
    if (!text::IsValidUtf8(line)) {
      return Status(Code::kInvalid, "rules/" + name + " line " + std::to_string(n) + ": not UTF-8");
    }
    t.push_back(std::move(cols));
  }
  return t;
}

double ToDouble(const std::string& s) { return s.empty() ? 0 : std::strtod(s.c_str(), nullptr); }

}  // namespace

Result<Rules> Rules::Load(const std::string& dir) {
  auto read = [&](const char* name, const char* begin, const char* end) -> Result<std::string> {
    if (dir.empty()) return std::string(begin, static_cast<size_t>(end - begin));
    std::ifstream in(dir + "/" + name);
    if (!in) return Status(Code::kInvalid, "cannot read " + dir + "/" + name);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  auto load = [&](const char* name, const char* begin, const char* end,
                  size_t cols) -> Result<Table> {
    ASSIGN_OR_RETURN(std::string data, read(name, begin, end));
    return ParseTable(name, data, cols);
  };
#define BENHAN_LOAD(var, name, cols) \
  ASSIGN_OR_RETURN(                  \
      Table var, load(#name ".tsv", benhan_rules_##name##_begin, benhan_rules_##name##_end, cols))
  Rules r;
  BENHAN_LOAD(sections, sections, 3);
  BENHAN_LOAD(demo, demographics, 2);
  BENHAN_LOAD(vitals, vitals, 7);
  BENHAN_LOAD(labs, labs, 6);
  BENHAN_LOAD(units, units, 3);
  BENHAN_LOAD(abbrevs, abbreviations, 2);
  BENHAN_LOAD(findings, findings, 1);
  BENHAN_LOAD(cues, cues, 2);
  BENHAN_LOAD(meds, medication, 4);
#undef BENHAN_LOAD
  for (auto& c : sections)
    r.sections.push_back({FoldTerm(c[0]), c[1], c[2], c.size() > 3 ? c[3] : ""});
  for (auto& c : demo) r.demographics.push_back({FoldTerm(c[0]), c[1]});
  auto measures = [](const Table& t, bool vital) {
    std::vector<Measure> out;
    for (auto& c : t) {
      Measure m;
      m.label = FoldTerm(c[0]);
      m.loinc = c[1];
      m.display = c[2];
      m.ucum = c[3];
      if (vital) {
        m.unit = c[4];
        m.min = ToDouble(c[5]);
        m.max = ToDouble(c[6]);
        if (c.size() > 7 && !c[7].empty()) {
          std::string w;
          for (char ch : c[7] + "|") {
            if (ch == '|') {
              if (!w.empty()) m.not_after.push_back(FoldTerm(w));
              w.clear();
            } else {
              w += ch;
            }
          }
        }
      } else {
        m.unit = c[3];
        m.min = ToDouble(c[4]);
        m.max = ToDouble(c[5]);
      }
      out.push_back(std::move(m));
    }
    return out;
  };
  r.vitals = measures(vitals, true);
  r.labs = measures(labs, false);
  for (auto& c : units) r.units.push_back({FoldTerm(c[0]), c[1], c[2]});
  for (auto& c : abbrevs) r.abbreviations.push_back({text::Nfc(c[0]), text::Nfc(c[1])});
  for (auto& c : findings) r.findings.push_back({FoldTerm(c[0]), c.size() > 1 ? c[1] : ""});
  for (auto& c : cues) r.cues.push_back({c[0], FoldTerm(c[1])});
  for (auto& c : meds) r.medication.push_back({c[0], FoldTerm(c[1]), c[2], c[3]});
  // Longest first everywhere a longest match is wanted.
  auto by_len = [](auto& v, auto key) {
    std::stable_sort(v.begin(), v.end(),
                     [&](const auto& a, const auto& b) { return key(a).size() > key(b).size(); });
  };
  by_len(r.sections, [](const Section& s) -> const std::string& { return s.heading; });
  by_len(r.demographics, [](const Label& s) -> const std::string& { return s.label; });
  by_len(r.vitals, [](const Measure& s) -> const std::string& { return s.label; });
  by_len(r.labs, [](const Measure& s) -> const std::string& { return s.label; });
  by_len(r.units, [](const Unit& s) -> const std::string& { return s.written; });
  by_len(r.abbreviations, [](const Abbrev& s) -> const std::string& { return s.abbrev; });
  by_len(r.findings, [](const Term& s) -> const std::string& { return s.term; });
  by_len(r.cues, [](const Cue& s) -> const std::string& { return s.cue; });
  by_len(r.medication, [](const MedTerm& s) -> const std::string& { return s.term; });
  return r;
}

const ExtractionDoc::SectionSpan* ExtractionDoc::SectionAt(size_t pos) const {
  for (const auto& s : sections)
    if (pos >= s.begin && pos < s.end) return &s;
  return nullptr;
}

Extractor::Extractor(std::vector<std::unique_ptr<Stage>> stages, ExtractOptions options)
    : stages_(std::move(stages)), options_(options) {}

Result<ExtractionDoc> Extractor::Extract(std::string_view text) const {
  if (text.size() > options_.max_text_bytes) {
    return Status(Code::kInvalid, "Văn bản quá dài: " + std::to_string(text.size()) +
                                      " byte (text too long for extraction)");
  }
  if (!text::IsValidUtf8(text)) {
    return Status(Code::kInvalid, "Văn bản không phải UTF-8 (text is not valid UTF-8)");
  }
  ExtractionDoc doc;
  doc.text = text::Nfc(text);
  FoldWithMap(doc.text, &doc.folded, &doc.to_text);
  for (const auto& stage : stages_) {
    Status st = stage->Run(doc);
    if (!st.ok()) return st.WithContext(std::string(stage->name()));
  }
  return doc;
}

}  // namespace benhan::digitize
