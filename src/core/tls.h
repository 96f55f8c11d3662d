// TLS contexts (OpenSSL through Boost.Asio ssl) for benhan's listeners (HTTP, MLLP) and its
// outbound connections (the lab system over MLLP), built from PEM files named in the config.
//
// Modern defaults: TLS 1.2 and 1.3 only; on TLS 1.2 only ECDHE key exchange with AEAD ciphers
// (AES-GCM, ChaCha20-Poly1305), no compression, no renegotiation, no session tickets; clients
// verify the peer's certificate and host name.
// Ownership: the returned context is shared by every connection made from it (shared_ptr).
// Thread-safety: a built context is only read afterwards; OpenSSL makes that thread-safe.
// Errors: kInvalid with a message naming the config key, the file and OpenSSL's reason (missing
// file, not PEM, key not matching the certificate...), meant to stop start-up.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"

namespace boost::asio::ssl {
class context;
}

namespace benhan::tls {

struct ServerFiles {
  std::string cert;       // PEM certificate chain (leaf first)
  std::string key;        // PEM private key of the leaf
  std::string client_ca;  // PEM CA certificates; set: clients must present a certificate they sign
  std::string key_prefix = "tls";  // config key prefix used in error messages ("hl7v2.tls")
};

Result<std::shared_ptr<boost::asio::ssl::context>> MakeServerContext(const ServerFiles& files);

struct ClientFiles {
  std::string ca;    // PEM CA certificates that sign the server's certificate; empty: system CAs
  std::string cert;  // optional client certificate (mutual TLS) and its key
  std::string key;
  std::string key_prefix = "hl7v2.lab_tls";
};

Result<std::shared_ptr<boost::asio::ssl::context>> MakeClientContext(const ClientFiles& files);

// The reasons in OpenSSL's error queue of this thread (cleared), "; "-separated.
std::string DrainOpenSslErrors();

}  // namespace benhan::tls
