// The audit trail's hash chain: the canonical encoding of an audit row and its SHA-256 hash. Both
// backends chain rows with it when they commit, and `benhan audit verify` recomputes it.
//
// Format 2 (rows appended since schema version 4, i.e. after AuditHead::v2_after_aid): the row's
// digest is SHA-256 (32 raw bytes, stored in the `digest` column) of
//   "benhan-audit-v2" NUL, then aid, time_us and version as 8-byte little-endian integers, status
//   as a 4-byte little-endian integer, then principal, action, type, id, remote, detail, patient
//   and flags, each as a 4-byte little-endian byte length and the bytes, then the previous row's
//   digest as a 1-byte length (0 for the first row of the chain, else 32) and its bytes. The
//   previous digest of the first format-2 row after format-1 rows is that row's hex hash decoded.
//   Rows do not store the previous row's hash: the verifier takes it from the row before.
//   Fixed-width integers and length prefixes make the encoding unambiguous.
//
// Format 1 (rows of schema version 3, kept verifiable): SHA-256 as lowercase hex of
//   "benhan-audit-v1" then, for each field in this order, ";" + decimal byte length + ":" + bytes:
//   aid, time_us, principal, action, type, id, version, status, remote, detail, patient, flags,
//   prev_hash (hex). Integers are decimal ASCII.
//
// The chain head (audit_head.hash) and signed checkpoints name hashes in hex in both formats.
// Pure functions; thread-safe (AuditRowDigest uses a per-thread buffer).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "store/store.h"

namespace benhan::store {

using AuditDigest = std::array<unsigned char, 32>;

// Format 2: the digest of row `aid` whose predecessor has digest `*prev` (null: first row).
void AuditRowDigest(int64_t aid, const AuditRecord& r, const AuditDigest* prev, AuditDigest* out);
// Lowercase hex of a digest, and back (false unless `hex` is 64 hex digits).
std::string AuditDigestHex(const AuditDigest& d);
bool AuditDigestFromHex(std::string_view hex, AuditDigest* out);

// Format 1.
std::string AuditCanonical(int64_t aid, const AuditRecord& r, const std::string& prev_hash);
std::string AuditRowHash(int64_t aid, const AuditRecord& r, const std::string& prev_hash);

}  // namespace benhan::store
