// Validation of FHIR R4 JSON resources on write, against the base R4 definitions (definitions.h).
//
// What is checked (driven only by the data in Definitions):
//  - the top is a JSON object whose string `resourceType` names a concrete resource type;
//  - every property is a known element (choice elements by their typed name, "valueQuantity"),
//    with the right JSON kind (array for max > 1, single value for max = 1, object vs primitive);
//  - primitive values have the JSON type and lexical form of their FHIR type (HL7's regexes,
//    hand-coded; dates are also checked against the calendar), no empty strings/objects/arrays,
//    `null` only inside primitive arrays paired with a `_name` array;
//  - cardinality (min/max), exactly one variant per choice element;
//  - primitive extension siblings (`_birthDate`, `_given` aligned with `given`);
//  - nested resources (contained, Bundle.entry.resource, Parameters.parameter.resource...), and
//    that contained resources contain none themselves (dom-2);
//  - codes of required bindings whose value set is expanded in Definitions;
//  - literal references "Type/id": the type must be a known resource type allowed by the element.
// Not checked: other invariants (FHIRPath constraints), profiles, terminology beyond expanded
// required value sets, the xhtml content model (only that `div` is a non-empty string starting with
// "<div").
//
// Errors: Validate returns OK or a Status listing every problem found (up to kMaxIssues) as Issues
// {code, "error", message, expression}; codes: kInvalid (not a JSON object / no resourceType),
// kStructure (unknown element, wrong shape, too many values), kRequired (missing required element),
// kValue (bad primitive value, bad reference), kCodeInvalid (code not in a required value set).
// `expression` is the FHIRPath-style location using JSON names and array indexes:
// "Patient.name[0].given[1]", "Bundle.entry[2].resource.status",
// "Patient.birthDate.extension[0].url".
//
// Ownership: the Validator shares the Definitions. Thread-safety: immutable after construction;
// Validate may be called concurrently from any number of threads.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include <boost/json/value.hpp>

#include "core/status.h"
#include "fhir/definitions.h"

namespace benhan::fhir {

struct ValidationOptions {
  bool check_required_bindings = true;
};

class Validator {
 public:
  // Stop collecting after this many issues (a final issue says the list was cut).
  static constexpr size_t kMaxIssues = 200;
  // Deeper nesting of elements than this is reported as kStructure and not descended into.
  static constexpr size_t kMaxDepth = 128;

  // `defs` must not be null. Builds lookup tables from `defs` (a few milliseconds).
  explicit Validator(std::shared_ptr<const Definitions> defs, ValidationOptions opts = {});
  ~Validator();
  Validator(const Validator&) = delete;
  Validator& operator=(const Validator&) = delete;

  // Validates one resource. Never throws on any input.
  Status Validate(const boost::json::value& resource) const;

  struct Schema;  // compiled lookup tables (validator.cc)

 private:
  std::shared_ptr<const Definitions> defs_;
  ValidationOptions opts_;
  std::unique_ptr<const Schema> schema_;
};

// True if `value` has the lexical form HL7's regex gives for primitive type `type` ("date",
// "dateTime", "instant", "time", "id", "code", "uri", "url", "canonical", "oid", "uuid",
// "base64Binary", "string", "markdown", "integer", "unsignedInt", "positiveInt", "decimal",
// "boolean"), checked by hand-written code (no regex). Unknown types: true. Matches the regex on
// the whole value; calendar validity (2019-02-30) and number ranges are checked by the Validator on
// top of this. Thread-safe.
bool MatchesPrimitiveFormat(std::string_view type, std::string_view value);

}  // namespace benhan::fhir
