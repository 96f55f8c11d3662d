#include "security/accounts.h"

#include <boost/json.hpp>

#include "security/credentials.h"
#include "security/crypto.h"

namespace benhan::security {
namespace json = boost::json;
namespace {
constexpr const char* kNs = "user";

std::string Str(const json::object& o, std::string_view k) {
  auto it = o.find(k);
  return it != o.end() && it->value().is_string() ? std::string(it->value().as_string()) : "";
}
int64_t Int(const json::object& o, std::string_view k) {
  auto it = o.find(k);
  return it != o.end() && it->value().is_int64() ? it->value().as_int64() : 0;
}

std::string ToJson(const UserAccount& u) {
  json::array roles;
  for (const auto& r : u.roles) roles.emplace_back(r);
  json::object o{{"name", u.name},
                 {"role", u.role},
                 {"roles", roles},
                 {"practitioner", u.practitioner},
                 {"department", u.department},
                 {"patient", u.patient},
                 {"password_hash", u.password_hash},
                 {"totp_secret", u.totp_secret},
                 {"totp_last_step", u.totp_last_step},
                 {"failed", u.failed},
                 {"locked_until", u.locked_until_us},
                 {"disabled", u.disabled},
                 {"created", u.created_us},
                 {"password_changed", u.password_changed_us}};
  return json::serialize(o);
}

Result<UserAccount> FromJson(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return Status(Code::kInternal, "corrupt user account record");
  const auto& o = v.as_object();
  UserAccount u;
  u.name = Str(o, "name");
  u.role = Str(o, "role");
  if (auto it = o.find("roles"); it != o.end() && it->value().is_array()) {
    for (const auto& r : it->value().as_array())
      if (r.is_string()) u.roles.emplace_back(r.as_string());
  }
  u.practitioner = Str(o, "practitioner");
  u.department = Str(o, "department");
  u.patient = Str(o, "patient");
  u.password_hash = Str(o, "password_hash");
  u.totp_secret = Str(o, "totp_secret");
  u.totp_last_step = Int(o, "totp_last_step");
  u.failed = static_cast<int>(Int(o, "failed"));
  u.locked_until_us = Int(o, "locked_until");
  if (auto it = o.find("disabled"); it != o.end() && it->value().is_bool())
    u.disabled = it->value().as_bool();
  u.created_us = Int(o, "created");
  u.password_changed_us = Int(o, "password_changed");
  return u;
}

const Status& BadLogin() {
  static const Status kBad(Code::kUnauthenticated,
                           "Sai tên đăng nhập, mật khẩu hoặc mã xác thực / wrong user name, "
                           "password or verification code");
  return kBad;
}
}  // namespace

bool ValidUserName(std::string_view name) {
  if (name.size() < 2 || name.size() > 64) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              (i > 0 && (c == '.' || c == '_' || c == '-'));
    if (!ok) return false;
  }
  return true;
}

Status LinkPractitionerRole(UserAccount& user, std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object() || Str(v.as_object(), "resourceType") != "PractitionerRole")
    return Status(Code::kInvalid, "not a PractitionerRole");
  const auto& o = v.as_object();
  auto ref = [&](std::string_view k) -> std::string {
    auto it = o.find(k);
    if (it == o.end() || !it->value().is_object()) return "";
    return Str(it->value().as_object(), "reference");
  };
  std::string practitioner = ref("practitioner");
  if (practitioner.rfind("Practitioner/", 0) != 0)
    return Status(Code::kInvalid, "the PractitionerRole names no Practitioner/ID");
  user.practitioner = practitioner;
  std::string org = ref("organization");
  if (org.rfind("Organization/", 0) == 0) user.department = org;
  if (user.role.empty()) {
    if (auto it = o.find("code"); it != o.end() && it->value().is_array()) {
      for (const auto& c : it->value().as_array()) {
        if (!c.is_object()) continue;
        auto cod = c.as_object().find("coding");
        if (cod == c.as_object().end() || !cod->value().is_array()) continue;
        for (const auto& k : cod->value().as_array()) {
          if (k.is_object() && !Str(k.as_object(), "code").empty()) {
            user.role = Str(k.as_object(), "code");
            return Status::Ok();
          }
        }
      }
    }
  }
  return Status::Ok();
}

bool UserAccount::IsAdmin() const {
  if (role == "admin") return true;
  for (const auto& r : roles)
    if (r == "admin") return true;
  return false;
}

Principal UserAccount::ToPrincipal() const {
  Principal p;
  p.id = name;
  p.role = role;
  p.roles = roles;
  p.practitioner = practitioner;
  p.department = department;
  p.patient = patient;
  return p;
}

Accounts::Accounts(store::Store& store, AuthSettings settings, const Clock& clock)
    : store_(store), settings_(settings), clock_(clock) {}

Status Accounts::Put(const UserAccount& user) {
  Status st = store_.KvPut(kNs, user.name, ToJson(user));
  changes_.fetch_add(1, std::memory_order_acq_rel);  // after the write: a reader never re-caches
  return st;                                         // the old account under the new count
}

Status Accounts::Add(UserAccount user, std::string_view password) {
  if (!ValidUserName(user.name)) {
    return Status(Code::kInvalid, "Tên đăng nhập không hợp lệ / invalid user name '" + user.name +
                                      "' (2-64 of a-z 0-9 . _ -)");
  }
  for (const char* reserved : {"admin", "demo", "cli", "anonymous", "system"}) {
    if (user.name == reserved) {
      return Status(Code::kInvalid, "'" + user.name +
                                        "' is reserved (it names the administrator token, demo "
                                        "mode or the command line in the audit trail)");
    }
  }
  if (user.role.empty()) return Status(Code::kInvalid, "a user needs a role (--role)");
  if (!user.practitioner.empty() && user.practitioner.rfind("Practitioner/", 0) != 0)
    user.practitioner = "Practitioner/" + user.practitioner;
  if (!user.department.empty() && user.department.rfind("Organization/", 0) != 0)
    user.department = "Organization/" + user.department;
  if (!user.patient.empty() && user.patient.rfind("Patient/", 0) != 0)
    user.patient = "Patient/" + user.patient;
  ASSIGN_OR_RETURN(auto existing, store_.KvGet(kNs, user.name));
  if (existing) return Status(Code::kConflict, "user '" + user.name + "' already exists");
  RETURN_IF_ERROR(CheckPasswordRules(user.name, password, settings_.password_min_length));
  ASSIGN_OR_RETURN(user.password_hash, HashPassword(password));
  user.created_us = user.password_changed_us = clock_.NowMicros();
  return Put(user);
}

Result<UserAccount> Accounts::Get(const std::string& name) const {
  ASSIGN_OR_RETURN(auto v, store_.KvGet(kNs, name));
  if (!v) return Status(Code::kNotFound, "no user '" + name + "'");
  return FromJson(*v);
}

Result<std::vector<UserAccount>> Accounts::List() const {
  ASSIGN_OR_RETURN(auto rows, store_.KvList(kNs));
  std::vector<UserAccount> out;
  for (const auto& r : rows) {
    ASSIGN_OR_RETURN(auto u, FromJson(r.value));
    out.push_back(std::move(u));
  }
  return out;
}

Status Accounts::SetPassword(const std::string& name, std::string_view password) {
  ASSIGN_OR_RETURN(auto u, Get(name));
  RETURN_IF_ERROR(CheckPasswordRules(name, password, settings_.password_min_length));
  if (VerifyPassword(password, u.password_hash)) {
    return Status(Code::kInvalid,
                  "Mật khẩu mới phải khác mật khẩu cũ / the new password must differ from the old");
  }
  ASSIGN_OR_RETURN(u.password_hash, HashPassword(password));
  u.password_changed_us = clock_.NowMicros();
  return Put(u);
}

Result<std::string> Accounts::NewTotp(const std::string& name) {
  ASSIGN_OR_RETURN(auto u, Get(name));
  std::string raw = RandomToken(20);  // 160-bit secret (RFC 4226 recommends 160)
  auto secret = Base64UrlDecode(raw);
  u.totp_secret = raw;
  u.totp_last_step = 0;
  RETURN_IF_ERROR(Put(u));
  return TotpUri(name, *secret);
}

Status Accounts::Unlock(const std::string& name) {
  ASSIGN_OR_RETURN(auto u, Get(name));
  u.failed = 0;
  u.locked_until_us = 0;
  return Put(u);
}

Status Accounts::SetDisabled(const std::string& name, bool disabled) {
  ASSIGN_OR_RETURN(auto u, Get(name));
  u.disabled = disabled;
  return Put(u);
}

Status Accounts::Update(const UserAccount& user) {
  ASSIGN_OR_RETURN(auto u, Get(user.name));
  (void)u;
  return Put(user);
}

Result<UserAccount> Accounts::Login(const std::string& name, std::string_view password,
                                    std::string_view totp) {
  auto got = Get(name);
  if (!got.ok()) {
    if (got.status().code() != Code::kNotFound) return got.status();
    // Same work and answer as a wrong password: no hint that the name does not exist.
    static const std::string kDummy = [] {
      auto h = HashPassword("benhan-no-such-user");
      return h.ok() ? *h : std::string();
    }();
    (void)VerifyPassword(password, kDummy);
    return BadLogin();
  }
  UserAccount u = std::move(*got);
  int64_t now = clock_.NowMicros();
  if (u.locked_until_us > now) {
    return Status(Code::kForbidden,
                  "Tài khoản tạm khoá do đăng nhập sai nhiều lần; thử lại sau " +
                      std::to_string((u.locked_until_us - now) / 60000000 + 1) +
                      " phút / the account is locked after repeated failed logins");
  }
  bool ok = VerifyPassword(password, u.password_hash);
  bool needs_totp = u.IsAdmin() || !u.totp_secret.empty();
  if (ok && needs_totp) {
    if (u.totp_secret.empty()) {
      return Status(Code::kForbidden,
                    "Quản trị viên phải có xác thực hai lớp (TOTP): chạy 'benhan user totp " +
                        name + "' / administrators need a TOTP second factor");
    }
    auto secret = Base64UrlDecode(u.totp_secret);
    ok = secret && VerifyTotp(*secret, totp, now / 1000000, &u.totp_last_step);
  }
  if (!ok) {
    ++u.failed;
    if (u.failed >= settings_.lockout_attempts) {
      u.locked_until_us = now + int64_t{settings_.lockout_minutes} * 60 * 1000000;
      u.failed = 0;
    }
    RETURN_IF_ERROR(Put(u));
    return BadLogin();
  }
  u.failed = 0;
  u.locked_until_us = 0;
  RETURN_IF_ERROR(Put(u));
  // Said only to someone who knows the password.
  if (u.disabled)
    return Status(Code::kForbidden, "Tài khoản đã bị vô hiệu hoá / the account is disabled");
  return u;
}

}  // namespace benhan::security
