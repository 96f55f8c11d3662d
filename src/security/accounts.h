// Local user accounts: Argon2id password hashes, password rules, lock-out after repeated failures,
// TOTP second factor (required for administrators), each account linked to a FHIR Practitioner
// (and the PractitionerRole's role and department) or, for patient-portal users, to a Patient.
// Accounts live in the store's key-value table (namespace "user"), so SQLite and PostgreSQL both
// keep them and every server of a cluster sees the same accounts, lock-outs and password changes.
//
// Ownership: borrows the Store and Clock (must outlive it). Thread-safety: thread-safe (the
// store serializes writes; a failure counter may lose a concurrent increment, never a lock-out
// already written). Errors: kNotFound (no such user), kConflict (user exists), kInvalid (bad name,
// role or password rule), kUnauthenticated (wrong credentials), kForbidden (locked or disabled).
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/principal.h"
#include "core/status.h"
#include "store/store.h"

namespace benhan::security {

// Settings (config keys auth.*, see config/benhan.conf).
struct AuthSettings {
  int lockout_attempts = 5;       // failed logins in a row before the account locks
  int lockout_minutes = 15;       // how long it stays locked
  int session_idle_minutes = 30;  // a login session with no use for this long ends
  int password_min_length = 10;
  int access_token_minutes = 60;  // OAuth2 access tokens
  int refresh_token_days = 30;    // OAuth2 refresh tokens (rotated at each use)
  int code_seconds = 60;          // authorization codes (one use)
  // POST /auth/register without an administrator token registers public apps (auth method
  // none, authorization code only). Off by default: registration needs the administrator token.
  bool open_registration = false;
};

struct UserAccount {
  std::string name;                // login name: [a-z0-9._-], 2..64
  std::string role;                // primary role ("admin", "doctor", "nurse", "patient"...)
  std::vector<std::string> roles;  // further roles
  std::string practitioner;        // "Practitioner/<id>" or ""
  std::string department;          // "Organization/<id>" or ""
  std::string patient;             // "Patient/<id>" for a patient-portal account, else ""
  std::string password_hash;       // Argon2id PHC string
  std::string totp_secret;         // base64url of the raw secret; "" = no second factor yet
  int64_t totp_last_step = 0;      // last TOTP step accepted (a code works once)
  int failed = 0;                  // failed logins in a row
  int64_t locked_until_us = 0;
  bool disabled = false;
  int64_t created_us = 0;
  int64_t password_changed_us = 0;

  bool IsAdmin() const;
  // The Principal of this user (no scopes: an OAuth2 token adds them).
  Principal ToPrincipal() const;
};

class Accounts {
 public:
  Accounts(store::Store& store, AuthSettings settings, const Clock& clock = SystemClock());
  const AuthSettings& settings() const { return settings_; }

  // Creates `user` (name, role, roles, links) with `password` (rules checked, then hashed).
  // The names admin, demo, cli, anonymous and system are reserved (audit principals).
  Status Add(UserAccount user, std::string_view password);
  Result<UserAccount> Get(const std::string& name) const;
  Result<std::vector<UserAccount>> List() const;
  Status SetPassword(const std::string& name, std::string_view password);
  // A new TOTP secret for `name` (replacing any); returns the otpauth:// URI to scan.
  Result<std::string> NewTotp(const std::string& name);
  Status Unlock(const std::string& name);
  Status SetDisabled(const std::string& name, bool disabled);
  Status Update(const UserAccount& user);  // role/links edits by the CLI
  // Bumped by every change written through this object: caches of what an account allows
  // (OAuthServer's validated tokens) drop their entries when it moves.
  uint64_t changes() const { return changes_.load(std::memory_order_acquire); }

  // Checks a login. Unknown user and wrong password give the same kUnauthenticated message. A
  // wrong password or TOTP code counts as a failure; `lockout_attempts` failures in a row lock the
  // account for `lockout_minutes` (kForbidden, even with the right password, until then or
  // `benhan user unlock`). Administrators must give a valid TOTP code (an administrator without
  // a TOTP secret cannot log in: `benhan user totp NAME` first). Success resets the count. A
  // disabled account is refused (kForbidden) only to someone who gave the right password.
  Result<UserAccount> Login(const std::string& name, std::string_view password,
                            std::string_view totp);

 private:
  Status Put(const UserAccount& user);
  store::Store& store_;
  AuthSettings settings_;
  const Clock& clock_;
  std::atomic<uint64_t> changes_{0};
};

// Fills `user`'s links from a FHIR PractitionerRole (its JSON): practitioner = .practitioner
// reference, department = .organization reference, and, when `user.role` is empty, role = the
// first .code coding's code (the HL7 practitioner-role codes "doctor", "nurse", "pharmacist" are
// the policy's role names). Errors: kInvalid if the JSON is not a PractitionerRole or has no
// practitioner.
Status LinkPractitionerRole(UserAccount& user, std::string_view practitioner_role_json);

// Valid user name: 2..64 of [a-z0-9._-], starting with a letter or digit.
bool ValidUserName(std::string_view name);

}  // namespace benhan::security
