// Credentials of local user accounts: Argon2id password hashes (libargon2), the password rules,
// and TOTP one-time codes (RFC 6238 over RFC 4226 HOTP, HMAC from OpenSSL).
//
// Thread-safety: every function is thread-safe. Errors: kInvalid (a rule is broken; the message,
// Vietnamese first, says which), kInternal (the hash library failed).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace benhan::security {

// Argon2id, 19 MiB, 2 passes, 1 lane (OWASP's minimum; about 40 ms on one core here), 16-byte
// random salt; the PHC string ("$argon2id$v=19$m=19456,t=2,p=1$salt$hash").
Result<std::string> HashPassword(std::string_view password);
// True if `password` matches the PHC string `encoded` (false for a malformed hash).
bool VerifyPassword(std::string_view password, const std::string& encoded);

// The password rules: at least `min_length` characters (code points), at most 256 bytes, not the
// user name (nor containing it, case-insensitive) and not on the built-in list of common
// passwords ("123456789", "matkhau123", ...).
Status CheckPasswordRules(std::string_view user, std::string_view password, int min_length);

// RFC 6238 TOTP: the `digits`-digit code of `secret` (raw bytes) for Unix time `unix_seconds`,
// time step `step` seconds, HMAC with `digest` ("SHA1", "SHA256", "SHA512").
std::string TotpCode(std::string_view secret, int64_t unix_seconds, int digits = 6,
                     std::string_view digest = "SHA1", int step = 30);
// True if `code` is the code of the current step or of one step either side (clock skew). When
// `*last_step` is given, a step at or before it is refused (a code is used once) and a match sets
// it.
bool VerifyTotp(std::string_view secret, std::string_view code, int64_t unix_seconds,
                int64_t* last_step = nullptr);
// otpauth://totp/benhan:NAME?secret=BASE32&issuer=benhan&algorithm=SHA1&digits=6&period=30
std::string TotpUri(std::string_view user, std::string_view secret);

}  // namespace benhan::security
