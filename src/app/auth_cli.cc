#include "app/auth_cli.h"

#include <termios.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "app/node.h"
#include "security/crypto.h"
#include "security/oauth.h"
#include "security/scopes.h"

namespace benhan::app {
namespace json = boost::json;

security::AuthSettings AuthSettingsOf(const Config& c) {
  security::AuthSettings s;
  s.lockout_attempts = c.auth_lockout_attempts;
  s.lockout_minutes = c.auth_lockout_minutes;
  s.session_idle_minutes = c.auth_session_idle_minutes;
  s.password_min_length = c.auth_password_min_length;
  s.access_token_minutes = c.auth_access_token_minutes;
  s.refresh_token_days = c.auth_refresh_token_days;
  s.open_registration = c.auth_open_registration;
  return s;
}

namespace {

struct Args {
  Config config;
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> opts;  // --name -> values
  std::string Opt(const std::string& k) const {
    auto it = opts.find(k);
    return it == opts.end() || it->second.empty() ? "" : it->second.back();
  }
  bool Has(const std::string& k) const { return opts.count(k) > 0; }
};

// Flags with a value; others are switches.
const std::set<std::string>& ValueFlags() {
  static const std::set<std::string> k = {
      "--data",  "--storage",      "--config",     "--role",
      "--roles", "--practitioner", "--department", "--patient",
      "--name",  "--redirect",     "--scope",      "--jwks",
      "--key",   "--kid",          "--auth",       "--practitioner-role"};
  return k;
}

Result<Args> Parse(int argc, char** argv, int start) {
  Args a;
  std::string config_file;
  std::vector<std::pair<std::string, std::string>> overrides;
  for (int i = start; i < argc; ++i) {
    std::string s = argv[i];
    std::string val;
    if (s.rfind("--", 0) == 0) {
      auto eq = s.find('=');
      if (eq != std::string::npos) {
        val = s.substr(eq + 1);
        s = s.substr(0, eq);
      } else if (ValueFlags().count(s)) {
        if (i + 1 >= argc) return Status(Code::kInvalid, s + " needs a value");
        val = argv[++i];
      }
      if (s == "--data")
        overrides.emplace_back("data", val);
      else if (s == "--storage")
        overrides.emplace_back("storage", val);
      else if (s == "--config")
        config_file = val;
      else
        a.opts[s].push_back(val);
    } else {
      a.positional.push_back(s);
    }
  }
  if (!config_file.empty()) RETURN_IF_ERROR(a.config.LoadFile(config_file));
  for (const auto& [k, v] : overrides) RETURN_IF_ERROR(a.config.Set(k, v));
  return a;
}

// A password from stdin (--password-stdin: first line) or typed twice without echo.
Result<std::string> ReadPassword(bool from_stdin) {
  auto line = [] {
    std::string s;
    std::getline(std::cin, s);
    if (!s.empty() && s.back() == '\r') s.pop_back();
    return s;
  };
  if (from_stdin || !::isatty(STDIN_FILENO)) return line();
  termios old{};
  ::tcgetattr(STDIN_FILENO, &old);
  termios quiet = old;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  std::fprintf(stderr, "Mật khẩu / password: ");
  std::string a = line();
  std::fprintf(stderr, "\nNhập lại / again: ");
  std::string b = line();
  std::fprintf(stderr, "\n");
  ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
  if (a != b) return Status(Code::kInvalid, "the two passwords differ");
  return a;
}

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, ','))
    if (!part.empty()) out.push_back(part);
  return out;
}

int Fail(const char* cmd, const Status& st) {
  std::fprintf(stderr, "benhan %s: %s\n", cmd, st.message().c_str());
  return st.code() == Code::kInvalid ? 2 : 1;
}

std::string Describe(const security::UserAccount& u) {
  std::string s = u.name + "  role=" + u.role;
  if (!u.roles.empty()) {
    s += " roles=";
    for (size_t i = 0; i < u.roles.size(); ++i) s += (i ? "," : "") + u.roles[i];
  }
  if (!u.practitioner.empty()) s += " " + u.practitioner;
  if (!u.department.empty()) s += " " + u.department;
  if (!u.patient.empty()) s += " " + u.patient;
  s += u.totp_secret.empty() ? " totp=no" : " totp=yes";
  if (u.locked_until_us > SystemClock().NowMicros()) s += " LOCKED";
  if (u.disabled) s += " DISABLED";
  return s;
}

const char kUserUsage[] =
    "usage: benhan user add NAME --role ROLE [--roles R1,R2] [--practitioner ID] [--department "
    "ID]\n"
    "                       [--practitioner-role ID] [--patient ID] [--password-stdin]\n"
    "       (--practitioner-role: practitioner, department and, without --role, the role from a\n"
    "        stored PractitionerRole)\n"
    "       benhan user passwd NAME [--password-stdin]\n"
    "       benhan user totp NAME          (new TOTP secret; prints the otpauth:// URI)\n"
    "       benhan user unlock NAME | disable NAME | enable NAME | show NAME | list\n"
    "  common: [--data DIR] [--storage URL] [--config FILE]\n";

const char kClientUsage[] =
    "usage: benhan client add ID --name NAME --scope \"SCOPES\" [--redirect URI]...\n"
    "                         [--auth "
    "none|client_secret_basic|client_secret_post|private_key_jwt]\n"
    "                         [--jwks FILE | --key PEM [--kid KID]] [--role ROLE]\n"
    "       (client_secret_*: the server makes the secret and prints it once; only its hash is "
    "kept)\n"
    "       benhan client keys ID --jwks FILE | --key PEM [--kid KID]\n"
    "       benhan client secret ID     (a new secret for a client_secret_* client; the old one "
    "stops)\n"
    "       benhan client disable ID | enable ID | remove ID | show ID | list\n"
    "  common: [--data DIR] [--storage URL] [--config FILE]\n";

// Public keys from --jwks FILE ({"keys":[...]} or one JWK) or --key PEM (private or public key
// file: the public half is registered).
Result<json::array> LoadKeys(const Args& a) {
  json::array keys;
  if (a.Has("--jwks")) {
    std::ifstream in(a.Opt("--jwks"));
    if (!in) return Status(Code::kInvalid, "cannot read " + a.Opt("--jwks"));
    std::stringstream ss;
    ss << in.rdbuf();
    boost::system::error_code ec;
    json::value v = json::parse(ss.str(), ec);
    if (ec || !v.is_object()) return Status(Code::kInvalid, a.Opt("--jwks") + " is not a JWKS");
    if (v.as_object().contains("keys") && v.as_object().at("keys").is_array()) {
      keys = v.as_object().at("keys").as_array();
    } else {
      keys.push_back(v);
    }
    for (auto& k : keys) {  // never keep private parts
      if (k.is_object())
        for (const char* p : {"d", "p", "q", "dp", "dq", "qi"}) k.as_object().erase(p);
    }
  } else if (a.Has("--key")) {
    std::ifstream in(a.Opt("--key"));
    if (!in) return Status(Code::kInvalid, "cannot read " + a.Opt("--key"));
    std::stringstream ss;
    ss << in.rdbuf();
    std::string kid = a.Opt("--kid").empty() ? "key-1" : a.Opt("--kid");
    ASSIGN_OR_RETURN(json::object jwk, security::PublicJwkOfPem(ss.str(), kid));
    keys.push_back(jwk);
  }
  return keys;
}

struct Env {
  std::unique_ptr<store::Store> store;
  std::unique_ptr<security::Accounts> accounts;
  std::unique_ptr<security::OAuthServer> oauth;
};

Result<Env> OpenEnv(const Config& cfg) {
  Env e;
  ASSIGN_OR_RETURN(e.store, OpenStore(cfg));
  e.accounts = std::make_unique<security::Accounts>(*e.store, AuthSettingsOf(cfg));
  // CLI changes are audited as the local operator.
  store::Store* st = e.store.get();
  e.oauth = std::make_unique<security::OAuthServer>(
      *e.store, *e.accounts, [st](store::AuditRecord r) { (void)st->AppendAudit({r}); });
  return e;
}

void AuditCli(store::Store& st, const std::string& action, const std::string& id,
              const std::string& detail) {
  store::AuditRecord r;
  r.time_us = SystemClock().NowMicros();
  r.principal = "cli";
  r.action = action;
  r.id = id;
  r.status = 200;
  r.remote = "local";
  r.detail = detail;
  (void)st.AppendAudit({r});
}

}  // namespace

int UserCmd(int argc, char** argv) {
  auto a = Parse(argc, argv, 2);
  if (!a.ok()) return Fail("user", a.status());
  if (a->positional.empty()) {
    std::fputs(kUserUsage, stderr);
    return 2;
  }
  std::string sub = a->positional[0];
  std::string name = a->positional.size() > 1 ? a->positional[1] : "";
  if (sub != "list" && name.empty()) {
    std::fputs(kUserUsage, stderr);
    return 2;
  }
  auto env = OpenEnv(a->config);
  if (!env.ok()) return Fail("user", env.status());
  auto& acc = *env->accounts;
  Status st;
  if (sub == "add") {
    security::UserAccount u;
    u.name = name;
    u.role = a->Opt("--role");
    u.roles = SplitComma(a->Opt("--roles"));
    u.practitioner = a->Opt("--practitioner");
    u.department = a->Opt("--department");
    u.patient = a->Opt("--patient");
    if (a->Has("--practitioner-role")) {  // links (and role) from a stored PractitionerRole
      std::string id = a->Opt("--practitioner-role");
      if (id.rfind("PractitionerRole/", 0) == 0) id = id.substr(17);
      auto rec = env->store->Read("PractitionerRole", id);
      if (!rec.ok() || rec->deleted)
        return Fail("user", Status(Code::kInvalid, "no PractitionerRole/" + id + " in the store"));
      Status linked = security::LinkPractitionerRole(u, rec->json);
      if (!linked.ok()) return Fail("user", linked);
    }
    auto pw = ReadPassword(a->Has("--password-stdin"));
    if (!pw.ok()) return Fail("user", pw.status());
    st = acc.Add(u, *pw);
    if (st.ok()) {
      AuditCli(*env->store, "user-add", name, "role " + u.role);
      std::printf("user %s added\n", name.c_str());
      auto got = acc.Get(name);
      if (got.ok() && got->IsAdmin())
        std::printf("administrators must log in with TOTP: run 'benhan user totp %s'\n",
                    name.c_str());
    }
  } else if (sub == "passwd") {
    auto pw = ReadPassword(a->Has("--password-stdin"));
    if (!pw.ok()) return Fail("user", pw.status());
    st = acc.SetPassword(name, *pw);
    if (st.ok()) {
      AuditCli(*env->store, "user-passwd", name, "");
      std::printf("password of %s changed\n", name.c_str());
    }
  } else if (sub == "totp") {
    auto uri = acc.NewTotp(name);
    st = uri.status();
    if (uri.ok()) {
      AuditCli(*env->store, "user-totp", name, "new TOTP secret");
      std::printf("%s\n", uri->c_str());
    }
  } else if (sub == "unlock") {
    st = acc.Unlock(name);
    if (st.ok()) {
      AuditCli(*env->store, "user-unlock", name, "");
      std::printf("user %s unlocked\n", name.c_str());
    }
  } else if (sub == "disable" || sub == "enable") {
    st = acc.SetDisabled(name, sub == "disable");
    if (st.ok()) {
      AuditCli(*env->store, "user-" + sub, name, "");
      std::printf("user %s %sd\n", name.c_str(), sub.c_str());
    }
  } else if (sub == "show") {
    auto u = acc.Get(name);
    st = u.status();
    if (u.ok()) std::printf("%s\n", Describe(*u).c_str());
  } else if (sub == "list") {
    auto all = acc.List();
    st = all.status();
    if (all.ok())
      for (const auto& u : *all) std::printf("%s\n", Describe(u).c_str());
  } else {
    std::fputs(kUserUsage, stderr);
    return 2;
  }
  return st.ok() ? 0 : Fail("user", st);
}

int ClientCmd(int argc, char** argv) {
  auto a = Parse(argc, argv, 2);
  if (!a.ok()) return Fail("client", a.status());
  if (a->positional.empty()) {
    std::fputs(kClientUsage, stderr);
    return 2;
  }
  std::string sub = a->positional[0];
  std::string id = a->positional.size() > 1 ? a->positional[1] : "";
  if (sub != "list" && id.empty()) {
    std::fputs(kClientUsage, stderr);
    return 2;
  }
  auto env = OpenEnv(a->config);
  if (!env.ok()) return Fail("client", env.status());
  auto& oauth = *env->oauth;
  Status st;
  auto show = [](const security::OAuthClient& c) {
    std::string s = c.id + "  name=\"" + c.name + "\" auth=" + c.auth_method + " role=" + c.role +
                    " scope=\"" + security::JoinScopes(c.scopes) + "\"";
    for (const auto& u : c.redirect_uris) s += " redirect=" + u;
    s += " keys=" + std::to_string(c.jwks.size());
    if (!c.grant_types.empty()) {
      s += " grants=";
      for (size_t i = 0; i < c.grant_types.size(); ++i) s += (i ? "," : "") + c.grant_types[i];
    }
    if (!c.registered_by.empty()) s += " registered_by=" + c.registered_by;
    if (c.disabled) s += " DISABLED";
    return s;
  };
  if (sub == "add") {
    security::OAuthClient c;
    c.id = id;
    c.name = a->Opt("--name").empty() ? id : a->Opt("--name");
    c.scopes = security::SplitScopes(a->Opt("--scope"));
    if (a->opts.count("--redirect")) c.redirect_uris = a->opts.at("--redirect");
    auto keys = LoadKeys(*a);
    if (!keys.ok()) return Fail("client", keys.status());
    c.jwks = *keys;
    c.auth_method =
        a->Opt("--auth").empty() ? (c.jwks.empty() ? "none" : "private_key_jwt") : a->Opt("--auth");
    if (!a->Opt("--role").empty()) c.role = a->Opt("--role");
    c.registered_by = "cli";
    c.issued_at = SystemClock().NowMicros() / 1000000;
    std::string secret;
    if (c.auth_method == "client_secret_basic" || c.auth_method == "client_secret_post")
      secret = security::OAuthServer::NewClientSecret(c);
    st = oauth.AddClient(c);
    if (st.ok()) {
      AuditCli(*env->store, "client-add", id, c.auth_method + " " + security::JoinScopes(c.scopes));
      std::printf("client %s added (%s)\n", id.c_str(), c.auth_method.c_str());
      if (!secret.empty())
        std::printf(
            "client_secret: %s\n(shown once: only its hash is kept; 'benhan client secret "
            "%s' makes a new one)\n",
            secret.c_str(), id.c_str());
    }
  } else if (sub == "secret") {
    auto c = oauth.GetClient(id);
    if (!c.ok()) return Fail("client", c.status());
    if (c->auth_method != "client_secret_basic" && c->auth_method != "client_secret_post")
      return Fail("client", Status(Code::kInvalid, "client " + id + " uses " + c->auth_method +
                                                       ", not a client secret"));
    std::string secret = security::OAuthServer::NewClientSecret(*c);
    st = oauth.PutClient(*c);
    if (st.ok()) {
      AuditCli(*env->store, "client-secret", id, "new client secret");
      std::printf("client_secret: %s\n(shown once: only its hash is kept)\n", secret.c_str());
    }
  } else if (sub == "keys" || sub == "disable" || sub == "enable") {
    auto c = oauth.GetClient(id);
    if (!c.ok()) return Fail("client", c.status());
    if (sub == "keys") {
      auto keys = LoadKeys(*a);
      if (!keys.ok()) return Fail("client", keys.status());
      if (keys->empty())
        return Fail("client", Status(Code::kInvalid, "give --jwks FILE or --key PEM"));
      c->jwks = *keys;
    } else {
      c->disabled = sub == "disable";
    }
    st = oauth.PutClient(*c);
    if (st.ok()) {
      AuditCli(*env->store, "client-" + sub, id, "");
      std::printf("client %s: %s done\n", id.c_str(), sub.c_str());
    }
  } else if (sub == "remove") {
    st = oauth.RemoveClient(id);
    if (st.ok()) {
      AuditCli(*env->store, "client-remove", id, "");
      std::printf("client %s removed\n", id.c_str());
    }
  } else if (sub == "show") {
    auto c = oauth.GetClient(id);
    st = c.status();
    if (c.ok()) std::printf("%s\n", show(*c).c_str());
  } else if (sub == "list") {
    auto all = oauth.ListClients();
    st = all.status();
    if (all.ok())
      for (const auto& c : *all) std::printf("%s\n", show(c).c_str());
  } else {
    std::fputs(kClientUsage, stderr);
    return 2;
  }
  return st.ok() ? 0 : Fail("client", st);
}

}  // namespace benhan::app
