// The code hierarchies of the code systems the terminology service holds (ICD-10 chapters,
// blocks, categories and subcategories; any stored CodeSystem with `parent` properties or nested
// concepts), for the search modifiers `code:below=system|code` and `code:above=system|code`.
//
// Ownership: borrows the TerminologyService, which must outlive it. Thread-safety: safe from any
// thread (the service's versions are immutable once loaded). Errors: kNotFound for a code system
// or code the service does not hold.
#pragma once

#include <string>
#include <vector>

#include "service/value_sets.h"
#include "terminology/terminology_service.h"

namespace benhan::terminology {

class TerminologyHierarchy : public service::CodeHierarchy {
 public:
  explicit TerminologyHierarchy(TerminologyService& terminology) : terminology_(terminology) {}
  // Uses the version of `system` in force today (TerminologyService::Resolve).
  Result<std::vector<std::string>> Related(const std::string& system, const std::string& code,
                                           bool below) const override;

 private:
  TerminologyService& terminology_;
};

// The codes of `cs` under `code` (itself included) or above it (itself and its ancestors, nearest
// first). kNotFound if `code` is not in `cs`.
Result<std::vector<std::string>> RelatedCodes(const CodeSystemVersion& cs, const std::string& code,
                                              bool below);

}  // namespace benhan::terminology
