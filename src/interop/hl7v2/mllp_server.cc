#include "interop/hl7v2/mllp_server.h"

#include <boost/asio.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl.hpp>
#include <thread>
#include <vector>

#include "core/log.h"
#include "interop/hl7v2/mllp.h"

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace benhan::interop::hl7v2 {

struct MllpServer::Impl {
  MllpServerOptions opts;
  MllpHandler handler;
  asio::io_context ioc;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>> work;

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

  asio::awaitable<void> Connection(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    std::string remote;
    {
      boost::system::error_code ec;
      auto ep = stream.socket().remote_endpoint(ec);
      if (!ec) remote = ep.address().to_string() + ":" + std::to_string(ep.port());
    }
    if (!opts.tls) {
      co_await Session(stream, remote, {});
      boost::system::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      co_return;
    }
    // TLS: the first record must be a handshake (0x16); a plaintext MLLP peer (0x0B) is told
    // nothing and disconnected.
    beast::flat_buffer first;
    stream.expires_after(std::chrono::seconds(std::min(30, opts.idle_timeout_seconds)));
    auto [ec, n] =
        co_await stream.async_read_some(first.prepare(4096), asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    first.commit(n);
    if (static_cast<const unsigned char*>(first.data().data())[0] != 0x16) {
      log::Warn("mllp: " + remote + " sent plaintext to the TLS listener: closed");
      boost::system::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      co_return;
    }
    beast::ssl_stream<beast::tcp_stream> tls(std::move(stream), *opts.tls);
    auto [hec, used] = co_await tls.async_handshake(asio::ssl::stream_base::server, first.data(),
                                                    asio::as_tuple(asio::use_awaitable));
    if (hec) {
      log::Warn("mllp: " + remote + ": TLS handshake failed: " + hec.message());
      co_return;
    }
    first.consume(used);
    std::string rest(static_cast<const char*>(first.data().data()), first.size());
    co_await Session(tls, remote, rest);
    beast::get_lowest_layer(tls).expires_after(std::chrono::seconds(2));
    auto [sec] = co_await tls.async_shutdown(asio::as_tuple(asio::use_awaitable));
    (void)sec;
  }

  // `pending`: bytes already read past the TLS handshake.
  template <class Stream>
  asio::awaitable<void> Session(Stream& stream, const std::string& remote, std::string pending) {
    MllpDecoder decoder(opts.max_message_bytes);
    std::vector<char> buf(64 * 1024);
    std::vector<MllpDecoder::Event> events;
    for (;;) {
      size_t n = 0;
      if (!pending.empty()) {
        n = std::min(pending.size(), buf.size());
        std::copy_n(pending.data(), n, buf.data());
        pending.erase(0, n);
      } else {
        beast::get_lowest_layer(stream).expires_after(
            std::chrono::seconds(opts.idle_timeout_seconds));
        auto [ec, got] =
            co_await stream.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
        if (ec) {
          if (ec == beast::error::timeout)
            log::Info("mllp: " + remote + " idle for " + std::to_string(opts.idle_timeout_seconds) +
                      " s: closed");
          if (!decoder.idle() && ec != beast::error::timeout)
            log::Warn("mllp: " + remote +
                      " closed the connection inside a frame: partial message dropped");
          break;
        }
        n = got;
      }
      events.clear();
      decoder.Feed(std::string_view(buf.data(), n), &events);
      std::string out;
      for (auto& e : events) {
        if (e.is_error) {
          log::Warn("mllp: " + remote + ": " + e.data);
          continue;
        }
        std::optional<std::string> ack = handler(e.data, remote);
        if (ack) out += MllpFrame(*ack);
      }
      if (!out.empty()) {
        beast::get_lowest_layer(stream).expires_after(
            std::chrono::seconds(opts.idle_timeout_seconds));
        auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(out),
                                                    asio::as_tuple(asio::use_awaitable));
        (void)wn;
        if (wec) break;
      }
    }
  }
};

MllpServer::MllpServer(MllpServerOptions opts, MllpHandler handler) : impl_(new Impl) {
  impl_->opts = std::move(opts);
  impl_->handler = std::move(handler);
}

MllpServer::~MllpServer() { Stop(); }

Result<uint16_t> MllpServer::Start() {
  auto& m = *impl_;
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(m.opts.host, ec);
  if (ec)
    return Status(Code::kInvalid, "bad MLLP listen address '" + m.opts.host + "': " + ec.message());
  tcp::endpoint ep(addr, m.opts.port);
  m.acceptor = std::make_unique<tcp::acceptor>(m.ioc);
  m.acceptor->open(ep.protocol(), ec);
  if (!ec) m.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) m.acceptor->bind(ep, ec);
  if (!ec) m.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return Status(Code::kUnavailable, "cannot listen (MLLP) on " + m.opts.host + ":" +
                                          std::to_string(m.opts.port) + ": " + ec.message());
  uint16_t port = m.acceptor->local_endpoint().port();
  m.work = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(
      m.ioc.get_executor());
  asio::co_spawn(m.ioc, m.Accept(), asio::detached);
  for (int i = 0; i < std::max(1, m.opts.threads); ++i)
    m.threads.emplace_back([&m] { m.ioc.run(); });
  return port;
}

void MllpServer::Stop() {
  auto& m = *impl_;
  if (m.threads.empty()) return;
  asio::post(m.ioc, [&m] {
    boost::system::error_code ec;
    if (m.acceptor) m.acceptor->close(ec);
  });
  m.work.reset();
  m.ioc.stop();
  for (auto& t : m.threads) t.join();
  m.threads.clear();
}

bool SplitMllpAddress(const std::string& addr, std::string* host, uint16_t* port) {
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= addr.size()) return false;
  std::string h = addr.substr(0, colon);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  int p = 0;
  for (size_t i = colon + 1; i < addr.size(); ++i) {
    if (addr[i] < '0' || addr[i] > '9') return false;
    p = p * 10 + (addr[i] - '0');
    if (p > 65535) return false;
  }
  *host = h;
  *port = static_cast<uint16_t>(p);
  return true;
}

}  // namespace benhan::interop::hl7v2
