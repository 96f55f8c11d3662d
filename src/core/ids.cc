#include "core/ids.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <stdexcept>

namespace benhan {
namespace {
const char kHex[] = "0123456789abcdef";

// The process id, read once and refreshed in a forked child (glibc no longer caches getpid()).
std::atomic<pid_t> g_pid{0};
pid_t CachedPid() {
  pid_t p = g_pid.load(std::memory_order_relaxed);
  if (p != 0) return p;
  static std::once_flag once;
  std::call_once(once, [] { pthread_atfork(nullptr, nullptr, [] { g_pid.store(getpid()); }); });
  p = getpid();
  g_pid.store(p);
  return p;
}
void FillDirect(unsigned char* buf, size_t n) {
  if (RAND_bytes(buf, static_cast<int>(n)) != 1) throw std::runtime_error("RAND_bytes failed");
}

// Small requests (ids) are served from a per-thread block of RAND_bytes output: every RAND_bytes
// call costs a getpid() system call (OpenSSL's fork check), one per new resource otherwise. The
// bytes are the same CSPRNG output, used once each. A forked child must not reuse its parent's
// block, so the block remembers the process that filled it.
void Fill(unsigned char* buf, size_t n) {
  constexpr size_t kBlock = 4096;
  if (n > kBlock / 8) return FillDirect(buf, n);
  struct Pool {
    unsigned char bytes[kBlock];
    size_t used = kBlock;
    pid_t owner = 0;
  };
  thread_local Pool pool;
  if (pool.used + n > kBlock || pool.owner != CachedPid()) {
    FillDirect(pool.bytes, kBlock);
    pool.used = 0;
    pool.owner = CachedPid();
  }
  std::memcpy(buf, pool.bytes + pool.used, n);
  OPENSSL_cleanse(pool.bytes + pool.used, n);
  pool.used += n;
}
}  // namespace

std::string NewUuid() {
  unsigned char b[16];
  Fill(b, sizeof b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 15]);
  }
  return out;
}

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  Fill(reinterpret_cast<unsigned char*>(raw.data()), bytes);
  std::string out;
  for (unsigned char c : raw) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

void Sha256(std::string_view data, unsigned char out[32]) {
  // SHA-256 fetched once and one digest context per thread: with OpenSSL 3, EVP_Digest with
  // EVP_sha256() fetches the implementation from the provider store on every call (a shared lock
  // and a context allocation), and this runs for every request's bearer token and audit row.
  static EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  struct Ctx {
    EVP_MD_CTX* c = EVP_MD_CTX_new();
    ~Ctx() { EVP_MD_CTX_free(c); }
  };
  thread_local Ctx ctx;
  unsigned int len = 0;
  if (kSha256 == nullptr || ctx.c == nullptr || !EVP_DigestInit_ex(ctx.c, kSha256, nullptr) ||
      !EVP_DigestUpdate(ctx.c, data.data(), data.size()) || !EVP_DigestFinal_ex(ctx.c, out, &len)) {
    EVP_Digest(data.data(), data.size(), out, &len, EVP_sha256(), nullptr);
  }
}

std::string ToHex(const unsigned char* p, size_t n) {
  std::string out(2 * n, '\0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[p[i] >> 4];
    out[2 * i + 1] = kHex[p[i] & 15];
  }
  return out;
}

std::string Sha256Hex(const std::string& data) {
  unsigned char md[32];
  Sha256(data, md);
  return ToHex(md, sizeof md);
}

}  // namespace benhan
