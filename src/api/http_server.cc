#include "api/http_server.h"

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/decode_view.hpp>
#include <boost/url/pct_string_view.hpp>
#include <thread>
#include <tuple>

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

  asio::awaitable<void> Accept() {
    for (;;) {
      auto [ec, sock] = co_await acceptor->async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
        continue;
      }
      sock.set_option(tcp::no_delay(true));
      asio::co_spawn(asio::make_strand(ioc), Session(std::move(sock)), asio::detached);
    }
  }

  void Render(int status, const std::string& message, http::response<http::string_body>& res) {
    HttpResponse r = errors(status, message);
    res.result(static_cast<unsigned>(r.status));
    for (auto& [k, v] : r.headers) res.set(k, v);
    res.body() = std::move(r.body);
    res.prepare_payload();
  }

  asio::awaitable<void> Session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    std::string remote;
    {
      beast::error_code ec;
      auto ep = stream.socket().remote_endpoint(ec);
      if (!ec) remote = ep.address().to_string() + ":" + std::to_string(ep.port());
    }
    for (;;) {
      stream.expires_after(std::chrono::seconds(opts.idle_timeout_seconds));
      http::request_parser<http::string_body> parser;
      parser.body_limit(opts.max_body_bytes);
      parser.header_limit(64 * 1024);
      auto [ec, n] = co_await http::async_read_header(stream, buffer, parser,
                                                      asio::as_tuple(asio::use_awaitable));
      if (!ec && !parser.is_done()) {
        // Beast reads max(512, free capacity) bytes at a time: a body read through a small
        // buffer costs a recvmsg (and a timer re-arm and an epoll_wait) per 512 bytes, which
        // on a large Bundle is most of the request's CPU time. Large bodies are read 64 KiB at
        // a time; the buffer shrinks back once the request is done.
        auto len = parser.content_length();
        if (!len || *len > kSmallBody) buffer.reserve(kLargeRead);
        std::tie(ec, n) =
            co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
      }
      (void)n;
      if (buffer.size() == 0 && buffer.capacity() > kSmallBody) buffer.shrink_to_fit();
      if (ec == http::error::end_of_stream || ec == asio::error::eof ||
          ec == beast::error::timeout || ec == asio::error::connection_reset ||
          ec == asio::error::operation_aborted) {
        break;
      }
      http::response<http::string_body> res;
      res.version(11);
      bool keep_alive = false;
      if (ec) {
        if (ec == http::error::body_limit) {
          Render(413,
                 "request body larger than the limit of " + std::to_string(opts.max_body_bytes) +
                     " bytes",
                 res);
        } else {
          Render(400, "malformed HTTP request: " + ec.message(), res);
        }
        res.keep_alive(false);
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
        if (hr.method == "HEAD") {
          res.content_length(res.body().size());
          http::response<http::empty_body> head{res.base()};
          auto [wec, wn] =
              co_await http::async_write(stream, head, asio::as_tuple(asio::use_awaitable));
          (void)wn;
          if (wec || !keep_alive) break;
          continue;
        }
        res.prepare_payload();
      }
      auto [wec, wn] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
      (void)wn;
      if (wec || !res.keep_alive()) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }
};

HttpServer::HttpServer(HttpServerOptions opts, Handler handler, ErrorRenderer errors)
    : impl_(new Impl) {
  impl_->opts = std::move(opts);
  impl_->handler = std::move(handler);
  impl_->errors = std::move(errors);
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
