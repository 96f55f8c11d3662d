// Who is making a request: the result of authentication, the input of access policy and audit.
// Plain data, copied freely; produced by security::Authenticator implementations (bearer tokens,
// OAuth2/SMART access tokens, demo mode) and carried in service::RequestContext.
#pragma once

#include <string>
#include <vector>

namespace benhan {

struct Principal {
  std::string id;    // who, for audit: "admin", "demo", a user name, "client:<client_id>"
  std::string role;  // primary role: "admin", "demo"; clinician roles come with users
  // Further roles (a user may hold several, e.g. "doctor", "department-head").
  std::vector<std::string> roles;
  std::string practitioner;  // "Practitioner/<id>" when the user is linked to one
  std::string department;    // "Organization/<id>" of the user's department, if any
  std::string client_id;     // OAuth2 client the token was issued to, if any
  std::string patient;       // SMART patient context ("Patient/<id>") for patient-facing apps
  // SMART scopes granted to the token, as issued ("patient/*.read", "user/Observation.rs",
  // "system/*.*", "openid", ...). Empty with all_access for administrator tokens and demo mode.
  std::vector<std::string> scopes;
  bool all_access = false;  // administrator token or demo mode: no scope/policy restriction
};

}  // namespace benhan
