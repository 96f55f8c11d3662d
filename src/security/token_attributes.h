// Role-bearing bearer tokens: the optional attributes after "HASH ID ROLE" on a line of
// DATA/secrets/token-hashes, written by `benhan token add` (app/audit_cli.cc):
//   HASH ID ROLE [roles=a,b] [practitioner=Practitioner/1] [department=Organization/2]
//                [patient=Patient/3] [scopes=patient/*.read,user/Observation.rs] [client=ID]
// Values hold no spaces (scopes and roles are comma-separated). Unknown keys are ignored (a newer
// file read by an older server). Header-only; pure functions.
#pragma once

#include <istream>
#include <sstream>
#include <string>
#include <vector>

#include "core/principal.h"

namespace benhan::security {

inline std::vector<std::string> SplitCommas(const std::string& v) {
  std::vector<std::string> out;
  std::stringstream ss(v);
  std::string x;
  while (std::getline(ss, x, ',')) {
    if (!x.empty()) out.push_back(x);
  }
  return out;
}

// Reads the remaining "key=value" words of a token line into `p`.
inline void ApplyTokenAttributes(std::istream& words, Principal& p) {
  std::string w;
  while (words >> w) {
    auto eq = w.find('=');
    if (eq == std::string::npos) continue;
    std::string k = w.substr(0, eq), v = w.substr(eq + 1);
    if (k == "roles") {
      p.roles = SplitCommas(v);
    } else if (k == "practitioner") {
      p.practitioner = v;
    } else if (k == "department") {
      p.department = v;
    } else if (k == "patient") {
      p.patient = v;
    } else if (k == "scopes") {
      p.scopes = SplitCommas(v);
    } else if (k == "client") {
      p.client_id = v;
    }
  }
}

// The attribute words for `p` (the inverse of ApplyTokenAttributes).
inline std::string TokenAttributes(const Principal& p) {
  std::string out;
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
    return s;
  };
  if (!p.roles.empty()) out += " roles=" + join(p.roles);
  if (!p.practitioner.empty()) out += " practitioner=" + p.practitioner;
  if (!p.department.empty()) out += " department=" + p.department;
  if (!p.patient.empty()) out += " patient=" + p.patient;
  if (!p.scopes.empty()) out += " scopes=" + join(p.scopes);
  if (!p.client_id.empty()) out += " client=" + p.client_id;
  return out;
}

}  // namespace benhan::security
