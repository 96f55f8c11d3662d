// Minimal leveled logging to stderr, one line per event. Thread-safe.
#pragma once

#include <string_view>

namespace benhan::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
void SetLevel(Level level);
bool SetLevel(std::string_view name);  // "debug", "info", "warn", "error"; false if unknown
void Write(Level level, std::string_view message);
inline void Debug(std::string_view m) { Write(Level::kDebug, m); }
inline void Info(std::string_view m) { Write(Level::kInfo, m); }
inline void Warn(std::string_view m) { Write(Level::kWarn, m); }
inline void Error(std::string_view m) { Write(Level::kError, m); }

}  // namespace benhan::log
