// Icd10Coder: the DiagnosisCoder over the terminology service's ICD-10 (the Ministry list when it
// is imported, else the built-in starter set): phrases are matched with the code system's
// autocomplete index (diacritic-insensitive, every word of the phrase a word of the name).
//
// Ownership: holds a function that returns the current code system version (so terminology
// imports are seen). Thread-safety: thread-safe (the versions are immutable).
#pragma once

#include <functional>
#include <memory>

#include "digitize/extract.h"
#include "terminology/code_system.h"

namespace benhan::digitize {

class Icd10Coder : public DiagnosisCoder {
 public:
  using Source = std::function<std::shared_ptr<const terminology::CodeSystemVersion>()>;
  explicit Icd10Coder(Source source) : source_(std::move(source)) {}
  std::optional<Coding> CodePhrase(std::string_view phrase) const override;
  std::optional<Coding> Lookup(std::string_view code) const override;

 private:
  Source source_;
};

}  // namespace benhan::digitize
