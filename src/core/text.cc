#include "core/text.h"

#include <utf8proc.h>

#include <cstdlib>

namespace benhan::text {

bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  utf8proc_ssize_t n = static_cast<utf8proc_ssize_t>(s.size());
  while (n > 0) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t len = utf8proc_iterate(p, n, &cp);
    if (len < 0) return false;
    p += len;
    n -= len;
  }
  return true;
}

std::string Nfc(std::string_view s) {
  bool ascii = true;
  for (unsigned char c : s) {
    if (c >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return std::string(s);
  utf8proc_uint8_t* out = nullptr;
  utf8proc_ssize_t n = utf8proc_map(
      reinterpret_cast<const utf8proc_uint8_t*>(s.data()), static_cast<utf8proc_ssize_t>(s.size()),
      &out, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n < 0) return std::string(s);
  std::string r(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  std::free(out);
  return r;
}

std::string Fold(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  utf8proc_ssize_t n = static_cast<utf8proc_ssize_t>(s.size());
  bool space = false;
  while (n > 0) {
    utf8proc_int32_t cp;
    // ASCII (most index text: codes, systems, English displays) without a call per character.
    utf8proc_ssize_t len = *p < 0x80 ? (cp = *p, 1) : utf8proc_iterate(p, n, &cp);
    if (len < 0) {  // invalid byte: skip it
      ++p;
      --n;
      continue;
    }
    p += len;
    n -= len;
    if (cp < 0x80) {
      char c = static_cast<char>(cp);
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        space = !out.empty();
        continue;
      }
      if (space) {
        out.push_back(' ');
        space = false;
      }
      out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
      continue;
    }
    if (cp == 0x0110 || cp == 0x0111) cp = 'd';  // Đ đ
    // Decompose, drop combining marks, lower-case the rest.
    utf8proc_int32_t buf[8];
    int opts = UTF8PROC_DECOMPOSE | UTF8PROC_STRIPMARK | UTF8PROC_CASEFOLD;
    utf8proc_ssize_t m =
        utf8proc_decompose_char(cp, buf, 8, static_cast<utf8proc_option_t>(opts), nullptr);
    if (space) {
      out.push_back(' ');
      space = false;
    }
    for (utf8proc_ssize_t i = 0; i < m && i < 8; ++i) {
      if (buf[i] == 0x0110 || buf[i] == 0x0111) buf[i] = 'd';
      utf8proc_uint8_t enc[4];
      utf8proc_ssize_t el = utf8proc_encode_char(buf[i], enc);
      out.append(reinterpret_cast<char*>(enc), static_cast<size_t>(el));
    }
  }
  return out;
}

}  // namespace benhan::text
