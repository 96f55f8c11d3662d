#include "core/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/stat.h>

#include <boost/asio/ssl/context.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace benhan::tls {
namespace ssl = boost::asio::ssl;

std::string DrainOpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

namespace {

// Mozilla's "intermediate" list for TLS 1.2 without the finite-field DHE suites.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

Status Fail(const std::string& key, const std::string& path, const std::string& why) {
  std::string ossl = DrainOpenSslErrors();
  return Status(Code::kInvalid, "config " + key + ": " + (path.empty() ? "" : path + ": ") + why +
                                    (ossl.empty() ? "" : " (" + ossl + ")"));
}

// A readable regular file, else a clear error (OpenSSL's own message for a missing file is
// "system library" noise).
Status CheckFile(const std::string& key, const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return Fail(key, path, std::string("cannot read the file: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return Fail(key, path, "not a regular file");
  std::ifstream in(path);
  if (!in) return Fail(key, path, std::string("cannot open the file: ") + std::strerror(errno));
  return Status::Ok();
}

Status Harden(ssl::context& ctx, const std::string& key) {
  SSL_CTX* c = ctx.native_handle();
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                  ssl::context::no_compression | ssl::context::single_dh_use);
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
  if (SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(c, kTls12Ciphers) != 1)
    return Fail(key, "", "cannot set the TLS protocol versions and ciphers");
  return Status::Ok();
}

Status LoadCertAndKey(ssl::context& ctx, const std::string& prefix, const std::string& cert,
                      const std::string& key) {
  RETURN_IF_ERROR(CheckFile(prefix + ".cert", cert));
  RETURN_IF_ERROR(CheckFile(prefix + ".key", key));
  SSL_CTX* c = ctx.native_handle();
  if (SSL_CTX_use_certificate_chain_file(c, cert.c_str()) != 1)
    return Fail(prefix + ".cert", cert, "not a PEM certificate chain");
  EVP_PKEY* pkey = nullptr;
  if (BIO* bio = BIO_new_file(key.c_str(), "r")) {
    pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
  }
  if (pkey == nullptr)
    return Fail(prefix + ".key", key, "not a PEM private key (or it is encrypted)");
  int used = SSL_CTX_use_PrivateKey(c, pkey);
  EVP_PKEY_free(pkey);
  if (used != 1 || SSL_CTX_check_private_key(c) != 1)
    return Fail(prefix + ".key", key, "the private key does not match the certificate " + cert);
  return Status::Ok();
}

}  // namespace

Result<std::shared_ptr<ssl::context>> MakeServerContext(const ServerFiles& f) {
  const std::string& p = f.key_prefix;
  if (f.cert.empty() != f.key.empty())
    return Status(Code::kInvalid,
                  "config: " + p + ".cert and " + p + ".key must be given together");
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  RETURN_IF_ERROR(Harden(*ctx, p));
  SSL_CTX* c = ctx->native_handle();
  SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE);
  RETURN_IF_ERROR(LoadCertAndKey(*ctx, p, f.cert, f.key));
  static const unsigned char kSid[] = "benhan";
  SSL_CTX_set_session_id_context(c, kSid, sizeof kSid - 1);
  if (!f.client_ca.empty()) {
    RETURN_IF_ERROR(CheckFile(p + ".client_ca", f.client_ca));
    if (SSL_CTX_load_verify_locations(c, f.client_ca.c_str(), nullptr) != 1)
      return Fail(p + ".client_ca", f.client_ca, "not a PEM CA certificate file");
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(f.client_ca.c_str());
    if (names == nullptr) return Fail(p + ".client_ca", f.client_ca, "no CA certificate in it");
    SSL_CTX_set_client_CA_list(c, names);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return ctx;
}

Result<std::shared_ptr<ssl::context>> MakeClientContext(const ClientFiles& f) {
  const std::string& p = f.key_prefix;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  RETURN_IF_ERROR(Harden(*ctx, p));
  SSL_CTX* c = ctx->native_handle();
  if (f.ca.empty()) {
    if (SSL_CTX_set_default_verify_paths(c) != 1)
      return Fail(p + ".ca", "", "cannot load the system's CA certificates");
  } else {
    RETURN_IF_ERROR(CheckFile(p + ".ca", f.ca));
    if (SSL_CTX_load_verify_locations(c, f.ca.c_str(), nullptr) != 1)
      return Fail(p + ".ca", f.ca, "not a PEM CA certificate file");
  }
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
  if (!f.cert.empty() || !f.key.empty()) {
    if (f.cert.empty() || f.key.empty())
      return Status(Code::kInvalid,
                    "config: " + p + ".cert and " + p + ".key must be given together");
    RETURN_IF_ERROR(LoadCertAndKey(*ctx, p, f.cert, f.key));
  }
  return ctx;
}

}  // namespace benhan::tls
