#include "security/scopes.h"

#include <algorithm>
#include <cctype>

namespace benhan::security {

std::optional<SmartScope> ParseSmartScope(std::string_view scope) {
  size_t slash = scope.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  SmartScope s;
  s.context = std::string(scope.substr(0, slash));
  if (s.context != "patient" && s.context != "user" && s.context != "system") return std::nullopt;
  std::string_view rest = scope.substr(slash + 1);
  size_t q = rest.find('?');
  if (q != std::string_view::npos) {
    s.query = std::string(rest.substr(q + 1));
    rest = rest.substr(0, q);
  }
  size_t dot = rest.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return std::nullopt;
  std::string_view type = rest.substr(0, dot);
  std::string_view perm = rest.substr(dot + 1);
  if (type != "*") {
    if (!std::isupper(static_cast<unsigned char>(type[0]))) return std::nullopt;
    for (char c : type)
      if (!std::isalnum(static_cast<unsigned char>(c))) return std::nullopt;
  }
  s.type = std::string(type);
  if (perm == "read") {
    s.r = s.s = true;
  } else if (perm == "write") {
    s.c = s.u = s.d = true;
  } else if (perm == "*") {
    s.c = s.r = s.u = s.d = s.s = true;
  } else {
    // v2: a non-empty subsequence of "cruds", in that order.
    static constexpr std::string_view kOrder = "cruds";
    size_t pos = 0;
    if (perm.empty()) return std::nullopt;
    for (char c : perm) {
      size_t at = kOrder.find(c, pos);
      if (at == std::string_view::npos) return std::nullopt;
      pos = at + 1;
      (c == 'c' ? s.c : c == 'r' ? s.r : c == 'u' ? s.u : c == 'd' ? s.d : s.s) = true;
    }
    s.v2 = true;
  }
  if (!s.query.empty() && !s.v2) return std::nullopt;  // v1 has no granular form
  return s;
}

std::vector<std::string> SplitScopes(std::string_view scopes) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < scopes.size()) {
    size_t j = scopes.find(' ', i);
    if (j == std::string_view::npos) j = scopes.size();
    std::string one(scopes.substr(i, j - i));
    if (!one.empty() && std::find(out.begin(), out.end(), one) == out.end()) out.push_back(one);
    i = j + 1;
  }
  return out;
}

std::string JoinScopes(const std::vector<std::string>& scopes) {
  std::string out;
  for (const auto& s : scopes) out += (out.empty() ? "" : " ") + s;
  return out;
}

bool ScopeCovers(std::string_view granted, std::string_view wanted) {
  if (granted == wanted) return true;
  auto g = ParseSmartScope(granted);
  auto w = ParseSmartScope(wanted);
  if (!g || !w) return false;
  if (g->context != w->context) return false;
  if (g->type != "*" && g->type != w->type) return false;
  if (!g->query.empty() && g->query != w->query) return false;
  return (g->c || !w->c) && (g->r || !w->r) && (g->u || !w->u) && (g->d || !w->d) &&
         (g->s || !w->s);
}

bool ScopesCovered(const std::vector<std::string>& granted,
                   const std::vector<std::string>& wanted) {
  for (const auto& w : wanted) {
    bool ok = false;
    for (const auto& g : granted) ok = ok || ScopeCovers(g, w);
    if (!ok) return false;
  }
  return true;
}

bool ScopesPermit(const std::vector<std::string>& scopes, std::string_view type, char interaction,
                  std::string_view context) {
  for (const auto& text : scopes) {
    auto s = ParseSmartScope(text);
    if (!s || !s->query.empty()) continue;  // granular scopes need the query: policy decides
    if (!context.empty() && s->context != context) continue;
    if (s->type != "*" && s->type != type) continue;
    bool ok = interaction == 'c'   ? s->c
              : interaction == 'r' ? s->r
              : interaction == 'u' ? s->u
              : interaction == 'd' ? s->d
              : interaction == 's' ? s->s
                                   : false;
    if (ok) return true;
  }
  return false;
}

}  // namespace benhan::security
