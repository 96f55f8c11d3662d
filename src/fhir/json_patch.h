// RFC 6902 JSON Patch, used by FHIR `PATCH` with Content-Type application/json-patch+json.
//
// Thread-safety: a free function with no shared state; callers synchronise access to `target`.
#pragma once

#include <boost/json/value.hpp>

#include "core/status.h"

namespace benhan::fhir {

// Applies `patch`, an RFC 6902 patch document (a JSON array of operation objects: add, remove,
// replace, move, copy, test; JSON Pointer paths with ~0/~1 escapes and "-" for the end of an
// array), to `target` in place and atomically: on any error `target` is unchanged.
// Errors:
//  - kInvalid: the patch document is malformed (not an array, an operation without "op"/"path",
//    an unknown op, a missing "value"/"from", a path that is not a JSON Pointer, moving a value
//    into its own child). The message names the operation index and the problem.
//  - kProcessing: the patch is well formed but cannot be applied: a "test" op failed, or a path
//    (or "from") does not exist in the document.
Status ApplyJsonPatch(const boost::json::value& patch, boost::json::value& target);

}  // namespace benhan::fhir
