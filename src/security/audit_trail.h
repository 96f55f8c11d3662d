// The audit trail's integrity: signed checkpoints over the hash chain the stores write
// (store/audit_chain.h), and the verifier behind `benhan audit verify`.
//
// Signing key: Ed25519 (OpenSSL), PEM in DATA/secrets/audit-signing.pem (mode 0600), made on first
// use. A checkpoint signs "benhan-audit-checkpoint-v1;<aid>;<hash>;<time_us>": whoever can write
// the database but not read DATA/secrets cannot rewrite the chain (recomputing every hash) without
// the checkpoints failing.
//
// Thread-safety: SigningKey is immutable after loading and safe from any thread; the
// AuditCheckpointer runs its own thread. Errors: kUnavailable (key file), store errors.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/status.h"
#include "store/store.h"

namespace benhan::security {

class SigningKey {
 public:
  // Loads DATA/secrets/audit-signing.pem, creating it if absent and `create` is true.
  static Result<std::shared_ptr<const SigningKey>> LoadOrCreate(const std::string& data_dir,
                                                                bool create);
  ~SigningKey();
  SigningKey(const SigningKey&) = delete;
  SigningKey& operator=(const SigningKey&) = delete;
  // Base64 Ed25519 signature of `message`.
  Result<std::string> Sign(const std::string& message) const;
  bool Verify(const std::string& message, const std::string& signature_b64) const;
  // SHA-256 (hex) of the raw public key.
  const std::string& key_id() const { return key_id_; }

 private:
  SigningKey() = default;
  void* pkey_ = nullptr;  // EVP_PKEY*
  std::string key_id_;
};

std::string CheckpointMessage(int64_t aid, const std::string& hash, int64_t time_us);

// Signs the chain head if it moved since the last checkpoint. Returns true if one was written.
Result<bool> WriteCheckpoint(store::Store& store, const SigningKey& key);

// Writes a checkpoint every `interval_seconds` (when the chain moved) and once more when stopped.
class AuditCheckpointer {
 public:
  AuditCheckpointer(store::Store& store, std::shared_ptr<const SigningKey> key,
                    int interval_seconds);
  ~AuditCheckpointer();  // writes a last checkpoint

 private:
  void Run();
  store::Store& store_;
  std::shared_ptr<const SigningKey> key_;
  int interval_s_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

struct VerifyReport {
  bool intact = true;
  int64_t rows = 0;         // chained rows checked
  int64_t legacy_rows = 0;  // rows from before the chain (schema < 3), not covered
  int64_t checkpoints = 0;  // signed checkpoints checked
  int64_t last_aid = 0;
  int64_t broken_aid = 0;  // first broken link (when !intact)
  std::string problem;     // what is wrong there
};

// Walks the whole chain: aids consecutive, each row's hash recomputed from its content and the
// previous row's hash (format 1 rows also store that previous hash: it must match), each row in
// the format its position calls for (AuditHead::v2_after_aid), the head matching the last row,
// every checkpoint signed by `key` (null: signatures not checked) and naming a row with that hash.
// Stops at the first break.
Result<VerifyReport> VerifyAuditTrail(store::Store& store, const SigningKey* key);

}  // namespace benhan::security
