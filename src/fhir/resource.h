// Helpers over FHIR JSON resources: stamping id/meta, canonical and pretty serialization,
// _summary/_elements subsetting, and OperationOutcome from a Status. Pure functions, thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "fhir/definitions.h"

namespace benhan::fhir {

// The canonical stored form of `resource`, serialized without copying it: keys ordered
// resourceType, id, meta, then the rest in their original order; id set to `id`, meta.versionId
// and meta.lastUpdated set (other meta elements kept).
// `last_updated_offset`, if given, receives the offset of the lastUpdated text (27 characters, see
// FormatInstant) so that a caller can restamp the result in place.
std::string SerializeStamped(const boost::json::object& resource, std::string_view id,
                             int64_t version, int64_t last_updated_us,
                             size_t* last_updated_offset = nullptr);

// Parses JSON from outside (request bodies, import files). Errors: kInvalid naming the line, column
// and byte of the problem; trailing non-whitespace is an error. The tree is allocated from one
// arena (a monotonic resource owned by the value's storage), which makes parsing and freeing a
// large Bundle cheap; `out` is replaced by the tree, storage included, and owns the arena. (Values
// moved out of it into containers of another storage are copied: build them in out->storage().)
Status ParseJson(std::string_view text, boost::json::value* out);
// The same, allocating the tree from `storage`, which the caller keeps alive longer than the tree.
// With a caller's own arena (`boost::json::storage_ptr(&monotonic_resource)`, not shared) nodes
// carry no reference count and freeing the tree is free; the shared arena of the overload above
// costs an atomic count per container and a walk of the whole tree to destroy it.
Status ParseJson(std::string_view text, boost::json::value* out, boost::json::storage_ptr storage);

// Compact JSON (the stored, canonical form) or pretty JSON (2-space indent).
std::string Serialize(const boost::json::value& v, bool pretty = false);

enum class SummaryMode { kFalse, kTrue, kText, kData, kCount };
// Parses _summary's value; error kInvalid names the bad value.
Result<SummaryMode> ParseSummary(std::string_view s);

// Applies _summary (mode != kFalse) and/or _elements (non-empty) to a resource, marking it with the
// SUBSETTED tag as the specification requires.
boost::json::value Subset(const boost::json::value& resource, SummaryMode mode,
                          const std::vector<std::string>& elements, const Definitions& defs);

// An OperationOutcome resource for `status` (each issue with severity, code, diagnostics and, when
// known, expression). `ok_message` is used for an OK status (severity information).
boost::json::object MakeOperationOutcome(const Status& status, std::string_view ok_message = {});

}  // namespace benhan::fhir
