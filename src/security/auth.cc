#include "security/auth.h"

#include <openssl/crypto.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "core/ids.h"
#include "security/token_attributes.h"

namespace benhan::security {
namespace {

class DemoAuthenticator final : public Authenticator {
 public:
  Result<Principal> Authenticate(std::string_view) const override {
    Principal p;
    p.id = p.role = "demo";
    p.all_access = true;
    return p;
  }
  bool open() const override { return true; }
};

Status WriteSecretFile(const std::filesystem::path& p, const std::string& content) {
  std::string tmp = p.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return Status(Code::kUnavailable, "cannot write " + tmp);
    out << content;
    out.flush();
    if (!out) return Status(Code::kUnavailable, "cannot write " + tmp);
  }
  if (::chmod(tmp.c_str(), 0600) != 0) return Status(Code::kUnavailable, "cannot chmod " + tmp);
  std::error_code ec;
  std::filesystem::rename(tmp, p, ec);
  if (ec) return Status(Code::kUnavailable, "cannot rename " + tmp + ": " + ec.message());
  return Status::Ok();
}

}  // namespace

std::unique_ptr<Authenticator> MakeDemoAuthenticator() {
  return std::make_unique<DemoAuthenticator>();
}

Result<std::unique_ptr<TokenAuthenticator>> TokenAuthenticator::Open(const std::string& data_dir,
                                                                     std::string* created_path) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(data_dir) / "secrets";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status(Code::kUnavailable, "cannot create " + dir.string() + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  std::unique_ptr<TokenAuthenticator> a(new TokenAuthenticator());
  fs::path hashes = dir / "token-hashes";
  std::string content;
  if (std::ifstream in(hashes); in) {
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      std::string hash, id, role;
      if (ls >> hash >> id >> role) {
        Principal p;
        p.id = id;
        p.role = role;
        p.all_access = role == "admin";
        ApplyTokenAttributes(ls, p);  // roles=, practitioner=, scopes=... (token_attributes.h)
        a->by_hash_[hash] = std::move(p);
      }
      content += line + "\n";
    }
  }
  bool has_admin = false;
  for (const auto& [h, p] : a->by_hash_) has_admin = has_admin || p.role == "admin";
  if (!has_admin) {
    std::string token = RandomHex(32);
    std::string hash = Sha256Hex(token);
    RETURN_IF_ERROR(WriteSecretFile(dir / "admin.token", token + "\n"));
    content += hash + " admin admin\n";
    RETURN_IF_ERROR(WriteSecretFile(hashes, content));
    Principal p;
    p.id = p.role = "admin";
    p.all_access = true;
    a->by_hash_[hash] = std::move(p);
    if (created_path) *created_path = (dir / "admin.token").string();
  }
  return a;
}

Result<Principal> TokenAuthenticator::Authenticate(std::string_view authorization) const {
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size() ||
      !std::equal(kBearer.begin(), kBearer.end(), authorization.begin(),
                  [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
    return Status(Code::kUnauthenticated,
                  "authentication required: send 'Authorization: Bearer <token>'");
  }
  std::string token(authorization.substr(kBearer.size()));
  while (!token.empty() && (token.back() == ' ' || token.back() == '\r')) token.pop_back();
  if (auto p = Remembered(token)) return std::move(*p);
  std::string hash = Sha256Hex(token);
  if (auto p = FindHashed(std::move(token), hash)) return std::move(*p);
  return Status(Code::kUnauthenticated, "unknown or revoked bearer token");
}

std::optional<Principal> TokenAuthenticator::Remembered(const std::string& token) const {
  std::shared_lock<std::shared_mutex> l(seen_mu_);
  auto seen = seen_.find(token);
  if (seen == seen_.end()) return std::nullopt;
  return *seen->second;
}

std::optional<Principal> TokenAuthenticator::FindHashed(std::string token,
                                                        const std::string& hash) const {
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return std::nullopt;
  std::unique_lock<std::shared_mutex> l(seen_mu_);
  if (seen_.size() < kSeenMax) seen_.emplace(std::move(token), &it->second);
  return it->second;
}

bool SameTokenBytes::operator()(const std::string& a, const std::string& b) const {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace benhan::security
