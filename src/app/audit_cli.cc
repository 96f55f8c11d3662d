// `benhan audit verify|checkpoint` and `benhan token add`: operators' tools for the audit trail's
// hash chain (security/audit_trail.h) and role-bearing bearer tokens
// (security/token_attributes.h). Neither takes the data directory's lock: both work beside a
// running server (a token added is seen by the server's next start).
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "app/node.h"
#include "core/ids.h"
#include "security/audit_trail.h"
#include "security/token_attributes.h"
#include "store/postgres/pg_store.h"

namespace benhan::app {
namespace {

// "--name value" / "--name=value" options from argv[start...]; positional words are refused.
Result<std::map<std::string, std::string>> Options(int argc, char** argv, int start,
                                                   const std::vector<std::string>& known) {
  std::map<std::string, std::string> out;
  for (int i = start; i < argc; ++i) {
    std::string a = argv[i];
    std::string name = a.substr(0, a.find('='));
    if (std::find(known.begin(), known.end(), name) == known.end())
      return Status(Code::kInvalid, "unknown argument " + a);
    if (auto eq = a.find('='); eq != std::string::npos) {
      out[name] = a.substr(eq + 1);
    } else if (i + 1 < argc) {
      out[name] = argv[++i];
    } else {
      return Status(Code::kInvalid, name + " needs a value");
    }
  }
  return out;
}

Result<Config> ConfigFrom(const std::map<std::string, std::string>& o) {
  Config cfg;
  if (auto it = o.find("--config"); it != o.end()) RETURN_IF_ERROR(cfg.LoadFile(it->second));
  if (auto it = o.find("--data"); it != o.end()) cfg.data_dir = it->second;
  if (auto it = o.find("--storage"); it != o.end()) cfg.storage = it->second;
  return cfg;
}

int Fail(const char* cmd, const Status& st) {
  std::fprintf(stderr, "benhan %s: %s\n", cmd, st.message().c_str());
  return 2;
}

}  // namespace

int AuditCmd(int argc, char** argv) {
  std::string sub = argc > 2 ? argv[2] : "";
  if (sub != "verify" && sub != "checkpoint") {
    std::fprintf(stderr,
                 "usage: benhan audit verify [--data DIR] [--storage URL] [--config FILE]\n"
                 "       benhan audit checkpoint [--data DIR] [--storage URL] [--config FILE]\n");
    return 2;
  }
  auto o = Options(argc, argv, 3, {"--data", "--storage", "--config"});
  if (!o.ok()) return Fail("audit", o.status());
  auto cfg = ConfigFrom(*o);
  if (!cfg.ok()) return Fail("audit", cfg.status());
  if (!store::IsPostgresUrl(cfg->storage) &&
      !std::filesystem::exists(cfg->data_dir + "/benhan.db")) {
    return Fail("audit", Status(Code::kNotFound, "no database in " + cfg->data_dir));
  }
  auto s = OpenStore(*cfg, /*migrate=*/false);
  if (!s.ok()) return Fail("audit", s.status());
  auto key = security::SigningKey::LoadOrCreate(cfg->data_dir, sub == "checkpoint");
  if (sub == "checkpoint") {
    if (!key.ok()) return Fail("audit", key.status());
    auto w = security::WriteCheckpoint(**s, **key);
    if (!w.ok()) return Fail("audit", w.status());
    std::printf(*w ? "checkpoint written\n" : "no new audit rows since the last checkpoint\n");
    return 0;
  }
  if (!key.ok()) {
    std::fprintf(stderr, "warning: %s: checkpoint signatures are not checked\n",
                 key.status().message().c_str());
  }
  auto rep = security::VerifyAuditTrail(**s, key.ok() ? key->get() : nullptr);
  if (!rep.ok()) return Fail("audit", rep.status());
  if (!rep->intact) {
    std::printf("audit trail BROKEN at row %lld: %s\n", static_cast<long long>(rep->broken_aid),
                rep->problem.c_str());
    return 1;
  }
  std::printf(
      "audit trail intact: %lld rows chained (last row %lld), %lld signed checkpoints%s, %lld "
      "earlier rows before the chain\n",
      static_cast<long long>(rep->rows), static_cast<long long>(rep->last_aid),
      static_cast<long long>(rep->checkpoints), key.ok() ? " verified" : " (not verified)",
      static_cast<long long>(rep->legacy_rows));
  return 0;
}

int TokenCmd(int argc, char** argv) {
  std::string sub = argc > 2 ? argv[2] : "";
  if (sub != "add") {
    std::fprintf(stderr,
                 "usage: benhan token add --id ID --role ROLE [--roles A,B] [--practitioner "
                 "Practitioner/ID]\n"
                 "         [--department Organization/ID] [--patient Patient/ID] [--scopes "
                 "'patient/*.read ...'] [--data DIR]\n");
    return 2;
  }
  auto o = Options(argc, argv, 3,
                   {"--data", "--config", "--id", "--role", "--roles", "--practitioner",
                    "--department", "--patient", "--scopes"});
  if (!o.ok()) return Fail("token", o.status());
  auto cfg = ConfigFrom(*o);
  if (!cfg.ok()) return Fail("token", cfg.status());
  auto get = [&](const char* k) {
    auto it = o->find(k);
    return it == o->end() ? std::string() : it->second;
  };
  Principal p;
  p.id = get("--id");
  p.role = get("--role");
  auto no_space = [](const std::string& v) {
    return v.find_first_of(" \t\n") == std::string::npos;
  };
  if (p.id.empty() || p.role.empty() || !no_space(p.id) || !no_space(p.role)) {
    return Fail("token", Status(Code::kInvalid, "--id and --role are required (no spaces)"));
  }
  p.roles = security::SplitCommas(get("--roles"));
  p.practitioner = get("--practitioner");
  p.department = get("--department");
  p.patient = get("--patient");
  for (const std::string* v : {&p.practitioner, &p.department, &p.patient}) {
    if (!no_space(*v)) return Fail("token", Status(Code::kInvalid, "references hold no spaces"));
  }
  std::string scopes = get("--scopes");
  for (size_t i = 0; i < scopes.size();) {
    size_t sp = scopes.find(' ', i);
    std::string one = scopes.substr(i, sp == std::string::npos ? sp : sp - i);
    if (!one.empty()) p.scopes.push_back(one);
    if (sp == std::string::npos) break;
    i = sp + 1;
  }
  namespace fs = std::filesystem;
  fs::path dir = fs::path(cfg->data_dir) / "secrets";
  std::error_code ec;
  fs::create_directories(dir, ec);
  ::chmod(dir.c_str(), 0700);
  std::string token = RandomHex(32);
  fs::path file = dir / "token-hashes";
  {
    std::ofstream out(file, std::ios::app);
    if (!out) return Fail("token", Status(Code::kUnavailable, "cannot write " + file.string()));
    out << Sha256Hex(token) << ' ' << p.id << ' ' << p.role << security::TokenAttributes(p) << '\n';
    if (!out.flush())
      return Fail("token", Status(Code::kUnavailable, "cannot write " + file.string()));
  }
  ::chmod(file.c_str(), 0600);
  std::printf("%s\n", token.c_str());
  std::fprintf(stderr,
               "token for %s (role %s) added to %s; a running server sees it after a restart\n",
               p.id.c_str(), p.role.c_str(), file.c_str());
  return 0;
}

}  // namespace benhan::app
