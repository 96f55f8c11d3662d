// The audit trail's hash chain: the canonical encoding of an audit row and its SHA-256 hash. Both
// backends chain rows with it when they commit, and `benhan audit verify` recomputes it.
//
// Canonical encoding (version 1), bytes hashed with SHA-256 (hex, lowercase):
//   "benhan-audit-v1" then, for each field in this order, ";" + decimal byte length + ":" + bytes:
//   aid, time_us, principal, action, type, id, version, status, remote, detail, patient, flags,
//   prev_hash. Integers are decimal ASCII. Length prefixes make the encoding unambiguous.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "store/store.h"

namespace benhan::store {

std::string AuditCanonical(int64_t aid, const AuditRecord& r, const std::string& prev_hash);
std::string AuditRowHash(int64_t aid, const AuditRecord& r, const std::string& prev_hash);

}  // namespace benhan::store
