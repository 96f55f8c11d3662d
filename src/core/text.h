// Text helpers for Vietnamese: NFC normalisation and search folding. Thread-safe, no state.
#pragma once

#include <string>
#include <string_view>

namespace benhan::text {

// NFC-normalised copy of UTF-8 `s`; invalid UTF-8 is returned unchanged.
std::string Nfc(std::string_view s);
// The search key of `s`: NFD, combining marks removed, lower case, 'đ'/'Đ' -> 'd', whitespace
// collapsed. "Nguyễn Văn Đỗ" -> "nguyen van do".
std::string Fold(std::string_view s);
// True if `s` is valid UTF-8.
bool IsValidUtf8(std::string_view s);

}  // namespace benhan::text
