#include "app/node.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>

#include "store/sqlite/sqlite_store.h"

namespace benhan::app {

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
  if (config.storage != "sqlite") {
    return Status(Code::kNotSupported,
                  "storage '" + config.storage + "' is not available in this build (use sqlite)");
  }
  store::SqliteOptions so;
  so.path = config.data_dir + "/benhan.db";
  so.readers = config.sqlite_readers;
  so.cache_mib = static_cast<int>(config.sqlite_cache_mib);
  ASSIGN_OR_RETURN(n->store_, store::OpenSqliteStore(so));
  n->validator_ = std::make_unique<fhir::Validator>(n->defs_);
  ASSIGN_OR_RETURN(n->indexer_, fhir::Indexer::Create(n->defs_));
  n->audit_ = std::make_unique<service::AuditLog>(*n->store_);
  n->service_ = std::make_unique<service::ResourceService>(n->defs_, *n->store_, *n->validator_,
                                                           *n->indexer_, *n->audit_, n->config_);
  return n;
}

Node::~Node() {
  service_.reset();
  audit_.reset();  // flushes
  store_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

}  // namespace benhan::app
