// Random ids and tokens from the OS CSPRNG (OpenSSL RAND_bytes). Thread-safe.
#pragma once

#include <string>

namespace benhan {

// A new FHIR logical id: a lowercase RFC 4122 version-4 UUID (36 chars, valid per the id regex).
std::string NewUuid();
// `bytes` random bytes as lowercase hex.
std::string RandomHex(size_t bytes);
// SHA-256 of `data` as lowercase hex.
std::string Sha256Hex(const std::string& data);

}  // namespace benhan
