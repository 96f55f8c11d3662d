#include "store/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "core/clock.h"
#include "fhir/text_search.h"
#include "store/audit_chain.h"
#include "store/search_sql.h"
#include "store/sqlite/json_codec.h"
#include "store/sqlite/migrations.h"

namespace benhan::store {
namespace {

// The audit trail's search keys are posted per block of 2^kAuditBlockShift rows (migration
// 005_audit_posting.sql, which uses the same shift): audit_posting (kind, key, block).
constexpr int kAuditBlockShift = 8;
constexpr int64_t kAuditBlockRows = int64_t{1} << kAuditBlockShift;
enum AuditKeyKind : char { kPostPatient = 1, kPostPrincipal = 2, kPostEntity = 3 };

// A posting's identity as one string (block, kind, key), for the sets that skip postings already
// written: 8 bytes of block, the kind, the key.
void PostingId(int64_t block, char kind, const std::string& key, std::string* out) {
  out->assign(reinterpret_cast<const char*>(&block), sizeof block);
  out->push_back(kind);
  out->append(key);
}

Status SqlError(sqlite3* db, int rc, std::string_view what) {
  std::string msg = std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return Status(Code::kConflict, msg);
  if (primary == SQLITE_FULL || primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN) {
    return Status(Code::kUnavailable, msg);
  }
  return Status(Code::kInternal, msg);
}

// A prepared statement borrowed from a connection's cache (reset on destruction), or owned by
// this object when the cache is full (finalized on destruction).
class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* s, bool owned = false) : db_(db), s_(s), owned_(owned) {}
  ~Stmt() {
    if (s_ && owned_) {
      sqlite3_finalize(s_);
    } else if (s_) {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
    }
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  void Reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  // For a loop that binds every parameter again before each step (the destructor clears them).
  void ResetKeepingBindings() { sqlite3_reset(s_); }
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& Bind(int i, double v) {
    sqlite3_bind_double(s_, i, v);
    return *this;
  }
  Stmt& Bind(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Stmt& Bind(int i, const std::string& v) { return Bind(i, std::string_view(v)); }
  Stmt& BindBlob(int i, const std::string& v) {
    sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Stmt& BindArg(int i, const SqlArg& a) {
    if (std::holds_alternative<int64_t>(a)) return Bind(i, std::get<int64_t>(a));
    if (std::holds_alternative<double>(a)) return Bind(i, std::get<double>(a));
    return Bind(i, std::get<std::string>(a));
  }
  // SQLITE_ROW -> true, SQLITE_DONE -> false, else error.
  Result<bool> Step() {
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return SqlError(db_, rc, "sqlite step");
  }
  Status Run() {
    auto r = Step();
    return r.ok() ? Status::Ok() : r.status();
  }
  int64_t Int(int c) const { return sqlite3_column_int64(s_, c); }
  double Real(int c) const { return sqlite3_column_double(s_, c); }
  // Valid until the next step or reset of the statement.
  std::string_view Blob(int c) const {
    const void* p = sqlite3_column_blob(s_, c);
    int n = sqlite3_column_bytes(s_, c);
    return p ? std::string_view(static_cast<const char*>(p), static_cast<size_t>(n))
             : std::string_view();
  }
  std::string Text(int c) const {
    const void* p = sqlite3_column_blob(s_, c);
    int n = sqlite3_column_bytes(s_, c);
    return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_;
  bool owned_ = false;
};

class Conn {
 public:
  ~Conn() {
    for (auto& [sql, s] : cache_) sqlite3_finalize(s);
    if (db_) sqlite3_close(db_);
  }
  // benhan_text_match(json, narrative, folded_words): the _text / _content condition
  // (SqliteDialect().text_match). `json` is the stored form (the codec is the function's data).
  static void TextMatch(sqlite3_context* ctx, int, sqlite3_value** argv) {
    const char* json = static_cast<const char*>(sqlite3_value_blob(argv[0]));
    int n = sqlite3_value_bytes(argv[0]);
    const unsigned char* words = sqlite3_value_text(argv[2]);
    if (json == nullptr || words == nullptr) {
      sqlite3_result_int(ctx, 0);
      return;
    }
    std::string_view stored(json, static_cast<size_t>(n));
    thread_local std::string decoded;
    if (sqlite::JsonCodec::IsCompressed(stored)) {
      const auto* codec = static_cast<const sqlite::JsonCodec*>(sqlite3_user_data(ctx));
      Status st = codec->Decode(stored, &decoded);
      if (!st.ok()) {
        sqlite3_result_error(ctx, st.message().c_str(), -1);
        return;
      }
      stored = decoded;
    }
    std::string text = fhir::SearchableText(stored, sqlite3_value_int(argv[1]) != 0);
    sqlite3_result_int(ctx, fhir::WordsMatch(text, reinterpret_cast<const char*>(words)) ? 1 : 0);
  }
  static Result<std::unique_ptr<Conn>> Open(const SqliteOptions& o, bool readonly,
                                            const sqlite::JsonCodec* codec) {
    auto c = std::make_unique<Conn>();
    int flags = readonly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    flags |= SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(o.path.c_str(), &c->db_, flags, nullptr);
    if (rc != SQLITE_OK)
      return Status(Code::kUnavailable, "cannot open " + o.path + ": " + sqlite3_errstr(rc));
    sqlite3_busy_timeout(c->db_, 5000);
    sqlite3_create_function_v2(
        c->db_, "benhan_text_match", 3, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY,
        const_cast<sqlite::JsonCodec*>(codec), &Conn::TextMatch, nullptr, nullptr, nullptr);
    std::string pragmas = "PRAGMA cache_size=-" + std::to_string(o.cache_mib * 1024) +
                          "; PRAGMA temp_store=MEMORY; PRAGMA mmap_size=" +
                          std::to_string(static_cast<int64_t>(o.mmap_mib) << 20) + ";";
    if (!readonly) {
      pragmas =
          "PRAGMA page_size=" + std::to_string(o.page_size) + ";" + pragmas;  // new databases only
      pragmas += "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=OFF;";
      pragmas += "PRAGMA journal_size_limit=67108864;";  // a reset WAL file shrinks to 64 MB
      pragmas += o.synchronous_full ? "PRAGMA synchronous=FULL;" : "PRAGMA synchronous=NORMAL;";
    }
    RETURN_IF_ERROR(c->Exec(pragmas));
    return c;
  }
  sqlite3* db() const { return db_; }
  Status Exec(const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      std::string msg = err ? err : sqlite3_errstr(rc);
      sqlite3_free(err);
      Status st = SqlError(db_, rc, "sqlite exec");
      return Status(st.code(), "sqlite: " + msg);
    }
    return Status::Ok();
  }
  Result<std::unique_ptr<Stmt>> Prepare(const std::string& sql) {
    auto it = cache_.find(sql);
    sqlite3_stmt* s = nullptr;
    if (it != cache_.end()) {
      s = it->second;
    } else {
      int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                                  SQLITE_PREPARE_PERSISTENT, &s, nullptr);
      if (rc != SQLITE_OK) return SqlError(db_, rc, "sqlite prepare");
      // Bound the cache (search SQL varies). A full cache keeps what it has: statements handed
      // out may still be in use (a caller can hold several), so none is finalized here.
      if (cache_.size() >= 512) return std::make_unique<Stmt>(db_, s, true);
      cache_.emplace(sql, s);
    }
    return std::make_unique<Stmt>(db_, s);
  }

 private:
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

constexpr const char* kVersionColumns =
    "r.rtype, r.id, v.version, v.seq, v.last_updated, v.deleted, v.method, v.json";

// A version row (kVersionColumns from `first` on); the JSON decoded from its stored form.
Result<VersionRecord> RowToVersion(const Stmt& s, const sqlite::JsonCodec& codec, int first = 0) {
  VersionRecord r;
  r.type = s.Text(first + 0);
  r.id = s.Text(first + 1);
  r.version = s.Int(first + 2);
  r.seq = s.Int(first + 3);
  r.last_updated_us = s.Int(first + 4);
  r.deleted = s.Int(first + 5) != 0;
  r.method = s.Text(first + 6);
  Status st = codec.Decode(s.Blob(first + 7), &r.json);
  if (!st.ok())
    return st.WithContext(r.type + "/" + r.id + "/_history/" + std::to_string(r.version));
  return r;
}

// The lookup key of a search parameter: "Type\x1fcode", built in a per-thread buffer (no
// allocation on the hot path). The reference is valid until the next call on the same thread.
const std::string& ParamKey(const std::string& type, const std::string& code) {
  thread_local std::string key;
  key.assign(type);
  key.push_back('\x1f');
  key.append(code);
  return key;
}

// Encoding of a resource's index-row keys (resource.index_keys; docs/storage_format.md): a format
// byte, then one record per index row: [table byte][pid: varint][fields], strings as a varint
// length then the bytes, integers and reals as 8 raw bytes. Only the fields of each table's key.
constexpr char kKeysFormat = 1;
enum IndexTable : char {
  kString = 's',
  kToken = 't',
  kRef = 'r',
  kDate = 'd',
  kNumber = 'n',
  kQuantity = 'q',
  kUri = 'u'
};

class KeyWriter {
 public:
  explicit KeyWriter(std::string* out) : out_(out) {}
  KeyWriter& Tag(IndexTable t, int64_t pid) {
    if (out_->empty()) out_->push_back(kKeysFormat);
    out_->push_back(static_cast<char>(t));
    Varint(static_cast<uint64_t>(pid));
    return *this;
  }
  KeyWriter& Int(int64_t v) {
    out_->append(reinterpret_cast<const char*>(&v), 8);
    return *this;
  }
  KeyWriter& Real(double v) {
    out_->append(reinterpret_cast<const char*>(&v), 8);
    return *this;
  }
  KeyWriter& Str(std::string_view v) {
    Varint(v.size());
    out_->append(v);
    return *this;
  }

 private:
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      out_->push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out_->push_back(static_cast<char>(v));
  }
  std::string* out_;
};

// Reads what KeyWriter wrote; the string_views point into the input.
class KeyReader {
 public:
  explicit KeyReader(std::string_view in) : in_(in) {
    if (!in_.empty()) ok_ = in_[pos_++] == kKeysFormat;
  }
  bool done() const { return !ok_ || pos_ >= in_.size(); }
  bool ok() const { return ok_; }
  char Tag() { return Need(1) ? in_[pos_++] : 0; }
  int64_t Pid() { return static_cast<int64_t>(Varint()); }
  int64_t Int() {
    int64_t v = 0;
    if (Need(8)) std::memcpy(&v, in_.data() + pos_, 8), pos_ += 8;
    return v;
  }
  double Real() {
    double v = 0;
    if (Need(8)) std::memcpy(&v, in_.data() + pos_, 8), pos_ += 8;
    return v;
  }
  std::string_view Str() {
    uint64_t n = Varint();
    if (!Need(n)) return {};
    std::string_view s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }

 private:
  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && Need(1); shift += 7) {
      auto b = static_cast<unsigned char>(in_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    ok_ = false;
    return 0;
  }
  bool Need(uint64_t n) {
    if (n > in_.size() - pos_) ok_ = false;
    return ok_;
  }
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// The index tables' columns as the write path inserts them; kinds: 'i' integer, 'd' real,
// 's' text. Indexed by IndexTableNo.
struct IndexTableSpec {
  const char* name;
  const char* columns;
  const char* kinds;
};
enum IndexTableNo {
  kStringNo,
  kTokenNo,
  kRefNo,
  kDateNo,
  kNumberNo,
  kQuantityNo,
  kUriNo,
  kTableCount
};
constexpr IndexTableSpec kIndexTables[kTableCount] = {
    {"idx_string", "pid, folded, exact, rid", "issi"},
    {"idx_token", "pid, code, system, text, rid", "isssi"},
    {"idx_reference", "pid, target_id, target_type, url, rid", "isssi"},
    {"idx_date", "pid, low, high, rid", "iiii"},
    {"idx_number", "pid, value, rid", "idi"},
    {"idx_quantity", "pid, unit_key, canonical, system, rid, value, code, unit", "isdsidss"},
    {"idx_uri", "pid, uri, rid", "isi"},
};
// Rows per INSERT statement: one statement runs with one VDBE start-up, cursor open and reset for
// all its rows (measured in docs/benchmarks.md: -20% of SQLite's instructions per index row at
// 16-32 rows; more gains nothing). Statements of 32, 16, ..., 1 rows cover any count.
constexpr int kMaxRowsPerInsert = 32;

// "INSERT OR IGNORE INTO t (cols) VALUES (?, ...), ... " with `rows` rows (OR IGNORE: duplicate
// rows collapse). Built once per table and row count.
const std::string& InsertSql(int table, int rows) {
  static const auto* sqls = [] {
    auto* v = new std::vector<std::string>(kTableCount * (kMaxRowsPerInsert + 1));
    for (int t = 0; t < kTableCount; ++t) {
      const IndexTableSpec& spec = kIndexTables[t];
      std::string row = "(";
      for (size_t c = 0; spec.kinds[c] != 0; ++c) row += c ? ", ?" : "?";
      row += ")";
      for (int n = 1; n <= kMaxRowsPerInsert; ++n) {
        std::string sql =
            std::string("INSERT OR IGNORE INTO ") + spec.name + " (" + spec.columns + ") VALUES ";
        for (int r = 0; r < n; ++r) sql += (r ? ", " : "") + row;
        (*v)[static_cast<size_t>(t * (kMaxRowsPerInsert + 1) + n)] = std::move(sql);
      }
    }
    return v;
  }();
  return (*sqls)[static_cast<size_t>(table * (kMaxRowsPerInsert + 1) + rows)];
}

// Index rows written by a transaction and not inserted yet: Put() queues them here, Flush()
// inserts each table's rows with multi-row statements. Strings are copied (the caller's
// IndexEntries may be gone by then) into one buffer.
class PendingIndex {
 public:
  // Starts a row of `table`; the values follow in the table's column order.
  PendingIndex& Row(IndexTableNo table) {
    cur_ = &cells_[table];
    ++rows_[table];
    empty_ = false;
    return *this;
  }
  PendingIndex& I(int64_t v) {
    Cell c;
    c.i = v;
    cur_->push_back(c);
    return *this;
  }
  PendingIndex& D(double v) {
    Cell c;
    c.d = v;
    cur_->push_back(c);
    return *this;
  }
  PendingIndex& S(std::string_view v) {
    Cell c;
    c.s.off = static_cast<uint32_t>(text_.size());
    c.s.len = static_cast<uint32_t>(v.size());
    text_.append(v);
    cur_->push_back(c);
    return *this;
  }
  bool empty() const { return empty_; }
  // True once the queue holds more than a few MB: the writer flushes it then (memory stays bounded
  // and string offsets stay far below 2^32 however large the transaction).
  bool large() const { return text_.size() > (8u << 20) || cell_count() > (1u << 20); }
  void Clear() {
    for (auto& c : cells_) c.clear();
    for (auto& n : rows_) n = 0;
    text_.clear();
    empty_ = true;
  }
  // Inserts every queued row through `conn` and clears the queue (also on error: the caller
  // rolls the transaction back).
  Status Flush(Conn* conn) {
    if (empty_) return Status::Ok();
    Status st = Status::Ok();
    for (int t = 0; t < kTableCount && st.ok(); ++t) st = FlushTable(conn, t);
    Clear();
    return st;
  }

 private:
  union Cell {
    int64_t i;
    double d;
    struct {
      uint32_t off, len;
    } s;
  };
  Status FlushTable(Conn* conn, int t) {
    const char* kinds = kIndexTables[t].kinds;
    const size_t ncols = std::strlen(kinds);
    size_t done = 0, total = rows_[t];
    const Cell* cell = cells_[t].data();
    while (done < total) {
      int n = kMaxRowsPerInsert;
      while (static_cast<size_t>(n) > total - done) n /= 2;
      ASSIGN_OR_RETURN(auto s, conn->Prepare(InsertSql(t, n)));
      int p = 1;
      for (int r = 0; r < n; ++r) {
        for (size_t c = 0; c < ncols; ++c, ++cell, ++p) {
          if (kinds[c] == 'i')
            s->Bind(p, cell->i);
          else if (kinds[c] == 'd')
            s->Bind(p, cell->d);
          else
            s->Bind(p, std::string_view(text_.data() + cell->s.off, cell->s.len));
        }
      }
      RETURN_IF_ERROR(s->Run());
      done += static_cast<size_t>(n);
    }
    return Status::Ok();
  }
  size_t cell_count() const {
    size_t n = 0;
    for (const auto& c : cells_) n += c.size();
    return n;
  }
  std::vector<Cell> cells_[kTableCount];  // row-major, the table's columns per row
  size_t rows_[kTableCount] = {};
  std::vector<Cell>* cur_ = nullptr;
  std::string text_;
  bool empty_ = true;
};

class SqliteStore;

class SqliteTransaction final : public Transaction {
 public:
  SqliteTransaction(SqliteStore* store, std::unique_lock<std::mutex> lock, Conn* conn)
      : store_(store), lock_(std::move(lock)), conn_(conn) {}
  ~SqliteTransaction() override;

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
  Status CommitVisible(uint64_t* durable_ticket) override;

 private:
  Result<int64_t> ParamId(const std::string& type, const std::string& code);
  // Queues the index rows (pending_; inserted by FlushIndex) and returns their keys, encoded.
  Result<std::string> WriteIndex(int64_t rid, const std::string& type,
                                 const fhir::IndexEntries& ix);
  // Deletes the index rows whose keys `keys` (from WriteIndex) lists.
  Status DeleteIndex(int64_t rid, std::string_view keys);
  // Inserts the queued index rows. Called before anything on this connection reads or deletes
  // index rows (FindIds, DeleteIndex), at savepoints and before the commit, so the transaction
  // always sees its own rows.
  Status FlushIndex() { return pending_.Flush(conn_); }

  // Index rows of this transaction's Puts not inserted yet: batched into multi-row INSERTs
  // (fewer statement executions under the write lock).
  PendingIndex pending_;

  SqliteStore* store_;
  std::unique_lock<std::mutex> lock_;
  Conn* conn_;
  bool done_ = false;
  // Resource rows seen in this transaction: key type/id -> (rid, version, deleted).
  struct Known {
    int64_t rid;
    int64_t version;
    bool deleted;
  };
  std::unordered_map<std::string, Known> known_;
  std::unordered_map<std::string, int64_t> new_params_;  // key: ParamKey(type, code)
  std::vector<std::string> params_since_savepoint_;      // new_params_ keys added in the savepoint
  bool in_savepoint_ = false;
  int64_t next_seq_ = 0;
  int64_t next_rid_ = 0;
  // Audit rows of this transaction, chained and written at Commit (under the write lock).
  std::vector<AuditRecord> audit_;
  size_t audit_mark_ = 0;  // audit_.size() at the savepoint
  // Postings WriteAuditChain inserted (PostingId), handed to the store's cache once committed.
  std::unordered_set<std::string> posted_;
  int64_t posted_block_ = -1;  // the block of the last audit row written
  Status WriteAuditChain();
  std::string stored_json_;  // Put's buffer for the stored form of a version's JSON
  friend class SqliteStore;  // TakeAudit hands its batch to audit_ without copying
};

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(SqliteOptions o) : opts_(std::move(o)) {}

  Status Init() {
    ASSIGN_OR_RETURN(writer_, Conn::Open(opts_, false, &codec_));
    // The WAL file as SQLite names it (absolute, whatever the working directory later is).
    if (const char* db = sqlite3_db_filename(writer_->db(), "main"); db && *db)
      wal_path_ = sqlite3_filename_wal(db);
    else
      wal_path_ = opts_.path + "-wal";
    RETURN_IF_ERROR(Migrate());
    RETURN_IF_ERROR(codec_.Load(writer_->db()));
    {
      // When the next dictionary is trained: once the database holds compress_after versions,
      // then each time it has grown kRetrainGrowth-fold since the newest dictionary.
      ASSIGN_OR_RETURN(auto s,
                       writer_->Prepare("SELECT versions FROM json_dict ORDER BY id DESC LIMIT 1"));
      ASSIGN_OR_RETURN(bool row, s->Step());
      next_dict_at_ = opts_.compress_after <= 0 ? -1
                      : row                     ? s->Int(0) * kRetrainGrowth
                                                : opts_.compress_after;
    }
    // Load parameter ids and the sequence counter.
    {
      ASSIGN_OR_RETURN(auto s, writer_->Prepare("SELECT pid, rtype, code FROM search_param"));
      while (true) {
        ASSIGN_OR_RETURN(bool row, s->Step());
        if (!row) break;
        params_[ParamKey(s->Text(1), s->Text(2))] = s->Int(0);
      }
    }
    {
      ASSIGN_OR_RETURN(auto s,
                       writer_->Prepare("SELECT COALESCE(MAX(seq), 0) FROM resource_version"));
      ASSIGN_OR_RETURN(bool row, s->Step());
      (void)row;
      last_seq_ = s->Int(0);
    }
    {
      ASSIGN_OR_RETURN(auto s, writer_->Prepare("SELECT COALESCE(MAX(rid), 0) FROM resource"));
      ASSIGN_OR_RETURN(bool row, s->Step());
      (void)row;
      last_rid_ = s->Int(0);
    }
    for (int i = 0; i < opts_.readers; ++i) {
      ASSIGN_OR_RETURN(auto c, Conn::Open(opts_, true, &codec_));
      readers_.push_back(std::move(c));
      free_readers_.push_back(readers_.back().get());
    }
    // Checkpoints run on their own connection and thread, so commits only append to the WAL:
    // the writer's hook wakes the checkpointer once the WAL holds kCheckpointPages pages.
    ASSIGN_OR_RETURN(checkpointer_, Conn::Open(opts_, false, &codec_));
    RETURN_IF_ERROR(writer_->Exec("PRAGMA wal_autocheckpoint=0"));
    RETURN_IF_ERROR(checkpointer_->Exec("PRAGMA wal_autocheckpoint=0"));
    sqlite3_wal_hook(writer_->db(), &SqliteStore::WalHook, this);
    checkpoint_thread_ = std::thread([this] { CheckpointLoop(); });
    return Status::Ok();
  }

  ~SqliteStore() override {
    if (trainer_.joinable()) trainer_.join();
    {
      std::lock_guard<std::mutex> l(ckpt_mu_);
      ckpt_stop_ = true;
    }
    ckpt_cv_.notify_all();
    if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
    if (wal_fd_ >= 0) ::close(wal_fd_);
    if (writer_) {
      sqlite3_wal_hook(writer_->db(), nullptr, nullptr);
      // Query-planner statistics (sqlite_stat1): without them searches that combine parameters
      // scan by type. analysis_limit bounds the work to a sample per index (milliseconds).
      (void)writer_->Exec("PRAGMA analysis_limit=1000; ANALYZE; PRAGMA optimize;");
    }
  }

  static constexpr int kCheckpointPages =
      16000;  // ~64 MB of WAL: pages rewritten by many commits are copied once
  static constexpr int kWalCapPages = 65536;  // ~1 GiB of 16 KiB pages: then RESTART

  static int WalHook(void* self, sqlite3*, const char*, int pages) {
    auto* store = static_cast<SqliteStore*>(self);
    if (pages >= kCheckpointPages) {
      std::lock_guard<std::mutex> l(store->ckpt_mu_);
      store->ckpt_wanted_ = true;
      store->ckpt_cv_.notify_one();
    }
    return SQLITE_OK;
  }

  void CheckpointLoop() {
    std::unique_lock<std::mutex> l(ckpt_mu_);
    while (!ckpt_stop_) {
      ckpt_cv_.wait_for(l, std::chrono::seconds(5), [&] { return ckpt_stop_ || ckpt_wanted_; });
      if (ckpt_stop_) break;
      ckpt_wanted_ = false;
      l.unlock();
      // PASSIVE: copies what it can without blocking writers or readers. The WAL file is reused
      // from the start once a checkpoint has caught up with it.
      int log = 0, done = 0;
      sqlite3_wal_checkpoint_v2(checkpointer_->db(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log,
                                &done);
      // Under continuous commits a PASSIVE checkpoint never catches up, so the WAL would grow
      // without bound (an 18.8 GB WAL was seen importing 10,000 patients). Past kWalCapPages
      // (~1 GiB) a RESTART checkpoint waits for the writer (busy timeout), copies the rest and
      // makes the next commit start the WAL from its beginning; journal_size_limit then
      // truncates the file. Writers stall for that one checkpoint only.
      if (log >= kWalCapPages) {
        sqlite3_wal_checkpoint_v2(checkpointer_->db(), nullptr, SQLITE_CHECKPOINT_RESTART, &log,
                                  &done);
      }
      l.lock();
    }
    l.unlock();
    int log = 0, done = 0;
    sqlite3_wal_checkpoint_v2(checkpointer_->db(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
  }

  std::string_view backend_name() const override { return "sqlite"; }

  const sqlite::JsonCodec& codec() const { return codec_; }

  // Dictionaries for the stored JSON (json_codec.h). kRetrainGrowth: a new one each time the
  // database has grown this many-fold (1,000 -> 16,000 -> 256,000 ... versions), so the newest
  // reflects what the clinic stores now; kDictSamples resources of every age are sampled.
  static constexpr int64_t kRetrainGrowth = 16;
  static constexpr int kDictSamples = 2000;
  static constexpr size_t kDictSampleBytes = 16384;  // of each sample, at most
  static constexpr size_t kDictBytes = 65536;

  // Under write_mu_, after a commit brought the store to `versions` versions: starts training a
  // dictionary in the background when one is due and none is being trained.
  void MaybeTrainDictionary(int64_t versions) {
    if (next_dict_at_ < 0 || versions < next_dict_at_ || training_) return;
    training_ = true;
    if (trainer_.joinable()) trainer_.join();  // the previous one has finished (training_ false)
    trainer_ = std::thread([this, versions] {
      Status st = TrainDictionary(versions);
      {
        std::lock_guard<std::mutex> l(write_mu_);
        // A failure (too few distinct samples, a full disk) waits for twice as many versions.
        next_dict_at_ = st.ok() ? versions * kRetrainGrowth : versions * 2;
        training_ = false;
      }
      if (opts_.dictionary_hook) opts_.dictionary_hook(st);
    });
  }

  // Samples up to kDictSamples resources spread over seq 1..versions (a reader snapshot), trains
  // a dictionary, commits it to json_dict, then hands it to the codec: a frame is only ever
  // written with a dictionary that is already durable.
  Status TrainDictionary(int64_t versions) {
    std::vector<std::string> samples;
    {
      ReaderLease lease(this);
      ASSIGN_OR_RETURN(
          auto s, lease.conn->Prepare("SELECT seq, json FROM resource_version WHERE seq >= ? AND "
                                      "deleted = 0 ORDER BY seq LIMIT 1"));
      int64_t next = 1;
      std::string json;
      for (int i = 0; i < kDictSamples && next <= versions; ++i) {
        int64_t want = std::max(next, 1 + i * versions / kDictSamples);
        s->Reset();
        s->Bind(1, want);
        ASSIGN_OR_RETURN(bool row, s->Step());
        if (!row) break;
        next = s->Int(0) + 1;
        RETURN_IF_ERROR(codec_.Decode(s->Blob(1), &json));
        samples.push_back(json.substr(0, kDictSampleBytes));
      }
    }
    ASSIGN_OR_RETURN(std::string dict, sqlite::TrainJsonDictionary(samples, kDictBytes));
    uint32_t id = sqlite::JsonDictionaryId(dict);
    for (uint32_t known : codec_.dictionary_ids()) {
      if (known == id) return Status(Code::kConflict, "trained a dictionary with a known id");
    }
    {
      std::lock_guard<std::mutex> l(write_mu_);
      ASSIGN_OR_RETURN(auto s, writer_->Prepare("INSERT INTO json_dict (zstd_id, created, "
                                                "versions, dict) VALUES (?, ?, ?, ?)"));
      s->Bind(1, int64_t{id}).Bind(2, KvNow()).Bind(3, versions).BindBlob(4, dict);
      RETURN_IF_ERROR(s->Run());
      RETURN_IF_ERROR(codec_.Add(dict));
    }
    return Status::Ok();
  }

  // Write transactions commit with synchronous=NORMAL (the WAL is written, not synced) and are
  // made durable after the write lock is released, by WaitDurable: one fdatasync of the WAL covers
  // every commit written before it started, and the next transaction runs while it syncs. The
  // writer's other statements (KvPut, KvTake, audit checkpoints: implicit transactions) stay
  // synchronous=FULL: the setting is switched around each write transaction (it cannot change
  // inside one).
  Result<std::unique_ptr<Transaction>> BeginWrite() override {
    std::unique_lock<std::mutex> lock(write_mu_);
    if (opts_.synchronous_full) RETURN_IF_ERROR(writer_->Exec("PRAGMA synchronous=NORMAL"));
    Status st = writer_->Exec("BEGIN IMMEDIATE");
    if (!st.ok()) {
      (void)EndWrite(false);
      return st;
    }
    return std::unique_ptr<Transaction>(
        new SqliteTransaction(this, std::move(lock), writer_.get()));
  }

  // Under write_mu_, once a write transaction has committed or rolled back: restores
  // synchronous=FULL and returns the commit's durability ticket for WaitDurable (0: nothing to
  // wait for: rolled back, or synchronous_full is off and commits are never synced).
  uint64_t EndWrite(bool committed) {
    if (!opts_.synchronous_full) return 0;
    (void)writer_->Exec("PRAGMA synchronous=FULL");
    if (!committed) return 0;
    std::lock_guard<std::mutex> l(sync_mu_);
    return ++committed_ticket_;
  }

  // Returns once the commit with `ticket` (and every one before it) is on disk. One caller at a
  // time syncs the WAL (fdatasync) for every commit made before its sync started; the others
  // wait for it, then the next one syncs what came in meanwhile. A failed sync is sticky: the
  // kernel may have dropped the pages, so no later commit is reported durable (restart).
  Status WaitDurable(uint64_t ticket) override {
    if (ticket == 0) return Status::Ok();
    std::unique_lock<std::mutex> l(sync_mu_);
    while (durable_ticket_ < ticket) {
      if (!sync_error_.ok()) return sync_error_;
      if (syncing_) {
        sync_cv_.wait(l);
        continue;
      }
      syncing_ = true;
      uint64_t target = committed_ticket_;
      l.unlock();
      Status st = SyncWal();
      l.lock();
      syncing_ = false;
      if (st.ok())
        durable_ticket_ = std::max(durable_ticket_, target);
      else
        sync_error_ = st;
      sync_cv_.notify_all();
    }
    return Status::Ok();
  }

  Status Flush() override {
    uint64_t t = 0;
    {
      std::lock_guard<std::mutex> l(sync_mu_);
      t = committed_ticket_;
    }
    return WaitDurable(t);
  }

  // fdatasync of the WAL file through a descriptor of our own (any descriptor of a file syncs its
  // data). SQLite keeps the WAL file while a connection is open (it is truncated, never deleted,
  // by checkpoints), so the descriptor stays valid. Called by one thread at a time (syncing_).
  Status SyncWal() {
    if (opts_.wal_sync_hook) RETURN_IF_ERROR(opts_.wal_sync_hook(false));
    if (wal_fd_ < 0) {
      wal_fd_ = ::open(wal_path_.c_str(), O_RDONLY | O_CLOEXEC);
      if (wal_fd_ < 0)
        return Status(Code::kUnavailable,
                      "cannot open " + wal_path_ + " to sync it: " + std::strerror(errno));
    }
    if (::fdatasync(wal_fd_) != 0)
      return Status(Code::kUnavailable, std::string("fdatasync of the write-ahead log failed: ") +
                                            std::strerror(errno));
    if (opts_.wal_sync_hook) RETURN_IF_ERROR(opts_.wal_sync_hook(true));
    return Status::Ok();
  }

  Result<VersionRecord> Read(const std::string& type, const std::string& id) override {
    ReaderLease lease(this);
    return ReadWith(lease.conn, type, id);
  }

  Result<VersionRecord> ReadWith(Conn* c, const std::string& type, const std::string& id) {
    ASSIGN_OR_RETURN(auto s, c->Prepare(std::string("SELECT ") + kVersionColumns +
                                        " FROM resource r JOIN resource_version v ON v.seq = r.seq"
                                        " WHERE r.rtype = ? AND r.id = ?"));
    s->Bind(1, type).Bind(2, id);
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) return Status(Code::kNotFound, type + "/" + id + " not found");
    return RowToVersion(*s, codec_);
  }

  Result<VersionRecord> VRead(const std::string& type, const std::string& id,
                              int64_t version) override {
    ReaderLease lease(this);
    ASSIGN_OR_RETURN(auto s,
                     lease.conn->Prepare(std::string("SELECT ") + kVersionColumns +
                                         " FROM resource r JOIN resource_version v ON v.rid = r.rid"
                                         " WHERE r.rtype = ? AND r.id = ? AND v.version = ?"));
    s->Bind(1, type).Bind(2, id).Bind(3, version);
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) {
      return Status(Code::kNotFound,
                    type + "/" + id + "/_history/" + std::to_string(version) + " not found");
    }
    return RowToVersion(*s, codec_);
  }

  Result<HistoryPage> History(const HistoryQuery& q) override {
    ReaderLease lease(this);
    RETURN_IF_ERROR(lease.conn->Exec("BEGIN"));
    auto page = HistoryIn(lease.conn, q);
    (void)lease.conn->Exec("COMMIT");
    return page;
  }

  Result<HistoryPage> HistoryIn(Conn* c, const HistoryQuery& q) {
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
          auto cs,
          c->Prepare(
              "SELECT COUNT(*) FROM resource_version v JOIN resource r ON r.rid = v.rid WHERE " +
              where));
      for (size_t i = 0; i < args.size(); ++i) cs->BindArg(static_cast<int>(i + 1), args[i]);
      ASSIGN_OR_RETURN(bool row, cs->Step());
      if (row) page.total = cs->Int(0);
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
    ASSIGN_OR_RETURN(auto s, c->Prepare(sql));
    for (size_t i = 0; i < args.size(); ++i) s->BindArg(static_cast<int>(i + 1), args[i]);
    while (true) {
      ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      ASSIGN_OR_RETURN(VersionRecord v, RowToVersion(*s, codec_));
      page.entries.push_back(std::move(v));
    }
    if (page.entries.size() > static_cast<size_t>(q.count)) {
      page.entries.pop_back();
      page.next_before_seq = page.entries.back().seq;
    }
    if (q.id.empty() && q.type.empty()) page.total = -1;  // not counted for system history
    return page;
  }

  Result<SearchResult> Search(const std::string& type, const Query& query) override {
    ReaderLease lease(this);
    RETURN_IF_ERROR(lease.conn->Exec("BEGIN"));
    auto r = SearchIn(lease.conn, type, query, query.count, true);
    (void)lease.conn->Exec("COMMIT");
    return r;
  }

  // Work budget of a search's COUNT(*) without _total=accurate, in thousands of SQLite VM steps.
  static constexpr int kCountBudget = 50;

  // Installs a progress handler that interrupts the statement once `*budget` (thousands of VM
  // steps) is spent; UnlimitWork removes it.
  static void LimitWork(Conn* c, int* budget) {
    sqlite3_progress_handler(
        c->db(), 1000, [](void* left) { return --*static_cast<int*>(left) < 0 ? 1 : 0; }, budget);
  }
  static void UnlimitWork(Conn* c) { sqlite3_progress_handler(c->db(), 0, nullptr, nullptr); }

  // Work budget of the first try of a _has search (referenced ids listed), in thousands of SQLite
  // VM steps (~1 ms); past it the search runs with per-row EXISTS tests in page order.
  static constexpr int kListBudget = 20;

  Result<SearchResult> SearchIn(Conn* c, const std::string& type, const Query& query, int limit,
                                bool full) {
    if (HasReverseChain(query.all_of)) {
      int budget = kListBudget;
      auto r = SearchVariant(c, type, query, limit, full, /*reverse_as_list=*/true, &budget);
      if (r.ok() || budget >= 0) return r;  // done, or a real error
    }
    return SearchVariant(c, type, query, limit, full, false, nullptr);
  }

  Result<SearchResult> SearchVariant(Conn* c, const std::string& type, const Query& query,
                                     int limit, bool full, bool reverse_as_list, int* page_budget) {
    auto pid = [&](const std::string& t, const std::string& code) -> int64_t {
      return LookupParam(t, code);
    };
    // One type, or (system search) the conditions compiled for each type, OR-ed.
    std::vector<std::string> types;
    if (!type.empty()) {
      types.push_back(type);
    } else if (!query.types.empty()) {
      types = query.types;
    } else {
      ASSIGN_OR_RETURN(auto ts, c->Prepare("SELECT DISTINCT rtype FROM resource ORDER BY rtype"));
      while (true) {
        ASSIGN_OR_RETURN(bool row, ts->Step());
        if (!row) break;
        types.push_back(ts->Text(0));
      }
    }
    CompiledQuery cq;
    std::string where;
    for (const auto& t : types) {
      ASSIGN_OR_RETURN(CompiledQuery one,
                       CompileQuery(query, t, SqliteDialect(), pid, reverse_as_list));
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
    // The rid column last: the keyset cursor.
    std::string cols =
        (full ? std::string(kVersionColumns) : std::string("r.rtype, r.id")) + ", r.rid";
    const int rid_col = full ? 8 : 2;
    bool keyset = query.sort.empty() && query.after_key > 0;
    // The page is chosen on `resource` alone; with `full` only its rows are then joined with their
    // versions: a search whose candidates must be sorted (an IN-list, _has, _sort) would otherwise
    // read and sort every candidate's JSON to keep a page of it (_has with ~400 candidates: 1.29 ->
    // 0.78 ms; docs/benchmarks.md, "Stored JSON compressed with dictionaries").
    std::string page = " FROM resource r WHERE r.deleted = 0 AND (" + where + ")" +
                       (keyset ? " AND r.rid > ?" : "") + " ORDER BY " + cq.order_by +
                       " LIMIT ? OFFSET ?";
    std::string sql = full ? "SELECT " + cols +
                                 " FROM resource r JOIN resource_version v ON v.seq = r.seq WHERE "
                                 "r.rid IN (SELECT r.rid" +
                                 page + ") ORDER BY " + cq.order_by
                           : "SELECT " + cols + page;
    ASSIGN_OR_RETURN(auto s, c->Prepare(sql));
    int i = 1;
    for (const auto& a : cq.args) s->BindArg(i++, a);
    if (keyset) s->Bind(i++, query.after_key);
    for (const auto& a : cq.order_args) s->BindArg(i++, a);
    s->Bind(i++, static_cast<int64_t>(limit + 1));
    s->Bind(i++, keyset ? int64_t{0} : query.offset);
    if (full) {
      for (const auto& a : cq.order_args) s->BindArg(i++, a);  // the outer ORDER BY's
    }
    std::vector<int64_t> keys;
    if (page_budget != nullptr) LimitWork(c, page_budget);
    while (true) {
      auto step = s->Step();
      if (!step.ok()) {
        if (page_budget != nullptr) UnlimitWork(c);
        s->Reset();
        return step.status();  // with *page_budget < 0: out of budget, not an error
      }
      if (!*step) break;
      if (full) {
        auto v = RowToVersion(*s, codec_);
        if (!v.ok()) {
          if (page_budget != nullptr) UnlimitWork(c);
          s->Reset();
          return v.status();
        }
        out.matches.push_back(std::move(*v));
      } else {
        VersionRecord r;
        r.type = s->Text(0);
        r.id = s->Text(1);
        out.matches.push_back(std::move(r));
      }
      keys.push_back(s->Int(rid_col));
    }
    if (page_budget != nullptr) UnlimitWork(c);
    if (out.matches.size() > static_cast<size_t>(limit)) {
      out.matches.pop_back();
      keys.pop_back();
      out.has_more = true;
    }
    if (!keys.empty()) out.last_key = keys.back();
    if (query.want_total) {
      if (!keyset && query.offset == 0 && !out.has_more) {
        out.total = static_cast<int64_t>(out.matches.size());  // the first page holds them all
      } else if (query.total_from_page_only && !query.total_accurate) {
        // left out (FHIR allows it); _total=accurate counts
      } else {
        // Counted on resource alone: the conditions only read r (and the index tables). Unless
        // _total=accurate, within a budget of SQLite VM steps (kCountBudget x 1000, a few ms):
        // past it the count is interrupted and Bundle.total left out.
        ASSIGN_OR_RETURN(auto cs, c->Prepare("SELECT COUNT(*) FROM resource r WHERE r.deleted = 0 "
                                             "AND (" +
                                             where + ")"));
        for (size_t i = 0; i < cq.args.size(); ++i)
          cs->BindArg(static_cast<int>(i + 1), cq.args[i]);
        int budget = kCountBudget;
        if (!query.total_accurate) LimitWork(c, &budget);
        auto row = cs->Step();
        if (!query.total_accurate) UnlimitWork(c);
        if (row.ok() && *row) {
          out.total = cs->Int(0);
        } else if (!row.ok() && (query.total_accurate || budget >= 0)) {
          return row.status();  // a real error, not the budget
        }
        cs->Reset();
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

  Status TakeAudit(std::vector<AuditRecord>& recs) override {
    if (recs.empty()) return Status::Ok();
    ASSIGN_OR_RETURN(auto t, BeginWrite());
    auto* txn = static_cast<SqliteTransaction*>(t.get());
    txn->audit_.swap(recs);
    Status st = txn->Commit();
    txn->audit_.swap(recs);  // WriteAuditChain reads the records, never moves them: kept for reuse
    return st;
  }

  // Columns of an AuditRow; format-2 rows have `digest` (32 bytes), format-1 rows prev_hash and
  // hash (hex). kAuditPrev adds the previous row's hash (SearchAudit: the FHIR AuditEvent).
  static constexpr const char* kAuditColumns =
      "aid, time, principal, action, rtype, id, version, status, remote, detail, patient, flags, "
      "prev_hash, hash, digest";
  static constexpr const char* kAuditPrev =
      ", (SELECT CASE WHEN p.digest IS NULL THEN p.hash ELSE p.digest END FROM audit_event p "
      "WHERE p.aid = audit_event.aid - 1)";
  static std::string HashHex(std::string h) {
    if (h.size() != 32) return h;  // hex already (format 1), or none
    AuditDigest d;
    std::memcpy(d.data(), h.data(), d.size());
    return AuditDigestHex(d);
  }
  static AuditRow AuditRowAt(const Stmt& s, bool with_prev = false) {
    AuditRow a;
    a.aid = s.Int(0);
    a.rec.time_us = s.Int(1);
    a.rec.principal = s.Text(2);
    a.rec.action = s.Text(3);
    a.rec.type = s.Text(4);
    a.rec.id = s.Text(5);
    a.rec.version = s.Int(6);
    a.rec.status = static_cast<int>(s.Int(7));
    a.rec.remote = s.Text(8);
    a.rec.detail = s.Text(9);
    a.rec.patient = s.Text(10);
    a.rec.flags = s.Text(11);
    std::string digest = s.Text(14);
    if (digest.size() == 32) {
      a.format = 2;
      a.hash = HashHex(std::move(digest));
      if (with_prev) a.prev_hash = HashHex(s.Text(15));
    } else {
      a.format = 1;
      a.prev_hash = s.Text(12);
      a.hash = s.Text(13);
    }
    return a;
  }

  Result<std::vector<AuditRow>> ScanAudit(int64_t after_aid, int limit) override {
    ReaderLease lease(this);
    ASSIGN_OR_RETURN(auto s, lease.conn->Prepare(std::string("SELECT ") + kAuditColumns +
                                                 " FROM audit_event WHERE aid > ? ORDER BY aid "
                                                 "LIMIT ?"));
    s->Bind(1, after_aid).Bind(2, static_cast<int64_t>(limit));
    std::vector<AuditRow> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      out.push_back(AuditRowAt(*s));
    }
    return out;
  }

  Result<AuditHead> ReadAuditHead() override {
    ReaderLease lease(this);
    ASSIGN_OR_RETURN(auto s, lease.conn->Prepare("SELECT aid, hash, genesis, v2_after FROM "
                                                 "audit_head WHERE k = 1"));
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) return Status(Code::kInternal, "audit_head row missing");
    return AuditHead{s->Int(0), s->Text(1), s->Int(2), s->Int(3)};
  }

  Result<std::vector<AuditRow>> SearchAudit(const AuditQuery& q) override {
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
    // A patient, principal or entity id is found through its postings (migration 005): the
    // blocks of rows it occurs in, newest first, each read by aid range.
    char kind = 0;
    const std::string* key = nullptr;
    if (!q.patient.empty()) {
      kind = kPostPatient, key = &q.patient;
    } else if (!q.id.empty()) {
      kind = kPostEntity, key = &q.id;
    } else if (!q.principal.empty()) {
      kind = kPostPrincipal, key = &q.principal;
    }
    const bool by_block = kind != 0 && q.aid == 0;
    if (by_block) sql += " AND aid >= ? AND aid <= ?";
    sql += " ORDER BY aid DESC LIMIT ?";
    ReaderLease lease(this);
    ASSIGN_OR_RETURN(auto s, lease.conn->Prepare(sql));
    const int next = static_cast<int>(args.size()) + 1;
    std::vector<AuditRow> out;
    // Steps the rows in [lo, hi] (by_block) or all, at most `limit`; Reset clears the bindings.
    auto rows = [&](int64_t lo, int64_t hi, int64_t limit) -> Status {
      for (size_t i = 0; i < args.size(); ++i) s->BindArg(static_cast<int>(i + 1), args[i]);
      if (by_block) s->Bind(next, lo).Bind(next + 1, hi);
      s->Bind(by_block ? next + 2 : next, limit);
      while (true) {
        ASSIGN_OR_RETURN(bool row, s->Step());
        if (!row) break;
        out.push_back(AuditRowAt(*s, true));
      }
      s->Reset();
      return Status::Ok();
    };
    if (!by_block) {
      RETURN_IF_ERROR(rows(0, 0, q.count));
      return out;
    }
    ASSIGN_OR_RETURN(auto b, lease.conn->Prepare("SELECT block FROM audit_posting WHERE kind = ? "
                                                 "AND key = ? AND block <= ? ORDER BY block "
                                                 "DESC"));
    const int64_t last = q.before_aid ? q.before_aid - 1 : INT64_MAX;
    b->Bind(1, static_cast<int64_t>(kind)).Bind(2, *key).Bind(3, last >> kAuditBlockShift);
    while (static_cast<int>(out.size()) < q.count) {
      ASSIGN_OR_RETURN(bool row, b->Step());
      if (!row) break;
      const int64_t first = b->Int(0) << kAuditBlockShift;
      RETURN_IF_ERROR(rows(first, std::min(last, first + kAuditBlockRows - 1),
                           q.count - static_cast<int64_t>(out.size())));
    }
    return out;
  }

  Result<int64_t> FirstAuditRowUnsearchable(int64_t last_aid) override {
    ReaderLease lease(this);
    auto missing = [](int kind, const char* column) {
      return std::string("(e.") + column + " <> '' AND NOT EXISTS (SELECT 1 FROM audit_posting " +
             "p WHERE p.kind = " + std::to_string(kind) + " AND p.key = e." + column +
             " AND p.block = e.aid >> " + std::to_string(kAuditBlockShift) + "))";
    };
    ASSIGN_OR_RETURN(auto s,
                     lease.conn->Prepare("SELECT e.aid FROM audit_event e WHERE e.aid <= ? "
                                         "AND (" +
                                         missing(kPostPatient, "patient") + " OR " +
                                         missing(kPostPrincipal, "principal") + " OR " +
                                         missing(kPostEntity, "id") + ") ORDER BY e.aid LIMIT 1"));
    s->Bind(1, last_aid);
    ASSIGN_OR_RETURN(bool row, s->Step());
    return row ? s->Int(0) : int64_t{0};
  }

  Status AppendAuditCheckpoint(const AuditCheckpoint& cp) override {
    std::lock_guard<std::mutex> l(write_mu_);
    ASSIGN_OR_RETURN(auto s, writer_->Prepare("INSERT INTO audit_checkpoint (aid, hash, time, "
                                              "key_id, signature) VALUES (?, ?, ?, ?, ?)"));
    s->Bind(1, cp.aid).Bind(2, cp.hash).Bind(3, cp.time_us).Bind(4, cp.key_id);
    s->Bind(5, cp.signature);
    return s->Run();
  }

  Result<std::vector<AuditCheckpoint>> ListAuditCheckpoints() override {
    ReaderLease lease(this);
    ASSIGN_OR_RETURN(auto s, lease.conn->Prepare("SELECT cid, aid, hash, time, key_id, signature "
                                                 "FROM audit_checkpoint ORDER BY cid"));
    std::vector<AuditCheckpoint> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      out.push_back(
          AuditCheckpoint{s->Int(0), s->Int(1), s->Text(2), s->Int(3), s->Text(4), s->Text(5)});
    }
    return out;
  }

  Result<std::vector<std::pair<std::string, int64_t>>> CountByType() override {
    ReaderLease lease(this);
    ASSIGN_OR_RETURN(auto s, lease.conn->Prepare("SELECT rtype, COUNT(*) FROM resource WHERE "
                                                 "deleted = 0 GROUP BY rtype ORDER BY rtype"));
    std::vector<std::pair<std::string, int64_t>> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      out.emplace_back(s->Text(0), s->Int(1));
    }
    return out;
  }

  // security/'s key-value table (Store::Kv*). Reads use a reader connection (a WAL snapshot
  // taken per statement, so a committed revoke is seen at once); writes use the writer in their
  // own implicit transaction, under the write lock.
  static int64_t KvNow() { return SystemClock().NowMicros(); }

  Result<std::optional<std::string>> KvGet(const std::string& ns, const std::string& key) override {
    ReaderLease lease(this);
    ASSIGN_OR_RETURN(auto s, lease.conn->Prepare("SELECT v FROM security_kv WHERE ns = ? AND k = ? "
                                                 "AND (expires = 0 OR expires > ?)"));
    s->Bind(1, ns).Bind(2, key).Bind(3, KvNow());
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) return std::optional<std::string>();
    return std::optional<std::string>(s->Text(0));
  }

  Status KvPut(const std::string& ns, const std::string& key, const std::string& value,
               int64_t expires_us) override {
    std::lock_guard<std::mutex> l(write_mu_);
    {
      ASSIGN_OR_RETURN(
          auto s, writer_->Prepare("INSERT OR REPLACE INTO security_kv (ns, k, v, expires) VALUES "
                                   "(?, ?, ?, ?)"));
      s->Bind(1, ns).Bind(2, key).BindBlob(3, value).Bind(4, expires_us);
      RETURN_IF_ERROR(s->Run());
    }
    if (++kv_writes_ % 256 == 0) {  // purge expired rows now and then
      ASSIGN_OR_RETURN(
          auto s, writer_->Prepare("DELETE FROM security_kv WHERE expires <> 0 AND expires <= ?"));
      s->Bind(1, KvNow());
      RETURN_IF_ERROR(s->Run());
    }
    return Status::Ok();
  }

  Result<std::optional<std::string>> KvTake(const std::string& ns,
                                            const std::string& key) override {
    std::lock_guard<std::mutex> l(write_mu_);
    ASSIGN_OR_RETURN(auto s, writer_->Prepare("DELETE FROM security_kv WHERE ns = ? AND k = ? "
                                              "RETURNING v, expires"));
    s->Bind(1, ns).Bind(2, key);
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) return std::optional<std::string>();
    std::string v = s->Text(0);
    int64_t expires = s->Int(1);
    ASSIGN_OR_RETURN(bool more, s->Step());  // finish the statement
    (void)more;
    if (expires != 0 && expires <= KvNow()) return std::optional<std::string>();
    return std::optional<std::string>(std::move(v));
  }

  Result<std::vector<KvEntry>> KvList(const std::string& ns) override {
    ReaderLease lease(this);
    ASSIGN_OR_RETURN(auto s, lease.conn->Prepare("SELECT k, v, expires FROM security_kv WHERE ns = "
                                                 "? AND (expires = 0 OR expires > ?) ORDER BY k"));
    s->Bind(1, ns).Bind(2, KvNow());
    std::vector<KvEntry> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      out.push_back(KvEntry{s->Text(0), s->Text(1), s->Int(2)});
    }
    return out;
  }

  int64_t LookupParam(const std::string& type, const std::string& code) {
    const std::string& key = ParamKey(type, code);
    std::lock_guard<std::mutex> l(params_mu_);
    auto it = params_.find(key);
    return it == params_.end() ? -1 : it->second;
  }
  // Audit postings known to be committed (write lock held): those of the newest block, so that a
  // key read again and again in one block is posted once, not once per writer batch.
  bool AuditPosted(const std::string& id) const { return audit_posted_.count(id) != 0; }
  void PublishAuditPosted(std::unordered_set<std::string>&& ids, int64_t last_block) {
    if (last_block < 0) return;
    if (last_block != audit_posted_block_) {
      audit_posted_.clear();  // rows of older blocks are never written again
      audit_posted_block_ = last_block;
    }
    if (audit_posted_.empty()) {
      audit_posted_.swap(ids);
    } else {
      audit_posted_.merge(ids);
    }
  }
  void PublishParams(const std::unordered_map<std::string, int64_t>& p) {
    std::lock_guard<std::mutex> l(params_mu_);
    for (const auto& [k, v] : p) params_[k] = v;
  }
  int64_t last_seq() const { return last_seq_; }
  void set_last_seq(int64_t s) { last_seq_ = s; }
  int64_t last_rid() const { return last_rid_; }
  void set_last_rid(int64_t r) { last_rid_ = r; }

 private:
  friend class SqliteTransaction;

  struct ReaderLease {
    explicit ReaderLease(SqliteStore* s) : store(s) {
      std::unique_lock<std::mutex> l(s->readers_mu_);
      s->readers_cv_.wait(l, [&] { return !s->free_readers_.empty(); });
      conn = s->free_readers_.back();
      s->free_readers_.pop_back();
    }
    ~ReaderLease() {
      {
        std::lock_guard<std::mutex> l(store->readers_mu_);
        store->free_readers_.push_back(conn);
      }
      store->readers_cv_.notify_one();
    }
    SqliteStore* store;
    Conn* conn;
  };

  Status Migrate() {
    ASSIGN_OR_RETURN(auto s, writer_->Prepare("PRAGMA user_version"));
    ASSIGN_OR_RETURN(bool row, s->Step());
    (void)row;
    int64_t current = s->Int(0);
    s.reset();
    const auto& migrations = sqlite::Migrations();
    if (current > static_cast<int64_t>(migrations.size())) {
      return Status(Code::kNotSupported, "database schema version " + std::to_string(current) +
                                             " is newer than this benhan (" +
                                             std::to_string(migrations.size()) + ")");
    }
    for (size_t i = static_cast<size_t>(current); i < migrations.size(); ++i) {
      RETURN_IF_ERROR(writer_->Exec("BEGIN IMMEDIATE"));
      Status st = writer_->Exec(migrations[i].sql);
      if (st.ok()) st = writer_->Exec("PRAGMA user_version = " + std::to_string(i + 1));
      if (!st.ok()) {
        (void)writer_->Exec("ROLLBACK");
        return Status(Code::kInternal,
                      std::string("migration ") + migrations[i].name + " failed: " + st.message());
      }
      RETURN_IF_ERROR(writer_->Exec("COMMIT"));
    }
    return Status::Ok();
  }

  SqliteOptions opts_;
  sqlite::JsonCodec codec_;  // before the connections: their text_match function uses it
  std::mutex write_mu_;
  int64_t next_dict_at_ = -1;  // guarded by write_mu_: versions at which to train (-1: never)
  bool training_ = false;      // guarded by write_mu_
  std::thread trainer_;        // guarded by write_mu_
  std::unique_ptr<Conn> writer_;
  int64_t last_seq_ = 0;                          // guarded by write_mu_
  int64_t kv_writes_ = 0;                         // guarded by write_mu_
  int64_t last_rid_ = 0;                          // guarded by write_mu_
  std::unordered_set<std::string> audit_posted_;  // guarded by write_mu_ (AuditPosted)
  int64_t audit_posted_block_ = -1;               // guarded by write_mu_
  std::mutex readers_mu_;
  std::condition_variable readers_cv_;
  std::vector<std::unique_ptr<Conn>> readers_;
  std::vector<Conn*> free_readers_;
  std::mutex params_mu_;
  std::unordered_map<std::string, int64_t> params_;  // key: ParamKey(type, code)
  std::unique_ptr<Conn> checkpointer_;
  std::thread checkpoint_thread_;
  std::mutex ckpt_mu_;
  std::condition_variable ckpt_cv_;
  bool ckpt_wanted_ = false;  // guarded by ckpt_mu_
  bool ckpt_stop_ = false;    // guarded by ckpt_mu_
  // Durability of commits (EndWrite, WaitDurable).
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  uint64_t committed_ticket_ = 0;  // guarded by sync_mu_: commits made (visible)
  uint64_t durable_ticket_ = 0;    // guarded by sync_mu_: commits synced
  bool syncing_ = false;           // guarded by sync_mu_
  Status sync_error_;              // guarded by sync_mu_
  std::string wal_path_;           // set by Init
  int wal_fd_ = -1;                // used by the syncing thread only (and the destructor)
};

SqliteTransaction::~SqliteTransaction() {
  if (!done_) {
    (void)conn_->Exec("ROLLBACK");
    (void)store_->EndWrite(false);
  }
}

Result<std::optional<CurrentInfo>> SqliteTransaction::LockCurrent(const std::string& type,
                                                                  const std::string& id) {
  std::string key = type + "/" + id;
  if (auto it = known_.find(key); it != known_.end()) {
    if (it->second.rid < 0) return std::optional<CurrentInfo>();
    return std::optional<CurrentInfo>(CurrentInfo{it->second.version, it->second.deleted});
  }
  ASSIGN_OR_RETURN(
      auto s,
      conn_->Prepare("SELECT rid, version, deleted FROM resource WHERE rtype = ? AND id = ?"));
  s->Bind(1, type).Bind(2, id);
  ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) {
    known_[key] = Known{-1, 0, false};
    return std::optional<CurrentInfo>();
  }
  Known k{s->Int(0), s->Int(1), s->Int(2) != 0};
  known_[key] = k;
  return std::optional<CurrentInfo>(CurrentInfo{k.version, k.deleted});
}

Result<VersionRecord> SqliteTransaction::Read(const std::string& type, const std::string& id) {
  return store_->ReadWith(conn_, type, id);
}

Result<int64_t> SqliteTransaction::ParamId(const std::string& type, const std::string& code) {
  int64_t pid = store_->LookupParam(type, code);
  if (pid >= 0) return pid;
  const std::string& key = ParamKey(type, code);
  auto it = new_params_.find(key);
  if (it != new_params_.end()) return it->second;
  std::string owned_key = key;
  ASSIGN_OR_RETURN(auto s, conn_->Prepare("INSERT INTO search_param (rtype, code) VALUES (?, ?)"));
  s->Bind(1, type).Bind(2, code);
  RETURN_IF_ERROR(s->Run());
  pid = sqlite3_last_insert_rowid(conn_->db());
  if (in_savepoint_) params_since_savepoint_.push_back(owned_key);
  new_params_[owned_key] = pid;
  return pid;
}

Status SqliteTransaction::DeleteIndex(int64_t rid, std::string_view keys) {
  RETURN_IF_ERROR(FlushIndex());  // the rows to delete may still be queued
  KeyReader r(keys);
  while (!r.done() && r.ok()) {
    char tag = r.Tag();
    int64_t pid = r.Pid();
    std::unique_ptr<Stmt> s;
    switch (tag) {
      case kString: {
        ASSIGN_OR_RETURN(
            s,
            conn_->Prepare(
                "DELETE FROM idx_string WHERE pid = ? AND folded = ? AND exact = ? AND rid = ?"));
        std::string_view a = r.Str(), b = r.Str();
        s->Bind(1, pid).Bind(2, a).Bind(3, b).Bind(4, rid);
        RETURN_IF_ERROR(s->Run());
        break;
      }
      case kToken: {
        ASSIGN_OR_RETURN(s, conn_->Prepare("DELETE FROM idx_token WHERE pid = ? AND code = ? AND "
                                           "system = ? AND rid = ?"));
        std::string_view a = r.Str(), b = r.Str();
        s->Bind(1, pid).Bind(2, a).Bind(3, b).Bind(4, rid);
        RETURN_IF_ERROR(s->Run());
        break;
      }
      case kRef: {
        ASSIGN_OR_RETURN(s, conn_->Prepare("DELETE FROM idx_reference WHERE pid = ? AND target_id "
                                           "= ? AND target_type = ? AND url = ? AND rid = ?"));
        std::string_view a = r.Str(), b = r.Str(), c = r.Str();
        s->Bind(1, pid).Bind(2, a).Bind(3, b).Bind(4, c).Bind(5, rid);
        RETURN_IF_ERROR(s->Run());
        break;
      }
      case kDate: {
        ASSIGN_OR_RETURN(
            s, conn_->Prepare(
                   "DELETE FROM idx_date WHERE pid = ? AND low = ? AND high = ? AND rid = ?"));
        int64_t lo = r.Int(), hi = r.Int();
        s->Bind(1, pid).Bind(2, lo).Bind(3, hi).Bind(4, rid);
        RETURN_IF_ERROR(s->Run());
        break;
      }
      case kNumber: {
        ASSIGN_OR_RETURN(
            s, conn_->Prepare("DELETE FROM idx_number WHERE pid = ? AND value = ? AND rid = ?"));
        double v = r.Real();
        s->Bind(1, pid).Bind(2, v).Bind(3, rid);
        RETURN_IF_ERROR(s->Run());
        break;
      }
      case kQuantity: {
        ASSIGN_OR_RETURN(s, conn_->Prepare("DELETE FROM idx_quantity WHERE pid = ? AND unit_key = "
                                           "? AND canonical = ? AND system = ? AND rid = ?"));
        std::string_view a = r.Str();
        double v = r.Real();
        std::string_view b = r.Str();
        s->Bind(1, pid).Bind(2, a).Bind(3, v).Bind(4, b).Bind(5, rid);
        RETURN_IF_ERROR(s->Run());
        break;
      }
      case kUri: {
        ASSIGN_OR_RETURN(
            s, conn_->Prepare("DELETE FROM idx_uri WHERE pid = ? AND uri = ? AND rid = ?"));
        std::string_view a = r.Str();
        s->Bind(1, pid).Bind(2, a).Bind(3, rid);
        RETURN_IF_ERROR(s->Run());
        break;
      }
      default:
        return Status(Code::kInternal, "corrupt index_keys of resource " + std::to_string(rid));
    }
  }
  if (!r.ok())
    return Status(Code::kInternal, "corrupt index_keys of resource " + std::to_string(rid));
  return Status::Ok();
}

Result<std::string> SqliteTransaction::WriteIndex(int64_t rid, const std::string& type,
                                                  const fhir::IndexEntries& ix) {
  std::string keys;
  KeyWriter w(&keys);
  PendingIndex& q = pending_;
  for (const auto& e : ix.strings) {
    ASSIGN_OR_RETURN(int64_t pid, ParamId(type, e.param));
    q.Row(kStringNo).I(pid).S(e.folded).S(e.exact).I(rid);
    w.Tag(kString, pid).Str(e.folded).Str(e.exact);
  }
  for (const auto& e : ix.tokens) {
    ASSIGN_OR_RETURN(int64_t pid, ParamId(type, e.param));
    q.Row(kTokenNo).I(pid).S(e.code).S(e.system).S(e.text).I(rid);
    w.Tag(kToken, pid).Str(e.code).Str(e.system);
  }
  for (const auto& e : ix.references) {
    ASSIGN_OR_RETURN(int64_t pid, ParamId(type, e.param));
    q.Row(kRefNo).I(pid).S(e.target_id).S(e.target_type).S(e.url).I(rid);
    w.Tag(kRef, pid).Str(e.target_id).Str(e.target_type).Str(e.url);
  }
  for (const auto& e : ix.dates) {
    ASSIGN_OR_RETURN(int64_t pid, ParamId(type, e.param));
    q.Row(kDateNo).I(pid).I(e.low).I(e.high).I(rid);
    w.Tag(kDate, pid).Int(e.low).Int(e.high);
  }
  for (const auto& e : ix.numbers) {
    ASSIGN_OR_RETURN(int64_t pid, ParamId(type, e.param));
    q.Row(kNumberNo).I(pid).D(e.value).I(rid);
    w.Tag(kNumber, pid).Real(e.value);
  }
  for (const auto& e : ix.quantities) {
    ASSIGN_OR_RETURN(int64_t pid, ParamId(type, e.param));
    q.Row(kQuantityNo).I(pid).S(e.unit_key).D(e.canonical).S(e.system).I(rid);
    q.D(e.value).S(e.code).S(e.unit);
    w.Tag(kQuantity, pid).Str(e.unit_key).Real(e.canonical).Str(e.system);
  }
  for (const auto& e : ix.uris) {
    ASSIGN_OR_RETURN(int64_t pid, ParamId(type, e.param));
    q.Row(kUriNo).I(pid).S(e.uri).I(rid);
    w.Tag(kUri, pid).Str(e.uri);
  }
  if (q.large()) RETURN_IF_ERROR(FlushIndex());
  return keys;
}

Result<int64_t> SqliteTransaction::Put(const NewVersion& v) {
  ASSIGN_OR_RETURN(std::optional<CurrentInfo> cur, LockCurrent(v.type, v.id));
  int64_t expected = cur ? cur->version + 1 : 1;
  if (v.version != expected) {
    return Status(Code::kPreconditionFailed,
                  v.type + "/" + v.id + ": version " + std::to_string(v.version) +
                      " is not the next version (" + std::to_string(expected) + ")");
  }
  if (next_seq_ == 0) next_seq_ = store_->last_seq() + 1;
  int64_t seq = next_seq_++;
  Known& k = known_[v.type + "/" + v.id];
  std::string keys;
  if (!cur) {
    // A new resource: rids are assigned here (one writer), so the index rows and their keys are
    // written first and the resource row is inserted once, complete.
    if (next_rid_ == 0) next_rid_ = store_->last_rid() + 1;
    k.rid = next_rid_++;
    if (!v.deleted && v.index != nullptr) {
      ASSIGN_OR_RETURN(keys, WriteIndex(k.rid, v.type, *v.index));
    }
    ASSIGN_OR_RETURN(
        auto s,
        conn_->Prepare(
            "INSERT INTO resource (rid, rtype, id, version, seq, last_updated, deleted, index_keys)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
    s->Bind(1, k.rid)
        .Bind(2, v.type)
        .Bind(3, v.id)
        .Bind(4, v.version)
        .Bind(5, seq)
        .Bind(6, v.last_updated_us);
    s->Bind(7, int64_t{v.deleted}).BindBlob(8, keys);
    RETURN_IF_ERROR(s->Run());
  } else {
    {
      ASSIGN_OR_RETURN(auto s, conn_->Prepare("SELECT index_keys FROM resource WHERE rid = ?"));
      s->Bind(1, k.rid);
      ASSIGN_OR_RETURN(bool row, s->Step());
      if (row) {
        std::string old_keys = s->Text(0);
        s.reset();
        RETURN_IF_ERROR(DeleteIndex(k.rid, old_keys));
      }
    }
    if (!v.deleted && v.index != nullptr) {
      ASSIGN_OR_RETURN(keys, WriteIndex(k.rid, v.type, *v.index));
    }
    ASSIGN_OR_RETURN(auto s,
                     conn_->Prepare("UPDATE resource SET version = ?, seq = ?, last_updated = ?, "
                                    "deleted = ?, index_keys = ? WHERE rid = ?"));
    s->Bind(1, v.version)
        .Bind(2, seq)
        .Bind(3, v.last_updated_us)
        .Bind(4, int64_t{v.deleted})
        .BindBlob(5, keys)
        .Bind(6, k.rid);
    RETURN_IF_ERROR(s->Run());
  }
  k.version = v.version;
  k.deleted = v.deleted;
  {
    ASSIGN_OR_RETURN(
        auto s, conn_->Prepare("INSERT INTO resource_version (seq, rid, version, last_updated, "
                               "method, deleted, json) VALUES (?, ?, ?, ?, ?, ?, ?)"));
    s->Bind(1, seq).Bind(2, k.rid).Bind(3, v.version).Bind(4, v.last_updated_us).Bind(5, v.method);
    store_->codec().Encode(v.json, &stored_json_);
    s->Bind(6, int64_t{v.deleted}).BindBlob(7, stored_json_);
    RETURN_IF_ERROR(s->Run());
  }
  return seq;
}

Result<std::vector<std::string>> SqliteTransaction::FindIds(const std::string& type,
                                                            const Query& query, int limit) {
  // Runs on the writer connection so it sees this transaction's own writes.
  RETURN_IF_ERROR(FlushIndex());
  auto pid = [&](const std::string& t, const std::string& code) -> int64_t {
    int64_t p = store_->LookupParam(t, code);
    if (p >= 0) return p;
    auto it = new_params_.find(ParamKey(t, code));
    return it == new_params_.end() ? -1 : it->second;
  };
  ASSIGN_OR_RETURN(CompiledQuery cq, CompileQuery(query, type, SqliteDialect(), pid));
  ASSIGN_OR_RETURN(
      auto s,
      conn_->Prepare("SELECT r.id FROM resource r WHERE r.rtype = ? AND r.deleted = 0 AND " +
                     cq.where + " LIMIT ?"));
  int i = 1;
  s->Bind(i++, type);
  for (const auto& a : cq.args) s->BindArg(i++, a);
  s->Bind(i++, static_cast<int64_t>(limit));
  std::vector<std::string> ids;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    ids.push_back(s->Text(0));
  }
  return ids;
}

Status SqliteTransaction::Audit(const AuditRecord& r) {
  audit_.push_back(r);
  return Status::Ok();
}

Status SqliteTransaction::WriteAuditChain() {
  if (audit_.empty()) return Status::Ok();
  // The chain head; this connection holds the only write lock of the database.
  ASSIGN_OR_RETURN(auto h, conn_->Prepare("SELECT aid, hash FROM audit_head WHERE k = 1"));
  ASSIGN_OR_RETURN(bool row, h->Step());
  if (!row) return Status(Code::kInternal, "audit_head row missing");
  int64_t aid = h->Int(0);
  std::string head = h->Text(1);
  h.reset();
  AuditDigest prev;
  bool first = head.empty();  // the first row of the chain links to nothing
  if (!first && !AuditDigestFromHex(head, &prev))
    return Status(Code::kInternal, "audit_head hash is not a SHA-256 hex digest");
  // Chain format 2 (store/audit_chain.h): the digest as 32 bytes, prev_hash and hash left ''.
  // One prepared single-row INSERT (a multi-row VALUES list measured slower: SQLite stages it).
  ASSIGN_OR_RETURN(auto s,
                   conn_->Prepare("INSERT INTO audit_event (aid, time, principal, action, rtype, "
                                  "id, version, status, remote, detail, patient, flags, digest) "
                                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  // The row's search keys, once per block (migration 005): a key already posted in this block,
  // by this transaction or a committed one, is skipped; INSERT OR IGNORE covers the rest.
  ASSIGN_OR_RETURN(auto ps, conn_->Prepare("INSERT OR IGNORE INTO audit_posting (kind, key, block) "
                                           "VALUES (?, ?, ?)"));
  std::string pid;
  auto post = [&](char kind, const std::string& key, int64_t block) -> Status {
    if (key.empty()) return Status::Ok();
    PostingId(block, kind, key, &pid);
    if (store_->AuditPosted(pid) || !posted_.insert(pid).second) return Status::Ok();
    ps->Bind(1, static_cast<int64_t>(kind)).Bind(2, key).Bind(3, block);
    RETURN_IF_ERROR(ps->Run());
    ps->ResetKeepingBindings();
    return Status::Ok();
  };
  AuditDigest d;
  std::string blob(d.size(), '\0');  // bound SQLITE_STATIC: lives until the row is written
  for (const AuditRecord& r : audit_) {
    ++aid;
    const int64_t block = aid >> kAuditBlockShift;
    RETURN_IF_ERROR(post(kPostPatient, r.patient, block));
    RETURN_IF_ERROR(post(kPostPrincipal, r.principal, block));
    RETURN_IF_ERROR(post(kPostEntity, r.id, block));
    posted_block_ = block;
    AuditRowDigest(aid, r, first ? nullptr : &prev, &d);
    std::memcpy(blob.data(), d.data(), d.size());
    s->Bind(1, aid).Bind(2, r.time_us).Bind(3, r.principal).Bind(4, r.action).Bind(5, r.type);
    s->Bind(6, r.id).Bind(7, r.version).Bind(8, static_cast<int64_t>(r.status)).Bind(9, r.remote);
    s->Bind(10, r.detail).Bind(11, r.patient).Bind(12, r.flags).BindBlob(13, blob);
    RETURN_IF_ERROR(s->Run());
    s->ResetKeepingBindings();
    prev = d;
    first = false;
  }
  s.reset();
  ASSIGN_OR_RETURN(auto u, conn_->Prepare("UPDATE audit_head SET aid = ?, hash = ? WHERE k = 1"));
  std::string head_hash = AuditDigestHex(prev);  // bound SQLITE_STATIC: must outlive Run()
  u->Bind(1, aid).Bind(2, head_hash);
  RETURN_IF_ERROR(u->Run());
  // audit_ is kept (TakeAudit hands the records back to its caller).
  audit_mark_ = 0;
  return Status::Ok();
}

Status SqliteTransaction::Savepoint() {
  // Queued rows belong to earlier units: inserted before the savepoint, so that a rollback to it
  // drops exactly the queue of this unit.
  RETURN_IF_ERROR(FlushIndex());
  audit_mark_ = audit_.size();
  params_since_savepoint_.clear();
  in_savepoint_ = true;
  return conn_->Exec("SAVEPOINT unit");
}

Status SqliteTransaction::ReleaseSavepoint() {
  in_savepoint_ = false;
  params_since_savepoint_.clear();
  return conn_->Exec("RELEASE unit");
}

Status SqliteTransaction::RollbackToSavepoint() {
  in_savepoint_ = false;
  // Undo this transaction's caches of what the savepoint wrote.
  for (const auto& k : params_since_savepoint_) new_params_.erase(k);
  params_since_savepoint_.clear();
  known_.clear();
  audit_.resize(audit_mark_);
  pending_.Clear();  // this unit's rows not inserted yet
  RETURN_IF_ERROR(conn_->Exec("ROLLBACK TO unit"));
  return conn_->Exec("RELEASE unit");
}

Status SqliteTransaction::Commit() {
  uint64_t ticket = 0;
  RETURN_IF_ERROR(CommitVisible(&ticket));
  return store_->WaitDurable(ticket);
}

Status SqliteTransaction::CommitVisible(uint64_t* durable_ticket) {
  *durable_ticket = 0;
  Status st = FlushIndex();
  if (st.ok()) st = WriteAuditChain();
  if (st.ok()) st = conn_->Exec("COMMIT");
  if (!st.ok()) {
    (void)conn_->Exec("ROLLBACK");
    (void)store_->EndWrite(false);
    done_ = true;
    return st;
  }
  done_ = true;
  store_->PublishParams(new_params_);
  store_->PublishAuditPosted(std::move(posted_), posted_block_);
  if (next_seq_ > 0) store_->set_last_seq(next_seq_ - 1);
  if (next_rid_ > 0) store_->set_last_rid(next_rid_ - 1);
  if (next_seq_ > 0) store_->MaybeTrainDictionary(next_seq_ - 1);
  *durable_ticket = store_->EndWrite(true);
  lock_.unlock();  // the next writer may start while this commit syncs
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options) {
  // Process-wide, before SQLite initialises: no memory-usage accounting (a global mutex taken on
  // every SQLite allocation; benhan does not use sqlite3_memory_used).
  static const int configured = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return sqlite3_initialize();
  }();
  (void)configured;
  auto s = std::make_unique<SqliteStore>(options);
  RETURN_IF_ERROR(s->Init());
  return std::unique_ptr<Store>(std::move(s));
}

int SqliteSchemaVersion() { return static_cast<int>(sqlite::Migrations().size()); }

}  // namespace benhan::store
