#include "service/resource_service.h"

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <boost/url/decode_view.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "core/clock.h"
#include "core/ids.h"
#include "fhir/fhirpath/fhirpath.h"
#include "fhir/json_patch.h"
#include "fhir/resource.h"
#include "service/value_sets.h"

namespace json = boost::json;

namespace benhan::service {
namespace {

std::string_view StrField(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

std::string Decode(std::string_view s) {
  std::string plus(s);
  for (char& c : plus) {
    if (c == '+') c = ' ';
  }
  auto r = boost::urls::make_pct_string_view(plus);
  if (!r) return plus;
  std::string out;
  out.reserve(plus.size());
  for (char c : boost::urls::decode_view(*r)) out.push_back(c);
  return out;
}

bool IsValidId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.')) return false;
  }
  return true;
}

// "Type/id/_history/n" etc. parsed from a Bundle entry request.url (relative to the base).
struct EntryUrl {
  std::string type;
  std::string id;
  std::string rest;   // after id: "_history/2" or "$op"
  std::string query;  // after '?'
};

EntryUrl ParseEntryUrl(std::string_view url, std::string_view base) {
  EntryUrl u;
  if (!base.empty() && url.substr(0, base.size()) == base) url.remove_prefix(base.size());
  while (!url.empty() && url.front() == '/') url.remove_prefix(1);
  if (auto q = url.find('?'); q != std::string_view::npos) {
    u.query = std::string(url.substr(q + 1));
    url = url.substr(0, q);
  }
  auto slash = url.find('/');
  u.type = std::string(url.substr(0, slash));
  if (slash != std::string_view::npos) {
    std::string_view rest = url.substr(slash + 1);
    auto s2 = rest.find('/');
    u.id = std::string(rest.substr(0, s2));
    if (s2 != std::string_view::npos) u.rest = std::string(rest.substr(s2 + 1));
  }
  return u;
}

// Applies `fn` to every "reference" string in the JSON tree.
template <typename Fn>
Status ForEachReference(json::value& v, Fn&& fn) {
  if (v.is_object()) {
    for (auto& kv : v.get_object()) {
      if (kv.key() == "reference" && kv.value().is_string()) {
        RETURN_IF_ERROR(fn(kv.value().get_string()));
      } else if (kv.value().is_structured()) {
        RETURN_IF_ERROR(ForEachReference(kv.value(), fn));
      }
    }
  } else if (v.is_array()) {
    for (auto& e : v.get_array()) {
      if (e.is_structured()) RETURN_IF_ERROR(ForEachReference(e, fn));
    }
  }
  return Status::Ok();
}

bool IsConditionalReference(std::string_view ref) {
  auto q = ref.find('?');
  if (q == std::string_view::npos) return false;
  auto slash = ref.find('/');
  return slash == std::string_view::npos || slash > q;
}

std::string StatusLine(int code) {
  switch (code) {
    case 200:
      return "200 OK";
    case 201:
      return "201 Created";
    case 204:
      return "204 No Content";
    case 304:
      return "304 Not Modified";
    case 400:
      return "400 Bad Request";
    case 404:
      return "404 Not Found";
    case 409:
      return "409 Conflict";
    case 410:
      return "410 Gone";
    case 412:
      return "412 Precondition Failed";
    case 422:
      return "422 Unprocessable Entity";
    default:
      return std::to_string(code);
  }
}

// Version timestamps never go backwards, even if the system clock does (history scans rely on
// last_updated rising with the change sequence). Taken inside the write transaction.
std::atomic<int64_t> g_last_stamp{0};  // last timestamp handed out

int64_t MonotonicNowMicros() {
  std::atomic<int64_t>& last = g_last_stamp;
  int64_t now = SystemClock().NowMicros();
  int64_t prev = last.load();
  while (true) {
    int64_t next = now > prev ? now : prev + 1;
    if (last.compare_exchange_weak(prev, next)) return next;
  }
}

}  // namespace

Params ParseQueryString(std::string_view qs) {
  Params out;
  while (!qs.empty()) {
    auto amp = qs.find('&');
    std::string_view part = qs.substr(0, amp);
    if (!part.empty()) {
      auto eq = part.find('=');
      out.emplace_back(Decode(part.substr(0, eq)),
                       eq == std::string_view::npos ? "" : Decode(part.substr(eq + 1)));
    }
    if (amp == std::string_view::npos) break;
    qs.remove_prefix(amp + 1);
  }
  return out;
}

std::string EncodeQueryString(const Params& p) {
  std::string out;
  static constexpr auto kSafe = boost::urls::unreserved_chars + ':' + ',' + '|' + '/';
  for (const auto& [k, v] : p) {
    if (!out.empty()) out += '&';
    out += boost::urls::encode(k, kSafe);
    out += '=';
    out += boost::urls::encode(v, kSafe);
  }
  return out;
}

ResourceService::ResourceService(std::shared_ptr<const fhir::Definitions> defs, store::Store& store,
                                 const fhir::Validator& validator, const fhir::Indexer& indexer,
                                 AuditLog& audit, const Config& config)
    : defs_(std::move(defs)),
      store_(store),
      validator_(validator),
      indexer_(indexer),
      audit_(audit),
      config_(config),
      committer_(store),
      compartment_(*defs_) {}

Status ResourceService::CheckType(const RequestContext& ctx, Interaction i,
                                  const std::string& type) const {
  if (policy_ == nullptr) return Status::Ok();
  return policy_->CheckType(ctx, i, type);
}

Status ResourceService::CheckPut(const RequestContext& ctx, const std::string& type) const {
  // A PUT updates, creates (update as create) or restores (a deleted id): which one is known under
  // the write lock (WriteVersion checks it exactly); here, any of them.
  Status st = CheckType(ctx, Interaction::kUpdate, type);
  if (st.ok() || CheckType(ctx, Interaction::kRestore, type).ok() ||
      CheckType(ctx, Interaction::kCreate, type).ok())
    return Status::Ok();
  return st;
}

AccessDecision ResourceService::CheckObject(const RequestContext& ctx, Interaction i,
                                            const std::string& type,
                                            const json::object& resource) const {
  if (Restricted(ctx)) return policy_->CheckResource(ctx, i, type, resource);
  AccessDecision d;
  auto patients = compartment_.PatientsOf(type, resource);
  if (!patients.empty()) d.patient = patients[0];
  return d;
}

AccessDecision ResourceService::CheckJson(const RequestContext& ctx, Interaction i,
                                          const std::string& type, const std::string& id,
                                          const std::string& text, int64_t seq) const {
  const bool restricted = Restricted(ctx);
  if (!restricted) {
    AccessDecision d;
    if (audit_.discarding()) return d;  // the patient is only wanted for the audit row
    if (type == "Patient") {
      d.patient = id;  // no need to parse
      return d;
    }
    if (!compartment_.IsPatientData(type) || text.empty()) return d;
    if (seq == 0) {
      // Only the audit row's patient is wanted: a scan that stops at the first one. (A stored
      // version's patients are scanned once and remembered below: restricted principals need
      // them all.)
      auto first = compartment_.FirstPatientOfStored(type, text);
      if (!first.ok()) {
        d.status = Status(Code::kInternal, "stored " + type + "/" + id + " is not a JSON object");
        return d;
      }
      d.patient = std::move(*first);
      return d;
    }
  } else if (text.empty()) {
    return CheckObject(ctx, i, type, json::object());
  }
  // The patients straight from the text (a scan, no DOM, no validation: the text was validated
  // when written), or remembered for a stored version: this runs for every read and search match.
  auto patients =
      seq > 0 ? PatientsOfVersion(type, text, seq) : compartment_.PatientsOfStored(type, text);
  if (!patients.ok()) {
    AccessDecision d;
    d.status = Status(Code::kInternal, "stored " + type + "/" + id + " is not a JSON object");
    return d;
  }
  if (restricted) return policy_->CheckPatients(ctx, i, type, std::move(*patients));
  AccessDecision d;
  if (!patients->empty()) d.patient = std::move(patients->front());
  return d;
}

Result<std::vector<std::string>> ResourceService::PatientsOfVersion(const std::string& type,
                                                                    const std::string& text,
                                                                    int64_t seq) const {
  if (auto known = versions_.Get(seq)) return std::move(*known);
  ASSIGN_OR_RETURN(auto patients, compartment_.PatientsOfStored(type, text));
  versions_.Put(seq, patients);
  return patients;
}

Status ResourceService::CheckResource(const json::value& body, const std::string& type) const {
  if (!body.is_object())
    return Status(Code::kInvalid, "the body must be a JSON object (a FHIR resource)");
  std::string_view rt = StrField(body.get_object(), "resourceType");
  if (rt.empty()) return Status(Code::kInvalid, "the resource has no resourceType", "resourceType");
  if (!type.empty() && rt != type) {
    return Status(
        Code::kInvalid,
        "resourceType '" + std::string(rt) + "' does not match the URL's type '" + type + "'",
        "resourceType");
  }
  if (!defs_->IsResourceType(rt)) {
    return Status(Code::kNotSupported, "'" + std::string(rt) + "' is not a FHIR R4 resource type",
                  "resourceType");
  }
  return Status::Ok();
}

Status ResourceService::Validate(const json::value& body) const {
  if (config_.validate_on_write) RETURN_IF_ERROR(validator_.Validate(body));
  for (const auto& c : checks_)
    if (body.is_object()) RETURN_IF_ERROR(c->Check(body.get_object()));
  return Status::Ok();
}

Status ResourceService::ResolveQuery(const std::string& type, store::Query& query) const {
  RETURN_IF_ERROR(ExpandCodeHierarchyModifiers(query.all_of, hierarchy_.get()));
  RETURN_IF_ERROR(ExpandValueSetModifiers(query.all_of, store_, *defs_, hierarchy_.get()));
  return ApplyParamAliases(query, type, indexer_);
}

Result<std::vector<std::string>> ResourceService::FindIdsIn(store::Transaction& txn,
                                                            const std::string& type,
                                                            const Params& query) {
  if (query.empty())
    return Status(Code::kInvalid, "a conditional operation needs search parameters");
  ASSIGN_OR_RETURN(ParsedSearch ps, ParseSearch(type, query, *defs_, /*strict=*/true, 2, 2));
  RETURN_IF_ERROR(ResolveQuery(type, ps.query));
  return txn.FindIds(type, ps.query, 2);
}

ResourceService::Prestamped ResourceService::Prestamp(const json::object& body,
                                                      const std::string& id) {
  Prestamped p;
  p.json = fhir::SerializeStamped(body, id, 1, SystemClock().NowMicros(), &p.last_updated_offset);
  return p;
}

Result<WriteOutcome> ResourceService::WriteVersion(
    store::Transaction& txn, const RequestContext& ctx, const std::string& type,
    const std::string& id, const json::object& body, const fhir::IndexEntries& index,
    std::optional<int64_t> if_match, const std::string& method, const std::string& action,
    Prestamped* pre) {
  ASSIGN_OR_RETURN(std::optional<store::CurrentInfo> cur, txn.LockCurrent(type, id));
  // Access policy: restoring a deleted resource is its own permission; an update must be allowed
  // on the version it replaces (no moving a record away from a patient one may not see) and on the
  // new content.
  Interaction what = !cur           ? Interaction::kCreate
                     : cur->deleted ? Interaction::kRestore
                                    : Interaction::kUpdate;
  RETURN_IF_ERROR(CheckType(ctx, what, type));
  bool break_glass = false;
  if (what == Interaction::kUpdate && Restricted(ctx)) {
    ASSIGN_OR_RETURN(store::VersionRecord old, txn.Read(type, id));
    AccessDecision od = CheckJson(ctx, what, type, id, old.json);
    RETURN_IF_ERROR(od.status);
    break_glass = od.break_glass;
  }
  AccessDecision decision = CheckObject(ctx, what, type, body);
  RETURN_IF_ERROR(decision.status);
  break_glass = break_glass || decision.break_glass;
  if (if_match) {
    int64_t have = cur ? cur->version : 0;
    if (have != *if_match) {
      return Status(Code::kPreconditionFailed,
                    "version conflict: " + type + "/" + id + " is at version " +
                        std::to_string(have) + ", If-Match asked for " + std::to_string(*if_match));
    }
  }
  store::NewVersion nv;
  nv.type = type;
  nv.id = id;
  nv.version = cur ? cur->version + 1 : 1;
  nv.method = method;
  nv.deleted = false;
  // Timestamps rise with the change sequence: they are taken here, under the write lock. A
  // prestamped new resource only has its lastUpdated text overwritten (fixed width).
  nv.last_updated_us = MonotonicNowMicros();
  if (pre != nullptr && !pre->json.empty() && !cur &&
      pre->last_updated_offset + 27 < pre->json.size()) {
    nv.json = std::move(pre->json);
    nv.json.replace(pre->last_updated_offset, 27,
                    FormatInstant(nv.last_updated_us));  // fixed width
  } else {
    nv.json = fhir::SerializeStamped(body, id, nv.version, nv.last_updated_us);
  }
  nv.index = &index;
  ASSIGN_OR_RETURN(int64_t seq, txn.Put(nv));
  RETURN_IF_ERROR(txn.Audit(store::AuditRecord{
      nv.last_updated_us, ctx.principal, what == Interaction::kRestore ? "restore" : action, type,
      id, nv.version, (cur && !cur->deleted) ? 200 : 201, ctx.remote,
      break_glass ? "break-glass: " + ctx.break_glass : std::string(), decision.patient,
      break_glass ? "btg" : ""}));
  WriteOutcome out;
  out.http_status = (cur && !cur->deleted) ? 200 : 201;
  out.record = store::VersionRecord{type,  id,     nv.version,        seq, nv.last_updated_us,
                                    false, method, std::move(nv.json)};
  return out;
}

Result<WriteOutcome> ResourceService::RunWrite(
    const std::function<Result<WriteOutcome>(store::Transaction&)>& work) {
  Result<WriteOutcome> result = Status(Code::kInternal, "not run");
  Status st = committer_.Run([&](store::Transaction& txn) -> Status {
    result = work(txn);
    return result.status();
  });
  if (!st.ok()) return st;
  if (policy_ && result.ok() && !result->record.type.empty()) policy_->OnWrite(result->record.type);
  return result;
}

Result<store::VersionRecord> ResourceService::WriteTombstone(
    store::Transaction& txn, const RequestContext& ctx, const std::string& type,
    const std::string& id, int64_t current_version, const std::string& detail) {
  // The version being cancelled must be one the principal may see (and name its patient).
  ASSIGN_OR_RETURN(store::VersionRecord old, txn.Read(type, id));
  AccessDecision decision = CheckJson(ctx, Interaction::kDelete, type, id, old.json);
  RETURN_IF_ERROR(decision.status);
  store::NewVersion nv;
  nv.type = type;
  nv.id = id;
  nv.version = current_version + 1;
  nv.last_updated_us = MonotonicNowMicros();
  nv.method = "DELETE";
  nv.deleted = true;
  ASSIGN_OR_RETURN(int64_t seq, txn.Put(nv));
  std::string why = detail;
  if (decision.break_glass) why += (why.empty() ? "" : "; ") + ("break-glass: " + ctx.break_glass);
  RETURN_IF_ERROR(txn.Audit(
      store::AuditRecord{nv.last_updated_us, ctx.principal, "delete", type, id, nv.version, 200,
                         ctx.remote, why, decision.patient, decision.break_glass ? "btg" : ""}));
  return store::VersionRecord{type, id, nv.version, seq, nv.last_updated_us, true, "DELETE", ""};
}

Result<WriteOutcome> ResourceService::Create(const RequestContext& ctx, const std::string& type,
                                             json::value body, const WriteOptions& opts) {
  RETURN_IF_ERROR(CheckResource(body, type));
  RETURN_IF_ERROR(CheckType(ctx, Interaction::kCreate, type));
  RETURN_IF_ERROR(Validate(body));
  std::string id = NewUuid();  // a client-supplied id is ignored on create, as FHIR specifies
  fhir::IndexEntries index = indexer_.Extract(body);
  Prestamped pre = Prestamp(body.get_object(), id);
  return RunWrite([&](store::Transaction& txn) -> Result<WriteOutcome> {
    if (!opts.if_none_exist.empty()) {
      ASSIGN_OR_RETURN(auto ids, FindIdsIn(txn, type, ParseQueryString(opts.if_none_exist)));
      if (ids.size() > 1) {
        return Status(Code::kMultipleMatches, "If-None-Exist matched more than one " + type);
      }
      if (ids.size() == 1) {
        ASSIGN_OR_RETURN(store::VersionRecord existing, txn.Read(type, ids[0]));
        RETURN_IF_ERROR(CheckJson(ctx, Interaction::kRead, type, ids[0], existing.json).status);
        WriteOutcome out;
        out.http_status = 200;
        out.record = std::move(existing);
        out.message = "If-None-Exist matched " + type + "/" + ids[0] + ": nothing created";
        return out;
      }
    }
    // (On a retry the prestamped JSON has been moved out, and WriteVersion stamps anew.)
    txn.AssumeNew(type, id);  // a fresh random UUID
    ASSIGN_OR_RETURN(WriteOutcome out, WriteVersion(txn, ctx, type, id, body.get_object(), index,
                                                    std::nullopt, "POST", "create", &pre));
    return out;
  });
}

Result<WriteOutcome> ResourceService::Update(const RequestContext& ctx, const std::string& type,
                                             const std::string& id, json::value body,
                                             const WriteOptions& opts) {
  RETURN_IF_ERROR(CheckResource(body, type));
  if (!IsValidId(id)) return Status(Code::kInvalid, "'" + id + "' is not a valid FHIR id", "id");
  std::string_view body_id = StrField(body.get_object(), "id");
  if (body_id.empty())
    return Status(Code::kInvalid, "an update must carry the resource id in the body", type + ".id");
  if (body_id != id) {
    return Status(
        Code::kInvalid,
        "the id in the body ('" + std::string(body_id) + "') does not match the URL ('" + id + "')",
        type + ".id");
  }
  RETURN_IF_ERROR(CheckPut(ctx, type));
  RETURN_IF_ERROR(Validate(body));
  fhir::IndexEntries index = indexer_.Extract(body);
  return RunWrite([&](store::Transaction& txn) -> Result<WriteOutcome> {
    ASSIGN_OR_RETURN(WriteOutcome out, WriteVersion(txn, ctx, type, id, body.get_object(), index,
                                                    opts.if_match, "PUT", "update"));
    return out;
  });
}

Result<WriteOutcome> ResourceService::ConditionalUpdate(const RequestContext& ctx,
                                                        const std::string& type,
                                                        const Params& query, json::value body,
                                                        const WriteOptions& opts) {
  RETURN_IF_ERROR(CheckResource(body, type));
  RETURN_IF_ERROR(CheckPut(ctx, type));
  RETURN_IF_ERROR(Validate(body));
  fhir::IndexEntries index = indexer_.Extract(body);
  return RunWrite([&](store::Transaction& txn) -> Result<WriteOutcome> {
    ASSIGN_OR_RETURN(auto ids, FindIdsIn(txn, type, query));
    if (ids.size() > 1)
      return Status(Code::kMultipleMatches, "the condition matched more than one " + type);
    std::string body_id(StrField(body.get_object(), "id"));
    std::string id;
    if (ids.size() == 1) {
      id = ids[0];
      if (!body_id.empty() && body_id != id) {
        return Status(
            Code::kInvalid,
            "the id in the body ('" + body_id + "') differs from the matched " + type + "/" + id,
            type + ".id");
      }
    } else {
      id = body_id.empty() ? NewUuid() : body_id;
      if (!IsValidId(id))
        return Status(Code::kInvalid, "'" + id + "' is not a valid FHIR id", type + ".id");
    }
    ASSIGN_OR_RETURN(WriteOutcome out, WriteVersion(txn, ctx, type, id, body.get_object(), index,
                                                    opts.if_match, "PUT", "update"));
    return out;
  });
}

Result<WriteOutcome> ResourceService::Patch(const RequestContext& ctx, const std::string& type,
                                            const std::string& id, const json::value& patch,
                                            const WriteOptions& opts) {
  if (!defs_->IsResourceType(type)) return Status(Code::kNotFound, "unknown resource type " + type);
  RETURN_IF_ERROR(CheckType(ctx, Interaction::kUpdate, type));
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto cur = store_.Read(type, id);
    if (!cur.ok()) return cur.status();
    if (cur->deleted) return Status(Code::kGone, type + "/" + id + " is deleted");
    if (opts.if_match && *opts.if_match != cur->version) {
      return Status(Code::kPreconditionFailed, "version conflict: " + type + "/" + id +
                                                   " is at version " +
                                                   std::to_string(cur->version));
    }
    json::value doc = json::parse(cur->json);
    RETURN_IF_ERROR(fhir::ApplyJsonPatch(patch, doc));
    if (!doc.is_object() || StrField(doc.get_object(), "resourceType") != type ||
        StrField(doc.get_object(), "id") != id) {
      return Status(Code::kProcessing, "a patch may not change resourceType or id");
    }
    RETURN_IF_ERROR(Validate(doc));
    fhir::IndexEntries index = indexer_.Extract(doc);
    auto result = RunWrite([&](store::Transaction& txn) -> Result<WriteOutcome> {
      return WriteVersion(txn, ctx, type, id, doc.get_object(), index, cur->version, "PATCH",
                          "patch");
    });
    if (result.ok()) return result;
    // Someone wrote in between: re-read and re-apply unless the client pinned a version.
    if (result.status().code() != Code::kPreconditionFailed || opts.if_match) return result;
  }
  return Status(Code::kConflict,
                "too many concurrent changes to " + type + "/" + id + "; try again");
}

Result<WriteOutcome> ResourceService::Delete(const RequestContext& ctx, const std::string& type,
                                             const std::string& id, const WriteOptions& opts) {
  if (!defs_->IsResourceType(type)) return Status(Code::kNotFound, "unknown resource type " + type);
  RETURN_IF_ERROR(CheckType(ctx, Interaction::kDelete, type));
  return RunWrite([&](store::Transaction& txn) -> Result<WriteOutcome> {
    ASSIGN_OR_RETURN(std::optional<store::CurrentInfo> cur, txn.LockCurrent(type, id));
    if (opts.if_match && (!cur || cur->version != *opts.if_match)) {
      return Status(Code::kPreconditionFailed, "version conflict deleting " + type + "/" + id);
    }
    WriteOutcome out;
    out.http_status = 200;
    if (!cur || cur->deleted) {
      out.message =
          cur ? type + "/" + id + " was already deleted" : type + "/" + id + " does not exist";
      out.record.type = type;
      out.record.id = id;
      out.record.version = cur ? cur->version : 0;
      out.record.deleted = true;
      return out;
    }
    ASSIGN_OR_RETURN(out.record, WriteTombstone(txn, ctx, type, id, cur->version, ""));
    out.message = "deleted " + type + "/" + id + " (version " + std::to_string(out.record.version) +
                  " is a tombstone; history kept)";
    return out;
  });
}

Result<WriteOutcome> ResourceService::ConditionalDelete(const RequestContext& ctx,
                                                        const std::string& type,
                                                        const Params& query) {
  if (!defs_->IsResourceType(type)) return Status(Code::kNotFound, "unknown resource type " + type);
  RETURN_IF_ERROR(CheckType(ctx, Interaction::kDelete, type));
  ASSIGN_OR_RETURN(ParsedSearch ps, ParseSearch(type, query, *defs_, true, 2, 2));
  if (policy_) RETURN_IF_ERROR(policy_->RestrictSearch(ctx, type, ps.query));
  if (query.empty()) return Status(Code::kInvalid, "a conditional delete needs search parameters");
  RETURN_IF_ERROR(ResolveQuery(type, ps.query));
  ASSIGN_OR_RETURN(store::SearchResult found, store_.Search(type, ps.query));
  if (found.matches.size() > 1)
    return Status(Code::kMultipleMatches, "the condition matched more than one " + type);
  if (found.matches.empty()) {
    WriteOutcome out;
    out.message = "no " + type + " matched: nothing deleted";
    out.record.type = type;
    return out;
  }
  return Delete(ctx, type, found.matches[0].id, WriteOptions{found.matches[0].version, {}});
}

void ResourceService::AuditRead(const RequestContext& ctx, const char* action,
                                const std::string& type, const std::string& id, int64_t version,
                                int status, std::string detail, std::string patient,
                                bool break_glass) {
  if (audit_.discarding()) return;  // bench/access.sh's unaudited baseline (demo mode only)
  if (break_glass) detail += (detail.empty() ? "" : "; ") + ("break-glass: " + ctx.break_glass);
  audit_.Record(AuditLog::Event{SystemClock().NowMicros(), ctx.principal, action, type, id, version,
                                status, ctx.remote, detail, patient, break_glass ? "btg" : ""});
}

namespace {
bool IsAuditTrailId(const std::string& type, const std::string& id) {
  return type == "AuditEvent" && id.rfind("audit-", 0) == 0;
}
}  // namespace

Result<store::VersionRecord> ResourceService::Read(const RequestContext& ctx,
                                                   const std::string& type, const std::string& id) {
  if (!defs_->IsResourceType(type)) return Status(Code::kNotFound, "unknown resource type " + type);
  if (Status st = CheckType(ctx, Interaction::kRead, type); !st.ok()) {
    AuditRead(ctx, "read", type, id, 0, HttpStatusOf(st.code()), st.message());
    return st;
  }
  if (IsAuditTrailId(type, id)) {
    // One row of the audit trail, through the same rules as an AuditEvent search.
    store::Query q;
    store::Condition c;
    c.param = "_id";
    c.kind = store::ParamKind::kId;
    store::QueryValue v;
    v.code = id;
    c.any_of.push_back(v);
    q.all_of.push_back(std::move(c));
    q.count = 1;
    if (policy_) RETURN_IF_ERROR(policy_->RestrictSearch(ctx, type, q));
    ASSIGN_OR_RETURN(store::SearchResult r, SearchAuditTrail(ctx, q));
    if (r.matches.empty()) return Status(Code::kNotFound, "AuditEvent/" + id + " not found");
    return std::move(r.matches[0]);
  }
  auto r = store_.Read(type, id);
  if (!r.ok()) {
    AuditRead(ctx, "read", type, id, 0, HttpStatusOf(r.status().code()));
    return r;
  }
  AccessDecision d = CheckJson(ctx, Interaction::kRead, type, id, r->json, r->seq);
  if (!d.status.ok()) {
    AuditRead(ctx, "read", type, id, r->version, HttpStatusOf(d.status.code()), d.status.message(),
              d.patient);
    return d.status;
  }
  AuditRead(ctx, "read", type, id, r->version, r->deleted ? 410 : 200, {}, d.patient,
            d.break_glass);
  if (r->deleted) {
    return Status(Code::kGone,
                  type + "/" + id + " was deleted (version " + std::to_string(r->version) + ")");
  }
  return r;
}

Result<store::VersionRecord> ResourceService::VRead(const RequestContext& ctx,
                                                    const std::string& type, const std::string& id,
                                                    int64_t version) {
  if (!defs_->IsResourceType(type)) return Status(Code::kNotFound, "unknown resource type " + type);
  if (Status st = CheckType(ctx, Interaction::kRead, type); !st.ok()) {
    AuditRead(ctx, "vread", type, id, version, HttpStatusOf(st.code()), st.message());
    return st;
  }
  auto r = store_.VRead(type, id, version);
  AccessDecision d;
  if (r.ok() && !r->deleted) {
    d = CheckJson(ctx, Interaction::kRead, type, id, r->json, r->seq);
  } else if (r.ok() && Restricted(ctx)) {
    // A deletion version has no content: judge by the current (or last) content.
    auto cur = store_.VRead(type, id, std::max<int64_t>(1, version - 1));
    d = CheckJson(ctx, Interaction::kRead, type, id, cur.ok() ? cur->json : std::string());
  }
  if (!d.status.ok()) {
    AuditRead(ctx, "vread", type, id, version, HttpStatusOf(d.status.code()), d.status.message(),
              d.patient);
    return d.status;
  }
  AuditRead(ctx, "vread", type, id, version,
            r.ok() ? (r->deleted ? 410 : 200) : HttpStatusOf(r.status().code()), {}, d.patient,
            d.break_glass);
  if (r.ok() && r->deleted) {
    return Status(Code::kGone,
                  type + "/" + id + " version " + std::to_string(version) + " is a deletion");
  }
  return r;
}

Result<store::HistoryPage> ResourceService::History(const RequestContext& ctx,
                                                    const store::HistoryQuery& q) {
  if (!q.type.empty() && !defs_->IsResourceType(q.type))
    return Status(Code::kNotFound, "unknown resource type " + q.type);
  Status st = CheckType(ctx, Interaction::kHistory, q.type);
  AccessDecision d;
  if (st.ok() && Restricted(ctx)) {
    if (q.id.empty()) {
      st = Status(Code::kForbidden,
                  "lịch sử của cả một loại hồ sơ chỉ dành cho vai trò không bị giới hạn theo bệnh "
                  "nhân / the history of a whole type or system is only for roles not limited to "
                  "some patients; ask for one resource's history");
    } else {
      auto cur = store_.Read(q.type, q.id);
      if (cur.ok() && cur->deleted && cur->version > 1)
        cur = store_.VRead(q.type, q.id, cur->version - 1);
      if (cur.ok()) {
        d = CheckJson(ctx, Interaction::kHistory, q.type, q.id, cur->json);
        st = d.status;
      }
    }
  }
  if (!st.ok()) {
    AuditRead(ctx, "history", q.type, q.id, 0, HttpStatusOf(st.code()), st.message(), d.patient);
    return st;
  }
  auto r = store_.History(q);
  AuditRead(ctx, "history", q.type, q.id, 0, r.ok() ? 200 : HttpStatusOf(r.status().code()), {},
            q.type == "Patient" ? q.id : d.patient, d.break_glass);
  return r;
}

Result<store::SearchResult> ResourceService::Search(const RequestContext& ctx,
                                                    const std::string& type,
                                                    const ParsedSearch& search) {
  // An empty type is a system search (query.types, parsed from _type, are checked already).
  if (!type.empty() && !defs_->IsResourceType(type))
    return Status(Code::kNotFound, "unknown resource type " + type);
  std::string detail = EncodeQueryString(search.used);
  Status allowed = CheckType(ctx, Interaction::kSearch, type);
  store::Query query = search.query;
  if (allowed.ok() && policy_) allowed = policy_->RestrictSearch(ctx, type, query);
  if (!allowed.ok()) {
    AuditRead(ctx, "search", type, "", 0, HttpStatusOf(allowed.code()),
              detail + "; " + allowed.message());
    return allowed;
  }
  if (type == "AuditEvent") return SearchAuditTrail(ctx, query);
  RETURN_IF_ERROR(ResolveQuery(type, query));
  auto r = store_.Search(type, query);
  if (!r.ok()) {
    AuditRead(ctx, "search", type, "", 0, HttpStatusOf(r.status().code()), detail);
    return r;
  }
  // One audit row per patient whose data the page shows ("who viewed patient X"), else one.
  // Defence in depth: a match the policy refuses (none should pass RestrictSearch) is dropped.
  std::vector<std::string> patients;
  bool any_btg = false;
  if (type.empty() || compartment_.IsPatientData(type) || Restricted(ctx)) {
    std::vector<store::VersionRecord> kept;
    kept.reserve(r->matches.size());
    for (auto& m : r->matches) {
      AccessDecision d = CheckJson(ctx, Interaction::kSearch, m.type, m.id, m.json, m.seq);
      if (!d.status.ok()) continue;
      any_btg = any_btg || d.break_glass;
      if (!d.patient.empty() &&
          std::find(patients.begin(), patients.end(), d.patient) == patients.end())
        patients.push_back(d.patient);
      kept.push_back(std::move(m));
    }
    r->matches = std::move(kept);
  }
  if (patients.empty()) {
    AuditRead(ctx, "search", type, "", 0, 200, detail, {}, any_btg);
  } else {
    for (const auto& p : patients) AuditRead(ctx, "search", type, "", 0, 200, detail, p, any_btg);
  }
  return r;
}

std::optional<store::Condition> ResourceService::CompartmentCondition(
    const std::string& compartment, const std::string& id, const std::string& type) const {
  const std::vector<std::string>* params = defs_->CompartmentParams(compartment, type);
  if (params == nullptr || params->empty()) return std::nullopt;
  store::Condition c;
  c.kind = store::ParamKind::kReference;
  for (const auto& p : *params) {
    const fhir::SearchParamDef* def = defs_->FindSearchParam(type, p);
    if (def == nullptr || def->type != fhir::SearchParamType::kReference) continue;  // e.g. "{def}"
    if (c.param.empty()) {
      c.param = p;
    } else {
      c.also_params.push_back(p);
    }
  }
  if (c.param.empty()) return std::nullopt;
  store::QueryValue v;
  v.system = compartment;
  v.code = id;
  c.any_of.push_back(v);
  return c;
}

Result<std::vector<store::VersionRecord>> ResourceService::ResolveIncludes(
    const RequestContext& ctx, const std::vector<store::VersionRecord>& matches,
    const std::vector<Include>& includes, size_t limit) {
  std::vector<store::VersionRecord> added;
  if (includes.empty()) return added;
  std::set<std::string> seen;
  for (const auto& m : matches) seen.insert(m.type + "/" + m.id);
  std::vector<const store::VersionRecord*> frontier;
  for (const auto& m : matches) frontier.push_back(&m);
  for (int round = 0; round < 4 && !frontier.empty() && added.size() < limit; ++round) {
    std::vector<store::VersionRecord> found;
    auto add = [&](store::VersionRecord r) {
      if (r.deleted || found.size() + added.size() >= limit) return;
      if (seen.insert(r.type + "/" + r.id).second) {
        // Included resources pass the policy like any read; refused ones are left out.
        if (!CheckType(ctx, Interaction::kRead, r.type).ok()) return;
        AccessDecision d = CheckJson(ctx, Interaction::kRead, r.type, r.id, r.json);
        if (!d.status.ok()) return;
        AuditRead(ctx, "read", r.type, r.id, r.version, 200, "_include", d.patient, d.break_glass);
        found.push_back(std::move(r));
      }
    };
    for (const Include& inc : includes) {
      if (round > 0 && !inc.iterate) continue;
      if (!inc.reverse) {
        // Follow the references of each resource through the parameter's FHIRPath expression.
        for (const store::VersionRecord* r : frontier) {
          if (!inc.source_type.empty() && r->type != inc.source_type) continue;
          json::value doc = json::parse(r->json);
          std::vector<const fhir::SearchParamDef*> params;
          if (inc.param == "*") {
            for (const auto* p : defs_->SearchParamsFor(r->type)) {
              if (p->type == fhir::SearchParamType::kReference) params.push_back(p);
            }
          } else if (const auto* p = defs_->FindSearchParam(r->type, inc.param)) {
            params.push_back(p);
          }
          for (const auto* p : params) {
            std::string expr = fhir::ExpressionFor(p->expression, r->type, *defs_);
            if (expr.empty()) continue;
            auto compiled = fhir::fhirpath::CompileCached(expr);
            if (!compiled.ok()) continue;
            fhir::fhirpath::EvalOptions opts;
            opts.stub_unresolved_references = true;
            auto items = fhir::fhirpath::Evaluate(**compiled, doc, *defs_, opts);
            if (!items.ok()) continue;
            for (const auto& it : *items) {
              const json::value& v = it.json();
              std::string_view ref =
                  v.is_object() ? StrField(v.get_object(), "reference") : std::string_view();
              if (auto h = ref.find("/_history/"); h != std::string_view::npos)
                ref = ref.substr(0, h);
              auto slash = ref.find('/');
              if (ref.empty() || slash == std::string_view::npos ||
                  ref.find("://") != std::string_view::npos)
                continue;
              std::string t(ref.substr(0, slash)), id(ref.substr(slash + 1));
              if (!inc.target_type.empty() && t != inc.target_type) continue;
              if (!defs_->IsResourceType(t) || seen.count(t + "/" + id)) continue;
              auto target = store_.Read(t, id);
              if (target.ok()) add(std::move(*target));
            }
          }
        }
      } else {
        // Resources of the source type whose parameter refers to any resource of the frontier.
        store::Query q;
        store::Condition c;
        c.kind = store::ParamKind::kReference;
        c.param = inc.param;
        if (inc.param == "*" || inc.source_type.empty()) continue;  // needs a concrete Type:param
        for (const store::VersionRecord* r : frontier) {
          if (!inc.target_type.empty() && r->type != inc.target_type) continue;
          store::QueryValue v;
          v.system = r->type;
          v.code = r->id;
          c.any_of.push_back(v);
        }
        if (c.any_of.empty()) continue;
        q.all_of.push_back(std::move(c));
        q.count = static_cast<int>(limit);
        q.want_total = false;
        RETURN_IF_ERROR(ApplyParamAliases(q, inc.source_type, indexer_));
        ASSIGN_OR_RETURN(store::SearchResult res, store_.Search(inc.source_type, q));
        for (auto& r : res.matches) add(std::move(r));
      }
    }
    size_t first_new = added.size();
    for (auto& r : found) added.push_back(std::move(r));
    frontier.clear();
    for (size_t i = first_new; i < added.size(); ++i) frontier.push_back(&added[i]);
  }
  return added;
}

Result<std::vector<store::VersionRecord>> ResourceService::Everything(const RequestContext& ctx,
                                                                      const std::string& id,
                                                                      const EverythingOptions& opts,
                                                                      bool* truncated) {
  *truncated = false;
  auto wanted = [&](const std::string& t) {
    return opts.types.empty() ||
           std::find(opts.types.begin(), opts.types.end(), t) != opts.types.end();
  };
  ASSIGN_OR_RETURN(store::VersionRecord patient, Read(ctx, "Patient", id));
  AuditRead(ctx, "export", "Patient", id, patient.version, 200, "$everything", id);
  std::vector<store::VersionRecord> out;
  if (wanted("Patient") && patient.last_updated_us >= opts.since_us)
    out.push_back(std::move(patient));
  for (const auto& type : defs_->ResourceTypeNames()) {
    if (type == "Patient" || !wanted(type)) continue;
    if (!CheckType(ctx, Interaction::kRead, type).ok()) continue;  // types the role may not see
    auto cond = CompartmentCondition("Patient", id, type);
    if (!cond) continue;
    store::Query q;
    q.all_of.push_back(std::move(*cond));
    if (opts.since_us > 0) {
      store::Condition since;
      since.param = "_lastUpdated";
      since.kind = store::ParamKind::kLastUpdated;
      store::QueryValue v;
      v.prefix = store::Prefix::kGe;
      v.low = opts.since_us;
      v.high = opts.since_us + 1;
      since.any_of.push_back(v);
      q.all_of.push_back(std::move(since));
    }
    q.count = config_.max_page_size;
    q.want_total = false;
    RETURN_IF_ERROR(ApplyParamAliases(q, type, indexer_));
    ASSIGN_OR_RETURN(store::SearchResult res, store_.Search(type, q));
    if (res.has_more) *truncated = true;
    for (auto& r : res.matches) {
      AccessDecision d = CheckJson(ctx, Interaction::kRead, r.type, r.id, r.json);
      if (!d.status.ok()) continue;
      AuditRead(ctx, "read", r.type, r.id, r.version, 200, "$everything", id, d.break_glass);
      out.push_back(std::move(r));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Bundles

struct ResourceService::BundleEntry {
  size_t index = 0;
  std::string method;
  EntryUrl url;
  std::string full_url;
  json::value* res = nullptr;  // request resource (POST/PUT) or patch (PATCH), inside the Bundle
  std::string if_none_exist;
  std::optional<int64_t> if_match;
  std::string id;         // target id (assigned for POST)
  bool noop = false;      // conditional create matched an existing resource
  bool prepared = false;  // validated and indexed with final references
  fhir::IndexEntries rows;
  Prestamped pre;  // POST: stored JSON made before the lock
  // response
  int status = 0;
  store::VersionRecord record;
  json::value response_resource;
};

Result<json::object> ResourceService::ProcessBundle(const RequestContext& ctx, json::value bundle,
                                                    bool return_resources) {
  if (!bundle.is_object() || StrField(bundle.get_object(), "resourceType") != "Bundle") {
    return Status(Code::kInvalid,
                  "POST to the base URL takes a Bundle of type batch or transaction", "Bundle");
  }
  json::object& b = bundle.get_object();
  std::string_view type = StrField(b, "type");
  json::array empty;
  json::array* entries = &empty;
  if (auto* e = b.if_contains("entry")) {
    if (!e->is_array())
      return Status(Code::kStructure, "Bundle.entry must be an array", "Bundle.entry");
    entries = &e->get_array();
  }
  if (type == "transaction") return ProcessTransaction(ctx, *entries, return_resources);
  if (type == "batch") return ProcessBatch(ctx, *entries, return_resources);
  return Status(
      Code::kInvalid,
      "Bundle.type must be 'batch' or 'transaction' here, not '" + std::string(type) + "'",
      "Bundle.type");
}

namespace {

Result<std::optional<int64_t>> ParseETag(std::string_view s, const std::string& where) {
  if (s.empty()) return std::optional<int64_t>();
  if (s.substr(0, 2) == "W/") s.remove_prefix(2);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  try {
    size_t pos = 0;
    int64_t v = std::stoll(std::string(s), &pos);
    if (pos == s.size()) return std::optional<int64_t>(v);
  } catch (...) {
  }
  return Status(Code::kInvalid, "If-Match must be a version ETag like W/\"3\"", where);
}

json::object EntryResponse(int status, const store::VersionRecord& rec, json::storage_ptr sp = {}) {
  json::object r(std::move(sp));
  r["status"] = StatusLine(status);
  if (!rec.id.empty() && rec.version > 0) {
    r["location"] = rec.type + "/" + rec.id + "/_history/" + std::to_string(rec.version);
    r["etag"] = "W/\"" + std::to_string(rec.version) + "\"";
    if (rec.last_updated_us) r["lastModified"] = FormatInstant(rec.last_updated_us);
  }
  return r;
}

}  // namespace

Result<json::object> ResourceService::ProcessTransaction(const RequestContext& ctx,
                                                         json::array& raw_entries,
                                                         bool return_resources) {
  std::vector<BundleEntry> entries(raw_entries.size());
  std::unordered_map<std::string, std::string> full_url_map;  // fullUrl -> "Type/id"
  // fullUrls of entries whose id is only known under the lock (POST with ifNoneExist: the match
  // or a new id; conditional PUT/PATCH/DELETE): references to them are rewritten in phase 2.
  std::unordered_set<std::string> deferred_full_urls;
  std::set<std::string> targets;
  std::unordered_set<std::string> seen_full_urls;
  // Phase 1 (no lock): parse every entry, assign ids, map fullUrls.
  for (size_t i = 0; i < raw_entries.size(); ++i) {
    BundleEntry& e = entries[i];
    e.index = i;
    std::string where = "Bundle.entry[" + std::to_string(i) + "]";
    if (!raw_entries[i].is_object())
      return Status(Code::kStructure, "entry must be an object", where);
    json::object& eo = raw_entries[i].get_object();
    e.full_url = std::string(StrField(eo, "fullUrl"));
    const json::value* req = eo.if_contains("request");
    if (!req || !req->is_object())
      return Status(Code::kRequired, "a transaction entry needs request", where + ".request");
    const json::object& ro = req->get_object();
    e.method = std::string(StrField(ro, "method"));
    std::string url(StrField(ro, "url"));
    if (url.empty())
      return Status(Code::kRequired, "request.url is missing", where + ".request.url");
    e.url = ParseEntryUrl(url, ctx.base_url);
    e.if_none_exist = std::string(StrField(ro, "ifNoneExist"));
    ASSIGN_OR_RETURN(e.if_match, ParseETag(StrField(ro, "ifMatch"), where + ".request.ifMatch"));
    if (e.method != "GET" && e.method != "HEAD" && !defs_->IsResourceType(e.url.type)) {
      return Status(Code::kInvalid, "request.url '" + url + "' does not name a resource type",
                    where + ".request.url");
    }
    {
      // The access policy, entry by entry (the resources themselves are checked when written).
      Interaction what = e.method == "POST"                           ? Interaction::kCreate
                         : e.method == "DELETE"                       ? Interaction::kDelete
                         : (e.method == "PUT" || e.method == "PATCH") ? Interaction::kUpdate
                                                                      : Interaction::kRead;
      if (defs_->IsResourceType(e.url.type)) {
        Status st =
            e.method == "PUT" ? CheckPut(ctx, e.url.type) : CheckType(ctx, what, e.url.type);
        if (!st.ok()) return st.WithContext(where);
      }
    }
    if (e.method == "POST" || e.method == "PUT" || e.method == "PATCH") {
      json::value* res = eo.if_contains("resource");
      if (!res)
        return Status(Code::kRequired, e.method + " entry needs a resource", where + ".resource");
      e.res = res;  // used in place: the Bundle is ours and outlives the processing
      if (e.method != "PATCH") {
        Status st = CheckResource(*e.res, e.url.type);
        if (!st.ok()) return st.WithContext(where);
      }
    }
    if (e.method == "POST") {
      e.id = NewUuid();
    } else if (e.method == "PUT" || e.method == "PATCH" || e.method == "DELETE") {
      if (e.url.id.empty() && e.url.query.empty()) {
        return Status(Code::kInvalid, e.method + " needs Type/id or Type?condition",
                      where + ".request.url");
      }
      e.id = e.url.id;
      if (!e.id.empty() && !IsValidId(e.id))
        return Status(Code::kInvalid, "bad id '" + e.id + "'", where + ".request.url");
      if (e.method == "PUT" && !e.id.empty()) {
        std::string_view body_id = StrField(e.res->get_object(), "id");
        if (body_id.empty()) {
          e.res->get_object()["id"] = e.id;
        } else if (body_id != e.id) {
          return Status(Code::kInvalid,
                        "resource id '" + std::string(body_id) + "' differs from request.url",
                        where);
        }
      }
    } else if (e.method != "GET" && e.method != "HEAD") {
      return Status(Code::kInvalid, "unsupported request.method '" + e.method + "'",
                    where + ".request.method");
    }
    if (!e.id.empty() && e.method != "GET" && e.method != "HEAD") {
      std::string key = e.url.type + "/" + e.id;
      if (!targets.insert(key).second) {
        return Status(Code::kInvalid, "two entries write " + key + " in one transaction", where);
      }
      if (!e.full_url.empty()) {
        if (e.method == "POST" && !e.if_none_exist.empty())
          deferred_full_urls.insert(e.full_url);
        else
          full_url_map[e.full_url] = key;
      }
    } else if (!e.full_url.empty() && e.method != "GET" && e.method != "HEAD") {
      deferred_full_urls.insert(e.full_url);  // conditional PUT/PATCH/DELETE
    }
    if (!e.full_url.empty() && !seen_full_urls.insert(e.full_url).second) {  // bdl-7
      return Status(
          Code::kInvalid,
          "fullUrl '" + e.full_url + "' appears in more than one entry (it must be unique)",
          where + ".fullUrl");
    }
  }
  // Rewrites references to other entries; conditional references are left for phase 2.
  auto rewrite = [&](BundleEntry& e, store::Transaction* txn, bool* has_conditional) -> Status {
    std::string where = "Bundle.entry[" + std::to_string(e.index) + "].resource";
    return ForEachReference(*e.res, [&](json::string& ref) -> Status {
      std::string_view r = ref;
      auto it = full_url_map.find(std::string(r));
      if (it != full_url_map.end()) {
        ref = it->second;
        return Status::Ok();
      }
      if (deferred_full_urls.count(std::string(r))) {
        if (txn == nullptr) {
          *has_conditional = true;
          return Status::Ok();
        }
        return Status(Code::kInvalid,
                      "reference '" + std::string(r) +
                          "' names an entry whose condition matched nothing to refer to",
                      where);
      }
      if (IsConditionalReference(r)) {
        if (txn == nullptr) {
          *has_conditional = true;
          return Status::Ok();
        }
        std::string rt(r.substr(0, r.find('?')));
        if (!defs_->IsResourceType(rt)) {
          return Status(Code::kInvalid,
                        "conditional reference '" + std::string(r) + "' names no resource type",
                        where);
        }
        ASSIGN_OR_RETURN(auto ids,
                         FindIdsIn(*txn, rt, ParseQueryString(r.substr(r.find('?') + 1))));
        if (ids.size() != 1) {
          return Status(ids.empty() ? Code::kPreconditionFailed : Code::kMultipleMatches,
                        "conditional reference '" + std::string(r) + "' matched " +
                            std::to_string(ids.size()) + " resources (exactly one is required)",
                        where);
        }
        ref = rt + "/" + ids[0];
        return Status::Ok();
      }
      if (r.rfind("urn:uuid:", 0) == 0 || r.rfind("urn:oid:", 0) == 0) {
        return Status(Code::kInvalid,
                      "reference '" + std::string(r) + "' matches no fullUrl in this transaction",
                      where);
      }
      return Status::Ok();
    });
  };
  auto prepare = [&](BundleEntry& e) -> Status {
    if (e.method != "POST" && e.method != "PUT") {
      e.prepared = true;
      return Status::Ok();
    }
    Status st = Validate(*e.res);
    if (!st.ok()) return st.WithContext("Bundle.entry[" + std::to_string(e.index) + "]");
    e.rows = indexer_.Extract(*e.res);
    if (e.method == "POST") e.pre = Prestamp(e.res->get_object(), e.id);
    e.prepared = true;
    return Status::Ok();
  };
  // Entries with conditional parts are finished under the lock (phase 2), the rest prepared now.
  for (auto& e : entries) {
    if (e.method != "POST" && e.method != "PUT") continue;
    bool conditional = false;
    RETURN_IF_ERROR(rewrite(e, nullptr, &conditional));
    if (conditional || !e.if_none_exist.empty() || e.id.empty()) continue;
    RETURN_IF_ERROR(prepare(e));
  }

  // Phase 2 (write lock): resolve conditions, finish preparing, write everything in one commit.
  Status st = committer_.Run([&](store::Transaction& txn) -> Status {
    for (auto& e : entries) {
      e.noop = false;
      if (e.method == "POST" && !e.if_none_exist.empty()) {
        ASSIGN_OR_RETURN(auto ids, FindIdsIn(txn, e.url.type, ParseQueryString(e.if_none_exist)));
        if (ids.size() > 1) {
          return Status(Code::kMultipleMatches,
                        "ifNoneExist of entry " + std::to_string(e.index) + " matched several");
        }
        if (ids.size() == 1) {
          e.noop = true;
          e.id = ids[0];
        }
        if (!e.full_url.empty()) full_url_map[e.full_url] = e.url.type + "/" + e.id;
      }
      if ((e.method == "PUT" || e.method == "DELETE" || e.method == "PATCH") && e.id.empty()) {
        ASSIGN_OR_RETURN(auto ids, FindIdsIn(txn, e.url.type, ParseQueryString(e.url.query)));
        if (ids.size() > 1) {
          return Status(Code::kMultipleMatches,
                        "condition of entry " + std::to_string(e.index) + " matched several");
        }
        if (ids.size() == 1) {
          e.id = ids[0];
        } else if (e.method == "PUT") {
          std::string_view body_id = StrField(e.res->get_object(), "id");
          e.id = body_id.empty() ? NewUuid() : std::string(body_id);
        }
        if (!e.id.empty() && !e.full_url.empty())
          full_url_map[e.full_url] = e.url.type + "/" + e.id;
        if (e.method == "PUT") e.res->get_object()["id"] = e.id;
      }
    }
    for (auto& e : entries) {
      if (e.method != "POST" && e.method != "PUT") continue;
      if (e.noop) continue;
      // Prepared entries refer to no deferred fullUrl (those wait for this point).
      if (e.prepared) continue;
      bool unused = false;
      RETURN_IF_ERROR(rewrite(e, &txn, &unused));
      RETURN_IF_ERROR(prepare(e));
    }
    // Order required by the specification: DELETE, POST, PUT/PATCH, GET.
    for (const char* phase : {"DELETE", "POST", "PUT", "PATCH", "GET"}) {
      for (auto& e : entries) {
        std::string where = "Bundle.entry[" + std::to_string(e.index) + "]";
        if (e.method != phase && !(std::string_view(phase) == "GET" && e.method == "HEAD"))
          continue;
        if (e.method == "DELETE") {
          if (e.id.empty()) {
            e.status = 204;
            continue;
          }
          ASSIGN_OR_RETURN(auto cur, txn.LockCurrent(e.url.type, e.id));
          if (e.if_match && (!cur || cur->version != *e.if_match)) {
            return Status(Code::kPreconditionFailed,
                          "version conflict deleting " + e.url.type + "/" + e.id, where);
          }
          e.status = 204;
          if (cur && !cur->deleted) {
            ASSIGN_OR_RETURN(
                e.record, WriteTombstone(txn, ctx, e.url.type, e.id, cur->version, "transaction"));
            e.status = 200;
          }
        } else if (e.method == "POST") {
          if (e.noop) {
            ASSIGN_OR_RETURN(e.record, txn.Read(e.url.type, e.id));
            e.status = 200;
            continue;
          }
          txn.AssumeNew(e.url.type, e.id);  // a fresh random UUID
          auto w = WriteVersion(txn, ctx, e.url.type, e.id, e.res->get_object(), e.rows,
                                std::nullopt, "POST", "create", &e.pre);
          if (!w.ok()) return Status(w.status()).WithContext(where);
          e.status = 201;
          e.record = std::move(w->record);
        } else if (e.method == "PUT") {
          auto w = WriteVersion(txn, ctx, e.url.type, e.id, e.res->get_object(), e.rows, e.if_match,
                                "PUT", "update");
          if (!w.ok()) return Status(w.status()).WithContext(where);
          e.status = w->http_status;
          e.record = std::move(w->record);
        } else if (e.method == "PATCH") {
          ASSIGN_OR_RETURN(store::VersionRecord cur, txn.Read(e.url.type, e.id));
          if (cur.deleted)
            return Status(Code::kGone, e.url.type + "/" + e.id + " is deleted", where);
          json::value doc = json::parse(cur.json);
          RETURN_IF_ERROR(fhir::ApplyJsonPatch(*e.res, doc));
          Status vs = Validate(doc);
          if (!vs.ok()) return vs.WithContext(where);
          auto w = WriteVersion(txn, ctx, e.url.type, e.id, doc.get_object(), indexer_.Extract(doc),
                                e.if_match ? e.if_match : std::optional<int64_t>(cur.version),
                                "PATCH", "patch");
          if (!w.ok()) return Status(w.status()).WithContext(where);
          e.status = 200;
          e.record = std::move(w->record);
        } else {  // GET / HEAD: reads see the transaction's own writes
          if (e.url.id.empty()) {
            return Status(Code::kNotSupported,
                          "searches inside a transaction are not supported; use a batch", where);
          }
          ASSIGN_OR_RETURN(e.record, txn.Read(e.url.type, e.url.id));
          if (!e.record.deleted) {
            AccessDecision d =
                CheckJson(ctx, Interaction::kRead, e.url.type, e.url.id, e.record.json);
            if (!d.status.ok()) return Status(d.status).WithContext(where);
            AuditRead(ctx, "read", e.url.type, e.url.id, e.record.version, 200, "transaction",
                      d.patient, d.break_glass);
          }
          e.status = e.record.deleted ? 410 : 200;
          if (e.method == "GET" && !e.record.deleted)
            e.response_resource = json::parse(e.record.json);
        }
      }
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (policy_) {
    for (const auto& e : entries) policy_->OnWrite(e.url.type);
  }

  // The response lives in one arena: an entry per resource, freed at once.
  json::storage_ptr sp = json::make_shared_resource<json::monotonic_resource>();
  json::object out(
      {{"resourceType", "Bundle"}, {"id", NewUuid()}, {"type", "transaction-response"}}, sp);
  json::array resp_entries(sp);
  resp_entries.reserve(entries.size());
  for (auto& e : entries) {
    json::object re(sp);
    if (!e.record.id.empty() && e.record.version > 0 && !ctx.base_url.empty()) {
      re["fullUrl"] = ctx.base_url + "/" + e.record.type + "/" + e.record.id;
    }
    if (!e.response_resource.is_null()) {
      re["resource"] = std::move(e.response_resource);
    } else if (return_resources && !e.record.json.empty()) {
      re["resource"] = json::parse(e.record.json);
    }
    re["response"] = EntryResponse(e.status, e.record, sp);
    resp_entries.push_back(std::move(re));
  }
  out["entry"] = std::move(resp_entries);
  return out;
}

Result<json::object> ResourceService::ProcessBatch(const RequestContext& ctx,
                                                   json::array& raw_entries,
                                                   bool return_resources) {
  json::object out{{"resourceType", "Bundle"}, {"id", NewUuid()}, {"type", "batch-response"}};
  json::array resp_entries;
  for (size_t i = 0; i < raw_entries.size(); ++i) {
    std::string where = "Bundle.entry[" + std::to_string(i) + "]";
    json::object re;
    auto fail = [&](Status st) {
      st.WithContext(where);
      json::object r;
      r["status"] = StatusLine(HttpStatusOf(st.code()));
      r["outcome"] = fhir::MakeOperationOutcome(st);
      re["response"] = std::move(r);
    };
    if (!raw_entries[i].is_object()) {
      fail(Status(Code::kStructure, "entry must be an object"));
      resp_entries.push_back(std::move(re));
      continue;
    }
    json::object& eo = raw_entries[i].get_object();
    const json::value* req = eo.if_contains("request");
    if (!req || !req->is_object()) {
      fail(Status(Code::kRequired, "a batch entry needs request", where + ".request"));
      resp_entries.push_back(std::move(re));
      continue;
    }
    std::string method(StrField(req->get_object(), "method"));
    EntryUrl url = ParseEntryUrl(StrField(req->get_object(), "url"), ctx.base_url);
    WriteOptions wo;
    wo.if_none_exist = std::string(StrField(req->get_object(), "ifNoneExist"));
    auto etag = ParseETag(StrField(req->get_object(), "ifMatch"), where + ".request.ifMatch");
    if (!etag.ok()) {
      fail(etag.status());
      resp_entries.push_back(std::move(re));
      continue;
    }
    wo.if_match = *etag;
    json::value resource(eo.contains("resource") ? std::move(eo["resource"])
                                                 : json::value());  // keeps its storage
    Result<WriteOutcome> w =
        Status(Code::kNotSupported, "unsupported request.method '" + method + "'");
    if (method == "POST") {
      w = Create(ctx, url.type, std::move(resource), wo);
    } else if (method == "PUT") {
      w = url.id.empty() ? ConditionalUpdate(ctx, url.type, ParseQueryString(url.query),
                                             std::move(resource), wo)
                         : Update(ctx, url.type, url.id, std::move(resource), wo);
    } else if (method == "PATCH") {
      w = Patch(ctx, url.type, url.id, resource, wo);
    } else if (method == "DELETE") {
      w = url.id.empty() ? ConditionalDelete(ctx, url.type, ParseQueryString(url.query))
                         : Delete(ctx, url.type, url.id, wo);
    } else if (method == "GET" && !url.id.empty()) {
      auto r = url.rest.rfind("_history/", 0) == 0
                   ? VRead(ctx, url.type, url.id, std::atoll(url.rest.substr(9).c_str()))
                   : Read(ctx, url.type, url.id);
      if (r.ok()) {
        WriteOutcome o;
        o.http_status = 200;
        o.record = std::move(*r);
        w = std::move(o);
      } else {
        w = r.status();
      }
    } else if (method == "GET") {
      auto ps = ParseSearch(url.type, ParseQueryString(url.query), *defs_, ctx.strict,
                            config_.default_page_size, config_.max_page_size);
      if (!ps.ok()) {
        w = ps.status();
      } else {
        auto sr = Search(ctx, url.type, *ps);
        if (!sr.ok()) {
          w = sr.status();
        } else {
          json::object sb{{"resourceType", "Bundle"}, {"type", "searchset"}};
          if (sr->total) sb["total"] = *sr->total;
          json::array se;
          for (auto& m : sr->matches) {
            se.push_back(json::object{{"fullUrl", ctx.base_url + "/" + m.type + "/" + m.id},
                                      {"resource", json::parse(m.json)},
                                      {"search", json::object{{"mode", "match"}}}});
          }
          sb["entry"] = std::move(se);
          re["resource"] = std::move(sb);
          re["response"] = json::object{{"status", "200 OK"}};
          resp_entries.push_back(std::move(re));
          continue;
        }
      }
    }
    if (!w.ok()) {
      fail(w.status());
    } else {
      if (!w->record.id.empty() && w->record.version > 0 && !ctx.base_url.empty()) {
        re["fullUrl"] = ctx.base_url + "/" + w->record.type + "/" + w->record.id;
      }
      if ((return_resources || method == "GET") && !w->record.json.empty())
        re["resource"] = json::parse(w->record.json);
      re["response"] = EntryResponse(w->http_status, w->record);
    }
    resp_entries.push_back(std::move(re));
  }
  out["entry"] = std::move(resp_entries);
  return out;
}

}  // namespace benhan::service

namespace benhan::service {

json::object AuditEventOf(const store::AuditRow& row) {
  const store::AuditRecord& r = row.rec;
  json::object o;
  o["resourceType"] = "AuditEvent";
  o["id"] = "audit-" + std::to_string(row.aid);
  json::object meta{{"versionId", "1"}, {"lastUpdated", FormatInstant(r.time_us)}};
  if (r.flags == "btg") {
    meta["tag"] = json::array{
        json::object{{"system", "https://benhan.vn/fhir/audit"},
                     {"code", "break-glass"},
                     {"display", "Truy cập khẩn cấp, cần xem xét / break-the-glass, to review"}}};
  }
  o["meta"] = std::move(meta);
  o["extension"] = json::array{
      json::object{{"url", "https://benhan.vn/fhir/StructureDefinition/audit-chain-hash"},
                   {"valueString", row.hash}},
      json::object{{"url", "https://benhan.vn/fhir/StructureDefinition/audit-chain-previous"},
                   {"valueString", row.prev_hash}}};
  static const std::set<std::string> kRest = {"read",   "vread",   "update", "patch",
                                              "delete", "history", "create", "search"};
  o["type"] = json::object{{"system", "http://terminology.hl7.org/CodeSystem/audit-event-type"},
                           {"code", "rest"},
                           {"display", "RESTful Operation"}};
  o["subtype"] = json::array{
      json::object{{"system", kRest.count(r.action) ? "http://hl7.org/fhir/restful-interaction"
                                                    : "https://benhan.vn/fhir/audit-action"},
                   {"code", r.action}}};
  const std::string& a = r.action;
  o["action"] = a == "create"                                       ? "C"
                : (a == "update" || a == "patch" || a == "restore") ? "U"
                : a == "delete"                                     ? "D"
                : (a == "search" || a == "login" || a == "login-failed" || a == "break-glass")
                    ? "E"
                    : "R";
  o["recorded"] = FormatInstant(r.time_us);
  o["outcome"] = r.status < 400 ? "0" : r.status < 500 ? "4" : "8";
  if (!r.detail.empty()) o["outcomeDesc"] = r.detail;
  if (r.flags == "btg") {
    o["purposeOfEvent"] = json::array{json::object{
        {"coding",
         json::array{json::object{{"system", "http://terminology.hl7.org/CodeSystem/v3-ActReason"},
                                  {"code", "BTG"},
                                  {"display", "break the glass"}}}},
        {"text", r.detail}}};
  }
  json::object agent{{"who", json::object{{"identifier", json::object{{"value", r.principal}}},
                                          {"display", r.principal}}},
                     {"requestor", true}};
  if (!r.remote.empty()) agent["network"] = json::object{{"address", r.remote}, {"type", "2"}};
  o["agent"] = json::array{std::move(agent)};
  o["source"] = json::object{{"observer", json::object{{"display", "benhan"}}}};
  json::array entities;
  if (!r.type.empty() && !r.id.empty()) {
    std::string ref = r.type + "/" + r.id;
    if (r.version > 0) ref += "/_history/" + std::to_string(r.version);
    entities.push_back(json::object{{"what", json::object{{"reference", ref}}}});
  } else if (!r.type.empty()) {
    entities.push_back(json::object{{"what", json::object{{"display", r.type}}}});
  }
  if (!r.patient.empty()) {
    entities.push_back(json::object{
        {"what", json::object{{"reference", "Patient/" + r.patient}}},
        {"role", json::object{{"system", "http://terminology.hl7.org/CodeSystem/object-role"},
                              {"code", "1"},
                              {"display", "Patient"}}}});
  }
  if (!entities.empty()) o["entity"] = std::move(entities);
  return o;
}

Result<store::SearchResult> ResourceService::SearchAuditTrail(const RequestContext& ctx,
                                                              const store::Query& query) {
  store::AuditQuery aq;
  aq.count = query.count;
  aq.before_aid = query.after_key;                // newest first: the cursor is the last aid shown
  std::optional<std::set<std::string>> patients;  // allowed patient ids (intersection)
  std::set<std::string> not_patients;
  auto one = [&](const store::Condition& c) -> Result<std::string> {
    if (c.any_of.size() != 1)
      return Status(Code::kNotSupported, "AuditEvent " + c.param + " takes one value here",
                    c.param);
    return c.any_of[0].code;
  };
  for (const store::Condition& c : query.all_of) {
    const std::string& p = c.param;
    if (!c.chains.empty() || (!c.modifier.empty() && !(p == "patient" && c.modifier == "not")))
      return Status(Code::kNotSupported,
                    "AuditEvent " + p +
                        ": modifiers and chains are not "
                        "supported on the audit trail",
                    p);
    if (p == "patient") {
      std::set<std::string> ids;
      for (const auto& v : c.any_of) ids.insert(v.code);
      if (c.modifier == "not") {
        not_patients.insert(ids.begin(), ids.end());
      } else if (!patients) {
        patients = std::move(ids);
      } else {
        std::set<std::string> both;
        for (const auto& x : *patients)
          if (ids.count(x)) both.insert(x);
        patients = std::move(both);
      }
    } else if (p == "_id") {
      ASSIGN_OR_RETURN(std::string id, one(c));
      if (id.rfind("audit-", 0) != 0) return store::SearchResult{};
      aq.aid = std::atoll(id.c_str() + 6);
      if (aq.aid <= 0) return store::SearchResult{};
    } else if (p == "agent" || p == "altid") {
      ASSIGN_OR_RETURN(aq.principal, one(c));
    } else if (p == "entity") {
      ASSIGN_OR_RETURN(aq.id, one(c));
      aq.type = c.any_of[0].system;
    } else if (p == "entity-type") {
      ASSIGN_OR_RETURN(aq.type, one(c));
    } else if (p == "subtype") {
      ASSIGN_OR_RETURN(aq.action, one(c));
    } else if (p == "action") {
      ASSIGN_OR_RETURN(std::string code, one(c));
      aq.action = code == "C"   ? "create"
                  : code == "U" ? "update"
                  : code == "D" ? "delete"
                  : code == "E" ? "search"
                                : "read";
    } else if (p == "_tag") {
      ASSIGN_OR_RETURN(std::string code, one(c));
      aq.flags = code == "break-glass" ? "btg" : "?";
    } else if (p == "date") {
      for (const auto& v : c.any_of) {
        switch (v.prefix) {
          case store::Prefix::kGe:
          case store::Prefix::kSa:
            aq.since_us = std::max(aq.since_us, v.low);
            break;
          case store::Prefix::kGt:
            aq.since_us = std::max(aq.since_us, v.high);
            break;
          case store::Prefix::kLt:
          case store::Prefix::kEb:
            aq.until_us = aq.until_us ? std::min(aq.until_us, v.low) : v.low;
            break;
          case store::Prefix::kLe:
            aq.until_us = aq.until_us ? std::min(aq.until_us, v.high) : v.high;
            break;
          default:
            aq.since_us = std::max(aq.since_us, v.low);
            aq.until_us = aq.until_us ? std::min(aq.until_us, v.high) : v.high;
        }
      }
    } else {
      return Status(Code::kNotSupported,
                    "AuditEvent search on the audit trail supports patient, agent, altid, entity, "
                    "entity-type, subtype, action, date, _id and _tag, not '" +
                        p + "'",
                    p);
    }
  }
  if (patients) {
    for (const auto& x : not_patients) patients->erase(x);
    if (patients->empty()) return store::SearchResult{};
    if (patients->size() > 1) {
      return Status(Code::kForbidden,
                    "nhật ký truy cập: hãy chọn một bệnh nhân / the audit trail of patients you "
                    "may see: name one patient (AuditEvent?patient=ID)");
    }
    aq.patient = *patients->begin();
  } else if (!not_patients.empty()) {
    return Status(Code::kForbidden, "the audit trail of patients you may see: name one patient");
  }
  aq.count = std::max(0, query.count) + 1;
  ASSIGN_OR_RETURN(auto rows, store_.SearchAudit(aq));
  store::SearchResult out;
  if (static_cast<int>(rows.size()) > query.count) {
    out.has_more = true;
    rows.resize(static_cast<size_t>(query.count));
  }
  for (const auto& row : rows) {
    store::VersionRecord rec;
    rec.type = "AuditEvent";
    rec.id = "audit-" + std::to_string(row.aid);
    rec.version = 1;
    rec.last_updated_us = row.rec.time_us;
    rec.method = "POST";
    rec.json = json::serialize(AuditEventOf(row));
    out.matches.push_back(std::move(rec));
    out.last_key = row.aid;
  }
  if (query.want_total && !out.has_more) out.total = static_cast<int64_t>(out.matches.size());
  AuditRead(ctx, "search", "AuditEvent", "", 0, 200, "audit trail", aq.patient);
  return out;
}

}  // namespace benhan::service
