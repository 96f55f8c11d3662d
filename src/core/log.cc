#include "core/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

#include "core/clock.h"

namespace benhan::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::mutex g_mu;
}  // namespace

void SetLevel(Level level) { g_level = static_cast<int>(level); }

bool SetLevel(std::string_view name) {
  if (name == "debug")
    SetLevel(Level::kDebug);
  else if (name == "info")
    SetLevel(Level::kInfo);
  else if (name == "warn")
    SetLevel(Level::kWarn);
  else if (name == "error")
    SetLevel(Level::kError);
  else
    return false;
  return true;
}

void Write(Level level, std::string_view message) {
  if (static_cast<int>(level) < g_level.load()) return;
  static const char* kNames[] = {"DEBUG", "INFO", "WARN", "ERROR"};
  std::string ts = FormatInstant(SystemClock().NowMicros());
  std::lock_guard<std::mutex> lock(g_mu);
  std::fprintf(stderr, "%s %s %.*s\n", ts.c_str(), kNames[static_cast<int>(level)],
               static_cast<int>(message.size()), message.data());
}

}  // namespace benhan::log
