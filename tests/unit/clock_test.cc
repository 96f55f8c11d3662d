#include "core/clock.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <string>

namespace benhan {
namespace {

TEST(Clock, FormatInstant) {
  EXPECT_EQ(FormatInstant(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(FormatInstant(1700000000123456), "2023-11-14T22:13:20.123456Z");
}

// FormatInstant formats years 0000-9999 itself (it runs under the write lock); it must agree with
// gmtime_r + snprintf everywhere, negative times included.
TEST(Clock, FormatInstantAgreesWithGmtime) {
  auto reference = [](int64_t micros) {
    int64_t secs = micros / 1000000, frac = micros % 1000000;
    if (frac < 0) frac += 1000000, secs -= 1;
    std::time_t t = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<long long>(frac));
    return std::string(buf);
  };
  constexpr int64_t kYear0 = -62167219200LL * 1000000, kYear10000 = 253402300800LL * 1000000;
  for (int64_t v = kYear0; v < kYear10000; v += 86400LL * 1000000 * 97 + 3723000017) {
    ASSERT_EQ(FormatInstant(v), reference(v)) << v;
  }
  for (int64_t v : {int64_t{-1}, int64_t{1}, kYear0, kYear10000 - 1, int64_t{951782400000000},
                    int64_t{4102444800000000}}) {
    EXPECT_EQ(FormatInstant(v), reference(v)) << v;
  }
}

TEST(Clock, DateRangesFollowPrecision) {
  auto y = ParseFhirDateRange("2020");
  ASSERT_TRUE(y);
  EXPECT_EQ(FormatInstant(y->low), "2020-01-01T00:00:00.000000Z");
  EXPECT_EQ(FormatInstant(y->high), "2021-01-01T00:00:00.000000Z");
  auto m = ParseFhirDateRange("2020-02");
  EXPECT_EQ(FormatInstant(m->high), "2020-03-01T00:00:00.000000Z");
  auto t = ParseFhirDateRange("2020-02-29T10:00:00+07:00");
  ASSERT_TRUE(t);
  EXPECT_EQ(FormatInstant(t->low), "2020-02-29T03:00:00.000000Z");
  EXPECT_EQ(t->high - t->low, 1000000);
  auto f = ParseFhirDateRange("2020-02-29T10:00:00.5Z");
  EXPECT_EQ(f->high - f->low, 100000);
}

TEST(Clock, RejectsMalformedDates) {
  for (const char* bad : {"20", "2020-13", "2019-02-29", "2020-01-01T25:00:00Z",
                          "2020-01-01T10:00:00+7", "2020-1-1", "2020-01-01 10:00:00", "abcd"}) {
    EXPECT_FALSE(ParseFhirDateRange(bad)) << bad;
  }
}

}  // namespace
}  // namespace benhan
