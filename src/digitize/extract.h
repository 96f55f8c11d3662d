// Clinical text extraction: Vietnamese record text (OCR output or a text layer, with English
// terms mixed in) -> facts with their source span: sections, demographics, vital signs, diagnoses
// (ICD-10), medications, lab results, each with an assertion (present / negated / history /
// uncertain) and a confidence.
//
// The Extractor is a pipeline of Stages behind one interface (Stage::Run over a shared
// ExtractionDoc), so a statistical model can replace a rule stage later. The rule stages read
// their vocabulary from data files (src/digitize/rules/*.tsv, embedded; `digitize.rules_dir`
// loads them from a directory instead). Diagnosis names are coded through a DiagnosisCoder (the
// terminology service's ICD-10 in the server).
//
// Ownership: an Extractor owns its stages and Rules; it borrows the DiagnosisCoder, which must
// outlive it. Thread-safety: Extract is const and thread-safe if the coder is.
// Errors: Rules::Load gives kInvalid naming file and line; Extract gives kInvalid for text that is
// not UTF-8 or too long (limit in ExtractOptions).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace benhan::digitize {

enum class Assertion { kPresent, kNegated, kHistory, kUncertain, kFamily };
const char* AssertionName(Assertion a);

struct Coding {
  std::string system, code, display;
};

struct Fact {
  std::string kind;   // "section", "demographic", "vital", "diagnosis", "medication", "lab"
  std::string field;  // section code; demographic field; LOINC code (vital, lab); "" otherwise
  size_t begin = 0, end = 0;  // byte span in the document text
  std::string section;        // section code the fact is in ("" before the first heading)
  Assertion assertion = Assertion::kPresent;
  double confidence = 0;  // 0..1
  Coding coding;          // ICD-10 (diagnosis), LOINC (vital, lab)
  std::string value;      // demographic value (normalised), drug name, diagnosis text
  std::optional<double> number, number2;  // value; diastolic for blood pressure
  std::string unit, ucum;                 // as written (or default), UCUM code
  std::string date;                       // YYYY-MM-DD (lab result date)
  // Medications.
  std::optional<double> strength;  // with unit/ucum
  std::optional<double> dose;      // per administration
  std::string dose_unit, dose_ucum;
  Coding route;
  int per_day = 0;                // administrations per day
  std::vector<std::string> when;  // FHIR Timing.repeat.when codes
  int duration_days = 0;
  std::string dosage_text;  // the instruction as written
};

// The vocabulary of the rule stages.
struct Rules {
  struct Section {
    std::string heading, code, loinc, kind;
  };
  struct Label {
    std::string label, field;
  };
  struct Measure {
    std::string label, loinc, display, ucum, unit;
    double min = 0, max = 0;
    std::vector<std::string> not_after;  // folded words
  };
  struct Term {
    std::string term, code;
  };
  struct Unit {
    std::string written, ucum, display;
  };
  struct Abbrev {
    std::string abbrev, expansion;
  };
  struct Cue {
    std::string kind, cue;
  };
  struct MedTerm {
    std::string kind, term, code, display;
  };
  std::vector<Section> sections;
  std::vector<Label> demographics;
  std::vector<Measure> vitals, labs;
  std::vector<Unit> units;
  std::vector<Abbrev> abbreviations;
  std::vector<Term> findings;
  std::vector<Cue> cues;
  std::vector<MedTerm> medication;

  // The embedded rules, or the files of `dir` when not empty (same file names).
  static Result<Rules> Load(const std::string& dir = {});
};

// Codes diagnoses (ICD-10). Implementations must be thread-safe.
class DiagnosisCoder {
 public:
  virtual ~DiagnosisCoder() = default;
  // The best ICD-10 concept for a (Vietnamese or English) diagnosis phrase, or nullopt. The phrase
  // is matched diacritic-insensitively; `*exact` tells whether all its words matched a name.
  virtual std::optional<Coding> CodePhrase(std::string_view phrase) const = 0;
  // The concept with this code, or nullopt if the code system does not have it.
  virtual std::optional<Coding> Lookup(std::string_view code) const = 0;
};

// What the stages share: the text, its folded form with the map back, and the facts so far.
struct ExtractionDoc {
  std::string text;             // NFC
  std::string folded;           // lower case, marks removed, đ->d; same line structure
  std::vector<size_t> to_text;  // folded byte -> text byte (size folded.size() + 1)
  std::vector<Fact> facts;
  struct SectionSpan {
    std::string code, kind;
    size_t begin, end;
  };  // text bytes
  std::vector<SectionSpan> sections;
  const SectionSpan* SectionAt(size_t text_pos) const;
};

class Stage {
 public:
  virtual ~Stage() = default;
  virtual std::string_view name() const = 0;
  virtual Status Run(ExtractionDoc& doc) const = 0;
};

struct ExtractOptions {
  size_t max_text_bytes = 4u << 20;
};

class Extractor {
 public:
  Extractor(std::vector<std::unique_ptr<Stage>> stages, ExtractOptions options = {});
  Result<ExtractionDoc> Extract(std::string_view text) const;
  const std::vector<std::unique_ptr<Stage>>& stages() const { return stages_; }

 private:
  std::vector<std::unique_ptr<Stage>> stages_;
  ExtractOptions options_;
};

// The rule pipeline: sections, demographics, vitals, labs, medications, diagnoses.
std::unique_ptr<Extractor> MakeRuleExtractor(std::shared_ptr<const Rules> rules,
                                             const DiagnosisCoder* coder,
                                             ExtractOptions options = {});

// Folds `text` like core/text Fold (lower case, marks removed, đ->d) but keeps every character
// (no whitespace collapsing) and records the text offset of each folded byte.
void FoldWithMap(std::string_view text, std::string* folded, std::vector<size_t>* to_text);

}  // namespace benhan::digitize
