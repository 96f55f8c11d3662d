// Authentication seam. Today: bearer tokens (an administrator token made on first start) and the
// demo mode. Users, OAuth2/SMART and roles plug in behind the same Authenticator interface.
//
// Thread-safety: Authenticate() is thread-safe. Errors: kUnauthenticated (no or unknown token).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/principal.h"
#include "core/status.h"

namespace benhan::security {

using benhan::Principal;  // core/principal.h

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // `authorization` is the raw Authorization header ("Bearer <token>"), possibly empty.
  virtual Result<Principal> Authenticate(std::string_view authorization) const = 0;
  // True when every request is let in without credentials (demo mode). Such a server must not
  // let pages of other origins read its answers (no CORS headers).
  virtual bool open() const { return false; }
};

// Equality of two secrets (tokens) in time that depends on their lengths only, so that a map
// lookup's timing does not reveal how much of a presented token matches a known one.
struct SameTokenBytes {
  bool operator()(const std::string& a, const std::string& b) const;
};

// Demo mode: everyone is "demo". Only allowed when the server listens on loopback.
std::unique_ptr<Authenticator> MakeDemoAuthenticator();

// Bearer tokens whose SHA-256 hashes are kept in DIR/secrets/token-hashes (mode 0600). The tokens
// themselves are never stored by the server.
class TokenAuthenticator final : public Authenticator {
 public:
  // Loads DIR/secrets/token-hashes. If there is no administrator token yet, creates one, writes it
  // to DIR/secrets/admin.token (mode 0600) and sets *created_path to that path.
  static Result<std::unique_ptr<TokenAuthenticator>> Open(const std::string& data_dir,
                                                          std::string* created_path);
  Result<Principal> Authenticate(std::string_view authorization) const override;
  // The parts of Authenticate, for an authenticator that also knows other tokens (OAuth2) and
  // hashes a token once for both: the principal of a bearer token presented before (no hash), and
  // of a token whose SHA-256 hex is `hash` (remembered for next time). nullopt: not one of these.
  std::optional<Principal> Remembered(const std::string& token) const;
  std::optional<Principal> FindHashed(std::string token, const std::string& hash) const;

 private:
  std::unordered_map<std::string, Principal> by_hash_;  // immutable after Open
  // Tokens already presented and found, so that a token is hashed once, not at every request:
  // token -> its entry of by_hash_. Only tokens that matched are kept (at most kSeenMax), so the
  // map is bounded by the valid tokens; keys are compared in constant time, so a lookup's timing
  // does not reveal how much of a presented token matches a known one.
  static constexpr size_t kSeenMax = 4096;
  mutable std::shared_mutex seen_mu_;
  mutable std::unordered_map<std::string, const Principal*, std::hash<std::string>, SameTokenBytes>
      seen_;  // guarded by seen_mu_
};

}  // namespace benhan::security
