// docs/errors.md must list every row of the error table (regenerate: tools/gen_errors_doc.py).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/status.h"

namespace benhan {
namespace {

TEST(ErrorsDoc, ListsEveryCode) {
  std::ifstream in(std::string(BENHAN_SOURCE_DIR) + "/docs/errors.md");
  ASSERT_TRUE(in) << "docs/errors.md missing";
  std::stringstream ss;
  ss << in.rdbuf();
  std::string doc = ss.str();
#define BENHAN_ERROR(name, http, issue, action, vi)                                   \
  EXPECT_NE(doc.find("| `" #name "` | " #http " | `" issue "` |"), std::string::npos) \
      << #name " is missing or stale in docs/errors.md: run tools/gen_errors_doc.py";
#include "core/error_codes.def"
#undef BENHAN_ERROR
}

}  // namespace
}  // namespace benhan
