// Random ids and tokens from the OS CSPRNG (OpenSSL RAND_bytes). Thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace benhan {

// A new FHIR logical id: a lowercase RFC 4122 version-4 UUID (36 chars, valid per the id regex).
std::string NewUuid();
// `bytes` random bytes as lowercase hex.
std::string RandomHex(size_t bytes);
// SHA-256 of `data` as lowercase hex.
std::string Sha256Hex(const std::string& data);
// SHA-256 of `data` (32 bytes) into `out`.
void Sha256(std::string_view data, unsigned char out[32]);
// `n` bytes as lowercase hex.
std::string ToHex(const unsigned char* p, size_t n);

}  // namespace benhan
