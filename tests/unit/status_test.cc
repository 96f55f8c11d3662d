#include "core/status.h"

#include <gtest/gtest.h>

namespace benhan {
namespace {

TEST(Status, OkAndError) {
  Status ok;
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.code(), Code::kOk);
  Status st(Code::kValue, "bad date", "Patient.birthDate");
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Code::kValue);
  EXPECT_EQ(st.issues()[0].expression, "Patient.birthDate");
  st.WithContext("entry 2");
  EXPECT_EQ(st.message(), "entry 2: bad date");
}

TEST(Status, ErrorTableMapsHttpAndIssueCodes) {
  EXPECT_EQ(HttpStatusOf(Code::kNotFound), 404);
  EXPECT_EQ(HttpStatusOf(Code::kPreconditionFailed), 412);
  EXPECT_EQ(HttpStatusOf(Code::kConflict), 409);
  EXPECT_EQ(HttpStatusOf(Code::kProcessing), 422);
  EXPECT_EQ(IssueCodeOf(Code::kNotFound), "not-found");
  EXPECT_EQ(IssueCodeOf(Code::kGone), "deleted");
}

Result<int> Half(int n) {
  if (n % 2) return Status(Code::kInvalid, "odd");
  return n / 2;
}

Result<int> Quarter(int n) {
  ASSIGN_OR_RETURN(int h, Half(n));
  return Half(h);
}

TEST(Result, PropagatesErrors) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_FALSE(Quarter(6).ok());
  EXPECT_EQ(Quarter(6).status().message(), "odd");
}

}  // namespace
}  // namespace benhan
