// Configuration keys with checked values (core/config.h): a bad value is refused with a message
// that names the key, and the setting keeps its previous value.
#include <gtest/gtest.h>

#include "core/config.h"

namespace benhan {
namespace {

TEST(Config, SqlitePageSizeIsAPowerOfTwoInRange) {
  Config c;
  EXPECT_EQ(c.sqlite_page_size, 8192);
  EXPECT_TRUE(c.Set("sqlite.page_size", "16384").ok());
  EXPECT_EQ(c.sqlite_page_size, 16384);
  for (const char* bad : {"6000", "2048", "131072", "8k", ""}) {
    Status st = c.Set("sqlite.page_size", bad);
    EXPECT_EQ(st.code(), Code::kInvalid) << bad;
    EXPECT_NE(st.message().find("sqlite.page_size"), std::string::npos) << st.message();
    EXPECT_EQ(c.sqlite_page_size, 16384) << bad;  // unchanged
  }
  EXPECT_TRUE(c.Set("sqlite.page_size", "4096").ok());
  EXPECT_EQ(c.sqlite_page_size, 4096);
}

TEST(Config, SqliteCompressAfterIsACountOrZero) {
  Config c;
  EXPECT_EQ(c.sqlite_compress_after, 1000);
  EXPECT_TRUE(c.Set("sqlite.compress_after", "0").ok());  // never compress
  EXPECT_EQ(c.sqlite_compress_after, 0);
  EXPECT_TRUE(c.Set("sqlite.compress_after", "50000").ok());
  for (const char* bad : {"-1", "many", ""}) {
    Status st = c.Set("sqlite.compress_after", bad);
    EXPECT_EQ(st.code(), Code::kInvalid) << bad;
    EXPECT_NE(st.message().find("sqlite.compress_after"), std::string::npos) << st.message();
    EXPECT_EQ(c.sqlite_compress_after, 50000) << bad;
  }
}

}  // namespace
}  // namespace benhan
