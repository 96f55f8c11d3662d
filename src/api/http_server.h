// HttpServer: HTTP/1.1 server on Boost.Beast/Asio (C++20 coroutines), keep-alive, optional TLS
// (HTTPS only when a TLS context is given: a plaintext request on the port gets a 400 and is
// closed), and the protocol-level protections every response gets, whatever the handler does:
// - limits: body size (413), request line + header bytes and header count (431), time to send the
//   headers (slow clients are closed), idle keep-alive timeout;
// - request rate per client address and per bearer token (token buckets; 429 with Retry-After);
// - security headers (nosniff, no framing, no referrer, no-store unless the handler set a
//   Cache-Control, Strict-Transport-Security on HTTPS).
// It knows nothing of FHIR: each request goes to one Handler, protocol errors to the ErrorRenderer.
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

namespace boost::asio::ssl {
class context;
}

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
  bool tls = false;  // received over HTTPS

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
  std::size_t max_header_bytes = 16u << 10;  // request line + header fields
  int max_headers = 100;
  int header_timeout_seconds =
      10;  // from a request's first byte (or the TLS handshake) to its end of headers
  int idle_timeout_seconds = 60;
  // Token buckets: sustained requests per second and burst, per client IP and per Authorization
  // header value. A rate of 0 switches that limit off. Loopback clients are exempt unless
  // rate_limit_loopback (a proxy on the same host would otherwise put everyone in one bucket).
  double rate_ip_per_second = 0;
  int rate_ip_burst = 1;
  double rate_token_per_second = 0;
  int rate_token_burst = 1;
  bool rate_limit_loopback = false;
  // Set: serve HTTPS only (core/tls.h MakeServerContext).
  std::shared_ptr<boost::asio::ssl::context> tls;
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
