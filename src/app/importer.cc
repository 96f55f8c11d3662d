#include "app/importer.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "fhir/resource.h"

namespace json = boost::json;
namespace fs = std::filesystem;

namespace benhan::app {
namespace {

struct Unit {
  std::string file;
  int64_t first_line = 0;          // NDJSON: line number of lines[0]
  std::vector<std::string> lines;  // NDJSON chunk; empty for a JSON file
  bool retry = false;
};

struct State {
  Node& node;
  const ImportOptions& opts;
  std::mutex mu;
  std::vector<Unit> units;
  size_t next = 0;
  std::vector<Unit> deferred;
  std::atomic<int64_t> resources{0};
  std::atomic<int64_t> errors{0};
  std::atomic<int64_t> files_done{0};
  std::vector<std::string> messages;

  void Error(const std::string& where, const std::string& msg) {
    errors++;
    std::lock_guard<std::mutex> l(mu);
    if (messages.size() < 1000) messages.push_back(where + ": " + msg);
  }
};

// A commit never waits longer than this for its group to fill (a safety bound: the group size
// falls as threads finish, so waits end when units arrive).
constexpr std::chrono::milliseconds kMaxCommitWait{1000};

service::RequestContext ImportContext() {
  service::RequestContext ctx;
  ctx.principal = "system:import";
  ctx.remote = "local";
  return ctx;
}

json::object EntryFor(json::value resource) {
  std::string type(resource.get_object().at("resourceType").get_string());
  const auto* id = resource.get_object().if_contains("id");
  json::object req(resource.storage());
  if (id && id->is_string()) {
    req.emplace("method", "PUT");
    req.emplace("url", type + "/" + std::string(id->get_string()));
  } else {
    req.emplace("method", "POST");
    req.emplace("url", type);
  }
  json::object entry(resource.storage());
  entry.emplace("resource", std::move(resource));  // moved, not copied (same storage)
  entry.emplace("request", std::move(req));
  return entry;
}

// A transaction Bundle of `entries`, in their storage.
json::object TransactionOf(json::array entries) {
  json::object b(entries.storage());
  b.emplace("resourceType", "Bundle");
  b.emplace("type", "transaction");
  b.emplace("entry", std::move(entries));
  return b;
}

// Stores `bundle` (transaction/batch). Returns the entries stored; reports entry errors of batches.
// A kPreconditionFailed/kMultipleMatches error (unresolved conditional reference) is returned so
// the unit can be retried later.
Result<int64_t> StoreBundle(State& st, json::value bundle, const std::string& where) {
  auto r = st.node.service().ProcessBundle(ImportContext(), std::move(bundle), false);
  if (!r.ok()) return r.status();
  int64_t ok = 0;
  const auto& entries = r->at("entry").get_array();
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& resp = entries[i].at("response").get_object();
    std::string_view status = resp.at("status").get_string();
    if (!status.empty() && (status[0] == '2')) {
      ++ok;
    } else {
      std::string msg(status);
      if (const auto* oo = resp.if_contains("outcome")) {
        msg.push_back(' ');
        msg.append(std::string_view(oo->at("issue").at(0).at("diagnostics").get_string()));
      }
      st.Error(where + " entry " + std::to_string(i), msg);
    }
  }
  return ok;
}

// A unit whose conditional references matched nothing probably refers to resources of a file not
// loaded yet (Immunization before Location): it is queued to run once more at the end.
bool DeferIfUnresolved(State& st, Unit& u, const Status& status) {
  Code c = status.code();
  if (u.retry || (c != Code::kPreconditionFailed && c != Code::kMultipleMatches)) return false;
  std::lock_guard<std::mutex> l(st.mu);
  u.retry = true;
  st.deferred.push_back(u);
  return true;
}

void RunUnit(State& st, Unit& u) {
  // Every JSON tree of the unit lives in this arena (declared first: destroyed last). It is the
  // unit's own, not shared: no reference counting per node, and the trees are freed at once.
  json::monotonic_resource arena;
  json::storage_ptr sp(&arena);
  if (u.lines.empty()) {  // a JSON file
    std::string text;
    {
      std::ifstream in(u.file, std::ios::binary | std::ios::ate);
      text.resize(static_cast<size_t>(std::max<std::streamoff>(0, in.tellg())));
      in.seekg(0);
      in.read(text.data(), static_cast<std::streamsize>(text.size()));
    }
    json::value v;
    Status ps = fhir::ParseJson(text, &v, sp);
    if (!ps.ok()) return st.Error(u.file, ps.message());
    if (!v.is_object() || !v.get_object().contains("resourceType")) {
      return st.Error(u.file, "not a FHIR resource (no resourceType)");
    }
    auto& o = v.get_object();
    json::value bundle(sp);  // moving a tree into a value of another storage would copy it
    if (o.at("resourceType") == "Bundle") {
      std::string_view btype = o.contains("type") && o.at("type").is_string()
                                   ? std::string_view(o.at("type").get_string())
                                   : "";
      if (btype == "transaction" || btype == "batch") {
        bundle = std::move(v);
      } else {  // collection, searchset, document...: store each entry's resource
        json::array entries(sp);
        if (auto* e = o.if_contains("entry"); e && e->is_array()) {
          for (auto& en : e->get_array()) {
            if (en.is_object() && en.get_object().contains("resource")) {
              entries.push_back(EntryFor(std::move(en.get_object()["resource"])));
            }
          }
        }
        bundle = TransactionOf(std::move(entries));
      }
    } else {
      json::array entries(sp);
      entries.push_back(EntryFor(std::move(v)));
      bundle = TransactionOf(std::move(entries));
    }
    auto r = StoreBundle(st, std::move(bundle), u.file);
    if (!r.ok()) {
      if (DeferIfUnresolved(st, u, r.status())) return;
      return st.Error(u.file, r.status().ToString());
    }
    st.resources += *r;
    st.files_done++;
    return;
  }
  // NDJSON chunk: one transaction; on failure, line by line so bad lines are named and the rest
  // loads.
  auto build = [&](size_t from, size_t to, std::vector<int64_t>* line_of) -> json::value {
    json::array entries(sp);
    for (size_t i = from; i < to; ++i) {
      const std::string& line = u.lines[i];
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      json::value v;
      Status ps = fhir::ParseJson(line, &v, sp);
      if (!ps.ok() || !v.is_object() || !v.get_object().contains("resourceType") ||
          !v.get_object().at("resourceType").is_string()) {
        if (line_of)
          st.Error(u.file + ":" + std::to_string(u.first_line + static_cast<int64_t>(i)),
                   ps.ok() ? "not a FHIR resource" : ps.message());
        continue;
      }
      std::string_view rt = v.get_object().at("resourceType").get_string();
      if (!st.node.defs()->IsResourceType(rt)) {
        if (line_of) {
          st.Error(u.file + ":" + std::to_string(u.first_line + static_cast<int64_t>(i)),
                   "'" + std::string(rt) + "' is not a FHIR R4 resource type");
        }
        continue;
      }
      entries.push_back(EntryFor(std::move(v)));
      if (line_of) line_of->push_back(u.first_line + static_cast<int64_t>(i));
    }
    return TransactionOf(std::move(entries));
  };
  std::vector<int64_t> lines;
  auto r = StoreBundle(st, build(0, u.lines.size(), u.retry ? nullptr : &lines), u.file);
  if (r.ok()) {
    st.resources += *r;
    return;
  }
  if (DeferIfUnresolved(st, u, r.status())) return;
  for (size_t i = 0; i < u.lines.size(); ++i) {
    json::value one = build(i, i + 1, nullptr);
    if (one.at("entry").get_array().empty()) continue;
    auto r1 = StoreBundle(st, std::move(one), u.file);
    if (r1.ok()) {
      st.resources += *r1;
    } else {
      st.Error(u.file + ":" + std::to_string(u.first_line + static_cast<int64_t>(i)),
               r1.status().ToString());
    }
  }
}

void CollectFiles(const std::string& path, std::vector<std::string>& out, State& st) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<std::string> files;
    for (const auto& e : fs::recursive_directory_iterator(path, ec)) {
      if (!e.is_regular_file()) continue;
      std::string p = e.path().string();
      if (p.ends_with(".json") || p.ends_with(".ndjson")) files.push_back(p);
    }
    std::sort(files.begin(), files.end());
    out.insert(out.end(), files.begin(), files.end());
  } else if (fs::is_regular_file(path, ec)) {
    out.push_back(path);
  } else {
    st.Error(path, "no such file or directory");
  }
}

}  // namespace

ImportSummary Import(Node& node, const std::vector<std::string>& paths, const ImportOptions& opts) {
  auto t0 = std::chrono::steady_clock::now();
  State st{node, opts, {}, {}, 0, {}, {}, {}, {}, {}};
  std::vector<std::string> files;
  for (const auto& p : paths) CollectFiles(p, files, st);
  for (const auto& f : files) {
    if (f.ends_with(".ndjson")) {
      std::ifstream in(f);
      std::string line;
      Unit u{f, 1, {}, false};
      int64_t lineno = 0;
      while (std::getline(in, line)) {
        ++lineno;
        if (u.lines.empty()) u.first_line = lineno;
        u.lines.push_back(std::move(line));
        if (static_cast<int>(u.lines.size()) >= opts.ndjson_chunk) {
          st.units.push_back(std::move(u));
          u = Unit{f, lineno + 1, {}, false};
        }
      }
      if (!u.lines.empty()) st.units.push_back(std::move(u));
      st.files_done++;
    } else {
      st.units.push_back(Unit{f, 0, {}, false});
    }
  }
  bool tty = opts.progress && ::isatty(STDERR_FILENO);
  std::atomic<bool> done{false};
  std::thread progress;
  if (tty) {
    progress = std::thread([&] {
      while (!done) {
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        size_t total, next;
        {
          std::lock_guard<std::mutex> l(st.mu);
          total = st.units.size();
          next = st.next;
        }
        int width = 30;
        int filled = total ? static_cast<int>(width * next / total) : width;
        std::fprintf(stderr, "\r[%s%s] %zu/%zu  %lld resources  %lld errors  %.0f/s   ",
                     std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
                     next, total, static_cast<long long>(st.resources.load()),
                     static_cast<long long>(st.errors.load()),
                     secs > 0 ? st.resources.load() / secs : 0.0);
        std::fflush(stderr);
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    });
  }
  // Commit groups: with `group` > 1 a commit waits until that many units are ready (or the threads
  // still working are fewer). The default (1) never waits: the writer is the import's bottleneck,
  // and the units that arrive while a commit is being written join it anyway
  // (store::GroupCommitter), so groups grow without the writer standing idle.
  const int jobs = std::max(1, opts.jobs);
  const int group = std::clamp(opts.commit_group, 1, jobs);
  auto& service = st.node.service();
  int active = jobs;  // guarded by st.mu
  auto worker = [&](std::vector<Unit>* list) {
    for (;;) {
      Unit* u;
      {
        std::lock_guard<std::mutex> l(st.mu);
        if (st.next >= list->size()) {
          --active;
          service.SetWriteBatching(std::min(group, active), kMaxCommitWait);
          return;
        }
        u = &(*list)[st.next++];
      }
      RunUnit(st, *u);
    }
  };
  auto run_all = [&](std::vector<Unit>* list) {
    service.SetWriteBatching(group, kMaxCommitWait);
    std::vector<std::thread> threads;
    for (int i = 0; i < jobs; ++i) threads.emplace_back(worker, list);
    for (auto& t : threads) t.join();
    service.SetWriteBatching(1, kMaxCommitWait);
  };
  run_all(&st.units);
  // Retry units whose conditional references pointed at data from later files.
  std::vector<Unit> retry;
  {
    std::lock_guard<std::mutex> l(st.mu);
    retry.swap(st.deferred);
    st.units = retry;
    st.next = 0;
  }
  if (!st.units.empty()) {
    // Sequential, in file order: dependencies between the deferred files resolve in order.
    for (auto& u : st.units) RunUnit(st, u);
    st.next = st.units.size();
  }
  done = true;
  if (progress.joinable()) {
    progress.join();
    std::fprintf(stderr, "\n");
  }
  ImportSummary s;
  s.files = static_cast<int64_t>(files.size());
  s.resources = st.resources;
  s.errors = st.errors;
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  s.error_messages = std::move(st.messages);
  return s;
}

}  // namespace benhan::app
