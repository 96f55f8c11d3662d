// OAuth2 authorization server with SMART App Launch (v1 and v2 scopes): registered clients,
// login sessions, authorization codes with PKCE (S256 only), access and refresh tokens (refresh
// rotation), client credentials with a signed JWT assertion (private_key_jwt, RS384/ES384, SMART
// Backend Services), confidential clients with a server-generated secret (client_secret_basic,
// client_secret_post), dynamic client registration (RFC 7591), OpenID Connect id_tokens (ES256,
// the key's public half at the JWKS endpoint), EHR launch contexts (`launch`), token
// introspection (RFC 7662) and revocation (RFC 7009). HTTP-agnostic: api/oauth_api turns requests
// into these calls.
//
// Tokens, client secrets and launch ids are opaque random strings (256 bits, launch ids 192);
// the store keeps only their SHA-256 hashes (key-value namespaces "at" access, "rt" refresh,
// "code", "session", "jti", "client", "launch"), so a revocation is a deleted row. The id_token
// signing key (EC P-256) is made on first use and kept in namespace "oidc" so that every server
// of a cluster signs with the same key. A validated access token's Principal is kept in memory for
// at most kTokenCacheSeconds (2 s), keyed by the token itself (compared in constant time; like
// the hashes, tokens are never written anywhere), so that a stream of requests neither reads the
// store nor hashes the token for each one: a revocation, client change or account change made
// through this server takes effect at the next request; one made elsewhere (the CLI, another server
// on the same PostgreSQL) within 2 s.
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
#include <string_view>
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
  // authorization codes); "client_secret_basic" / "client_secret_post": a confidential client
  // sending the server-generated secret in HTTP Basic or in the form (RFC 6749 2.3.1).
  std::string auth_method = "none";
  std::vector<std::string> redirect_uris;  // exact match
  std::vector<std::string> scopes;         // the most this client may be granted
  boost::json::array jwks;                 // public JWKs (private_key_jwt)
  std::string role = "system";             // Principal role of client-credentials tokens
  bool disabled = false;
  // SHA-256 (hex) of the client secret (client_secret_*); the secret itself is shown once.
  std::string secret_hash;
  // Grants this client may use; empty = by auth method (none: authorization_code,
  // refresh_token; confidential: those and client_credentials). Set by dynamic registration.
  std::vector<std::string> grant_types;
  std::string registered_by;  // "cli", "admin" (registration API), "open" (open registration)
  int64_t issued_at = 0;      // Unix seconds (client_id_issued_at)

  bool Confidential() const { return auth_method != "none"; }
  bool AllowsGrant(std::string_view grant) const;
};

// Client authentication methods at the token, introspection and revocation endpoints.
inline constexpr std::string_view kClientAuthMethods[] = {"none", "client_secret_basic",
                                                          "client_secret_post", "private_key_jwt"};

// A validated authorization request (GET /auth/authorize).
struct AuthorizeRequest {
  std::string client_id;
  std::string client_name;
  std::string redirect_uri;
  std::vector<std::string> scopes;
  std::string state;
  std::string code_challenge;
  std::string nonce;           // OpenID Connect: echoed in the id_token
  std::string fhir_base;       // the FHIR base the app asked for (fhirUser is a URL under it)
  std::string launch;          // EHR launch id ("" for a standalone launch)
  bool wants_patient = false;  // launch/patient or a patient/ scope: a patient must be chosen
};

// An EHR launch context (POST /auth/launch): what the EHR user had open when launching an app.
struct LaunchContext {
  std::string user;       // the account that created it; only it can use the launch id
  std::string patient;    // "Patient/<id>"
  std::string encounter;  // "Encounter/<id>" or ""
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
  // scope or key (or a client_secret_* client without secret_hash: NewClientSecret first).
  Status AddClient(const OAuthClient& c);
  // A new random secret (256 bits, base64url) for `c`: sets c.secret_hash and returns the secret,
  // which is not kept anywhere (PutClient/AddClient to store the hash).
  static std::string NewClientSecret(OAuthClient& c);

  // RFC 7591 dynamic registration of `metadata` (a client metadata JSON object). `admin`: the
  // caller is an administrator (any auth method, system scopes); otherwise (open registration)
  // only public apps. Returns the client information response (client_id, client_secret once
  // for client_secret_* clients, the registered metadata) or an OAuth error reply (400
  // invalid_redirect_uri / invalid_client_metadata, 503). Audited as "client-register".
  OAuthReply RegisterClient(const boost::json::object& metadata, bool admin, const std::string& who,
                            const std::string& remote);
  Result<OAuthClient> GetClient(const std::string& id) const;
  Result<std::vector<OAuthClient>> ListClients() const;
  Status PutClient(const OAuthClient& c);  // replace (keys, scopes, disable)
  Status RemoveClient(const std::string& id);

  // The .well-known/smart-configuration document for a server whose FHIR base is `fhir_base`
  // and whose authorization endpoints are under `auth_base` ("https://host/auth").
  boost::json::object SmartConfiguration(const std::string& auth_base) const;
  // OpenID Connect discovery (/.well-known/openid-configuration); issuer = `auth_base`.
  boost::json::object OpenIdConfiguration(const std::string& auth_base) const;
  // {"keys": [the id_token signing key's public JWK]}; makes the key on first use.
  Result<boost::json::object> Jwks();

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
  // With req.launch the launch id is used up here and its context gives the patient and
  // encounter. Errors: kInvalid (patient needed but missing or unknown; launch id unknown,
  // expired or used), kForbidden (the launch id was made by another user).
  Result<std::string> IssueCode(const AuthorizeRequest& req, const UserAccount& user,
                                const std::string& patient, const std::string& remote);

  // POST /auth/token. `token_url`: this endpoint's URL (the audience of client assertions; the
  // id_token issuer is it without "/token"). `authorization`: the request's Authorization header
  // ("Basic ..." for client_secret_basic) or "".
  OAuthReply Token(const Params& form, const std::string& token_url, const std::string& remote,
                   std::string_view authorization = {});

  // Who calls the token, introspection or revocation endpoint: HTTP Basic (client_secret_basic),
  // client_id + client_secret in the form (client_secret_post), a client assertion
  // (private_key_jwt; `audiences`: the URLs accepted as its aud), or only client_id (a public
  // client: *authenticated false). Exactly one method; the one the client registered. Errors:
  // kUnauthenticated (unknown client, wrong secret, bad assertion, wrong method) saying what.
  Result<OAuthClient> AuthenticateCaller(const Params& form, std::string_view authorization,
                                         const std::vector<std::string>& audiences,
                                         bool* authenticated);

  // EHR launch: a single-use launch id (192 bits) for `ctx` (patient required and stored,
  // encounter optional and of that patient), valid `launch_seconds`. Errors: kInvalid (no such
  // patient or encounter), kForbidden (not a user account). Audited as "launch-context".
  Result<std::string> NewLaunch(const LaunchContext& ctx, const std::string& remote);
  static constexpr int kLaunchSeconds = 300;
  // RFC 7662: {"active": false} or the token's details.
  boost::json::object Introspect(const std::string& token);
  // RFC 7009: revokes an access or refresh token (a refresh token's current access token too).
  // `client_id`: the caller (only its own tokens), "" for an administrator (any token).
  Status Revoke(const std::string& token, const std::string& client_id, const std::string& remote);

  // Authenticates a private_key_jwt client from form's client_assertion (RFC 7523, SMART Backend
  // Services: iss = sub = client_id, aud = `audience`, exp within 5 minutes, jti used once, RS384
  // or ES384 with a registered key). Errors: kUnauthenticated saying what is wrong, kInvalid.
  Result<OAuthClient> AuthenticateClient(const Params& form, const std::string& audience) {
    return CheckAssertion(form, {audience});
  }

  // The Principal of an access token; kUnauthenticated if unknown, expired, revoked or its user
  // is disabled or gone (cached: see above).
  Result<Principal> PrincipalOf(const std::string& access_token) const;
  // The parts of PrincipalOf, for an authenticator that also knows other tokens and hashes a
  // token once for all (the caller checks kMaxTokenBytes): the cached Principal of a token
  // (nullopt: not cached or the entry is stale), and PrincipalOf for a token whose SHA-256 hex is
  // `token_hash`.
  std::optional<Principal> CachedPrincipal(const std::string& token) const;
  Result<Principal> PrincipalOfHashed(const std::string& token,
                                      const std::string& token_hash) const;
  static constexpr size_t kMaxTokenBytes = 512;
  static constexpr int kTokenCacheSeconds = 2;

 private:
  struct Issued;
  Result<Issued> IssueTokens(const std::string& user, const std::string& client_id,
                             const std::vector<std::string>& scopes, const std::string& patient,
                             const std::string& grant, bool with_refresh,
                             const std::vector<std::string>& refresh_scopes,
                             const boost::json::object& extra = {});
  // The signed id_token for `user` (openid scope), or "" without openid. `issuer`: the auth base.
  Result<std::string> IdToken(const std::string& user, const std::string& client_id,
                              const std::vector<std::string>& scopes, const std::string& issuer,
                              const std::string& fhir_base, const std::string& nonce);
  struct SigningKey {
    std::string pem;
    std::string kid;
    boost::json::object jwk;
  };
  Result<SigningKey> OidcKey();
  Result<OAuthClient> CheckAssertion(const Params& form, const std::vector<std::string>& audiences);
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
  mutable std::unordered_map<std::string, CachedToken, std::hash<std::string>, SameTokenBytes>
      tokens_;  // under cache_mu_: token -> Principal
  std::mutex key_mu_;
  std::optional<SigningKey> key_;  // under key_mu_: the id_token key, once read or made
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

// "Basic base64(formencode(id) ":" formencode(secret))" (RFC 6749 2.3.1; the scheme name is not
// checked here) -> id and secret; false if malformed or the id is empty.
bool ParseBasicCredentials(std::string_view authorization, std::string* id, std::string* secret);

// Checks RFC 7591 client metadata `m` (what OAuthServer::RegisterClient registers): the client
// without id, secret or issue time, and the response types in `*response_types`. `admin`: see
// RegisterClient. Errors: kInvalid with a Vietnamese-first description and `*oauth_error` set to
// "invalid_redirect_uri" or "invalid_client_metadata". Pure.
Result<OAuthClient> ClientFromMetadata(const boost::json::object& m, bool admin,
                                       std::string* oauth_error,
                                       std::vector<std::string>* response_types);

// "Bearer <token>" -> token; nullopt if the header is not a bearer credential.
std::optional<std::string> BearerToken(std::string_view authorization);

}  // namespace benhan::security
