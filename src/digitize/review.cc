#include "digitize/review.h"

#include <boost/json.hpp>

#include "core/clock.h"
#include "digitize/fhir_drafts.h"

namespace benhan::digitize {

namespace json = boost::json;

namespace {

bool IsDraftTag(const json::value& t) {
  const auto* o = t.if_object();
  if (!o) return false;
  const auto* s = o->if_contains("system");
  const auto* c = o->if_contains("code");
  return s && c && s->is_string() && c->is_string() && s->get_string() == kTagSystem &&
         c->get_string() == kDraftCode;
}

bool IsDraft(const json::object& r) {
  const auto* meta = r.if_contains("meta");
  if (!meta || !meta->is_object()) return false;
  const auto* tags = meta->get_object().if_contains("tag");
  if (!tags || !tags->is_array()) return false;
  for (const auto& t : tags->get_array())
    if (IsDraftTag(t)) return true;
  return false;
}

json::object Concept(const char* system, const char* code, const char* display) {
  return json::object{{"coding", json::array{json::object{
                                     {"system", system}, {"code", code}, {"display", display}}}}};
}

std::string NowInstant() {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  return FormatInstant(us);
}

}  // namespace

Result<std::vector<store::VersionRecord>> ReviewService::Pending(const service::RequestContext& ctx,
                                                                 const std::string& patient_id,
                                                                 const std::string& document_id) {
  if (patient_id.empty() && document_id.empty()) {
    return Status(Code::kRequired,
                  "Cần chỉ định bệnh nhân hoặc tài liệu (patient or document required)");
  }
  std::vector<store::VersionRecord> out;
  for (const char* type : {"Condition", "Observation", "MedicationStatement"}) {
    service::Params p{{"_tag", std::string(kTagSystem) + "|" + kDraftCode}, {"_count", "1000"}};
    if (!patient_id.empty()) p.push_back({"patient", "Patient/" + patient_id});
    if (!document_id.empty())
      p.push_back({"_tag", std::string(kDocumentTagSystem) + "|" + document_id});
    ASSIGN_OR_RETURN(auto search, service::ParseSearch(type, p, service_.defs(), true, 1000, 1000));
    ASSIGN_OR_RETURN(auto result, service_.Search(ctx, type, search));
    for (auto& m : result.matches) out.push_back(std::move(m));
  }
  return out;
}

Result<json::object> ReviewService::Decide(const service::RequestContext& ctx,
                                           const std::string& type, const std::string& id,
                                           const std::string& decision,
                                           const json::object* edited) {
  if (!IsDraftType(type)) {
    return Status(
        Code::kNotSupported,
        "Loại tài nguyên " + type + " không có bản nháp số hoá (no digitized drafts of this type)");
  }
  if (decision != "confirm" && decision != "edit" && decision != "reject") {
    return Status(Code::kInvalid,
                  "Quyết định không hợp lệ '" + decision + "': dùng confirm, edit hoặc reject",
                  "Parameters.parameter.decision");
  }
  ASSIGN_OR_RETURN(store::VersionRecord rec, service_.Read(ctx, type, id));
  json::value parsed = json::parse(rec.json);
  json::object current = std::move(parsed.as_object());
  if (!IsDraft(current)) {
    return Status(Code::kConflict,
                  type + "/" + id + " không phải bản nháp đang chờ duyệt (not a pending draft)");
  }
  service::WriteOptions wo;
  wo.if_match = rec.version;  // a concurrent decision on the same draft fails instead of racing
  if (decision == "reject") {
    ASSIGN_OR_RETURN(auto w, service_.Delete(ctx, type, id, wo));
    (void)w;
    return json::object{};
  }
  if (decision == "edit") {
    if (!edited)
      return Status(Code::kRequired, "Thiếu tài nguyên đã sửa (parameter 'resource')",
                    "Parameters.parameter.resource");
    json::object next = *edited;
    const auto* rt = next.if_contains("resourceType");
    if (!rt || !rt->is_string() || rt->get_string() != type) {
      return Status(Code::kInvalid, "Tài nguyên đã sửa phải là " + type,
                    "Parameters.parameter.resource");
    }
    next["id"] = id;
    // Draft markers, subject and document link are the review's, not the editor's.
    next["meta"] = current["meta"];
    if (current.contains("subject")) next["subject"] = current["subject"];
    if (current.contains("evidence") && type == "Condition") next["evidence"] = current["evidence"];
    if (current.contains("derivedFrom") && type != "Condition")
      next["derivedFrom"] = current["derivedFrom"];
    if (type == "Condition")
      next["verificationStatus"] =
          Concept("http://terminology.hl7.org/CodeSystem/condition-ver-status", "unconfirmed",
                  "Unconfirmed");
    if (type == "Observation") next["status"] = "preliminary";
    if (type == "MedicationStatement") next["status"] = "unknown";
    ASSIGN_OR_RETURN(auto w, service_.Update(ctx, type, id, json::value(std::move(next)), wo));
    return json::parse(w.record.json).as_object();
  }
  // confirm
  json::object next = current;
  json::object& meta = next["meta"].as_object();
  json::array kept;
  if (auto* tags = meta.if_contains("tag"); tags && tags->is_array()) {
    for (const auto& t : tags->as_array())
      if (!IsDraftTag(t)) kept.push_back(t);  // the document tag stays: where it came from
  }
  meta.erase("versionId");
  meta.erase("lastUpdated");
  if (kept.empty())
    meta.erase("tag");
  else
    meta["tag"] = std::move(kept);
  if (meta.empty()) next.erase("meta");
  if (type == "Condition") {
    next["verificationStatus"] = Concept(
        "http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed");
  } else if (type == "Observation") {
    next["status"] = "final";
  } else {
    next["status"] = "active";
  }
  // The record and the clinician's Provenance in one transaction.
  const std::string who = ctx.principal.empty() ? "anonymous" : ctx.principal;
  json::object prov{
      {"resourceType", "Provenance"},
      {"target", json::array{json::object{{"reference", type + "/" + id + "/_history/" +
                                                            std::to_string(rec.version + 1)}}}},
      {"recorded", NowInstant()},
      {"activity",
       Concept("http://terminology.hl7.org/CodeSystem/v3-DataOperation", "UPDATE", "revise")},
      {"reason", json::array{Concept("http://terminology.hl7.org/CodeSystem/v3-ActReason", "TREAT",
                                     "treatment")}},
      {"agent",
       json::array{json::object{
           {"type", Concept("http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                            "verifier", "Verifier")},
           {"who", json::object{{"display", who}}}}}},
      {"entity", json::array{json::object{
                     {"role", "revision"},
                     {"what", json::object{{"reference", type + "/" + id + "/_history/" +
                                                             std::to_string(rec.version)}}}}}}};
  json::object bundle{
      {"resourceType", "Bundle"},
      {"type", "transaction"},
      {"entry",
       json::array{
           json::object{
               {"resource", next},
               {"request", json::object{{"method", "PUT"},
                                        {"url", type + "/" + id},
                                        {"ifMatch", "W/\"" + std::to_string(rec.version) + "\""}}}},
           json::object{{"resource", prov},
                        {"request", json::object{{"method", "POST"}, {"url", "Provenance"}}}}}}};
  ASSIGN_OR_RETURN(auto resp, service_.ProcessBundle(ctx, json::value(std::move(bundle)), false));
  (void)resp;
  ASSIGN_OR_RETURN(store::VersionRecord now, service_.Read(ctx, type, id));
  return json::parse(now.json).as_object();
}

}  // namespace benhan::digitize
