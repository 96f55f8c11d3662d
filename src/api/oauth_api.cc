#include "api/oauth_api.h"

#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include "security/crypto.h"
#include "security/scopes.h"
#include "service/resource_service.h"

namespace benhan::api {
namespace json = boost::json;
using security::Params;

namespace {

// Shown instead of a storage error (whose text names tables and files).
constexpr const char* kUnavailablePage =
    "<p class=\"err\">Máy chủ tạm thời không phục vụ được, hãy thử lại / the server is "
    "temporarily unavailable, try again</p>";
constexpr std::string_view kSmartConfigPath = "/fhir/.well-known/smart-configuration";
constexpr std::string_view kOpenIdConfigPath = "/.well-known/openid-configuration";

std::string Html(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Enc(std::string_view s) {
  return boost::urls::encode(s, boost::urls::unreserved_chars);
}

// A Status's message for a page or reply: ours for credential and input errors, a generic text
// for anything else (a storage error's text names tables and files).
std::string PublicMessage(const Status& st) {
  if (st.code() == Code::kUnauthenticated || st.code() == Code::kForbidden ||
      st.code() == Code::kInvalid)
    return st.message();
  return "Máy chủ tạm thời không phục vụ được, hãy thử lại / the server is temporarily "
         "unavailable, try again";
}

// Form or query parameters; a repeated parameter is an error (RFC 6749 3.1, 3.2).
bool ParseForm(std::string_view text, Params* out, std::string* dup) {
  for (auto& [k, v] : service::ParseQueryString(text)) {
    if (!out->emplace(k, v).second) {
      *dup = k;
      return false;
    }
  }
  return true;
}

bool IsBasicAuth(std::string_view authorization) {
  return authorization.size() > 6 &&
         (authorization.substr(0, 6) == "Basic " || authorization.substr(0, 6) == "basic " ||
          authorization.substr(0, 6) == "BASIC ");
}

// A client secret or assertion in the form, or HTTP Basic: the caller authenticates as a client.
bool HasClientCredentials(const HttpRequest& req, const Params& form) {
  return IsBasicAuth(req.Header("authorization")) || form.count("client_secret") ||
         form.count("client_assertion") || form.count("client_assertion_type");
}

void Json(HttpResponse& res, int status, const json::object& body) {
  res.status = status;
  res.Set("Content-Type", "application/json; charset=utf-8");
  res.Set("Cache-Control", "no-store");
  res.Set("Pragma", "no-cache");
  res.body = json::serialize(body);
}

void OAuthError(HttpResponse& res, int status, const std::string& error, const std::string& desc) {
  Json(res, status, json::object{{"error", error}, {"error_description", desc}});
}

std::string CookieValue(const HttpRequest& req, const std::string& name) {
  std::string_view c = req.Header("cookie");
  while (!c.empty()) {
    size_t semi = c.find(';');
    std::string_view part = c.substr(0, semi);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.size() > name.size() && part.substr(0, name.size()) == name &&
        part[name.size()] == '=')
      return std::string(part.substr(name.size() + 1));
    if (semi == std::string_view::npos) break;
    c.remove_prefix(semi + 1);
  }
  return "";
}

// Vietnamese description of a scope, English in brackets.
std::string DescribeScope(const std::string& s) {
  if (s == "launch/patient") return "Chọn một bệnh nhân cho ứng dụng (patient context)";
  if (s == "launch") return "Dùng bệnh nhân đang mở trong bệnh án điện tử (EHR launch)";
  if (s == "offline_access") return "Truy cập cả khi bạn không đăng nhập (offline access)";
  if (s == "online_access") return "Truy cập khi bạn còn đăng nhập (online access)";
  if (s == "openid" || s == "fhirUser" || s == "profile") return "Biết bạn là ai (" + s + ")";
  auto p = security::ParseSmartScope(s);
  if (!p) return s;
  std::string what;
  if (p->r || p->s) what += "xem";
  if (p->c || p->u) what += std::string(what.empty() ? "" : ", ") + "ghi";
  if (p->d) what += std::string(what.empty() ? "" : ", ") + "xoá";
  std::string type = p->type == "*" ? "mọi loại dữ liệu" : "dữ liệu " + p->type;
  std::string ctx =
      p->context == "patient" ? "của bệnh nhân được chọn" : "mà tài khoản của bạn được phép";
  std::string out = what + " " + type + " " + ctx + " (" + s + ")";
  out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

std::string Page(const std::string& title, const std::string& body) {
  return "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<title>" +
         Html(title) +
         " — benhan</title><style>"
         "body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}"
         "label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.4rem;box-sizing:"
         "border-box}button{margin:1rem .5rem 0 0;padding:.5rem 1rem}.err{color:#a00}"
         "small{color:#555}</style></head><body><h1>benhan</h1>" +
         body + "</body></html>";
}

std::string HiddenFields(const Params& p) {
  static const char* kKeep[] = {"response_type", "client_id",      "redirect_uri",          "scope",
                                "state",         "code_challenge", "code_challenge_method", "aud",
                                "launch",        "nonce"};
  std::string out;
  for (const char* k : kKeep) {
    auto it = p.find(k);
    if (it != p.end())
      out += "<input type=\"hidden\" name=\"" + std::string(k) + "\" value=\"" + Html(it->second) +
             "\">";
  }
  return out;
}

void SendPage(HttpResponse& res, int status, const std::string& html) {
  res.status = status;
  res.Set("Content-Type", "text/html; charset=utf-8");
  res.Set("Cache-Control", "no-store");
  res.Set("X-Frame-Options", "DENY");
  res.Set("Content-Security-Policy",
          "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
  res.Set("Referrer-Policy", "no-referrer");
  res.body = html;
}

std::string LoginPage(const security::AuthorizeRequest& ar, const Params& p,
                      const std::string& error) {
  std::string b = "<h2>Đăng nhập <small lang=\"en\">Sign in</small></h2><p>Ứng dụng <b>" +
                  Html(ar.client_name) + "</b> xin truy cập hồ sơ bệnh án.</p>";
  if (!error.empty()) b += "<p class=\"err\" role=\"alert\">" + Html(error) + "</p>";
  b += "<form method=\"post\" action=\"/auth/authorize\">" + HiddenFields(p) +
       "<input type=\"hidden\" name=\"action\" value=\"login\">"
       "<label for=\"u\">Tên đăng nhập <small>(user name)</small></label>"
       "<input id=\"u\" name=\"username\" autocomplete=\"username\" required>"
       "<label for=\"p\">Mật khẩu <small>(password)</small></label>"
       "<input id=\"p\" name=\"password\" type=\"password\" autocomplete=\"current-password\" "
       "required><label for=\"t\">Mã xác thực 6 số <small>(TOTP code; bắt buộc với quản trị "
       "viên)</small></label><input id=\"t\" name=\"totp\" inputmode=\"numeric\" "
       "autocomplete=\"one-time-code\" maxlength=\"6\">"
       "<button type=\"submit\">Đăng nhập</button></form>";
  return Page("Đăng nhập", b);
}

std::string ConsentPage(const security::AuthorizeRequest& ar, const Params& p,
                        const security::LoginSession& s, bool need_patient,
                        const std::string& error) {
  std::string b = "<h2>Cho phép truy cập <small lang=\"en\">Authorize</small></h2><p>Xin chào <b>" +
                  Html(s.user) + "</b>. Ứng dụng <b>" + Html(ar.client_name) +
                  "</b> xin các quyền sau:</p><ul>";
  for (const auto& sc : ar.scopes) b += "<li>" + Html(DescribeScope(sc)) + "</li>";
  b += "</ul>";
  if (!error.empty()) b += "<p class=\"err\" role=\"alert\">" + Html(error) + "</p>";
  b += "<form method=\"post\" action=\"/auth/authorize\">" + HiddenFields(p) +
       "<input type=\"hidden\" name=\"csrf\" value=\"" + Html(s.csrf) + "\">";
  if (need_patient) {
    b += "<label for=\"pt\">Mã bệnh nhân <small>(Patient id)</small></label>"
         "<input id=\"pt\" name=\"patient\" required>";
  }
  // Refusing needs no patient: the deny button skips the form's validation (the browser would
  // otherwise insist on the required patient field before letting the user say no).
  b += "<button type=\"submit\" name=\"action\" value=\"approve\">Cho phép</button>"
       "<button type=\"submit\" name=\"action\" value=\"deny\" formnovalidate>Từ chối</button>"
       "</form>";
  return Page("Cho phép truy cập", b);
}

void Redirect(HttpResponse& res, const std::string& uri,
              const std::vector<std::pair<std::string, std::string>>& q) {
  std::string loc = uri + (uri.find('?') == std::string::npos ? "?" : "&");
  bool first = true;
  for (const auto& [k, v] : q) {
    if (!first) loc += '&';
    first = false;
    loc += k + "=" + Enc(v);
  }
  res.status = 302;
  res.Set("Location", loc);
  res.Set("Cache-Control", "no-store");
}

}  // namespace

OAuthApi::OAuthApi(security::OAuthServer& oauth, const security::Authenticator& auth,
                   OAuthApiOptions options)
    : oauth_(oauth), auth_(auth), opts_(std::move(options)) {}

std::string OAuthApi::Origin(const HttpRequest& req) const {
  if (!opts_.base_url.empty()) {
    std::string b = opts_.base_url;
    size_t scheme = b.find("://");
    size_t slash = b.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    return slash == std::string::npos ? b : b.substr(0, slash);
  }
  std::string_view host = req.Header("host");
  return std::string(opts_.tls ? "https://" : "http://") +
         std::string(host.empty() ? "localhost" : host);
}

std::string OAuthApi::FhirBase(const HttpRequest& req) const {
  return opts_.base_url.empty() ? Origin(req) + "/fhir" : opts_.base_url;
}

std::string OAuthApi::CookieName() const { return opts_.tls ? "__Host-benhan_sid" : "benhan_sid"; }

bool OAuthApi::Handle(const HttpRequest& req, HttpResponse& res) {
  const std::string& path = req.path;
  if (path == kOpenIdConfigPath || path == "/auth" + std::string(kOpenIdConfigPath)) {
    if (req.method != "GET") {
      OAuthError(res, 405, "invalid_request", "use GET");
      return true;
    }
    Json(res, 200, oauth_.OpenIdConfiguration(Origin(req) + "/auth"));
    res.Set("Access-Control-Allow-Origin", "*");
    res.Set("Cache-Control", "max-age=300");
    return true;
  }
  if (path == kSmartConfigPath) {
    if (req.method != "GET") {
      OAuthError(res, 405, "invalid_request", "use GET");
      return true;
    }
    Json(res, 200, oauth_.SmartConfiguration(Origin(req) + "/auth"));
    res.Set("Access-Control-Allow-Origin", "*");
    res.Set("Cache-Control", "max-age=300");
    return true;
  }
  if (path.rfind("/auth/", 0) != 0) return false;
  if (path == "/auth/authorize" && (req.method == "GET" || req.method == "POST")) {
    Authorize(req, res);
  } else if (path == "/auth/token" && req.method == "POST") {
    Token(req, res);
  } else if (path == "/auth/introspect" && req.method == "POST") {
    Introspect(req, res);
  } else if (path == "/auth/revoke" && req.method == "POST") {
    Revoke(req, res);
  } else if (path == "/auth/logout" && req.method == "POST") {
    Logout(req, res);
  } else if (path == "/auth/register" && req.method == "POST") {
    Register(req, res);
  } else if (path == "/auth/launch" && req.method == "POST") {
    Launch(req, res);
  } else if (path == "/auth/jwks" && req.method == "GET") {
    auto keys = oauth_.Jwks();
    if (!keys.ok()) {
      OAuthError(res, 503, "temporarily_unavailable", PublicMessage(keys.status()));
      return true;
    }
    Json(res, 200, *keys);
    res.Set("Access-Control-Allow-Origin", "*");
    res.Set("Cache-Control", "max-age=300");
  } else {
    OAuthError(res, 404, "invalid_request", "không tìm thấy / not found: " + path);
  }
  return true;
}

void OAuthApi::Authorize(const HttpRequest& req, HttpResponse& res) {
  Params p;
  std::string dup;
  bool post = req.method == "POST";
  if (post && req.Header("content-type").find("application/x-www-form-urlencoded") ==
                  std::string_view::npos) {
    SendPage(res, 415,
             Page("Lỗi",
                  "<p class=\"err\">Biểu mẫu không hợp lệ / form must be "
                  "application/x-www-form-urlencoded</p>"));
    return;
  }
  if (!ParseForm(post ? std::string_view(req.body) : std::string_view(req.query), &p, &dup)) {
    SendPage(
        res, 400,
        Page("Lỗi", "<p class=\"err\">Tham số lặp lại / repeated parameter " + Html(dup) + "</p>"));
    return;
  }
  bool redirectable = false;
  std::string oauth_error;
  auto ar = oauth_.CheckAuthorize(p, FhirBase(req), &redirectable, &oauth_error);
  if (!ar.ok()) {
    if (!redirectable) {
      SendPage(res, 400, Page("Lỗi", "<p class=\"err\">" + Html(ar.status().message()) + "</p>"));
      return;
    }
    std::vector<std::pair<std::string, std::string>> q{
        {"error", oauth_error}, {"error_description", ar.status().message()}};
    if (p.count("state")) q.emplace_back("state", p["state"]);
    std::string uri = p["redirect_uri"];
    if (uri.empty()) {  // the client's only registered URI (CheckAuthorize accepted it)
      auto client = oauth_.GetClient(p["client_id"]);
      if (client.ok() && !client->redirect_uris.empty()) uri = client->redirect_uris[0];
    }
    Redirect(res, uri, q);
    return;
  }
  std::string action = post ? p["action"] : "";
  std::string sid = CookieValue(req, CookieName());
  auto session = oauth_.GetSession(sid);
  if (!session.ok()) {
    SendPage(res, 503, Page("Lỗi", kUnavailablePage));
    return;
  }
  if (action == "login") {
    auto user = oauth_.Login(p["username"], p["password"], p["totp"], req.remote);
    if (!user.ok()) {
      SendPage(res, user.status().code() == Code::kForbidden ? 403 : 401,
               LoginPage(*ar, p, PublicMessage(user.status())));
      return;
    }
    security::LoginSession s;
    auto newsid = oauth_.NewSession(user->name, &s);
    if (!newsid.ok()) {
      SendPage(res, 503, Page("Lỗi", kUnavailablePage));
      return;
    }
    if (!sid.empty()) (void)oauth_.EndSession(sid);
    res.Set("Set-Cookie", CookieName() + "=" + *newsid + "; Path=/; HttpOnly; SameSite=Lax" +
                              (opts_.tls ? "; Secure" : ""));
    SendPage(res, 200, ConsentPage(*ar, p, s, ar->wants_patient && user->patient.empty(), ""));
    return;
  }
  if (!*session) {
    SendPage(
        res, 200,
        LoginPage(*ar, p, action.empty() ? "" : "Phiên đăng nhập đã hết hạn / session expired"));
    return;
  }
  const security::LoginSession& s = **session;
  auto account = oauth_.accounts().Get(s.user);
  if (!account.ok() || account->disabled) {
    (void)oauth_.EndSession(sid);
    SendPage(res, 200, LoginPage(*ar, p, ""));
    return;
  }
  bool need_patient = ar->wants_patient && account->patient.empty();
  if (action.empty()) {  // GET with a live session: ask for consent
    SendPage(res, 200, ConsentPage(*ar, p, s, need_patient, ""));
    return;
  }
  if (!security::ConstantTimeEquals(p["csrf"], s.csrf)) {
    SendPage(res, 403,
             ConsentPage(*ar, p, s, need_patient,
                         "Biểu mẫu hết hạn, hãy thử lại / stale form, try again"));
    return;
  }
  std::vector<std::pair<std::string, std::string>> q;
  if (action == "approve") {
    auto code = oauth_.IssueCode(*ar, *account, p["patient"], req.remote);
    if (!code.ok()) {
      SendPage(res,
               code.status().code() == Code::kInvalid     ? 400
               : code.status().code() == Code::kForbidden ? 403
                                                          : 503,
               ConsentPage(*ar, p, s, need_patient, PublicMessage(code.status())));
      return;
    }
    q.emplace_back("code", *code);
  } else {
    q.emplace_back("error", "access_denied");
    q.emplace_back("error_description", "the user denied the request");
  }
  if (p.count("state")) q.emplace_back("state", p["state"]);
  Redirect(res, ar->redirect_uri, q);
}

void OAuthApi::Token(const HttpRequest& req, HttpResponse& res) {
  res.Set("Access-Control-Allow-Origin", "*");
  if (req.Header("content-type").find("application/x-www-form-urlencoded") ==
      std::string_view::npos) {
    OAuthError(res, 400, "invalid_request", "the body must be application/x-www-form-urlencoded");
    return;
  }
  Params form;
  std::string dup;
  if (!ParseForm(req.body, &form, &dup)) {
    OAuthError(res, 400, "invalid_request", "repeated parameter " + dup);
    return;
  }
  std::string_view authz = req.Header("authorization");
  auto r = oauth_.Token(form, Origin(req) + "/auth/token", req.remote, authz);
  Json(res, r.status, r.body);
  // RFC 6749 5.2: a failed HTTP Basic client authentication answers with its challenge.
  if (r.status == 401 && IsBasicAuth(authz)) res.Set("WWW-Authenticate", "Basic realm=\"benhan\"");
}

void OAuthApi::Introspect(const HttpRequest& req, HttpResponse& res) {
  Params form;
  std::string dup;
  if (!ParseForm(req.body, &form, &dup)) {
    OAuthError(res, 400, "invalid_request", "repeated parameter " + dup);
    return;
  }
  // The caller: an administrator token, a system client's token, or a confidential client
  // authenticating itself (HTTP Basic, client_secret, client assertion).
  bool allowed = false;
  std::string why =
      "introspection needs an administrator or system client token, or a "
      "confidential client's credentials";
  if (HasClientCredentials(req, form)) {
    // Assertion audience: this endpoint or the token endpoint.
    bool authenticated = false;
    auto c = oauth_.AuthenticateCaller(
        form, req.Header("authorization"),
        {Origin(req) + "/auth/introspect", Origin(req) + "/auth/token"}, &authenticated);
    allowed = c.ok() && authenticated;
    if (!c.ok()) why = PublicMessage(c.status());
  } else if (!req.Header("authorization").empty()) {
    auto who = auth_.Authenticate(req.Header("authorization"));
    allowed = who.ok() && (who->all_access || who->id.rfind("client:", 0) == 0);
  }
  if (!allowed) {
    OAuthError(res, 401, "invalid_client", why);
    res.Set("WWW-Authenticate", IsBasicAuth(req.Header("authorization"))
                                    ? "Basic realm=\"benhan\""
                                    : "Bearer realm=\"benhan\"");
    return;
  }
  Json(res, 200, oauth_.Introspect(form["token"]));
}

void OAuthApi::Revoke(const HttpRequest& req, HttpResponse& res) {
  res.Set("Access-Control-Allow-Origin", "*");
  Params form;
  std::string dup;
  if (!ParseForm(req.body, &form, &dup)) {
    OAuthError(res, 400, "invalid_request", "repeated parameter " + dup);
    return;
  }
  std::string client;
  if (HasClientCredentials(req, form) || req.Header("authorization").empty()) {
    // A client: confidential ones authenticate (RFC 7009 2.1), public ones send client_id.
    if (form["client_id"].empty() && !HasClientCredentials(req, form)) {
      OAuthError(res, 401, "invalid_client", "client_id (or an administrator token) is required");
      return;
    }
    bool authenticated = false;
    auto c = oauth_.AuthenticateCaller(form, req.Header("authorization"),
                                       {Origin(req) + "/auth/revoke", Origin(req) + "/auth/token"},
                                       &authenticated);
    if (!c.ok() || (c->Confidential() && !authenticated)) {
      OAuthError(res, 401, "invalid_client",
                 c.ok() ? "Ứng dụng này phải xác thực / this client must authenticate with " +
                              c->auth_method
                        : PublicMessage(c.status()));
      if (IsBasicAuth(req.Header("authorization")))
        res.Set("WWW-Authenticate", "Basic realm=\"benhan\"");
      return;
    }
    client = c->id;
  } else {
    auto who = auth_.Authenticate(req.Header("authorization"));
    if (!who.ok()) {
      OAuthError(res, 401, "invalid_client", PublicMessage(who.status()));
      return;
    }
    client = who->all_access ? "" : who->client_id;
    if (client.empty() && !who->all_access) {
      OAuthError(res, 401, "invalid_client", "a client or administrator token is required");
      return;
    }
  }
  Status st = oauth_.Revoke(form["token"], client, req.remote);
  if (!st.ok()) {
    OAuthError(res, 503, "temporarily_unavailable", st.message());
    return;
  }
  res.status = 200;
  res.Set("Cache-Control", "no-store");
}

void OAuthApi::Register(const HttpRequest& req, HttpResponse& res) {
  // The caller: the administrator token (any client), or nobody when open registration is on
  // (public apps only).
  bool admin = false;
  std::string who = "anonymous";
  std::string_view authz = req.Header("authorization");
  if (!authz.empty()) {
    auto p = auth_.Authenticate(authz);
    if (!p.ok()) {
      OAuthError(res, 401, "invalid_token", PublicMessage(p.status()));
      res.Set("WWW-Authenticate", "Bearer realm=\"benhan\", error=\"invalid_token\"");
      return;
    }
    if (!p->all_access) {
      OAuthError(res, 403, "insufficient_scope",
                 "Chỉ quản trị viên được đăng ký ứng dụng / only an administrator token may "
                 "register clients");
      return;
    }
    admin = true;
    who = p->id.empty() ? "admin" : p->id;
  } else if (!oauth_.accounts().settings().open_registration) {
    OAuthError(res, 401, "invalid_token",
               "Cần mã truy cập của quản trị viên / registration needs the administrator bearer "
               "token (auth.open_registration is off)");
    res.Set("WWW-Authenticate", "Bearer realm=\"benhan\"");
    return;
  }
  if (req.Header("content-type").find("application/json") == std::string_view::npos) {
    OAuthError(res, 400, "invalid_client_metadata",
               "Nội dung phải là JSON / the body must be application/json client metadata");
    return;
  }
  boost::system::error_code ec;
  json::value v = json::parse(req.body, ec);
  if (ec || !v.is_object()) {
    OAuthError(res, 400, "invalid_client_metadata",
               "Nội dung không phải đối tượng JSON / the body is not a JSON object");
    return;
  }
  auto r = oauth_.RegisterClient(v.as_object(), admin, who, req.remote);
  Json(res, r.status, r.body);
}

void OAuthApi::Launch(const HttpRequest& req, HttpResponse& res) {
  auto who = auth_.Authenticate(req.Header("authorization"));
  if (!who.ok()) {
    OAuthError(res, 401, "invalid_token", PublicMessage(who.status()));
    res.Set("WWW-Authenticate", "Bearer realm=\"benhan\"");
    return;
  }
  if (who->all_access || who->id.empty() || who->id.rfind("client:", 0) == 0) {
    OAuthError(res, 403, "access_denied",
               "Chỉ người dùng đã đăng nhập mới tạo được ngữ cảnh launch / only a logged-in user "
               "(a user's access token) can create a launch context");
    return;
  }
  boost::system::error_code ec;
  json::value v = req.Header("content-type").find("application/json") == std::string_view::npos
                      ? json::value()
                      : json::parse(req.body, ec);
  if (ec || !v.is_object()) {
    OAuthError(res, 400, "invalid_request",
               "Nội dung phải là JSON {\"patient\": ..., \"encounter\": ...} / the body must be "
               "a JSON object with patient (and encounter)");
    return;
  }
  security::LaunchContext ctx;
  ctx.user = who->id;
  auto str = [&](const char* k, std::string* out) {
    const json::value* x = v.as_object().if_contains(k);
    if (!x) return true;
    if (!x->is_string()) return false;
    *out = std::string(x->as_string());
    return true;
  };
  if (!str("patient", &ctx.patient) || !str("encounter", &ctx.encounter)) {
    OAuthError(res, 400, "invalid_request", "patient và encounter phải là chuỗi / must be strings");
    return;
  }
  auto id = oauth_.NewLaunch(ctx, req.remote);
  if (!id.ok()) {
    Code c = id.status().code();
    OAuthError(res,
               c == Code::kInvalid     ? 400
               : c == Code::kForbidden ? 403
                                       : 503,
               c == Code::kInvalid     ? "invalid_request"
               : c == Code::kForbidden ? "access_denied"
                                       : "temporarily_unavailable",
               PublicMessage(id.status()));
    return;
  }
  json::object out{{"launch", *id}, {"expires_in", security::OAuthServer::kLaunchSeconds}};
  std::string pid = ctx.patient.rfind("Patient/", 0) == 0 ? ctx.patient.substr(8) : ctx.patient;
  out["patient"] = pid;
  if (!ctx.encounter.empty())
    out["encounter"] =
        ctx.encounter.rfind("Encounter/", 0) == 0 ? ctx.encounter.substr(10) : ctx.encounter;
  Json(res, 201, out);
}

void OAuthApi::Logout(const HttpRequest& req, HttpResponse& res) {
  std::string sid = CookieValue(req, CookieName());
  if (!sid.empty()) (void)oauth_.EndSession(sid);
  res.Set("Set-Cookie", CookieName() + "=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax" +
                            std::string(opts_.tls ? "; Secure" : ""));
  SendPage(res, 200,
           Page("Đăng xuất", "<p>Đã đăng xuất. <small lang=\"en\">Signed out.</small></p>"));
}

}  // namespace benhan::api
