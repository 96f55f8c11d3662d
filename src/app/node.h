// Node: one running benhan instance's parts, wired together: definitions, store, validator,
// indexer, audit log, resource service and authenticator. Used by `benhan serve`, `benhan import`
// and the tests, so all run the same code.
//
// Ownership: Node owns everything it opens; destroy it to flush the audit log and close the store.
// Thread-safety: the parts are thread-safe; Open/destruction from one thread.
#pragma once

#include <memory>
#include <string>

#include "api/http_server.h"
#include "core/config.h"
#include "core/status.h"
#include "fhir/definitions.h"
#include "fhir/indexer.h"
#include "fhir/validator.h"
#include "security/audit_trail.h"
#include "security/auth.h"
#include "service/audit_log.h"
#include "service/resource_service.h"
#include "store/store.h"
#include "terminology/terminology_service.h"

namespace benhan::app {

class Node {
 public:
  // Creates the data directory if needed, takes its lock (one process per data directory), opens
  // the store (creating and migrating it). Errors: kUnavailable (directory or lock), store errors.
  static Result<std::unique_ptr<Node>> Open(const Config& config);
  ~Node();

  const Config& config() const { return config_; }
  std::shared_ptr<const fhir::Definitions> defs() const { return defs_; }
  store::Store& store() { return *store_; }
  service::ResourceService& service() { return *service_; }
  service::AuditLog& audit() { return *audit_; }
  terminology::TerminologyService& terminology() { return *terminology_; }

 private:
  Node() = default;
  Config config_;
  int lock_fd_ = -1;
  std::shared_ptr<const fhir::Definitions> defs_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<fhir::Validator> validator_;
  std::unique_ptr<fhir::Indexer> indexer_;
  std::unique_ptr<service::AuditLog> audit_;
  std::unique_ptr<security::AuditCheckpointer> checkpointer_;
  std::unique_ptr<service::ResourceService> service_;
  std::unique_ptr<terminology::TerminologyService> terminology_;
};

// Opens the store `config` names: SQLite in config.data_dir, or PostgreSQL at config.storage
// (postgresql://...) with config's replicas, pool and timeout. `migrate`: apply pending schema
// migrations (PostgreSQL; SQLite always migrates). Errors: the backend's Open errors, kNotSupported
// for an unknown storage.
Result<std::unique_ptr<store::Store>> OpenStore(const Config& config, bool migrate = true);

// The HTTP server's options from the config (limits, rate limits, TLS context from tls.cert and
// tls.key); host, port and threads are left to the caller. Errors: kInvalid naming the config key
// and file (unreadable certificate, key not matching...), meant to stop start-up.
Result<api::HttpServerOptions> HttpOptionsFromConfig(const Config& config);

// `benhan audit verify|checkpoint ...` and `benhan token add ...` (audit_cli.cc). Exit status:
// 0 success (verify: the chain is intact), 1 verify found a broken link, 2 usage or other error.
int AuditCmd(int argc, char** argv);
int TokenCmd(int argc, char** argv);

// `benhan terminology import ...` (terminology_cli.cc); argv[1] is "terminology". Exit status.
int TerminologyCmd(int argc, char** argv);

// Loads the built-in demo population (Vietnamese patients with encounters, diagnoses, vital signs)
// if the store holds no Patient yet. Returns the number of resources loaded.
Result<int> LoadDemoData(Node& node);

}  // namespace benhan::app
