#include "core/clock.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace benhan {
namespace {

class RealClock final : public Clock {
 public:
  int64_t NowMicros() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// The inverse of DaysFromCivil (H. Hinnant's civil_from_days).
void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

int DaysInMonth(int y, int m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
  return kDays[m - 1];
}

}  // namespace

const Clock& SystemClock() {
  static const RealClock clock;
  return clock;
}

std::string FormatInstant(int64_t micros) {
  int64_t secs = micros / 1000000;
  int64_t frac = micros % 1000000;
  if (frac < 0) {
    frac += 1000000;
    secs -= 1;
  }
  // Years 0000-9999 (every stamp benhan writes) without gmtime_r and snprintf: this runs for every
  // stored version, under the write lock.
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int64_t sod = secs - days * 86400;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  if (y >= 0 && y <= 9999) {
    std::string out(27, '0');  // YYYY-MM-DDThh:mm:ss.ffffffZ
    auto put = [&](size_t at, int64_t v, int width) {
      for (int i = width - 1; i >= 0; --i, v /= 10) out[at + i] = static_cast<char>('0' + v % 10);
    };
    put(0, y, 4);
    out[4] = '-';
    put(5, m, 2);
    out[7] = '-';
    put(8, d, 2);
    out[10] = 'T';
    put(11, sod / 3600, 2);
    out[13] = ':';
    put(14, sod / 60 % 60, 2);
    out[16] = ':';
    put(17, sod % 60, 2);
    out[19] = '.';
    put(20, frac, 6);
    out[26] = 'Z';
    return out;
  }
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(frac));
  return buf;
}

std::optional<InstantRange> ParseFhirDateRange(std::string_view s) {
  int y = 0, mo = 1, d = 1, h = 0, mi = 0, se = 0;
  if (!Digits(s, 0, 4, &y)) return std::nullopt;
  size_t p = 4;
  enum { kYear, kMonth, kDay, kMinute, kSecond } prec = kYear;
  int64_t frac_us = 0;
  int64_t frac_unit = 1000000;  // width of the precision in µs for fractional seconds
  int64_t offset_secs = 0;
  if (p < s.size()) {
    if (s[p] != '-' || !Digits(s, p + 1, 2, &mo) || mo < 1 || mo > 12) return std::nullopt;
    p += 3;
    prec = kMonth;
    if (p < s.size()) {
      if (s[p] != '-' || !Digits(s, p + 1, 2, &d) || d < 1 || d > DaysInMonth(y, mo))
        return std::nullopt;
      p += 3;
      prec = kDay;
      if (p < s.size()) {
        if (s[p] != 'T' || !Digits(s, p + 1, 2, &h) || s.size() < p + 6 || s[p + 3] != ':' ||
            !Digits(s, p + 4, 2, &mi) || h > 23 || mi > 59) {
          return std::nullopt;
        }
        p += 6;
        prec = kMinute;
        if (p < s.size() && s[p] == ':') {
          if (!Digits(s, p + 1, 2, &se) || se > 60) return std::nullopt;
          p += 3;
          prec = kSecond;
          if (p < s.size() && s[p] == '.') {
            ++p;
            size_t start = p;
            int64_t scale = 100000;
            while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
              if (scale > 0) frac_us += (s[p] - '0') * scale;
              scale /= 10;
              ++p;
            }
            if (p == start) return std::nullopt;
            size_t ndig = p - start;
            frac_unit = 1;
            for (size_t i = ndig; i < 6; ++i) frac_unit *= 10;
          }
        }
        if (p < s.size()) {
          if (s[p] == 'Z') {
            ++p;
          } else if (s[p] == '+' || s[p] == '-') {
            int oh = 0, om = 0;
            if (!Digits(s, p + 1, 2, &oh) || s.size() < p + 6 || s[p + 3] != ':' ||
                !Digits(s, p + 4, 2, &om) || oh > 14 || om > 59) {
              return std::nullopt;
            }
            offset_secs = (oh * 3600 + om * 60) * (s[p] == '+' ? 1 : -1);
            p += 6;
          } else {
            return std::nullopt;
          }
        }
        if (p != s.size()) return std::nullopt;
      }
    }
  }
  int64_t days = DaysFromCivil(y, mo, d);
  int64_t low = ((days * 86400 + h * 3600 + mi * 60 + se) - offset_secs) * 1000000 + frac_us;
  int64_t high = low;
  switch (prec) {
    case kYear:
      high = DaysFromCivil(y + 1, 1, 1) * 86400LL * 1000000;
      break;
    case kMonth:
      high =
          (mo == 12 ? DaysFromCivil(y + 1, 1, 1) : DaysFromCivil(y, mo + 1, 1)) * 86400LL * 1000000;
      break;
    case kDay:
      high = low + 86400LL * 1000000;
      break;
    case kMinute:
      high = low + 60LL * 1000000;
      break;
    case kSecond:
      high = low + frac_unit;
      break;
  }
  return InstantRange{low, high};
}

}  // namespace benhan
