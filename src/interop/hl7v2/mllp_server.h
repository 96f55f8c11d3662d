// MllpServer: the MLLP listener (Boost.Asio, C++20 coroutines), many connections at once.
//
// Each connection reads bytes as they come (partial reads are normal), cuts them into messages
// with MllpDecoder, hands each message to the Handler in order and writes the ACK it returns
// before reading the next. Framing errors are logged and the stream resynchronises on the next
// <VT>. A peer silent for idle_timeout_seconds is disconnected; so is one that does not read its
// ACKs within the same time. With a TLS context the listener speaks MLLP over TLS only (a peer
// that starts in plaintext, or fails the handshake or the client-certificate check, is logged and
// disconnected).
// Threading: `threads` threads run the loop; the handler runs on them and may block (it writes to
// the store), so give it as many threads as concurrent senders you expect to keep busy.
// Thread-safety: Start/Stop from one controlling thread; the handler must be thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace boost::asio::ssl {
class context;
}

namespace benhan::interop::hl7v2 {

struct MllpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port (Start's result)
  int threads = 2;
  int idle_timeout_seconds = 300;
  size_t max_message_bytes = 16u << 20;
  // Set: MLLP over TLS only (core/tls.h MakeServerContext; with a client CA, mutual TLS).
  std::shared_ptr<boost::asio::ssl::context> tls;
};

// Returns the ACK for one message (without framing), or nullopt to send none.
using MllpHandler =
    std::function<std::optional<std::string>(std::string_view message, const std::string& remote)>;

class MllpServer {
 public:
  MllpServer(MllpServerOptions opts, MllpHandler handler);
  ~MllpServer();
  // Binds and starts serving. Returns the bound port. Errors: kInvalid (bad address),
  // kUnavailable (cannot bind).
  Result<uint16_t> Start();
  // Stops accepting, closes connections, joins the threads.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Splits "HOST:PORT" (IPv6 in brackets). False if malformed.
bool SplitMllpAddress(const std::string& addr, std::string* host, uint16_t* port);

}  // namespace benhan::interop::hl7v2
