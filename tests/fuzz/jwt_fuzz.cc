// Fuzz target for the token parsers of security/: the bytes as an Authorization header
// (BearerToken), a JWS compact token (ParseJwt, then VerifyJwt against a fixed RSA and EC JWK, so
// the key import and signature paths see hostile headers), SMART scopes (SplitScopes,
// ParseSmartScope, ScopeCovers), base64url and base32. Any input must give a value or a Status,
// never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <boost/json.hpp>

#include "security/crypto.h"
#include "security/oauth.h"
#include "security/scopes.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace benhan::security;
  namespace json = boost::json;
  // Fixed test keys (made for this target only; never used elsewhere).
  static const json::object kRsa = *PublicJwkOfPem(
      "-----BEGIN PRIVATE KEY-----\n"
      "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDZCjSVJtRnBvzI\n"
      "KfKjdXW5g99io1QkjaHIZePpKRq6zVU2w/HOFQ6AM0H40R+5UUA0P3tRfnXyUTxZ\n"
      "9BEFPrR4zub1hcDvoHPUWzTBPWC5gsNyuQaPFJw+xsfEY59R1ebkrYY09xKtFY6N\n"
      "09irqAGliHYJyx12KhWxodqu5otjkDTdsrI26/0pWFeQdzPmoisShlVggwVwYY0y\n"
      "4pdagf9zfdFnQLswBd0L+W0Zo1PnqI9U1EmTXtJ+NnNe0jqk3dmBoCOhNZY1RarO\n"
      "zfiOLZL3T422tCsZUqsY/EXjwXecrfuEpzuX56s0KFcbXkHFM2mbo754C78IqsTG\n"
      "400O9mvrAgMBAAECggEAQ8kssBK/Duh/RbLYPdYfLRAzUhbJ3lq/1xt/iaBVYVdl\n"
      "EGQ1XtRzwXWA2snRuyrVvxu+k67H/qUBkOSp9jXl3r9cIf2iyxSVaJMN0HavgXEG\n"
      "QwvnsQNSY0bpOHyW01PXt788Zclu81ECw2gRSVeBICaVGyztaCzvtpli9/I4QaFC\n"
      "UrtjlunLIG2Pf5Upu+L4tcrdO2mVaWpz8yvVfU5JN3UiR21f5mXhKVVFkRuuiQNK\n"
      "3EjIStXrTFWSuZzJ0qhlxFnR0x7UUtL/kblkcoCuaHNz2/f7zjD3Dwn2TWQhgevg\n"
      "VlNenTPSW+rGQqTG1m6vVDNuOAF5wFg0+o1fYKXbGQKBgQD8httU5QHVofun/47l\n"
      "+F1NJkjfggZCH7UEFeqDGpZdXDk7LBGGf1h+Ietx6iruET+9HDgjHkTnlmguZN0q\n"
      "dUB7p6ObmfEwEAJ45NmoyXuZYvXMhRWjo2KLpX2yTAmKsRe2dmfcs100wGs0HjG+\n"
      "yzFMTiGLB4EYAxq4KA2iwKsq2QKBgQDcBmZScPvLiW3742umMsx156SPz7s7QerY\n"
      "5nDutUbSU9KR4l0lcmntB2c2u51ZFyd61WcILSuzbwVRf/avBp7EsZM+u1KWw8KM\n"
      "j998OdJmhsnZ6jmRq6VgtNy01PdX9gG9RuIM3ut1zHsQ7HBjMZIHjfKiQkaUad0A\n"
      "P2056t9qYwKBgGsRlq9RBc0ZiAT8Aw+YlZ6fa+hwTcz9epeH303FGRnuf0mKbsfS\n"
      "+KdKJHTBL4CPCbJZ46doLxjuGbAKDgfxfOyw8FqKE8woDZRKm8rH2sL3RXZ4uusN\n"
      "3DuPaFMPkEAgxAgV/gWCezNhnlKTts3Jg1ZyDiDPhrmyn0KToOxvumNJAoGAQ+aR\n"
      "s0V8305VK9P+R7cLlCNdjKgd7uaj1DYhiflVltkZdb324vSRLf4H40M5BuJ3Y5fy\n"
      "CPrvrptHd+RWu6L+YlMuzsA+d5qIMpq/7HVnsg5Mwrxe8c6X5eVK61+ByZp45PG4\n"
      "FyLAZYUqQYnGEUad+0jaJSrw3yJgepAYZDRQqGMCgYEA4NU7gBoupbC3iNinv7CY\n"
      "2arOVGjYwlE2rYZESk78ROZbw1ATNq5bNWNYo/7YX33qKiwXaxg7XjU8X4+uKNtz\n"
      "8f9fZpK5eSi3pkQkEU5NUTj8eUXt88mb+lLs0B0F45wqsmA8HiGaxH0U8k6OKQ8T\n"
      "m4Z5i/u0Tqjclrye+KlyV5U=\n"
      "-----END PRIVATE KEY-----\n",
      "k1");
  static const json::object kEc = *PublicJwkOfPem(
      "-----BEGIN PRIVATE KEY-----\n"
      "MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDApCkvoD+1p7SfjRTXW\n"
      "jtcSgG5qValVydU21tUAuKORd37rtSgTfv5aLREQGs0o9XahZANiAARZA9wbwTeJ\n"
      "qwKO7Ap8pQEKbBmK4/gNSkfFlRyOj44LMJFbjzv+42iUiq+8u1cDp+3LCC2CstyU\n"
      "t8s/wY2gogu9zgaA/LaDL1tUTleKiyWk+P3QHLMnthRYVDkJkRBVDAI=\n"
      "-----END PRIVATE KEY-----\n",
      "k2");
  std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)BearerToken(in);
  (void)Base64UrlDecode(in);
  (void)Base32Decode(in);
  auto jwt = ParseJwt(in);
  if (jwt.ok()) {
    (void)VerifyJwt(*jwt, kRsa);
    (void)VerifyJwt(*jwt, kEc);
    // The payload's claims as a JWK (hostile key material).
    (void)VerifyJwt(*jwt, jwt->payload);
  }
  auto scopes = SplitScopes(in.substr(0, 4096));
  for (const auto& s : scopes) (void)ParseSmartScope(s);
  if (scopes.size() >= 2) (void)ScopesCovered({scopes[0]}, {scopes.begin() + 1, scopes.end()});
  (void)ScopesPermit(scopes, "Observation", 'r');
  return 0;
}
