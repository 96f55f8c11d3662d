// store/: the SQLite backend's version model, index replacement and group commit.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "store/sqlite/migrations.h"
#include "store/sqlite/sqlite_store.h"

namespace benhan::store {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "benhan-store-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    store_.reset();
    SqliteOptions o;
    o.path = dir_ + "/benhan.db";
    o.readers = 2;
    auto s = OpenSqliteStore(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  static NewVersion Version(const std::string& id, int64_t v, const fhir::IndexEntries* ix,
                            bool deleted = false) {
    NewVersion nv;
    nv.type = "Patient";
    nv.id = id;
    nv.version = v;
    nv.last_updated_us = 1000 + v;
    nv.method = v == 1 ? "POST" : "PUT";
    nv.deleted = deleted;
    nv.json = deleted ? ""
                      : "{\"resourceType\":\"Patient\",\"id\":\"" + id +
                            "\",\"v\":" + std::to_string(v) + "}";
    nv.index = ix;
    return nv;
  }
  int64_t CountByFamily(const std::string& folded) {
    Query q;
    Condition c;
    c.param = "family";
    c.kind = ParamKind::kString;
    QueryValue v;
    v.code = folded;
    c.any_of.push_back(v);
    q.all_of.push_back(c);
    q.want_total = true;
    auto r = store_->Search("Patient", q);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->total.value_or(-1) : -1;
  }
  std::string dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, VersionsHistoryAndTombstones) {
  ASSERT_TRUE(RunInTransaction(*store_, [&](Transaction& t) {
                return t.Put(Version("a", 1, nullptr)).status();
              }).ok());
  ASSERT_TRUE(RunInTransaction(*store_, [&](Transaction& t) {
                return t.Put(Version("a", 2, nullptr)).status();
              }).ok());
  // Skipping a version is refused.
  Status st = RunInTransaction(
      *store_, [&](Transaction& t) { return t.Put(Version("a", 4, nullptr)).status(); });
  EXPECT_EQ(st.code(), Code::kPreconditionFailed);
  ASSERT_TRUE(RunInTransaction(*store_, [&](Transaction& t) {
                return t.Put(Version("a", 3, nullptr, true)).status();
              }).ok());
  auto cur = store_->Read("Patient", "a");
  ASSERT_TRUE(cur.ok());
  EXPECT_TRUE(cur->deleted);
  EXPECT_EQ(cur->version, 3);
  auto v1 = store_->VRead("Patient", "a", 1);
  ASSERT_TRUE(v1.ok());
  EXPECT_NE(v1->json.find("\"v\":1"), std::string::npos);
  HistoryQuery hq;
  hq.type = "Patient";
  hq.id = "a";
  auto h = store_->History(hq);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->entries.size(), 3u);
  EXPECT_EQ(h->entries[0].version, 3);  // newest first
  EXPECT_EQ(store_->Read("Patient", "nope").status().code(), Code::kNotFound);
}

TEST_F(StoreTest, UpdateReplacesIndexRowsAndSurvivesReopen) {
  fhir::IndexEntries a, b;
  a.strings.push_back({"family", "nguyen", "Nguyễn"});
  b.strings.push_back({"family", "tran", "Trần"});
  ASSERT_TRUE(RunInTransaction(*store_, [&](Transaction& t) {
                return t.Put(Version("p", 1, &a)).status();
              }).ok());
  EXPECT_EQ(CountByFamily("nguyen"), 1);
  ASSERT_TRUE(RunInTransaction(*store_, [&](Transaction& t) {
                return t.Put(Version("p", 2, &b)).status();
              }).ok());
  EXPECT_EQ(CountByFamily("nguyen"), 0);
  EXPECT_EQ(CountByFamily("tran"), 1);
  Reopen();
  EXPECT_EQ(CountByFamily("tran"), 1);
  ASSERT_TRUE(RunInTransaction(*store_, [&](Transaction& t) {
                return t.Put(Version("p", 3, &a)).status();
              }).ok());
  EXPECT_EQ(CountByFamily("tran"), 0);
  EXPECT_EQ(CountByFamily("nguyen"), 1);
  // A tombstone removes the resource from search.
  ASSERT_TRUE(RunInTransaction(*store_, [&](Transaction& t) {
                return t.Put(Version("p", 4, nullptr, true)).status();
              }).ok());
  EXPECT_EQ(CountByFamily("nguyen"), 0);
}

// "g<t>-<i>" (built by appending: GCC 12 -O3 raises a false -Wrestrict on "g" + std::string).
std::string GroupId(int t, int i) {
  std::string id(1, 'g');
  id.append(std::to_string(t)).append(1, '-').append(std::to_string(i));
  return id;
}

TEST_F(StoreTest, GroupCommitIsolatesFailingUnits) {
  GroupCommitter gc(*store_);
  fhir::IndexEntries ix;
  ix.strings.push_back({"family", "le", "Lê"});
  constexpr int kThreads = 8, kPerThread = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string id = GroupId(t, i);
        bool bad = i % 5 == 4;  // every fifth unit writes, then fails: it must leave nothing behind
        Status st = gc.Run([&](Transaction& txn) -> Status {
          auto r = txn.Put(Version(id, 1, &ix));
          if (!r.ok()) return r.status();
          if (bad) return Status(Code::kProcessing, "deliberate failure");
          return Status::Ok();
        });
        if (bad) {
          EXPECT_EQ(st.code(), Code::kProcessing);
          failures++;
        } else {
          EXPECT_TRUE(st.ok()) << st.ToString();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  int good = kThreads * kPerThread - failures.load();
  EXPECT_EQ(CountByFamily("le"), good);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      auto r = store_->Read("Patient", GroupId(t, i));
      EXPECT_EQ(r.ok(), i % 5 != 4) << t << "/" << i;
    }
  }
  Reopen();  // what was committed is durable and consistent
  EXPECT_EQ(CountByFamily("le"), good);
}

// Every kind of index row is deleted by the keys stored in resource.index_keys when the next
// version replaces it (strings longer than 127 bytes exercise multi-byte lengths).
TEST_F(StoreTest, UpdateDeletesEveryKindOfIndexRow) {
  fhir::IndexEntries ix;
  std::string long_text(300, 'x');
  ix.strings.push_back({"family", "nguyen", "Nguyễn"});
  ix.strings.push_back({"address", long_text, long_text});
  ix.tokens.push_back({"identifier", "http://example.org/ids", "123", "so the"});
  ix.references.push_back({"organization", "Organization", "o1", ""});
  ix.references.push_back({"general-practitioner", "", "", "http://example.org/" + long_text});
  ix.dates.push_back({"birthdate", -1000000, 86400000000});
  ix.numbers.push_back({"length", 1.5});
  ix.quantities.push_back(
      {"weight", 5.4, "http://unitsofmeasure.org", "mg", "mg", "ucum:g", 0.0054});
  ix.uris.push_back({"url", "http://example.org/x"});
  auto count = [&] {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2((dir_ + "/benhan.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
              SQLITE_OK);
    int64_t n = 0;
    for (const char* t : {"idx_string", "idx_token", "idx_reference", "idx_date", "idx_number",
                          "idx_quantity", "idx_uri"}) {
      sqlite3_stmt* s = nullptr;
      std::string sql = std::string("SELECT COUNT(*) FROM ") + t;
      EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr), SQLITE_OK);
      if (sqlite3_step(s) == SQLITE_ROW) n += sqlite3_column_int64(s, 0);
      sqlite3_finalize(s);
    }
    sqlite3_close(db);
    return n;
  };
  ASSERT_TRUE(RunInTransaction(*store_, [&](Transaction& t) {
                return t.Put(Version("k", 1, &ix)).status();
              }).ok());
  EXPECT_EQ(count(), static_cast<int64_t>(ix.size()));
  fhir::IndexEntries none;
  ASSERT_TRUE(RunInTransaction(*store_, [&](Transaction& t) {
                return t.Put(Version("k", 2, &none)).status();
              }).ok());
  EXPECT_EQ(count(), 0);
}

// Index rows are queued by Put and inserted in multi-row statements (32, 16, ..., 1 rows) before
// the commit: every row of a count that is no power of two arrives, duplicates collapse, and a
// rollback to a savepoint drops the rows queued since it.
TEST_F(StoreTest, QueuedIndexRowsAreAllWrittenOnce) {
  constexpr int kResources = 77;
  std::vector<fhir::IndexEntries> ix(kResources);
  for (int i = 0; i < kResources; ++i) {
    ix[i].strings.push_back({"family", "vo", "Võ"});
    ix[i].strings.push_back({"family", "vo", "Võ"});  // a duplicate row: stored once
    ix[i].tokens.push_back({"identifier", "http://example.org/ids", std::to_string(i), ""});
    ix[i].dates.push_back({"birthdate", i, i + 1});
  }
  ASSERT_TRUE(RunInTransaction(*store_, [&](Transaction& t) {
                for (int i = 0; i < kResources; ++i) {
                  RETURN_IF_ERROR(t.Put(Version("q" + std::to_string(i), 1, &ix[i])).status());
                }
                RETURN_IF_ERROR(t.Savepoint());
                RETURN_IF_ERROR(t.Put(Version("undone", 1, &ix[0])).status());
                return t.RollbackToSavepoint();
              }).ok());
  EXPECT_EQ(CountByFamily("vo"), kResources);
  EXPECT_EQ(store_->Read("Patient", "undone").status().code(), Code::kNotFound);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2((dir_ + "/benhan.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
            SQLITE_OK);
  for (const char* t : {"idx_string", "idx_token", "idx_date"}) {
    sqlite3_stmt* s = nullptr;
    std::string sql = std::string("SELECT COUNT(*), COUNT(DISTINCT rid) FROM ") + t;
    ASSERT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int64(s, 0), kResources) << t;
    EXPECT_EQ(sqlite3_column_int64(s, 1), kResources) << t;
    sqlite3_finalize(s);
  }
  sqlite3_close(db);
}

// A queue past a few MB is inserted early, inside the transaction: every row still arrives once,
// and a rollback to a savepoint still drops the unit's rows, inserted or queued.
TEST_F(StoreTest, LargeIndexQueuesAreInsertedEarly) {
  constexpr int kResources = 120;  // 120 x 2 x 40 KB of strings: past the 8 MB bound
  fhir::IndexEntries ix;
  std::string big = "lon" + std::string(40000, 'g');
  ix.strings.push_back({"family", big, big});
  ASSERT_TRUE(RunInTransaction(*store_, [&](Transaction& t) {
                for (int i = 0; i < kResources; ++i) {
                  RETURN_IF_ERROR(t.Put(Version("l" + std::to_string(i), 1, &ix)).status());
                }
                RETURN_IF_ERROR(t.Savepoint());
                for (int i = 0; i < kResources; ++i) {
                  RETURN_IF_ERROR(t.Put(Version("u" + std::to_string(i), 1, &ix)).status());
                }
                return t.RollbackToSavepoint();
              }).ok());
  EXPECT_EQ(CountByFamily("lon"), kResources);
  EXPECT_EQ(store_->Read("Patient", "u0").status().code(), Code::kNotFound);
}

// Queued index rows are visible to the transaction that wrote them: a conditional operation's
// FindIds finds a resource put earlier in the same transaction, and updating a resource put
// earlier in the same transaction replaces its queued rows.
TEST_F(StoreTest, TransactionSeesItsQueuedIndexRows) {
  fhir::IndexEntries a, b;
  a.strings.push_back({"family", "dang", "Đặng"});
  b.strings.push_back({"family", "bui", "Bùi"});
  Query q;
  Condition c;
  c.param = "family";
  c.kind = ParamKind::kString;
  QueryValue v;
  v.code = "dang";
  c.any_of.push_back(v);
  q.all_of.push_back(c);
  std::vector<std::string> found;
  ASSERT_TRUE(RunInTransaction(*store_, [&](Transaction& t) {
                RETURN_IF_ERROR(t.Put(Version("d1", 1, &a)).status());
                ASSIGN_OR_RETURN(found, t.FindIds("Patient", q, 10));
                RETURN_IF_ERROR(t.Put(Version("d2", 1, &a)).status());
                return t.Put(Version("d2", 2, &b)).status();
              }).ok());
  EXPECT_EQ(found, std::vector<std::string>{"d1"});
  EXPECT_EQ(CountByFamily("dang"), 1);
  EXPECT_EQ(CountByFamily("bui"), 1);
}

// A unit alone in its group runs once, without a savepoint: its failure is its result and
// nothing it wrote remains.
TEST_F(StoreTest, GroupCommitLoneFailingUnitRunsOnce) {
  GroupCommitter gc(*store_);
  int runs = 0;
  Status st = gc.Run([&](Transaction& txn) -> Status {
    ++runs;
    auto r = txn.Put(Version("lone", 1, nullptr));
    if (!r.ok()) return r.status();
    return Status(Code::kPreconditionFailed, "deliberate failure");
  });
  EXPECT_EQ(st.code(), Code::kPreconditionFailed);
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(store_->Read("Patient", "lone").status().code(), Code::kNotFound);
}

// With a minimum group size, a leader waits for that many units, which then share one
// transaction (run on one thread); lowering the minimum wakes a waiting leader.
TEST_F(StoreTest, GroupCommitWaitsForMinGroup) {
  GroupCommitter gc(*store_);
  gc.SetMinGroup(4, std::chrono::seconds(30));
  std::mutex mu;
  std::set<std::thread::id> runners;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Status st = gc.Run([&](Transaction& txn) -> Status {
        std::lock_guard<std::mutex> l(mu);
        runners.insert(std::this_thread::get_id());
        return txn.Put(Version(std::string(1, 'm').append(std::to_string(t)), 1, nullptr)).status();
      });
      EXPECT_TRUE(st.ok()) << st.ToString();
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(runners.size(), 1u);  // one leader ran all four units
  threads.clear();
  gc.SetMinGroup(3, std::chrono::seconds(30));
  auto t0 = std::chrono::steady_clock::now();
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      EXPECT_TRUE(gc.Run([&](Transaction& txn) -> Status {
                      return txn
                          .Put(Version(std::string(1, 'n').append(std::to_string(t)), 1, nullptr))
                          .status();
                    }).ok());
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  gc.SetMinGroup(2, std::chrono::seconds(30));  // e.g. an importer thread ran out of work
  for (auto& th : threads) th.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  EXPECT_TRUE(store_->Read("Patient", "n0").ok());
  EXPECT_TRUE(store_->Read("Patient", "n1").ok());
}

// The page size applies to a new database only: one made with 4096-byte pages keeps them when
// reopened with another setting (SQLite cannot change it without rewriting the file), and the
// default is store::kDefaultSqlitePageSize.
TEST_F(StoreTest, PageSizeIsSetForNewDatabasesOnly) {
  auto page_size = [](const std::string& path) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &st, nullptr);
    int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
  };
  EXPECT_EQ(page_size(dir_ + "/benhan.db"), kDefaultSqlitePageSize);
  for (int size : {4096, 16384}) {
    std::string path = dir_ + "/p" + std::to_string(size) + ".db";
    {
      SqliteOptions o;
      o.path = path;
      o.readers = 1;
      o.page_size = size;
      auto s = OpenSqliteStore(o);
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      auto txn = (*s)->BeginWrite();
      ASSERT_TRUE(txn.ok());
      ASSERT_TRUE((*txn)->Put(Version("ps", 1, nullptr)).ok());
      ASSERT_TRUE((*txn)->Commit().ok());
    }
    EXPECT_EQ(page_size(path), size);
    SqliteOptions o;
    o.path = path;
    o.readers = 1;
    o.page_size = 65536;  // ignored: the database exists
    auto s = OpenSqliteStore(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_TRUE((*s)->Read("Patient", "ps").ok());
    s->reset();
    EXPECT_EQ(page_size(path), size);
  }
}

// Units that arrive while a group is being written join it (without any minimum group size):
// the leader's unit blocks until two more units are queued; all three then run on the leader's
// thread in one transaction, and each caller sees its own write committed. A unit of the
// extended group that fails is still undone alone.
TEST_F(StoreTest, GroupCommitTakesUnitsThatArriveWhileItWrites) {
  GroupCommitter gc(*store_);
  std::mutex mu;
  std::condition_variable cv;
  bool leader_running = false, release = false;
  std::set<std::thread::id> runners;
  std::vector<int64_t> seqs;
  auto unit = [&](const std::string& id, bool fail) {
    return [&, id, fail](Transaction& txn) -> Status {
      {
        std::lock_guard<std::mutex> l(mu);
        runners.insert(std::this_thread::get_id());
      }
      if (fail) return Status(Code::kInvalid, "refused");
      auto seq = txn.Put(Version(id, 1, nullptr));
      if (!seq.ok()) return seq.status();
      std::lock_guard<std::mutex> l(mu);
      seqs.push_back(*seq);
      return Status::Ok();
    };
  };
  std::thread leader([&] {
    auto first = unit("x0", false);
    Status st = gc.Run([&](Transaction& txn) -> Status {
      {
        std::unique_lock<std::mutex> l(mu);
        leader_running = true;
        cv.notify_all();
        cv.wait(l, [&] { return release; });
      }
      return first(txn);
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
  });
  {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return leader_running; });
  }
  std::vector<std::thread> late;
  std::atomic<int> failed{0};
  for (int t = 1; t <= 3; ++t) {
    late.emplace_back([&, t] {
      Status st = gc.Run(unit("x" + std::to_string(t), t == 2));
      if (t == 2) {
        EXPECT_EQ(st.code(), Code::kInvalid);
        failed++;
      } else {
        EXPECT_TRUE(st.ok()) << st.ToString();
      }
    });
  }
  // The late units are queued behind the leader (whose unit is still running) before it goes on.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  {
    std::lock_guard<std::mutex> l(mu);
    release = true;
    cv.notify_all();
  }
  leader.join();
  for (auto& th : late) th.join();
  EXPECT_EQ(failed.load(), 1);
  EXPECT_EQ(runners.size(), 1u);  // every unit ran on the leader's thread
  // x0, x1, x3 committed; x2 undone alone. One transaction: consecutive sequence numbers.
  EXPECT_TRUE(store_->Read("Patient", "x0").ok());
  EXPECT_TRUE(store_->Read("Patient", "x1").ok());
  EXPECT_EQ(store_->Read("Patient", "x2").status().code(), Code::kNotFound);
  EXPECT_TRUE(store_->Read("Patient", "x3").ok());
  ASSERT_GE(seqs.size(), 3u);
  std::set<int64_t> distinct(seqs.begin(), seqs.end());
  EXPECT_LE(*distinct.rbegin() - *distinct.begin(), 3);
}

// Durability outside the write lock: a commit is visible when CommitVisible returns, and
// WaitDurable (GroupCommitter::Run, Transaction::Commit) returns only after an fdatasync of the
// WAL that began after the commit was issued. Syncs run one at a time, so with n syncs started
// before the commit, the (n+1)-th must have completed; the hook counts syncs as they start and
// complete. (That the sync also covers the commit's frames holds because a sync takes as its
// target only commits whose COMMIT has returned: SqliteStore::EndWrite.)
// The audit trail is searched through postings per block of 256 rows (migration 005): every
// search by patient, principal or entity, with and without the other filters and paged by
// before_aid, returns exactly the rows a full scan filtered the same way returns, newest first,
// across block boundaries, commits of every size and a reopened store (whose posting cache is
// empty, so postings already written are met again).
TEST_F(StoreTest, AuditSearchThroughPostingsEqualsAFullScan) {
  const char* patients[] = {"p1", "p2", "p3", "", "p1", "p2"};
  const char* principals[] = {"u1", "u2", "u1"};
  int n = 0;
  auto commit = [&](int rows) {
    std::vector<AuditRecord> recs;
    for (int i = 0; i < rows; ++i, ++n) {
      AuditRecord r;
      r.time_us = 1000 + n;
      r.principal = principals[n % 3];
      r.action = n % 5 == 0 ? "update" : "read";
      r.type = n % 2 ? "Observation" : "Patient";
      r.id = "e" + std::to_string(n % 10);
      r.patient = n == 600 || n == 1250 ? "rare" : patients[n % 6];
      recs.push_back(r);
    }
    ASSERT_TRUE(store_->TakeAudit(recs).ok());
  };
  for (int rows : {1, 7, 50, 300, 3, 250}) commit(rows);  // 611 rows: blocks 0..2
  Reopen();
  for (int rows : {400, 1, 1, 288}) commit(rows);  // 1,301 rows: blocks 0..5
  auto all = store_->ScanAudit(0, 100000);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), 1301u);
  auto expected = [&](const AuditQuery& q) {
    std::vector<int64_t> aids;
    for (auto it = all->rbegin(); it != all->rend(); ++it) {
      const AuditRow& r = *it;
      if (!q.patient.empty() && r.rec.patient != q.patient) continue;
      if (!q.principal.empty() && r.rec.principal != q.principal) continue;
      if (!q.id.empty() && r.rec.id != q.id) continue;
      if (!q.type.empty() && r.rec.type != q.type) continue;
      if (!q.action.empty() && r.rec.action != q.action) continue;
      if (q.before_aid && r.aid >= q.before_aid) continue;
      if (static_cast<int>(aids.size()) == q.count) break;
      aids.push_back(r.aid);
    }
    return aids;
  };
  std::vector<AuditQuery> queries;
  for (const char* p : {"p1", "p3", "rare", "nobody"}) {
    AuditQuery q;
    q.patient = p;
    queries.push_back(q);
  }
  for (const char* u : {"u1", "u2"}) {
    AuditQuery q;
    q.principal = u;
    queries.push_back(q);
    q.action = "update";
    queries.push_back(q);
  }
  {
    AuditQuery q;
    q.id = "e3";
    queries.push_back(q);
    q.type = "Observation";
    queries.push_back(q);
    q.type = "Patient";  // e3 is always an Observation
    queries.push_back(q);
    q = AuditQuery();
    q.patient = "p2";
    q.principal = "u2";
    q.id = "e5";
    queries.push_back(q);
  }
  int checked = 0;
  for (AuditQuery q : queries) {
    for (int count : {1, 7, 50, 1000}) {
      q.count = count;
      q.before_aid = 0;
      // Page from the newest to the oldest, as the FHIR search's next links do.
      std::vector<int64_t> got_all, want_all;
      for (int page = 0; page < 2000; ++page) {
        auto got = store_->SearchAudit(q);
        ASSERT_TRUE(got.ok()) << got.status().ToString();
        std::vector<int64_t> aids;
        for (const auto& r : *got) aids.push_back(r.aid);
        std::vector<int64_t> want = expected(q);
        ASSERT_EQ(aids, want) << "patient=" << q.patient << " principal=" << q.principal
                              << " id=" << q.id << " type=" << q.type << " count=" << count
                              << " before=" << q.before_aid;
        ++checked;
        if (static_cast<int>(aids.size()) < count) break;
        q.before_aid = aids.back();
      }
    }
  }
  EXPECT_GT(checked, 300);
  // The rare patient's two rows, in different blocks, and nothing else.
  AuditQuery rare;
  rare.patient = "rare";
  auto r = store_->SearchAudit(rare);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].aid, 1251);
  EXPECT_EQ((*r)[1].aid, 601);
}

// A database of schema version 4 (audit rows indexed per row) is upgraded in place: migration 005
// posts its existing rows, so they are found by patient, principal and entity like new ones.
TEST_F(StoreTest, AuditRowsOfSchemaFourAreFoundAfterTheUpgrade) {
  store_.reset();
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ + "/benhan.db").c_str(), &db), SQLITE_OK);
  auto exec = [&](const std::string& sql) {
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << (err ? err : "") << " in " << sql.substr(0, 200);
    sqlite3_free(err);
  };
  const auto& migrations = sqlite::Migrations();
  ASSERT_GE(migrations.size(), 5u);
  for (int i = 0; i < 4; ++i) exec(migrations[static_cast<size_t>(i)].sql);
  exec("PRAGMA user_version = 4");
  for (int aid = 1; aid <= 600; ++aid) {
    exec(
        "INSERT INTO audit_event (aid, time, principal, action, rtype, id, version, status, "
        "remote, detail, patient, flags, digest) VALUES (" +
        std::to_string(aid) + ", " + std::to_string(aid) + ", 'u" + std::to_string(aid % 2) +
        "', 'read', 'Observation', 'o" + std::to_string(aid % 7) + "', 1, 200, '', '', 'p" +
        std::to_string(aid % 3) + "', '', zeroblob(32))");
  }
  exec("UPDATE audit_head SET aid = 600");
  sqlite3_close(db);
  Reopen();
  AuditQuery q;
  q.count = 1000;
  q.patient = "p1";
  auto r = store_->SearchAudit(q);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->size(), 200u);
  EXPECT_EQ(r->front().aid, 598);
  q.patient.clear();
  q.id = "o3";
  r = store_->SearchAudit(q);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 86u);  // aids 3, 10, ..., 598
  q.id.clear();
  q.principal = "u0";
  r = store_->SearchAudit(q);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 300u);
}

class DurabilityTest : public StoreTest {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "benhan-store-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    SqliteOptions o;
    o.path = dir_ + "/benhan.db";
    o.readers = 2;
    o.wal_sync_hook = [this](bool done) -> Status {
      if (!done) {
        started_++;
        if (fail_syncs_) return Status(Code::kUnavailable, "injected fdatasync failure");
        if (slow_sync_) std::this_thread::sleep_for(std::chrono::milliseconds(3));
      } else {
        completed_++;
      }
      return Status::Ok();
    };
    auto st = OpenSqliteStore(o);
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    store_ = std::move(*st);
  }
  std::atomic<int64_t> started_{0}, completed_{0};
  std::atomic<bool> fail_syncs_{false};
  std::atomic<bool> slow_sync_{false};
};

TEST_F(DurabilityTest, CommitReturnsOnlyAfterASyncThatBeganAfterIt) {
  constexpr int kThreads = 8, kPerThread = 30;
  std::vector<std::thread> threads;
  std::atomic<int> early{0}, committed{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto txn = store_->BeginWrite();
        ASSERT_TRUE(txn.ok()) << txn.status().ToString();
        ASSERT_TRUE(
            (*txn)
                ->Put(Version("d" + std::to_string(t) + "-" + std::to_string(i), 1, nullptr))
                .ok());
        // Syncs started before this point cannot cover the commit below.
        int64_t started_then = started_.load();
        uint64_t ticket = 0;
        ASSERT_TRUE((*txn)->CommitVisible(&ticket).ok());
        ASSERT_GT(ticket, 0u);
        ASSERT_TRUE(store_->WaitDurable(ticket).ok());
        if (completed_.load() < started_then + 1) early++;
        committed++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(early.load(), 0);
  EXPECT_EQ(committed.load(), kThreads * kPerThread);
  // Syncs are shared: fewer than one per commit when commits overlap (at least one in all).
  EXPECT_GE(completed_.load(), 1);
  EXPECT_LE(completed_.load(), kThreads * kPerThread);
  // Flush covers every commit made so far (here: all of them are durable already, no new sync).
  int64_t before = completed_.load();
  EXPECT_TRUE(store_->Flush().ok());
  EXPECT_EQ(completed_.load(), before);
}

// GroupCommitter::Run returns a unit's success only once its commit is durable; the next group
// may commit meanwhile (the write lock is free during the sync).
TEST_F(DurabilityTest, GroupCommitWaitsForTheSync) {
  GroupCommitter gc(*store_);
  std::vector<std::thread> threads;
  std::atomic<int> early{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        int64_t started_at_commit = -1;
        Status st = gc.Run([&](Transaction& txn) -> Status {
          // Runs under the write lock, before the commit: a sync that starts after this point
          // and completes covers this unit's frames.
          started_at_commit = started_.load();
          return txn.Put(Version("g" + std::to_string(t) + "-" + std::to_string(i), 1, nullptr))
              .status();
        });
        ASSERT_TRUE(st.ok()) << st.ToString();
        if (completed_.load() < started_at_commit + 1) early++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(early.load(), 0);
}

// With a slow disk (each sync takes 3 ms, as this VM's disk did at times), 8 writers through the
// group committer share syncs: the next groups commit while one syncs, and the following sync
// covers them all, so there are far fewer syncs than commits, and every unit is still durable
// when Run returns (checked as above).
TEST_F(DurabilityTest, SlowSyncsAreSharedByTheGroupsCommittedMeanwhile) {
  slow_sync_ = true;
  GroupCommitter gc(*store_);
  constexpr int kThreads = 8, kPerThread = 25;
  std::vector<std::thread> threads;
  std::atomic<int> early{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        int64_t started_at_commit = -1;
        Status st = gc.Run([&](Transaction& txn) -> Status {
          started_at_commit = started_.load();
          return txn.Put(Version("s" + std::to_string(t) + "-" + std::to_string(i), 1, nullptr))
              .status();
        });
        ASSERT_TRUE(st.ok()) << st.ToString();
        if (completed_.load() < started_at_commit + 1) early++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(early.load(), 0);
  EXPECT_LE(completed_.load(), kThreads * kPerThread / 2) << "syncs were not shared";
  std::printf("  %d units, %lld syncs of 3 ms\n", kThreads * kPerThread,
              static_cast<long long>(completed_.load()));
}

// A failed fdatasync is reported to the writer (its commit is visible but not known durable), and
// is sticky: the kernel may have dropped the dirty pages, so no later commit is reported durable.
TEST_F(DurabilityTest, FailedSyncIsReportedAndSticky) {
  GroupCommitter gc(*store_);
  auto put = [&](const std::string& id) {
    return gc.Run(
        [&](Transaction& txn) -> Status { return txn.Put(Version(id, 1, nullptr)).status(); });
  };
  ASSERT_TRUE(put("ok1").ok());
  fail_syncs_ = true;
  Status st = put("lost1");
  EXPECT_EQ(st.code(), Code::kUnavailable) << st.ToString();
  fail_syncs_ = false;
  st = put("lost2");
  EXPECT_EQ(st.code(), Code::kUnavailable) << st.ToString();
  EXPECT_EQ(store_->Flush().code(), Code::kUnavailable);
}

}  // namespace
}  // namespace benhan::store
