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

}  // namespace

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
