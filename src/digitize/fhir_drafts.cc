#include "digitize/fhir_drafts.h"

#include <openssl/evp.h>

#include <boost/json.hpp>
#include <cmath>
#include <map>

#include "core/ids.h"

namespace benhan::digitize {

namespace json = boost::json;

std::string Base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

namespace {

json::object Coded(const std::string& system, const std::string& code, const std::string& display) {
  json::object c{{"system", system}, {"code", code}};
  if (!display.empty()) c["display"] = display;
  return c;
}
json::object Concept(const std::string& system, const std::string& code, const std::string& display,
                     const std::string& text = {}) {
  json::object cc{{"coding", json::array{Coded(system, code, display)}}};
  if (!text.empty()) cc["text"] = text;
  return cc;
}
double Round(double v, int digits) {
  double f = std::pow(10.0, digits);
  return std::round(v * f) / f;
}

json::object DraftMeta(const std::string& document_id) {
  return json::object{
      {"tag", json::array{json::object{{"system", kTagSystem},
                                       {"code", kDraftCode},
                                       {"display", "Bản nháp số hoá, chờ bác sĩ xác nhận"}},
                          json::object{{"system", kDocumentTagSystem}, {"code", document_id}}}}};
}

json::object Quantity(double value, const std::string& unit, const std::string& ucum) {
  json::object q{{"value", value}, {"unit", unit}};
  if (!ucum.empty()) {
    q["system"] = "http://unitsofmeasure.org";
    q["code"] = ucum;
  }
  return q;
}

std::string Snippet(const ExtractionDoc& ex, const Fact& f) {
  return ex.text.substr(f.begin, f.end - f.begin);
}

}  // namespace

json::object BuildDraftBundle(const RecognizedDocument& doc, const ExtractionDoc& ex,
                              const DraftOptions& options, std::string* document_id,
                              DraftCounts* counts) {
  DraftCounts local;
  DraftCounts& n = counts ? *counts : local;
  const std::string base = RandomHex(6);
  int seq = 0;
  auto new_id = [&](const char* prefix) {
    return std::string(prefix) + "-" + base + "-" + std::to_string(++seq);
  };
  const std::string doc_id = new_id("dig");
  const std::string binary_id = doc_id + "-scan";
  *document_id = doc_id;
  json::array entries;
  auto put = [&](const std::string& type, const std::string& id, json::object resource) {
    resource["id"] = id;
    entries.push_back(
        json::object{{"fullUrl", type + "/" + id},
                     {"resource", std::move(resource)},
                     {"request", json::object{{"method", "PUT"}, {"url", type + "/" + id}}}});
  };

  // The patient: given, or built from the demographics (conditional create by CCCD / BHYT).
  std::string subject;
  if (!options.patient_id.empty()) {
    subject = "Patient/" + options.patient_id;
  } else {
    std::map<std::string, std::string> demo;
    for (const auto& f : ex.facts)
      if (f.kind == "demographic" && f.confidence >= 0.5 && !demo.count(f.field))
        demo[f.field] = f.value;
    json::object p{{"resourceType", "Patient"}};
    json::array ids;
    std::string cond;
    if (demo.count("cccd")) {
      ids.push_back(
          json::object{{"system", "https://benhan.vn/sid/cccd"}, {"value", demo["cccd"]}});
      cond = "identifier=https://benhan.vn/sid/cccd|" + demo["cccd"];
    }
    if (demo.count("bhyt")) {
      ids.push_back(
          json::object{{"system", "https://benhan.vn/sid/bhyt"}, {"value", demo["bhyt"]}});
      if (cond.empty()) cond = "identifier=https://benhan.vn/sid/bhyt|" + demo["bhyt"];
    }
    if (!ids.empty()) p["identifier"] = ids;
    if (demo.count("name")) p["name"] = json::array{json::object{{"text", demo["name"]}}};
    if (demo.count("gender")) p["gender"] = demo["gender"];
    if (demo.count("birth_date"))
      p["birthDate"] = demo["birth_date"];
    else if (demo.count("birth_year"))
      p["birthDate"] = demo["birth_year"];
    if (demo.count("address")) p["address"] = json::array{json::object{{"text", demo["address"]}}};
    const std::string pid = new_id("dig-patient");
    subject = "urn:uuid:" + NewUuid();
    json::object req{{"method", "POST"}, {"url", "Patient"}};
    if (!cond.empty()) req["ifNoneExist"] = cond;
    entries.push_back(
        json::object{{"fullUrl", subject}, {"resource", std::move(p)}, {"request", req}});
  }

  // The scan and the document.
  if (options.include_binary) {
    put("Binary", binary_id,
        json::object{{"resourceType", "Binary"},
                     {"contentType", doc.content_type},
                     {"data", Base64(doc.bytes)}});
  }
  json::array words_pages;
  for (const auto& p : doc.pages) {
    json::array words;
    for (const auto& w : p.words) {
      words.push_back(json::array{w.begin, w.end, w.x, w.y, w.w, w.h, Round(w.confidence, 1)});
    }
    words_pages.push_back(json::object{{"page", p.number},
                                       {"source", p.source},
                                       {"width", p.width},
                                       {"height", p.height},
                                       {"dpi", p.dpi},
                                       {"skew", Round(p.skew_degrees, 2)},
                                       {"confidence", Round(p.mean_confidence, 1)},
                                       {"words", std::move(words)}});
  }
  const std::string positions = json::serialize(json::object{
      {"format",
       "benhan-ocr-words/1: [begin, end, x, y, w, h, confidence] per word; begin/end are "
       "byte offsets in the text attachment"},
      {"pages", std::move(words_pages)}});
  const bool discharge = ex.folded.find("ra vien") != std::string::npos;
  json::array content;
  {
    json::object scan{{"contentType", doc.content_type},
                      {"size", static_cast<int64_t>(doc.bytes.size())},
                      {"title", doc.filename.empty() ? std::string("Bản quét") : doc.filename}};
    if (options.include_binary) scan["url"] = "Binary/" + binary_id;
    content.push_back(json::object{{"attachment", scan}});
  }
  content.push_back(
      json::object{{"attachment", json::object{{"contentType", "text/plain; charset=utf-8"},
                                               {"language", "vi"},
                                               {"data", Base64(doc.text)},
                                               {"title", "Văn bản nhận dạng (OCR, NFC)"}}}});
  content.push_back(json::object{
      {"attachment", json::object{{"contentType", "application/json"},
                                  {"data", Base64(positions)},
                                  {"title", "Vị trí từng từ trên bản quét (word positions)"}}}});
  put("DocumentReference", doc_id,
      json::object{{"resourceType", "DocumentReference"},
                   {"extension", json::array{json::object{
                                     {"url", kOcrConfidenceExt},
                                     {"valueDecimal", Round(doc.mean_confidence / 100, 3)}}}},
                   {"status", "current"},
                   {"docStatus", "preliminary"},
                   {"type", discharge ? Concept("http://loinc.org", "18842-5", "Discharge summary",
                                                "Giấy ra viện / tóm tắt ra viện")
                                      : Concept("http://loinc.org", "51855-5", "Patient Note",
                                                "Hồ sơ giấy số hoá")},
                   {"subject", json::object{{"reference", subject}}},
                   {"date", options.now},
                   {"description",
                    "Hồ sơ giấy được số hoá (" + std::to_string(doc.pages.size()) + " trang)"},
                   {"content", std::move(content)}});

  // Drafts with their Provenance.
  auto provenance = [&](const std::string& target, const Fact& f) {
    ++n.provenances;
    json::object span{
        {"url", kTextSpanExt},
        {"extension",
         json::array{
             json::object{{"url", "begin"}, {"valueInteger", static_cast<int64_t>(f.begin)}},
             json::object{{"url", "end"}, {"valueInteger", static_cast<int64_t>(f.end)}},
             json::object{{"url", "page"}, {"valueInteger", doc.PageAt(f.begin)}},
             json::object{{"url", "text"}, {"valueString", Snippet(ex, f)}}}}};
    put("Provenance", new_id("dig-prov"),
        json::object{
            {"resourceType", "Provenance"},
            {"target", json::array{json::object{{"reference", target}}}},
            {"recorded", options.now},
            {"activity",
             Concept("http://terminology.hl7.org/CodeSystem/v3-DataOperation", "CREATE", "create")},
            {"agent",
             json::array{json::object{
                 {"type",
                  Concept("http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                          "assembler", "Assembler")},
                 {"who",
                  json::object{{"display", "benhan digitize (Tesseract vie, rule extraction)"}}}}}},
            {"entity",
             json::array{json::object{
                 {"extension",
                  json::array{span, json::object{{"url", kConfidenceExt},
                                                 {"valueDecimal", Round(f.confidence, 2)}}}},
                 {"role", "source"},
                 {"what", json::object{{"reference", "DocumentReference/" + doc_id}}}}}}});
  };
  auto base_draft = [&](const char* type, const Fact& f) {
    return json::object{
        {"resourceType", type},
        {"meta", DraftMeta(doc_id)},
        {"extension", json::array{json::object{{"url", kConfidenceExt},
                                               {"valueDecimal", Round(f.confidence, 2)}}}}};
  };
  const json::object doc_ref{{"reference", "DocumentReference/" + doc_id}};

  // Diagnoses: one Condition per ICD-10 category; present > uncertain > history; negated and family
  // mentions are not findings of the patient and make no Condition.
  auto rank = [](Assertion a) {
    return a == Assertion::kPresent     ? 3
           : a == Assertion::kUncertain ? 2
           : a == Assertion::kHistory   ? 1
                                        : 0;
  };
  // One per ICD-10 category ("ĐTĐ típ 2" in the history and "E11.9" in the diagnosis are one
  // disease): the strongest assertion, then the more specific code.
  auto category = [](const Fact& f) { return f.coding.code.substr(0, 3); };
  std::map<std::string, const Fact*> best;
  for (const auto& f : ex.facts) {
    if (f.kind != "diagnosis" || rank(f.assertion) == 0 || f.coding.code.empty()) continue;
    auto& b = best[category(f)];
    if (!b || rank(f.assertion) > rank(b->assertion) ||
        (rank(f.assertion) == rank(b->assertion) && f.coding.code.size() > b->coding.code.size()))
      b = &f;
  }
  for (const auto& f : ex.facts) {
    if (f.kind != "diagnosis" || f.coding.code.empty() || best.count(category(f)) == 0 ||
        best[category(f)] != &f)
      continue;
    json::object c = base_draft("Condition", f);
    const bool history = f.assertion == Assertion::kHistory;
    c["clinicalStatus"] = Concept("http://terminology.hl7.org/CodeSystem/condition-clinical",
                                  history ? "inactive" : "active", history ? "Inactive" : "Active");
    c["verificationStatus"] =
        Concept("http://terminology.hl7.org/CodeSystem/condition-ver-status",
                f.assertion == Assertion::kUncertain ? "provisional" : "unconfirmed",
                f.assertion == Assertion::kUncertain ? "Provisional" : "Unconfirmed");
    const bool dx = f.section.rfind("diagnosis", 0) == 0;
    c["category"] = json::array{Concept("http://terminology.hl7.org/CodeSystem/condition-category",
                                        dx ? "encounter-diagnosis" : "problem-list-item",
                                        dx ? "Encounter Diagnosis" : "Problem List Item")};
    c["code"] = Concept(f.coding.system, f.coding.code, f.coding.display, f.value);
    c["subject"] = json::object{{"reference", subject}};
    c["evidence"] = json::array{json::object{{"detail", json::array{doc_ref}}}};
    const std::string id = new_id("dig-cond");
    put("Condition", id, std::move(c));
    ++n.conditions;
    provenance("Condition/" + id, f);
  }
  // Vital signs and lab results.
  for (const auto& f : ex.facts) {
    if ((f.kind != "vital" && f.kind != "lab") || !f.number) continue;
    const bool vital = f.kind == "vital";
    json::object o = base_draft("Observation", f);
    o["status"] = "preliminary";
    o["category"] = json::array{
        Concept("http://terminology.hl7.org/CodeSystem/observation-category",
                vital ? "vital-signs" : "laboratory", vital ? "Vital Signs" : "Laboratory")};
    o["code"] = Concept(f.coding.system, f.coding.code, f.coding.display, Snippet(ex, f));
    o["subject"] = json::object{{"reference", subject}};
    if (!f.date.empty()) o["effectiveDateTime"] = f.date;
    if (f.number2) {
      o["component"] = json::array{
          json::object{{"code", Concept("http://loinc.org", "8480-6", "Systolic blood pressure")},
                       {"valueQuantity", Quantity(*f.number, f.unit, f.ucum)}},
          json::object{{"code", Concept("http://loinc.org", "8462-4", "Diastolic blood pressure")},
                       {"valueQuantity", Quantity(*f.number2, f.unit, f.ucum)}}};
    } else {
      o["valueQuantity"] = Quantity(*f.number, f.unit, f.ucum);
    }
    o["derivedFrom"] = json::array{doc_ref};
    const std::string id = new_id("dig-obs");
    put("Observation", id, std::move(o));
    ++n.observations;
    provenance("Observation/" + id, f);
  }
  // Medications.
  for (const auto& f : ex.facts) {
    if (f.kind != "medication") continue;
    json::object m = base_draft("MedicationStatement", f);
    m["status"] = "unknown";
    char strength[64];
    std::snprintf(strength, sizeof strength, "%g %s", f.strength.value_or(0), f.unit.c_str());
    m["medicationCodeableConcept"] = json::object{{"text", f.value + " " + strength}};
    m["subject"] = json::object{{"reference", subject}};
    m["derivedFrom"] = json::array{doc_ref};
    json::object dosage{{"text", f.dosage_text.empty() ? Snippet(ex, f) : f.dosage_text}};
    json::object repeat;
    if (f.per_day > 0) {
      repeat["frequency"] = f.per_day;
      repeat["period"] = 1;
      repeat["periodUnit"] = "d";
    }
    if (!f.when.empty()) {
      json::array when;
      for (const auto& w : f.when) when.push_back(json::string(w));
      repeat["when"] = when;
    }
    if (f.duration_days > 0) {
      repeat["boundsDuration"] = json::object{{"value", f.duration_days},
                                              {"unit", "ngày"},
                                              {"system", "http://unitsofmeasure.org"},
                                              {"code", "d"}};
    }
    if (!repeat.empty()) dosage["timing"] = json::object{{"repeat", repeat}};
    if (!f.route.code.empty())
      dosage["route"] = Concept(f.route.system, f.route.code, f.route.display);
    if (f.dose) {
      dosage["doseAndRate"] =
          json::array{json::object{{"doseQuantity", Quantity(*f.dose, f.dose_unit, f.dose_ucum)}}};
    }
    m["dosage"] = json::array{dosage};
    const std::string id = new_id("dig-med");
    put("MedicationStatement", id, std::move(m));
    ++n.medications;
    provenance("MedicationStatement/" + id, f);
  }
  return json::object{
      {"resourceType", "Bundle"}, {"type", "transaction"}, {"entry", std::move(entries)}};
}

}  // namespace benhan::digitize
