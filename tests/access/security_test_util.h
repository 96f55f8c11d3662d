// Helpers for the access-policy and audit tests: a data directory with role-bearing tokens
// (the `benhan token add` format, security/token_attributes.h) and a server on it.
#pragma once

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "core/ids.h"
#include "security/token_attributes.h"
#include "support/test_server.h"

namespace benhan::testing {

inline std::string NewTempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "benhan-sec-XXXXXX").string();
  char* d = mkdtemp(tmpl.data());
  return d ? std::string(d) : std::string();
}

// Appends a token for `p` to DIR/secrets/token-hashes and returns it.
inline std::string AddToken(const std::string& dir, const Principal& p) {
  std::filesystem::create_directories(dir + "/secrets");
  std::string token = RandomHex(16);
  std::ofstream(dir + "/secrets/token-hashes", std::ios::app)
      << Sha256Hex(token) << ' ' << p.id << ' ' << p.role << security::TokenAttributes(p) << '\n';
  return token;
}

inline Principal Who(const std::string& id, const std::string& role) {
  Principal p;
  p.id = id;
  p.role = role;
  return p;
}

// A request with a given bearer token (and extra headers).
inline Response As(TestServer& s, const std::string& token, const std::string& method,
                   const std::string& path, const std::string& body = {},
                   std::map<std::string, std::string> headers = {}) {
  headers["Authorization"] = "Bearer " + token;
  if (!body.empty()) headers["Content-Type"] = "application/fhir+json";
  return s.Request(method, path, body, headers, /*auth=*/false);
}

inline int64_t TotalOf(const Response& r) {
  auto v = r.Json();
  if (!v.is_object() || !v.get_object().contains("total")) return -1;
  return v.at("total").to_number<int64_t>();
}

inline std::vector<std::string> IdsOf(const Response& r) {
  std::vector<std::string> ids;
  auto v = r.Json();
  if (!v.is_object() || !v.get_object().contains("entry")) return ids;
  for (const auto& e : v.at("entry").get_array()) {
    const auto& res = e.at("resource").get_object();
    if (res.contains("id")) ids.emplace_back(res.at("id").get_string());
  }
  return ids;
}

}  // namespace benhan::testing
