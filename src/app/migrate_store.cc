#include "app/migrate_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <vector>

#include "fhir/definitions.h"
#include "fhir/indexer.h"
#include "fhir/resource.h"
#include "store/sqlite/json_codec.h"

namespace benhan::app {
namespace {

// Versions (or audit rows) per destination transaction.
constexpr int kBatch = 500;

struct Db {
  sqlite3* db = nullptr;
  ~Db() {
    if (db) sqlite3_close(db);
  }
};
struct Stmt {
  sqlite3_stmt* s = nullptr;
  ~Stmt() {
    if (s) sqlite3_finalize(s);
  }
  std::string Text(int c) const {
    const void* p = sqlite3_column_blob(s, c);
    int n = sqlite3_column_bytes(s, c);
    return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
  }
};

Status Prepare(Db& db, const char* sql, Stmt* st) {
  if (sqlite3_prepare_v2(db.db, sql, -1, &st->s, nullptr) != SQLITE_OK)
    return Status(Code::kInternal, std::string("sqlite: ") + sqlite3_errmsg(db.db));
  return Status::Ok();
}

struct Row {
  store::NewVersion v;
  bool current = false;
};

}  // namespace

Result<MigrateStoreSummary> MigrateStore(const std::string& sqlite_dir, store::Store& to,
                                         const std::function<void(int64_t)>& progress) {
  auto t0 = std::chrono::steady_clock::now();
  std::string path = sqlite_dir + "/benhan.db";
  if (!std::filesystem::exists(path)) return Status(Code::kNotFound, "no database at " + path);
  // The source server must be stopped: take its data directory's lock.
  std::string lock_path = sqlite_dir + "/benhan.lock";
  int lock = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0 || ::flock(lock, LOCK_EX | LOCK_NB) != 0) {
    if (lock >= 0) ::close(lock);
    return Status(Code::kUnavailable, sqlite_dir + " is in use by a benhan process: stop it first");
  }
  std::unique_ptr<int, void (*)(int*)> unlock(&lock, [](int* fd) { ::close(*fd); });
  ASSIGN_OR_RETURN(auto counts, to.CountByType());
  if (!counts.empty()) {
    return Status(Code::kPreconditionFailed,
                  "the destination already holds resources (" + counts[0].first +
                      "...): migrate-store only fills an empty database");
  }
  Db db;
  if (sqlite3_open_v2(path.c_str(), &db.db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
    return Status(Code::kUnavailable, "cannot open " + path);
  // Stored JSON may be compressed with the database's dictionaries (schema 6 on).
  store::sqlite::JsonCodec codec;
  {
    Stmt t;
    RETURN_IF_ERROR(
        Prepare(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'json_dict'", &t));
    if (sqlite3_step(t.s) == SQLITE_ROW) RETURN_IF_ERROR(codec.Load(db.db));
  }
  ASSIGN_OR_RETURN(auto defs, fhir::Definitions::LoadEmbedded());
  ASSIGN_OR_RETURN(auto indexer, fhir::Indexer::Create(defs));

  MigrateStoreSummary sum;
  // Every version in change order; the current one of each resource is indexed.
  Stmt vs;
  RETURN_IF_ERROR(Prepare(db,
                          "SELECT r.rtype, r.id, v.version, v.last_updated, v.deleted, v.method, "
                          "v.json, r.version = v.version FROM resource_version v JOIN resource r "
                          "ON r.rid = v.rid ORDER BY v.seq",
                          &vs));
  std::vector<Row> batch;
  std::vector<fhir::IndexEntries> index;
  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::Ok();
    index.assign(batch.size(), fhir::IndexEntries());
    for (size_t i = 0; i < batch.size(); ++i) {
      Row& r = batch[i];
      if (!r.current || r.v.deleted) continue;
      boost::json::value res;
      Status st = fhir::ParseJson(r.v.json, &res);
      if (!st.ok()) return st.WithContext(r.v.type + "/" + r.v.id);
      index[i] = indexer->Extract(res);
      r.v.index = &index[i];
    }
    RETURN_IF_ERROR(store::RunInTransaction(to, [&](store::Transaction& t) -> Status {
      for (const Row& r : batch) {
        if (r.v.version == 1) t.AssumeNew(r.v.type, r.v.id);
        ASSIGN_OR_RETURN(int64_t seq, t.Put(r.v));
        (void)seq;
      }
      return Status::Ok();
    }));
    sum.versions += static_cast<int64_t>(batch.size());
    for (const Row& r : batch) sum.resources += r.current ? 1 : 0;
    batch.clear();
    if (progress) progress(sum.versions);
    return Status::Ok();
  };
  while (true) {
    int rc = sqlite3_step(vs.s);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW)
      return Status(Code::kInternal, std::string("sqlite: ") + sqlite3_errmsg(db.db));
    Row r;
    r.v.type = vs.Text(0);
    r.v.id = vs.Text(1);
    r.v.version = sqlite3_column_int64(vs.s, 2);
    r.v.last_updated_us = sqlite3_column_int64(vs.s, 3);
    r.v.deleted = sqlite3_column_int64(vs.s, 4) != 0;
    r.v.method = vs.Text(5);
    {
      const void* p = sqlite3_column_blob(vs.s, 6);
      std::string_view stored(p ? static_cast<const char*>(p) : "",
                              static_cast<size_t>(sqlite3_column_bytes(vs.s, 6)));
      Status st = codec.Decode(stored, &r.v.json);
      if (!st.ok()) return st.WithContext(r.v.type + "/" + r.v.id);
    }
    r.current = sqlite3_column_int64(vs.s, 7) != 0;
    batch.push_back(std::move(r));
    if (batch.size() >= kBatch) RETURN_IF_ERROR(flush());
  }
  RETURN_IF_ERROR(flush());

  // The audit trail, in its original order (chained anew in the destination: `benhan audit
  // verify` on the source first proves what was copied).
  Stmt as;
  RETURN_IF_ERROR(Prepare(db,
                          "SELECT time, principal, action, rtype, id, version, status, remote, "
                          "detail, patient, flags FROM audit_event ORDER BY aid",
                          &as));
  std::vector<store::AuditRecord> recs;
  while (true) {
    int rc = sqlite3_step(as.s);
    if (rc == SQLITE_ROW) {
      store::AuditRecord a;
      a.time_us = sqlite3_column_int64(as.s, 0);
      a.principal = as.Text(1);
      a.action = as.Text(2);
      a.type = as.Text(3);
      a.id = as.Text(4);
      a.version = sqlite3_column_int64(as.s, 5);
      a.status = sqlite3_column_int(as.s, 6);
      a.remote = as.Text(7);
      a.detail = as.Text(8);
      a.patient = as.Text(9);
      a.flags = as.Text(10);
      recs.push_back(std::move(a));
    } else if (rc != SQLITE_DONE) {
      return Status(Code::kInternal, std::string("sqlite: ") + sqlite3_errmsg(db.db));
    }
    if (recs.size() >= 5000 || (rc == SQLITE_DONE && !recs.empty())) {
      RETURN_IF_ERROR(to.AppendAudit(recs));
      sum.audit_rows += static_cast<int64_t>(recs.size());
      recs.clear();
    }
    if (rc == SQLITE_DONE) break;
  }
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return sum;
}

}  // namespace benhan::app
