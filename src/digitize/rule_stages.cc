// The rule stages of the extraction pipeline (extract.h). Each works on the folded text
// (ExtractionDoc::folded, lower case without marks) and reports spans in the original text.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "core/text.h"
#include "digitize/extract.h"

namespace benhan::digitize {
namespace {

bool IsWordByte(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return std::isalnum(u) || u >= 0x80;
}
bool IsDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

bool BoundaryBefore(const std::string& s, size_t pos) {
  return pos == 0 || !IsWordByte(s[pos - 1]);
}
bool BoundaryAfter(const std::string& s, size_t pos, std::string_view term) {
  if (!term.empty() && !IsWordByte(term.back())) return true;
  return pos >= s.size() || !IsWordByte(s[pos]);
}

std::vector<size_t> FindWord(const std::string& s, std::string_view term, size_t b, size_t e) {
  std::vector<size_t> out;
  if (term.empty() || e > s.size()) return out;
  size_t pos = b;
  while ((pos = s.find(term, pos)) != std::string::npos && pos + term.size() <= e) {
    bool start_ok = IsWordByte(term.front()) ? BoundaryBefore(s, pos) : true;
    if (start_ok && BoundaryAfter(s, pos + term.size(), term)) out.push_back(pos);
    ++pos;
  }
  return out;
}

bool StartsWithWord(const std::string& s, size_t pos, std::string_view term) {
  return s.compare(pos, term.size(), term) == 0 && BoundaryAfter(s, pos + term.size(), term);
}

bool ParseNumber(const std::string& s, size_t pos, double* value, size_t* len) {
  size_t i = pos;
  std::string digits;
  while (i < s.size() && IsDigit(s[i])) digits += s[i++];
  if (digits.empty()) return false;
  if (i + 1 < s.size() && (s[i] == ',' || s[i] == '.') && IsDigit(s[i + 1])) {
    digits += '.';
    ++i;
    while (i < s.size() && IsDigit(s[i])) digits += s[i++];
  }
  *value = std::strtod(digits.c_str(), nullptr);
  *len = i - pos;
  return true;
}

size_t SkipSpaces(const std::string& s, size_t pos) {
  while (pos < s.size() && s[pos] == ' ') ++pos;
  return pos;
}

size_t LineStart(const std::string& s, size_t pos) {
  size_t p = s.rfind('\n', pos == 0 ? 0 : pos - 1);
  return (p == std::string::npos || pos == 0) ? 0 : p + 1;
}
size_t LineEnd(const std::string& s, size_t pos) {
  size_t p = s.find('\n', pos);
  return p == std::string::npos ? s.size() : p;
}

// A clause boundary: newline, ';', ':', a ',' or '.' not inside a number, '+' between spaces,
// " - " (a dash between spaces) and '(' ')'.
bool ClauseBreak(const std::string& s, size_t i) {
  char c = s[i];
  if (c == '\n' || c == ';' || c == ':' || c == '(' || c == ')') return true;
  if (c == ',' || c == '.') {
    bool num = i > 0 && i + 1 < s.size() && IsDigit(s[i - 1]) && IsDigit(s[i + 1]);
    return !num;
  }
  if ((c == '-' || c == '+' || c == '/') && i > 0 && i + 1 < s.size() && s[i - 1] == ' ' &&
      s[i + 1] == ' ')
    return true;
  return false;
}
std::pair<size_t, size_t> ClauseAround(const std::string& s, size_t b, size_t e) {
  size_t cb = b;
  while (cb > 0 && !ClauseBreak(s, cb - 1)) --cb;
  size_t ce = e;
  while (ce < s.size() && !ClauseBreak(s, ce)) ++ce;
  return {cb, ce};
}

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\n' || s[b] == '\r')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\n' || s[e - 1] == '\r' ||
                   s[e - 1] == '.' || s[e - 1] == ',' || s[e - 1] == ';'))
    --e;
  return std::string(s.substr(b, e - b));
}

class RuleStage : public Stage {
 public:
  explicit RuleStage(std::shared_ptr<const Rules> rules) : rules_(std::move(rules)) {}

 protected:
  static size_t T(const ExtractionDoc& d, size_t folded_pos) {
    return d.to_text[std::min(folded_pos, d.to_text.size() - 1)];
  }
  // Text-byte end of a folded range ending at `folded_end`.
  static size_t TEnd(const ExtractionDoc& d, size_t folded_end) {
    if (folded_end == 0) return 0;
    size_t last = d.to_text[folded_end - 1];
    // the end of the source code point that produced the last folded byte
    size_t e = last + 1;
    while (e < d.text.size() && (static_cast<unsigned char>(d.text[e]) & 0xC0) == 0x80) ++e;
    // combining marks in the source (NFC leaves few) belong to the code point before
    return e;
  }
  const std::string* SectionCode(const ExtractionDoc& d, size_t text_pos) const {
    auto* s = d.SectionAt(text_pos);
    return s ? &s->code : nullptr;
  }
  std::string SectionKind(const ExtractionDoc& d, size_t text_pos) const {
    auto* s = d.SectionAt(text_pos);
    return s ? s->kind : std::string();
  }
  // The longest unit at folded position `pos` (after spaces), or nullptr.
  const Rules::Unit* UnitAt(const std::string& f, size_t pos, size_t* end) const {
    pos = SkipSpaces(f, pos);
    for (const auto& u : rules_->units) {
      if (f.compare(pos, u.written.size(), u.written) == 0 &&
          BoundaryAfter(f, pos + u.written.size(), u.written)) {
        *end = pos + u.written.size();
        return &u;
      }
    }
    return nullptr;
  }
  Fact MakeFact(const ExtractionDoc& d, const char* kind, size_t fb, size_t fe) const {
    Fact f;
    f.kind = kind;
    f.begin = T(d, fb);
    f.end = TEnd(d, fe);
    if (const std::string* sc = SectionCode(d, f.begin)) f.section = *sc;
    return f;
  }

  std::shared_ptr<const Rules> rules_;
};

// ---------------------------------------------------------------------------------------------
class SectionStage : public RuleStage {
 public:
  using RuleStage::RuleStage;
  std::string_view name() const override { return "sections"; }
  Status Run(ExtractionDoc& d) const override {
    const std::string& f = d.folded;
    struct Head {
      size_t line_begin;
      size_t heading_end;
      const Rules::Section* s;
    };
    std::vector<Head> heads;
    size_t pos = 0;
    while (pos <= f.size()) {
      size_t le = LineEnd(f, pos);
      size_t p = SkipSpaces(f, pos);
      // numbering / bullets: "1.", "II.", "a)", "-", "*", "+", "•"
      size_t q = p;
      while (q < le && (IsDigit(f[q]) || f[q] == 'i' || f[q] == 'v' || f[q] == 'x')) ++q;
      if (q > p && q < le && (f[q] == '.' || f[q] == ')' || f[q] == '/')) {
        p = SkipSpaces(f, q + 1);
      } else if (p + 1 < le && std::isalpha(static_cast<unsigned char>(f[p])) && f[p + 1] == ')') {
        p = SkipSpaces(f, p + 2);
      }
      while (p < le && (f[p] == '-' || f[p] == '*' || f[p] == '+' || f[p] == '#'))
        p = SkipSpaces(f, p + 1);
      if (f.compare(p, 3, "\xe2\x80\xa2") == 0) p = SkipSpaces(f, p + 3);
      for (const auto& s : rules_->sections) {
        if (!StartsWithWord(f, p, s.heading)) continue;
        size_t he = p + s.heading.size();
        size_t colon = f.find(':', he);
        std::string rest = Trim(std::string_view(f).substr(he, le - he));
        bool ok = rest.empty() || (colon != std::string::npos && colon < le && colon - he <= 30);
        if (ok) {
          heads.push_back({pos, colon != std::string::npos && colon < le ? colon + 1 : he, &s});
          break;
        }
      }
      if (le >= f.size()) break;
      pos = le + 1;
    }
    for (size_t i = 0; i < heads.size(); ++i) {
      size_t end = i + 1 < heads.size() ? heads[i + 1].line_begin : f.size();
      ExtractionDoc::SectionSpan span{heads[i].s->code, heads[i].s->kind, T(d, heads[i].line_begin),
                                      T(d, end)};
      d.sections.push_back(span);
      Fact fact = MakeFact(d, "section", heads[i].line_begin, heads[i].heading_end);
      fact.field = heads[i].s->code;
      fact.section = heads[i].s->code;
      fact.coding = {"http://loinc.org", heads[i].s->loinc, ""};
      fact.confidence = 0.9;
      d.facts.push_back(std::move(fact));
    }
    return Status::Ok();
  }
};

// ---------------------------------------------------------------------------------------------
std::string IsoDate(const std::string& s) {
  // d/m/yyyy, d-m-yyyy, d.m.yyyy, "ngay d thang m nam yyyy" (folded)
  int d = 0, m = 0, y = 0;
  char sep1 = 0, sep2 = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!IsDigit(s[i]) || (i > 0 && IsDigit(s[i - 1]))) continue;
    if (std::sscanf(s.c_str() + i, "%d%c%d%c%d", &d, &sep1, &m, &sep2, &y) == 5 && sep1 == sep2 &&
        (sep1 == '/' || sep1 == '-' || sep1 == '.') && d >= 1 && d <= 31 && m >= 1 && m <= 12 &&
        y >= 1900 && y <= 2100) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, m, d);
      return buf;
    }
    if (std::sscanf(s.c_str() + i, "%d thang %d nam %d", &d, &m, &y) == 3 && d >= 1 && d <= 31 &&
        m >= 1 && m <= 12 && y >= 1900 && y <= 2100) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, m, d);
      return buf;
    }
  }
  return "";
}

class DemographicsStage : public RuleStage {
 public:
  using RuleStage::RuleStage;
  std::string_view name() const override { return "demographics"; }
  Status Run(ExtractionDoc& d) const override {
    const std::string& f = d.folded;
    struct M {
      size_t b, e, value_b;
      const Rules::Label* l;
    };
    std::vector<M> ms;
    for (const auto& l : rules_->demographics) {
      for (size_t p : FindWord(f, l.label, 0, f.size())) {
        size_t q = SkipSpaces(f, p + l.label.size());
        if (q >= f.size() || f[q] != ':') continue;  // a label is followed by ':'
        ms.push_back({p, p + l.label.size(), q + 1, &l});
      }
    }
    std::sort(ms.begin(), ms.end(), [](const M& a, const M& b) {
      return a.b != b.b ? a.b < b.b : (a.e - a.b) > (b.e - b.b);
    });
    std::vector<M> kept;
    for (const auto& m : ms) {
      if (!kept.empty() && m.b < kept.back().e) continue;  // inside a longer label
      kept.push_back(m);
    }
    std::set<std::string> seen;
    for (size_t i = 0; i < kept.size(); ++i) {
      const M& m = kept[i];
      size_t le = LineEnd(f, m.value_b);
      size_t ve = le;
      if (i + 1 < kept.size() && kept[i + 1].b < ve) ve = kept[i + 1].b;
      // also stop at another "Label:" of the vital signs on the same line
      size_t vb = T(d, SkipSpaces(f, m.value_b));
      size_t vte = T(d, ve);
      std::string raw = Trim(std::string_view(d.text).substr(vb, vte > vb ? vte - vb : 0));
      std::string folded_val = Trim(std::string_view(f).substr(m.value_b, ve - m.value_b));
      const std::string& field = m.l->field;
      if (raw.empty() || seen.count(field)) continue;
      std::string value;
      double conf = 0.9;
      if (field == "name" || field == "address" || field == "occupation" || field == "ethnicity") {
        value = raw;
      } else if (field == "gender") {
        if (folded_val.rfind("nam", 0) == 0 || folded_val.rfind("male", 0) == 0)
          value = "male";
        else if (folded_val.rfind("nu", 0) == 0 || folded_val.rfind("female", 0) == 0)
          value = "female";
      } else if (field == "birth_year" || field == "age") {
        size_t k = 0;
        while (k < folded_val.size() && !IsDigit(folded_val[k])) ++k;
        size_t j = k;
        while (j < folded_val.size() && IsDigit(folded_val[j])) ++j;
        value = folded_val.substr(k, j - k);
        if (field == "birth_year" && (value.size() != 4 || value < "1900" || value > "2100")) {
          std::string iso = IsoDate(folded_val);
          value = iso.empty() ? "" : iso.substr(0, 4);
        }
        if (field == "age" && (value.empty() || value.size() > 3)) value.clear();
      } else if (field == "birth_date") {
        value = IsoDate(folded_val);
      } else if (field == "cccd") {
        for (char c : folded_val) {
          if (IsDigit(c))
            value += c;
          else if (c != ' ' && c != '.' && c != '-')
            break;
        }
        if (value.size() != 12) {
          conf = 0.4;
          if (value.size() < 9) value.clear();
        }
      } else if (field == "bhyt") {
        for (char c : folded_val) {
          if (std::isalnum(static_cast<unsigned char>(c)))
            value += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
          else if (c != ' ' && c != '-' && c != '.')
            break;
        }
        bool ok = value.size() == 15 && std::isalpha(static_cast<unsigned char>(value[0])) &&
                  std::isalpha(static_cast<unsigned char>(value[1])) &&
                  std::all_of(value.begin() + 2, value.end(), [](char c) { return IsDigit(c); });
        if (!ok) conf = 0.4;
        if (value.size() < 10) value.clear();
      } else if (field == "phone") {
        for (char c : folded_val)
          if (IsDigit(c) || (c == '+' && value.empty())) value += c;
      }
      if (value.empty()) continue;
      seen.insert(field);
      Fact fact = MakeFact(d, "demographic", m.b, ve);
      fact.field = field;
      fact.value = value;
      fact.confidence = conf;
      d.facts.push_back(std::move(fact));
    }
    return Status::Ok();
  }
};

// ---------------------------------------------------------------------------------------------
// Vital signs and lab results: LABEL [:|=] NUMBER[/NUMBER] [UNIT].
class MeasureStage : public RuleStage {
 public:
  MeasureStage(std::shared_ptr<const Rules> rules, bool vitals)
      : RuleStage(std::move(rules)), vitals_(vitals) {}
  std::string_view name() const override { return vitals_ ? "vitals" : "labs"; }
  Status Run(ExtractionDoc& d) const override {
    const std::string& f = d.folded;
    const auto& list = vitals_ ? rules_->vitals : rules_->labs;
    std::vector<std::pair<size_t, size_t>> taken;  // folded spans already used
    auto overlaps = [&](size_t b, size_t e) {
      for (auto& t : taken)
        if (b < t.second && t.first < e) return true;
      return false;
    };
    for (const auto& m : list) {
      for (size_t p : FindWord(f, m.label, 0, f.size())) {
        size_t le = p + m.label.size();
        if (overlaps(p, le)) continue;
        if (!m.not_after.empty()) {
          size_t w = p;
          while (w > 0 && f[w - 1] == ' ') --w;
          size_t ws = w;
          while (ws > 0 && IsWordByte(f[ws - 1])) --ws;
          std::string prev = f.substr(ws, w - ws);
          if (std::find(m.not_after.begin(), m.not_after.end(), prev) != m.not_after.end())
            continue;
        }
        size_t q = SkipSpaces(f, le);
        if (q < f.size() && (f[q] == ':' || f[q] == '=')) q = SkipSpaces(f, q + 1);
        double v = 0, v2 = 0;
        size_t n = 0, n2 = 0;
        if (vitals_ && q < f.size() && !IsDigit(f[q])) {
          // "Huyết áp lúc vào 180/95": up to 3 short words between the label and the value.
          size_t k = q;
          for (int w = 0; w < 3 && k < f.size() && std::isalpha(static_cast<unsigned char>(f[k]));
               ++w) {
            size_t ws = k;
            while (k < f.size() && std::isalpha(static_cast<unsigned char>(f[k]))) ++k;
            if (k - ws > 5) break;
            k = SkipSpaces(f, k);
            if (k < f.size() && IsDigit(f[k])) q = k;
          }
        }
        if (!ParseNumber(f, q, &v, &n)) continue;
        size_t end = q + n;
        bool has2 = false;
        if (m.loinc == "85354-9") {
          if (end < f.size() && f[end] == '/' && ParseNumber(f, end + 1, &v2, &n2)) {
            has2 = true;
            end += 1 + n2;
          } else {
            continue;  // blood pressure needs systolic/diastolic
          }
        }
        size_t uend = 0;
        const Rules::Unit* unit = UnitAt(f, end, &uend);
        std::string ucum = m.ucum, unit_text = m.unit;
        double conf = 0.75;
        if (unit) {
          if (unit->ucum == "g/L" && m.ucum == "10*9/L") {
            ucum = m.ucum;  // G/L of a cell count is giga per litre
            unit_text = "G/L";
          } else {
            ucum = unit->ucum;
            unit_text = unit->display;
          }
          end = uend;
          conf = 0.9;
          if (ucum != m.ucum && vitals_) conf = 0.6;
        }
        double check = v;
        if (ucum == "mg/dL" && m.ucum == "mmol/L") check = v / 18.0;  // glucose in mg/dL
        if (check < m.min || check > m.max) continue;
        if (has2 && (v2 < 20 || v2 > v)) continue;
        taken.push_back({p, end});
        Fact fact = MakeFact(d, vitals_ ? "vital" : "lab", p, end);
        fact.field = m.loinc;
        fact.coding = {"http://loinc.org", m.loinc, m.display};
        fact.number = v;
        if (has2) fact.number2 = v2;
        fact.unit = unit_text;
        fact.ucum = ucum;
        fact.confidence = conf;
        if (!vitals_) fact.date = NearestDate(d, p);
        d.facts.push_back(std::move(fact));
      }
    }
    return Status::Ok();
  }

 private:
  // The date on the result's line, else the last "ngày dd/mm/yyyy" before it in its section.
  std::string NearestDate(const ExtractionDoc& d, size_t fpos) const {
    const std::string& f = d.folded;
    size_t ls = LineStart(f, fpos), le = LineEnd(f, fpos);
    std::string iso = IsoDate(f.substr(ls, le - ls));
    if (!iso.empty()) return iso;
    size_t tpos = d.to_text[fpos];
    const auto* sec = d.SectionAt(tpos);
    size_t from = 0;
    if (sec) {
      while (from < f.size() && d.to_text[from] < sec->begin) ++from;
    }
    std::string last;
    size_t p = from;
    while ((p = f.find("ngay", p)) != std::string::npos && p < fpos) {
      std::string s = IsoDate(f.substr(p, 30));
      if (!s.empty()) last = s;
      p += 4;
    }
    return last;
  }
  bool vitals_;
};

// ---------------------------------------------------------------------------------------------
class MedicationStage : public RuleStage {
 public:
  using RuleStage::RuleStage;
  std::string_view name() const override { return "medications"; }
  Status Run(ExtractionDoc& d) const override {
    const std::string& f = d.folded;
    size_t pos = 0;
    while (pos < f.size()) {
      size_t le = LineEnd(f, pos);
      bool in_med = SectionKind(d, T(d, pos)) == "medication";
      // Items on one line are separated by ';'.
      size_t ib = pos;
      while (ib < le) {
        size_t ie = f.find(';', ib);
        if (ie == std::string::npos || ie > le) ie = le;
        ParseItem(d, ib, ie, in_med);
        ib = ie + 1;
      }
      pos = le + 1;
    }
    return Status::Ok();
  }

 private:
  const Rules::MedTerm* TermAt(const std::string& f, size_t p, const char* kind) const {
    for (const auto& t : rules_->medication) {
      if (t.kind == kind && f.compare(p, t.term.size(), t.term) == 0 &&
          BoundaryAfter(f, p + t.term.size(), t.term) &&
          (p == 0 || BoundaryBefore(f, p) || IsDigit(f[p - 1])))
        return &t;
    }
    return nullptr;
  }

  void ParseItem(ExtractionDoc& d, size_t b, size_t e, bool in_med) const {
    const std::string& f = d.folded;
    size_t p = SkipSpaces(f, b);
    // bullets and numbering
    size_t q = p;
    while (q < e && IsDigit(f[q])) ++q;
    if (q > p && q < e && (f[q] == '.' || f[q] == ')' || f[q] == '/')) p = SkipSpaces(f, q + 1);
    while (p < e && (f[p] == '-' || f[p] == '*' || f[p] == '+')) p = SkipSpaces(f, p + 1);
    if (f.compare(p, 3, "\xe2\x80\xa2") == 0) p = SkipSpaces(f, p + 3);
    if (p >= e || !IsWordByte(f[p]) || IsDigit(f[p])) return;
    // The name: up to 5 words before the first word starting with a digit.
    size_t name_b = p, name_e = p, words = 0, k = p;
    size_t num_at = std::string::npos;
    while (k < e && words < 6) {
      k = SkipSpaces(f, k);
      if (k >= e) break;
      if (IsDigit(f[k])) {
        num_at = k;
        break;
      }
      if (f[k] == '(' || f[k] == ':' || f[k] == ',') return;
      size_t ws = k;
      while (k < e && (IsWordByte(f[k]) || f[k] == '-')) ++k;
      if (k == ws) return;
      name_e = k;
      ++words;
    }
    if (num_at == std::string::npos || words == 0) return;
    double strength = 0;
    size_t n = 0;
    if (!ParseNumber(f, num_at, &strength, &n)) return;
    size_t u = SkipSpaces(f, num_at + n);
    const Rules::MedTerm* su = TermAt(f, u, "strength");
    if (!su) return;
    size_t after = u + su->term.size();
    if (after < e && f[after] == '/' && su->term != "ml") {
      // "mg/ml" is a concentration, fine; "g/l" is a lab unit: not a drug
      if (f.compare(after, 3, "/ml") != 0) return;
      after += 3;
    }
    // Not a lab or a vital sign named like a drug ("glucose 5 g"?)
    std::string fname = f.substr(name_b, name_e - name_b);
    for (const auto& l : rules_->labs)
      if (fname == l.label) return;
    Fact fact = MakeFact(d, "medication", name_b, e);
    // trailing spaces/punctuation off the span
    size_t te = T(d, e);
    while (te > fact.begin &&
           (d.text[te - 1] == ' ' || d.text[te - 1] == ',' || d.text[te - 1] == '.'))
      --te;
    fact.end = te;
    fact.value =
        Trim(std::string_view(d.text).substr(T(d, name_b), TEnd(d, name_e) - T(d, name_b)));
    fact.strength = strength;
    fact.unit = su->display;
    fact.ucum = su->code;
    // The instructions after the strength.
    size_t rb = after;
    fact.dosage_text = Trim(
        std::string_view(d.text).substr(T(d, rb), fact.end > T(d, rb) ? fact.end - T(d, rb) : 0));
    while (!fact.dosage_text.empty() &&
           (fact.dosage_text[0] == 'x' || fact.dosage_text[0] == ',' || fact.dosage_text[0] == ' '))
      fact.dosage_text.erase(0, 1);
    int route_found = 0;
    int when_count = 0;
    double per_day_total = 0;  // "N viên/ngày"
    double per_time = 0;       // "N viên/lần" or "N viên" with "x M lần/ngày"
    int times = 0;             // "M lần/ngày", "ngày M lần"
    for (size_t i = rb; i < e; ++i) {
      if (!(i == rb || !IsWordByte(f[i - 1]) || IsDigit(f[i]))) continue;
      if (!route_found) {
        if (auto* r = TermAt(f, i, "route"); r && BoundaryBefore(f, i)) {
          fact.route = {"http://snomed.info/sct", r->code, r->display};
          route_found = 1;
          i += r->term.size() - 1;
          continue;
        }
      }
      if (auto* w = TermAt(f, i, "when"); w && BoundaryBefore(f, i)) {
        if (std::find(fact.when.begin(), fact.when.end(), w->code) == fact.when.end()) {
          fact.when.push_back(w->code);
          if (w->code == "MORN" || w->code == "NOON" || w->code == "AFT" || w->code == "EVE" ||
              w->code == "NIGHT")
            ++when_count;
        }
        i += w->term.size() - 1;
        continue;
      }
      if (IsDigit(f[i]) && (i == rb || !IsDigit(f[i - 1])) &&
          !(i > 0 && (f[i - 1] == '.' || f[i - 1] == ','))) {
        double v = 0;
        size_t len = 0;
        ParseNumber(f, i, &v, &len);
        size_t j = SkipSpaces(f, i + len);
        if (f.compare(j, 3, "lan") == 0 && BoundaryAfter(f, j + 3, "lan")) {
          size_t s = SkipSpaces(f, j + 3);
          if (s < e && f[s] == '/') s = SkipSpaces(f, s + 1);
          if (f.compare(s, 4, "ngay") == 0) times = static_cast<int>(v);
        } else if (auto* du = TermAt(f, j, "dose")) {
          size_t s = SkipSpaces(f, j + du->term.size());
          bool per_day = false, per_time_unit = false;
          if (s < e && f[s] == '/') {
            size_t s2 = SkipSpaces(f, s + 1);
            per_day = f.compare(s2, 4, "ngay") == 0;
            per_time_unit = f.compare(s2, 3, "lan") == 0;
          }
          if (fact.dose_unit.empty()) {
            fact.dose_unit = du->display;
            fact.dose_ucum = du->code;
          }
          if (per_day)
            per_day_total = v;
          else if (per_time_unit || per_time == 0)
            per_time = v;
          i = j + du->term.size() - 1;
        } else if (f.compare(j, 4, "ngay") == 0 && BoundaryAfter(f, j + 4, "ngay") &&
                   !(i > 0 && f[i - 1] == '/')) {
          if (!(j + 4 < e && f[j + 4] == '/')) fact.duration_days = static_cast<int>(v);
        } else if (f.compare(j, 4, "tuan") == 0 && BoundaryAfter(f, j + 4, "tuan")) {
          fact.duration_days = static_cast<int>(v) * 7;
        } else if (f.compare(j, 5, "thang") == 0 && BoundaryAfter(f, j + 5, "thang")) {
          fact.duration_days = static_cast<int>(v) * 30;
        }
        i += len > 0 ? len - 1 : 0;
      } else if (f.compare(i, 4, "ngay") == 0 && BoundaryBefore(f, i) &&
                 BoundaryAfter(f, i + 4, "ngay")) {
        // "ngày 2 lần"
        size_t j = SkipSpaces(f, i + 4);
        double v = 0;
        size_t len = 0;
        if (ParseNumber(f, j, &v, &len)) {
          size_t s = SkipSpaces(f, j + len);
          if (f.compare(s, 3, "lan") == 0) {
            times = static_cast<int>(v);
            i = s + 2;
          }
        }
      }
    }
    if (times > 0) {
      fact.per_day = times;
      if (per_time > 0)
        fact.dose = per_time;
      else if (per_day_total > 0)
        fact.dose = per_day_total / times;
    } else if (per_day_total > 0) {
      fact.per_day = when_count > 0 ? when_count : 1;
      fact.dose = per_day_total / fact.per_day;
    } else if (per_time > 0) {
      fact.dose = per_time;
      fact.per_day = when_count > 0 ? when_count : 0;
    } else if (when_count > 0) {
      fact.per_day = when_count;
    }
    fact.confidence = in_med ? 0.85 : 0.6;
    if (!in_med && !route_found && fact.per_day == 0) return;  // a number after a word, not a drug
    if (!route_found && fact.per_day == 0) fact.confidence -= 0.2;
    d.facts.push_back(std::move(fact));
  }
};

// ---------------------------------------------------------------------------------------------
class DiagnosisStage : public RuleStage {
 public:
  DiagnosisStage(std::shared_ptr<const Rules> rules, const DiagnosisCoder* coder)
      : RuleStage(std::move(rules)), coder_(coder) {}
  std::string_view name() const override { return "diagnoses"; }

  Status Run(ExtractionDoc& d) const override {
    const std::string& f = d.folded;
    std::vector<std::pair<size_t, size_t>> covered;  // folded clause spans already coded
    // 1. Diagnosis sections: clause by clause.
    for (const auto& sec : d.sections) {
      if (sec.kind != "diagnosis") continue;
      size_t fb = FoldedPos(d, sec.begin), fe = FoldedPos(d, sec.end);
      // skip the heading up to ':' (or end of the heading line)
      size_t le = LineEnd(f, fb);
      size_t colon = f.find(':', fb);
      fb = (colon != std::string::npos && colon < le) ? colon + 1 : le;
      size_t cb = fb;
      for (size_t i = fb; i <= fe; ++i) {
        if (i < fe && !ClauseBreak(f, i)) continue;
        CodeClause(d, cb, i, sec.code, &covered);
        cb = i + 1;
      }
    }
    // 2. Explicit ICD-10 codes elsewhere: "(I10)", "ICD: E11.9", "mã I10".
    ExplicitCodes(d, 0, f.size(), &covered);
    // 3. Known terms and abbreviations anywhere else (not in medication or lab lines).
    Terms(d, covered);
    return Status::Ok();
  }

 private:
  static size_t FoldedPos(const ExtractionDoc& d, size_t text_pos) {
    auto it = std::lower_bound(d.to_text.begin(), d.to_text.end(), text_pos);
    return static_cast<size_t>(it - d.to_text.begin());
  }

  // Assertion of a mention at folded [b, e) within its clause [cb, ce).
  Assertion AssertionOf(const ExtractionDoc& d, size_t b, size_t e, size_t cb, size_t ce) const {
    const std::string& f = d.folded;
    const std::string kind = SectionKind(d, T(d, b));
    for (const auto& c : rules_->cues) {
      if (c.kind == "negation" && !FindWord(f, c.cue, cb, b).empty()) return Assertion::kNegated;
      if (c.kind == "negation-after" && !FindWord(f, c.cue, e, ce).empty())
        return Assertion::kNegated;
    }
    if (kind == "family") return Assertion::kFamily;
    for (const auto& c : rules_->cues)
      if (c.kind == "family" && !FindWord(f, c.cue, cb, b).empty()) return Assertion::kFamily;
    for (const auto& c : rules_->cues)
      if (c.kind == "history" && !FindWord(f, c.cue, cb, b).empty()) return Assertion::kHistory;
    if (kind == "history") return Assertion::kHistory;
    for (const auto& c : rules_->cues)
      if (c.kind == "uncertain" && !FindWord(f, c.cue, cb, b).empty()) return Assertion::kUncertain;
    return Assertion::kPresent;
  }

  static bool IcdAt(const std::string& t, size_t i, size_t* len) {
    // Letter, 2 digits, optional .digit{1,2}; word boundaries (original case: upper letter).
    if (i + 3 > t.size()) return false;
    if (!(t[i] >= 'A' && t[i] <= 'Z') || !IsDigit(t[i + 1]) || !IsDigit(t[i + 2])) return false;
    if (i > 0 && IsWordByte(t[i - 1])) return false;
    size_t j = i + 3;
    if (j + 1 < t.size() && t[j] == '.' && IsDigit(t[j + 1])) {
      j += 2;
      if (j < t.size() && IsDigit(t[j])) ++j;
    }
    if (j < t.size() && (IsWordByte(t[j]))) return false;
    *len = j - i;
    return true;
  }

  void AddDiagnosis(ExtractionDoc& d, size_t fb, size_t fe, const Coding& c, Assertion a,
                    double conf, const std::string& text) const {
    Fact fact = MakeFact(d, "diagnosis", fb, fe);
    fact.coding = c;
    fact.assertion = a;
    fact.confidence = conf;
    fact.value = text;
    fact.field = c.code;
    d.facts.push_back(std::move(fact));
  }

  // Explicit codes in text range (folded [fb, fe)). In a diagnosis clause every code counts;
  // elsewhere only in parentheses or after "ICD"/"mã".
  int ExplicitCodes(ExtractionDoc& d, size_t fb, size_t fe,
                    std::vector<std::pair<size_t, size_t>>* covered, bool in_clause = false,
                    size_t cb = 0, size_t ce = 0) const {
    int found = 0;
    const std::string& f = d.folded;
    for (size_t i = fb; i < fe; ++i) {
      size_t ti = T(d, i);
      if (ti >= d.text.size() || (i > 0 && T(d, i - 1) == ti)) continue;
      size_t len = 0;
      if (!IcdAt(d.text, ti, &len)) continue;
      if (!in_clause) {
        bool covered_here = false;
        for (auto& c : *covered)
          if (i >= c.first && i < c.second) covered_here = true;
        if (covered_here) continue;
        bool paren = i > 0 && f[i - 1] == '(';
        size_t w = i;
        while (w > 0 && (f[w - 1] == ' ' || f[w - 1] == ':')) --w;
        bool label = (w >= 3 && f.compare(w - 3, 3, "icd") == 0) ||
                     (w >= 2 && f.compare(w - 2, 2, "ma") == 0 && (w < 3 || !IsWordByte(f[w - 3])));
        if (!paren && !label) continue;
      }
      std::string code = d.text.substr(ti, len);
      std::optional<Coding> c = coder_ ? coder_->Lookup(code) : std::nullopt;
      size_t span_b = in_clause ? cb : i, span_e = in_clause ? ce : i + len;
      auto [acb, ace] = in_clause ? std::pair{cb, ce} : ClauseAround(f, i, i + len);
      Assertion a = AssertionOf(d, i, i + len, acb, ace);
      std::string text =
          Trim(std::string_view(d.text).substr(T(d, span_b), TEnd(d, span_e) - T(d, span_b)));
      if (c) {
        AddDiagnosis(d, span_b, span_e, *c, a, 0.95, text);
      } else {
        AddDiagnosis(d, span_b, span_e, {"http://benhan.vn/fhir/CodeSystem/icd10-vn", code, ""}, a,
                     0.6, text);
      }
      covered->push_back({span_b, span_e});
      ++found;
      i += len - 1;
    }
    return found;
  }

  // Expands the abbreviations of an original-text phrase.
  std::string Expand(const std::string& phrase) const {
    std::string out = phrase;
    for (const auto& a : rules_->abbreviations) {
      size_t pos = 0;
      while ((pos = out.find(a.abbrev, pos)) != std::string::npos) {
        bool b_ok = pos == 0 || !IsWordByte(out[pos - 1]);
        size_t e = pos + a.abbrev.size();
        bool e_ok = e >= out.size() || !IsWordByte(out[e]);
        if (b_ok && e_ok) {
          out.replace(pos, a.abbrev.size(), a.expansion);
          pos += a.expansion.size();
        } else {
          pos = e;
        }
      }
    }
    return out;
  }

  // Codes a phrase: the whole phrase, then shorter (words dropped from the end).
  std::optional<Coding> CodeWords(const std::string& phrase, double* conf) const {
    if (!coder_) return std::nullopt;
    std::vector<std::string> words;
    std::string folded = text::Fold(phrase);
    std::string w;
    std::string orig = phrase;
    // split the original on spaces (keeps marks for display); fold is only for the stop words
    std::vector<std::string> ow;
    for (char c : orig + " ") {
      if (c == ' ' || c == '\n') {
        if (!w.empty()) ow.push_back(w);
        w.clear();
      } else {
        w += c;
      }
    }
    // leading words that are qualifiers, not names
    static const char* kSkip[] = {"benh", "chinh", "kem", "theo", "doi",     "td",
                                  "nghi", "ngo",   "-",   "+",    "nghi ngo"};
    while (!ow.empty()) {
      std::string fw = text::Fold(ow.front());
      bool skip = false;
      for (const char* s : kSkip) skip |= fw == s;
      // "bệnh" starts many ICD-10 names ("Bệnh phổi tắc nghẽn"): keep it when more follows
      if (fw == "benh" && ow.size() > 2) skip = false;
      if (!skip) break;
      ow.erase(ow.begin());
    }
    // A diagnosis name ends where a time or a treatment remark starts ("THA 10 năm", "ĐTĐ từ
    // 2015", "... điều trị không thường xuyên"): the "stop" cues.
    for (size_t i = 1; i < ow.size(); ++i) {
      std::string rest;
      for (size_t k = i; k < ow.size(); ++k) rest += (k > i ? " " : "") + text::Fold(ow[k]);
      // a number of 2+ digits (years, durations); "típ 2", "độ 3" are part of the name
      bool stop = rest.size() > 1 && IsDigit(rest[0]) && IsDigit(rest[1]);
      for (const auto& c : rules_->cues)
        if (c.kind == "stop" && rest.compare(0, c.cue.size(), c.cue) == 0 &&
            (rest.size() == c.cue.size() || rest[c.cue.size()] == ' '))
          stop = true;
      if (stop) {
        ow.resize(i);
        break;
      }
    }
    for (size_t n = ow.size(); n >= 1; --n) {
      std::string p;
      for (size_t i = 0; i < n; ++i) p += (i ? " " : "") + ow[i];
      if (n == 1 && text::Fold(p).size() < 4) break;  // one short word is too vague
      if (auto c = coder_->CodePhrase(p)) {
        // one word alone must be how the name starts ("Mạch" is not "Xơ vữa động mạch não")
        if (n == 1 && text::Fold(c->display).rfind(text::Fold(p), 0) != 0) break;
        *conf = n == ow.size() ? 0.85 : 0.7;
        return c;
      }
    }
    return std::nullopt;
  }

  void CodeClause(ExtractionDoc& d, size_t cb, size_t ce, const std::string& section,
                  std::vector<std::pair<size_t, size_t>>* covered) const {
    (void)section;
    const std::string& f = d.folded;
    while (cb < ce && (f[cb] == ' ' || f[cb] == '-' || f[cb] == '+' || f[cb] == '*')) ++cb;
    while (ce > cb && (f[ce - 1] == ' ' || f[ce - 1] == '-')) --ce;
    if (ce <= cb) return;
    if (ce < f.size() && f[ce] == ':') return;  // a label ("Mạch:"), not a diagnosis
    // An explicit code in the clause, or right after it in parentheses: "THA (I10)".
    size_t ext_e = ce;
    {
      size_t k = SkipSpaces(f, ce);
      if (k < f.size() && f[k] == '(') {
        size_t close = f.find(')', k);
        if (close != std::string::npos && close - k <= 12) ext_e = close;
      }
    }
    if (ExplicitCodes(d, cb, ext_e, covered, true, cb, ce) > 0) return;
    std::string orig = Trim(std::string_view(d.text).substr(T(d, cb), TEnd(d, ce) - T(d, cb)));
    if (orig.empty()) return;
    std::string expanded = Expand(orig);
    double conf = 0;
    auto c = CodeWords(expanded, &conf);
    if (!c) return;
    Assertion a = AssertionOf(d, cb, ce, cb, ce);
    // a cue inside the clause before the name ("theo dõi", "không") applies to it
    for (const auto& cue : rules_->cues) {
      if (f.compare(cb, cue.cue.size(), cue.cue) == 0 &&
          BoundaryAfter(f, cb + cue.cue.size(), cue.cue)) {
        if (cue.kind == "uncertain" && a == Assertion::kPresent) a = Assertion::kUncertain;
        if (cue.kind == "negation") a = Assertion::kNegated;
      }
    }
    AddDiagnosis(d, cb, ce, *c, a, conf, orig);
    covered->push_back({cb, ce});
  }

  void Terms(ExtractionDoc& d, const std::vector<std::pair<size_t, size_t>>& covered) const {
    const std::string& f = d.folded;
    struct Hit {
      size_t b, e;
      std::string phrase;
      std::string code;
    };
    std::vector<Hit> hits;
    auto taken = [&](size_t b, size_t e) {
      for (auto& c : covered)
        if (b < c.second && c.first < e) return true;
      for (auto& h : hits)
        if (b < h.e && h.b < e) return true;
      return false;
    };
    std::vector<std::pair<size_t, size_t>> demo;
    for (const auto& fct : d.facts)
      if (fct.kind == "demographic")
        demo.push_back({FoldedPos(d, fct.begin), FoldedPos(d, fct.end)});
    auto skip_section = [&](size_t fpos) {
      for (auto& r : demo)
        if (fpos >= r.first && fpos < r.second) return true;
      std::string k = SectionKind(d, T(d, fpos));
      auto* s = d.SectionAt(T(d, fpos));
      return k == "diagnosis" || k == "medication" || (s && s->code == "labs");
    };
    // Abbreviations (case-sensitive, on the original text).
    for (const auto& a : rules_->abbreviations) {
      if (a.abbrev == "TD") continue;
      size_t pos = 0;
      while ((pos = d.text.find(a.abbrev, pos)) != std::string::npos) {
        size_t e = pos + a.abbrev.size();
        bool ok = (pos == 0 || !IsWordByte(d.text[pos - 1])) &&
                  (e >= d.text.size() || !IsWordByte(d.text[e]));
        if (ok) {
          size_t fb = FoldedPos(d, pos), fe = FoldedPos(d, e);
          if (!taken(fb, fe) && !skip_section(fb)) hits.push_back({fb, fe, a.expansion, ""});
        }
        pos = e;
      }
    }
    for (const auto& t : rules_->findings) {
      for (size_t p : FindWord(f, t.term, 0, f.size())) {
        size_t e = p + t.term.size();
        if (taken(p, e) || skip_section(p)) continue;
        hits.push_back({p, e, std::string(d.text.substr(T(d, p), TEnd(d, e) - T(d, p))), t.code});
      }
    }
    for (const auto& h : hits) {
      std::optional<Coding> c;
      double conf = 0.8;
      if (!h.code.empty() && coder_) c = coder_->Lookup(h.code);
      if (!c && !h.code.empty())
        c = Coding{"http://benhan.vn/fhir/CodeSystem/icd10-vn", h.code, ""};
      if (!c) c = CodeWords(h.phrase, &conf);
      if (!c) continue;
      auto [cb, ce] = ClauseAround(f, h.b, h.e);
      Assertion a = AssertionOf(d, h.b, h.e, cb, ce);
      AddDiagnosis(d, h.b, h.e, *c, a, std::min(conf, 0.8),
                   std::string(d.text.substr(T(d, h.b), TEnd(d, h.e) - T(d, h.b))));
    }
  }

  const DiagnosisCoder* coder_;
};

}  // namespace

std::unique_ptr<Extractor> MakeRuleExtractor(std::shared_ptr<const Rules> rules,
                                             const DiagnosisCoder* coder, ExtractOptions options) {
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<SectionStage>(rules));
  stages.push_back(std::make_unique<DemographicsStage>(rules));
  stages.push_back(std::make_unique<MeasureStage>(rules, true));
  stages.push_back(std::make_unique<MeasureStage>(rules, false));
  stages.push_back(std::make_unique<MedicationStage>(rules));
  stages.push_back(std::make_unique<DiagnosisStage>(rules, coder));
  return std::make_unique<Extractor>(std::move(stages), options);
}

}  // namespace benhan::digitize
