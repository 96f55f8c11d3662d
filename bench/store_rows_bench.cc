// SQLite alone writing exactly benhan's rows, with the write strategies the store could use: the
// ceiling of each idea for the import's serialized part (docs/benchmarks.md, "Index rows in
// multi-row INSERTs").
//
// usage: store_rows_bench SRC_DB DST_DB [key=value...]
//   SRC_DB: a data dir's benhan.db after `benhan import` (read untimed: every resource, version,
//   index row and audit row). Timed: DST_DB is created with SRC_DB's schema (WAL, cache 64 MiB,
//   wal_autocheckpoint 0 as benhan) and the rows are written resource by resource in rid order,
//   `batch` resources per transaction.
//   batch=N      resources per commit (default 2000, about one import group)
//   multi=N      index rows per INSERT statement (default 1: one statement per row)
//   defer=1      queue a batch's index rows and insert them at its end (what the store does)
//   sort=1       and sort them by key per table first (implies defer)
//   multiver=1   versions also queued, `multi` rows per statement; multires=1 resources too
//   norid=1      without idx_reference_rid and idx_date_rid; notype=1 without resource_type
//   keys=0       empty resource.index_keys; audit=0 no audit rows; only_idx=1 index rows only
//   ignore=0     INSERT instead of INSERT OR IGNORE; sync=OFF|NORMAL|FULL (default NORMAL,
//                as benhan's commits); page=N page size (default 16384)
// Prints resources, index rows, wall and CPU seconds. Under callgrind only the timed part is
// counted when valgrind's headers are installed (--instr-atstart=no):
//   valgrind --tool=callgrind --instr-atstart=no build/bench/store_rows_bench SRC DST multi=32
//   defer=1
#include <sqlite3.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#endif

struct Val {
  int t;  // SQLITE_INTEGER, FLOAT, TEXT, BLOB
  long long i = 0;
  double d = 0;
  std::string s;
};
using Row = std::vector<Val>;
static bool Less(const Row& a, const Row& b, int nkey) {
  for (int k = 0; k < nkey; ++k) {
    const Val& x = a[k];
    const Val& y = b[k];
    if (x.t == SQLITE_INTEGER) {
      if (x.i != y.i) return x.i < y.i;
    } else if (x.t == SQLITE_FLOAT) {
      if (x.d != y.d) return x.d < y.d;
    } else {
      int c = x.s.compare(y.s);
      if (c) return c < 0;
    }
  }
  return false;
}

struct Table {
  std::string name;
  std::vector<std::string> cols;
  int nkey;     // key columns in insert order (cols are in key order)
  int rid_col;  // column index of rid
  std::map<long long, std::vector<Row>> by_rid;
};

static void Die(sqlite3* db, const char* what) {
  fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
  exit(1);
}
static void Exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    fprintf(stderr, "%s: %s\n", sql.c_str(), err);
    exit(1);
  }
}
static Row ReadRow(sqlite3_stmt* s) {
  Row r;
  int n = sqlite3_column_count(s);
  for (int i = 0; i < n; ++i) {
    Val v;
    v.t = sqlite3_column_type(s, i);
    if (v.t == SQLITE_INTEGER)
      v.i = sqlite3_column_int64(s, i);
    else if (v.t == SQLITE_FLOAT)
      v.d = sqlite3_column_double(s, i);
    else {
      const char* p = (const char*)sqlite3_column_blob(s, i);
      v.s.assign(p ? p : "", sqlite3_column_bytes(s, i));
      if (v.t == SQLITE_NULL) v.t = SQLITE_TEXT;
    }
    r.push_back(std::move(v));
  }
  return r;
}
static void Bind(sqlite3_stmt* s, int i, const Val& v) {
  if (v.t == SQLITE_INTEGER)
    sqlite3_bind_int64(s, i, v.i);
  else if (v.t == SQLITE_FLOAT)
    sqlite3_bind_double(s, i, v.d);
  else if (v.t == SQLITE_BLOB)
    sqlite3_bind_blob(s, i, v.s.data(), v.s.size(), SQLITE_STATIC);
  else
    sqlite3_bind_text(s, i, v.s.data(), v.s.size(), SQLITE_STATIC);
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s SRC_DB DST_DB [key=value...] (see the header)\n", argv[0]);
    return 2;
  }
  std::map<std::string, std::string> o = {{"batch", "2000"},  {"multi", "1"},    {"sort", "0"},
                                          {"defer", "0"},     {"norid", "0"},    {"notype", "0"},
                                          {"sync", "NORMAL"}, {"page", "16384"}, {"keys", "1"},
                                          {"audit", "1"},     {"ignore", "1"}};
  for (int i = 3; i < argc; ++i) {
    std::string a = argv[i];
    auto eq = a.find('=');
    o[a.substr(0, eq)] = a.substr(eq + 1);
  }
  int batch = std::stoi(o["batch"]), multi = std::stoi(o["multi"]);
  bool sort = o["sort"] == "1", defer = o["defer"] == "1" || sort;
  sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  sqlite3_initialize();
  sqlite3* src;
  sqlite3_open_v2(argv[1], &src, SQLITE_OPEN_READONLY, nullptr);
  // Tables: cols in key order (as in benhan's PK), insert order = cols.
  std::vector<Table> tabs = {
      {"idx_string", {"pid", "folded", "exact", "rid"}, 4, 3, {}},
      {"idx_token", {"pid", "code", "system", "rid", "text"}, 4, 3, {}},
      {"idx_reference", {"pid", "target_id", "target_type", "url", "rid"}, 5, 4, {}},
      {"idx_date", {"pid", "low", "high", "rid"}, 4, 3, {}},
      {"idx_quantity",
       {"pid", "unit_key", "canonical", "system", "rid", "value", "code", "unit"},
       5,
       4,
       {}},
  };
  size_t nidx = tabs.size();
  for (auto& t : tabs) {
    std::string sql = "SELECT ";
    for (size_t i = 0; i < t.cols.size(); ++i) sql += (i ? "," : "") + t.cols[i];
    sql += " FROM " + t.name;
    sqlite3_stmt* s;
    if (sqlite3_prepare_v2(src, sql.c_str(), -1, &s, nullptr)) Die(src, "prep");
    while (sqlite3_step(s) == SQLITE_ROW) {
      Row r = ReadRow(s);
      t.by_rid[r[t.rid_col].i].push_back(std::move(r));
    }
    sqlite3_finalize(s);
  }
  std::vector<Row> res, ver, aud;
  {
    sqlite3_stmt* s;
    sqlite3_prepare_v2(src,
                       "SELECT rid, rtype, id, version, seq, last_updated, deleted, index_keys "
                       "FROM resource ORDER BY rid",
                       -1, &s, nullptr);
    while (sqlite3_step(s) == SQLITE_ROW) res.push_back(ReadRow(s));
    sqlite3_finalize(s);
    sqlite3_prepare_v2(src,
                       "SELECT seq, rid, version, last_updated, method, deleted, json FROM "
                       "resource_version ORDER BY rid",
                       -1, &s, nullptr);
    while (sqlite3_step(s) == SQLITE_ROW) ver.push_back(ReadRow(s));
    sqlite3_finalize(s);
    sqlite3_prepare_v2(src,
                       "SELECT aid, time, principal, action, rtype, id, version, status, remote, "
                       "detail, patient, flags, digest FROM audit_event ORDER BY aid",
                       -1, &s, nullptr);
    while (sqlite3_step(s) == SQLITE_ROW) aud.push_back(ReadRow(s));
    sqlite3_finalize(s);
  }
  tabs.push_back({"resource",
                  {"rid", "rtype", "id", "version", "seq", "last_updated", "deleted", "index_keys"},
                  1,
                  0,
                  {}});
  tabs.push_back({"resource_version",
                  {"seq", "rid", "version", "last_updated", "method", "deleted", "json"},
                  1,
                  1,
                  {}});
  bool multires = o["multires"] == "1";
  std::vector<const Row*> pres, pver;
  std::string schema;
  {
    sqlite3_stmt* s;
    sqlite3_prepare_v2(src,
                       "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name "
                       "NOT LIKE 'sqlite_%' ORDER BY CASE type WHEN 'table' THEN 0 ELSE 1 END, "
                       "rowid",
                       -1, &s, nullptr);
    while (sqlite3_step(s) == SQLITE_ROW) {
      std::string name = (const char*)sqlite3_column_text(s, 1);
      if (o["norid"] == "1" && (name == "idx_reference_rid" || name == "idx_date_rid")) continue;
      if (o["notype"] == "1" && name == "resource_type") continue;
      schema += (const char*)sqlite3_column_text(s, 2);
      schema += ";\n";
    }
    sqlite3_finalize(s);
  }
  sqlite3_close(src);
  remove(argv[2]);
  remove((std::string(argv[2]) + "-wal").c_str());
  remove((std::string(argv[2]) + "-shm").c_str());

  CALLGRIND_START_INSTRUMENTATION;
  auto t0 = std::chrono::steady_clock::now();
  rusage ru0;
  getrusage(RUSAGE_SELF, &ru0);
  sqlite3* db;
  sqlite3_open_v2(argv[2], &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                  nullptr);
  Exec(db, "PRAGMA page_size=" + o["page"] +
               "; PRAGMA cache_size=-65536; PRAGMA "
               "journal_mode=WAL; PRAGMA synchronous=" +
               o["sync"] + "; PRAGMA wal_autocheckpoint=0;");
  Exec(db, "BEGIN;" + schema + "COMMIT;");
  std::string verb = o["ignore"] == "1" ? "INSERT OR IGNORE INTO " : "INSERT INTO ";
  // Statements: per table, for k rows.
  std::map<std::pair<int, int>, sqlite3_stmt*> stmts;
  auto stmt_for = [&](int ti, int k) {
    auto& s = stmts[{ti, k}];
    if (!s) {
      const Table& t = tabs[ti];
      std::string sql = verb + t.name + " (";
      for (size_t i = 0; i < t.cols.size(); ++i) sql += (i ? "," : "") + t.cols[i];
      sql += ") VALUES ";
      for (int r = 0; r < k; ++r) {
        sql += r ? ",(" : "(";
        for (size_t i = 0; i < t.cols.size(); ++i) sql += i ? ",?" : "?";
        sql += ")";
      }
      if (sqlite3_prepare_v3(db, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr))
        Die(db, "prep ins");
    }
    return s;
  };
  auto insert_rows = [&](int ti, const std::vector<const Row*>& rows) {
    size_t i = 0;
    while (i < rows.size()) {
      int k = std::min<size_t>(multi, rows.size() - i);
      sqlite3_stmt* s = stmt_for(ti, k);
      int p = 1;
      for (int r = 0; r < k; ++r)
        for (const Val& v : *rows[i + r]) Bind(s, p++, v);
      if (sqlite3_step(s) != SQLITE_DONE) Die(db, "step");
      sqlite3_reset(s);
      i += k;
    }
  };
  sqlite3_stmt *ires, *iver, *iaud;
  sqlite3_prepare_v3(db,
                     "INSERT INTO resource (rid, rtype, id, version, seq, last_updated, deleted, "
                     "index_keys) VALUES (?,?,?,?,?,?,?,?)",
                     -1, SQLITE_PREPARE_PERSISTENT, &ires, nullptr);
  sqlite3_prepare_v3(db,
                     "INSERT INTO resource_version (seq, rid, version, last_updated, method, "
                     "deleted, json) VALUES (?,?,?,?,?,?,?)",
                     -1, SQLITE_PREPARE_PERSISTENT, &iver, nullptr);
  sqlite3_prepare_v3(db,
                     "INSERT INTO audit_event (aid, time, principal, action, rtype, id, version, "
                     "status, remote, detail, patient, flags, digest) VALUES "
                     "(?,?,?,?,?,?,?,?,?,?,?,?,?)",
                     -1, SQLITE_PREPARE_PERSISTENT, &iaud, nullptr);
  bool keys = o["keys"] == "1", audit = o["audit"] == "1";
  size_t n = res.size();
  long long rows_written = 0;
  for (size_t b0 = 0; b0 < n; b0 += batch) {
    size_t b1 = std::min(n, b0 + batch);
    Exec(db, "BEGIN");
    std::vector<std::vector<const Row*>> pend(nidx);
    for (size_t r = b0; r < b1; ++r) {
      long long rid = res[r][0].i;
      for (size_t ti = 0; ti < nidx; ++ti) {
        auto it = tabs[ti].by_rid.find(rid);
        if (it == tabs[ti].by_rid.end()) continue;
        std::vector<const Row*> rows;
        for (auto& row : it->second) rows.push_back(&row);
        rows_written += rows.size();
        if (defer)
          pend[ti].insert(pend[ti].end(), rows.begin(), rows.end());
        else
          insert_rows(ti, rows);
      }
      if (o["only_idx"] == "1") continue;
      if (multires) {
        pres.push_back(&res[r]);
        pver.push_back(&ver[r]);
        continue;
      }
      if (o["multiver"] == "1") {
        for (int i = 0; i < 8; ++i) Bind(ires, i + 1, res[r][i]);
        if (sqlite3_step(ires) != SQLITE_DONE) Die(db, "res");
        sqlite3_reset(ires);
        pver.push_back(&ver[r]);
        continue;
      }
      for (int i = 0; i < 8; ++i) {
        if (i == 7 && !keys)
          sqlite3_bind_blob(ires, 8, "", 0, SQLITE_STATIC);
        else
          Bind(ires, i + 1, res[r][i]);
      }
      if (sqlite3_step(ires) != SQLITE_DONE) Die(db, "res");
      sqlite3_reset(ires);
      for (int i = 0; i < 7; ++i) Bind(iver, i + 1, ver[r][i]);
      if (sqlite3_step(iver) != SQLITE_DONE) Die(db, "ver");
      sqlite3_reset(iver);
    }
    if (o["multiver"] == "1") {
      insert_rows(nidx + 1, pver);
      pver.clear();
    }
    if (multires) {
      insert_rows(nidx, pres);
      insert_rows(nidx + 1, pver);
      pres.clear();
      pver.clear();
    }
    for (size_t ti = 0; ti < nidx; ++ti) {
      if (!defer) break;
      if (sort) {
        int nk = tabs[ti].nkey;
        std::sort(pend[ti].begin(), pend[ti].end(),
                  [nk](const Row* a, const Row* b) { return Less(*a, *b, nk); });
      }
      insert_rows(ti, pend[ti]);
    }
    if (audit && o["only_idx"] != "1") {
      for (size_t r = b0; r < b1 && r < aud.size(); ++r) {
        for (int i = 0; i < 13; ++i) Bind(iaud, i + 1, aud[r][i]);
        if (sqlite3_step(iaud) != SQLITE_DONE) Die(db, "aud");
        sqlite3_reset(iaud);
      }
    }
    Exec(db, "COMMIT");
  }
  for (auto& [k, s] : stmts) sqlite3_finalize(s);
  sqlite3_finalize(ires);
  sqlite3_finalize(iver);
  sqlite3_finalize(iaud);
  sqlite3_close(db);
  CALLGRIND_STOP_INSTRUMENTATION;
  rusage ru1;
  getrusage(RUSAGE_SELF, &ru1);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto tv = [](timeval a) { return a.tv_sec + a.tv_usec / 1e6; };
  double cpu = tv(ru1.ru_utime) - tv(ru0.ru_utime) + tv(ru1.ru_stime) - tv(ru0.ru_stime);
  printf("resources=%zu idxrows=%lld wall=%.3f cpu=%.3f rate=%.0f cpu_rate=%.0f\n", n, rows_written,
         secs, cpu, n / secs, n / cpu);
}
