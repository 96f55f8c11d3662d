// The built-in demo population: synthetic Vietnamese patients (names with and without common
// diacritics, 12-digit personal ID numbers, insurance card numbers, addresses), each with an
// outpatient encounter, an ICD-10 diagnosis and vital signs. Deterministic (fixed seed), so demos
// and tests see the same data. A richer population comes with the terminology work.
#include <boost/json.hpp>
#include <random>

#include "app/node.h"
#include "core/ids.h"

namespace json = boost::json;

namespace benhan::app {
namespace {

const char* kFamily[] = {"Nguyễn", "Trần", "Lê",  "Phạm", "Hoàng", "Huỳnh", "Phan",  "Vũ",
                         "Võ",     "Đặng", "Bùi", "Đỗ",   "Hồ",    "Ngô",   "Dương", "Lý"};
const char* kMiddleM[] = {"Văn", "Hữu", "Đức", "Quang", "Minh", "Công"};
const char* kMiddleF[] = {"Thị", "Ngọc", "Thu", "Thanh", "Kim", "Bích"};
const char* kGivenM[] = {"An",  "Bình", "Cường", "Dũng", "Hùng", "Khánh", "Long",
                         "Nam", "Phúc", "Quân",  "Sơn",  "Tuấn", "Việt"};
const char* kGivenF[] = {"Anh",  "Chi", "Dung", "Hà",     "Hằng", "Hương", "Lan",
                         "Linh", "Mai", "Ngọc", "Phương", "Thảo", "Yến"};
struct Province {
  const char* code;
  const char* name;
  const char* bhyt;
};
const Province kProvinces[] = {{"001", "Hà Nội", "01"},    {"079", "Thành phố Hồ Chí Minh", "79"},
                               {"031", "Hải Phòng", "31"}, {"048", "Đà Nẵng", "48"},
                               {"092", "Cần Thơ", "92"},   {"046", "Huế", "46"},
                               {"038", "Thanh Hóa", "38"}, {"040", "Nghệ An", "40"}};
struct Dx {
  const char* code;
  const char* vi;
};
const Dx kDx[] = {{"I10", "Tăng huyết áp vô căn (nguyên phát)"},
                  {"E11", "Bệnh đái tháo đường không phụ thuộc insuline"},
                  {"J06.9", "Nhiễm trùng hô hấp trên cấp, không đặc hiệu"},
                  {"K29.7", "Viêm dạ dày, không đặc hiệu"},
                  {"J18.9", "Viêm phổi, không đặc hiệu"},
                  {"A09", "Tiêu chảy và viêm dạ dày-ruột do nhiễm trùng"},
                  {"M54.5", "Đau vùng thắt lưng"},
                  {"J45.9", "Hen phế quản, không đặc hiệu"}};

template <typename T, size_t N>
const T& Pick(std::mt19937& rng, const T (&arr)[N]) {
  return arr[std::uniform_int_distribution<size_t>(0, N - 1)(rng)];
}

json::object Vital(const std::string& patient, const std::string& enc, const char* loinc,
                   const char* display, double value, const char* unit, const char* ucum,
                   const std::string& when) {
  return json::object{
      {"resourceType", "Observation"},
      {"status", "final"},
      {"category",
       json::array{json::object{
           {"coding", json::array{json::object{
                          {"system", "http://terminology.hl7.org/CodeSystem/observation-category"},
                          {"code", "vital-signs"}}}}}}},
      {"code", json::object{{"coding", json::array{json::object{{"system", "http://loinc.org"},
                                                                {"code", loinc},
                                                                {"display", display}}}},
                            {"text", display}}},
      {"subject", json::object{{"reference", patient}}},
      {"encounter", json::object{{"reference", enc}}},
      {"effectiveDateTime", when},
      {"valueQuantity", json::object{{"value", value},
                                     {"unit", unit},
                                     {"system", "http://unitsofmeasure.org"},
                                     {"code", ucum}}}};
}

}  // namespace

Result<int> LoadDemoData(Node& node) {
  service::ParsedSearch any;
  any.query.count = 1;
  any.query.want_total = false;
  auto existing = node.store().Search("Patient", any.query);
  if (!existing.ok()) return existing.status();
  if (!existing->matches.empty()) return 0;

  std::mt19937 rng(2026);
  json::array entries;
  auto add = [&](json::object res, const std::string& full_url) {
    std::string type(res["resourceType"].get_string());
    entries.push_back(json::object{{"fullUrl", full_url},
                                   {"resource", std::move(res)},
                                   {"request", json::object{{"method", "POST"}, {"url", type}}}});
  };
  const int kPatients = 40;
  for (int i = 0; i < kPatients; ++i) {
    bool male = i % 2 == 0;
    std::string family = Pick(rng, kFamily);
    std::string middle = male ? Pick(rng, kMiddleM) : Pick(rng, kMiddleF);
    std::string given = male ? Pick(rng, kGivenM) : Pick(rng, kGivenF);
    const Province& prov = Pick(rng, kProvinces);
    int year = std::uniform_int_distribution<int>(1940, 2020)(rng);
    int month = std::uniform_int_distribution<int>(1, 12)(rng);
    int day = std::uniform_int_distribution<int>(1, 28)(rng);
    char birth[16];
    std::snprintf(birth, sizeof birth, "%04d-%02d-%02d", year, month, day);
    // Personal ID: province(3) + century/sex digit + year(2) + 6 random digits.
    int sex_digit = (year >= 2000 ? 2 : 0) + (male ? 0 : 1);
    char cccd[16];
    std::snprintf(cccd, sizeof cccd, "%s%d%02d%06d", prov.code, sex_digit, year % 100,
                  std::uniform_int_distribution<int>(0, 999999)(rng));
    char bhyt[20];
    std::snprintf(
        bhyt, sizeof bhyt, "GD4%s%010lld", prov.bhyt,
        static_cast<long long>(std::uniform_int_distribution<long long>(0, 9999999999LL)(rng)));
    std::string pid = "urn:uuid:" + NewUuid();
    std::string eid = "urn:uuid:" + NewUuid();
    add(json::object{{"resourceType", "Patient"},
                     {"identifier",
                      json::array{
                          json::object{{"system", "https://benhan.vn/sid/cccd"}, {"value", cccd}},
                          json::object{{"system", "https://benhan.vn/sid/bhyt"}, {"value", bhyt}}}},
                     {"active", true},
                     {"name",
                      json::array{json::object{
                          {"use", "official"},
                          {"text", family + " " + middle + " " + given},
                          {"family", family},
                          {"given", json::array{json::string(middle), json::string(given)}}}}},
                     {"gender", male ? "male" : "female"},
                     {"birthDate", birth},
                     {"address", json::array{json::object{
                                     {"use", "home"}, {"city", prov.name}, {"country", "VN"}}}},
                     {"communication",
                      json::array{json::object{
                          {"language",
                           json::object{{"coding",
                                         json::array{json::object{
                                             {"system", "urn:ietf:bcp:47"}, {"code", "vi"}}}}}}}}}},
        pid);
    int vday = std::uniform_int_distribution<int>(1, 28)(rng);
    char when[40];
    std::snprintf(when, sizeof when, "2026-10-%02dT08:30:00+07:00", vday);
    char until[40];
    std::snprintf(until, sizeof until, "2026-10-%02dT09:10:00+07:00", vday);
    add(json::object{{"resourceType", "Encounter"},
                     {"status", "finished"},
                     {"class",
                      json::object{{"system", "http://terminology.hl7.org/CodeSystem/v3-ActCode"},
                                   {"code", "AMB"},
                                   {"display", "ambulatory"}}},
                     {"subject", json::object{{"reference", pid}}},
                     {"period", json::object{{"start", when}, {"end", until}}}},
        eid);
    const Dx& dx = Pick(rng, kDx);
    add(json::object{{"resourceType", "Condition"},
                     {"clinicalStatus",
                      json::object{
                          {"coding",
                           json::array{json::object{
                               {"system",
                                "http://terminology.hl7.org/CodeSystem/condition-clinical"},
                               {"code", "active"}}}}}},
                     {"code",
                      json::object{{"coding", json::array{json::object{
                                                  {"system", "http://hl7.org/fhir/sid/icd-10"},
                                                  {"code", dx.code},
                                                  {"display", dx.vi}}}},
                                   {"text", dx.vi}}},
                     {"subject", json::object{{"reference", pid}}},
                     {"encounter", json::object{{"reference", eid}}},
                     {"recordedDate", when}},
        "urn:uuid:" + NewUuid());
    double sys = std::uniform_int_distribution<int>(100, 170)(rng);
    add(Vital(pid, eid, "8480-6", "Huyết áp tâm thu", sys, "mmHg", "mm[Hg]", when),
        "urn:uuid:" + NewUuid());
    add(Vital(pid, eid, "8867-4", "Mạch", std::uniform_int_distribution<int>(60, 110)(rng),
              "lần/phút", "/min", when),
        "urn:uuid:" + NewUuid());
    add(Vital(pid, eid, "8310-5", "Nhiệt độ",
              36.0 + std::uniform_int_distribution<int>(0, 30)(rng) / 10.0, "°C", "Cel", when),
        "urn:uuid:" + NewUuid());
  }
  int n = static_cast<int>(entries.size());
  json::value bundle = json::object{
      {"resourceType", "Bundle"}, {"type", "transaction"}, {"entry", std::move(entries)}};
  service::RequestContext ctx;
  ctx.principal = "system:demo-loader";
  auto r = node.service().ProcessBundle(ctx, std::move(bundle), false);
  if (!r.ok()) return r.status();
  return n;
}

}  // namespace benhan::app
