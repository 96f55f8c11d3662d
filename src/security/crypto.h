// Small cryptographic helpers of security/ over OpenSSL: base64url and base32 codecs, HMAC,
// constant-time comparison, random tokens, and JSON Web Token (JWS compact) parsing and signature
// verification with a JSON Web Key (RS384/ES384, as SMART Backend Services requires; RS256/ES256
// too).
//
// Thread-safety: every function is thread-safe. Errors: kInvalid for malformed input (the message
// says what), kUnauthenticated for a bad signature.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace benhan::security {

std::string Base64UrlEncode(std::string_view bytes);  // no padding
// Accepts the URL-safe alphabet without padding (and tolerates '=' padding). nullopt if invalid.
std::optional<std::string> Base64UrlDecode(std::string_view text);
std::string Base32Encode(std::string_view bytes);  // RFC 4648, no padding (TOTP secrets)
std::optional<std::string> Base32Decode(std::string_view text);  // case-insensitive, '=' ignored

// Raw HMAC with "SHA1", "SHA256" or "SHA512".
std::string Hmac(std::string_view digest, std::string_view key, std::string_view data);
std::string Sha256(std::string_view data);  // raw 32 bytes
// Equal length and content, in time independent of where they differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);
// `bytes` random bytes from the OS CSPRNG, base64url: bearer tokens, codes, session ids.
std::string RandomToken(size_t bytes = 32);

// A parsed JWS compact serialization (header.payload.signature), not yet verified.
struct Jwt {
  boost::json::object header;
  boost::json::object payload;
  std::string signing_input;  // "header.payload" as received
  std::string signature;      // raw bytes
  std::string alg;            // header "alg"
  std::string kid;            // header "kid" ("" if absent)
};
// Parses a token: three base64url parts, the first two JSON objects, alg a string. Refuses
// "none" and anything over 16 KiB. Errors: kInvalid naming the part that is wrong.
Result<Jwt> ParseJwt(std::string_view token);

// Verifies `jwt`'s signature with the public JWK `jwk` (kty RSA with n/e, or EC P-256/P-384 with
// x/y). The algorithm must be one of RS384, ES384, RS256, ES256 and fit the key. Errors: kInvalid
// (unusable key or algorithm), kUnauthenticated (signature does not verify).
Status VerifyJwt(const Jwt& jwt, const boost::json::object& jwk);

// Signs `payload` as a JWS with the PEM private key `pem_key` (RSA: RS384, EC P-384: ES384,
// EC P-256: ES256), header {"alg","typ":"JWT","kid"}. OpenID Connect id_tokens, tests and the
// `benhan client` tooling.
Result<std::string> SignJwt(const boost::json::object& payload, const std::string& pem_key,
                            const std::string& kid);
// The public JWK of a PEM private key ({"kty","n","e"} or {"kty","crv","x","y"}, with "kid",
// "alg"). For `benhan client add --key` and tests.
Result<boost::json::object> PublicJwkOfPem(const std::string& pem_key, const std::string& kid);
// A new EC P-256 private key (PKCS#8 PEM) from the OS CSPRNG: the id_token signing key.
Result<std::string> NewEcPrivateKeyPem();

}  // namespace benhan::security
