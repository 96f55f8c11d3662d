// The read audit's batch writer (service/audit_log.h) recycles written records: every row written
// holds exactly the fields recorded for it, whatever the record it reused held before (longer,
// shorter or empty strings), across batches, with records over the size bound dropped, and with
// events recorded both as borrowed fields and as whole records, in order.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "service/audit_log.h"
#include "store/sqlite/sqlite_store.h"

namespace benhan::testing {
namespace {

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "benhan-auditlog-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    store::SqliteOptions o;
    o.path = dir_ + "/benhan.db";
    auto s = store::OpenSqliteStore(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string dir_;
  std::unique_ptr<store::Store> store_;
};

store::AuditRecord Expected(int n) {
  store::AuditRecord r;
  r.time_us = 1000 + n;
  // Lengths vary by batch, so that a reused record's strings shrink, grow and empty.
  const int batch = n / 100;
  r.principal = batch % 2 ? "user:bác-sĩ-" + std::to_string(n) : "admin";
  r.action = n % 3 ? "read" : "search";
  r.type = n % 2 ? "ExplanationOfBenefit" : "Patient";
  r.id = std::string(static_cast<size_t>(batch % 3 == 1 ? 60 : 5), 'x') + std::to_string(n);
  r.version = n % 7;
  r.status = n % 11 ? 200 : 404;
  r.remote = batch % 2 ? "192.168.100.200:54321" : "";
  r.detail = batch == 3 && n % 10 == 0 ? std::string(600, 'q') : (n % 4 ? "" : "family=nguyen");
  r.patient = n % 5 ? "patient-" + std::to_string(n % 13) + std::string(batch * 10, 'p') : "";
  r.flags = n % 17 ? "" : "btg";
  return r;
}

TEST_F(AuditLogTest, RecycledRecordsWriteExactlyWhatWasRecorded) {
  service::AuditLog log(*store_, 3600 * 1000);  // written on Flush() only
  int n = 0;
  for (int batch = 0; batch < 6; ++batch) {
    for (int i = 0; i < 100; ++i, ++n) {
      store::AuditRecord r = Expected(n);
      if (n % 9 == 0) {
        log.Record(r);  // a whole record (writes' and security events' path)
      } else {
        log.Record(service::AuditLog::Event{r.time_us, r.principal, r.action, r.type, r.id,
                                            r.version, r.status, r.remote, r.detail, r.patient,
                                            r.flags});
      }
    }
    ASSERT_TRUE(log.Flush().ok());
  }
  auto rows = store_->ScanAudit(0, 10000);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 600u);
  for (int i = 0; i < 600; ++i) {
    const store::AuditRecord want = Expected(i);
    const store::AuditRecord& got = (*rows)[static_cast<size_t>(i)].rec;
    ASSERT_EQ(got.time_us, want.time_us) << i;
    EXPECT_EQ(got.principal, want.principal) << i;
    EXPECT_EQ(got.action, want.action) << i;
    EXPECT_EQ(got.type, want.type) << i;
    EXPECT_EQ(got.id, want.id) << i;
    EXPECT_EQ(got.version, want.version) << i;
    EXPECT_EQ(got.status, want.status) << i;
    EXPECT_EQ(got.remote, want.remote) << i;
    EXPECT_EQ(got.detail, want.detail) << i;
    EXPECT_EQ(got.patient, want.patient) << i;
    EXPECT_EQ(got.flags, want.flags) << i;
  }
}

}  // namespace
}  // namespace benhan::testing
