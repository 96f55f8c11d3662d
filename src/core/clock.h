// Clock seam and FHIR instant formatting. Tests inject a FakeClock. Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace benhan {

class Clock {
 public:
  virtual ~Clock() = default;
  // Microseconds since the Unix epoch, UTC.
  virtual int64_t NowMicros() const = 0;
};

// The real clock. Never null; lives for the whole process.
const Clock& SystemClock();

// "2026-11-22T10:00:00.123456Z" (FHIR instant, microsecond precision, UTC).
std::string FormatInstant(int64_t micros);

// Parses a FHIR date, dateTime or instant ("2020", "2020-03", "2020-03-04",
// "2020-03-04T10:00:00+07:00", with optional fraction). Returns the [low, high) range in epoch
// microseconds that the value covers at its precision; a dateTime without a zone is taken as UTC.
// nullopt if malformed.
struct InstantRange {
  int64_t low;
  int64_t high;  // exclusive
};
std::optional<InstantRange> ParseFhirDateRange(std::string_view text);

}  // namespace benhan
