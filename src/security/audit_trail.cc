#include "security/audit_trail.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>

#include "core/clock.h"
#include "core/ids.h"
#include "core/log.h"
#include "store/audit_chain.h"

namespace benhan::security {
namespace {

std::string Base64(const unsigned char* p, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), p, static_cast<int>(n));
  out.resize(static_cast<size_t>(len));
  return out;
}

std::string Unbase64(const std::string& s) {
  std::string out(3 * (s.size() / 4) + 3, '\0');
  int len =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  if (len < 0) return {};
  size_t pad = 0;
  if (!s.empty() && s.back() == '=') ++pad;
  if (s.size() > 1 && s[s.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(len) - pad);
  return out;
}

}  // namespace

SigningKey::~SigningKey() { EVP_PKEY_free(static_cast<EVP_PKEY*>(pkey_)); }

Result<std::shared_ptr<const SigningKey>> SigningKey::LoadOrCreate(const std::string& data_dir,
                                                                   bool create) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(data_dir) / "secrets";
  fs::path file = dir / "audit-signing.pem";
  std::shared_ptr<SigningKey> k(new SigningKey());
  EVP_PKEY* pkey = nullptr;
  if (FILE* f = std::fopen(file.c_str(), "r")) {
    pkey = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    if (pkey == nullptr)
      return Status(Code::kUnavailable, "cannot read the audit signing key " + file.string());
  } else {
    if (!create) {
      return Status(Code::kUnavailable, "no audit signing key " + file.string() +
                                            " (made by the server's first start)");
    }
    std::error_code ec;
    fs::create_directories(dir, ec);
    ::chmod(dir.c_str(), 0700);
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
    if (ctx == nullptr || EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_keygen(ctx, &pkey) <= 0) {
      EVP_PKEY_CTX_free(ctx);
      return Status(Code::kInternal, "Ed25519 key generation failed");
    }
    EVP_PKEY_CTX_free(ctx);
    std::string tmp = file.string() + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE* out = fd >= 0 ? ::fdopen(fd, "w") : nullptr;
    if (out == nullptr) {
      if (fd >= 0) ::close(fd);
      EVP_PKEY_free(pkey);
      return Status(Code::kUnavailable, "cannot write " + tmp);
    }
    bool ok = PEM_write_PrivateKey(out, pkey, nullptr, nullptr, 0, nullptr, nullptr) == 1;
    ok = std::fclose(out) == 0 && ok;
    if (!ok || std::rename(tmp.c_str(), file.c_str()) != 0) {
      EVP_PKEY_free(pkey);
      return Status(Code::kUnavailable, "cannot write " + file.string());
    }
    log::Info("audit: created the checkpoint signing key " + file.string());
  }
  k->pkey_ = pkey;
  unsigned char raw[64];
  size_t n = sizeof raw;
  if (EVP_PKEY_get_raw_public_key(pkey, raw, &n) != 1)
    return Status(Code::kInternal, "the audit signing key is not an Ed25519 key");
  k->key_id_ = Sha256Hex(std::string(reinterpret_cast<char*>(raw), n));
  return std::shared_ptr<const SigningKey>(std::move(k));
}

Result<std::string> SigningKey::Sign(const std::string& message) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned char sig[64];
  size_t n = sizeof sig;
  bool ok =
      ctx != nullptr &&
      EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, static_cast<EVP_PKEY*>(pkey_)) == 1 &&
      EVP_DigestSign(ctx, sig, &n, reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) return Status(Code::kInternal, "Ed25519 signing failed");
  return Base64(sig, n);
}

bool SigningKey::Verify(const std::string& message, const std::string& signature_b64) const {
  std::string sig = Unbase64(signature_b64);
  if (sig.size() != 64) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok =
      ctx != nullptr &&
      EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, static_cast<EVP_PKEY*>(pkey_)) == 1 &&
      EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                       reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

std::string CheckpointMessage(int64_t aid, const std::string& hash, int64_t time_us) {
  return "benhan-audit-checkpoint-v1;" + std::to_string(aid) + ";" + hash + ";" +
         std::to_string(time_us);
}

Result<bool> WriteCheckpoint(store::Store& store, const SigningKey& key) {
  ASSIGN_OR_RETURN(store::AuditHead head, store.ReadAuditHead());
  if (head.aid <= head.genesis_aid) return false;
  ASSIGN_OR_RETURN(auto cps, store.ListAuditCheckpoints());
  if (!cps.empty() && cps.back().aid >= head.aid) return false;
  store::AuditCheckpoint cp;
  cp.aid = head.aid;
  cp.hash = head.hash;
  cp.time_us = SystemClock().NowMicros();
  cp.key_id = key.key_id();
  ASSIGN_OR_RETURN(cp.signature, key.Sign(CheckpointMessage(cp.aid, cp.hash, cp.time_us)));
  RETURN_IF_ERROR(store.AppendAuditCheckpoint(cp));
  return true;
}

AuditCheckpointer::AuditCheckpointer(store::Store& store, std::shared_ptr<const SigningKey> key,
                                     int interval_seconds)
    : store_(store),
      key_(std::move(key)),
      interval_s_(interval_seconds > 0 ? interval_seconds : 300),
      thread_([this] { Run(); }) {}

AuditCheckpointer::~AuditCheckpointer() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  auto r = WriteCheckpoint(store_, *key_);
  if (!r.ok()) log::Error("audit: last checkpoint failed: " + r.status().ToString());
}

void AuditCheckpointer::Run() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    cv_.wait_for(l, std::chrono::seconds(interval_s_), [&] { return stop_; });
    if (stop_) break;
    l.unlock();
    auto r = WriteCheckpoint(store_, *key_);
    if (!r.ok()) log::Error("audit: checkpoint failed: " + r.status().ToString());
    l.lock();
  }
}

Result<VerifyReport> VerifyAuditTrail(store::Store& store, const SigningKey* key) {
  VerifyReport rep;
  ASSIGN_OR_RETURN(store::AuditHead head, store.ReadAuditHead());
  ASSIGN_OR_RETURN(auto cps, store.ListAuditCheckpoints());
  auto fail = [&](int64_t aid, std::string what) {
    rep.intact = false;
    rep.broken_aid = aid;
    rep.problem = std::move(what);
    return rep;
  };
  // Checkpoints by the row they anchor.
  std::multimap<int64_t, const store::AuditCheckpoint*> by_aid;
  for (const auto& cp : cps) {
    ++rep.checkpoints;
    if (key != nullptr) {
      if (cp.key_id != key->key_id()) {
        return fail(cp.aid, "checkpoint " + std::to_string(cp.cid) +
                                " was signed by another key (" + cp.key_id + ")");
      }
      if (!key->Verify(CheckpointMessage(cp.aid, cp.hash, cp.time_us), cp.signature)) {
        return fail(cp.aid, "checkpoint " + std::to_string(cp.cid) +
                                " has an invalid signature (altered checkpoint)");
      }
    }
    if (cp.aid > head.aid) {
      return fail(cp.aid, "checkpoint " + std::to_string(cp.cid) + " anchors row " +
                              std::to_string(cp.aid) + " but the chain ends at row " +
                              std::to_string(head.aid) + " (rows removed from the end)");
    }
    by_aid.emplace(cp.aid, &cp);
  }
  int64_t expect = 1;
  std::string prev;
  int64_t after = 0;
  while (true) {
    ASSIGN_OR_RETURN(auto rows, store.ScanAudit(after, 5000));
    if (rows.empty()) break;
    for (const auto& r : rows) {
      after = r.aid;
      if (r.aid > head.aid) break;  // appended after the head was read
      if (r.aid != expect) {
        return fail(expect, "row " + std::to_string(expect) + " is missing (deleted" +
                                (r.aid < expect ? " or renumbered" : "") + "; next row is " +
                                std::to_string(r.aid) + ")");
      }
      ++expect;
      if (r.aid <= head.genesis_aid) {
        ++rep.legacy_rows;
        continue;
      }
      bool format2 = r.aid > head.v2_after_aid;
      if (r.format != (format2 ? 2 : 1)) {
        return fail(r.aid, "row " + std::to_string(r.aid) + " is stored in chain format " +
                               std::to_string(r.format) + " where format " + (format2 ? "2" : "1") +
                               " belongs (row replaced)");
      }
      if (!format2) {
        // Format 1 rows store the previous row's hash: check the link, then the content.
        if (r.prev_hash != prev) {
          return fail(r.aid, "row " + std::to_string(r.aid) +
                                 " does not link to the row before it (prev_hash differs: rows "
                                 "reordered, replaced or removed before it)");
        }
        if (store::AuditRowHash(r.aid, r.rec, r.prev_hash) != r.hash) {
          return fail(r.aid, "row " + std::to_string(r.aid) +
                                 " was altered (its content no longer matches its hash)");
        }
      } else {
        // Format 2 rows hash their content with the previous row's hash, taken from that row.
        store::AuditDigest p, d;
        if (!prev.empty() && !store::AuditDigestFromHex(prev, &p)) {
          return fail(r.aid, "row " + std::to_string(r.aid - 1) + " has a malformed hash");
        }
        store::AuditRowDigest(r.aid, r.rec, prev.empty() ? nullptr : &p, &d);
        if (store::AuditDigestHex(d) != r.hash) {
          return fail(r.aid, "row " + std::to_string(r.aid) +
                                 " was altered, or the row before it replaced (its hash no "
                                 "longer matches its content and the previous row's hash)");
        }
      }
      auto [lo, hi] = by_aid.equal_range(r.aid);
      for (auto it = lo; it != hi; ++it) {
        if (it->second->hash != r.hash) {
          return fail(r.aid, "row " + std::to_string(r.aid) + " differs from signed checkpoint " +
                                 std::to_string(it->second->cid) + " (chain rewritten)");
        }
      }
      prev = r.hash;
      ++rep.rows;
      rep.last_aid = r.aid;
    }
    if (after >= head.aid) break;
  }
  if (expect - 1 != head.aid) {
    return fail(expect, "the chain head says the last row is " + std::to_string(head.aid) +
                            " but the rows end at " + std::to_string(expect - 1) +
                            " (rows removed from the end)");
  }
  if (head.aid > head.genesis_aid && head.hash != prev) {
    return fail(head.aid, "the chain head's hash differs from row " + std::to_string(head.aid));
  }
  // The chain is intact; every row must also be findable by the searches ("who viewed patient
  // X"): a posting deleted by hand would hide rows from them without breaking the chain.
  ASSIGN_OR_RETURN(int64_t hidden, store.FirstAuditRowUnsearchable(head.aid));
  if (hidden != 0) {
    return fail(hidden, "row " + std::to_string(hidden) +
                            " is intact but hidden from searches by patient, user or record (its "
                            "search postings were deleted)");
  }
  rep.last_aid = head.aid;
  return rep;
}

}  // namespace benhan::security
