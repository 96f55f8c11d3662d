#include "interop/hl7v2/inbound.h"

#include <openssl/evp.h>

#include <boost/json.hpp>
#include <chrono>
#include <ctime>

#include "core/log.h"
#include "service/search_params.h"

namespace benhan::interop::hl7v2 {
namespace json = boost::json;
namespace {

std::string Base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(n);
  return out;
}

// Now as an HL7 timestamp in Vietnam time (UTC+7).
std::string Hl7Now() {
  auto now = std::chrono::system_clock::now() + std::chrono::hours(7);
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S+0700", &tm);
  return buf;
}

const char* AckText(AckCode c) {
  return c == AckCode::kAccept ? "AA" : c == AckCode::kError ? "AE" : "AR";
}

// The segment that produced a transaction entry, for ERR-2 when FHIR validation fails.
std::string SegmentOfType(std::string_view type) {
  if (type == "Patient") return "PID^1";
  if (type == "Encounter") return "PV1^1";
  if (type == "Observation") return "OBX^1";
  if (type == "DiagnosticReport") return "OBR^1";
  if (type == "ServiceRequest") return "ORC^1";
  if (type == "Appointment") return "SCH^1";
  return "";
}

}  // namespace

InboundProcessor::InboundProcessor(service::ResourceService& service, InboundOptions opts)
    : service_(service), opts_(std::move(opts)) {}

std::string InboundProcessor::NextControlId() {
  static const auto start = std::chrono::system_clock::now().time_since_epoch().count();
  return "BH" + std::to_string(start % 1000000000) + "-" + std::to_string(++counter_);
}

void InboundProcessor::WritingMessages(int delta) {
  if (opts_.group_wait.count() <= 0) return;
  std::lock_guard<std::mutex> l(writing_mu_);
  writing_ += delta;
  service_.SetWriteBatching(static_cast<size_t>(std::max(1, writing_)), opts_.group_wait);
}

InboundOutcome InboundProcessor::Handle(std::string_view raw, const std::string& remote) {
  InboundOutcome out;
  // This message is on its way to a commit until `writing` is released (after its write).
  WritingMessages(1);
  struct Writing {
    InboundProcessor* p;
    bool held = true;
    void Release() {
      if (held) p->WritingMessages(-1);
      held = false;
    }
    ~Writing() { Release(); }
  } writing{this};
  AckOptions ao;
  ao.sending_application = opts_.application;
  ao.sending_facility = opts_.facility;
  ao.timestamp = Hl7Now();
  ao.control_id = NextControlId();

  std::vector<AckError> errors;
  auto parsed = Parse(raw);
  Message header;
  if (parsed.ok()) {
    header = *parsed;
  } else {
    header = SalvageHeader(raw);
    errors.push_back(AckErrorOf(parsed.status()));
    out.code = parsed.status().code() == Code::kNotSupported ? AckCode::kReject : AckCode::kError;
  }
  const Message& m = header;
  std::string sender = m.Sender();
  std::string event = std::string(m.type()) + "^" + std::string(m.trigger());

  // Header checks.
  if (errors.empty()) {
    std::string version(m.version());
    if (m.type().empty()) {
      errors.push_back(
          {"MSH^1^9", "101", "Thiếu thông tin bắt buộc / MSH-9 (message type) is required"});
    } else if (m.control_id().empty()) {
      errors.push_back({"MSH^1^10", "101",
                        "Thiếu thông tin bắt buộc / MSH-10 (message control id) is required"});
    } else if (version.size() < 3 || version.rfind("2.", 0) != 0 || version[2] < '1' ||
               version[2] > '8' || (version.size() > 3 && version[3] != '.')) {
      errors.push_back({"MSH^1^12", "203",
                        "Phiên bản HL7 không được hỗ trợ / MSH-12 version '" + version +
                            "' is not supported (2.1 to 2.8)"});
      out.code = AckCode::kReject;
    } else if (!m.Get(11).empty() && m.Get(11) != "P" && m.Get(11) != "T" && m.Get(11) != "D") {
      errors.push_back({"MSH^1^11", "202",
                        "Mã xử lý không được hỗ trợ / MSH-11 processing id '" + m.Get(11) +
                            "' is not P, T or D"});
      out.code = AckCode::kReject;
    } else if (!IsSupported(m.type(), m.trigger())) {
      auto st = MapToFhir(m, opts_.mapping);  // gives the located kNotSupported
      errors.push_back(
          AckErrorOf(st.ok() ? Status(Code::kNotSupported, "no mapping") : st.status()));
      out.code = AckCode::kReject;
    }
    if (!errors.empty() && out.code == AckCode::kAccept) out.code = AckCode::kError;
  }

  service::RequestContext ctx;
  ctx.principal = "hl7v2:" + sender;
  ctx.remote = remote;
  out.raw_id = m.control_id().empty()
                   ? StableId("raw-bytes|" + std::string(raw))
                   : StableId("raw|" + sender + "|" + std::string(m.control_id()));

  // A duplicate: acknowledge the stored outcome again. The check is the write itself: the raw
  // message is written under If-Match W/"0" (it must not exist), inside the message's transaction,
  // so two copies of one message arriving at once cannot both be applied, and a new message (the
  // usual case) costs no extra read. When that write fails because the Binary exists, the stored
  // outcome is read back here.
  auto ack_stored = [&]() -> bool {
    // A store read: the duplicate check is not a user's read of the record (no audit row).
    auto prior = service_.store().Read("Binary", out.raw_id);
    if (!prior.ok()) return false;
    // The first copy's commit may still be syncing (commits are visible before they are durable,
    // store.h): its outcome is acknowledged only once it is on disk.
    if (!service_.store().Flush().ok()) return false;
    boost::system::error_code ec;
    json::value v = json::parse(prior->json, ec);
    const json::value* tags = ec || !v.is_object() ? nullptr : v.get_object().if_contains("meta");
    if (tags && tags->is_object()) tags = tags->get_object().if_contains("tag");
    if (!tags || !tags->is_array()) return false;
    for (const auto& t : tags->get_array()) {
      if (!t.is_object()) continue;
      const auto& to = t.get_object();
      const json::value* system = to.if_contains("system");
      const json::value* code_v = to.if_contains("code");
      if (!system || !system->is_string() || system->get_string() != kAckTagSystem || !code_v ||
          !code_v->is_string())
        continue;
      std::string_view code = code_v->get_string();
      out.code = code == "AA"   ? AckCode::kAccept
                 : code == "AR" ? AckCode::kReject
                                : AckCode::kError;
      errors.clear();
      const json::value* display = to.if_contains("display");
      if (out.code != AckCode::kAccept && display && display->is_string()) {
        // display: "<table 0357 code>|<location>|<text>"
        std::string d(display->get_string());
        size_t a = d.find('|'), b = a == std::string::npos ? a : d.find('|', a + 1);
        if (b != std::string::npos)
          errors.push_back({d.substr(a + 1, b - a - 1), d.substr(0, a), d.substr(b + 1)});
      }
      out.duplicate = true;
      out.ack = BuildAck(m, out.code, errors, ao);
      return true;
    }
    return false;
  };

  auto raw_binary = [&](AckCode code, const std::vector<AckError>& errs) {
    json::array tags;
    json::object ack_tag{{"system", kAckTagSystem}, {"code", AckText(code)}};
    if (!errs.empty())
      ack_tag["display"] =
          errs.front().code + "|" + errs.front().location + "|" + errs.front().text;
    tags.push_back(std::move(ack_tag));
    if (!m.type().empty())
      tags.push_back(json::object{{"system", kEventTagSystem}, {"code", event}});
    if (sender != "|") tags.push_back(json::object{{"system", kSenderTagSystem}, {"code", sender}});
    return json::object{{"resourceType", "Binary"},
                        {"id", out.raw_id},
                        {"meta", {{"tag", std::move(tags)}}},
                        {"contentType", "x-application/hl7-v2+er7"},
                        {"data", Base64(raw)}};
  };
  service::WriteOptions must_be_new;
  must_be_new.if_match = 0;
  // 1: stored, 0: could not be stored, -1: a duplicate (its stored outcome is in `out`).
  auto store_raw_alone = [&]() -> int {
    auto w = service_.Update(ctx, "Binary", out.raw_id, raw_binary(out.code, errors), must_be_new);
    if (!w.ok() && w.status().code() == Code::kPreconditionFailed && ack_stored()) return -1;
    if (!w.ok()) {
      log::Warn("hl7v2: could not store message " + std::string(m.control_id()) + " from " +
                sender + ": " + w.status().ToString());
      return 0;
    }
    return 1;
  };
  auto unavailable = [&](const Status& st) {
    out.code = AckCode::kError;
    out.raw_id.clear();
    out.ack = BuildAck(
        m, AckCode::kError,
        {{"", "207", std::string(VietnameseTextOf(st.code())) + " / " + st.message()}}, ao);
    return out;
  };

  if (errors.empty()) {
    MappingOptions mo = opts_.mapping;
    mo.find_patient = [&](const std::string& system,
                          const std::string& value) -> std::optional<std::string> {
      service::Params q{{"identifier", system + "|" + value}, {"_count", "2"}};
      auto ps = service::ParseSearch("Patient", q, service_.defs(), false, 2, 2);
      if (!ps.ok()) return std::nullopt;
      auto r = service_.Search(ctx, "Patient", *ps);
      if (!r.ok() || r->matches.empty()) return std::nullopt;
      return r->matches.front().id;
    };
    mo.patient_and_referrers =
        [&](const std::string& patient_id) -> Result<std::vector<StoredResource>> {
      bool truncated = false;
      ASSIGN_OR_RETURN(auto recs, service_.Everything(ctx, patient_id, {}, &truncated));
      if (truncated)
        return Status(Code::kProcessing,
                      "Patient/" + patient_id +
                          " has more resources of one type than a merge moves at once "
                          "(fhir.max_page_size)",
                      "MRG^1");
      std::vector<StoredResource> out;
      out.reserve(recs.size());
      for (auto& r : recs)
        out.push_back(StoredResource{r.type, r.id, r.version, std::move(r.json)});
      return out;
    };
    auto mapped = MapToFhir(*parsed, mo);
    if (!mapped.ok()) {
      errors.push_back(AckErrorOf(mapped.status()));
      out.code = mapped.status().code() == Code::kNotSupported ? AckCode::kReject : AckCode::kError;
    } else {
      json::array entries = std::move(mapped).value();
      json::array types;
      for (const auto& e : entries) types.push_back(e.at("resource").at("resourceType"));
      entries.push_back(json::object{
          {"fullUrl", "urn:uuid:" + out.raw_id},
          {"resource", raw_binary(AckCode::kAccept, {})},
          {"request",
           {{"method", "PUT"}, {"url", "Binary/" + out.raw_id}, {"ifMatch", "W/\"0\""}}}});
      json::object bundle{
          {"resourceType", "Bundle"}, {"type", "transaction"}, {"entry", std::move(entries)}};
      auto r = service_.ProcessBundle(ctx, std::move(bundle), false);
      writing.Release();
      if (r.ok()) {
        out.ack = BuildAck(m, AckCode::kAccept, {}, ao);
        return out;
      }
      const Status& st = r.status();
      // The raw message's Binary exists (If-Match W/"0" failed): a duplicate, nothing applied.
      if (st.code() == Code::kPreconditionFailed && ack_stored()) return out;
      if (st.code() == Code::kUnavailable || st.code() == Code::kTimeout ||
          st.code() == Code::kConflict || st.code() == Code::kInternal)
        return unavailable(st);
      AckError e = AckErrorOf(st);
      // "Bundle.entry[N]...": name the segment that produced entry N (ERR-2 holds HL7
      // locations only; the FHIR path goes in the text).
      std::string fhir_path = e.location;
      e.location.clear();
      std::string where = st.message() + " " + fhir_path;
      size_t p = where.find("entry[");
      if (p != std::string::npos) {
        size_t n = std::strtoul(where.c_str() + p + 6, nullptr, 10);
        if (n < types.size()) e.location = SegmentOfType(types[n].as_string());
      }
      if (!fhir_path.empty()) e.text += " (" + fhir_path + ")";
      for (size_t i = 1; i < st.issues().size() && i < 5; ++i)
        e.text += "; " + st.issues()[i].message;
      errors.push_back(std::move(e));
      out.code = AckCode::kError;
    }
  }
  int stored = store_raw_alone();
  writing.Release();
  if (stored < 0) return out;  // a duplicate
  if (stored == 0)
    return unavailable(Status(Code::kUnavailable, "the message could not be stored"));
  out.ack = BuildAck(m, out.code, errors, ao);
  return out;
}

}  // namespace benhan::interop::hl7v2
