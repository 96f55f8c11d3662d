#include "core/clock.h"

#include <gtest/gtest.h>

namespace benhan {
namespace {

TEST(Clock, FormatInstant) {
  EXPECT_EQ(FormatInstant(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(FormatInstant(1700000000123456), "2023-11-14T22:13:20.123456Z");
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
