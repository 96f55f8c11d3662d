// Value set expansion for the :in / :not-in search modifiers. A value set is looked up first among
// the ValueSet resources stored on this server (by canonical URL, or "ValueSet/id"), then among
// HL7's R4 value sets in the embedded definitions. Expansion uses the stored expansion if any, else
// the compose: enumerated concepts, whole code systems, included value sets (nested), exclusions.
// Includes by filter `concept is-a` / `descendent-of` follow the hierarchy of a code system the
// terminology service holds (CodeHierarchy, below); other filters (regex, properties...) and code
// systems not held are a kNotSupported error naming the value set, never a silently partial result.
//
// Thread-safety: stateless; safe from any thread (reads through the Store).
#pragma once

#include <vector>

#include "core/status.h"
#include "fhir/definitions.h"
#include "store/query.h"
#include "store/store.h"

namespace benhan::service {

// Code hierarchies for the token modifiers :below and :above, implemented by the terminology
// layer (terminology/hierarchy.h) over the code systems it holds. Thread-safety: implementations
// are safe from any thread.
class CodeHierarchy {
 public:
  virtual ~CodeHierarchy() = default;
  // The codes of `system` that `code` subsumes (`below`: itself and its descendants) or that
  // subsume it (itself and its ancestors). Errors: kNotFound for a code system or code this
  // server does not know.
  virtual Result<std::vector<std::string>> Related(const std::string& system,
                                                   const std::string& code, bool below) const = 0;
};

// Rewrites every token :below / :above condition of `conds` (chains and _has included) into a
// plain token condition over the related codes. Errors: kInvalid for a value without a system or
// an unknown code system or code, kNotSupported when `hierarchy` is null or the result has more
// than 10,000 codes.
Status ExpandCodeHierarchyModifiers(std::vector<store::Condition>& conds,
                                    const CodeHierarchy* hierarchy);

// Rewrites every :in / :not-in token condition of `conds` (chains and _has included) into plain
// token conditions over the value set's codes (:not-in becomes :not). Compose filters `concept
// is-a` / `descendent-of` are expanded through `hierarchy` (may be null: then refused). Errors:
// kInvalid for an unknown value set, kNotSupported for one that cannot be expanded here (other
// filters, code systems not held), and beyond 10,000 codes.
Status ExpandValueSetModifiers(std::vector<store::Condition>& conds, store::Store& store,
                               const fhir::Definitions& defs, const CodeHierarchy* hierarchy);

}  // namespace benhan::service
