// Test support: a benhan server started in-process on 127.0.0.1:0 with a temporary data directory
// (kept when the test failed), and a small keep-alive HTTP client.
#pragma once

#include <boost/json/value.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "api/fhir_api.h"
#include "api/http_server.h"
#include "app/node.h"

namespace benhan::testing {

// The external test data folder (../shared/data next to the checkout), or "" if absent.
std::string SharedDataDir();
// The whole content of a file ("" if it cannot be read).
std::string ReadFile(const std::string& path);
// The regular files directly in `dir`, sorted by path.
std::vector<std::string> SortedFiles(const std::string& dir);
// Every official R4 JSON example (`data`/fhir-r4-spec/examples-json) and every entry resource of
// the Synthea bundles (`data`/synthea/r4-bundles), parsed; `data` is SharedDataDir(). A file that
// does not parse gives a null value. With `patient_refs_as_stored`, a bundle's `urn:uuid:ID`
// references to its own Patient become `Patient/ID`, as the server stores them.
std::vector<boost::json::value> ExampleAndSyntheaResources(const std::string& data,
                                                           bool patient_refs_as_stored = false);

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  boost::json::value Json() const;  // null if the body is not JSON
};

class HttpClient {
 public:
  HttpClient(std::string host, uint16_t port);
  ~HttpClient();
  Response Send(const std::string& method, const std::string& target, const std::string& body = {},
                const std::map<std::string, std::string>& headers = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct ServerOptions {
  bool demo = false;  // false: bearer token required (the client sends it)
  // Extra config keys ("http.max_body_bytes": "100000"). "storage": "postgresql" runs on a new
  // database of the test PostgreSQL server (support/pg_cluster.h), a copy of copy_from's if that
  // directory names one (file pg-database); check TestPostgres() first to skip without it.
  std::map<std::string, std::string> config;
  std::string data_dir;   // reuse a directory (restart tests); empty: new temp dir
  std::string copy_from;  // with data_dir empty: the new temp dir starts as a copy of this one
};

class TestServer {
 public:
  static std::unique_ptr<TestServer> Start(const ServerOptions& opts = {});
  ~TestServer();

  uint16_t port() const { return port_; }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& token() const { return token_; }
  app::Node& node() { return *node_; }
  // Sends a request with the bearer token (unless `auth` is false). `path` starts with "/".
  Response Request(const std::string& method, const std::string& path, const std::string& body = {},
                   std::map<std::string, std::string> headers = {}, bool auth = true);
  // Stops the server and closes the store (the data directory stays until destruction).
  void Stop();
  void KeepDataDir() { keep_ = true; }

 private:
  TestServer() = default;
  std::string data_dir_;
  bool owns_dir_ = false;
  bool keep_ = false;
  std::string token_;
  uint16_t port_ = 0;
  Config config_;
  std::unique_ptr<app::Node> node_;
  std::unique_ptr<security::Authenticator> auth_;
  std::unique_ptr<api::FhirApi> api_;
  std::unique_ptr<api::HttpServer> server_;
  std::unique_ptr<HttpClient> client_;
  std::string pg_database_;  // created for this server; dropped with an owned data directory
};

}  // namespace benhan::testing
