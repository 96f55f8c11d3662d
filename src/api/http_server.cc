#include "api/http_server.h"

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/decode_view.hpp>
#include <boost/url/pct_string_view.hpp>
#include <cmath>
#include <mutex>
#include <thread>
#include <tuple>
#include <unordered_map>

#include "core/log.h"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace benhan::api {

std::string_view HttpRequest::Header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return {};
}

namespace {
constexpr size_t kSmallBody = 16 * 1024;
constexpr size_t kLargeRead = 64 * 1024;

// Token buckets keyed by client: `rate` tokens per second up to `burst`; a request takes one.
class TokenBuckets {
 public:
  TokenBuckets(double rate, int burst) : rate_(rate), burst_(std::max(1, burst)) {}
  bool enabled() const { return rate_ > 0; }
  // 0 if the request may go ahead, else the seconds until a token is back (at least 1).
  int Take(const std::string& key) {
    auto now = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> l(mu_);
    if (buckets_.size() > 100000) Prune(now);
    auto [it, fresh] = buckets_.try_emplace(key, Bucket{static_cast<double>(burst_), now});
    Bucket& b = it->second;
    if (!fresh) {
      double dt = std::chrono::duration<double>(now - b.last).count();
      b.tokens = std::min<double>(burst_, b.tokens + dt * rate_);
      b.last = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return std::max(1, static_cast<int>(std::ceil((1 - b.tokens) / rate_)));
  }

 private:
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point last;
  };
  // Drops buckets that would be full again (their clients are idle).
  void Prune(std::chrono::steady_clock::time_point now) {
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      double dt = std::chrono::duration<double>(now - it->second.last).count();
      if (it->second.tokens + dt * rate_ >= burst_)
        it = buckets_.erase(it);
      else
        ++it;
    }
  }
  double rate_;
  int burst_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

// Whether the target, percent-decoded, holds a control character (NUL, CR, LF...).
bool HasControlChar(std::string_view target) {
  auto bad = [](unsigned char c) { return c < 0x20 || c == 0x7f; };
  for (size_t i = 0; i < target.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(target[i]);
    if (bad(c)) return true;
    if (c == '%' && i + 2 < target.size()) {
      auto hex = [](char h) -> int {
        if (h >= '0' && h <= '9') return h - '0';
        if (h >= 'a' && h <= 'f') return h - 'a' + 10;
        if (h >= 'A' && h <= 'F') return h - 'A' + 10;
        return -1;
      };
      int hi = hex(target[i + 1]), lo = hex(target[i + 2]);
      if (hi >= 0 && lo >= 0 && bad(static_cast<unsigned char>(hi * 16 + lo))) return true;
    }
  }
  return false;
}

template <class Fields>
void SetIfAbsent(Fields& f, std::string_view name, std::string_view value) {
  if (f.find(name) == f.end()) f.set(name, value);
}

// The headers every response carries (the handler may have set stricter or specific ones).
template <class Fields>
void SecurityHeaders(Fields& f, bool tls) {
  SetIfAbsent(f, "X-Content-Type-Options", "nosniff");
  SetIfAbsent(f, "X-Frame-Options", "DENY");
  SetIfAbsent(f, "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
  SetIfAbsent(f, "Referrer-Policy", "no-referrer");
  SetIfAbsent(f, "Cache-Control", "no-store");
  if (tls) SetIfAbsent(f, "Strict-Transport-Security", "max-age=31536000");
}

}  // namespace

struct HttpServer::Impl {
  HttpServerOptions opts;
  Handler handler;
  ErrorRenderer errors;
  asio::io_context ioc;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stopped = false;
  std::unique_ptr<TokenBuckets> ip_buckets;
  std::unique_ptr<TokenBuckets> token_buckets;

  asio::awaitable<void> Accept() {
    for (;;) {
      auto [ec, sock] = co_await acceptor->async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
        continue;
      }
      sock.set_option(tcp::no_delay(true));
      asio::co_spawn(asio::make_strand(ioc), Connection(std::move(sock)), asio::detached);
    }
  }

  void Render(int status, const std::string& message, http::response<http::string_body>& res) {
    HttpResponse r = errors(status, message);
    res.result(static_cast<unsigned>(r.status));
    for (auto& [k, v] : r.headers) res.set(k, v);
    res.body() = std::move(r.body);
    res.prepare_payload();
  }

  // One accepted connection: plain HTTP, or the TLS handshake first. On an HTTPS port a client
  // speaking plain HTTP gets a 400 saying so (its first byte is not a TLS handshake record).
  asio::awaitable<void> Connection(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    std::string remote;
    std::string ip;
    bool loopback = false;
    {
      beast::error_code ec;
      auto ep = stream.socket().remote_endpoint(ec);
      if (!ec) {
        ip = ep.address().to_string();
        remote = ip + ":" + std::to_string(ep.port());
        loopback = ep.address().is_loopback();
      }
    }
    if (!opts.tls) {
      co_await Session(stream, buffer, remote, ip, loopback, false);
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
      co_return;
    }
    stream.expires_after(std::chrono::seconds(opts.header_timeout_seconds));
    auto [ec, n] =
        co_await stream.async_read_some(buffer.prepare(4096), asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    buffer.commit(n);
    if (static_cast<const unsigned char*>(buffer.data().data())[0] != 0x16) {
      http::response<http::string_body> res;
      res.version(11);
      Render(400,
             "cổng này chỉ nhận HTTPS (TLS), hãy dùng https:// / this port speaks HTTPS only "
             "(TLS): use https://",
             res);
      res.keep_alive(false);
      SecurityHeaders(res, false);
      auto [wec, wn] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
      (void)wec;
      (void)wn;
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
      co_return;
    }
    beast::ssl_stream<beast::tcp_stream> tls(std::move(stream), *opts.tls);
    auto [hec, used] = co_await tls.async_handshake(asio::ssl::stream_base::server, buffer.data(),
                                                    asio::as_tuple(asio::use_awaitable));
    if (hec) {
      log::Debug("https: " + remote + ": TLS handshake failed: " + hec.message());
      co_return;
    }
    buffer.consume(used);
    co_await Session(tls, buffer, remote, ip, loopback, true);
    beast::get_lowest_layer(tls).expires_after(std::chrono::seconds(2));
    auto [sec] = co_await tls.async_shutdown(asio::as_tuple(asio::use_awaitable));
    (void)sec;
  }

  template <class Stream>
  asio::awaitable<void> Session(Stream& stream, beast::flat_buffer& buffer,
                                const std::string& remote, const std::string& ip, bool loopback,
                                bool tls) {
    bool limited = opts.rate_limit_loopback || !loopback;
    for (;;) {
      // Idle between requests up to idle_timeout; once a request starts, its headers must be
      // complete within header_timeout (a client trickling bytes is closed).
      if (buffer.size() == 0) {
        beast::get_lowest_layer(stream).expires_after(
            std::chrono::seconds(opts.idle_timeout_seconds));
        auto [ec, n] = co_await stream.async_read_some(buffer.prepare(kSmallBody),
                                                       asio::as_tuple(asio::use_awaitable));
        if (ec) break;
        buffer.commit(n);
      }
      beast::get_lowest_layer(stream).expires_after(
          std::chrono::seconds(opts.header_timeout_seconds));
      http::request_parser<http::string_body> parser;
      parser.body_limit(opts.max_body_bytes);
      parser.header_limit(static_cast<std::uint32_t>(opts.max_header_bytes));
      auto [ec, n] = co_await http::async_read_header(stream, buffer, parser,
                                                      asio::as_tuple(asio::use_awaitable));
      bool too_many_headers = false;
      if (!ec) {
        too_many_headers = std::distance(parser.get().begin(), parser.get().end()) >
                           static_cast<std::ptrdiff_t>(opts.max_headers);
      }
      if (!ec && !too_many_headers && !parser.is_done()) {
        // Beast reads max(512, free capacity) bytes at a time: a body read through a small
        // buffer costs a recvmsg (and a timer re-arm and an epoll_wait) per 512 bytes, which
        // on a large Bundle is most of the request's CPU time. Large bodies are read 64 KiB at
        // a time; the buffer shrinks back once the request is done.
        beast::get_lowest_layer(stream).expires_after(
            std::chrono::seconds(opts.idle_timeout_seconds));
        auto len = parser.content_length();
        if (!len || *len > kSmallBody) buffer.reserve(kLargeRead);
        std::tie(ec, n) =
            co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
      }
      (void)n;
      if (buffer.size() == 0 && buffer.capacity() > kSmallBody) buffer.shrink_to_fit();
      if (ec == http::error::end_of_stream || ec == asio::error::eof ||
          ec == beast::error::timeout || ec == asio::error::connection_reset ||
          ec == asio::error::operation_aborted || ec == asio::ssl::error::stream_truncated) {
        if (ec == beast::error::timeout)
          log::Debug("http: " + remote + ": request not received in time: closed");
        break;
      }
      http::response<http::string_body> res;
      res.version(11);
      bool keep_alive = false;
      int retry_after = 0;
      if (!ec && !too_many_headers && limited) {
        if (ip_buckets->enabled()) retry_after = ip_buckets->Take(ip);
        std::string_view authz = parser.get()[http::field::authorization];
        if (!retry_after && token_buckets->enabled() && !authz.empty())
          retry_after = token_buckets->Take(std::to_string(std::hash<std::string_view>()(authz)));
      }
      if (ec || too_many_headers) {
        if (ec == http::error::body_limit) {
          Render(413,
                 "nội dung yêu cầu vượt giới hạn " + std::to_string(opts.max_body_bytes) +
                     " byte / request body larger than the limit of " +
                     std::to_string(opts.max_body_bytes) + " bytes",
                 res);
        } else if (ec == http::error::header_limit) {
          Render(431,
                 "dòng yêu cầu và tiêu đề vượt giới hạn " + std::to_string(opts.max_header_bytes) +
                     " byte / request line and header fields larger than the limit of " +
                     std::to_string(opts.max_header_bytes) + " bytes",
                 res);
        } else if (too_many_headers) {
          Render(431,
                 "quá nhiều trường tiêu đề (tối đa " + std::to_string(opts.max_headers) +
                     ") / too many header fields (limit " + std::to_string(opts.max_headers) + ")",
                 res);
        } else {
          Render(400, "yêu cầu HTTP sai cú pháp / malformed HTTP request: " + ec.message(), res);
        }
        res.keep_alive(false);
      } else if (HasControlChar(parser.get().target())) {
        // A decoded NUL or control character has no place in a FHIR path or id, and would
        // otherwise reach logs and the audit trail.
        Render(400,
               "đường dẫn chứa ký tự điều khiển (như %00) / the request target contains a control "
               "character (such as %00)",
               res);
        keep_alive = parser.get().keep_alive();
        res.keep_alive(keep_alive);
      } else if (retry_after > 0) {
        Render(429,
               "quá nhiều yêu cầu từ máy khách này, hãy thử lại sau " +
                   std::to_string(retry_after) +
                   " giây / too many requests from this client: "
                   "retry after " +
                   std::to_string(retry_after) + " s",
               res);
        res.set(http::field::retry_after, std::to_string(retry_after));
        keep_alive = parser.get().keep_alive();
        res.keep_alive(keep_alive);
      } else {
        auto& req = parser.get();
        HttpRequest hr;
        hr.method = std::string(req.method_string());
        hr.target = std::string(req.target());
        std::string_view t = req.target();
        auto q = t.find('?');
        std::string_view raw_path = t.substr(0, q);
        if (q != std::string_view::npos) hr.query = std::string(t.substr(q + 1));
        auto pv = boost::urls::make_pct_string_view(raw_path);
        if (pv) {
          for (char c : boost::urls::decode_view(*pv)) hr.path.push_back(c);
        } else {
          hr.path = std::string(raw_path);
        }
        hr.headers.reserve(16);
        for (const auto& f : req) {
          std::string name(f.name_string());
          for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          hr.headers.emplace_back(std::move(name), std::string(f.value()));
        }
        hr.body = std::move(req.body());
        hr.remote = remote;
        hr.tls = tls;
        keep_alive = req.keep_alive();
        hr.keep_alive = keep_alive;
        HttpResponse out;
        try {
          handler(hr, out);
        } catch (const std::exception& e) {
          log::Error(std::string("handler threw: ") + e.what());
          out = errors(500, "internal error");
        }
        res.result(static_cast<unsigned>(out.status));
        for (auto& [k, v] : out.headers) res.set(k, v);
        res.body() = std::move(out.body);
        res.keep_alive(keep_alive);
        SecurityHeaders(res, tls);
        if (hr.method == "HEAD") {
          res.content_length(res.body().size());
          http::response<http::empty_body> head{res.base()};
          beast::get_lowest_layer(stream).expires_after(
              std::chrono::seconds(opts.idle_timeout_seconds));
          auto [wec, wn] =
              co_await http::async_write(stream, head, asio::as_tuple(asio::use_awaitable));
          (void)wn;
          if (wec || !keep_alive) break;
          continue;
        }
        res.prepare_payload();
      }
      SecurityHeaders(res, tls);
      beast::get_lowest_layer(stream).expires_after(
          std::chrono::seconds(opts.idle_timeout_seconds));
      auto [wec, wn] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
      (void)wn;
      if (wec || !res.keep_alive()) break;
    }
  }
};

HttpServer::HttpServer(HttpServerOptions opts, Handler handler, ErrorRenderer errors)
    : impl_(new Impl) {
  impl_->opts = std::move(opts);
  impl_->handler = std::move(handler);
  impl_->errors = std::move(errors);
  impl_->ip_buckets =
      std::make_unique<TokenBuckets>(impl_->opts.rate_ip_per_second, impl_->opts.rate_ip_burst);
  impl_->token_buckets = std::make_unique<TokenBuckets>(impl_->opts.rate_token_per_second,
                                                        impl_->opts.rate_token_burst);
}

HttpServer::~HttpServer() { Stop(); }

Result<uint16_t> HttpServer::Start() {
  auto& m = *impl_;
  beast::error_code ec;
  auto addr = asio::ip::make_address(m.opts.host, ec);
  if (ec)
    return Status(Code::kInvalid, "bad listen address '" + m.opts.host + "': " + ec.message());
  tcp::endpoint ep(addr, m.opts.port);
  m.acceptor = std::make_unique<tcp::acceptor>(m.ioc);
  m.acceptor->open(ep.protocol(), ec);
  if (!ec) m.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) m.acceptor->bind(ep, ec);
  if (!ec) m.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status(Code::kUnavailable, "cannot listen on " + m.opts.host + ":" +
                                          std::to_string(m.opts.port) + ": " + ec.message());
  }
  uint16_t port = m.acceptor->local_endpoint().port();
  m.work = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(
      m.ioc.get_executor());
  asio::co_spawn(m.ioc, m.Accept(), asio::detached);
  int n = std::max(1, m.opts.threads);
  for (int i = 0; i < n; ++i) m.threads.emplace_back([&m] { m.ioc.run(); });
  return port;
}

void HttpServer::Stop() {
  auto& m = *impl_;
  if (m.threads.empty()) return;
  asio::post(m.ioc, [&m] {
    beast::error_code ec;
    if (m.acceptor) m.acceptor->close(ec);
  });
  m.work.reset();
  m.ioc.stop();
  for (auto& t : m.threads) t.join();
  m.threads.clear();
  {
    std::lock_guard<std::mutex> l(m.stop_mu);
    m.stopped = true;
  }
  m.stop_cv.notify_all();
}

void HttpServer::Wait() {
  auto& m = *impl_;
  std::unique_lock<std::mutex> l(m.stop_mu);
  m.stop_cv.wait(l, [&] { return m.stopped; });
}

}  // namespace benhan::api
