// OAuth2 authorization server with SMART App Launch (v1 and v2 scopes): registered clients,
// login sessions, authorization codes with PKCE (S256 only), access and refresh tokens (refresh
// rotation), client credentials with a signed JWT assertion (private_key_jwt, RS384/ES384, SMART
// Backend Services), token introspection (RFC 7662) and revocation (RFC 7009). HTTP-agnostic:
// api/oauth_api turns requests into these calls.
//
// Tokens are opaque random strings (256 bits); the store keeps only their SHA-256 hashes
// (key-value namespaces "at" access, "rt" refresh, "code", "session", "jti", "client"), so a
// revocation is a deleted row. A validated access token's Principal is kept in memory for at most
// kTokenCacheSeconds (2 s) so that a stream of requests does not read the store for each one:
// a revocation, client change or account change made through this server takes effect at the
// next request; one made elsewhere (the CLI, another server on the same PostgreSQL) within 2 s.
//
// Ownership: borrows Store, Accounts and Clock (must outlive it). Thread-safety: thread-safe.
// Errors: token-endpoint failures are OAuth2 error replies (OAuthReply with "error", RFC 6749
// 5.2), not Status: their wire format is OAuth2's, not an OperationOutcome. Other calls return
// Status: kNotFound, kInvalid, kUnauthenticated, kForbidden, store errors.
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/principal.h"
#include "core/status.h"
#include "security/accounts.h"
#include "security/auth.h"
#include "store/store.h"

namespace benhan::security {

struct OAuthClient {
  std::string id;    // client_id: [A-Za-z0-9._-], 2..64
  std::string name;  // shown on the consent page
  // "none": a public app (authorization code + PKCE, no secret); "private_key_jwt": authenticates
  // with a JWT signed by a key of `jwks` (client credentials for systems; also allowed with
  // authorization codes).
  std::string auth_method = "none";
  std::vector<std::string> redirect_uris;  // exact match
  std::vector<std::string> scopes;         // the most this client may be granted
  boost::json::array jwks;                 // public JWKs (private_key_jwt)
  std::string role = "system";             // Principal role of client-credentials tokens
  bool disabled = false;
};

// A validated authorization request (GET /auth/authorize).
struct AuthorizeRequest {
  std::string client_id;
  std::string client_name;
  std::string redirect_uri;
  std::vector<std::string> scopes;
  std::string state;
  std::string code_challenge;
  bool wants_patient = false;  // launch/patient or a patient/ scope: a patient must be chosen
};

struct OAuthReply {
  int status = 200;
  boost::json::object body;  // the token response, or {"error", "error_description"}
};

// A login session of the authorization page (cookie), sliding idle expiry.
struct LoginSession {
  std::string user;
  std::string csrf;  // token the consent form must echo
};

using AuditSink = std::function<void(store::AuditRecord)>;
using Params = std::map<std::string, std::string>;

class OAuthServer {
 public:
  OAuthServer(store::Store& store, Accounts& accounts, AuditSink audit,
              const Clock& clock = SystemClock());

  Accounts& accounts() { return accounts_; }

  // Clients (CLI). AddClient: kConflict if the id exists, kInvalid for a bad id, redirect URI,
  // scope or key.
  Status AddClient(const OAuthClient& c);
  Result<OAuthClient> GetClient(const std::string& id) const;
  Result<std::vector<OAuthClient>> ListClients() const;
  Status PutClient(const OAuthClient& c);  // replace (keys, scopes, disable)
  Status RemoveClient(const std::string& id);

  // The .well-known/smart-configuration document for a server whose FHIR base is `fhir_base`
  // and whose authorization endpoints are under `auth_base` ("https://host/auth").
  boost::json::object SmartConfiguration(const std::string& auth_base) const;

  // Checks an authorization request. Errors the app must not be redirected for (unknown client,
  // unregistered redirect_uri) are returned as Status with *redirectable false; others set
  // *redirectable true and *oauth_error to the RFC 6749 error code.
  Result<AuthorizeRequest> CheckAuthorize(const Params& p, const std::string& fhir_base,
                                          bool* redirectable, std::string* oauth_error) const;

  // Logs a user in for the authorization page (audited: "login" / "login-failed").
  Result<UserAccount> Login(const std::string& user, const std::string& password,
                            const std::string& totp, const std::string& remote);
  Result<std::string> NewSession(const std::string& user, LoginSession* out);  // returns the id
  // The session, refreshed (idle timeout restarts); nullopt if unknown or idle too long.
  Result<std::optional<LoginSession>> GetSession(const std::string& sid);
  Status EndSession(const std::string& sid);

  // A one-time code for an approved request. `patient`: the chosen "Patient/<id>" or "".
  // Errors: kInvalid (patient needed but missing or unknown).
  Result<std::string> IssueCode(const AuthorizeRequest& req, const UserAccount& user,
                                const std::string& patient, const std::string& remote);

  // POST /auth/token. `token_url`: this endpoint's URL (the audience of client assertions).
  OAuthReply Token(const Params& form, const std::string& token_url, const std::string& remote);
  // RFC 7662: {"active": false} or the token's details.
  boost::json::object Introspect(const std::string& token);
  // RFC 7009: revokes an access or refresh token (a refresh token's current access token too).
  // `client_id`: the caller (only its own tokens), "" for an administrator (any token).
  Status Revoke(const std::string& token, const std::string& client_id, const std::string& remote);

  // Authenticates a private_key_jwt client from form's client_assertion (RFC 7523, SMART Backend
  // Services: iss = sub = client_id, aud = `audience`, exp within 5 minutes, jti used once, RS384
  // or ES384 with a registered key). Errors: kUnauthenticated saying what is wrong, kInvalid.
  Result<OAuthClient> AuthenticateClient(const Params& form, const std::string& audience) {
    return CheckAssertion(form, audience);
  }

  // The Principal of an access token; kUnauthenticated if unknown, expired, revoked or its user
  // is disabled or gone (cached: see above).
  Result<Principal> PrincipalOf(const std::string& access_token) const;
  static constexpr int kTokenCacheSeconds = 2;

 private:
  struct Issued;
  Result<Issued> IssueTokens(const std::string& user, const std::string& client_id,
                             const std::vector<std::string>& scopes, const std::string& patient,
                             const std::string& grant, bool with_refresh,
                             const std::vector<std::string>& refresh_scopes);
  Result<OAuthClient> CheckAssertion(const Params& form, const std::string& token_url);
  void Audit(const std::string& who, const std::string& action, const std::string& id, int status,
             const std::string& remote, const std::string& detail);

  void ForgetTokens() const;  // drops every cached token (revocation, client change)
  // PrincipalOf without the cache; *exp_us: the token's expiry.
  Result<Principal> PrincipalFromStore(const std::string& token_hash, int64_t now,
                                       int64_t* exp_us) const;

  store::Store& store_;
  Accounts& accounts_;
  AuditSink audit_;
  const Clock& clock_;
  struct CachedToken {
    Principal who;
    int64_t until_us = 0;      // min(cached + 2 s, the token's expiry)
    uint64_t account_gen = 0;  // accounts_.changes() before the token was read
    uint64_t forget_gen = 0;   // forget_gen_ before the token was read
  };
  static constexpr size_t kMaxCachedTokens = 10000;
  mutable std::mutex cache_mu_;
  mutable uint64_t forget_gen_ = 0;  // under cache_mu_: bumped by ForgetTokens
  mutable std::unordered_map<std::string, CachedToken> tokens_;  // token hash -> Principal
};

// Authenticator for a server with users: administrator bearer tokens (TokenAuthenticator) first,
// then OAuth2 access tokens.
class OAuthAuthenticator final : public Authenticator {
 public:
  OAuthAuthenticator(std::unique_ptr<TokenAuthenticator> admin, const OAuthServer& oauth)
      : admin_(std::move(admin)), oauth_(oauth) {}
  Result<Principal> Authenticate(std::string_view authorization) const override;

 private:
  std::unique_ptr<TokenAuthenticator> admin_;
  const OAuthServer& oauth_;
};

// "Bearer <token>" -> token; nullopt if the header is not a bearer credential.
std::optional<std::string> BearerToken(std::string_view authorization);

}  // namespace benhan::security
