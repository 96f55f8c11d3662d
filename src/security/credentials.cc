#include "security/credentials.h"

#include <argon2.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "security/crypto.h"

namespace benhan::security {
namespace {
constexpr uint32_t kTime = 2;
constexpr uint32_t kMemKiB = 19456;
constexpr uint32_t kLanes = 1;
constexpr size_t kSaltLen = 16;
constexpr size_t kHashLen = 32;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

size_t CodePoints(std::string_view s) {
  return static_cast<size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// The most common passwords of leaked lists, and Vietnamese favourites.
constexpr std::array<std::string_view, 28> kCommon = {
    "123456789",     "1234567890", "12345678910", "password",    "password1", "password123",
    "qwerty123",     "qwertyuiop", "1q2w3e4r5t",  "abc123456",   "iloveyou",  "admin123",
    "administrator", "matkhau",    "matkhau123",  "matkhau@123", "benhvien",  "benhvien123",
    "bacsi123",      "yeuem123",   "anhyeuem",    "123456aA@",   "11111111",  "00000000",
    "88888888",      "abcd1234",   "welcome123",  "benhan123"};
}  // namespace

Result<std::string> HashPassword(std::string_view password) {
  std::string salt(kSaltLen, '\0');
  std::string raw = RandomToken(kSaltLen);  // base64url of 16 random bytes
  auto bytes = Base64UrlDecode(raw);
  if (bytes) salt = *bytes;
  size_t len = argon2_encodedlen(kTime, kMemKiB, kLanes, kSaltLen, kHashLen, Argon2_id);
  std::string encoded(len, '\0');
  int rc = argon2id_hash_encoded(kTime, kMemKiB, kLanes, password.data(), password.size(),
                                 salt.data(), salt.size(), kHashLen, encoded.data(), len);
  if (rc != ARGON2_OK)
    return Status(Code::kInternal, std::string("argon2: ") + argon2_error_message(rc));
  encoded.resize(std::strlen(encoded.c_str()));
  return encoded;
}

bool VerifyPassword(std::string_view password, const std::string& encoded) {
  if (encoded.rfind("$argon2id$", 0) != 0) return false;
  return argon2id_verify(encoded.c_str(), password.data(), password.size()) == ARGON2_OK;
}

Status CheckPasswordRules(std::string_view user, std::string_view password, int min_length) {
  if (CodePoints(password) < static_cast<size_t>(min_length)) {
    return Status(Code::kInvalid, "Mật khẩu phải có ít nhất " + std::to_string(min_length) +
                                      " ký tự / the password must have at least " +
                                      std::to_string(min_length) + " characters");
  }
  if (password.size() > 256)
    return Status(Code::kInvalid, "Mật khẩu quá dài / the password is longer than 256 bytes");
  std::string p = Lower(password);
  std::string u = Lower(user);
  if (!u.empty() && p.find(u) != std::string::npos) {
    return Status(Code::kInvalid,
                  "Mật khẩu không được chứa tên đăng nhập / the password must not contain the "
                  "user name");
  }
  for (std::string_view c : kCommon) {
    if (p == c) {
      return Status(Code::kInvalid,
                    "Mật khẩu quá phổ biến / the password is on the list of common passwords");
    }
  }
  if (std::all_of(p.begin(), p.end(), [&](char c) { return c == p[0]; }))
    return Status(Code::kInvalid, "Mật khẩu chỉ gồm một ký tự lặp lại / one repeated character");
  return Status::Ok();
}

std::string TotpCode(std::string_view secret, int64_t unix_seconds, int digits,
                     std::string_view digest, int step) {
  uint64_t counter = static_cast<uint64_t>(unix_seconds / step);
  char msg[8];
  for (int i = 7; i >= 0; --i) {
    msg[i] = static_cast<char>(counter & 0xff);
    counter >>= 8;
  }
  std::string mac = Hmac(digest, secret, std::string_view(msg, 8));
  int offset = static_cast<unsigned char>(mac.back()) & 0x0f;
  uint32_t bin = (static_cast<uint32_t>(static_cast<unsigned char>(mac[offset]) & 0x7f) << 24) |
                 (static_cast<uint32_t>(static_cast<unsigned char>(mac[offset + 1])) << 16) |
                 (static_cast<uint32_t>(static_cast<unsigned char>(mac[offset + 2])) << 8) |
                 static_cast<uint32_t>(static_cast<unsigned char>(mac[offset + 3]));
  uint32_t mod = 1;
  for (int i = 0; i < digits; ++i) mod *= 10;
  std::string code = std::to_string(bin % mod);
  return std::string(static_cast<size_t>(digits) - code.size(), '0') + code;
}

bool VerifyTotp(std::string_view secret, std::string_view code, int64_t unix_seconds,
                int64_t* last_step) {
  if (code.size() != 6 || secret.empty()) return false;
  bool found = false;
  int64_t matched = 0;
  for (int d = -1; d <= 1; ++d) {
    int64_t t = unix_seconds + d * 30;
    if (ConstantTimeEquals(TotpCode(secret, t), code)) {
      found = true;
      matched = t / 30;
    }
  }
  if (!found) return false;
  if (last_step) {
    if (matched <= *last_step) return false;
    *last_step = matched;
  }
  return true;
}

std::string TotpUri(std::string_view user, std::string_view secret) {
  return "otpauth://totp/benhan:" + std::string(user) + "?secret=" + Base32Encode(secret) +
         "&issuer=benhan&algorithm=SHA1&digits=6&period=30";
}

}  // namespace benhan::security
