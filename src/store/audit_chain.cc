#include "store/audit_chain.h"

#include "core/ids.h"

namespace benhan::store {
namespace {

void Field(std::string& out, std::string_view v) {
  out += ';';
  out += std::to_string(v.size());
  out += ':';
  out.append(v.data(), v.size());
}

void PutLe(std::string& out, uint64_t v, int bytes) {
  char b[8];
  for (int i = 0; i < bytes; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out.append(b, static_cast<size_t>(bytes));
}

void PutBytes(std::string& out, std::string_view v) {
  PutLe(out, v.size(), 4);
  out.append(v.data(), v.size());
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

void AuditRowDigest(int64_t aid, const AuditRecord& r, const AuditDigest* prev, AuditDigest* out) {
  static constexpr std::string_view kMagic{"benhan-audit-v2\0", 16};
  thread_local std::string buf;
  buf.clear();
  buf.append(kMagic);
  PutLe(buf, static_cast<uint64_t>(aid), 8);
  PutLe(buf, static_cast<uint64_t>(r.time_us), 8);
  PutLe(buf, static_cast<uint64_t>(r.version), 8);
  PutLe(buf, static_cast<uint32_t>(r.status), 4);
  PutBytes(buf, r.principal);
  PutBytes(buf, r.action);
  PutBytes(buf, r.type);
  PutBytes(buf, r.id);
  PutBytes(buf, r.remote);
  PutBytes(buf, r.detail);
  PutBytes(buf, r.patient);
  PutBytes(buf, r.flags);
  if (prev == nullptr) {
    buf += '\0';
  } else {
    buf += static_cast<char>(prev->size());
    buf.append(reinterpret_cast<const char*>(prev->data()), prev->size());
  }
  Sha256(buf, out->data());
}

std::string AuditDigestHex(const AuditDigest& d) { return ToHex(d.data(), d.size()); }

bool AuditDigestFromHex(std::string_view hex, AuditDigest* out) {
  if (hex.size() != 2 * out->size()) return false;
  for (size_t i = 0; i < out->size(); ++i) {
    int hi = HexValue(hex[2 * i]), lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return true;
}

std::string AuditCanonical(int64_t aid, const AuditRecord& r, const std::string& prev_hash) {
  std::string out = "benhan-audit-v1";
  out.reserve(128 + r.detail.size() + r.principal.size() + r.id.size());
  Field(out, std::to_string(aid));
  Field(out, std::to_string(r.time_us));
  Field(out, r.principal);
  Field(out, r.action);
  Field(out, r.type);
  Field(out, r.id);
  Field(out, std::to_string(r.version));
  Field(out, std::to_string(r.status));
  Field(out, r.remote);
  Field(out, r.detail);
  Field(out, r.patient);
  Field(out, r.flags);
  Field(out, prev_hash);
  return out;
}

std::string AuditRowHash(int64_t aid, const AuditRecord& r, const std::string& prev_hash) {
  return Sha256Hex(AuditCanonical(aid, r, prev_hash));
}

}  // namespace benhan::store
