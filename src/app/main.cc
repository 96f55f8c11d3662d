// benhan: the single executable. Subcommands: serve, import, fhirpath, version.
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ssl/context.hpp>

#include "api/fhir_api.h"
#include "api/oauth_api.h"
#include "api/http_server.h"
#include "app/demo_data.h"
#include "app/digitize_cli.h"
#include "app/importer.h"
#include "app/migrate_store.h"
#include "app/auth_cli.h"
#include "app/node.h"
#include "core/log.h"
#include "core/tls.h"
#include "fhir/fhirpath/cli.h"
#include "interop/hl7v2/inbound.h"
#include "interop/hl7v2/mllp_server.h"
#include "interop/hl7v2/outbound.h"
#include "store/postgres/pg_store.h"
#include "store/sqlite/sqlite_store.h"

namespace benhan::app {
namespace {

constexpr const char* kVersion = "0.1.0";

void Usage() {
  std::fprintf(
      stderr,
      "benhan %s — bệnh án điện tử (electronic medical record), FHIR R4\n\n"
      "usage:\n"
      "  benhan serve [--listen HOST:PORT] [--data DIR] [--storage URL] [--config FILE] [--demo]\n"
      "               [--threads N] [--mllp-listen HOST:PORT]\n"
      "  benhan import [--data DIR] [--storage URL] [--config FILE] [--jobs N] FILE|DIR...\n"
      "  benhan migrate [--storage URL] [--data DIR] [--config FILE]\n"
      "  benhan migrate-store --from sqlite:DIR --to postgresql://USER@HOST:PORT/DB\n"
      "  benhan fhirpath [--strict] EXPRESSION [RESOURCE.json]\n"
      "  benhan terminology import --format FORMAT --version V [--url URL] [--valid-from DATE]\n"
      "               [--data DIR] FILE   (benhan terminology import --help)\n"
      "  benhan demo-data [--patients N] [--seed S] [--out FILE]   (FHIR NDJSON)\n"
      "  benhan digitize --text FILE | --dry-run FILE | FILE... --patient ID   (số hoá hồ sơ giấy)\n"
      "  benhan user add|passwd|totp|unlock|disable|enable|show|list ...   (benhan user --help)\n"
      "  benhan client add|keys|disable|enable|remove|show|list ...   (OAuth2/SMART clients)\n"
      "  benhan audit verify|checkpoint [--data DIR] [--storage URL] [--config FILE]\n"
      "               (verify: exit 0 only if the audit hash chain is intact)\n"
      "  benhan token add --id ID --role ROLE [--practitioner Practitioner/ID] [--patient "
      "Patient/ID]\n"
      "               [--scopes '...'] [--data DIR]   (a bearer token; 'benhan token' lists all "
      "options)\n"
      "  benhan version\n\n"
      "serve: FHIR R4 API at http://HOST:PORT/fhir on the embedded database in DIR (default "
      "./benhan-data).\n"
      "  Without --demo every request needs 'Authorization: Bearer <token>'; the first start "
      "writes the\n"
      "  administrator token to DIR/secrets/admin.token. --demo loads demo patients, needs no "
      "token and\n"
      "  only listens on loopback.\n"
      "--storage postgresql://USER@HOST:PORT/DB keeps the records in PostgreSQL instead (the data\n"
      "  directory then holds only the lock and the token secrets).\n"
      "--mllp-listen HOST:PORT also takes HL7 v2 messages over MLLP (config hl7v2.mllp_listen;\n"
      "  docs/hl7v2-mapping.md).\n",
      kVersion);
}

struct Flags {
  Config config;
  bool listen_given = false;
  std::string config_file;
  std::vector<std::string> positional;
  int jobs = 16;
  bool bench_unaudited = false;  // serve --demo only: bench/access.sh's baseline
};

// Parses common flags; config file first, then flags override it.
Result<Flags> ParseFlags(int argc, char** argv, int start) {
  Flags f;
  std::vector<std::pair<std::string, std::string>> overrides;
  for (int i = start; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> Result<std::string> {
      if (auto eq = a.find('='); eq != std::string::npos) return a.substr(eq + 1);
      if (i + 1 >= argc) return Status(Code::kInvalid, std::string(name) + " needs a value");
      return std::string(argv[++i]);
    };
    auto is = [&](const char* name) {
      return a == name || a.rfind(std::string(name) + "=", 0) == 0;
    };
    if (is("--listen")) {
      ASSIGN_OR_RETURN(std::string v, value("--listen"));
      overrides.emplace_back("listen", v);
      f.listen_given = true;
    } else if (is("--data")) {
      ASSIGN_OR_RETURN(std::string v, value("--data"));
      overrides.emplace_back("data", v);
    } else if (is("--storage")) {
      ASSIGN_OR_RETURN(std::string v, value("--storage"));
      overrides.emplace_back("storage", v);
    } else if (is("--config")) {
      ASSIGN_OR_RETURN(f.config_file, value("--config"));
    } else if (is("--mllp-listen")) {
      ASSIGN_OR_RETURN(std::string v, value("--mllp-listen"));
      overrides.emplace_back("hl7v2.mllp_listen", v);
    } else if (is("--threads")) {
      ASSIGN_OR_RETURN(std::string v, value("--threads"));
      overrides.emplace_back("http.threads", v);
    } else if (is("--jobs")) {
      ASSIGN_OR_RETURN(std::string v, value("--jobs"));
      f.jobs = std::max(1, std::atoi(v.c_str()));
    } else if (a == "--demo") {
      overrides.emplace_back("demo", "true");
    } else if (a == "--bench-unaudited") {
      f.bench_unaudited = true;
    } else if (a == "--help" || a == "-h") {
      Usage();
      std::exit(0);
    } else if (a.rfind("--", 0) == 0) {
      return Status(Code::kInvalid, "unknown option " + a);
    } else {
      f.positional.push_back(a);
    }
  }
  if (!f.config_file.empty()) RETURN_IF_ERROR(f.config.LoadFile(f.config_file));
  for (const auto& [k, v] : overrides) RETURN_IF_ERROR(f.config.Set(k, v));
  if (!log::SetLevel(f.config.log_level))
    return Status(Code::kInvalid, "config: log.level must be debug, info, warn or error");
  return f;
}

bool SplitHostPort(const std::string& s, std::string* host, uint16_t* port) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  *host = s.substr(0, colon);
  if (host->size() >= 2 && host->front() == '[') *host = host->substr(1, host->size() - 2);
  if (host->empty()) *host = "0.0.0.0";
  char* end = nullptr;
  long p = std::strtol(s.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || p < 0 || p > 65535) return false;
  *port = static_cast<uint16_t>(p);
  return true;
}

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

int Serve(int argc, char** argv) {
  auto flags = ParseFlags(argc, argv, 2);
  if (!flags.ok()) {
    std::fprintf(stderr, "benhan serve: %s\n", flags.status().message().c_str());
    return 2;
  }
  Config& cfg = flags->config;
  if (cfg.demo && !flags->listen_given && cfg.listen == Config().listen)
    cfg.listen = "127.0.0.1:8080";
  std::string host;
  uint16_t port = 0;
  if (!SplitHostPort(cfg.listen, &host, &port)) {
    std::fprintf(stderr, "benhan serve: --listen must be HOST:PORT, not '%s'\n",
                 cfg.listen.c_str());
    return 2;
  }
  if (flags->bench_unaudited && !cfg.demo) {
    std::fprintf(stderr,
                 "benhan serve: --bench-unaudited (benchmarks only) needs --demo: a server with "
                 "authentication always keeps the audit trail\n");
    return 2;
  }
  if (cfg.demo && !IsLoopback(host)) {
    std::fprintf(
        stderr,
        "benhan serve: demo mode has no authentication, so it only listens on loopback (127.0.0.1);"
        " refusing %s\n",
        cfg.listen.c_str());
    return 2;
  }
  // TLS files and limits first: a bad certificate stops start-up before anything is opened.
  auto hopts = HttpOptionsFromConfig(cfg);
  if (!hopts.ok()) {
    std::fprintf(stderr, "benhan serve: %s\n", hopts.status().message().c_str());
    return 1;
  }
  api::HttpServerOptions ho = std::move(*hopts);
  ho.host = host;
  ho.port = port;
  ho.threads = cfg.http_threads > 0
                   ? cfg.http_threads
                   : static_cast<int>(2 * std::max(1u, std::thread::hardware_concurrency()));
  // MLLP over TLS and the lab connection's TLS: checked now, so a bad file stops start-up.
  std::shared_ptr<boost::asio::ssl::context> mllp_tls, lab_tls;
  if (!cfg.mllp_tls_cert.empty() || !cfg.mllp_tls_key.empty() || !cfg.mllp_tls_client_ca.empty()) {
    tls::ServerFiles f;
    f.cert = cfg.mllp_tls_cert;
    f.key = cfg.mllp_tls_key;
    f.client_ca = cfg.mllp_tls_client_ca;
    f.key_prefix = "hl7v2.tls";
    auto c = f.cert.empty() ? Result<std::shared_ptr<boost::asio::ssl::context>>(Status(
                                  Code::kInvalid, "config hl7v2.tls.client_ca needs hl7v2.tls.cert "
                                                  "and hl7v2.tls.key"))
                            : tls::MakeServerContext(f);
    if (!c.ok()) {
      std::fprintf(stderr, "benhan serve: %s\n", c.status().message().c_str());
      return 1;
    }
    mllp_tls = *c;
  }
  if (cfg.lab_tls) {
    tls::ClientFiles f;
    f.ca = cfg.lab_tls_ca;
    f.cert = cfg.lab_tls_cert;
    f.key = cfg.lab_tls_key;
    auto c = tls::MakeClientContext(f);
    if (!c.ok()) {
      std::fprintf(stderr, "benhan serve: %s\n", c.status().message().c_str());
      return 1;
    }
    lab_tls = *c;
  }
  auto t0 = std::chrono::steady_clock::now();
  auto node = Node::Open(cfg);
  if (!node.ok()) {
    std::fprintf(stderr, "benhan serve: %s\n", node.status().message().c_str());
    return 1;
  }
  // Local accounts and the OAuth2/SMART authorization server (security/oauth.h); login, failed
  // login and token issuance go to the audit trail.
  security::Accounts accounts((*node)->store(), AuthSettingsOf(cfg));
  security::OAuthServer oauth((*node)->store(), accounts, [&](store::AuditRecord r) {
    (*node)->audit().Record(std::move(r));
  });
  std::unique_ptr<security::Authenticator> auth;
  if (cfg.demo) {
    auto n = LoadDemoData(**node);
    if (!n.ok()) {
      std::fprintf(stderr, "benhan serve: demo data: %s\n", n.status().ToString().c_str());
      return 1;
    }
    if (*n > 0) log::Info("demo: loaded " + std::to_string(*n) + " demo resources");
    auth = security::MakeDemoAuthenticator();
    if (flags->bench_unaudited) {
      (*node)->audit().DiscardReadsForBenchmark();
      log::Warn("BENCHMARK: --bench-unaudited: reads are NOT audited (demo mode only)");
    }
    log::Warn(
        "DEMO MODE: no authentication; listening on loopback only. Never use demo mode with real "
        "patients.");
  } else {
    std::string created;
    auto ta = security::TokenAuthenticator::Open(cfg.data_dir, &created);
    if (!ta.ok()) {
      std::fprintf(stderr, "benhan serve: %s\n", ta.status().message().c_str());
      return 1;
    }
    if (!created.empty()) {
      log::Info("created the administrator bearer token: " + created +
                " (mode 0600; keep it secret)");
    } else {
      log::Info("authentication: bearer tokens (administrator token in " + cfg.data_dir +
                "/secrets/admin.token)");
    }
    auth = std::make_unique<security::OAuthAuthenticator>(std::move(*ta), oauth);
  }
  api::FhirApi fhir((*node)->service(), *auth, kVersion);
  fhir.SetTerminology(&(*node)->terminology());
  // digitize/: POST /fhir/DocumentReference/$digitize (async job) and the review operations;
  // without Tesseract's Vietnamese model the server runs without them.
  auto digitize = DigitizeHttp::Start(**node, fhir);
  if (!digitize.ok()) log::Warn("digitize: " + digitize.status().message() + " (operations off)");
  api::OAuthApiOptions oauth_opts;
  oauth_opts.base_url = cfg.base_url;
  oauth_opts.tls = !cfg.tls_cert.empty();
  api::OAuthApi oauth_api(oauth, *auth, oauth_opts);
  api::HttpServer server(
      ho,
      [&](const api::HttpRequest& req, api::HttpResponse& res) {
        if (oauth_api.Handle(req, res)) return;  // /auth/*, /fhir/.well-known/smart-configuration
        if (req.path == "/fhir" || req.path.rfind("/fhir/", 0) == 0) return fhir.Handle(req, res);
        if (req.path == "/healthz") {
          res.Set("Content-Type", "text/plain");
          res.body = "ok\n";
          return;
        }
        if (req.path == "/") {
          res.Set("Content-Type", "text/html; charset=utf-8");
          res.body =
              "<!doctype html><html lang=\"vi\"><meta charset=\"utf-8\"><title>benhan</title>"
              "<h1>benhan — Bệnh án điện tử</h1><p>Máy chủ HL7 FHIR R4: <a "
              "href=\"/fhir/metadata\">/fhir</a>.</p>"
              "<p lang=\"en\">Electronic medical record server, HL7 FHIR R4 API at "
              "/fhir.</p></html>";
          return;
        }
        res = api::FhirApi::ErrorResponse(404, "không tìm thấy / not found: " + req.path);
      },
      api::FhirApi::ErrorResponse);
  // Signals: stop cleanly on SIGINT/SIGTERM (blocked in every thread since main()).
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  auto bound = server.Start();
  if (!bound.ok()) {
    std::fprintf(stderr, "benhan serve: %s\n", bound.status().message().c_str());
    return 1;
  }
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  log::Info("benhan " + std::string(kVersion) + " listening on " +
            std::string(ho.tls ? "https://" : "http://") + host + ":" +
            std::to_string(*bound) + "/fhir (data " + cfg.data_dir + ", storage " +
            std::string((*node)->store().backend_name()) + ", started in " +
            std::to_string(static_cast<int>(ms)) + " ms)");
  // HL7 v2 over MLLP, when configured (interop/hl7v2/).
  std::unique_ptr<interop::hl7v2::InboundProcessor> hl7_inbound;
  std::unique_ptr<interop::hl7v2::MllpServer> mllp;
  if (!cfg.mllp_listen.empty()) {
    interop::hl7v2::MllpServerOptions mo;
    if (!interop::hl7v2::SplitMllpAddress(cfg.mllp_listen, &mo.host, &mo.port)) {
      std::fprintf(stderr, "benhan serve: --mllp-listen must be HOST:PORT, not '%s'\n",
                   cfg.mllp_listen.c_str());
      server.Stop();
      return 2;
    }
    mo.threads = cfg.mllp_threads;
    mo.idle_timeout_seconds = cfg.mllp_idle_timeout_s;
    mo.tls = mllp_tls;
    interop::hl7v2::InboundOptions io;
    io.facility = cfg.hl7v2_facility;
    hl7_inbound =
        std::make_unique<interop::hl7v2::InboundProcessor>((*node)->service(), std::move(io));
    mllp = std::make_unique<interop::hl7v2::MllpServer>(
        mo, [&](std::string_view msg, const std::string& remote) {
          return hl7_inbound->Handle(msg, remote).ack;
        });
    auto mb = mllp->Start();
    if (!mb.ok()) {
      std::fprintf(stderr, "benhan serve: %s\n", mb.status().message().c_str());
      server.Stop();
      return 1;
    }
    log::Info("HL7 v2 (MLLP" + std::string(mo.tls ? " over TLS" : "") + ") listening on " +
              mo.host + ":" + std::to_string(*mb) +
              (cfg.mllp_tls_client_ca.empty() ? "" : " (client certificates required)"));
  }
  // Outbound orders to the lab system, when configured.
  std::unique_ptr<interop::hl7v2::OutboxWorker> outbox;
  if (!cfg.hl7v2_lab_destination.empty()) {
    interop::hl7v2::Destination dest;
    if (!interop::hl7v2::ParseDestination(cfg.hl7v2_lab_destination, &dest)) {
      std::fprintf(stderr, "benhan serve: hl7v2.lab_destination must be NAME@HOST:PORT, not '%s'\n",
                   cfg.hl7v2_lab_destination.c_str());
      if (mllp) mllp->Stop();
      server.Stop();
      return 2;
    }
    dest.orm = cfg.hl7v2_lab_message == "orm";
    dest.tls = lab_tls;
    outbox = std::make_unique<interop::hl7v2::OutboxWorker>((*node)->service(), dest,
                                                             cfg.hl7v2_facility);
    outbox->Start();
    log::Info("HL7 v2 orders go to " + dest.name + " at " + dest.host + ":" +
              std::to_string(dest.port) + (dest.orm ? " (ORM^O01)" : " (OML^O21)") +
              (dest.tls ? " over TLS" : ""));
  }
  std::thread sig([&] {
    int s = 0;
    sigwait(&set, &s);
    log::Info("signal " + std::to_string(s) + ": stopping");
    if (outbox) outbox->Stop();
    if (mllp) mllp->Stop();
    server.Stop();
  });
  server.Wait();
  sig.join();
  log::Info("stopped");
  return 0;
}

int ImportCmd(int argc, char** argv) {
  auto flags = ParseFlags(argc, argv, 2);
  if (!flags.ok()) {
    std::fprintf(stderr, "benhan import: %s\n", flags.status().message().c_str());
    return 2;
  }
  if (flags->positional.empty()) {
    std::fprintf(stderr,
                 "benhan import: give FILE or DIR arguments (Bundles, resources or .ndjson)\n");
    return 2;
  }
  auto node = Node::Open(flags->config);
  if (!node.ok()) {
    std::fprintf(stderr, "benhan import: %s\n", node.status().message().c_str());
    return 1;
  }
  ImportOptions io;
  io.jobs = flags->jobs;
  ImportSummary s = Import(**node, flags->positional, io);
  const size_t kShown = 50;
  for (size_t i = 0; i < s.error_messages.size() && i < kShown; ++i) {
    std::fprintf(stderr, "error: %s\n", s.error_messages[i].c_str());
  }
  if (s.errors > static_cast<int64_t>(kShown)) {
    std::fprintf(stderr, "... and %lld more errors\n",
                 static_cast<long long>(s.errors) - static_cast<long long>(kShown));
  }
  std::printf("imported %lld resources from %lld files in %.2f s (%.0f resources/s), %lld errors\n",
              static_cast<long long>(s.resources), static_cast<long long>(s.files), s.seconds,
              s.seconds > 0 ? s.resources / s.seconds : 0.0, static_cast<long long>(s.errors));
  return s.errors == 0 ? 0 : 1;
}

// `benhan migrate`: brings the database schema up to this binary's version and says which.
int MigrateCmd(int argc, char** argv) {
  auto flags = ParseFlags(argc, argv, 2);
  if (!flags.ok()) {
    std::fprintf(stderr, "benhan migrate: %s\n", flags.status().message().c_str());
    return 2;
  }
  const Config& cfg = flags->config;
  if (store::IsPostgresUrl(cfg.storage)) {
    int from = 0, to = 0;
    Status st = store::MigratePostgres(cfg.storage, &from, &to);
    if (!st.ok()) {
      std::fprintf(stderr, "benhan migrate: %s\n", st.message().c_str());
      return 1;
    }
    std::printf("postgresql schema version %d -> %d (this benhan writes %d)\n", from, to,
                store::PostgresSchemaVersion());
    return 0;
  }
  auto s = OpenStore(cfg);  // SQLite migrates on open
  if (!s.ok()) {
    std::fprintf(stderr, "benhan migrate: %s\n", s.status().message().c_str());
    return 1;
  }
  std::printf("sqlite schema version %d (%s/benhan.db)\n", store::SqliteSchemaVersion(),
              cfg.data_dir.c_str());
  return 0;
}

// `benhan migrate-store --from sqlite:DIR --to postgresql://...`: copies every version, tombstone
// and audit row of a clinic's SQLite database into an empty PostgreSQL database.
int MigrateStoreCmd(int argc, char** argv) {
  std::string from, to;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const std::string& name) -> std::string {
      if (a.rfind(name + "=", 0) == 0) return a.substr(name.size() + 1);
      return i + 1 < argc ? std::string(argv[++i]) : std::string();
    };
    if (a.rfind("--from", 0) == 0) {
      from = value("--from");
    } else if (a.rfind("--to", 0) == 0) {
      to = value("--to");
    } else {
      std::fprintf(stderr, "benhan migrate-store: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (from.rfind("sqlite:", 0) != 0 || !store::IsPostgresUrl(to)) {
    std::fprintf(stderr, "usage: benhan migrate-store --from sqlite:DIR --to "
                         "postgresql://USER@HOST:PORT/DB\n");
    return 2;
  }
  Config pg;
  pg.storage = to;
  auto dest = OpenStore(pg);
  if (!dest.ok()) {
    std::fprintf(stderr, "benhan migrate-store: %s\n", dest.status().message().c_str());
    return 1;
  }
  auto sum = MigrateStore(from.substr(7), **dest, [](int64_t n) {
    std::fprintf(stderr, "\r%lld versions copied", static_cast<long long>(n));
  });
  std::fprintf(stderr, "\n");
  if (!sum.ok()) {
    std::fprintf(stderr, "benhan migrate-store: %s\n", sum.status().ToString().c_str());
    return 1;
  }
  std::printf("copied %lld versions of %lld resources and %lld audit rows in %.1f s\n",
              static_cast<long long>(sum->versions), static_cast<long long>(sum->resources),
              static_cast<long long>(sum->audit_rows), sum->seconds);
  return 0;
}

// The heap on transparent huge pages. On the virtual machines benhan is measured on (Firecracker,
// 2 cores) the first touch of each fresh 4 KiB page costs 15-30 µs (a trap per page): an import
// of the 71 Synthea bundles faulted in ~80 MB of heap, 20,000 faults, about a third of its CPU,
// half of it under the SQLite write lock (page-cache pages). With the heap on 2 MiB pages
// (where the kernel offers them, `madvise` mode included) it takes ~1,500 faults.
// glibc only advises its heap when GLIBC_TUNABLES says so, and reads that at start-up, so the
// process re-executes itself once with them set (docs/benchmarks.md, "Heap on huge pages"):
//   hugetlb=1        madvise(MADV_HUGEPAGE) on every heap extension
//   top_pad=16 MiB   the heap grows in steps that hold whole 2 MiB pages
//   arena_max=2      threads share two heaps (one per core) instead of up to 16, each padded
// Not done when BENHAN_MALLOC_TUNED is set (the second start, or a user's opt-out), when
// GLIBC_TUNABLES already sets hugetlb, when the kernel has huge pages off, or under sanitizers.
void UseHugePageHeap(char** argv) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  (void)argv;
#else
  if (std::getenv("BENHAN_MALLOC_TUNED") != nullptr) return;
  ::setenv("BENHAN_MALLOC_TUNED", "1", 1);  // once, also if the exec fails
  if (FILE* f = std::fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r")) {
    char buf[128] = {};
    size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
    std::fclose(f);
    if (n == 0 || std::strstr(buf, "[never]") != nullptr) return;
  } else {
    return;
  }
  std::string tunables =
      "glibc.malloc.hugetlb=1:glibc.malloc.top_pad=16777216:glibc.malloc.arena_max=2";
  if (const char* old = std::getenv("GLIBC_TUNABLES"); old != nullptr && *old != '\0') {
    if (std::strstr(old, "glibc.malloc.hugetlb") != nullptr) return;
    tunables = std::string(old) + ":" + tunables;
  }
  ::setenv("GLIBC_TUNABLES", tunables.c_str(), 1);
  ::execv("/proc/self/exe", argv);
  // The exec failed (no /proc): go on with glibc's defaults.
#endif
}

}  // namespace
}  // namespace benhan::app

int main(int argc, char** argv) {
  using namespace benhan::app;
  UseHugePageHeap(argv);
  // Request bodies and import files are parsed into per-request arenas of up to a few MB. With
  // glibc's defaults every such arena is a fresh mmap (page faults, zeroing) freed back to the
  // kernel at once; keeping them in the heap makes them reusable (measured in docs/benchmarks.md).
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
  // Block SIGINT/SIGTERM before any thread starts, so every thread inherits the mask and `serve`
  // receives them in its sigwait thread (a clean stop that flushes the audit log).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  if (argc < 2) {
    Usage();
    return 2;
  }
  std::string cmd = argv[1];
  if (cmd == "serve") return Serve(argc, argv);
  if (cmd == "import") {
    pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);  // Ctrl-C stops an import at once;
    return ImportCmd(argc, argv);                          // committed transactions stay.
  }
  if (cmd == "migrate") return MigrateCmd(argc, argv);
  if (cmd == "migrate-store") return MigrateStoreCmd(argc, argv);
  if (cmd == "fhirpath") return benhan::fhir::fhirpath::RunCli(argc - 1, argv + 1);
  if (cmd == "terminology") return TerminologyCmd(argc, argv);
  if (cmd == "digitize") return DigitizeCmd(argc, argv);
  if (cmd == "user") return UserCmd(argc, argv);
  if (cmd == "client") return ClientCmd(argc, argv);
  if (cmd == "audit") return AuditCmd(argc, argv);
  if (cmd == "token") return TokenCmd(argc, argv);
  if (cmd == "demo-data") return DemoDataCmd(argc, argv);
  if (cmd == "version" || cmd == "--version") {
    std::printf("benhan %s (FHIR R4 4.0.1)\n", kVersion);
    return 0;
  }
  if (cmd == "help" || cmd == "--help" || cmd == "-h") {
    Usage();
    return 0;
  }
  std::fprintf(stderr, "benhan: unknown command '%s'\n", cmd.c_str());
  Usage();
  return 2;
}
