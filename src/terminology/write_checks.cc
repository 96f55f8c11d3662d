#include "terminology/write_checks.h"

#include <boost/json.hpp>

#include "core/clock.h"
#include "core/log.h"
#include "terminology/vn_address.h"
#include "terminology/vn_identifiers.h"

namespace json = boost::json;

namespace benhan::terminology {
namespace {

std::string Str(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::string_view TypeOf(const json::object& r) {
  auto* t = r.if_contains("resourceType");
  return t && t->is_string() ? std::string_view(t->get_string()) : std::string_view();
}

// Turns issues into the check's outcome: in "error" mode any error issue rejects the write with
// all issues; otherwise (and for warnings) they are logged.
Status Outcome(std::vector<Issue> issues, bool error_mode, Code code, std::string_view what) {
  bool reject = false;
  for (const auto& i : issues) reject = reject || (error_mode && i.severity == "error");
  if (!reject) {
    for (const auto& i : issues)
      log::Warn(std::string(what) + ": " + i.message +
                (i.expression.empty() ? "" : " (at " + i.expression + ")"));
    return Status::Ok();
  }
  Status st;
  for (auto& i : issues) {
    i.code = code;
    st.AddIssue(std::move(i));
  }
  return st;
}

class TerminologyWrites : public service::WriteCheck {
 public:
  explicit TerminologyWrites(TerminologyService& ts) : ts_(ts) {}
  Status Check(const json::object& r) const override {
    std::string_view type = TypeOf(r);
    if (type == "CodeSystem" || type == "ValueSet" || type == "ConceptMap") ts_.NoteWrite();
    return Status::Ok();
  }

 private:
  TerminologyService& ts_;
};

class PatientIdentifiers : public service::WriteCheck {
 public:
  explicit PatientIdentifiers(bool error_mode) : error_mode_(error_mode) {}
  Status Check(const json::object& r) const override {
    if (TypeOf(r) != "Patient") return Status::Ok();
    return Outcome(CheckPatientIdentifiers(r), error_mode_, Code::kValue,
                   "Patient " + Str(r, "id") + " identifiers");
  }

 private:
  bool error_mode_;
};

// Patient.address: provinces and wards current or legacy (vn_address.h); the ward lists are the
// imported ones the terminology service holds.
class PatientAddresses : public service::WriteCheck {
 public:
  PatientAddresses(TerminologyService& ts, bool error_mode) : ts_(ts), error_mode_(error_mode) {}
  Status Check(const json::object& r) const override {
    if (TypeOf(r) != "Patient" || !r.contains("address")) return Status::Ok();
    ts_.Refresh();
    WardData wards;
    auto usable = [](std::shared_ptr<const CodeSystemVersion> cs) {
      return cs && !cs->builtin && !cs->concepts.empty() ? cs : nullptr;
    };
    wards.current = usable(ts_.Resolve(kWardSystem));
    wards.legacy = usable(ts_.Resolve(kLegacyWardSystem));
    wards.map = [this](const std::string& code) {
      std::vector<std::pair<std::string, std::string>> out;
      for (const auto& t : ts_.MapCode(kLegacyWardSystem, code, kWardSystem))
        out.emplace_back(t.code, t.display);
      return out;
    };
    return Outcome(CheckPatientAddresses(r, wards), error_mode_, Code::kCodeInvalid,
                   "Patient " + Str(r, "id") + " address");
  }

 private:
  TerminologyService& ts_;
  bool error_mode_;
};

class Icd10Rules : public service::WriteCheck {
 public:
  Icd10Rules(TerminologyService& ts, store::Store& store, bool error_mode)
      : ts_(ts), store_(store), error_mode_(error_mode) {}

  Status Check(const json::object& r) const override {
    std::string_view type = TypeOf(r);
    if (type != "Condition" && type != "Encounter") return Status::Ok();
    ts_.Refresh();
    return type == "Condition" ? CheckCondition(r) : CheckEncounter(r);
  }

 private:
  // The stored resource a "Type/id" reference names, or null (not stored yet, other form).
  std::optional<json::object> ReadRef(const json::object* ref, std::string_view type) const {
    if (!ref) return std::nullopt;
    std::string s = Str(*ref, "reference");
    std::string prefix = std::string(type) + "/";
    if (s.rfind(prefix, 0) != 0) return std::nullopt;
    // Validation-time read of the referenced resource, not returned to the caller (not audited
    // as a read: nothing is disclosed).
    auto rec = store_.Read(std::string(type), s.substr(prefix.size()));
    if (!rec.ok() || rec->json.empty()) return std::nullopt;
    json::error_code ec;
    json::value v = json::parse(rec->json, ec);
    if (ec || !v.is_object()) return std::nullopt;
    return std::move(v.get_object());
  }

  // The ICD-10 codings of a CodeableConcept element.
  static std::vector<std::pair<std::string, std::string>> Codings(const json::object& r,
                                                                  const char* element) {
    std::vector<std::pair<std::string, std::string>> out;  // (code, version)
    auto* cc = r.if_contains(element);
    if (!cc || !cc->is_object()) return out;
    auto* cs = cc->get_object().if_contains("coding");
    if (!cs || !cs->is_array()) return out;
    for (const auto& c : cs->get_array()) {
      if (!c.is_object() || Str(c.get_object(), "system") != kIcd10VnUrl) continue;
      out.emplace_back(Str(c.get_object(), "code"), Str(c.get_object(), "version"));
    }
    return out;
  }

  Status CheckCondition(const json::object& r) const {
    auto codings = Codings(r, "code");
    if (codings.empty()) return Status::Ok();
    // The version in force on the encounter's end date, else when the condition was recorded.
    std::string date;
    auto* enc_ref = r.if_contains("encounter");
    if (auto enc = ReadRef(enc_ref && enc_ref->is_object() ? &enc_ref->get_object() : nullptr,
                           "Encounter")) {
      if (auto* p = enc->if_contains("period"); p && p->is_object()) {
        date = Str(p->get_object(), "end");
        if (date.empty()) date = Str(p->get_object(), "start");
      }
    }
    if (date.empty()) date = Str(r, "recordedDate");
    if (date.empty()) date = Str(r, "onsetDateTime");
    date = date.substr(0, std::min<size_t>(10, date.size()));
    std::vector<Issue> issues;
    std::optional<json::object> patient;
    bool patient_read = false;
    for (const auto& [code, version] : codings) {
      auto cs = ts_.Resolve(kIcd10VnUrl, version, date);
      if (!cs) continue;
      const Concept* c = cs->Find(code);
      if (!c || c->code != code) {
        if (!cs->builtin)  // the starter set is not the whole list: no verdict from it
          issues.push_back(Issue{Code::kCodeInvalid, "error",
                                 "Mã '" + code + "' không có trong ICD-10 phiên bản " +
                                     cs->version + " / code '" + code +
                                     "' is not in ICD-10 version " + cs->version,
                                 "Condition.code"});
        continue;
      }
      if ((c->flags & kMoreSpecificExists) || cs->HasChildren(*c))
        issues.push_back(Issue{Code::kCodeInvalid, "error",
                               "Mã " + code +
                                   " có mã chi tiết hơn (4-5 ký tự), hãy chọn mã chi "
                                   "tiết / " +
                                   code + " has more specific codes: use a 4/5-character code",
                               "Condition.code"});
      if (c->flags & kCauseOfDeathOnly)
        issues.push_back(Issue{Code::kCodeInvalid, "warning",
                               "Mã " + code + " chỉ dùng làm nguyên nhân tử vong / " + code +
                                   " is only used as a cause of death",
                               "Condition.code"});
      if (c->flags & (kFemaleOnly | kMaleOnly)) {
        if (!patient_read) {
          auto* subject = r.if_contains("subject");
          patient = ReadRef(subject && subject->is_object() ? &subject->get_object() : nullptr,
                            "Patient");
          patient_read = true;
        }
        std::string gender = patient ? Str(*patient, "gender") : "";
        bool female_only = c->flags & kFemaleOnly;
        if ((female_only && gender == "male") || (!female_only && gender == "female"))
          issues.push_back(Issue{
              Code::kCodeInvalid, "error",
              "Mã " + code + " chỉ dùng cho " + (female_only ? "nữ" : "nam") + ", người bệnh là " +
                  (gender == "male" ? "nam" : "nữ") + " / " + code + " is for " +
                  (female_only ? "females" : "males") + " only; the patient is " + gender,
              "Condition.code"});
      }
    }
    return Outcome(std::move(issues), error_mode_, Code::kCodeInvalid, "Condition ICD-10");
  }

  Status CheckEncounter(const json::object& r) const {
    auto* diags = r.if_contains("diagnosis");
    if (!diags || !diags->is_array()) return Status::Ok();
    std::string date;
    if (auto* p = r.if_contains("period"); p && p->is_object()) {
      date = Str(p->get_object(), "end");
      if (date.empty()) date = Str(p->get_object(), "start");
    }
    date = date.substr(0, std::min<size_t>(10, date.size()));
    std::vector<Issue> issues;
    const auto& arr = diags->get_array();
    for (size_t i = 0; i < arr.size(); ++i) {
      if (!arr[i].is_object()) continue;
      const auto& d = arr[i].get_object();
      auto* rank = d.if_contains("rank");
      if (!rank || !rank->is_number() || rank->to_number<double>() != 1) continue;
      auto* cond = d.if_contains("condition");
      auto condition =
          ReadRef(cond && cond->is_object() ? &cond->get_object() : nullptr, "Condition");
      if (!condition) continue;
      for (const auto& [code, version] : Codings(*condition, "code")) {
        auto cs = ts_.Resolve(kIcd10VnUrl, version, date);
        const Concept* c = cs ? cs->Find(code) : nullptr;
        if (!c || c->code != code) continue;
        std::string where = "Encounter.diagnosis[" + std::to_string(i) + "]";
        if (c->flags & kNotMainDiagnosis)
          issues.push_back(Issue{Code::kCodeInvalid, "error",
                                 "Mã " + code + " không được dùng làm bệnh chính / " + code +
                                     " is not allowed as the principal diagnosis",
                                 where});
        else if (c->flags & kDiscouragedMainDiagnosis)
          issues.push_back(Issue{Code::kCodeInvalid, "warning",
                                 "Mã " + code + " không nên dùng làm bệnh chính / " + code +
                                     " is discouraged as the principal diagnosis",
                                 where});
        if (c->flags & kCauseOfDeathOnly)
          issues.push_back(Issue{Code::kCodeInvalid, "error",
                                 "Mã " + code +
                                     " chỉ dùng làm nguyên nhân tử vong, không làm bệnh "
                                     "chính / " +
                                     code +
                                     " is only a cause of death, not a principal "
                                     "diagnosis",
                                 where});
      }
    }
    return Outcome(std::move(issues), error_mode_, Code::kCodeInvalid, "Encounter ICD-10");
  }

  TerminologyService& ts_;
  store::Store& store_;
  bool error_mode_;
};

}  // namespace

void AddWriteChecks(service::ResourceService& service, TerminologyService& terminology,
                    store::Store& store, const Config& config) {
  service.AddWriteCheck(std::make_shared<TerminologyWrites>(terminology));
  if (config.identifiers_check != "off") {
    service.AddWriteCheck(
        std::make_shared<PatientIdentifiers>(config.identifiers_check == "error"));
    service.AddWriteCheck(
        std::make_shared<PatientAddresses>(terminology, config.identifiers_check == "error"));
  }
  if (config.icd10_rules != "off")
    service.AddWriteCheck(
        std::make_shared<Icd10Rules>(terminology, store, config.icd10_rules == "error"));
}

}  // namespace benhan::terminology
