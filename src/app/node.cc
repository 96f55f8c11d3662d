#include "app/node.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/tls.h"
#include "security/audit_trail.h"
#include "security/policy.h"
#include "store/postgres/pg_store.h"
#include "store/sqlite/sqlite_store.h"
#include "terminology/hierarchy.h"
#include "terminology/write_checks.h"

namespace benhan::app {

Result<std::unique_ptr<store::Store>> OpenStore(const Config& config, bool migrate) {
  if (store::IsPostgresUrl(config.storage)) {
    store::PostgresOptions po;
    po.url = config.storage;
    std::string list = config.pg_replicas;
    for (size_t start = 0; start < list.size();) {
      size_t comma = list.find(',', start);
      std::string url = list.substr(start, comma == std::string::npos ? comma : comma - start);
      url.erase(0, url.find_first_not_of(" \t"));
      url.erase(url.find_last_not_of(" \t") + 1);
      if (!url.empty()) po.replica_urls.push_back(url);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    po.pool_size = config.pg_pool;
    po.statement_timeout_ms = config.pg_statement_timeout_ms;
    po.migrate = migrate;
    return store::OpenPostgresStore(po);
  }
  if (config.storage != "sqlite") {
    return Status(Code::kNotSupported,
                  "storage '" + config.storage + "' is not supported (sqlite or postgresql://...)");
  }
  store::SqliteOptions so;
  so.path = config.data_dir + "/benhan.db";
  so.readers = config.sqlite_readers;
  so.cache_mib = static_cast<int>(config.sqlite_cache_mib);
  so.page_size = config.sqlite_page_size;
  so.mmap_mib = config.sqlite_mmap_mib;
  so.compress_after = config.sqlite_compress_after;
  return store::OpenSqliteStore(so);
}

Result<api::HttpServerOptions> HttpOptionsFromConfig(const Config& c) {
  api::HttpServerOptions o;
  o.max_body_bytes = c.max_body_bytes;
  o.max_header_bytes = c.max_header_bytes;
  o.max_headers = c.max_headers;
  o.header_timeout_seconds = c.header_timeout_s;
  o.idle_timeout_seconds = c.http_idle_timeout_s;
  o.rate_ip_per_second = c.rate_ip_per_s;
  o.rate_ip_burst = c.rate_ip_burst;
  o.rate_token_per_second = c.rate_token_per_s;
  o.rate_token_burst = c.rate_token_burst;
  o.rate_limit_loopback = c.rate_limit_loopback;
  if (!c.tls_cert.empty() || !c.tls_key.empty()) {
    tls::ServerFiles f;
    f.cert = c.tls_cert;
    f.key = c.tls_key;
    f.key_prefix = "tls";
    ASSIGN_OR_RETURN(o.tls, tls::MakeServerContext(f));
  }
  return o;
}

Result<std::unique_ptr<Node>> Node::Open(const Config& config) {
  std::unique_ptr<Node> n(new Node());
  n->config_ = config;
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec)
    return Status(Code::kUnavailable,
                  "cannot create data directory " + config.data_dir + ": " + ec.message());
  std::string lock_path = config.data_dir + "/benhan.lock";
  n->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (n->lock_fd_ < 0) return Status(Code::kUnavailable, "cannot open " + lock_path);
  if (::flock(n->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return Status(Code::kUnavailable, "data directory " + config.data_dir +
                                          " is in use by another benhan process (lock " +
                                          lock_path + ")");
  }
  ASSIGN_OR_RETURN(n->defs_, fhir::Definitions::LoadEmbedded());
  ASSIGN_OR_RETURN(n->store_, OpenStore(config));
  n->validator_ = std::make_unique<fhir::Validator>(n->defs_);
  ASSIGN_OR_RETURN(n->indexer_, fhir::Indexer::Create(n->defs_));
  n->audit_ = std::make_unique<service::AuditLog>(*n->store_);
  n->service_ = std::make_unique<service::ResourceService>(n->defs_, *n->store_, *n->validator_,
                                                           *n->indexer_, *n->audit_, n->config_);
  n->terminology_ = std::make_unique<terminology::TerminologyService>(*n->store_);
  RETURN_IF_ERROR(n->terminology_->Load());
  terminology::AddWriteChecks(*n->service_, *n->terminology_, *n->store_, n->config_);
  n->service_->SetCodeHierarchy(
      std::make_shared<terminology::TerminologyHierarchy>(*n->terminology_));
  // Access policy (every interaction) and signed checkpoints of the audit hash chain.
  std::string policy = security::BuiltinPolicyJson();
  if (!config.security_policy.empty()) {
    std::ifstream in(config.security_policy);
    if (!in) return Status(Code::kInvalid, "cannot read security.policy " + config.security_policy);
    policy.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  auto loaded = security::Policy::Load(policy, *n->store_, n->defs_, *n->audit_);
  if (!loaded.ok()) return Status(loaded.status()).WithContext(config.security_policy);
  n->service_->SetAccessPolicy(*loaded);
  ASSIGN_OR_RETURN(auto key, security::SigningKey::LoadOrCreate(config.data_dir, true));
  n->checkpointer_ = std::make_unique<security::AuditCheckpointer>(*n->store_, std::move(key),
                                                                   config.audit_checkpoint_seconds);
  return n;
}

Node::~Node() {
  service_.reset();
  terminology_.reset();
  audit_.reset();         // flushes
  checkpointer_.reset();  // signs the chain's last row
  store_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

}  // namespace benhan::app
