#include "interop/hl7v2/mapping.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <cmath>
#include <functional>
#include <set>

#include "core/ids.h"
#include "terminology/vn_identifiers.h"

namespace benhan::interop::hl7v2 {
namespace json = boost::json;
namespace {

constexpr const char* kV2Table = "http://terminology.hl7.org/CodeSystem/v2-";
constexpr const char* kLocalCodes = "https://benhan.vn/hl7v2/cs/";   // + HL7 coding system id
constexpr const char* kLocalIds = "https://benhan.vn/hl7v2/id/";     // + assigning authority
constexpr const char* kOrderIds = "https://benhan.vn/hl7v2/order/";  // + placer/filler app

std::string Loc(const Message& m, const Segment& s, int field) {
  size_t index = static_cast<size_t>(&s - m.segments.data());
  return s.id + "^" + std::to_string(m.SequenceOf(index)) + "^" + std::to_string(field);
}

Status Required(const Message& m, const Segment& s, int field, std::string_view what) {
  return Status(Code::kRequired,
                s.id + "-" + std::to_string(field) + " (" + std::string(what) + ") is required",
                Loc(m, s, field));
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// A URI-safe form of an HL7 namespace id.
std::string UriPart(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_')
      out += static_cast<char>(c);
    else if (c == ' ')
      out += '-';
  }
  return out.empty() ? "unknown" : out;
}

std::string CodeSystemOf(std::string_view hl7) {
  std::string u = Upper(hl7);
  if (u == "LN" || u == "LOINC") return "http://loinc.org";
  if (u == "SNM" || u == "SCT" || u == "SNOMED") return "http://snomed.info/sct";
  if (u == "UCUM") return "http://unitsofmeasure.org";
  if (u == "I10" || u == "ICD10" || u == "ICD-10") return "http://hl7.org/fhir/sid/icd-10";
  if (u.size() == 8 && u.rfind("HL7", 0) == 0) return std::string(kV2Table) + u.substr(3);
  return std::string(kLocalCodes) + UriPart(hl7);
}

// CE/CWE (code^text^system^alt code^alt text^alt system) at field `f`, repetition `rep`.
json::object CodeableConcept(const Segment& s, int f, size_t rep = 0) {
  json::object cc;
  json::array codings;
  for (int base : {1, 4}) {
    const std::string& code = s.Get(f, base, 1, rep);
    if (code.empty()) continue;
    json::object c{{"code", code}};
    if (!s.Get(f, base + 2, 1, rep).empty()) c["system"] = CodeSystemOf(s.Get(f, base + 2, 1, rep));
    if (!s.Get(f, base + 1, 1, rep).empty()) c["display"] = s.Get(f, base + 1, 1, rep);
    codings.push_back(std::move(c));
  }
  if (!codings.empty()) cc["coding"] = std::move(codings);
  const std::string& text = s.Get(f, 2, 1, rep).empty() ? s.Get(f, 5, 1, rep) : s.Get(f, 2, 1, rep);
  if (!text.empty())
    cc["text"] = text;
  else if (cc.empty() && !s.Get(f, 1, 1, rep).empty())
    cc["text"] = s.Get(f, 1, 1, rep);
  return cc;
}

json::object Ref(std::string r) { return json::object{{"reference", std::move(r)}}; }

// A person's name from XCN (id^family^given^middle^suffix^prefix).
std::string XcnDisplay(const Segment& s, int f, size_t rep = 0) {
  std::string out;
  for (int c : {6, 2, 3, 4}) {
    const std::string& v = s.Get(f, c, 1, rep);
    if (v.empty()) continue;
    if (!out.empty()) out += ' ';
    out += v;
  }
  if (out.empty()) out = s.Get(f, 1, 1, rep);
  return out;
}

bool IsNumber(std::string_view v) {
  if (v.empty()) return false;
  size_t i = (v[0] == '-' || v[0] == '+') ? 1 : 0;
  bool digits = false, dot = false;
  for (; i < v.size(); ++i) {
    if (std::isdigit(static_cast<unsigned char>(v[i])))
      digits = true;
    else if (v[i] == '.' && !dot)
      dot = true;
    else
      return false;
  }
  return digits;
}

// An HL7 NM value (IsNumber) as a JSON number: an integer when it has no decimal point, else the
// nearest double (as a JSON parser reads it). Null if it cannot be read.
json::value Number(std::string_view v) {
  if (!v.empty() && v[0] == '+') v.remove_prefix(1);
  if (!v.empty() && v.back() == '.') v.remove_suffix(1);
  if (v.empty()) return json::value(nullptr);
  const char* end = v.data() + v.size();
  if (v.find('.') == std::string_view::npos) {
    int64_t i = 0;
    auto [p, ec] = std::from_chars(v.data(), end, i);
    if (ec == std::errc() && p == end) return json::value(i);
  }
  double d = 0;
  auto [p, ec] = std::from_chars(v.data(), end, d, std::chars_format::fixed);
  if (ec != std::errc() || p != end || !std::isfinite(d)) return json::value(nullptr);
  return json::value(d);
}

json::object Quantity(std::string_view value, const Segment& obx) {
  json::object q;
  q.reserve(4);  // value, unit, system, code (+ comparator): no rehash while filling
  q["value"] = Number(value);
  const std::string& unit = obx.Get(6, 1);
  if (!unit.empty()) {
    q["unit"] = obx.Get(6, 2).empty() ? unit : obx.Get(6, 2);
    std::string sys = Upper(obx.Get(6, 3));
    if (sys.empty() || sys == "UCUM" || sys == "ISO+" || sys == "ANSI+") {
      q["system"] = "http://unitsofmeasure.org";
      q["code"] = unit;
    }
  }
  return q;
}

std::string EncounterStatusOf(std::string_view trigger, const Segment* pv1) {
  if (trigger == "A03") return "finished";
  if (trigger == "A05" || trigger == "A14") return "planned";
  if (trigger == "A11" || trigger == "A27" || trigger == "A38") return "cancelled";
  if (pv1 && !pv1->Get(45).empty()) return "finished";
  return "in-progress";
}

json::object EncounterClass(std::string_view pv1_2) {
  const char* code = "AMB";
  const char* display = "ambulatory";
  if (pv1_2 == "I")
    code = "IMP", display = "inpatient encounter";
  else if (pv1_2 == "E")
    code = "EMER", display = "emergency";
  else if (pv1_2 == "P")
    code = "PRENC", display = "pre-admission";
  else if (pv1_2 == "B" || pv1_2 == "O" || pv1_2 == "R")
    code = "AMB", display = "ambulatory";
  return json::object{{"system", "http://terminology.hl7.org/CodeSystem/v3-ActCode"},
                      {"code", code},
                      {"display", display}};
}

std::string ObservationStatusOf(std::string_view s) {
  if (s == "P" || s == "R" || s == "S") return "preliminary";
  if (s == "C") return "corrected";
  if (s == "A") return "amended";
  if (s == "D" || s == "W") return "entered-in-error";
  if (s == "X") return "cancelled";
  if (s == "I") return "registered";
  return "final";
}

std::string ReportStatusOf(std::string_view s) {
  if (s == "P" || s == "R" || s == "S" || s == "A") return "preliminary";
  if (s == "C" || s == "M") return "corrected";
  if (s == "X") return "cancelled";
  if (s == "I" || s == "O") return "registered";
  if (s == "Y" || s == "Z") return "partial";
  return "final";
}

struct Ctx {
  const Message& m;
  const MappingOptions& opts;
  std::string sender;
  json::array entries;
  std::string patient_url;  // fullUrl of the Patient entry

  std::string Ts(std::string_view v, bool date_only = false) const {
    return Hl7DateTimeToFhir(v, opts.timezone, date_only);
  }
  void Put(const std::string& type, const std::string& id, json::object res,
           std::string full_url = {}) {
    res["resourceType"] = type;
    res["id"] = id;
    if (full_url.empty()) full_url = "urn:uuid:" + id;
    entries.push_back(json::object{{"fullUrl", full_url},
                                   {"resource", std::move(res)},
                                   {"request", {{"method", "PUT"}, {"url", type + "/" + id}}}});
  }
};

// PID -> Patient. `replace`: ADT (conditional update); otherwise create only if none matches.
Status MapPatient(Ctx& c, bool replace) {
  const Segment* pid = c.m.Find("PID");
  if (!pid) return Status(Code::kRequired, "the message has no PID segment", "PID^1");
  if (!pid->Has(3)) return Required(c.m, *pid, 3, "patient identifier list");
  json::object p;
  json::array ids;
  std::string cond_system, cond_value;
  int cond_rank = -1;
  for (size_t r = 0; r < pid->Repetitions(3); ++r) {
    const std::string& value = pid->Get(3, 1, 1, r);
    if (value.empty() || IsHl7Null(value)) continue;
    std::string authority =
        pid->Get(3, 4, 1, r).empty() ? pid->Get(3, 4, 2, r) : pid->Get(3, 4, 1, r);
    const std::string& type = pid->Get(3, 5, 1, r);
    std::string system = IdentifierSystemOf(value, authority, type);
    json::object id{{"system", system}, {"value", value}};
    if (!type.empty())
      id["type"] = {
          {"coding", json::array{{{"system", std::string(kV2Table) + "0203"}, {"code", type}}}}};
    int rank = system == terminology::kPersonalIdSystem         ? 3
               : system == terminology::kInsuranceCardSystem    ? 1
               : (type == "MR" || type == "PI" || type == "PT") ? 2
                                                                : 0;
    if (rank > cond_rank) cond_rank = rank, cond_system = system, cond_value = value;
    ids.push_back(std::move(id));
  }
  if (ids.empty()) return Required(c.m, *pid, 3, "patient identifier list");
  // PID-2 (external id) and PID-4 (alternate id), older versions.
  for (int f : {2, 4}) {
    const std::string& v = pid->Get(f, 1);
    if (v.empty() || IsHl7Null(v)) continue;
    ids.push_back(json::object{{"system", IdentifierSystemOf(v, pid->Get(f, 4), pid->Get(f, 5))},
                               {"value", v}});
  }
  p["identifier"] = std::move(ids);
  json::array names;
  for (size_t r = 0; r < pid->Repetitions(5); ++r) {
    const std::string& family = pid->Get(5, 1, 1, r);
    json::object n;
    json::array given;
    for (int comp : {2, 3})
      if (!pid->Get(5, comp, 1, r).empty() && !IsHl7Null(pid->Get(5, comp, 1, r)))
        given.push_back(json::string(pid->Get(5, comp, 1, r)));
    if (!family.empty() && !IsHl7Null(family)) n["family"] = family;
    if (!given.empty()) n["given"] = std::move(given);
    if (!pid->Get(5, 4, 1, r).empty())
      n["suffix"] = json::array{json::string(pid->Get(5, 4, 1, r))};
    if (!pid->Get(5, 5, 1, r).empty())
      n["prefix"] = json::array{json::string(pid->Get(5, 5, 1, r))};
    const std::string& use = pid->Get(5, 7, 1, r);
    if (use == "L")
      n["use"] = "official";
    else if (use == "A")
      n["use"] = "nickname";
    else if (use == "M")
      n["use"] = "maiden";
    if (!n.empty()) names.push_back(std::move(n));
  }
  if (!names.empty()) p["name"] = std::move(names);
  if (pid->Has(7)) {
    std::string d = c.Ts(pid->Get(7), true);
    if (d.empty())
      return Status(Code::kValue, "PID-7 (date of birth) '" + pid->Get(7) + "' is not a date",
                    Loc(c.m, *pid, 7));
    p["birthDate"] = d;
  }
  const std::string& sex = pid->Get(8);
  if (sex == "M")
    p["gender"] = "male";
  else if (sex == "F")
    p["gender"] = "female";
  else if (sex == "O" || sex == "A")
    p["gender"] = "other";
  else if (sex == "U" || sex == "N")
    p["gender"] = "unknown";
  json::array addrs;
  for (size_t r = 0; r < pid->Repetitions(11); ++r) {
    json::object a;
    json::array lines;
    for (int comp : {1, 2})
      if (!pid->Get(11, comp, 1, r).empty())
        lines.push_back(json::string(pid->Get(11, comp, 1, r)));
    if (!lines.empty()) a["line"] = std::move(lines);
    if (!pid->Get(11, 3, 1, r).empty()) a["city"] = pid->Get(11, 3, 1, r);
    if (!pid->Get(11, 4, 1, r).empty()) a["state"] = pid->Get(11, 4, 1, r);
    if (!pid->Get(11, 5, 1, r).empty()) a["postalCode"] = pid->Get(11, 5, 1, r);
    if (!pid->Get(11, 6, 1, r).empty()) a["country"] = pid->Get(11, 6, 1, r);
    if (!pid->Get(11, 9, 1, r).empty()) a["district"] = pid->Get(11, 9, 1, r);
    if (!a.empty()) addrs.push_back(std::move(a));
  }
  if (!addrs.empty()) p["address"] = std::move(addrs);
  json::array telecom;
  for (int f : {13, 14}) {
    for (size_t r = 0; r < pid->Repetitions(f); ++r) {
      // XTN-12 (unformatted), else XTN-6 + XTN-7 (area code, local number), else XTN-1
      // (deprecated from v2.5 but what older senders fill).
      std::string v = pid->Get(f, 12, 1, r);
      if (v.empty() && !pid->Get(f, 7, 1, r).empty())
        v = pid->Get(f, 6, 1, r) + pid->Get(f, 7, 1, r);
      if (v.empty()) v = pid->Get(f, 1, 1, r);
      if (v.empty()) continue;
      bool email = pid->Get(f, 3, 1, r) == "Internet" || pid->Get(f, 3, 1, r) == "X.400";
      if (email && !pid->Get(f, 4, 1, r).empty()) v = pid->Get(f, 4, 1, r);
      telecom.push_back(json::object{
          {"system", email ? "email" : "phone"}, {"value", v}, {"use", f == 13 ? "home" : "work"}});
    }
  }
  if (!telecom.empty()) p["telecom"] = std::move(telecom);
  if (pid->Has(16)) p["maritalStatus"] = CodeableConcept(*pid, 16);
  if (!pid->Get(29).empty()) {
    std::string d = c.Ts(pid->Get(29));
    if (!d.empty()) p["deceasedDateTime"] = d;
  } else if (pid->Get(30) == "Y") {
    p["deceasedBoolean"] = true;
  }
  p["resourceType"] = "Patient";
  // The Patient with this identifier, if there is one (benhan resolves it; the pure mapping
  // has no store and writes the deterministic id).
  std::optional<std::string> existing;
  if (c.opts.find_patient) existing = c.opts.find_patient(cond_system, cond_value);
  if (existing && !replace) {
    // Results, orders, appointments: link to the registered Patient, never overwrite it.
    c.patient_url = "Patient/" + *existing;
    return Status::Ok();
  }
  std::string id = existing ? *existing : StableId("patient|" + cond_system + "|" + cond_value);
  c.patient_url = "urn:uuid:" + id;
  p["id"] = id;
  c.entries.push_back(json::object{{"fullUrl", c.patient_url},
                                   {"resource", std::move(p)},
                                   {"request", {{"method", "PUT"}, {"url", "Patient/" + id}}}});
  return Status::Ok();
}

std::string VisitKey(const Ctx& c, const Segment* pv1) {
  const Segment* pid = c.m.Find("PID");
  if (pv1 && !pv1->Get(19).empty()) return c.sender + "|visit|" + pv1->Get(19);
  if (pid && !pid->Get(18).empty()) return c.sender + "|account|" + pid->Get(18);
  return c.sender + "|msg|" + std::string(c.m.control_id());
}

Status MapEncounter(Ctx& c) {
  const Segment* pv1 = c.m.Find("PV1");
  if (!pv1) return Status(Code::kRequired, "the message has no PV1 segment", "PV1^1");
  std::string trigger(c.m.trigger());
  json::object e;
  e["status"] = EncounterStatusOf(trigger, pv1);
  e["class"] = EncounterClass(pv1->Get(2));
  if (!pv1->Get(19).empty())
    e["identifier"] =
        json::array{{{"system", std::string(kLocalIds) + UriPart(c.m.Get(4)) + "/visit"},
                     {"value", pv1->Get(19)}}};
  e["subject"] = Ref(c.patient_url);
  json::object period;
  std::string start = c.Ts(pv1->Get(44));
  if (start.empty()) {
    const Segment* evn = c.m.Find("EVN");
    start = c.Ts(evn ? (evn->Get(6).empty() ? evn->Get(2) : evn->Get(6)) : c.m.Get(7));
  }
  if (!start.empty()) period["start"] = start;
  std::string end = c.Ts(pv1->Get(45));
  if (!end.empty()) period["end"] = end;
  if (!period.empty()) e["period"] = std::move(period);
  std::string where;
  for (int comp : {1, 2, 3, 4}) {
    const std::string& v = pv1->Get(3, comp);
    if (v.empty()) continue;
    if (!where.empty()) where += ' ';
    where += v;
  }
  if (!where.empty()) e["location"] = json::array{{{"location", {{"display", where}}}}};
  json::array participants;
  for (auto [f, code] :
       {std::pair{7, "ATND"}, std::pair{8, "REF"}, std::pair{9, "CON"}, std::pair{17, "ADM"}}) {
    for (size_t r = 0; r < pv1->Repetitions(f); ++r) {
      std::string who = XcnDisplay(*pv1, f, r);
      if (who.empty()) continue;
      participants.push_back(json::object{
          {"type", json::array{{{"coding", json::array{{{"system",
                                                         "http://terminology.hl7.org/CodeSystem/"
                                                         "v3-ParticipationType"},
                                                        {"code", code}}}}}}},
          {"individual", {{"display", who}}}});
    }
  }
  if (!participants.empty()) e["participant"] = std::move(participants);
  if (pv1->Has(10)) e["serviceType"] = CodeableConcept(*pv1, 10);
  if (pv1->Has(36)) {
    e["hospitalization"] = {{"dischargeDisposition", CodeableConcept(*pv1, 36)}};
  }
  c.Put("Encounter", StableId("encounter|" + VisitKey(c, pv1)), std::move(e));
  return Status::Ok();
}

// Rewrites every Reference.reference in `v` naming `from` ("Patient/ID", also absolute URLs
// ending in "/Patient/ID" and versioned "Patient/ID/_history/N") to `to`. Returns how many.
int MoveReferences(json::value& v, const std::string& from, const std::string& to) {
  int n = 0;
  if (v.is_object()) {
    for (auto& kv : v.get_object()) {
      if (kv.key() == "reference" && kv.value().is_string()) {
        std::string_view r = kv.value().get_string();
        size_t h = r.find("/_history/");
        std::string_view base = r.substr(0, h);
        if (base == from || (base.size() > from.size() && base.ends_with("/" + from))) {
          kv.value() = to;
          ++n;
        }
        continue;
      }
      n += MoveReferences(kv.value(), from, to);
    }
  } else if (v.is_array()) {
    for (auto& e : v.get_array()) n += MoveReferences(e, from, to);
  }
  return n;
}

// ADT^A40: PID is the surviving patient, each MRG-1 repetition identifies one it replaces. The
// survivor gets link "replaces"; a merged Patient found by that identifier gets link
// "replaced-by" and active false, and every resource referring to it is rewritten to refer to the
// survivor, all in this message's one transaction (If-Match: a concurrent change fails it).
Status MapMerge(Ctx& c) {
  const Segment* mrg = c.m.Find("MRG");
  if (!mrg) return Status(Code::kRequired, "ADT^A40 needs an MRG segment", "MRG^1");
  if (!mrg->Has(1)) return Required(c.m, *mrg, 1, "prior patient identifier list");
  size_t patient_entry = c.entries.size() - 1;
  std::string survivor = std::string(c.entries[patient_entry].at("resource").at("id").as_string());
  std::string survivor_ref = "Patient/" + survivor;
  json::array links;
  std::set<std::string> merged;
  for (size_t r = 0; r < mrg->Repetitions(1); ++r) {
    const std::string& v = mrg->Get(1, 1, 1, r);
    if (v.empty()) continue;
    std::string sys = IdentifierSystemOf(v, mrg->Get(1, 4, 1, r), mrg->Get(1, 5, 1, r));
    json::object other{{"identifier", {{"system", sys}, {"value", v}}},
                       {"display", "merged: " + v}};
    std::optional<std::string> old;
    if (c.opts.find_patient) old = c.opts.find_patient(sys, v);
    if (old && *old != survivor) other["reference"] = "Patient/" + *old;
    links.push_back(json::object{{"other", std::move(other)}, {"type", "replaces"}});
    if (!old || *old == survivor || !c.opts.patient_and_referrers || !merged.insert(*old).second)
      continue;
    ASSIGN_OR_RETURN(auto stored, c.opts.patient_and_referrers(*old));
    std::string old_ref = "Patient/" + *old;
    for (auto& sr : stored) {
      if (sr.type == "Patient" && sr.id == survivor) continue;
      json::value res = json::parse(sr.json);
      if (!res.is_object()) continue;
      if (sr.type == "Patient" && sr.id == *old) {
        json::object& p = res.get_object();
        p["active"] = false;
        json::array plinks;
        if (auto* l = p.if_contains("link"); l && l->is_array()) plinks = l->get_array();
        plinks.push_back(
            json::object{{"other", {{"reference", survivor_ref}}}, {"type", "replaced-by"}});
        p["link"] = std::move(plinks);
      } else if (MoveReferences(res, old_ref, survivor_ref) == 0) {
        continue;
      }
      c.entries.push_back(
          json::object{{"fullUrl", "urn:uuid:" + StableId("merge|" + sr.type + "|" + sr.id)},
                       {"resource", std::move(res)},
                       {"request",
                        {{"method", "PUT"},
                         {"url", sr.type + "/" + sr.id},
                         {"ifMatch", "W/\"" + std::to_string(sr.version) + "\""}}}});
    }
  }
  auto& patient = c.entries[patient_entry].as_object()["resource"].as_object();
  patient["link"] = std::move(links);
  return {};
}

Status MapAdt(Ctx& c) {
  std::string trigger(c.m.trigger());
  RETURN_IF_ERROR(MapPatient(c, true));
  if (trigger == "A28" || trigger == "A31" || (trigger == "A08" && !c.m.Find("PV1"))) return {};
  if (trigger == "A40") return MapMerge(c);
  return MapEncounter(c);
}

std::string OrderKey(const Ctx& c, const Segment* orc, const Segment* obr, std::string* placer,
                     std::string* filler) {
  *placer = orc && !orc->Get(2).empty() ? orc->Get(2) : obr ? obr->Get(2) : "";
  *filler = orc && !orc->Get(3).empty() ? orc->Get(3) : obr ? obr->Get(3) : "";
  if (!placer->empty()) return "placer|" + *placer;
  if (!filler->empty()) return "filler|" + *filler;
  return c.sender + "|msg|" + std::string(c.m.control_id());
}

json::array OrderIdentifiers(const std::string& placer, const std::string& filler) {
  json::array ids;
  auto add = [&](const std::string& v, const char* type) {
    if (v.empty()) return;
    ids.push_back(json::object{
        {"type",
         {{"coding", json::array{{{"system", std::string(kV2Table) + "0203"}, {"code", type}}}}}},
        {"system", std::string(kOrderIds) + (std::string(type) == "PLAC" ? "placer" : "filler")},
        {"value", v}});
  };
  add(placer, "PLAC");
  add(filler, "FILL");
  return ids;
}

Status MapOrder(Ctx& c) {
  RETURN_IF_ERROR(MapPatient(c, false));
  bool any = false;
  for (size_t i = 0; i < c.m.segments.size(); ++i) {
    const Segment& seg = c.m.segments[i];
    if (seg.id != "ORC") continue;
    const Segment* orc = &seg;
    const Segment* obr = nullptr;
    for (size_t k = i + 1; k < c.m.segments.size() && c.m.segments[k].id != "ORC"; ++k)
      if (c.m.segments[k].id == "OBR") {
        obr = &c.m.segments[k];
        break;
      }
    std::string placer, filler;
    std::string key = OrderKey(c, orc, obr, &placer, &filler);
    if (placer.empty() && filler.empty()) return Required(c.m, *orc, 2, "placer order number");
    json::object sr;
    sr["identifier"] = OrderIdentifiers(placer, filler);
    const std::string& control = orc->Get(1);
    const std::string& status = orc->Get(5);
    sr["status"] = control == "CA" || control == "DC" || control == "OC" || control == "CR"
                       ? "revoked"
                   : status == "CM"                   ? "completed"
                   : status == "HD"                   ? "on-hold"
                   : status == "CA" || status == "DC" ? "revoked"
                                                      : "active";
    sr["intent"] = "order";
    if (obr && obr->Has(4))
      sr["code"] = CodeableConcept(*obr, 4);
    else
      return obr ? Required(c.m, *obr, 4, "universal service identifier")
                 : Status(Code::kRequired, "the order has no OBR segment", Loc(c.m, *orc, 1));
    sr["subject"] = Ref(c.patient_url);
    std::string authored = c.Ts(orc->Get(9));
    if (!authored.empty()) sr["authoredOn"] = authored;
    std::string who = XcnDisplay(*orc, 12);
    if (who.empty() && obr) who = XcnDisplay(*obr, 16);
    if (!who.empty()) sr["requester"] = {{"display", who}};
    if (obr && obr->Get(5) == "S") sr["priority"] = "stat";
    if (obr && obr->Has(13)) sr["note"] = json::array{{{"text", obr->Get(13)}}};
    c.Put("ServiceRequest", StableId("order|" + key), std::move(sr));
    any = true;
  }
  if (!any) return Status(Code::kRequired, "the order message has no ORC segment", "ORC^1");
  return {};
}

json::object ObservationFrom(Ctx& c, const Segment& obx, const Segment* obr, Status* st) {
  json::object o;
  o.reserve(16);  // every element below, and what Put adds: no rehash while filling
  o["status"] = ObservationStatusOf(obx.Get(11));
  o["category"] = json::array{
      {{"coding",
        json::array{{{"system", "http://terminology.hl7.org/CodeSystem/observation-category"},
                     {"code", "laboratory"}}}}}};
  if (!obx.Has(3)) {
    *st = Required(c.m, obx, 3, "observation identifier");
    return o;
  }
  o["code"] = CodeableConcept(obx, 3);
  o["subject"] = Ref(c.patient_url);
  std::string type = Upper(obx.Get(2));
  const std::string& v = obx.Get(5);
  if (obx.Has(5) && !IsHl7Null(v)) {
    if (type == "NM") {
      if (!IsNumber(v)) {
        *st = Status(Code::kValue, "OBX-5 '" + v + "' is not a number (OBX-2 is NM)",
                     Loc(c.m, obx, 5));
        return o;
      }
      o["valueQuantity"] = Quantity(v, obx);
    } else if (type == "SN") {
      // comparator^num1^separator^num2
      std::string cmp = obx.Get(5, 1), n1 = obx.Get(5, 2), sep = obx.Get(5, 3), n2 = obx.Get(5, 4);
      if (!IsNumber(n1)) {
        *st = Status(Code::kValue, "OBX-5.2 '" + n1 + "' is not a number (OBX-2 is SN)",
                     Loc(c.m, obx, 5));
        return o;
      }
      if ((sep == "-" || sep == "^") && IsNumber(n2)) {
        o["valueRange"] = {{"low", Quantity(n1, obx)}, {"high", Quantity(n2, obx)}};
      } else if ((sep == ":" || sep == "/") && IsNumber(n2)) {
        o["valueRatio"] = {{"numerator", {{"value", Number(n1)}}},
                           {"denominator", {{"value", Number(n2)}}}};
      } else {
        json::object q = Quantity(n1, obx);
        if (cmp == "<" || cmp == ">" || cmp == "<=" || cmp == ">=") q["comparator"] = cmp;
        o["valueQuantity"] = std::move(q);
      }
    } else if (type == "CE" || type == "CWE" || type == "CNE" || type == "CF") {
      o["valueCodeableConcept"] = CodeableConcept(obx, 5);
    } else if (type == "DT" || type == "TS" || type == "DTM") {
      std::string d = c.Ts(v);
      if (d.empty()) {
        *st = Status(Code::kValue, "OBX-5 '" + v + "' is not a date/time", Loc(c.m, obx, 5));
        return o;
      }
      o["valueDateTime"] = d;
    } else {
      // ST, TX, FT and anything else: the text, repetitions joined by new lines.
      std::string text;
      for (size_t r = 0; r < obx.Repetitions(5); ++r) {
        if (r) text += '\n';
        text += obx.Get(5, 1, 1, r);
      }
      o["valueString"] = text;
    }
  }
  if (obx.Has(7)) {
    std::string range = obx.Get(7);
    json::object rr;
    size_t dash = range.find('-', 1);
    if (dash != std::string::npos && IsNumber(range.substr(0, dash)) &&
        IsNumber(range.substr(dash + 1))) {
      rr["low"] = Quantity(range.substr(0, dash), obx);
      rr["high"] = Quantity(range.substr(dash + 1), obx);
    } else if (range.size() > 1 && range[0] == '<' && IsNumber(range.substr(1))) {
      rr["high"] = Quantity(range.substr(1), obx);
    } else if (range.size() > 1 && range[0] == '>' && IsNumber(range.substr(1))) {
      rr["low"] = Quantity(range.substr(1), obx);
    }
    rr["text"] = range;
    o["referenceRange"] = json::array{std::move(rr)};
  }
  json::array interp;
  for (size_t r = 0; r < obx.Repetitions(8); ++r) {
    const std::string& f = obx.Get(8, 1, 1, r);
    if (f.empty()) continue;
    interp.push_back(json::object{
        {"coding",
         json::array{
             {{"system", "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"},
              {"code", f}}}}});
  }
  if (!interp.empty()) o["interpretation"] = std::move(interp);
  std::string when = c.Ts(obx.Get(14));
  if (when.empty() && obr) when = c.Ts(obr->Get(7));
  if (!when.empty()) o["effectiveDateTime"] = when;
  std::string issued = c.Ts(obx.Get(19));
  if (!issued.empty() && issued.size() > 10) o["issued"] = issued;
  if (obx.Has(15))
    o["performer"] =
        json::array{{{"display", obx.Get(15, 2).empty() ? obx.Get(15) : obx.Get(15, 2)}}};
  return o;
}

Status MapResult(Ctx& c) {
  RETURN_IF_ERROR(MapPatient(c, false));
  bool any = false;
  for (size_t i = 0; i < c.m.segments.size(); ++i) {
    const Segment& obr = c.m.segments[i];
    if (obr.id != "OBR") continue;
    const Segment* orc = nullptr;
    for (size_t k = i; k-- > 0;) {
      if (c.m.segments[k].id == "ORC") {
        orc = &c.m.segments[k];
        break;
      }
      if (c.m.segments[k].id == "OBR") break;
    }
    std::string placer, filler;
    std::string key = OrderKey(c, orc, &obr, &placer, &filler);
    if (!obr.Has(4)) return Required(c.m, obr, 4, "universal service identifier");
    std::string report_id = StableId("report|" + c.sender + "|" + key + "|" + obr.Get(4));
    json::object dr;
    dr["identifier"] = OrderIdentifiers(placer, filler);
    if (!placer.empty())
      dr["basedOn"] = json::array{
          {{"identifier", {{"system", std::string(kOrderIds) + "placer"}, {"value", placer}}}}};
    dr["status"] = ReportStatusOf(obr.Get(25));
    dr["category"] = json::array{
        {{"coding", json::array{{{"system", std::string(kV2Table) + "0074"},
                                 {"code", obr.Get(24).empty() ? "LAB" : obr.Get(24)}}}}}};
    dr["code"] = CodeableConcept(obr, 4);
    dr["subject"] = Ref(c.patient_url);
    std::string eff = c.Ts(obr.Get(7));
    if (!eff.empty()) dr["effectiveDateTime"] = eff;
    std::string issued = c.Ts(obr.Get(22));
    if (issued.size() > 10) dr["issued"] = issued;
    json::array results;
    int n = 0;
    for (size_t k = i + 1; k < c.m.segments.size(); ++k) {
      const Segment& s = c.m.segments[k];
      if (s.id == "OBR" || s.id == "ORC") break;
      if (s.id != "OBX") continue;
      ++n;
      Status st;
      json::object o = ObservationFrom(c, s, &obr, &st);
      RETURN_IF_ERROR(st);
      std::string set_id = s.Get(1).empty() ? std::to_string(n) : s.Get(1);
      // The report's id + 16 hex digits of the OBX key: a report's Observations sort together,
      // so its rows in every index keyed by id (the resource key, the audit trail by entity, the
      // report's result references) share pages instead of dirtying one page each per commit.
      std::string obs_id =
          report_id + "-" +
          StableId("obs|" + set_id + "|" + s.Get(3) + "|" + s.Get(4)).substr(3, 16);
      results.push_back(Ref("Observation/" + obs_id));
      c.Put("Observation", obs_id, std::move(o));
    }
    if (!results.empty()) dr["result"] = std::move(results);
    // Notes (NTE after OBR) as the conclusion.
    std::string conclusion;
    for (size_t k = i + 1; k < c.m.segments.size() && c.m.segments[k].id == "NTE"; ++k) {
      if (!conclusion.empty()) conclusion += '\n';
      conclusion += c.m.segments[k].Get(3);
    }
    if (!conclusion.empty()) dr["conclusion"] = conclusion;
    c.Put("DiagnosticReport", report_id, std::move(dr));
    any = true;
  }
  if (!any) return Status(Code::kRequired, "the result message has no OBR segment", "OBR^1");
  return {};
}

Status MapSchedule(Ctx& c) {
  const Segment* sch = c.m.Find("SCH");
  if (!sch) return Status(Code::kRequired, "the SIU message has no SCH segment", "SCH^1");
  std::string key = !sch->Get(1).empty() ? sch->Get(1) : sch->Get(2);
  if (key.empty()) return Required(c.m, *sch, 1, "placer appointment id");
  if (c.m.Find("PID")) RETURN_IF_ERROR(MapPatient(c, false));
  std::string trigger(c.m.trigger());
  json::object a;
  a["status"] = trigger == "S15" || trigger == "S17" ? "cancelled"
                : trigger == "S26"                   ? "noshow"
                                                     : "booked";
  a["identifier"] = json::array{
      {{"system", std::string(kLocalIds) + UriPart(c.m.Get(4)) + "/appointment"}, {"value", key}}};
  if (sch->Has(7)) a["reasonCode"] = json::array{CodeableConcept(*sch, 7)};
  if (sch->Has(8)) a["appointmentType"] = CodeableConcept(*sch, 8);
  std::string start = c.Ts(sch->Get(11, 4));
  std::string end = c.Ts(sch->Get(11, 5));
  if (const Segment* ais = c.m.Find("AIS"); ais && start.empty()) {
    start = c.Ts(ais->Get(4));
    if (ais->Has(3)) a["serviceType"] = json::array{CodeableConcept(*ais, 3)};
  }
  if (!start.empty()) a["start"] = start;
  if (!end.empty()) a["end"] = end;
  if (!start.empty() && sch->Has(9)) {
    // SCH-9 duration in SCH-10 units (minutes by default).
    if (IsNumber(sch->Get(9))) a["minutesDuration"] = std::max(1, std::atoi(sch->Get(9).c_str()));
  }
  json::array participants;
  if (!c.patient_url.empty())
    participants.push_back(json::object{{"actor", Ref(c.patient_url)}, {"status", "accepted"}});
  for (const char* seg : {"AIP", "AIL"}) {
    for (size_t n = 0; const Segment* s = c.m.Find(seg, n); ++n) {
      std::string who = std::string(seg) == "AIP" ? XcnDisplay(*s, 3) : s->Get(3, 1);
      if (who.empty()) continue;
      participants.push_back(json::object{{"actor", {{"display", who}}}, {"status", "accepted"}});
    }
  }
  if (participants.empty())
    participants.push_back(
        json::object{{"actor", {{"display", "unknown"}}}, {"status", "needs-action"}});
  a["participant"] = std::move(participants);
  c.Put("Appointment", StableId("appointment|" + c.sender + "|" + key), std::move(a));
  return {};
}

struct Route {
  const char* type;
  const char* triggers;  // space-separated; "" = any
  Status (*map)(Ctx&);
};

// The mapping table: message type and events -> mapping (docs/hl7v2-mapping.md).
const Route kRoutes[] = {
    {"ADT", "A01 A02 A03 A04 A05 A08 A11 A13 A28 A31 A40", MapAdt},
    {"ORU", "R01", MapResult},
    {"ORM", "O01", MapOrder},
    {"OML", "O21", MapOrder},
    {"SIU", "S12 S13 S14 S15 S17 S26", MapSchedule},
};

const Route* FindRoute(std::string_view type, std::string_view trigger, bool* type_known) {
  *type_known = false;
  for (const Route& r : kRoutes) {
    if (type != r.type) continue;
    *type_known = true;
    std::string_view t = r.triggers;
    if (t.empty()) return &r;
    size_t p = 0;
    while (p < t.size()) {
      size_t e = t.find(' ', p);
      if (e == std::string_view::npos) e = t.size();
      if (t.substr(p, e - p) == trigger) return &r;
      p = e + 1;
    }
  }
  return nullptr;
}

}  // namespace

std::string StableId(std::string_view key) {
  unsigned char md[32];
  Sha256(key, md);  // core/ids.h: the algorithm fetched once, one context per thread
  static const char* hex = "0123456789abcdef";
  std::string out = "h7-";
  for (int i = 0; i < 20; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

std::string Hl7DateTimeToFhir(std::string_view ts, std::string_view default_tz, bool date_only) {
  std::string digits, tz;
  size_t i = 0;
  while (i < ts.size() && std::isdigit(static_cast<unsigned char>(ts[i]))) digits += ts[i++];
  if (i < ts.size() && ts[i] == '.') {
    ++i;
    while (i < ts.size() && std::isdigit(static_cast<unsigned char>(ts[i]))) ++i;  // fractions
  }
  if (i < ts.size() && (ts[i] == '+' || ts[i] == '-') && ts.size() - i == 5) {
    tz = std::string(ts.substr(i, 3)) + ":" + std::string(ts.substr(i + 3, 2));
    i = ts.size();
  }
  if (i != ts.size()) return {};
  size_t n = digits.size();
  if (n != 4 && n != 6 && n != 8 && n != 10 && n != 12 && n != 14) return {};
  auto num = [&](size_t pos) { return std::atoi(digits.substr(pos, 2).c_str()); };
  if (n >= 6 && (num(4) < 1 || num(4) > 12)) return {};
  if (n >= 8 && (num(6) < 1 || num(6) > 31)) return {};
  if (n >= 10 && num(8) > 23) return {};
  if (n >= 12 && num(10) > 59) return {};
  if (n >= 14 && num(12) > 60) return {};
  std::string out = digits.substr(0, 4);
  if (n >= 6) out += "-" + digits.substr(4, 2);
  if (n >= 8) out += "-" + digits.substr(6, 2);
  if (date_only || n <= 8) return out;
  out += "T" + digits.substr(8, 2) + ":" + (n >= 12 ? digits.substr(10, 2) : "00") + ":" +
         (n >= 14 ? digits.substr(12, 2) : "00");
  out += tz.empty() ? std::string(default_tz) : tz;
  return out;
}

std::string IdentifierSystemOf(std::string_view value, std::string_view authority,
                               std::string_view type_code) {
  std::string a = Upper(authority), t = Upper(type_code);
  bool twelve_digits = value.size() == 12 && std::all_of(value.begin(), value.end(), [](char ch) {
                         return std::isdigit(static_cast<unsigned char>(ch));
                       });
  if (t == "CCCD" || t == "DDCN" || a == "CCCD" || a == "BCA" || a == "VNM-CCCD" ||
      ((t == "NI" || t == "NNVNM" || t == "NN" || t == "PPN" || t.empty()) && twelve_digits &&
       (a.empty() || a == "VNM" || a == "VN")))
    return twelve_digits || t == "CCCD" ? terminology::kPersonalIdSystem
                                        : std::string(kLocalIds) + UriPart(authority);
  if (t == "BHYT" || a == "BHYT" || a == "BHXH" || a == "VSS" ||
      ((t == "HC" || t == "HN" || t == "SN") && value.size() == 15))
    return terminology::kInsuranceCardSystem;
  if (!authority.empty()) return std::string(kLocalIds) + UriPart(authority);
  if (!type_code.empty()) return std::string(kLocalIds) + "type-" + UriPart(type_code);
  return std::string(kLocalIds) + "unknown";
}

bool IsSupported(std::string_view type, std::string_view trigger) {
  bool known = false;
  return FindRoute(type, trigger, &known) != nullptr;
}

Result<json::array> MapToFhir(const Message& m, const MappingOptions& opts) {
  bool type_known = false;
  const Route* route = FindRoute(m.type(), m.trigger(), &type_known);
  if (!route) {
    return Status(Code::kNotSupported,
                  type_known ? "event " + std::string(m.type()) + "^" + std::string(m.trigger()) +
                                   " has no mapping"
                             : "message type '" + std::string(m.type()) + "' has no mapping",
                  type_known ? "MSH^1^9^1^2" : "MSH^1^9");
  }
  Ctx c{m, opts, m.Sender(), {}, {}};
  RETURN_IF_ERROR(route->map(c));
  return std::move(c.entries);
}

}  // namespace benhan::interop::hl7v2
