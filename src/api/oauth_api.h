// OAuthApi: the HTTP face of security::OAuthServer (OAuth2 authorization server, SMART App
// Launch). Routes (outside the FHIR route table; no bearer token needed):
//   GET  /fhir/.well-known/smart-configuration   SMART discovery document
//   GET  /.well-known/openid-configuration        OpenID Connect discovery (also under /auth/)
//   GET  /auth/jwks                               the id_token signing key (JWKS)
//   GET  /auth/authorize                         login page, then consent page (HTML, Vietnamese
//   POST /auth/authorize                           first); redirects back with ?code=&state=
//   POST /auth/token                             authorization_code (+PKCE S256), refresh_token
//                                                  (rotated), client_credentials; clients
//                                                  authenticate with HTTP Basic, client_secret in
//                                                  the form or a client assertion (or are public)
//   POST /auth/introspect                        RFC 7662 (caller: administrator token, a system
//                                                  client's token, or a confidential client's
//                                                  secret or assertion)
//   POST /auth/revoke                            RFC 7009
//   POST /auth/register                          RFC 7591 dynamic client registration (the
//                                                  administrator token; without a token public
//                                                  apps only, when auth.open_registration is on)
//   POST /auth/launch                            EHR launch: a user's bearer token and JSON
//                                                  {"patient", "encounter"?} -> {"launch"}
//   POST /auth/logout                            ends the login session
// The login session is a cookie (HttpOnly, SameSite=Lax, Secure and "__Host-" prefixed under
// TLS) whose id the store keeps hashed, with the idle timeout auth.session_idle_minutes.
//
// Thread-safety: Handle() is thread-safe.
#pragma once

#include <string>

#include "api/http_server.h"
#include "security/auth.h"
#include "security/oauth.h"

namespace benhan::api {

struct OAuthApiOptions {
  std::string base_url;  // public FHIR base URL ("https://host/fhir"); "" = from the Host header
  bool tls = false;      // served over HTTPS: Secure cookies, https URLs
};

class OAuthApi {
 public:
  OAuthApi(security::OAuthServer& oauth, const security::Authenticator& auth,
           OAuthApiOptions options);
  // Serves the request if its path is one of the routes above; false otherwise.
  bool Handle(const HttpRequest& req, HttpResponse& res);

 private:
  std::string Origin(const HttpRequest& req) const;  // "https://host"
  std::string FhirBase(const HttpRequest& req) const;
  void Authorize(const HttpRequest& req, HttpResponse& res);
  void Token(const HttpRequest& req, HttpResponse& res);
  void Introspect(const HttpRequest& req, HttpResponse& res);
  void Revoke(const HttpRequest& req, HttpResponse& res);
  void Logout(const HttpRequest& req, HttpResponse& res);
  void Register(const HttpRequest& req, HttpResponse& res);
  void Launch(const HttpRequest& req, HttpResponse& res);
  std::string CookieName() const;

  security::OAuthServer& oauth_;
  const security::Authenticator& auth_;
  OAuthApiOptions opts_;
};

}  // namespace benhan::api
