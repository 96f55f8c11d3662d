#include "store/postgres/pg_store.h"

#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "core/clock.h"
#include "core/log.h"
#include "fhir/text_search.h"
#include "store/audit_chain.h"
#include "store/postgres/migrations.h"
#include "store/search_sql.h"

namespace benhan::store {
namespace {

// Advisory lock keys (pg_advisory_*lock): one for writers, one for schema migrations.
constexpr int64_t kWriteLockKey = 0x62656e68616e01;  // "benhan" 01
constexpr int64_t kMigrateLockKey = 0x62656e68616e02;

using PgResult = std::unique_ptr<PGresult, decltype(&PQclear)>;

Status PgError(PGconn* conn, const PGresult* res, std::string_view what) {
  std::string msg = res ? PQresultErrorMessage(res) : (conn ? PQerrorMessage(conn) : "");
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  msg = "postgresql " + std::string(what) + ": " + msg;
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK || state == nullptr) {
    return Status(Code::kUnavailable, msg);
  }
  std::string_view s(state);
  if (s == "40001" || s == "40P01" || s == "23505" || s == "55P03") {
    return Status(Code::kConflict, msg);
  }
  if (s.substr(0, 2) == "08" || s.substr(0, 2) == "53" || s == "57P01" || s == "57P02" ||
      s == "57P03" || s == "25006" || s == "40003") {
    return Status(Code::kUnavailable, msg);
  }
  if (s == "57014") return Status(Code::kTimeout, msg);
  if (s == "22021" || s == "22P05" || s == "54000") return Status(Code::kInvalid, msg);
  return Status(Code::kInternal, msg);
}

// Text form of an argument for libpq. PostgreSQL text must be valid UTF-8: the compiler's
// "\xff" upper bound of a prefix range becomes U+10FFFF (above every other character in the
// bytewise "C" order of the schema's text columns).
std::string ArgText(const SqlArg& a) {
  if (std::holds_alternative<int64_t>(a)) return std::to_string(std::get<int64_t>(a));
  if (std::holds_alternative<double>(a)) {
    double d = std::get<double>(a);
    if (std::isnan(d)) return "NaN";
    if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", d);
    return buf;
  }
  const std::string& s = std::get<std::string>(a);
  if (s.find('\xff') == std::string::npos) return s;
  std::string out;
  for (char c : s) {
    if (c == '\xff') {
      out += "\xf4\x8f\xbf\xbf";
    } else {
      out += c;
    }
  }
  return out;
}

Oid ArgType(const SqlArg& a) {
  if (std::holds_alternative<int64_t>(a)) return 20;  // int8
  if (std::holds_alternative<double>(a)) return 701;  // float8
  return 25;                                          // text
}

// "?" -> "$1", "$2"... in text order, outside quoted literals.
std::string NumberPlaceholders(const std::string& sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int n = 0;
  bool quoted = false;
  for (char c : sql) {
    if (c == '\'') quoted = !quoted;
    if (c == '?' && !quoted) {
      out += "$" + std::to_string(++n);
    } else {
      out += c;
    }
  }
  return out;
}

// An array literal ('{"a","b"}') of text values for unnest().
void AppendArrayItem(std::string& arr, std::string_view v) {
  arr += arr.empty() ? "{\"" : ",\"";
  for (char c : v) {
    if (c == '"' || c == '\\') arr += '\\';
    arr += c;
  }
  arr += '"';
}
std::string CloseArray(const std::string& arr) { return arr.empty() ? "{}" : arr + "}"; }

// The folded words of `text` (fhir::SearchableText), each after one space: see
// resource_version.text_content in migrations/001_initial.sql.
std::string WordsColumn(const std::string& folded) {
  std::string out;
  bool in_word = false;
  for (char c : folded) {
    auto u = static_cast<unsigned char>(c);
    bool word = std::isalnum(u) || u >= 0x80;
    if (word && !in_word) out += ' ';
    if (word) out += c;
    in_word = word;
  }
  return out;
}

class Rows {
 public:
  explicit Rows(PgResult r) : r_(std::move(r)) {}
  int size() const { return PQntuples(r_.get()); }
  int64_t Int(int row, int col) const {
    return std::strtoll(PQgetvalue(r_.get(), row, col), nullptr, 10);
  }
  std::string Text(int row, int col) const {
    return std::string(PQgetvalue(r_.get(), row, col),
                       static_cast<size_t>(PQgetlength(r_.get(), row, col)));
  }

 private:
  PgResult r_;
};

class PgConn {
 public:
  ~PgConn() {
    if (c_) PQfinish(c_);
  }
  static Result<std::unique_ptr<PgConn>> Open(const std::string& url, const std::string& options) {
    auto c = std::make_unique<PgConn>();
    c->c_ = PQconnectdb(url.c_str());
    if (PQstatus(c->c_) != CONNECTION_OK) {
      std::string msg = PQerrorMessage(c->c_);
      while (!msg.empty() && msg.back() == '\n') msg.pop_back();
      return Status(Code::kUnavailable, "cannot connect to PostgreSQL: " + msg);
    }
    PQsetNoticeProcessor(
        c->c_, [](void*, const char*) {}, nullptr);  // "already exists"...
    if (!options.empty()) RETURN_IF_ERROR(c->Exec(options));
    return c;
  }
  // Lost, or unusable for this pool (a primary demoted to a standby by a fail-over answers 25006):
  // the pool drops it and the next use connects again (a multi-host URL finds the new primary).
  bool bad() const { return broken_ || PQstatus(c_) != CONNECTION_OK; }

  // A simple query (no arguments; may hold several statements).
  Status Exec(const std::string& sql) {
    PgResult r(PQexec(c_, sql.c_str()), &PQclear);
    auto st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return Failed(r.get(), "exec");
    return Status::Ok();
  }

  // A statement with "?" placeholders, prepared once per connection.
  Result<Rows> Query(const std::string& sql, const std::vector<SqlArg>& args) {
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
      if (prepared_.size() > 512) {  // search SQL varies: bound the cache
        RETURN_IF_ERROR(Exec("DEALLOCATE ALL"));
        prepared_.clear();
      }
      std::string name = "s" + std::to_string(next_++);
      std::vector<Oid> types;
      for (const auto& a : args) types.push_back(ArgType(a));
      PgResult r(PQprepare(c_, name.c_str(), NumberPlaceholders(sql).c_str(),
                           static_cast<int>(types.size()), types.data()),
                 &PQclear);
      if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) return Failed(r.get(), "prepare");
      it = prepared_.emplace(sql, std::move(name)).first;
    }
    std::vector<std::string> text;
    text.reserve(args.size());
    for (const auto& a : args) text.push_back(ArgText(a));
    std::vector<const char*> values;
    std::vector<int> lengths;
    for (const auto& t : text) {
      values.push_back(t.c_str());
      lengths.push_back(static_cast<int>(t.size()));
    }
    PgResult r(PQexecPrepared(c_, it->second.c_str(), static_cast<int>(values.size()),
                              values.data(), lengths.data(), nullptr, 0),
               &PQclear);
    auto st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return Failed(r.get(), "query");
    return Rows(std::move(r));
  }

 private:
  Status Failed(const PGresult* r, std::string_view what) {
    Status st = PgError(c_, r, what);
    if (st.code() == Code::kUnavailable) broken_ = true;
    return st;
  }

  PGconn* c_ = nullptr;
  bool broken_ = false;
  std::unordered_map<std::string, std::string> prepared_;  // SQL -> statement name
  int next_ = 0;
};

// Connections to one server, opened on demand up to `size`; broken ones are dropped on return.
class Pool {
 public:
  Pool(std::string url, std::string options, int size)
      : url_(std::move(url)), options_(std::move(options)), size_(size) {}
  const std::string& url() const { return url_; }

  Result<std::unique_ptr<PgConn>> Acquire() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return !free_.empty() || open_ < size_; });
    if (!free_.empty()) {
      auto c = std::move(free_.back());
      free_.pop_back();
      return c;
    }
    ++open_;
    l.unlock();
    auto c = PgConn::Open(url_, options_);
    if (!c.ok()) {
      l.lock();
      --open_;
      cv_.notify_one();
    }
    return c;
  }
  void Release(std::unique_ptr<PgConn> c) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (c->bad()) {
        --open_;  // dropped: the next Acquire reconnects
      } else {
        free_.push_back(std::move(c));
      }
    }
    cv_.notify_one();
  }
  // Drops every idle connection (after a fail-over, say).
  void DropIdle() {
    std::lock_guard<std::mutex> l(mu_);
    open_ -= static_cast<int>(free_.size());
    free_.clear();
    cv_.notify_all();
  }

 private:
  std::string url_;
  std::string options_;
  int size_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<PgConn>> free_;
  int open_ = 0;  // guarded by mu_
};

// A connection borrowed from a pool for one call.
class Lease {
 public:
  Lease(Pool* pool, std::unique_ptr<PgConn> c) : pool_(pool), c_(std::move(c)) {}
  Lease(Lease&&) = default;
  ~Lease() {
    if (c_) pool_->Release(std::move(c_));
  }
  PgConn* operator->() { return c_.get(); }
  PgConn* get() { return c_.get(); }

 private:
  Pool* pool_;
  std::unique_ptr<PgConn> c_;
};

Result<Lease> Borrow(Pool& pool) {
  ASSIGN_OR_RETURN(auto c, pool.Acquire());
  return Lease(&pool, std::move(c));
}

constexpr const char* kVersionColumns =
    "r.rtype, r.id, v.version, v.seq, v.last_updated, v.deleted, v.method, v.json";

VersionRecord RowToVersion(const Rows& s, int row, int first = 0) {
  VersionRecord r;
  r.type = s.Text(row, first + 0);
  r.id = s.Text(row, first + 1);
  r.version = s.Int(row, first + 2);
  r.seq = s.Int(row, first + 3);
  r.last_updated_us = s.Int(row, first + 4);
  r.deleted = s.Int(row, first + 5) != 0;
  r.method = s.Text(row, first + 6);
  r.json = s.Text(row, first + 7);
  return r;
}

std::string ParamKey(const std::string& type, const std::string& code) {
  return type + '\x1f' + code;
}

Result<int> SchemaVersion(PgConn& c) {
  RETURN_IF_ERROR(
      c.Exec("CREATE TABLE IF NOT EXISTS benhan_schema (version INTEGER NOT NULL, name TEXT NOT "
             "NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"));
  ASSIGN_OR_RETURN(Rows r, c.Query("SELECT COALESCE(MAX(version), 0) FROM benhan_schema", {}));
  return static_cast<int>(r.Int(0, 0));
}

Status Migrate(PgConn& c, bool apply, int* from, int* to) {
  const auto& migrations = postgres::Migrations();
  RETURN_IF_ERROR(c.Exec("SELECT pg_advisory_lock(" + std::to_string(kMigrateLockKey) + ")"));
  auto unlock = [&] {
    (void)c.Exec("SELECT pg_advisory_unlock(" + std::to_string(kMigrateLockKey) + ")");
  };
  auto current = SchemaVersion(c);
  if (!current.ok()) {
    unlock();
    return current.status();
  }
  if (from) *from = *current;
  if (to) *to = *current;
  if (*current > static_cast<int>(migrations.size())) {
    unlock();
    return Status(Code::kNotSupported, "database schema version " + std::to_string(*current) +
                                           " is newer than this benhan (" +
                                           std::to_string(migrations.size()) + ")");
  }
  if (!apply && *current < static_cast<int>(migrations.size())) {
    unlock();
    return Status(Code::kNotSupported, "database schema version " + std::to_string(*current) +
                                           " is older than " + std::to_string(migrations.size()) +
                                           ": run `benhan migrate`");
  }
  for (size_t i = static_cast<size_t>(*current); i < migrations.size(); ++i) {
    std::string name = migrations[i].name;
    Status st = c.Exec(std::string("BEGIN;\n") + migrations[i].sql +
                       "\nINSERT INTO benhan_schema (version, name) VALUES (" +
                       std::to_string(i + 1) + ", '" + name + "');\nCOMMIT;");
    if (!st.ok()) {
      (void)c.Exec("ROLLBACK");
      unlock();
      return Status(Code::kInternal, "migration " + name + " failed: " + st.message());
    }
    log::Info("postgresql: applied migration " + name);
    if (to) *to = static_cast<int>(i + 1);
  }
  unlock();
  return Status::Ok();
}

class PgStore;

class PgTransaction final : public Transaction {
 public:
  PgTransaction(PgStore* store, Lease lease) : store_(store), conn_(std::move(lease)) {}
  ~PgTransaction() override {
    if (!done_) (void)conn_->Exec("ROLLBACK");
  }

  Result<std::optional<CurrentInfo>> LockCurrent(const std::string& type,
                                                 const std::string& id) override;
  void AssumeNew(const std::string& type, const std::string& id) override {
    known_[type + "/" + id] = Known{-1, 0, false};
  }
  Result<VersionRecord> Read(const std::string& type, const std::string& id) override;
  Result<int64_t> Put(const NewVersion& v) override;
  Result<std::vector<std::string>> FindIds(const std::string& type, const Query& query,
                                           int limit) override;
  Status Audit(const AuditRecord& rec) override;
  Status Savepoint() override;
  Status ReleaseSavepoint() override;
  Status RollbackToSavepoint() override;
  Status Commit() override;

 private:
  Status WriteLock();
  Result<int64_t> ParamId(const std::string& type, const std::string& code);
  Status BufferIndex(int64_t rid, const std::string& type, const fhir::IndexEntries& ix);
  Status Flush();  // sends the buffered rows
  void Discard();
  void AddRow(const char* table, int ncols, std::initializer_list<std::string_view> vals) {
    Table& t = pending_[table];
    if (t.cols.empty()) t.cols.resize(static_cast<size_t>(ncols));
    size_t i = 0;
    for (auto v : vals) AppendArrayItem(t.cols[i++], v);
    ++t.rows;
  }
  // The next change sequence number / resource rid, from blocks reserved under the write lock
  // (so `seq` stays in commit order); numbers a rolled-back transaction reserved are skipped.
  struct IdBlock {
    int64_t next = 0, end = 0;
  };
  Result<int64_t> NextId(IdBlock* b) {
    if (b->next == b->end) {
      RETURN_IF_ERROR(WriteLock());
      int n = std::min(256, 16 << std::min(reserved_++, 4));
      ASSIGN_OR_RETURN(Rows r, conn_->Query(std::string("SELECT nextval('") +
                                                (b == &seqs_ ? "change_seq" : "resource_rid_seq") +
                                                "') FROM generate_series(1, ?)",
                                            {int64_t{n}}));
      // A sequence's numbers come in order within one call, with no other caller in between
      // (the write lock); the block is contiguous unless the sequence was altered.
      b->next = r.Int(0, 0);
      b->end = r.Int(r.size() - 1, 0) + 1;
      if (b->end - b->next != r.size()) b->end = b->next + 1;  // not contiguous: use one
    }
    return b->next++;
  }

  PgStore* store_;
  Lease conn_;
  bool done_ = false;
  bool write_locked_ = false;
  struct Known {
    int64_t rid;
    int64_t version;
    bool deleted;
  };
  std::unordered_map<std::string, Known> known_;
  std::unordered_map<std::string, int64_t> new_params_;
  std::vector<std::string> params_since_savepoint_;
  bool in_savepoint_ = false;
  // Buffered rows: one array literal per column, per table (see Flush).
  struct Table {
    std::vector<std::string> cols;
    int rows = 0;
  };
  std::unordered_map<std::string, Table> pending_;
  std::unordered_set<int64_t> pending_rids_;
  // Audit rows of this transaction, chained at Commit under the chain-head row lock.
  std::vector<AuditRecord> audit_;
  size_t audit_mark_ = 0;  // audit_.size() at the savepoint
  Status ChainAudit();
  int64_t resources_written_ = 0;
  IdBlock seqs_, rids_;
  int reserved_ = 0;
};

class PgStore final : public Store {
 public:
  explicit PgStore(PostgresOptions o)
      : opts_(std::move(o)), primary_(opts_.url, SessionOptions(false), opts_.pool_size) {
    for (const auto& u : opts_.replica_urls) {
      replicas_.push_back(std::make_unique<Pool>(u, SessionOptions(true), opts_.pool_size));
    }
    replica_down_until_ = std::make_unique<std::atomic<int64_t>[]>(replicas_.size());
    replica_lsn_ = std::make_unique<std::atomic<int64_t>[]>(replicas_.size());
    for (size_t i = 0; i < replicas_.size(); ++i) replica_down_until_[i] = replica_lsn_[i] = 0;
  }

  std::string SessionOptions(bool reads) const {
    std::string s;
    if (opts_.statement_timeout_ms > 0)
      s += "SET statement_timeout = " + std::to_string(opts_.statement_timeout_ms) + ";";
    // Searches vary in selectivity with their values: plan each with its values.
    if (reads) s += "SET plan_cache_mode = force_custom_plan;";
    return s;
  }

  Status Init() {
    ASSIGN_OR_RETURN(Lease c, Borrow(primary_));
    RETURN_IF_ERROR(Migrate(*c.get(), opts_.migrate, nullptr, nullptr));
    // Replicas serve reads only once they have this schema (a migration just applied).
    if (!replicas_.empty()) NoteWrite(*c.get());
    return LoadParams(*c.get());
  }

  ~PgStore() override {
    // Planner statistics after a bulk load (autovacuum would take a minute to notice).
    if (written_.load() >= 1000) {
      if (auto c = Borrow(primary_); c.ok()) (void)(*c)->Exec("ANALYZE");
    }
  }

  std::string_view backend_name() const override { return "postgresql"; }

  Result<std::unique_ptr<Transaction>> BeginWrite() override {
    ASSIGN_OR_RETURN(Lease c, Borrow(primary_));
    RETURN_IF_ERROR(c->Exec("BEGIN"));
    return std::unique_ptr<Transaction>(new PgTransaction(this, std::move(c)));
  }

  // Runs `fn` on a primary connection. A pooled connection the server dropped (a restart, a
  // fail-over, an idle timeout) fails once with kUnavailable and is discarded: the call runs
  // again on a new connection, so readers see no error for it.
  template <typename T>
  Result<T> OnPrimary(const std::function<Result<T>(PgConn&)>& fn) {
    for (int attempt = 0;; ++attempt) {
      ASSIGN_OR_RETURN(Lease c, Borrow(primary_));
      auto r = fn(*c.get());
      if (r.ok() || r.status().code() != Code::kUnavailable || !c->bad() || attempt == 1) return r;
    }
  }

  Result<VersionRecord> Read(const std::string& type, const std::string& id) override {
    return OnPrimary<VersionRecord>([&](PgConn& c) { return ReadWith(c, type, id); });
  }

  static Result<VersionRecord> ReadWith(PgConn& c, const std::string& type, const std::string& id) {
    ASSIGN_OR_RETURN(Rows r, c.Query(std::string("SELECT ") + kVersionColumns +
                                         " FROM resource r JOIN resource_version v ON v.seq = "
                                         "r.seq WHERE r.rtype = ? AND r.id = ?",
                                     {type, id}));
    if (r.size() == 0) return Status(Code::kNotFound, type + "/" + id + " not found");
    return RowToVersion(r, 0);
  }

  Result<VersionRecord> VRead(const std::string& type, const std::string& id,
                              int64_t version) override {
    return OnPrimary<VersionRecord>([&](PgConn& c) -> Result<VersionRecord> {
      ASSIGN_OR_RETURN(Rows r, c.Query(std::string("SELECT ") + kVersionColumns +
                                           " FROM resource r JOIN resource_version v ON v.rid = "
                                           "r.rid WHERE r.rtype = ? AND r.id = ? AND v.version = ?",
                                       {type, id, version}));
      if (r.size() == 0) {
        return Status(Code::kNotFound,
                      type + "/" + id + "/_history/" + std::to_string(version) + " not found");
      }
      return RowToVersion(r, 0);
    });
  }

  // Runs `fn` on a replica when one is configured, up and fresh enough, else on the primary.
  // Read-your-writes: a replica is used only once it has replayed every resource write this
  // store committed (its replay position is asked again only after a new write). A replica that
  // fails is skipped for 2 s; a search it cannot finish (lost connection, a conflict with
  // recovery) runs again on the primary.
  template <typename T>
  Result<T> OnReplica(const std::function<Result<T>(PgConn&)>& fn) {
    if (!replicas_.empty()) {
      size_t n = replicas_.size();
      size_t start = next_replica_.fetch_add(1) % n;
      int64_t now = NowMs();
      for (size_t k = 0; k < n; ++k) {
        size_t i = (start + k) % n;
        if (replica_down_until_[i].load() > now) continue;
        auto c = Borrow(*replicas_[i]);
        Status failed = c.status();
        if (c.ok()) {
          int64_t need = write_lsn_.load();
          if (need > replica_lsn_[i].load()) {
            auto lsn = (*c)->Query("SELECT (pg_last_wal_replay_lsn() - '0/0')::bigint", {});
            if (lsn.ok()) {
              int64_t seen = lsn->Int(0, 0);
              int64_t old = replica_lsn_[i].load();
              while (seen > old && !replica_lsn_[i].compare_exchange_weak(old, seen)) {
              }
              if (seen < need) continue;  // lagging: not for this process's reads yet
            } else {
              failed = lsn.status();
            }
          }
          if (failed.ok()) {
            auto r = fn(*c->get());
            if (r.ok() ||
                (r.status().code() != Code::kUnavailable && r.status().code() != Code::kConflict)) {
              replica_reads_.fetch_add(1);
              return r;
            }
            failed = r.status();
          }
        }
        if (failed.code() == Code::kConflict) continue;  // this search only
        replica_down_until_[i] = now + 2000;
        replicas_[i]->DropIdle();
        log::Warn("postgresql: replica " + std::to_string(i) +
                  " unavailable, reading from the primary: " + failed.message());
      }
    }
    primary_reads_.fetch_add(1);
    return OnPrimary<T>(fn);
  }

  Result<HistoryPage> History(const HistoryQuery& q) override {
    return OnReplica<HistoryPage>([&](PgConn& c) { return HistoryIn(c, q); });
  }

  Result<HistoryPage> HistoryIn(PgConn& c, const HistoryQuery& q) {
    std::string where = "1=1";
    std::vector<SqlArg> args;
    if (!q.type.empty()) {
      where += " AND r.rtype = ?";
      args.emplace_back(q.type);
    }
    if (!q.id.empty()) {
      where += " AND r.id = ?";
      args.emplace_back(q.id);
    }
    if (q.since_us) {
      where += " AND v.last_updated >= ?";
      args.emplace_back(*q.since_us);
    }
    if (q.at_or_before_us) {
      where += " AND v.last_updated <= ?";
      args.emplace_back(*q.at_or_before_us);
    }
    HistoryPage page;
    if (!q.id.empty() || !q.type.empty()) {
      ASSIGN_OR_RETURN(
          Rows cs,
          c.Query(
              "SELECT COUNT(*) FROM resource_version v JOIN resource r ON r.rid = v.rid WHERE " +
                  where,
              args));
      page.total = cs.Int(0, 0);
    }
    if (!q.id.empty() && page.total == 0) {
      return Status(Code::kNotFound, q.type + "/" + q.id + " not found");
    }
    std::string sql = std::string("SELECT ") + kVersionColumns +
                      " FROM resource_version v JOIN resource r ON r.rid = v.rid WHERE " + where;
    if (q.before_seq > 0) {
      sql += " AND v.seq < ?";
      args.emplace_back(q.before_seq);
    }
    sql += " ORDER BY v.seq DESC LIMIT ?";
    args.emplace_back(static_cast<int64_t>(q.count + 1));
    ASSIGN_OR_RETURN(Rows s, c.Query(sql, args));
    for (int i = 0; i < s.size(); ++i) page.entries.push_back(RowToVersion(s, i));
    if (page.entries.size() > static_cast<size_t>(q.count)) {
      page.entries.pop_back();
      page.next_before_seq = page.entries.back().seq;
    }
    if (q.id.empty() && q.type.empty()) page.total = -1;
    return page;
  }

  Result<SearchResult> Search(const std::string& type, const Query& query) override {
    return OnReplica<SearchResult>([&](PgConn& c) { return SearchIn(c, type, query); });
  }

  // Time budget of a search's COUNT(*) without _total=accurate (past it Bundle.total is left
  // out, as the SQLite backend does past its work budget).
  static constexpr int kCountBudgetMs = 100;

  Result<SearchResult> SearchIn(PgConn& c, const std::string& type, const Query& query) {
    MaybeReloadParams(query);
    auto pid = [&](const std::string& t, const std::string& code) -> int64_t {
      return LookupParam(t, code);
    };
    std::vector<std::string> types;
    if (!type.empty()) {
      types.push_back(type);
    } else if (!query.types.empty()) {
      types = query.types;
    } else {
      ASSIGN_OR_RETURN(Rows ts, c.Query("SELECT DISTINCT rtype FROM resource ORDER BY rtype", {}));
      for (int i = 0; i < ts.size(); ++i) types.push_back(ts.Text(i, 0));
    }
    CompiledQuery cq;
    std::string where;
    for (const auto& t : types) {
      ASSIGN_OR_RETURN(CompiledQuery one, CompileQuery(query, t, PostgresDialect(), pid));
      cq.args.emplace_back(std::in_place_type<std::string>, t);
      for (auto& a : one.args) cq.args.push_back(std::move(a));
      if (!where.empty()) where += " OR ";
      where += "(r.rtype = ? AND " + one.where + ")";
      if (cq.order_by.empty()) {
        cq.order_by = std::move(one.order_by);
        cq.order_args = std::move(one.order_args);
      }
    }
    if (types.empty()) where = "0=1";
    if (cq.order_by.empty()) cq.order_by = "r.rid ASC";
    SearchResult out;
    std::string from =
        " FROM resource r JOIN resource_version v ON v.seq = r.seq WHERE r.deleted "
        "= 0 AND (" +
        where + ")";
    bool keyset = query.sort.empty() && query.after_key > 0;
    std::vector<SqlArg> args = cq.args;
    if (keyset) args.emplace_back(query.after_key);
    for (const auto& a : cq.order_args) args.push_back(a);
    args.emplace_back(static_cast<int64_t>(query.count + 1));
    args.emplace_back(keyset ? int64_t{0} : query.offset);
    ASSIGN_OR_RETURN(Rows s, c.Query(std::string("SELECT ") + kVersionColumns + ", r.rid" + from +
                                         (keyset ? " AND r.rid > ?" : "") + " ORDER BY " +
                                         cq.order_by + " LIMIT ? OFFSET ?",
                                     args));
    std::vector<int64_t> keys;
    for (int i = 0; i < s.size(); ++i) {
      out.matches.push_back(RowToVersion(s, i));
      keys.push_back(s.Int(i, 8));
    }
    if (out.matches.size() > static_cast<size_t>(query.count)) {
      out.matches.pop_back();
      keys.pop_back();
      out.has_more = true;
    }
    if (!keys.empty()) out.last_key = keys.back();
    if (query.want_total) {
      if (!keyset && query.offset == 0 && !out.has_more) {
        out.total = static_cast<int64_t>(out.matches.size());
      } else if (query.total_from_page_only && !query.total_accurate) {
        // left out (FHIR allows it); _total=accurate counts
      } else {
        std::string sql = "SELECT COUNT(*) FROM resource r WHERE r.deleted = 0 AND (" + where + ")";
        if (query.total_accurate) {
          ASSIGN_OR_RETURN(Rows cs, c.Query(sql, cq.args));
          out.total = cs.Int(0, 0);
        } else {
          RETURN_IF_ERROR(c.Exec("BEGIN READ ONLY; SET LOCAL statement_timeout = " +
                                 std::to_string(kCountBudgetMs)));
          auto cs = c.Query(sql, cq.args);
          (void)c.Exec(cs.ok() ? "COMMIT" : "ROLLBACK");
          if (cs.ok()) {
            out.total = cs->Int(0, 0);
          } else if (cs.status().code() != Code::kTimeout) {
            return cs.status();
          }
        }
      }
    }
    return out;
  }

  Status AppendAudit(const std::vector<AuditRecord>& recs) override {
    if (recs.empty()) return Status::Ok();
    return RunInTransaction(*this, [&](Transaction& t) -> Status {
      for (const auto& r : recs) RETURN_IF_ERROR(t.Audit(r));
      return Status::Ok();
    });
  }

  // Columns of an AuditRow; format-2 rows have `digest` (32 bytes, read as hex), format-1 rows
  // prev_hash and hash (hex). kAuditPrev adds the previous row's hash (SearchAudit).
  static constexpr const char* kAuditColumns =
      "aid, time, principal, action, rtype, id, version, status, remote, detail, patient, flags, "
      "prev_hash, hash, encode(digest, 'hex')";
  static constexpr const char* kAuditPrev =
      ", (SELECT COALESCE(encode(p.digest, 'hex'), p.hash) FROM audit_event p "
      "WHERE p.aid = audit_event.aid - 1)";
  static AuditRow AuditRowAt(const Rows& s, int i, bool with_prev = false) {
    AuditRow a;
    a.aid = s.Int(i, 0);
    a.rec.time_us = s.Int(i, 1);
    a.rec.principal = s.Text(i, 2);
    a.rec.action = s.Text(i, 3);
    a.rec.type = s.Text(i, 4);
    a.rec.id = s.Text(i, 5);
    a.rec.version = s.Int(i, 6);
    a.rec.status = static_cast<int>(s.Int(i, 7));
    a.rec.remote = s.Text(i, 8);
    a.rec.detail = s.Text(i, 9);
    a.rec.patient = s.Text(i, 10);
    a.rec.flags = s.Text(i, 11);
    std::string digest = s.Text(i, 14);
    if (!digest.empty()) {
      a.format = 2;
      a.hash = std::move(digest);
      if (with_prev) a.prev_hash = s.Text(i, 15);
    } else {
      a.format = 1;
      a.prev_hash = s.Text(i, 12);
      a.hash = s.Text(i, 13);
    }
    return a;
  }
  using AuditRows = std::vector<AuditRow>;

  Result<AuditRows> ScanAudit(int64_t after_aid, int limit) override {
    return OnPrimary<AuditRows>([&](PgConn& c) -> Result<AuditRows> {
      ASSIGN_OR_RETURN(Rows r, c.Query(std::string("SELECT ") + kAuditColumns +
                                           " FROM audit_event WHERE aid > ? ORDER BY aid LIMIT ?",
                                       {after_aid, int64_t{limit}}));
      AuditRows out;
      for (int i = 0; i < r.size(); ++i) out.push_back(AuditRowAt(r, i));
      return out;
    });
  }

  Result<AuditHead> ReadAuditHead() override {
    return OnPrimary<AuditHead>([&](PgConn& c) -> Result<AuditHead> {
      ASSIGN_OR_RETURN(Rows r, c.Query("SELECT aid, hash, genesis, v2_after FROM audit_head "
                                       "WHERE k = 1",
                                       {}));
      if (r.size() != 1) return Status(Code::kInternal, "audit_head row missing");
      return AuditHead{r.Int(0, 0), r.Text(0, 1), r.Int(0, 2), r.Int(0, 3)};
    });
  }

  Result<AuditRows> SearchAudit(const AuditQuery& q) override {
    std::string sql =
        std::string("SELECT ") + kAuditColumns + kAuditPrev + " FROM audit_event WHERE 1=1";
    std::vector<SqlArg> args;
    auto add = [&](const char* cond, SqlArg v) {
      sql += cond;
      args.push_back(std::move(v));
    };
    if (!q.patient.empty()) add(" AND patient = ?", q.patient);
    if (!q.principal.empty()) add(" AND principal = ?", q.principal);
    if (!q.type.empty()) add(" AND rtype = ?", q.type);
    if (!q.id.empty()) add(" AND id = ?", q.id);
    if (!q.action.empty()) add(" AND action = ?", q.action);
    if (!q.flags.empty()) add(" AND flags = ?", q.flags);
    if (q.since_us) add(" AND time >= ?", q.since_us);
    if (q.until_us) add(" AND time < ?", q.until_us);
    if (q.aid) add(" AND aid = ?", q.aid);
    if (q.before_aid) add(" AND aid < ?", q.before_aid);
    sql += " ORDER BY aid DESC LIMIT ?";
    args.emplace_back(static_cast<int64_t>(q.count));
    return OnPrimary<AuditRows>([&](PgConn& c) -> Result<AuditRows> {
      ASSIGN_OR_RETURN(Rows r, c.Query(sql, args));
      AuditRows out;
      for (int i = 0; i < r.size(); ++i) out.push_back(AuditRowAt(r, i, true));
      return out;
    });
  }

  Status AppendAuditCheckpoint(const AuditCheckpoint& cp) override {
    auto r = OnPrimary<bool>([&](PgConn& c) -> Result<bool> {
      RETURN_IF_ERROR(c.Query("INSERT INTO audit_checkpoint (aid, hash, time, key_id, signature) "
                              "VALUES (?, ?, ?, ?, ?)",
                              {cp.aid, cp.hash, cp.time_us, cp.key_id, cp.signature})
                          .status());
      return true;
    });
    return r.status();
  }

  Result<std::vector<AuditCheckpoint>> ListAuditCheckpoints() override {
    using Out = std::vector<AuditCheckpoint>;
    return OnPrimary<Out>([&](PgConn& c) -> Result<Out> {
      ASSIGN_OR_RETURN(Rows r, c.Query("SELECT cid, aid, hash, time, key_id, signature FROM "
                                       "audit_checkpoint ORDER BY cid",
                                       {}));
      Out out;
      for (int i = 0; i < r.size(); ++i) {
        out.push_back(AuditCheckpoint{r.Int(i, 0), r.Int(i, 1), r.Text(i, 2), r.Int(i, 3),
                                      r.Text(i, 4), r.Text(i, 5)});
      }
      return out;
    });
  }

  Result<std::vector<std::pair<std::string, int64_t>>> CountByType() override {
    using Counts = std::vector<std::pair<std::string, int64_t>>;
    return OnPrimary<Counts>([&](PgConn& c) -> Result<Counts> {
      ASSIGN_OR_RETURN(Rows s, c.Query("SELECT rtype, COUNT(*) FROM resource WHERE deleted = 0 "
                                       "GROUP BY rtype ORDER BY rtype",
                                       {}));
      Counts out;
      for (int i = 0; i < s.size(); ++i) out.emplace_back(s.Text(i, 0), s.Int(i, 1));
      return out;
    });
  }

  // security/'s key-value table (Store::Kv*), always on the primary (a revoke must be seen by
  // every server at once); each call is its own implicit transaction.
  using OptText = std::optional<std::string>;
  static int64_t KvNow() { return SystemClock().NowMicros(); }

  Result<OptText> KvGet(const std::string& ns, const std::string& key) override {
    return OnPrimary<OptText>([&](PgConn& c) -> Result<OptText> {
      ASSIGN_OR_RETURN(Rows r, c.Query("SELECT v FROM security_kv WHERE ns = ? AND k = ? AND "
                                       "(expires = 0 OR expires > ?)",
                                       {ns, key, KvNow()}));
      if (r.size() == 0) return OptText();
      return OptText(r.Text(0, 0));
    });
  }

  Status KvPut(const std::string& ns, const std::string& key, const std::string& value,
               int64_t expires_us) override {
    bool purge = kv_writes_.fetch_add(1) % 256 == 255;
    auto r = OnPrimary<bool>([&](PgConn& c) -> Result<bool> {
      RETURN_IF_ERROR(c.Query("INSERT INTO security_kv (ns, k, v, expires) VALUES (?, ?, ?, ?) "
                              "ON CONFLICT (ns, k) DO UPDATE SET v = EXCLUDED.v, expires = "
                              "EXCLUDED.expires",
                              {ns, key, value, expires_us})
                          .status());
      if (purge) {
        RETURN_IF_ERROR(
            c.Query("DELETE FROM security_kv WHERE expires <> 0 AND expires <= ?", {KvNow()})
                .status());
      }
      return true;
    });
    return r.status();
  }

  Result<OptText> KvTake(const std::string& ns, const std::string& key) override {
    return OnPrimary<OptText>([&](PgConn& c) -> Result<OptText> {
      ASSIGN_OR_RETURN(Rows r, c.Query("DELETE FROM security_kv WHERE ns = ? AND k = ? "
                                       "RETURNING v, expires",
                                       {ns, key}));
      if (r.size() == 0) return OptText();
      int64_t expires = r.Int(0, 1);
      if (expires != 0 && expires <= KvNow()) return OptText();
      return OptText(r.Text(0, 0));
    });
  }

  Result<std::vector<KvEntry>> KvList(const std::string& ns) override {
    using Out = std::vector<KvEntry>;
    return OnPrimary<Out>([&](PgConn& c) -> Result<Out> {
      ASSIGN_OR_RETURN(Rows r, c.Query("SELECT k, v, expires FROM security_kv WHERE ns = ? AND "
                                       "(expires = 0 OR expires > ?) ORDER BY k",
                                       {ns, KvNow()}));
      Out out;
      for (int i = 0; i < r.size(); ++i)
        out.push_back(KvEntry{r.Text(i, 0), r.Text(i, 1), r.Int(i, 2)});
      return out;
    });
  }

  int64_t LookupParam(const std::string& type, const std::string& code) {
    std::lock_guard<std::mutex> l(params_mu_);
    auto it = params_.find(ParamKey(type, code));
    return it == params_.end() ? -1 : it->second;
  }
  void PublishParams(const std::unordered_map<std::string, int64_t>& p) {
    std::lock_guard<std::mutex> l(params_mu_);
    for (const auto& [k, v] : p) params_[k] = v;
  }
  void CountWritten(int64_t n) { written_.fetch_add(n); }
  bool has_replicas() const { return !replicas_.empty(); }
  // Records the WAL position after a committed resource write (read-your-writes, OnReplica).
  void NoteWrite(PgConn& c) {
    auto r = c.Query("SELECT (pg_current_wal_insert_lsn() - '0/0')::bigint", {});
    if (!r.ok()) {
      write_lsn_.store(INT64_MAX);  // unknown: the primary answers searches until the next write
      return;
    }
    int64_t lsn = r->Int(0, 0), old = write_lsn_.load();
    while ((lsn > old || old == INT64_MAX) && !write_lsn_.compare_exchange_weak(old, lsn)) {
    }
  }
  int64_t replica_reads() const { return replica_reads_.load(); }
  int64_t primary_reads() const { return primary_reads_.load(); }

 private:
  static int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  Status LoadParams(PgConn& c) {
    ASSIGN_OR_RETURN(Rows s, c.Query("SELECT pid, rtype, code FROM search_param", {}));
    std::lock_guard<std::mutex> l(params_mu_);
    for (int i = 0; i < s.size(); ++i) params_[ParamKey(s.Text(i, 1), s.Text(i, 2))] = s.Int(i, 0);
    return Status::Ok();
  }

  // Another benhan process on the same database may have indexed a parameter this one has not
  // seen: when a search names an unknown parameter, the list is reloaded (at most once a second).
  void MaybeReloadParams(const Query& q) {
    bool unknown = false;
    for (const auto& c : q.all_of) {
      if (!c.param.empty() && c.param[0] != '_' && c.chains.empty()) {
        std::lock_guard<std::mutex> l(params_mu_);
        bool any = false;
        for (const auto& [k, v] : params_) {
          if (k.size() > c.param.size() &&
              k.compare(k.size() - c.param.size(), c.param.size(), c.param) == 0 &&
              k[k.size() - c.param.size() - 1] == '\x1f') {
            any = true;
            break;
          }
        }
        unknown = unknown || !any;
      }
    }
    if (!unknown) return;
    int64_t now = NowMs();
    int64_t last = last_param_reload_.load();
    if (now - last < 1000 || !last_param_reload_.compare_exchange_strong(last, now)) return;
    if (auto c = Borrow(primary_); c.ok()) (void)LoadParams(*c->get());
  }

  PostgresOptions opts_;
  Pool primary_;
  std::vector<std::unique_ptr<Pool>> replicas_;
  std::unique_ptr<std::atomic<int64_t>[]> replica_down_until_;
  std::unique_ptr<std::atomic<int64_t>[]> replica_lsn_;  // replay position last seen
  std::atomic<int64_t> write_lsn_{0};  // WAL position after this store's last resource write
  std::atomic<size_t> next_replica_{0};
  std::atomic<int64_t> replica_reads_{0};
  std::atomic<int64_t> primary_reads_{0};
  std::atomic<int64_t> written_{0};
  std::atomic<int64_t> kv_writes_{0};
  std::atomic<int64_t> last_param_reload_{0};
  std::mutex params_mu_;
  std::unordered_map<std::string, int64_t> params_;  // guarded by params_mu_
};

Status PgTransaction::WriteLock() {
  if (write_locked_) return Status::Ok();
  RETURN_IF_ERROR(
      conn_->Exec("SELECT pg_advisory_xact_lock(" + std::to_string(kWriteLockKey) + ")"));
  write_locked_ = true;
  return Status::Ok();
}

Result<std::optional<CurrentInfo>> PgTransaction::LockCurrent(const std::string& type,
                                                              const std::string& id) {
  std::string key = type + "/" + id;
  if (auto it = known_.find(key); it != known_.end()) {
    if (it->second.rid < 0) return std::optional<CurrentInfo>();
    return std::optional<CurrentInfo>(CurrentInfo{it->second.version, it->second.deleted});
  }
  RETURN_IF_ERROR(WriteLock());
  ASSIGN_OR_RETURN(Rows r, conn_->Query("SELECT rid, version, deleted FROM resource WHERE rtype = "
                                        "? AND id = ? FOR UPDATE",
                                        {type, id}));
  if (r.size() == 0) {
    known_[key] = Known{-1, 0, false};
    return std::optional<CurrentInfo>();
  }
  Known k{r.Int(0, 0), r.Int(0, 1), r.Int(0, 2) != 0};
  known_[key] = k;
  return std::optional<CurrentInfo>(CurrentInfo{k.version, k.deleted});
}

Result<VersionRecord> PgTransaction::Read(const std::string& type, const std::string& id) {
  RETURN_IF_ERROR(Flush());
  return PgStore::ReadWith(*conn_.get(), type, id);
}

Result<int64_t> PgTransaction::ParamId(const std::string& type, const std::string& code) {
  int64_t pid = store_->LookupParam(type, code);
  if (pid >= 0) return pid;
  std::string key = ParamKey(type, code);
  if (auto it = new_params_.find(key); it != new_params_.end()) return it->second;
  // DO UPDATE (a no-op) so that RETURNING gives the pid another process may have created.
  ASSIGN_OR_RETURN(Rows r, conn_->Query("INSERT INTO search_param (rtype, code) VALUES (?, ?) ON "
                                        "CONFLICT (rtype, code) DO UPDATE SET code = "
                                        "EXCLUDED.code RETURNING pid",
                                        {type, code}));
  pid = r.Int(0, 0);
  if (in_savepoint_) params_since_savepoint_.push_back(key);
  new_params_[key] = pid;
  return pid;
}

Status PgTransaction::BufferIndex(int64_t rid, const std::string& type,
                                  const fhir::IndexEntries& ix) {
  std::string rid_text = std::to_string(rid);
  auto add = [&](const char* table, int ncols, std::initializer_list<std::string_view> vals) {
    AddRow(table, ncols, vals);
  };
  auto real = [](double d) { return ArgText(SqlArg(std::in_place_type<double>, d)); };
  for (const auto& e : ix.strings) {
    ASSIGN_OR_RETURN(int64_t pid, ParamId(type, e.param));
    add("idx_string", 4, {std::to_string(pid), ArgText(e.folded), ArgText(e.exact), rid_text});
  }
  for (const auto& e : ix.tokens) {
    ASSIGN_OR_RETURN(int64_t pid, ParamId(type, e.param));
    add("idx_token", 5, {std::to_string(pid), e.code, e.system, rid_text, e.text});
  }
  for (const auto& e : ix.references) {
    ASSIGN_OR_RETURN(int64_t pid, ParamId(type, e.param));
    add("idx_reference", 5, {std::to_string(pid), e.target_id, e.target_type, e.url, rid_text});
  }
  for (const auto& e : ix.dates) {
    ASSIGN_OR_RETURN(int64_t pid, ParamId(type, e.param));
    add("idx_date", 4,
        {std::to_string(pid), std::to_string(e.low), std::to_string(e.high), rid_text});
  }
  for (const auto& e : ix.numbers) {
    ASSIGN_OR_RETURN(int64_t pid, ParamId(type, e.param));
    add("idx_number", 3, {std::to_string(pid), real(e.value), rid_text});
  }
  for (const auto& e : ix.quantities) {
    ASSIGN_OR_RETURN(int64_t pid, ParamId(type, e.param));
    add("idx_quantity", 8,
        {std::to_string(pid), e.unit_key, real(e.canonical), e.system, rid_text, real(e.value),
         e.code, e.unit});
  }
  for (const auto& e : ix.uris) {
    ASSIGN_OR_RETURN(int64_t pid, ParamId(type, e.param));
    add("idx_uri", 3, {std::to_string(pid), e.uri, rid_text});
  }
  pending_rids_.insert(rid);
  return Status::Ok();
}

Status PgTransaction::Flush() {
  // Column lists and element types of each buffered table, in the order BufferIndex adds them.
  // New resources' rows first (the others refer to them); index rows collapse duplicates as in
  // SQLite (INSERT OR IGNORE); a resource row that exists already is a racing create: 23505.
  struct Spec {
    const char* table;
    const char* columns;
    const char* types;
  };
  static const Spec kSpecs[] = {
      {"resource", "rid, rtype, id, version, seq, last_updated, deleted",
       "int8,text,text,int8,int8,int8,int2"},
      {"resource_version",
       "seq, rid, version, last_updated, method, deleted, json, text_narrative, text_content",
       "int8,int8,int8,int8,text,int2,text,text,text"},
      {"idx_string", "pid, folded, exact, rid", "int4,text,text,int8"},
      {"idx_token", "pid, code, system, rid, text", "int4,text,text,int8,text"},
      {"idx_reference", "pid, target_id, target_type, url, rid", "int4,text,text,text,int8"},
      {"idx_date", "pid, low, high, rid", "int4,int8,int8,int8"},
      {"idx_number", "pid, value, rid", "int4,float8,int8"},
      {"idx_quantity", "pid, unit_key, canonical, system, rid, value, code, unit",
       "int4,text,float8,text,int8,float8,text,text"},
      {"idx_uri", "pid, uri, rid", "int4,text,int8"},
      {"audit_event",
       "aid, time, principal, action, rtype, id, version, status, remote, detail, patient, flags, "
       "digest",
       "int8,int8,text,text,text,text,int8,int4,text,text,text,text,bytea"},
  };
  for (const Spec& spec : kSpecs) {
    auto it = pending_.find(spec.table);
    if (it == pending_.end() || it->second.rows == 0) continue;
    std::string sql =
        std::string("INSERT INTO ") + spec.table + " (" + spec.columns + ") SELECT * FROM unnest(";
    std::vector<SqlArg> args;
    std::string_view types = spec.types;
    size_t i = 0;
    while (!types.empty()) {
      size_t comma = types.find(',');
      std::string_view t = types.substr(0, comma);
      sql += (i ? ", ?::" : "?::") + std::string(t) + "[]";
      args.emplace_back(std::in_place_type<std::string>, CloseArray(it->second.cols[i]));
      ++i;
      types = comma == std::string_view::npos ? std::string_view() : types.substr(comma + 1);
    }
    sql += ")";
    if (std::string_view(spec.table).substr(0, 4) == "idx_") sql += " ON CONFLICT DO NOTHING";
    auto r = conn_->Query(sql, args);
    pending_.erase(it);
    if (!r.ok()) {
      Discard();
      return r.status();
    }
  }
  pending_rids_.clear();
  return Status::Ok();
}

void PgTransaction::Discard() {
  pending_.clear();
  pending_rids_.clear();
}

Result<int64_t> PgTransaction::Put(const NewVersion& v) {
  ASSIGN_OR_RETURN(std::optional<CurrentInfo> cur, LockCurrent(v.type, v.id));
  int64_t expected = cur ? cur->version + 1 : 1;
  if (v.version != expected) {
    return Status(Code::kPreconditionFailed,
                  v.type + "/" + v.id + ": version " + std::to_string(v.version) +
                      " is not the next version (" + std::to_string(expected) + ")");
  }
  RETURN_IF_ERROR(WriteLock());
  Known& k = known_[v.type + "/" + v.id];
  std::string narrative, content;
  if (!v.deleted && !v.json.empty()) {
    narrative = WordsColumn(fhir::SearchableText(v.json, true));
    content = WordsColumn(fhir::SearchableText(v.json, false));
  }
  const int64_t deleted = v.deleted ? 1 : 0;
  ASSIGN_OR_RETURN(int64_t seq, NextId(&seqs_));
  if (!cur) {
    // A new resource: its row and first version are buffered with its index rows (Flush).
    ASSIGN_OR_RETURN(k.rid, NextId(&rids_));
    std::string rid = std::to_string(k.rid), seq_text = std::to_string(seq),
                version = std::to_string(v.version), updated = std::to_string(v.last_updated_us),
                del = std::to_string(deleted);
    AddRow("resource", 7, {rid, ArgText(v.type), ArgText(v.id), version, seq_text, updated, del});
    AddRow("resource_version", 9,
           {seq_text, rid, version, updated, v.method, del, v.json, narrative, content});
    pending_rids_.insert(k.rid);
  } else {
    // The index rows of the version replaced go (those still buffered are sent first).
    if (pending_rids_.count(k.rid)) RETURN_IF_ERROR(Flush());
    ASSIGN_OR_RETURN(
        Rows r,
        conn_->Query(
            "WITH r AS (UPDATE resource SET version = ?, seq = ?, last_updated = ?, deleted = ? "
            "WHERE rid = ? RETURNING rid, seq), "
            "d1 AS (DELETE FROM idx_string WHERE rid = ?), d2 AS (DELETE FROM idx_token WHERE "
            "rid = ?), d3 AS (DELETE FROM idx_reference WHERE rid = ?), d4 AS (DELETE FROM "
            "idx_date WHERE rid = ?), d5 AS (DELETE FROM idx_number WHERE rid = ?), d6 AS (DELETE "
            "FROM idx_quantity WHERE rid = ?), d7 AS (DELETE FROM idx_uri WHERE rid = ?) "
            "INSERT INTO resource_version (seq, rid, version, last_updated, method, deleted, json, "
            "text_narrative, text_content) SELECT seq, rid, ?, ?, ?, ?, ?, ?, ? FROM r "
            "RETURNING seq",
            {v.version, seq, v.last_updated_us, deleted, k.rid, k.rid, k.rid, k.rid, k.rid, k.rid,
             k.rid, k.rid, v.version, v.last_updated_us, v.method, deleted, v.json, narrative,
             content}));
    if (r.size() != 1) return Status(Code::kInternal, v.type + "/" + v.id + ": resource row lost");
  }
  if (!v.deleted && v.index != nullptr) RETURN_IF_ERROR(BufferIndex(k.rid, v.type, *v.index));
  k.version = v.version;
  k.deleted = v.deleted;
  ++resources_written_;
  return seq;
}

Result<std::vector<std::string>> PgTransaction::FindIds(const std::string& type, const Query& query,
                                                        int limit) {
  // Conditional operations decide on what they find: under the write lock, after this
  // transaction's own rows are sent.
  RETURN_IF_ERROR(WriteLock());
  RETURN_IF_ERROR(Flush());
  auto pid = [&](const std::string& t, const std::string& code) -> int64_t {
    int64_t p = store_->LookupParam(t, code);
    if (p >= 0) return p;
    auto it = new_params_.find(ParamKey(t, code));
    return it == new_params_.end() ? -1 : it->second;
  };
  ASSIGN_OR_RETURN(CompiledQuery cq, CompileQuery(query, type, PostgresDialect(), pid));
  std::vector<SqlArg> args;
  args.emplace_back(type);
  for (const auto& a : cq.args) args.push_back(a);
  args.emplace_back(static_cast<int64_t>(limit));
  ASSIGN_OR_RETURN(Rows r, conn_->Query("SELECT r.id FROM resource r WHERE r.rtype = ? AND "
                                        "r.deleted = 0 AND " +
                                            cq.where + " LIMIT ?",
                                        args));
  std::vector<std::string> ids;
  for (int i = 0; i < r.size(); ++i) ids.push_back(r.Text(i, 0));
  return ids;
}

Status PgTransaction::Audit(const AuditRecord& r) {
  audit_.push_back(r);
  return Status::Ok();
}

Status PgTransaction::ChainAudit() {
  if (audit_.empty()) return Status::Ok();
  // The chain head, locked until COMMIT: appenders of every node chain one after another.
  ASSIGN_OR_RETURN(Rows h,
                   conn_->Query("SELECT aid, hash FROM audit_head WHERE k = 1 FOR UPDATE", {}));
  if (h.size() != 1) return Status(Code::kInternal, "audit_head row missing");
  int64_t aid = h.Int(0, 0);
  std::string head = h.Text(0, 1);
  AuditDigest prev;
  bool first = head.empty();  // the first row of the chain links to nothing
  if (!first && !AuditDigestFromHex(head, &prev))
    return Status(Code::kInternal, "audit_head hash is not a SHA-256 hex digest");
  // Chain format 2 (store/audit_chain.h): the digest as bytea, prev_hash and hash left ''.
  Table& t = pending_["audit_event"];
  if (t.cols.empty()) t.cols.resize(13);
  AuditDigest d;
  for (const AuditRecord& r : audit_) {
    ++aid;
    AuditRowDigest(aid, r, first ? nullptr : &prev, &d);
    std::string vals[13] = {
        std::to_string(aid),       std::to_string(r.time_us), ArgText(r.principal),
        ArgText(r.action),         ArgText(r.type),           ArgText(r.id),
        std::to_string(r.version), std::to_string(r.status),  ArgText(r.remote),
        ArgText(r.detail),         ArgText(r.patient),        ArgText(r.flags),
        "\\x" + AuditDigestHex(d)};
    for (size_t i = 0; i < 13; ++i) AppendArrayItem(t.cols[i], vals[i]);
    ++t.rows;
    prev = d;
    first = false;
  }
  RETURN_IF_ERROR(Flush());
  RETURN_IF_ERROR(conn_
                      ->Query("UPDATE audit_head SET aid = ?, hash = ? WHERE k = 1",
                              {aid, AuditDigestHex(prev)})
                      .status());
  audit_.clear();
  audit_mark_ = 0;
  return Status::Ok();
}

Status PgTransaction::Savepoint() {
  RETURN_IF_ERROR(Flush());
  audit_mark_ = audit_.size();
  params_since_savepoint_.clear();
  in_savepoint_ = true;
  return conn_->Exec("SAVEPOINT unit");
}

Status PgTransaction::ReleaseSavepoint() {
  RETURN_IF_ERROR(Flush());
  in_savepoint_ = false;
  params_since_savepoint_.clear();
  return conn_->Exec("RELEASE unit");
}

Status PgTransaction::RollbackToSavepoint() {
  Discard();  // everything buffered was written after the savepoint
  audit_.resize(audit_mark_);
  in_savepoint_ = false;
  for (const auto& k : params_since_savepoint_) new_params_.erase(k);
  params_since_savepoint_.clear();
  known_.clear();
  return conn_->Exec("ROLLBACK TO unit; RELEASE unit");
}

Status PgTransaction::Commit() {
  Status st = Flush();
  if (st.ok()) st = ChainAudit();
  if (st.ok()) st = conn_->Exec("COMMIT");
  done_ = true;
  if (!st.ok()) {
    (void)conn_->Exec("ROLLBACK");
    return st;
  }
  store_->PublishParams(new_params_);
  store_->CountWritten(resources_written_);
  if (resources_written_ > 0 && store_->has_replicas()) store_->NoteWrite(*conn_.get());
  return Status::Ok();
}

}  // namespace

bool IsPostgresUrl(const std::string& storage) {
  return storage.rfind("postgresql://", 0) == 0 || storage.rfind("postgres://", 0) == 0;
}

Result<std::unique_ptr<Store>> OpenPostgresStore(const PostgresOptions& options) {
  auto s = std::make_unique<PgStore>(options);
  RETURN_IF_ERROR(s->Init());
  return std::unique_ptr<Store>(std::move(s));
}

Status MigratePostgres(const std::string& url, int* from, int* to) {
  ASSIGN_OR_RETURN(auto c, PgConn::Open(url, ""));
  return Migrate(*c, true, from, to);
}

int PostgresSchemaVersion() { return static_cast<int>(postgres::Migrations().size()); }

}  // namespace benhan::store
