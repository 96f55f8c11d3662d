// Store: benhan's storage interface, shaped by FHIR rather than SQL. The embedded SQLite backend
// (sqlite/) implements it today; PostgreSQL implements the same interface.
//
// Model: every write creates a new version of a resource (create = version 1; update and delete =
// next version; delete writes a tombstone, nothing is physically removed). One write Transaction
// stores, in one database commit: the version row, the resource's current pointer, its search-index
// rows and the audit rows. The version's global sequence number (`seq`) is the change feed that the
// exchange layer's outbox reads.
//
// Ownership: Store is owned by the caller (std::unique_ptr). A Transaction borrows its Store and
// must not outlive it. Thread-safety: Store methods are safe from any thread; a Transaction is used
// by one thread at a time. Write transactions are serialized by the backend. Errors: kNotFound
// (never existed), kGone (read of a deleted resource: the tombstone is returned in the status-free
// path only via ReadAny), kPreconditionFailed (version mismatch), kConflict (retry the
// transaction), kUnavailable (database unavailable), kInternal (corruption / bug).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "fhir/index_entries.h"
#include "store/query.h"

namespace benhan::store {

struct VersionRecord {
  std::string type;
  std::string id;
  int64_t version = 0;
  int64_t seq = 0;              // global change sequence
  int64_t last_updated_us = 0;  // epoch microseconds, UTC
  bool deleted = false;
  std::string method;  // "POST", "PUT", "PATCH", "DELETE"
  std::string json;    // the full resource with id and meta; empty for tombstones
};

// A new version to store. The caller has already placed id, meta.versionId and meta.lastUpdated
// into `json`, using the version number that LockCurrent() reported + 1.
struct NewVersion {
  std::string type;
  std::string id;
  int64_t version = 1;
  int64_t last_updated_us = 0;
  bool deleted = false;
  std::string method;
  std::string json;
  const fhir::IndexEntries* index = nullptr;  // search-index rows (not owned); null for tombstones
};

// Current state of a resource id, read under the write lock.
struct CurrentInfo {
  int64_t version = 0;
  bool deleted = false;
};

// One audit row: who did what to which record. Patient data reads and writes are all audited.
struct AuditRecord {
  int64_t time_us = 0;
  std::string principal;  // token/user id, "demo" in demo mode
  std::string
      action;  // "create", "read", "vread", "update", "delete", "search", "history", "patch", ...
  std::string type;
  std::string id;
  int64_t version = 0;
  int status = 0;       // HTTP status of the outcome
  std::string remote;   // client address
  std::string detail;   // query string or error message
  std::string patient;  // the Patient id the record concerns ("" if none): "who viewed patient X"
  std::string flags;    // "btg": break-the-glass access, flagged for review; "" otherwise
};

// The audit trail is a hash chain (store/audit_chain.h): each stored row carries its number
// (`aid`, 1, 2, 3... with no gaps) and its own hash, computed over its content and the hash of the
// row before it (format 1 rows, schema version 3, also stored that previous hash). Rows are
// append-only (the databases refuse UPDATE and DELETE); the chain head (last aid and hash) is a
// row of its own, locked by every appender, so concurrent appenders (threads, PostgreSQL nodes)
// chain in commit order.
struct AuditRow {
  int64_t aid = 0;
  AuditRecord rec;
  int format = 2;         // chain format (store/audit_chain.h): 1 for rows of schema version 3
  std::string hash;       // this row's hash, lowercase hex (format 2: of its 32-byte digest)
  std::string prev_hash;  // hash of row aid-1, hex ("" for the first chained row): as stored by
                          // format 1 rows; for format 2 rows set by SearchAudit only (ScanAudit:
                          // "", the verifier takes it from the row before)
};
struct AuditHead {
  int64_t aid = 0;           // last row chained (0: none)
  std::string hash;          // its hash (hex)
  int64_t genesis_aid = 0;   // rows up to this one predate the chain (schema before version 3)
  int64_t v2_after_aid = 0;  // rows after this one are format 2 (written since schema version 4)
};
// A signed anchor of the chain: "row `aid` has hash `hash`", signed with the server's Ed25519 key
// (security/audit_trail.h).
struct AuditCheckpoint {
  int64_t cid = 0;
  int64_t aid = 0;
  std::string hash;
  int64_t time_us = 0;
  std::string key_id;     // SHA-256 of the public key, hex
  std::string signature;  // base64
};
// A search of the audit trail (FHIR AuditEvent search). Empty fields do not filter.
struct AuditQuery {
  std::string patient;    // patient id
  std::string principal;  // agent
  std::string type;       // entity type
  std::string id;         // entity id (with type)
  std::string action;
  std::string flags;
  int64_t since_us = 0;    // time >= since (0: none)
  int64_t until_us = 0;    // time < until (0: none)
  int64_t aid = 0;         // one row
  int64_t before_aid = 0;  // paging: rows with aid < before_aid (0: from the newest)
  int count = 50;
};

// One row of the small key-value table of security/ (Store::Kv*).
struct KvEntry {
  std::string key;
  std::string value;
  int64_t expires_us = 0;  // epoch microseconds; 0 = never
};

struct HistoryQuery {
  std::string type;                        // empty: system history
  std::string id;                          // empty: type or system history
  std::optional<int64_t> since_us;         // _since
  std::optional<int64_t> at_or_before_us;  // _at upper bound
  int count = 50;
  int64_t before_seq = 0;  // paging cursor: entries with seq < before_seq (0 = from newest)
};

struct HistoryPage {
  std::vector<VersionRecord> entries;  // newest first
  int64_t total = 0;
  int64_t next_before_seq = 0;  // 0 if no more
};

struct SearchResult {
  std::vector<VersionRecord> matches;
  std::optional<int64_t> total;  // when requested
  bool has_more = false;
  int64_t last_key = 0;  // keyset cursor of the last match (Query::after_key of the next page)
};

class Transaction {
 public:
  virtual ~Transaction() = default;
  // The current version of type/id, or nullopt if it never existed. In a write transaction this
  // holds the write lock on the resource until Commit/rollback.
  virtual Result<std::optional<CurrentInfo>> LockCurrent(const std::string& type,
                                                         const std::string& id) = 0;
  // Declares that type/id cannot exist yet (an id this server just generated, a random UUID), so
  // the next LockCurrent/Put need not look it up.
  virtual void AssumeNew(const std::string& type, const std::string& id) = 0;
  // Reads the current version (tombstones too: check `deleted`). kNotFound if never existed.
  virtual Result<VersionRecord> Read(const std::string& type, const std::string& id) = 0;
  // Stores a new version. kPreconditionFailed if v.version is not current+1. Returns seq.
  virtual Result<int64_t> Put(const NewVersion& v) = 0;
  // Ids of current, non-deleted resources of `type` matching `query` (conditional operations).
  virtual Result<std::vector<std::string>> FindIds(const std::string& type, const Query& query,
                                                   int limit) = 0;
  virtual Status Audit(const AuditRecord& rec) = 0;
  // A nested atomic section (SQL SAVEPOINT): after Savepoint(), ReleaseSavepoint() keeps the
  // section's writes and RollbackToSavepoint() undoes them while the transaction stays usable.
  // Used by GroupCommitter to run many units of work in one commit. Not nestable.
  virtual Status Savepoint() = 0;
  virtual Status ReleaseSavepoint() = 0;
  virtual Status RollbackToSavepoint() = 0;
  // Makes every write durable (synchronous commit). After an error the transaction is rolled back.
  virtual Status Commit() = 0;
  // Commit in two steps: commits (the writes are visible to readers and the write lock is free for
  // the next transaction) and sets `*durable_ticket`; Store::WaitDurable(ticket) then returns once
  // the writes are on disk, so the caller must not report the write as done before that (an
  // HL7 ACK, an HTTP response). The SQLite store syncs its log once for all the commits made
  // before the sync began; the default (PostgreSQL) commits synchronously and returns ticket 0.
  virtual Status CommitVisible(uint64_t* durable_ticket) {
    *durable_ticket = 0;
    return Commit();
  }
  // Destroying an uncommitted transaction rolls it back.
};

class Store {
 public:
  virtual ~Store() = default;
  virtual std::string_view backend_name() const = 0;
  // Starts a write transaction (serialized with other writers). kUnavailable if the database is
  // gone.
  virtual Result<std::unique_ptr<Transaction>> BeginWrite() = 0;
  // Read paths, served without the write lock (snapshot reads).
  virtual Result<VersionRecord> Read(const std::string& type, const std::string& id) = 0;
  virtual Result<VersionRecord> VRead(const std::string& type, const std::string& id,
                                      int64_t version) = 0;
  virtual Result<HistoryPage> History(const HistoryQuery& q) = 0;
  // Resources of `type` matching `query`; with an empty `type`, a system search over query.types
  // (every type if empty).
  virtual Result<SearchResult> Search(const std::string& type, const Query& query) = 0;
  // Returns once the commit that returned `ticket` (Transaction::CommitVisible) is durable; 0:
  // nothing to wait for. kUnavailable if the sync failed (then no later commit is durable either).
  virtual Status WaitDurable(uint64_t ticket) {
    (void)ticket;
    return Status::Ok();
  }
  // Returns once every commit made so far is durable: before acknowledging something read back
  // from the store that a commit still syncing may have written (an HL7 duplicate's outcome).
  virtual Status Flush() { return Status::Ok(); }
  // Appends audit rows of reads (batched by the caller); writes audit inside their Transaction.
  virtual Status AppendAudit(const std::vector<AuditRecord>& recs) = 0;
  // The same, but the store may take the records instead of copying them: on success `recs` keeps
  // its size and holds valid records of unspecified content (the caller reuses their storage:
  // service/audit_log.h), on failure it still holds every record unchanged (for a retry).
  virtual Status TakeAudit(std::vector<AuditRecord>& recs) { return AppendAudit(recs); }
  // Number of current non-deleted resources per type (for /metadata and tests).
  virtual Result<std::vector<std::pair<std::string, int64_t>>> CountByType() = 0;

  // The audit trail (hash chain, see AuditRow). Rows with aid > after_aid in aid order, at most
  // `limit`.
  virtual Result<std::vector<AuditRow>> ScanAudit(int64_t after_aid, int limit) = 0;
  virtual Result<AuditHead> ReadAuditHead() = 0;
  // Matching rows, newest first. A patient, principal or entity id is looked up by index
  // (PostgreSQL) or by its postings per block of rows (SQLite); other filters are applied to the
  // rows found.
  virtual Result<std::vector<AuditRow>> SearchAudit(const AuditQuery& q) = 0;
  // The first row, up to `last_aid`, that a search on its patient, principal or entity id would
  // not find because the search structure lacks it (SQLite: its posting, deleted by hand); 0 if
  // none. Backends whose search indexes are maintained by the database answer 0.
  virtual Result<int64_t> FirstAuditRowUnsearchable(int64_t last_aid) {
    (void)last_aid;
    return int64_t{0};
  }
  // Signed checkpoints (append-only), and all of them in order.
  virtual Status AppendAuditCheckpoint(const AuditCheckpoint& cp) = 0;
  virtual Result<std::vector<AuditCheckpoint>> ListAuditCheckpoints() = 0;

  // A small key-value table outside FHIR for security/: user accounts, OAuth2 clients,
  // authorization codes, access and refresh tokens (by hash), login sessions. Kept in the store so
  // that every server of a PostgreSQL cluster shares it (a revoked token is refused everywhere at
  // once). `ns` is a namespace ("user", "client", "token"...). Rows whose expires_us has passed
  // are invisible and are purged by later writes. Each call commits on its own (durable).
  // The value of ns/key, or nullopt if absent or expired.
  virtual Result<std::optional<std::string>> KvGet(const std::string& ns,
                                                   const std::string& key) = 0;
  // Inserts or replaces ns/key.
  virtual Status KvPut(const std::string& ns, const std::string& key, const std::string& value,
                       int64_t expires_us = 0) = 0;
  // Removes ns/key and returns the value it had (nullopt if absent or expired). Atomic: of two
  // concurrent callers only one gets the value (one-time authorization codes, refresh rotation).
  virtual Result<std::optional<std::string>> KvTake(const std::string& ns,
                                                    const std::string& key) = 0;
  // Unexpired rows of `ns`, by key.
  virtual Result<std::vector<KvEntry>> KvList(const std::string& ns) = 0;
};

// Runs `work` in a write transaction and commits it; retries kConflict/kUnavailable (busy database,
// serialization failure) up to `attempts` times with jittered exponential back-off.
Status RunInTransaction(Store& store, const std::function<Status(Transaction&)>& work,
                        int attempts = 5);

// Group commit: units of work submitted concurrently share one database transaction and one
// synchronous commit (one fsync; with SQLite the sync runs after the write lock is released, while
// the next group works, and may cover several groups); a failing unit is undone alone (see below)
// and the others still commit. The first caller to arrive leads: it runs everyone's work in arrival
// order and commits; the others wait for their result. Units that arrive while the group is being
// written join it before the commit (up to max_group units): they would otherwise wait for this
// commit and then their own. With one caller at a time this is RunInTransaction. Throughput rises
// with concurrency because commits (WAL writes, fsync) and per-commit page writes are shared.
//
// Thread-safety: Run() is thread-safe. Work functions run on the leader's thread, one at a time,
// and may be run again (from the start) if the shared commit fails with a retryable error or if
// another unit of the group fails: the group first runs without savepoints (they cost a copy of
// every page written) and, only when a unit fails, again with one savepoint per unit.
class GroupCommitter {
 public:
  explicit GroupCommitter(Store& store, size_t max_group = 64);
  ~GroupCommitter();
  Status Run(const std::function<Status(Transaction&)>& work);

  // Batching for bulk loads: a leader that finds fewer than `min_group` units queued (counting the
  // units of earlier groups still waiting for their sync: their callers cannot bring more) waits
  // (up to `max_wait`) for more before it begins, so that more units share a commit. Every commit
  // writes each page it dirtied whole, and a Bundle dirties pages all over the index b-trees:
  // fewer, larger commits write far fewer bytes per resource. The default (1) never waits, as a
  // server must not; the importer, which knows how many of its threads are still producing work,
  // sets it and lowers it as they finish (calls may come from any thread and wake a waiting
  // leader). While batching (min_group > 1), a leader that finds an earlier group's sync in
  // progress also keeps gathering until that sync ends (or max_group units are queued): its own
  // sync could not begin sooner, and the group grows meanwhile. With min_group 1 the next group
  // commits while the previous one syncs.
  void SetMinGroup(size_t min_group, std::chrono::milliseconds max_wait);

 private:
  struct Item;
  Store& store_;
  size_t max_group_;
  std::mutex mu_;
  std::condition_variable cv_;         // followers: their unit is done
  std::condition_variable linger_cv_;  // a waiting leader: a unit arrived or min_group_ fell
  std::deque<Item*> queue_;
  bool leading_ = false;
  size_t min_group_ = 1;      // guarded by mu_
  size_t syncing_units_ = 0;  // guarded by mu_: units committed, waiting for WaitDurable
  std::chrono::milliseconds max_wait_{0};  // guarded by mu_
};

}  // namespace benhan::store
