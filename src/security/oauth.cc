#include "security/oauth.h"

#include <boost/json.hpp>

#include "core/ids.h"
#include "security/crypto.h"
#include "security/scopes.h"

namespace benhan::security {
namespace json = boost::json;
namespace {

constexpr int64_t kSecond = 1000000;
// Said instead of a storage error (whose text names tables and files).
constexpr const char* kUnavailable = "the server cannot reach its database now; try again";
constexpr const char* kJwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

std::string Str(const json::object& o, std::string_view k) {
  auto it = o.find(k);
  return it != o.end() && it->value().is_string() ? std::string(it->value().as_string()) : "";
}
int64_t Int(const json::object& o, std::string_view k) {
  auto it = o.find(k);
  if (it == o.end()) return 0;
  if (it->value().is_int64()) return it->value().as_int64();
  if (it->value().is_uint64()) return static_cast<int64_t>(it->value().as_uint64());
  if (it->value().is_double()) return static_cast<int64_t>(it->value().as_double());
  return 0;
}
std::string Get(const Params& p, const std::string& k) {
  auto it = p.find(k);
  return it == p.end() ? "" : it->second;
}
Result<json::object> ParseObject(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return Status(Code::kInternal, "corrupt security record");
  return std::move(v.as_object());
}

OAuthReply Error(int status, std::string error, std::string description) {
  OAuthReply r;
  r.status = status;
  r.body = {{"error", std::move(error)}, {"error_description", std::move(description)}};
  return r;
}

// A failed client authentication: 401 invalid_client with what is wrong, or 503 without the text
// of a storage error.
OAuthReply ClientError(const Status& st) {
  if (st.code() == Code::kUnauthenticated || st.code() == Code::kInvalid)
    return Error(401, "invalid_client", st.message());
  return Error(503, "temporarily_unavailable", kUnavailable);
}

bool ValidClientId(std::string_view id) {
  if (id.size() < 2 || id.size() > 64) return false;
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'))
      return false;
  }
  return true;
}

// RFC 7636: 43..128 characters of [A-Za-z0-9-._~].
bool ValidVerifier(std::string_view v) {
  if (v.size() < 43 || v.size() > 128) return false;
  for (char c : v) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
          c == '~'))
      return false;
  }
  return true;
}

json::array StrArray(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& x : v) a.emplace_back(x);
  return a;
}

std::string ClientToJson(const OAuthClient& c) {
  json::array uris, scopes;
  for (const auto& u : c.redirect_uris) uris.emplace_back(u);
  for (const auto& s : c.scopes) scopes.emplace_back(s);
  return json::serialize(json::object{{"id", c.id},
                                      {"name", c.name},
                                      {"auth_method", c.auth_method},
                                      {"redirect_uris", uris},
                                      {"scopes", scopes},
                                      {"jwks", c.jwks},
                                      {"role", c.role},
                                      {"disabled", c.disabled},
                                      {"secret_hash", c.secret_hash},
                                      {"grant_types", StrArray(c.grant_types)},
                                      {"registered_by", c.registered_by},
                                      {"issued_at", c.issued_at}});
}

Result<OAuthClient> ClientFromJson(const std::string& text) {
  ASSIGN_OR_RETURN(json::object o, ParseObject(text));
  OAuthClient c;
  c.id = Str(o, "id");
  c.name = Str(o, "name");
  c.auth_method = Str(o, "auth_method");
  c.role = Str(o, "role");
  if (auto it = o.find("redirect_uris"); it != o.end() && it->value().is_array())
    for (const auto& u : it->value().as_array())
      if (u.is_string()) c.redirect_uris.emplace_back(u.as_string());
  if (auto it = o.find("scopes"); it != o.end() && it->value().is_array())
    for (const auto& u : it->value().as_array())
      if (u.is_string()) c.scopes.emplace_back(u.as_string());
  if (auto it = o.find("jwks"); it != o.end() && it->value().is_array())
    c.jwks = it->value().as_array();
  if (auto it = o.find("disabled"); it != o.end() && it->value().is_bool())
    c.disabled = it->value().as_bool();
  c.secret_hash = Str(o, "secret_hash");
  if (auto it = o.find("grant_types"); it != o.end() && it->value().is_array())
    for (const auto& u : it->value().as_array())
      if (u.is_string()) c.grant_types.emplace_back(u.as_string());
  c.registered_by = Str(o, "registered_by");
  c.issued_at = Int(o, "issued_at");
  return c;
}

bool ValidScopeToken(std::string_view s) {
  if (s == "openid" || s == "fhirUser" || s == "profile" || s == "offline_access" ||
      s == "online_access" || s == "launch/patient" || s == "launch")
    return true;
  return ParseSmartScope(s).has_value();
}

bool WantsPatient(const std::vector<std::string>& scopes) {
  for (const auto& s : scopes)
    if (s == "launch/patient" || s.rfind("patient/", 0) == 0) return true;
  return false;
}

bool WantsRefresh(const std::vector<std::string>& scopes) {
  for (const auto& s : scopes)
    if (s == "offline_access" || s == "online_access") return true;
  return false;
}

bool Has(const std::vector<std::string>& v, std::string_view x) {
  for (const auto& s : v)
    if (s == x) return true;
  return false;
}

bool IsSecretMethod(std::string_view m) {
  return m == "client_secret_basic" || m == "client_secret_post";
}

// https, or http on a loopback address (RFC 8252 7.3), without fragment or whitespace.
bool ValidRedirectUri(const std::string& u) {
  bool https = u.rfind("https://", 0) == 0 && u.size() > 8;
  bool loopback = u.rfind("http://127.0.0.1", 0) == 0 || u.rfind("http://localhost", 0) == 0 ||
                  u.rfind("http://[::1]", 0) == 0;
  if ((!https && !loopback) || u.size() > 2000 || u.find('#') != std::string::npos) return false;
  for (char c : u)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return false;
  return true;
}

// "%XX" and '+' of an application/x-www-form-urlencoded value; nullopt if malformed.
std::optional<std::string> FormDecode(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out += ' ';
    } else if (in[i] == '%') {
      if (i + 2 >= in.size() || !std::isxdigit(static_cast<unsigned char>(in[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(in[i + 2])))
        return std::nullopt;
      out += static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

}  // namespace

bool ParseBasicCredentials(std::string_view authorization, std::string* id, std::string* secret) {
  if (authorization.size() < 6) return false;
  std::string b64(authorization.substr(6));
  while (!b64.empty() && b64.front() == ' ') b64.erase(0, 1);
  while (!b64.empty() && (b64.back() == ' ' || b64.back() == '\r')) b64.pop_back();
  if (b64.empty() || b64.size() > 2048) return false;
  for (char& c : b64) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  auto raw = Base64UrlDecode(b64);
  if (!raw) return false;
  size_t colon = raw->find(':');
  if (colon == std::string::npos) return false;
  auto i = FormDecode(std::string_view(*raw).substr(0, colon));
  auto s = FormDecode(std::string_view(*raw).substr(colon + 1));
  if (!i || !s || i->empty()) return false;
  *id = std::move(*i);
  *secret = std::move(*s);
  return true;
}

namespace {

bool IsBasic(std::string_view authorization) {
  if (authorization.size() < 6) return false;
  std::string head(authorization.substr(0, 6));
  for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return head == "basic ";
}

// RFC 7638 JWK thumbprint (base64url SHA-256) of an EC public key.
std::string Thumbprint(const json::object& jwk) {
  std::string canon = "{\"crv\":\"" + Str(jwk, "crv") + "\",\"kty\":\"" + Str(jwk, "kty") +
                      "\",\"x\":\"" + Str(jwk, "x") + "\",\"y\":\"" + Str(jwk, "y") + "\"}";
  return Base64UrlEncode(Sha256(canon));
}

constexpr const char* kClientAuthFailed =
    "Xác thực ứng dụng thất bại / client authentication failed";

}  // namespace

struct OAuthServer::Issued {
  json::object body;
};

OAuthServer::OAuthServer(store::Store& store, Accounts& accounts, AuditSink audit,
                         const Clock& clock)
    : store_(store), accounts_(accounts), audit_(std::move(audit)), clock_(clock) {}

void OAuthServer::Audit(const std::string& who, const std::string& action, const std::string& id,
                        int status, const std::string& remote, const std::string& detail) {
  if (!audit_) return;
  store::AuditRecord r;
  r.time_us = clock_.NowMicros();
  r.principal = who;
  r.action = action;
  r.type = "";
  r.id = id;
  r.status = status;
  r.remote = remote;
  r.detail = detail;
  audit_(std::move(r));
}

// ---- clients ----

bool OAuthClient::AllowsGrant(std::string_view grant) const {
  if (!grant_types.empty()) {
    for (const auto& g : grant_types)
      if (g == grant) return true;
    return false;
  }
  if (grant == "authorization_code" || grant == "refresh_token") return true;
  return grant == "client_credentials" && Confidential();
}

std::string OAuthServer::NewClientSecret(OAuthClient& c) {
  std::string secret = RandomToken(32);
  c.secret_hash = Sha256Hex(secret);
  return secret;
}

Status OAuthServer::AddClient(const OAuthClient& c) {
  if (!ValidClientId(c.id))
    return Status(Code::kInvalid, "invalid client id '" + c.id + "' (2-64 of A-Z a-z 0-9 . _ -)");
  ASSIGN_OR_RETURN(auto existing, store_.KvGet("client", c.id));
  if (existing) return Status(Code::kConflict, "client '" + c.id + "' already exists");
  return PutClient(c);
}

Status OAuthServer::PutClient(const OAuthClient& c) {
  bool known_method = false;
  for (auto m : kClientAuthMethods) known_method = known_method || c.auth_method == m;
  if (!known_method)
    return Status(Code::kInvalid,
                  "auth method must be none, client_secret_basic, client_secret_post or "
                  "private_key_jwt");
  if (IsSecretMethod(c.auth_method) != !c.secret_hash.empty() ||
      (!c.secret_hash.empty() && c.secret_hash.size() != 64))
    return Status(Code::kInvalid, IsSecretMethod(c.auth_method)
                                      ? "a client_secret_* client needs its secret's hash"
                                      : "only client_secret_* clients have a secret");
  for (const auto& g : c.grant_types) {
    if (g != "authorization_code" && g != "refresh_token" && g != "client_credentials")
      return Status(Code::kInvalid, "unknown grant type '" + g + "'");
  }
  if (c.auth_method == "none" && c.AllowsGrant("client_credentials"))
    return Status(Code::kInvalid, "client_credentials needs a confidential client");
  if (c.auth_method == "none" && c.redirect_uris.empty())
    return Status(Code::kInvalid, "a public app needs at least one redirect URI (--redirect)");
  for (const auto& u : c.redirect_uris) {
    if (!ValidRedirectUri(u))
      return Status(Code::kInvalid, "redirect URI '" + u +
                                        "' must be https (or http on loopback), without fragment");
  }
  if (c.scopes.empty())
    return Status(Code::kInvalid, "a client needs its allowed scopes (--scope)");
  for (const auto& s : c.scopes)
    if (!ValidScopeToken(s)) return Status(Code::kInvalid, "unknown scope '" + s + "'");
  for (const auto& k : c.jwks) {
    if (!k.is_object()) return Status(Code::kInvalid, "a JWKS key is not an object");
    // Checks that the key is usable: verify a dummy token and expect a signature failure only.
    Jwt probe;
    std::string kty = Str(k.as_object(), "kty");
    probe.alg = kty == "EC" ? (Str(k.as_object(), "crv") == "P-256" ? "ES256" : "ES384") : "RS384";
    if (!Str(k.as_object(), "alg").empty()) probe.alg = Str(k.as_object(), "alg");
    probe.signing_input = "x.y";
    probe.signature = std::string(probe.alg == "ES256" ? 64 : 96, '\1');
    Status st = VerifyJwt(probe, k.as_object());
    if (st.code() == Code::kInvalid) return Status(Code::kInvalid, "unusable key: " + st.message());
  }
  if (c.auth_method == "private_key_jwt" && c.jwks.empty())
    return Status(Code::kInvalid, "a private_key_jwt client needs its public key (--jwks FILE)");
  Status st = store_.KvPut("client", c.id, ClientToJson(c));
  ForgetTokens();  // a disabled client's tokens stop at once
  return st;
}

Result<OAuthClient> OAuthServer::GetClient(const std::string& id) const {
  ASSIGN_OR_RETURN(auto v, store_.KvGet("client", id));
  if (!v) return Status(Code::kNotFound, "no client '" + id + "'");
  return ClientFromJson(*v);
}

Result<std::vector<OAuthClient>> OAuthServer::ListClients() const {
  ASSIGN_OR_RETURN(auto rows, store_.KvList("client"));
  std::vector<OAuthClient> out;
  for (const auto& r : rows) {
    ASSIGN_OR_RETURN(auto c, ClientFromJson(r.value));
    out.push_back(std::move(c));
  }
  return out;
}

Status OAuthServer::RemoveClient(const std::string& id) {
  ASSIGN_OR_RETURN(auto v, store_.KvTake("client", id));
  ForgetTokens();
  if (!v) return Status(Code::kNotFound, "no client '" + id + "'");
  return Status::Ok();
}

// ---- dynamic client registration (RFC 7591) ----

Result<OAuthClient> ClientFromMetadata(const json::object& m, bool admin, std::string* oauth_error,
                                       std::vector<std::string>* response_types) {
  auto refuse = [&](std::string error, std::string desc) {
    *oauth_error = std::move(error);
    return Status(Code::kInvalid, std::move(desc));
  };
  auto meta = [&](std::string desc) { return refuse("invalid_client_metadata", std::move(desc)); };
  // A string array member (absent: `dflt`); false if it is not an array of strings.
  auto strings = [&](std::string_view k, std::vector<std::string> dflt,
                     std::vector<std::string>* out) {
    auto it = m.find(k);
    if (it == m.end()) {
      *out = std::move(dflt);
      return true;
    }
    if (!it->value().is_array()) return false;
    out->clear();
    for (const auto& v : it->value().as_array()) {
      if (!v.is_string() || v.as_string().empty()) return false;
      std::string x(v.as_string());
      if (!Has(*out, x)) out->push_back(std::move(x));
    }
    return true;
  };
  auto string = [&](std::string_view k, std::string* out) {
    auto it = m.find(k);
    if (it == m.end()) return true;
    if (!it->value().is_string()) return false;
    *out = std::string(it->value().as_string());
    return true;
  };
  OAuthClient c;
  std::string scope;
  c.auth_method = "client_secret_basic";  // RFC 7591 2: the default
  if (!string("client_name", &c.name) || c.name.size() > 200)
    return meta(
        "client_name phải là chuỗi tối đa 200 ký tự / client_name must be a string of "
        "at most 200 characters");
  if (!string("token_endpoint_auth_method", &c.auth_method) || !string("scope", &scope))
    return meta(
        "token_endpoint_auth_method và scope phải là chuỗi / token_endpoint_auth_method "
        "and scope must be strings");
  bool known_method = false;
  for (auto x : kClientAuthMethods) known_method = known_method || c.auth_method == x;
  if (!known_method)
    return meta("token_endpoint_auth_method '" + c.auth_method +
                "' không được hỗ trợ / is not supported (none, client_secret_basic, "
                "client_secret_post, private_key_jwt)");
  std::vector<std::string> grants;
  std::vector<std::string>& responses = *response_types;
  if (!strings("grant_types", {"authorization_code"}, &grants) || grants.empty())
    return meta("grant_types phải là mảng chuỗi / grant_types must be an array of strings");
  for (const auto& g : grants)
    if (g != "authorization_code" && g != "refresh_token" && g != "client_credentials")
      return meta("grant_type '" + g + "' không được hỗ trợ / is not supported");
  bool code = Has(grants, "authorization_code");
  bool system = Has(grants, "client_credentials");
  if (!strings("response_types",
               code ? std::vector<std::string>{"code"} : std::vector<std::string>{}, &responses))
    return meta("response_types phải là mảng chuỗi / response_types must be an array of strings");
  for (const auto& r : responses)
    if (r != "code") return meta("response_type '" + r + "' không được hỗ trợ / is not supported");
  if (code != Has(responses, "code"))
    return meta(
        "grant_types authorization_code và response_types code phải đi cùng nhau / "
        "grant type authorization_code and response type code go together");
  if (Has(grants, "refresh_token") && !code)
    return meta(
        "refresh_token chỉ dùng cùng authorization_code / refresh_token needs "
        "authorization_code");
  if (system && c.auth_method == "none")
    return meta(
        "client_credentials cần ứng dụng bảo mật (có xác thực) / client_credentials "
        "needs a confidential client (token_endpoint_auth_method other than none)");
  if (!admin && (c.auth_method != "none" || system))
    return meta(
        "Đăng ký mở chỉ nhận ứng dụng công khai / open registration accepts public apps "
        "only (token_endpoint_auth_method none, authorization_code); confidential "
        "clients need an administrator token");
  if (!strings("redirect_uris", {}, &c.redirect_uris))
    return refuse("invalid_redirect_uri",
                  "redirect_uris phải là mảng chuỗi / redirect_uris must be an array of strings");
  if (code && c.redirect_uris.empty())
    return refuse("invalid_redirect_uri",
                  "Cần ít nhất một redirect_uri / authorization_code needs redirect_uris");
  for (const auto& u : c.redirect_uris)
    if (!ValidRedirectUri(u))
      return refuse("invalid_redirect_uri",
                    "redirect_uri '" + u.substr(0, 200) +
                        "' phải là https (hoặc http trên loopback), không có fragment / must be "
                        "https (or http on a loopback address), without fragment");
  c.scopes = SplitScopes(scope);
  if (c.scopes.empty())
    return meta(
        "Cần scope (các quyền tối đa của ứng dụng) / scope is required (the most this "
        "client may be granted)");
  for (const auto& sc : c.scopes) {
    if (!ValidScopeToken(sc)) return meta("scope '" + sc + "' không hợp lệ / unknown scope");
    bool is_system = sc.rfind("system/", 0) == 0;
    if (is_system && !system)
      return meta("scope '" + sc + "' cần grant client_credentials / needs client_credentials");
    if (!is_system && !code)
      return meta("scope '" + sc + "' cần grant authorization_code / needs authorization_code");
  }
  if (m.contains("jwks_uri"))
    return meta(
        "jwks_uri không được hỗ trợ: máy chủ không tải khoá từ URL, hãy gửi jwks / "
        "jwks_uri is not supported (the server fetches nothing): send the keys in jwks");
  if (auto it = m.find("jwks"); it != m.end()) {
    if (c.auth_method != "private_key_jwt")
      return meta("jwks chỉ dùng với private_key_jwt / jwks is for private_key_jwt clients");
    const json::object* set = it->value().if_object();
    const json::value* keys = set ? set->if_contains("keys") : nullptr;
    if (!keys || !keys->is_array() || keys->as_array().empty() || keys->as_array().size() > 10)
      return meta("jwks phải là {\"keys\": [1-10 khoá]} / jwks must be {\"keys\": [1-10 JWKs]}");
    for (const auto& k : keys->as_array()) {
      if (!k.is_object()) return meta("a jwks key is not an object");
      for (const char* priv : {"d", "p", "q", "dp", "dq", "qi", "k"})
        if (k.as_object().contains(priv))
          return meta("jwks chứa khoá bí mật / jwks holds private key material ('" +
                      std::string(priv) + "'): send public keys only");
    }
    c.jwks = keys->as_array();
  } else if (c.auth_method == "private_key_jwt") {
    return meta("private_key_jwt cần jwks (khoá công khai) / private_key_jwt needs jwks");
  }
  c.grant_types = grants;
  c.registered_by = admin ? "admin" : "open";
  return c;
}

OAuthReply OAuthServer::RegisterClient(const json::object& m, bool admin, const std::string& who,
                                       const std::string& remote) {
  std::string error;
  std::vector<std::string> responses;
  auto meta = [&](std::string desc) {
    Audit(who, "client-register-refused", "", 400, remote, "invalid_client_metadata: " + desc);
    return Error(400, "invalid_client_metadata", std::move(desc));
  };
  auto checked = ClientFromMetadata(m, admin, &error, &responses);
  if (!checked.ok()) {
    Audit(who, "client-register-refused", "", 400, remote,
          error + ": " + checked.status().message());
    return Error(400, error, checked.status().message());
  }
  OAuthClient c = std::move(*checked);
  c.id = "app-" + RandomToken(12);
  if (c.name.empty()) c.name = c.id;
  c.issued_at = clock_.NowMicros() / kSecond;
  std::string secret;
  if (IsSecretMethod(c.auth_method)) secret = NewClientSecret(c);
  Status st = AddClient(c);
  if (st.code() == Code::kInvalid) return meta(st.message());
  if (!st.ok()) return Error(503, "temporarily_unavailable", kUnavailable);
  json::object out{{"client_id", c.id},
                   {"client_id_issued_at", c.issued_at},
                   {"client_name", c.name},
                   {"token_endpoint_auth_method", c.auth_method},
                   {"grant_types", StrArray(c.grant_types)},
                   {"response_types", StrArray(responses)},
                   {"redirect_uris", StrArray(c.redirect_uris)},
                   {"scope", JoinScopes(c.scopes)}};
  if (!c.jwks.empty()) out["jwks"] = json::object{{"keys", c.jwks}};
  if (!secret.empty()) {
    out["client_secret"] = secret;
    out["client_secret_expires_at"] = 0;
  }
  Audit(who, "client-register", c.id, 201, remote, c.auth_method + " " + JoinScopes(c.scopes));
  return OAuthReply{201, std::move(out)};
}

// ---- EHR launch ----

Result<std::string> OAuthServer::NewLaunch(const LaunchContext& ctx, const std::string& remote) {
  auto refuse = [&](Status st) {
    Audit(ctx.user.empty() ? "anonymous" : ctx.user, "launch-context-refused",
          ctx.patient.substr(0, 80), st.code() == Code::kForbidden ? 403 : 400, remote,
          st.message());
    return st;
  };
  auto user = accounts_.Get(ctx.user);
  if (!user.ok() && user.status().code() != Code::kNotFound) return user.status();
  if (!user.ok() || user->disabled)
    return refuse(
        Status(Code::kForbidden,
               "Chỉ tài khoản người dùng mới tạo được ngữ cảnh launch / only a user account "
               "can create a launch context"));
  auto strip = [](std::string v, std::string_view type) {
    if (v.rfind(std::string(type) + "/", 0) == 0) v = v.substr(type.size() + 1);
    return v;
  };
  std::string pid = strip(ctx.patient, "Patient");
  if (pid.empty() || pid.size() > 64)
    return refuse(Status(Code::kInvalid, "Cần mã bệnh nhân / patient is required"));
  auto p = store_.Read("Patient", pid);
  if (!p.ok() && p.status().code() != Code::kNotFound) return p.status();
  if (!p.ok() || p->deleted)
    return refuse(Status(Code::kInvalid, "Không tìm thấy bệnh nhân / no Patient '" + pid + "'"));
  std::string eid = strip(ctx.encounter, "Encounter");
  if (!ctx.encounter.empty()) {
    auto e = eid.size() <= 64 ? store_.Read("Encounter", eid)
                              : Result<store::VersionRecord>(Status(Code::kNotFound, ""));
    if (!e.ok() && e.status().code() != Code::kNotFound) return e.status();
    if (!e.ok() || e->deleted)
      return refuse(
          Status(Code::kInvalid, "Không tìm thấy lượt khám / no Encounter '" + eid + "'"));
    boost::system::error_code ec;
    json::value v = json::parse(e->json, ec);
    std::string subject;
    if (!ec && v.is_object())
      if (const json::value* s = v.as_object().if_contains("subject"); s && s->is_object())
        subject = Str(s->as_object(), "reference");
    if (subject != "Patient/" + pid)
      return refuse(Status(
          Code::kInvalid,
          "Lượt khám Encounter/" + eid + " không thuộc bệnh nhân này / is not this patient's"));
  }
  std::string id = RandomToken(24);
  int64_t exp_us = clock_.NowMicros() + int64_t{kLaunchSeconds} * kSecond;
  json::object rec{{"user", ctx.user},
                   {"patient", "Patient/" + pid},
                   {"encounter", eid.empty() ? "" : "Encounter/" + eid},
                   {"exp", exp_us / kSecond}};
  RETURN_IF_ERROR(store_.KvPut("launch", Sha256Hex(id), json::serialize(rec), exp_us));
  Audit(ctx.user, "launch-context", "Patient/" + pid, 201, remote,
        eid.empty() ? "" : "Encounter/" + eid);
  return id;
}

json::object OAuthServer::SmartConfiguration(const std::string& auth_base) const {
  json::array scopes{"openid",         "fhirUser",       "profile",       "launch",
                     "launch/patient", "offline_access", "online_access", "patient/*.read",
                     "patient/*.rs",   "user/*.read",    "user/*.write",  "user/*.cruds",
                     "system/*.read",  "system/*.rs",    "system/*.cruds"};
  json::array methods;
  for (auto m : kClientAuthMethods) methods.emplace_back(m);
  return json::object{
      {"issuer", auth_base},
      {"jwks_uri", auth_base + "/jwks"},
      {"authorization_endpoint", auth_base + "/authorize"},
      {"token_endpoint", auth_base + "/token"},
      {"introspection_endpoint", auth_base + "/introspect"},
      {"revocation_endpoint", auth_base + "/revoke"},
      {"registration_endpoint", auth_base + "/register"},
      {"token_endpoint_auth_methods_supported", methods},
      {"token_endpoint_auth_signing_alg_values_supported", json::array{"RS384", "ES384"}},
      {"grant_types_supported",
       json::array{"authorization_code", "refresh_token", "client_credentials"}},
      {"response_types_supported", json::array{"code"}},
      {"scopes_supported", scopes},
      {"code_challenge_methods_supported", json::array{"S256"}},
      {"capabilities",
       json::array{"launch-standalone", "launch-ehr", "client-public",
                   "client-confidential-symmetric", "client-confidential-asymmetric",
                   "context-standalone-patient", "context-ehr-patient", "context-ehr-encounter",
                   "sso-openid-connect", "permission-offline", "permission-online",
                   "permission-patient", "permission-user", "permission-v1", "permission-v2"}}};
}

json::object OAuthServer::OpenIdConfiguration(const std::string& auth_base) const {
  json::object c = SmartConfiguration(auth_base);
  c.erase("capabilities");
  c["subject_types_supported"] = json::array{"public"};
  c["id_token_signing_alg_values_supported"] = json::array{"ES256"};
  c["claims_supported"] =
      json::array{"iss", "sub", "aud", "exp", "iat", "nonce", "fhirUser", "preferred_username"};
  c["request_parameter_supported"] = false;
  return c;
}

Result<OAuthServer::SigningKey> OAuthServer::OidcKey() {
  std::lock_guard<std::mutex> l(key_mu_);
  if (key_) return *key_;
  ASSIGN_OR_RETURN(auto pem, store_.KvGet("oidc", "signing-key"));
  if (!pem) {
    ASSIGN_OR_RETURN(std::string made, NewEcPrivateKeyPem());
    RETURN_IF_ERROR(store_.KvPut("oidc", "signing-key", made));
    // Read back: of two servers making a key at once, both use the one written last.
    ASSIGN_OR_RETURN(pem, store_.KvGet("oidc", "signing-key"));
    if (!pem) return Status(Code::kInternal, "the id_token signing key vanished");
  }
  SigningKey k;
  k.pem = *pem;
  ASSIGN_OR_RETURN(k.jwk, PublicJwkOfPem(k.pem, ""));
  k.kid = Thumbprint(k.jwk);
  k.jwk["kid"] = k.kid;
  k.jwk["use"] = "sig";
  key_ = k;
  return k;
}

Result<json::object> OAuthServer::Jwks() {
  ASSIGN_OR_RETURN(SigningKey k, OidcKey());
  return json::object{{"keys", json::array{k.jwk}}};
}

Result<std::string> OAuthServer::IdToken(const std::string& user, const std::string& client_id,
                                         const std::vector<std::string>& scopes,
                                         const std::string& issuer, const std::string& fhir_base,
                                         const std::string& nonce) {
  if (!Has(scopes, "openid") || user.empty()) return std::string();
  ASSIGN_OR_RETURN(UserAccount acct, accounts_.Get(user));
  ASSIGN_OR_RETURN(SigningKey key, OidcKey());
  int64_t now = clock_.NowMicros() / kSecond;
  json::object claims{{"iss", issuer},
                      {"sub", user},
                      {"aud", client_id},
                      {"iat", now},
                      {"exp", now + int64_t{accounts_.settings().access_token_minutes} * 60}};
  if (!nonce.empty()) claims["nonce"] = nonce;
  if (Has(scopes, "fhirUser")) {
    std::string ref = !acct.practitioner.empty() ? acct.practitioner : acct.patient;
    if (!ref.empty() && ref.find('/') == std::string::npos)
      ref = (acct.practitioner.empty() ? "Patient/" : "Practitioner/") + ref;
    if (!ref.empty()) claims["fhirUser"] = fhir_base.empty() ? ref : fhir_base + "/" + ref;
  }
  if (Has(scopes, "profile")) claims["preferred_username"] = user;
  return SignJwt(claims, key.pem, key.kid);
}

// ---- authorization ----

Result<AuthorizeRequest> OAuthServer::CheckAuthorize(const Params& p, const std::string& fhir_base,
                                                     bool* redirectable,
                                                     std::string* oauth_error) const {
  *redirectable = false;
  AuthorizeRequest r;
  r.client_id = Get(p, "client_id");
  r.redirect_uri = Get(p, "redirect_uri");
  auto client = GetClient(r.client_id);
  if (!client.ok() || client->disabled) {
    return Status(Code::kInvalid,
                  "Ứng dụng không được đăng ký / unknown client_id '" + r.client_id + "'");
  }
  if (r.redirect_uri.empty() && client->redirect_uris.size() == 1)
    r.redirect_uri = client->redirect_uris[0];
  bool registered = false;
  for (const auto& u : client->redirect_uris) registered = registered || u == r.redirect_uri;
  if (!registered) {
    return Status(Code::kInvalid,
                  "redirect_uri không khớp với đăng ký / redirect_uri is not registered for "
                  "this client");
  }
  *redirectable = true;
  r.client_name = client->name.empty() ? client->id : client->name;
  r.state = Get(p, "state");
  auto fail = [&](std::string error, std::string msg) -> Status {
    *oauth_error = std::move(error);
    return Status(Code::kInvalid, std::move(msg));
  };
  if (Get(p, "response_type") != "code")
    return fail("unsupported_response_type", "response_type must be code");
  r.code_challenge = Get(p, "code_challenge");
  if (r.code_challenge.empty() || Get(p, "code_challenge_method") != "S256")
    return fail("invalid_request",
                "PKCE is required: code_challenge with code_challenge_method S256");
  if (r.code_challenge.size() != 43 || !Base64UrlDecode(r.code_challenge))
    return fail("invalid_request", "code_challenge is not a base64url SHA-256");
  std::string aud = Get(p, "aud");
  auto trim = [](std::string s) {
    while (!s.empty() && s.back() == '/') s.pop_back();
    return s;
  };
  if (!aud.empty() && trim(aud) != trim(fhir_base))
    return fail("invalid_request", "aud '" + aud + "' is not this FHIR server (" + fhir_base + ")");
  r.fhir_base = trim(aud.empty() ? fhir_base : aud);
  r.nonce = Get(p, "nonce");
  if (r.nonce.size() > 512) return fail("invalid_request", "nonce is longer than 512 characters");
  r.scopes = SplitScopes(Get(p, "scope"));
  if (r.scopes.empty()) return fail("invalid_scope", "scope is required");
  for (const auto& s : r.scopes) {
    if (!ValidScopeToken(s)) return fail("invalid_scope", "unknown scope '" + s + "'");
    if (s.rfind("system/", 0) == 0)
      return fail("invalid_scope", "system scopes need client credentials, not a user login");
  }
  if (!ScopesCovered(client->scopes, r.scopes))
    return fail("invalid_scope", "scope asks more than this client is registered for");
  if (!client->AllowsGrant("authorization_code"))
    return fail("unauthorized_client", "this client is not registered for authorization codes");
  // EHR launch: the launch id from the EHR, with the launch scope; its context gives the patient.
  r.launch = Get(p, "launch");
  bool launch_scope = Has(r.scopes, "launch");
  if (!r.launch.empty() && !launch_scope)
    return fail("invalid_scope",
                "Tham số launch cần scope launch / the launch parameter needs the launch scope");
  if (launch_scope && r.launch.empty())
    return fail("invalid_request",
                "Scope launch cần tham số launch do EHR cấp / the launch scope needs the launch "
                "parameter the EHR gave the app");
  if (!r.launch.empty()) {
    auto ctx = r.launch.size() <= 256 ? store_.KvGet("launch", Sha256Hex(r.launch))
                                      : Result<std::optional<std::string>>(std::nullopt);
    if (!ctx.ok()) return fail("temporarily_unavailable", kUnavailable);
    auto rec = *ctx ? ParseObject(**ctx) : Result<json::object>(Status(Code::kNotFound, ""));
    if (!rec.ok() || Int(*rec, "exp") * kSecond <= clock_.NowMicros())
      return fail("invalid_request",
                  "Mã launch không tồn tại, đã hết hạn hoặc đã dùng / the launch id is unknown, "
                  "expired or already used");
  }
  r.wants_patient = WantsPatient(r.scopes) && r.launch.empty();
  return r;
}

Result<UserAccount> OAuthServer::Login(const std::string& user, const std::string& password,
                                       const std::string& totp, const std::string& remote) {
  auto r = accounts_.Login(user, password, totp);
  if (r.ok()) {
    Audit(user, "login", user, 200, remote, "");
  } else {
    Audit(user, "login-failed", user, r.status().code() == Code::kForbidden ? 403 : 401, remote,
          r.status().message());
  }
  return r;
}

Result<std::string> OAuthServer::NewSession(const std::string& user, LoginSession* out) {
  std::string sid = RandomToken(32);
  out->user = user;
  out->csrf = RandomToken(24);
  int64_t exp =
      clock_.NowMicros() + int64_t{accounts_.settings().session_idle_minutes} * 60 * kSecond;
  RETURN_IF_ERROR(store_.KvPut("session", Sha256Hex(sid),
                               json::serialize(json::object{{"user", user}, {"csrf", out->csrf}}),
                               exp));
  return sid;
}

Result<std::optional<LoginSession>> OAuthServer::GetSession(const std::string& sid) {
  if (sid.empty()) return std::optional<LoginSession>();
  std::string key = Sha256Hex(sid);
  ASSIGN_OR_RETURN(auto v, store_.KvGet("session", key));
  if (!v) return std::optional<LoginSession>();
  ASSIGN_OR_RETURN(json::object o, ParseObject(*v));
  LoginSession s{Str(o, "user"), Str(o, "csrf")};
  int64_t exp =
      clock_.NowMicros() + int64_t{accounts_.settings().session_idle_minutes} * 60 * kSecond;
  RETURN_IF_ERROR(store_.KvPut("session", key, *v, exp));  // sliding idle timeout
  return std::optional<LoginSession>(std::move(s));
}

Status OAuthServer::EndSession(const std::string& sid) {
  return store_.KvTake("session", Sha256Hex(sid)).status();
}

Result<std::string> OAuthServer::IssueCode(const AuthorizeRequest& req, const UserAccount& user,
                                           const std::string& chosen_patient,
                                           const std::string& remote) {
  std::string patient = user.patient;
  std::string encounter;
  if (!req.launch.empty()) {
    ASSIGN_OR_RETURN(auto taken, store_.KvTake("launch", Sha256Hex(req.launch)));
    if (!taken)
      return Status(Code::kInvalid,
                    "Mã launch không tồn tại, đã hết hạn hoặc đã dùng / the launch id is unknown, "
                    "expired or already used");
    ASSIGN_OR_RETURN(json::object ctx, ParseObject(*taken));
    if (Int(ctx, "exp") * kSecond <= clock_.NowMicros())
      return Status(Code::kInvalid, "Mã launch đã hết hạn / the launch id has expired");
    if (Str(ctx, "user") != user.name) {
      Audit(user.name, "authorize-refused", req.client_id, 403, remote,
            "launch of another user (" + Str(ctx, "user") + ")");
      return Status(Code::kForbidden,
                    "Mã launch được tạo cho người dùng khác / the launch id was made by another "
                    "user");
    }
    patient = Str(ctx, "patient");
    encounter = Str(ctx, "encounter");
  } else if (req.wants_patient && patient.empty()) {
    std::string id = chosen_patient;
    if (id.rfind("Patient/", 0) == 0) id = id.substr(8);
    if (id.empty())
      return Status(Code::kInvalid, "Cần chọn bệnh nhân / choose the patient for this app");
    auto rec = store_.Read("Patient", id);
    if (!rec.ok() || rec->deleted)
      return Status(Code::kInvalid, "Không tìm thấy bệnh nhân / no Patient '" + id + "'");
    patient = "Patient/" + id;
  }
  if (!req.wants_patient && req.launch.empty()) patient.clear();
  std::string code = RandomToken(32);
  json::array scopes;
  for (const auto& s : req.scopes) scopes.emplace_back(s);
  int64_t exp_us = clock_.NowMicros() + int64_t{accounts_.settings().code_seconds} * kSecond;
  json::object rec{{"exp", exp_us / kSecond},
                   {"client_id", req.client_id},
                   {"redirect_uri", req.redirect_uri},
                   {"scopes", scopes},
                   {"challenge", req.code_challenge},
                   {"user", user.name},
                   {"patient", patient},
                   {"encounter", encounter},
                   {"nonce", req.nonce},
                   {"fhir_base", req.fhir_base}};
  RETURN_IF_ERROR(store_.KvPut("code", Sha256Hex(code), json::serialize(rec), exp_us));
  Audit(user.name, "authorize", req.client_id, 200, remote, JoinScopes(req.scopes));
  return code;
}

// ---- tokens ----

Result<OAuthServer::Issued> OAuthServer::IssueTokens(
    const std::string& user, const std::string& client_id, const std::vector<std::string>& scopes,
    const std::string& patient, const std::string& grant, bool with_refresh,
    const std::vector<std::string>& refresh_scopes, const json::object& extra) {
  int64_t now = clock_.NowMicros();
  int64_t ttl = int64_t{accounts_.settings().access_token_minutes} * 60;
  std::string at = RandomToken(32);
  std::string at_hash = Sha256Hex(at);
  json::object rec{{"user", user},
                   {"client_id", client_id},
                   {"scope", JoinScopes(scopes)},
                   {"patient", patient},
                   {"grant", grant},
                   {"iat", now / kSecond},
                   {"exp", now / kSecond + ttl}};
  for (const auto& [k, v] : extra) rec[k] = v;
  RETURN_IF_ERROR(store_.KvPut("at", at_hash, json::serialize(rec), now + ttl * kSecond));
  Issued out;
  out.body = {{"access_token", at},
              {"token_type", "Bearer"},
              {"expires_in", ttl},
              {"scope", JoinScopes(scopes)}};
  if (!patient.empty()) out.body["patient"] = patient.substr(patient.find('/') + 1);
  if (std::string enc = Str(extra, "encounter"); !enc.empty())
    out.body["encounter"] = enc.substr(enc.find('/') + 1);
  if (with_refresh) {
    std::string rt = RandomToken(32);
    int64_t rttl = int64_t{accounts_.settings().refresh_token_days} * 86400;
    json::object rr{{"user", user},
                    {"client_id", client_id},
                    {"scope", JoinScopes(refresh_scopes)},
                    {"patient", patient},
                    {"grant", grant},
                    {"at", at_hash},
                    {"exp", now / kSecond + rttl}};
    for (const auto& [k, v] : extra) rr[k] = v;
    RETURN_IF_ERROR(store_.KvPut("rt", Sha256Hex(rt), json::serialize(rr), now + rttl * kSecond));
    out.body["refresh_token"] = rt;
  }
  return out;
}

Result<OAuthClient> OAuthServer::CheckAssertion(const Params& form,
                                                const std::vector<std::string>& audiences) {
  if (Get(form, "client_assertion_type") != kJwtBearer)
    return Status(Code::kUnauthenticated,
                  "client_assertion_type must be " + std::string(kJwtBearer));
  ASSIGN_OR_RETURN(Jwt jwt, ParseJwt(Get(form, "client_assertion")));
  std::string iss = Str(jwt.payload, "iss");
  std::string sub = Str(jwt.payload, "sub");
  if (iss.empty() || iss != sub)
    return Status(Code::kUnauthenticated, "client assertion iss and sub must be the client_id");
  std::string cid = Get(form, "client_id");
  if (!cid.empty() && cid != iss)
    return Status(Code::kUnauthenticated, "client_id differs from the assertion's issuer");
  auto client = GetClient(iss);
  if (!client.ok() || client->disabled || client->auth_method != "private_key_jwt")
    return Status(Code::kUnauthenticated, "unknown client or not a private_key_jwt client");
  const json::object* key = nullptr;
  for (const auto& k : client->jwks) {
    if (!k.is_object()) continue;
    if (jwt.kid.empty() ? client->jwks.size() == 1 : Str(k.as_object(), "kid") == jwt.kid)
      key = &k.as_object();
  }
  if (!key) return Status(Code::kUnauthenticated, "no registered key with kid '" + jwt.kid + "'");
  if (jwt.alg != "RS384" && jwt.alg != "ES384")
    return Status(Code::kUnauthenticated, "client assertions must be RS384 or ES384");
  Status st = VerifyJwt(jwt, *key);
  if (!st.ok()) return Status(Code::kUnauthenticated, st.message());
  // aud: this endpoint or the token endpoint (a string or an array holding one).
  bool aud_ok = false;
  auto accepted = [&](const json::value& a) {
    if (!a.is_string()) return false;
    for (const auto& u : audiences)
      if (a.as_string() == u) return true;
    return false;
  };
  if (auto it = jwt.payload.find("aud"); it != jwt.payload.end()) {
    if (it->value().is_string()) aud_ok = accepted(it->value());
    if (it->value().is_array())
      for (const auto& a : it->value().as_array()) aud_ok = aud_ok || accepted(a);
  }
  if (!aud_ok)
    return Status(Code::kUnauthenticated,
                  "client assertion aud must be " + (audiences.empty() ? "" : audiences[0]));
  int64_t now = clock_.NowMicros() / kSecond;
  int64_t exp = Int(jwt.payload, "exp");
  if (exp <= now - 30) return Status(Code::kUnauthenticated, "client assertion has expired");
  if (exp > now + 330)
    return Status(Code::kUnauthenticated, "client assertion exp is more than 5 minutes ahead");
  std::string jti = Str(jwt.payload, "jti");
  if (jti.empty() || jti.size() > 256)
    return Status(Code::kUnauthenticated, "client assertion needs a jti");
  std::string jkey = Sha256Hex(iss + "\n" + jti);
  ASSIGN_OR_RETURN(auto seen, store_.KvGet("jti", jkey));
  if (seen) return Status(Code::kUnauthenticated, "client assertion jti was already used");
  RETURN_IF_ERROR(store_.KvPut("jti", jkey, "1", (exp + 60) * kSecond));
  return std::move(*client);
}

Result<OAuthClient> OAuthServer::AuthenticateCaller(const Params& form,
                                                    std::string_view authorization,
                                                    const std::vector<std::string>& audiences,
                                                    bool* authenticated) {
  *authenticated = false;
  bool basic = IsBasic(authorization);
  bool post = form.count("client_secret") > 0;
  bool jwt = form.count("client_assertion") > 0 || form.count("client_assertion_type") > 0;
  if (int{basic} + int{post} + int{jwt} > 1)
    return Status(Code::kUnauthenticated,
                  "Chỉ dùng một cách xác thực ứng dụng / use one client authentication method");
  if (jwt) {
    ASSIGN_OR_RETURN(OAuthClient c, CheckAssertion(form, audiences));
    *authenticated = true;
    return c;
  }
  std::string id = Get(form, "client_id");
  std::string secret;
  if (basic) {
    std::string basic_id;
    if (!ParseBasicCredentials(authorization, &basic_id, &secret))
      return Status(Code::kUnauthenticated,
                    "Thông tin HTTP Basic không hợp lệ / malformed HTTP Basic client credentials");
    if (!id.empty() && id != basic_id)
      return Status(Code::kUnauthenticated, "client_id differs from the HTTP Basic user");
    id = basic_id;
  } else if (post) {
    secret = Get(form, "client_secret");
  }
  if (id.empty()) return Status(Code::kUnauthenticated, "Thiếu client_id / client_id is required");
  auto c = GetClient(id);
  if (!c.ok() && c.status().code() != Code::kNotFound) return c.status();
  if (!c.ok() || c->disabled)
    return Status(Code::kUnauthenticated, basic || post ? kClientAuthFailed : "unknown client_id");
  if (!basic && !post) return std::move(*c);  // only client_id: the caller checks Confidential()
  std::string used = basic ? "client_secret_basic" : "client_secret_post";
  if (c->auth_method != used)
    return Status(Code::kUnauthenticated,
                  "client '" + id + "' is registered for " + c->auth_method + ", not " + used);
  if (!ConstantTimeEquals(Sha256Hex(secret), c->secret_hash))
    return Status(Code::kUnauthenticated, kClientAuthFailed);
  *authenticated = true;
  return std::move(*c);
}

OAuthReply OAuthServer::Token(const Params& form, const std::string& token_url,
                              const std::string& remote, std::string_view authorization) {
  std::string grant_type = Get(form, "grant_type");
  const std::string issuer = token_url.size() > 6 && token_url.ends_with("/token")
                                 ? token_url.substr(0, token_url.size() - 6)
                                 : token_url;
  auto audited = [&](const std::string& who, const std::string& client, OAuthReply r) {
    Audit(who.empty() ? "client:" + client : who, r.status == 200 ? "token" : "token-refused",
          client, r.status, remote,
          grant_type + (r.status == 200 ? " " + Str(r.body, "scope")
                                        : ": " + Str(r.body, "error_description")));
    return r;
  };
  if (grant_type == "authorization_code") {
    std::string cid = Get(form, "client_id");
    std::string code = Get(form, "code");
    if (code.empty()) return audited("", cid, Error(400, "invalid_request", "code is required"));
    // A confidential client authenticates first (before the code is used up).
    bool authenticated = false;
    auto client = AuthenticateCaller(form, authorization, {token_url}, &authenticated);
    if (!client.ok()) return audited("", cid, ClientError(client.status()));
    cid = client->id;
    if (client->Confidential() && !authenticated)
      return audited("", cid,
                     Error(401, "invalid_client",
                           "Ứng dụng này phải xác thực (" + client->auth_method +
                               ") / this client must authenticate with " + client->auth_method));
    if (!client->AllowsGrant("authorization_code"))
      return audited("", cid,
                     Error(400, "unauthorized_client",
                           "this client is not registered for authorization codes"));
    auto taken = store_.KvTake("code", Sha256Hex(code));
    if (!taken.ok()) return Error(503, "temporarily_unavailable", kUnavailable);
    if (!*taken)
      return audited(
          "", cid,
          Error(400, "invalid_grant", "authorization code is unknown, expired or already used"));
    auto rec = ParseObject(**taken);
    if (!rec.ok()) return Error(500, "server_error", "corrupt code record");
    if (Int(*rec, "exp") * kSecond <= clock_.NowMicros())
      return audited("", cid, Error(400, "invalid_grant", "authorization code has expired"));
    if (Str(*rec, "client_id") != cid)
      return audited("", cid, Error(400, "invalid_grant", "the code was issued to another client"));
    if (Str(*rec, "redirect_uri") != Get(form, "redirect_uri"))
      return audited(
          "", cid,
          Error(400, "invalid_grant", "redirect_uri differs from the authorization request"));
    std::string verifier = Get(form, "code_verifier");
    if (!ValidVerifier(verifier))
      return audited(
          "", cid, Error(400, "invalid_grant", "code_verifier is missing or malformed (RFC 7636)"));
    if (!ConstantTimeEquals(Base64UrlEncode(Sha256(verifier)), Str(*rec, "challenge")))
      return audited(
          "", cid, Error(400, "invalid_grant", "code_verifier does not match the code_challenge"));
    std::vector<std::string> scopes;
    if (auto it = rec->find("scopes"); it != rec->end() && it->value().is_array())
      for (const auto& s : it->value().as_array())
        if (s.is_string()) scopes.emplace_back(s.as_string());
    std::string user = Str(*rec, "user");
    auto acct = accounts_.Get(user);
    if (!acct.ok() || acct->disabled)
      return audited(user, cid, Error(400, "invalid_grant", "the user's account is not active"));
    json::object extra{{"encounter", Str(*rec, "encounter")},
                       {"fhir_base", Str(*rec, "fhir_base")}};
    auto issued =
        IssueTokens(user, cid, scopes, Str(*rec, "patient"), RandomToken(12),
                    WantsRefresh(scopes) && client->AllowsGrant("refresh_token"), scopes, extra);
    if (!issued.ok()) return Error(503, "temporarily_unavailable", kUnavailable);
    auto id_token = IdToken(user, cid, scopes, issuer, Str(*rec, "fhir_base"), Str(*rec, "nonce"));
    if (!id_token.ok()) return Error(503, "temporarily_unavailable", kUnavailable);
    if (!id_token->empty()) issued->body["id_token"] = *id_token;
    return audited(user, cid, OAuthReply{200, std::move(issued->body)});
  }
  if (grant_type == "refresh_token") {
    std::string cid = Get(form, "client_id");
    bool authenticated = false;
    // A public client may leave client_id out (RFC 6749 6; fhirclient does): see below.
    if (!cid.empty() || IsBasic(authorization) || form.count("client_secret") ||
        form.count("client_assertion") || form.count("client_assertion_type")) {
      auto c = AuthenticateCaller(form, authorization, {token_url}, &authenticated);
      if (!c.ok()) return audited("", cid, ClientError(c.status()));
      cid = c->id;
    }
    std::string rt = Get(form, "refresh_token");
    if (rt.empty())
      return audited("", cid, Error(400, "invalid_request", "refresh_token is required"));
    std::string key = Sha256Hex(rt);
    auto cur = store_.KvGet("rt", key);
    if (!cur.ok()) return Error(503, "temporarily_unavailable", kUnavailable);
    if (!*cur)
      return audited(
          "", cid,
          Error(400, "invalid_grant", "refresh token is unknown, expired, used or revoked"));
    auto rec = ParseObject(**cur);
    if (!rec.ok()) return Error(500, "server_error", "corrupt token record");
    if (Int(*rec, "exp") * kSecond <= clock_.NowMicros())
      return audited("", cid, Error(400, "invalid_grant", "refresh token has expired"));
    std::string owner = Str(*rec, "client_id");
    auto client = GetClient(owner);
    // A public client may leave client_id out (RFC 6749 6; fhirclient does): the token is bound
    // to its client, which must still exist and be enabled.
    if (cid.empty() && client.ok() && client->auth_method == "none") cid = owner;
    if (cid.empty() && client.ok() && client->Confidential())
      return audited("", owner,
                     Error(401, "invalid_client",
                           "Ứng dụng này phải xác thực (" + client->auth_method +
                               ") / this client must authenticate with " + client->auth_method));
    if (!client.ok() || client->disabled || owner != cid)
      return audited("", cid,
                     Error(400, "invalid_grant", "the refresh token was issued to another client"));
    if (client->Confidential() && !authenticated)
      return audited("", cid,
                     Error(401, "invalid_client",
                           "Ứng dụng này phải xác thực (" + client->auth_method +
                               ") / this client must authenticate with " + client->auth_method));
    if (!client->AllowsGrant("refresh_token"))
      return audited(
          "", cid,
          Error(400, "unauthorized_client", "this client is not registered for refresh tokens"));
    std::vector<std::string> granted = SplitScopes(Str(*rec, "scope"));
    std::vector<std::string> wanted = granted;
    if (form.count("scope")) {
      wanted = SplitScopes(Get(form, "scope"));
      if (!ScopesCovered(granted, wanted))
        return audited(Str(*rec, "user"), cid,
                       Error(400, "invalid_scope", "scope asks more than the original grant"));
    }
    auto taken = store_.KvTake("rt", key);  // rotation: the old refresh token is used up
    if (!taken.ok()) return Error(503, "temporarily_unavailable", kUnavailable);
    if (!*taken)
      return audited("", cid, Error(400, "invalid_grant", "refresh token was already used"));
    std::string user = Str(*rec, "user");
    auto acct = accounts_.Get(user);
    if (!acct.ok() || acct->disabled)
      return audited(user, cid, Error(400, "invalid_grant", "the user's account is not active"));
    json::object extra{{"encounter", Str(*rec, "encounter")},
                       {"fhir_base", Str(*rec, "fhir_base")}};
    auto issued = IssueTokens(user, cid, wanted, Str(*rec, "patient"), Str(*rec, "grant"), true,
                              granted, extra);
    if (!issued.ok()) return Error(503, "temporarily_unavailable", kUnavailable);
    auto id_token = IdToken(user, cid, wanted, issuer, Str(*rec, "fhir_base"), "");
    if (!id_token.ok()) return Error(503, "temporarily_unavailable", kUnavailable);
    if (!id_token->empty()) issued->body["id_token"] = *id_token;
    return audited(user, cid, OAuthReply{200, std::move(issued->body)});
  }
  if (grant_type == "client_credentials") {
    bool authenticated = false;
    auto c = AuthenticateCaller(form, authorization, {token_url}, &authenticated);
    if (!c.ok()) return audited("", Get(form, "client_id"), ClientError(c.status()));
    if (!authenticated)
      return audited("", c->id,
                     Error(401, "invalid_client",
                           "client_credentials cần xác thực ứng dụng (client_secret hoặc "
                           "client_assertion) / client_credentials needs client authentication"));
    if (!c->AllowsGrant("client_credentials"))
      return audited("", c->id,
                     Error(400, "unauthorized_client",
                           "this client is not registered for client_credentials"));
    std::vector<std::string> wanted = SplitScopes(Get(form, "scope"));
    if (wanted.empty()) wanted = c->scopes;
    for (const auto& s : wanted) {
      auto p = ParseSmartScope(s);
      if (!p || p->context != "system")
        return audited("", c->id,
                       Error(400, "invalid_scope",
                             "client credentials take system/ scopes only ('" + s + "')"));
    }
    if (!ScopesCovered(c->scopes, wanted))
      return audited(
          "", c->id,
          Error(400, "invalid_scope", "scope asks more than this client is registered for"));
    auto issued = IssueTokens("", c->id, wanted, "", RandomToken(12), false, {});
    if (!issued.ok()) return Error(503, "temporarily_unavailable", kUnavailable);
    return audited("", c->id, OAuthReply{200, std::move(issued->body)});
  }
  return audited("", Get(form, "client_id"),
                 Error(400, grant_type.empty() ? "invalid_request" : "unsupported_grant_type",
                       grant_type.empty() ? "grant_type is required"
                                          : "grant_type '" + grant_type + "' is not supported"));
}

json::object OAuthServer::Introspect(const std::string& token) {
  if (token.empty() || token.size() > 512) return {{"active", false}};
  std::string key = Sha256Hex(token);
  for (const char* ns : {"at", "rt"}) {
    auto v = store_.KvGet(ns, key);
    if (!v.ok() || !*v) continue;
    auto rec = ParseObject(**v);
    if (!rec.ok()) continue;
    std::string user = Str(*rec, "user");
    if (!user.empty()) {
      auto acct = accounts_.Get(user);
      if (!acct.ok() || acct->disabled) return {{"active", false}};
    }
    json::object out{{"active", true},
                     {"scope", Str(*rec, "scope")},
                     {"client_id", Str(*rec, "client_id")},
                     {"token_type", std::string(ns) == "at" ? "Bearer" : "refresh_token"},
                     {"exp", Int(*rec, "exp")},
                     {"sub", user.empty() ? "client:" + Str(*rec, "client_id") : user}};
    if (Int(*rec, "iat") != 0) out["iat"] = Int(*rec, "iat");
    if (!user.empty()) out["username"] = user;
    std::string patient = Str(*rec, "patient");
    if (!patient.empty()) out["patient"] = patient.substr(patient.find('/') + 1);
    std::string encounter = Str(*rec, "encounter");
    if (!encounter.empty()) out["encounter"] = encounter.substr(encounter.find('/') + 1);
    return out;
  }
  return {{"active", false}};
}

Status OAuthServer::Revoke(const std::string& token, const std::string& client_id,
                           const std::string& remote) {
  if (token.empty() || token.size() > 512) return Status::Ok();
  std::string key = Sha256Hex(token);
  for (const char* ns : {"rt", "at"}) {
    ASSIGN_OR_RETURN(auto v, store_.KvGet(ns, key));
    if (!v) continue;
    ASSIGN_OR_RETURN(json::object rec, ParseObject(*v));
    if (!client_id.empty() && Str(rec, "client_id") != client_id)
      return Status::Ok();  // RFC 7009: not the caller's token; nothing said
    Status taken = store_.KvTake(ns, key).status();
    if (taken.ok() && std::string(ns) == "rt" && !Str(rec, "at").empty())
      taken = store_.KvTake("at", Str(rec, "at")).status();
    ForgetTokens();  // after the rows are gone (see PrincipalOf)
    RETURN_IF_ERROR(taken);
    Audit(client_id.empty() ? "admin" : "client:" + client_id, "revoke", Str(rec, "client_id"), 200,
          remote, std::string(ns) == "rt" ? "refresh_token" : "access_token");
    return Status::Ok();
  }
  return Status::Ok();
}

void OAuthServer::ForgetTokens() const {
  std::lock_guard<std::mutex> l(cache_mu_);
  tokens_.clear();
  ++forget_gen_;
}

Result<Principal> OAuthServer::PrincipalOf(const std::string& token) const {
  static const Status kBad(Code::kUnauthenticated, "unknown, expired or revoked bearer token");
  if (token.empty() || token.size() > kMaxTokenBytes) return kBad;
  if (auto p = CachedPrincipal(token)) return std::move(*p);
  return PrincipalOfHashed(token, Sha256Hex(token));
}

std::optional<Principal> OAuthServer::CachedPrincipal(const std::string& token) const {
  const int64_t now = clock_.NowMicros();
  const uint64_t account_gen = accounts_.changes();
  std::lock_guard<std::mutex> l(cache_mu_);
  auto it = tokens_.find(token);
  if (it == tokens_.end()) return std::nullopt;
  if (it->second.until_us > now && it->second.account_gen == account_gen) return it->second.who;
  tokens_.erase(it);
  return std::nullopt;
}

Result<Principal> OAuthServer::PrincipalOfHashed(const std::string& token,
                                                 const std::string& hash) const {
  const int64_t now = clock_.NowMicros();
  const uint64_t account_gen = accounts_.changes();
  uint64_t forget_gen;
  {
    std::lock_guard<std::mutex> l(cache_mu_);
    forget_gen = forget_gen_;
  }
  int64_t exp_us = 0;
  auto p = PrincipalFromStore(hash, now, &exp_us);
  if (p.ok()) {
    std::lock_guard<std::mutex> l(cache_mu_);
    // Not if a revocation or client change came while the store was read: it may have missed it.
    if (forget_gen == forget_gen_) {
      if (tokens_.size() >= kMaxCachedTokens) tokens_.clear();
      tokens_[token] =
          CachedToken{*p, std::min(now + int64_t{kTokenCacheSeconds} * kSecond, exp_us),
                      account_gen, forget_gen};
    }
  }
  return p;
}

Result<Principal> OAuthServer::PrincipalFromStore(const std::string& hash, int64_t now,
                                                  int64_t* exp_us) const {
  static const Status kBad(Code::kUnauthenticated, "unknown, expired or revoked bearer token");
  auto v = store_.KvGet("at", hash);
  if (!v.ok()) return Status(Code::kUnavailable, kUnavailable);  // no storage text to the caller
  if (!*v) return kBad;
  ASSIGN_OR_RETURN(json::object rec, ParseObject(**v));
  *exp_us = Int(rec, "exp") * kSecond;
  if (*exp_us <= now) return kBad;
  Principal p;
  std::string user = Str(rec, "user");
  std::string cid = Str(rec, "client_id");
  if (!user.empty()) {
    auto acct = accounts_.Get(user);
    if (!acct.ok() || acct->disabled) return kBad;
    p = acct->ToPrincipal();
  } else {
    auto client = GetClient(cid);
    if (!client.ok() || client->disabled) return kBad;
    p.id = "client:" + cid;
    p.role = client->role.empty() ? "system" : client->role;
  }
  p.client_id = cid;
  p.patient = Str(rec, "patient");
  p.scopes = SplitScopes(Str(rec, "scope"));
  p.all_access = false;
  return p;
}

std::optional<std::string> BearerToken(std::string_view authorization) {
  constexpr std::string_view kBearer = "bearer ";
  if (authorization.size() <= kBearer.size()) return std::nullopt;
  for (size_t i = 0; i < kBearer.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kBearer[i])
      return std::nullopt;
  std::string token(authorization.substr(kBearer.size()));
  while (!token.empty() && (token.back() == ' ' || token.back() == '\r')) token.pop_back();
  while (!token.empty() && token.front() == ' ') token.erase(0, 1);
  if (token.empty()) return std::nullopt;
  return token;
}

Result<Principal> OAuthAuthenticator::Authenticate(std::string_view authorization) const {
  auto token = BearerToken(authorization);
  // Not a bearer credential, or too long to be one of ours: the token authenticator's answer
  // ("authentication required: send 'Authorization: Bearer'", or unknown token).
  if (!token || token->size() > OAuthServer::kMaxTokenBytes)
    return admin_->Authenticate(authorization);
  if (auto p = admin_->Remembered(*token)) return std::move(*p);
  if (auto p = oauth_.CachedPrincipal(*token)) return std::move(*p);  // no hash
  // One hash for both kinds of token.
  const std::string hash = Sha256Hex(*token);
  if (auto p = admin_->FindHashed(*token, hash)) return std::move(*p);
  return oauth_.PrincipalOfHashed(*token, hash);
}

}  // namespace benhan::security
