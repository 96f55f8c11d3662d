// HttpServer: HTTP/1.1 server on Boost.Beast/Asio (C++20 coroutines), keep-alive, request size
// limit, idle timeouts. It knows nothing of FHIR: each request goes to one Handler.
//
// Threading: `threads` threads run the event loop; the handler runs on them and may block briefly
// (SQLite reads and writes take micro- to milliseconds), so the default is 2 threads per core.
// Thread-safety: Start/Stop/Wait from one controlling thread; the handler must be thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace benhan::api {

struct HttpRequest {
  std::string method;  // "GET", "POST"...
  std::string target;  // raw request target: "/fhir/Patient?name=an"
  std::string path;    // decoded path without the query
  std::string query;   // raw query string (not decoded), without '?'
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string remote;  // client address "ip:port"
  bool keep_alive = true;

  // Header value or "" (first occurrence; names are case-insensitive).
  std::string_view Header(std::string_view lower_name) const;
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  void Set(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
  }
};

using Handler = std::function<void(const HttpRequest&, HttpResponse&)>;
// Renders protocol-level errors (body too large, malformed HTTP) in the application's format.
using ErrorRenderer = std::function<HttpResponse(int status, const std::string& message)>;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port (see Start's result)
  int threads = 2;
  std::size_t max_body_bytes = 64u << 20;
  int idle_timeout_seconds = 60;
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions opts, Handler handler, ErrorRenderer errors);
  ~HttpServer();
  // Binds and starts serving. Returns the bound port. Errors: kUnavailable if the address is in use
  // or cannot be bound.
  Result<uint16_t> Start();
  // Stops accepting and closes connections; returns when the loop threads have finished.
  void Stop();
  // Blocks until Stop() (e.g. from a signal handler thread).
  void Wait();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace benhan::api
