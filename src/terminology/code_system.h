// Code systems held in memory for the terminology operations: one CodeSystemVersion per
// (canonical URL, version), built from a stored FHIR CodeSystem resource or from the built-in
// starter set, with the autocomplete index ($expand filter) built once when it is loaded.
//
// Ownership: a CodeSystemVersion owns its concepts and its index; it is immutable once built and
// shared as std::shared_ptr<const CodeSystemVersion>. Thread-safety: const methods are safe from
// any thread. Errors: FromResource returns kInvalid for a resource that is not a usable CodeSystem.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace benhan::terminology {

// Canonical URLs of the Vietnamese ICD-10 (Ministry of Health list).
inline constexpr const char* kIcd10VnUrl = "http://benhan.vn/fhir/CodeSystem/icd10-vn";
inline constexpr const char* kIcd10VnValueSet = "http://benhan.vn/fhir/ValueSet/icd10-vn";
// Extension on CodeSystem: the period during which this version is in force (valuePeriod).
inline constexpr const char* kValidPeriodExt =
    "http://benhan.vn/fhir/StructureDefinition/valid-period";

// ICD-10 rule flags, the bit values of the Ministry annex's rule columns (as in the public JSON
// extraction; docs/terminology.md).
enum Icd10Flag : uint32_t {
  kNotMainDiagnosis = 1,          // not allowed as the main diagnosis
  kDiscouragedMainDiagnosis = 2,  // discouraged as the main diagnosis
  kMoreSpecificExists = 4,        // not to be used: a more specific 4/5-character code exists
  kCauseOfDeathOnly = 8,          // only as a cause of death
  kFemaleOnly = 16,
  kMaleOnly = 32,
};

struct Concept {
  std::string code;
  std::string display;      // in the code system's language (Vietnamese for the Ministry lists)
  std::string display_en;   // English designation; may be empty
  std::string parent;       // code of the parent concept; empty at the top
  uint32_t flags = 0;       // Icd10Flag bits
  bool common = false;      // a commonly used code (ranked first among equal autocomplete matches)
  std::string source_code;  // the code as written in the source when it was normalised ("A17t")
  // Other properties as (code, string value): chapter, block, LOINC fields...
  std::vector<std::pair<std::string, std::string>> properties;
};

class ConceptIndex;

// One version of a code system (or the concept list of an expanded value set).
struct CodeSystemVersion {
  std::string url;
  std::string version;
  std::string name;
  std::string title;
  std::string resource_id;  // the stored CodeSystem's id; empty for built-in ones
  std::string value_set;    // canonical URL of the all-codes value set; may be empty
  std::string valid_from;   // YYYY-MM-DD, empty: since always
  std::string valid_to;     // YYYY-MM-DD (exclusive), empty: still in force
  bool builtin = false;
  std::vector<Concept> concepts;

  CodeSystemVersion();
  ~CodeSystemVersion();
  CodeSystemVersion(CodeSystemVersion&&) noexcept;
  CodeSystemVersion& operator=(CodeSystemVersion&&) noexcept;

  // Builds the code lookup and the autocomplete index; call once after filling `concepts`.
  void Build();
  // The concept with this code: exact, then case-insensitively with or without the dot
  // ("e119" finds "E11.9"). nullptr if absent.
  const Concept* Find(std::string_view code) const;
  bool HasChildren(const Concept& c) const;
  const ConceptIndex& index() const { return *index_; }
  // Whether this version is in force on `date` (YYYY-MM-DD...; only the first 10 chars count).
  bool InForce(std::string_view date) const;

 private:
  std::unordered_map<std::string, uint32_t> by_code_;
  std::unordered_map<std::string, uint32_t> by_key_;  // lower case, no dot
  std::vector<uint32_t> child_count_;
  std::unique_ptr<ConceptIndex> index_;
};

// The lookup key of a code: lower case, only letters and digits ("E11.9" -> "e119").
std::string CodeKey(std::string_view code);

// FHIR CodeSystem resource <-> model. Properties used: parent, not-main-diagnosis,
// discouraged-main-diagnosis, more-specific-exists, cause-of-death-only, sex (female|male),
// common, source-code, and any other string/code property. Designations with language "en" give
// display_en. Nested concepts (concept.concept) get their parent from the nesting.
Result<CodeSystemVersion> FromResource(const boost::json::object& cs);
boost::json::object ToResource(const CodeSystemVersion& cs);

// The built-in starter set (src/terminology/data/icd10_starter.tsv, embedded in the binary):
// a few hundred common ICD-10 codes with Vietnamese and English names, version "starter".
std::shared_ptr<const CodeSystemVersion> StarterIcd10();

}  // namespace benhan::terminology
