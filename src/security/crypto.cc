#include "security/crypto.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <boost/json.hpp>
#include <memory>

namespace benhan::security {
namespace json = boost::json;
namespace {

constexpr char kB64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr char kB32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using BldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>>;
using SigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;

Status Bad(std::string msg) { return Status(Code::kInvalid, std::move(msg)); }

std::string JwkString(const json::object& jwk, std::string_view name) {
  auto it = jwk.find(name);
  if (it == jwk.end() || !it->value().is_string()) return "";
  return std::string(it->value().as_string());
}

std::string BnBytes(const BIGNUM* bn, int width = 0) {
  int n = width > 0 ? width : BN_num_bytes(bn);
  std::string out(static_cast<size_t>(n), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), n);
  return out;
}

Result<PkeyPtr> KeyFromJwk(const json::object& jwk) {
  std::string kty = JwkString(jwk, "kty");
  BldPtr bld(OSSL_PARAM_BLD_new());
  const char* type = nullptr;
  BnPtr n, e;
  std::string point;
  std::string group;
  if (kty == "RSA") {
    auto nb = Base64UrlDecode(JwkString(jwk, "n"));
    auto eb = Base64UrlDecode(JwkString(jwk, "e"));
    if (!nb || !eb || nb->empty() || eb->empty()) return Bad("RSA key without valid n/e");
    if (nb->size() < 256) return Bad("RSA key shorter than 2048 bits");
    n.reset(BN_bin2bn(reinterpret_cast<const unsigned char*>(nb->data()),
                      static_cast<int>(nb->size()), nullptr));
    e.reset(BN_bin2bn(reinterpret_cast<const unsigned char*>(eb->data()),
                      static_cast<int>(eb->size()), nullptr));
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get());
    type = "RSA";
  } else if (kty == "EC") {
    std::string crv = JwkString(jwk, "crv");
    size_t width = crv == "P-384" ? 48 : crv == "P-256" ? 32 : 0;
    if (width == 0) return Bad("EC key curve '" + crv + "' is not P-256 or P-384");
    group = crv == "P-384" ? "secp384r1" : "prime256v1";
    auto x = Base64UrlDecode(JwkString(jwk, "x"));
    auto y = Base64UrlDecode(JwkString(jwk, "y"));
    if (!x || !y || x->size() != width || y->size() != width)
      return Bad("EC key without valid x/y");
    point = "\x04" + *x + *y;
    OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group.c_str(), 0);
    OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                     point.size());
    type = "EC";
  } else {
    return Bad("key type '" + kty + "' is not RSA or EC");
  }
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0) {
    return Bad("unusable " + kty + " key");
  }
  return PkeyPtr(raw);
}

}  // namespace

std::string Base64UrlEncode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  uint32_t buf = 0;
  int bits = 0;
  for (unsigned char c : in) {
    buf = (buf << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kB64Url[(buf >> bits) & 63];
    }
  }
  if (bits > 0) out += kB64Url[(buf << (6 - bits)) & 63];
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view in) {
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t buf = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '-')
      v = 62;
    else if (c == '_')
      v = 63;
    else
      return std::nullopt;
    buf = (buf << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buf >> bits) & 0xff);
    }
  }
  if (bits >= 6) return std::nullopt;  // a lone trailing character
  return out;
}

std::string Base32Encode(std::string_view in) {
  std::string out;
  uint32_t buf = 0;
  int bits = 0;
  for (unsigned char c : in) {
    buf = (buf << 8) | c;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += kB32[(buf >> bits) & 31];
    }
  }
  if (bits > 0) out += kB32[(buf << (5 - bits)) & 31];
  return out;
}

std::optional<std::string> Base32Decode(std::string_view in) {
  std::string out;
  uint32_t buf = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=' || c == ' ') continue;
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a';
    else if (c >= '2' && c <= '7')
      v = c - '2' + 26;
    else
      return std::nullopt;
    buf = (buf << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buf >> bits) & 0xff);
    }
  }
  return out;
}

std::string Hmac(std::string_view digest, std::string_view key, std::string_view data) {
  const EVP_MD* md = digest == "SHA512"   ? EVP_sha512()
                     : digest == "SHA256" ? EVP_sha256()
                                          : EVP_sha1();
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string Sha256(std::string_view data) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out);
  return std::string(reinterpret_cast<char*>(out), sizeof out);
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string RandomToken(size_t bytes) {
  std::string raw(bytes, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes));
  return Base64UrlEncode(raw);
}

Result<Jwt> ParseJwt(std::string_view token) {
  if (token.size() > 16384) return Bad("token longer than 16 KiB");
  size_t d1 = token.find('.');
  size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return Bad("not a JWS compact token (header.payload.signature)");
  }
  auto h = Base64UrlDecode(token.substr(0, d1));
  auto p = Base64UrlDecode(token.substr(d1 + 1, d2 - d1 - 1));
  auto s = Base64UrlDecode(token.substr(d2 + 1));
  if (!h) return Bad("JWT header is not base64url");
  if (!p) return Bad("JWT payload is not base64url");
  if (!s || s->empty()) return Bad("JWT signature is missing or not base64url");
  Jwt jwt;
  boost::system::error_code ec;
  json::value hv = json::parse(*h, ec);
  if (ec || !hv.is_object()) return Bad("JWT header is not a JSON object");
  json::value pv = json::parse(*p, ec);
  if (ec || !pv.is_object()) return Bad("JWT payload is not a JSON object");
  jwt.header = std::move(hv.as_object());
  jwt.payload = std::move(pv.as_object());
  jwt.alg = JwkString(jwt.header, "alg");
  jwt.kid = JwkString(jwt.header, "kid");
  if (jwt.alg.empty()) return Bad("JWT header has no alg");
  if (jwt.alg == "none") return Bad("unsigned JWT (alg none) refused");
  jwt.signing_input = std::string(token.substr(0, d2));
  jwt.signature = std::move(*s);
  return jwt;
}

Status VerifyJwt(const Jwt& jwt, const json::object& jwk) {
  const EVP_MD* md = nullptr;
  bool ec = false;
  size_t width = 0;
  if (jwt.alg == "RS384")
    md = EVP_sha384();
  else if (jwt.alg == "RS256")
    md = EVP_sha256();
  else if (jwt.alg == "ES384")
    md = EVP_sha384(), ec = true, width = 48;
  else if (jwt.alg == "ES256")
    md = EVP_sha256(), ec = true, width = 32;
  else
    return Bad("JWT algorithm '" + jwt.alg + "' is not accepted (RS384, ES384, RS256, ES256)");
  std::string kty = JwkString(jwk, "kty");
  if ((ec && kty != "EC") || (!ec && kty != "RSA"))
    return Bad("JWT algorithm " + jwt.alg + " does not fit the " + kty + " key");
  if (ec) {
    std::string crv = JwkString(jwk, "crv");
    if ((width == 48 && crv != "P-384") || (width == 32 && crv != "P-256"))
      return Bad("JWT algorithm " + jwt.alg + " does not fit curve " + crv);
  }
  std::string alg = JwkString(jwk, "alg");
  if (!alg.empty() && alg != jwt.alg) return Bad("JWT algorithm differs from the key's alg");
  ASSIGN_OR_RETURN(PkeyPtr key, KeyFromJwk(jwk));
  std::string sig = jwt.signature;
  if (ec) {  // JWS carries r||s; OpenSSL wants DER
    if (sig.size() != 2 * width) return Status(Code::kUnauthenticated, "bad JWT signature length");
    SigPtr es(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()),
                          static_cast<int>(width), nullptr);
    BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data() + width),
                          static_cast<int>(width), nullptr);
    ECDSA_SIG_set0(es.get(), r, s);
    unsigned char* der = nullptr;
    int len = i2d_ECDSA_SIG(es.get(), &der);
    if (len <= 0) return Status(Code::kUnauthenticated, "bad JWT signature");
    sig.assign(reinterpret_cast<char*>(der), static_cast<size_t>(len));
    OPENSSL_free(der);
  }
  MdCtxPtr mctx(EVP_MD_CTX_new());
  if (EVP_DigestVerifyInit(mctx.get(), nullptr, md, nullptr, key.get()) <= 0)
    return Bad("cannot verify with this key");
  int ok = EVP_DigestVerify(
      mctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
      reinterpret_cast<const unsigned char*>(jwt.signing_input.data()), jwt.signing_input.size());
  if (ok != 1) return Status(Code::kUnauthenticated, "JWT signature does not verify");
  return Status::Ok();
}

namespace {
Result<PkeyPtr> ReadPem(const std::string& pem) {
  std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* k = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (!k) return Bad("not a PEM private key");
  return PkeyPtr(k);
}
}  // namespace

Result<std::string> SignJwt(const json::object& payload, const std::string& pem_key,
                            const std::string& kid) {
  ASSIGN_OR_RETURN(PkeyPtr key, ReadPem(pem_key));
  bool ec = EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_EC;
  // P-256 keys sign ES256 (OpenID Connect id_tokens), P-384 keys ES384, RSA keys RS384.
  bool p256 = ec && EVP_PKEY_get_bits(key.get()) == 256;
  int width = p256 ? 32 : 48;
  json::object header{{"alg", ec ? (p256 ? "ES256" : "ES384") : "RS384"}, {"typ", "JWT"}};
  if (!kid.empty()) header["kid"] = kid;
  std::string input =
      Base64UrlEncode(json::serialize(header)) + "." + Base64UrlEncode(json::serialize(payload));
  MdCtxPtr mctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (EVP_DigestSignInit(mctx.get(), nullptr, p256 ? EVP_sha256() : EVP_sha384(), nullptr,
                         key.get()) <= 0 ||
      EVP_DigestSign(mctx.get(), nullptr, &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) <= 0) {
    return Status(Code::kInternal, "cannot sign");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(mctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) <= 0) {
    return Status(Code::kInternal, "cannot sign");
  }
  sig.resize(len);
  if (ec) {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
    SigPtr es(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
    if (!es) return Status(Code::kInternal, "cannot sign");
    sig = BnBytes(ECDSA_SIG_get0_r(es.get()), width) + BnBytes(ECDSA_SIG_get0_s(es.get()), width);
  }
  return input + "." + Base64UrlEncode(sig);
}

Result<json::object> PublicJwkOfPem(const std::string& pem_key, const std::string& kid) {
  ASSIGN_OR_RETURN(PkeyPtr key, ReadPem(pem_key));
  json::object jwk;
  if (EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_EC) {
    char group[64] = {0};
    size_t glen = 0;
    BIGNUM* x = nullptr;
    BIGNUM* y = nullptr;
    if (EVP_PKEY_get_utf8_string_param(key.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &glen) <= 0 ||
        EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_EC_PUB_X, &x) <= 0 ||
        EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_EC_PUB_Y, &y) <= 0) {
      return Bad("unusable EC key");
    }
    BnPtr xp(x), yp(y);
    std::string g(group);
    bool p256 = g == "prime256v1";
    if (g != "secp384r1" && !p256)
      return Bad("EC key curve " + g + " is not P-384 (ES384) or P-256 (ES256)");
    int width = p256 ? 32 : 48;
    jwk = {{"kty", "EC"},
           {"crv", p256 ? "P-256" : "P-384"},
           {"x", Base64UrlEncode(BnBytes(x, width))},
           {"y", Base64UrlEncode(BnBytes(y, width))},
           {"alg", p256 ? "ES256" : "ES384"}};
  } else if (EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_RSA) {
    BIGNUM* n = nullptr;
    BIGNUM* e = nullptr;
    if (EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_RSA_N, &n) <= 0 ||
        EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_RSA_E, &e) <= 0) {
      return Bad("unusable RSA key");
    }
    BnPtr np(n), ep(e);
    jwk = {{"kty", "RSA"},
           {"n", Base64UrlEncode(BnBytes(n))},
           {"e", Base64UrlEncode(BnBytes(e))},
           {"alg", "RS384"}};
  } else {
    return Bad("key is neither RSA nor EC");
  }
  if (!kid.empty()) jwk["kid"] = kid;
  return jwk;
}

Result<std::string> NewEcPrivateKeyPem() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return Status(Code::kInternal, "cannot generate an EC P-256 key");
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) <= 0)
    return Status(Code::kInternal, "cannot write the EC key");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace benhan::security
