// SMART App Launch scopes, v1 ("patient/*.read", "user/Observation.write") and v2
// ("patient/Observation.rs", "user/*.cruds", "system/Patient.r?identifier=..."), parsed into one
// form so that policy can ask "may this token do interaction X on type T?".
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace benhan::security {

struct SmartScope {
  std::string context;  // "patient", "user" or "system"
  std::string type;     // a resource type or "*"
  // Permissions: create, read, update, delete, search. v1 "read" = r+s, "write" = c+u+d, "*" = all.
  bool c = false, r = false, u = false, d = false, s = false;
  bool v2 = false;
  std::string query;  // v2 granular restriction after '?' (kept, not interpreted here)
};

// nullopt if `scope` is not a resource scope (e.g. "openid", "launch/patient", "offline_access")
// or is malformed ("patient/*.rsc": v2 letters out of order; "user/.read").
std::optional<SmartScope> ParseSmartScope(std::string_view scope);

// Splits a space-separated scope string, dropping empties and duplicates (order kept).
std::vector<std::string> SplitScopes(std::string_view scopes);
std::string JoinScopes(const std::vector<std::string>& scopes);

// True if resource scope `granted` allows everything `wanted` asks (same context, type equal or
// "*", permissions a superset, no narrower query). Non-resource scopes cover only themselves.
bool ScopeCovers(std::string_view granted, std::string_view wanted);
// True if every scope in `wanted` is covered by some scope in `granted`.
bool ScopesCovered(const std::vector<std::string>& granted, const std::vector<std::string>& wanted);

// True if `scopes` allow `interaction` ('c', 'r', 'u', 'd' or 's') on `type` in any context
// ("patient", "user", "system"); `context`, when not empty, restricts the contexts considered.
bool ScopesPermit(const std::vector<std::string>& scopes, std::string_view type, char interaction,
                  std::string_view context = "");

}  // namespace benhan::security
