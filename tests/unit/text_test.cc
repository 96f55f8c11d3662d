#include "core/text.h"

#include <gtest/gtest.h>

namespace benhan::text {
namespace {

TEST(Text, FoldsVietnamese) {
  EXPECT_EQ(Fold("Nguyễn Văn An"), "nguyen van an");
  EXPECT_EQ(Fold("Đỗ Thị Hằng"), "do thi hang");
  EXPECT_EQ(Fold("  TRẦN   quốc  "), "tran quoc");
  EXPECT_EQ(Fold("đường"), "duong");
}

TEST(Text, NfcComposes) {
  // "ễ" as e + circumflex + tilde (NFD) composes to one code point.
  std::string nfd = "e\xcc\x82\xcc\x83";
  EXPECT_EQ(Nfc(nfd), "\xe1\xbb\x85");
  EXPECT_TRUE(IsValidUtf8("Nguyễn"));
  EXPECT_FALSE(IsValidUtf8("\xff\xfe"));
}

}  // namespace
}  // namespace benhan::text
