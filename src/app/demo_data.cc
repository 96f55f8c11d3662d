// The Vietnamese demo population (demo_data.h). Distributions are rounded figures from public
// summaries of Vietnamese names and population; they aim at plausible demos and benchmark data,
// not at statistics.
#include "app/demo_data.h"

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "app/node.h"
#include "fhir/resource.h"
#include "terminology/code_system.h"
#include "terminology/vn_address.h"
#include "terminology/vn_identifiers.h"

namespace json = boost::json;

namespace benhan::app {
namespace {

template <typename T>
struct Weighted {
  T value;
  double weight;
};

// Picks from a weighted list (weights need not sum to 1).
template <typename T>
const T& PickW(std::mt19937_64& rng, const std::vector<Weighted<T>>& list) {
  double total = 0;
  for (const auto& w : list) total += w.weight;
  double x = std::uniform_real_distribution<double>(0, total)(rng);
  for (const auto& w : list) {
    if (x < w.weight) return w.value;
    x -= w.weight;
  }
  return list.back().value;
}

template <typename T>
const T& Pick(std::mt19937_64& rng, const std::vector<T>& list) {
  return list[std::uniform_int_distribution<size_t>(0, list.size() - 1)(rng)];
}

int Uniform(std::mt19937_64& rng, int lo, int hi) {
  return std::uniform_int_distribution<int>(lo, hi)(rng);
}

double Normal(std::mt19937_64& rng, double mean, double sd) {
  return std::normal_distribution<double>(mean, sd)(rng);
}

const std::vector<Weighted<const char*>> kFamily = {
    {"Nguyễn", 38}, {"Trần", 11}, {"Lê", 9.5},    {"Phạm", 7},   {"Hoàng", 3.2}, {"Huỳnh", 2},
    {"Phan", 4.5},  {"Vũ", 2.2},  {"Võ", 1.7},    {"Đặng", 2.1}, {"Bùi", 2},     {"Đỗ", 1.4},
    {"Hồ", 1.3},    {"Ngô", 1.3}, {"Dương", 1},   {"Lý", 0.5},   {"Đinh", 0.6},  {"Trương", 0.6},
    {"Mai", 0.4},   {"Đào", 0.4}, {"Lương", 0.3}, {"Tạ", 0.2},   {"Hà", 0.3},    {"Cao", 0.3}};
const std::vector<Weighted<const char*>> kMiddleM = {
    {"Văn", 40},  {"Hữu", 8},  {"Đức", 10}, {"Minh", 10}, {"Quang", 7}, {"Công", 6},
    {"Thanh", 5}, {"Ngọc", 4}, {"Xuân", 4}, {"Anh", 3},   {"Tuấn", 2},  {"Gia", 2}};
const std::vector<Weighted<const char*>> kMiddleF = {
    {"Thị", 50}, {"Ngọc", 9},   {"Thu", 7}, {"Thanh", 6}, {"Kim", 5},   {"Minh", 4},
    {"Bích", 3}, {"Phương", 3}, {"Mỹ", 3},  {"Hồng", 4},  {"Khánh", 2}, {"Bảo", 2}};
const std::vector<const char*> kGivenM = {
    "An",    "Bình",  "Cường", "Dũng",  "Đạt",   "Hải",  "Hùng", "Huy",  "Khánh", "Khoa",
    "Long",  "Minh",  "Nam",   "Nghĩa", "Phong", "Phúc", "Quân", "Sơn",  "Tài",   "Thắng",
    "Thành", "Trung", "Tuấn",  "Tùng",  "Việt",  "Vinh", "Bảo",  "Hiếu", "Lâm",   "Đức"};
const std::vector<const char*> kGivenF = {
    "Anh",    "Chi",   "Dung", "Giang", "Hà",  "Hằng",  "Hạnh", "Hoa",  "Hương", "Huyền",
    "Lan",    "Linh",  "Loan", "Mai",   "My",  "Nga",   "Ngân", "Ngọc", "Nhung", "Oanh",
    "Phương", "Quỳnh", "Tâm",  "Thảo",  "Thu", "Trang", "Trâm", "Vân",  "Yến",   "Hiền"};

// The current provinces (terminology/vn_address.h) by population share (millions, rounded, after
// the 2025 merger), with real ward names for some: current wards of the government's list; the
// Hà Nội ones with their codes (codes equal in the draft annex and the conversion table).
struct Province {
  const char* code;  // 2 digits, current
  double weight;
  std::vector<std::pair<const char*, const char*>> wards;  // (code or "", name)
};
const std::vector<Province> kProvinces = {
    {"79",
     14.0,
     {{"", "Phường Gò Vấp"},
      {"", "Phường Phú Nhuận"},
      {"", "Phường Tân Bình"},
      {"", "Phường Thủ Đức"},
      {"", "Phường Tân Phú"},
      {"", "Phường Cát Lái"},
      {"", "Xã Củ Chi"},
      {"", "Xã Hóc Môn"},
      {"", "Xã Nhà Bè"},
      {"", "Xã Bình Chánh"}}},
    {"01",
     8.7,
     {{"00004", "Phường Ba Đình"},
      {"00008", "Phường Ngọc Hà"},
      {"00025", "Phường Giảng Võ"},
      {"00070", "Phường Hoàn Kiếm"},
      {"00091", "Phường Phú Thượng"},
      {"00097", "Phường Hồng Hà"},
      {"00103", "Phường Tây Hồ"},
      {"00127", "Phường Việt Hưng"},
      {"00136", "Phường Phúc Lợi"},
      {"00160", "Phường Nghĩa Đô"},
      {"00175", "Phường Yên Hòa"},
      {"00190", "Phường Ô Chợ Dừa"}}},
    {"31", 4.7, {}},
    {"24", 3.6, {}},
    {"25", 4.0, {}},
    {"37", 4.4, {}},
    {"33", 3.6, {}},
    {"38", 3.8, {}},
    {"40", 3.5, {}},
    {"75", 4.5, {}},
    {"82", 4.4, {{"", "Phường Mỹ Tho"}, {"", "Phường Cao Lãnh"}, {"", "Phường Sa Đéc"}}},
    {"91", 5.0, {{"", "Phường Long Xuyên"}, {"", "Phường Châu Đốc"}, {"", "Xã Chợ Mới"}}},
    {"86", 4.3, {{"", "Phường Bến Tre"}, {"", "Phường Trà Vinh"}, {"", "Xã Long Hồ"}}},
    {"92", 4.2, {}},
    {"80", 3.3, {{"", "Phường Tân An"}, {"", "Phường Long An"}, {"", "Xã Bến Lức"}}},
    {"52", 3.6, {}},
    {"66", 3.3, {}},
    {"68", 3.9, {}},
    {"48", 3.1, {}},
    {"51", 2.2, {}},
    {"56", 2.2, {}},
    {"44", 1.9, {}},
    {"46", 1.2, {}},
    {"42", 1.3, {}},
    {"22", 1.4, {}},
    {"19", 1.8, {}},
    {"15", 1.8, {}},
    {"08", 1.9, {{"", "Phường Minh Xuân"}, {"", "Phường Hà Giang 1"}, {"", "Xã Yên Sơn"}}},
    {"96", 2.6, {}},
    {"14", 1.3, {{"", "Phường Tô Hiệu"}, {"", "Phường Chiềng An"}, {"", "Phường Mộc Châu"}}},
    {"20", 0.8, {}},
    {"04", 0.6, {{"", "Xã Bảo Lâm"}, {"", "Xã Hà Quảng"}, {"", "Xã Quảng Uyên"}}},
    {"11", 0.6, {{"", "Phường Điện Biên Phủ"}, {"", "Phường Mường Thanh"}}},
    {"12", 0.5, {{"", "Phường Tân Phong"}, {"", "Phường Đoàn Kết"}}},
};
const std::vector<const char*> kStreets = {"Lê Lợi",        "Trần Hưng Đạo", "Nguyễn Trãi",
                                           "Hai Bà Trưng",  "Quang Trung",   "Lý Thường Kiệt",
                                           "Hùng Vương",    "Nguyễn Huệ",    "Phan Chu Trinh",
                                           "Điện Biên Phủ", "Lê Duẩn",       "Bà Triệu"};

// A diagnosis with its care: the vitals and labs it shifts and what is prescribed.
struct Dx {
  const char* code;
  double weight_young, weight_old;  // relative frequency under / over 45
  int sex;                          // 0 any, 1 male only, 2 female only
  const char* drug;                 // ATC code | name and strength | dosage text
  const char* atc;
  const char* dosage;
  const char* lab;  // LOINC of the lab result ordered, or nullptr
};
const std::vector<Dx> kDx = {
    {"I10", 2, 30, 0, "Amlodipin 5 mg", "C08CA01", "Uống 1 viên/ngày, buổi sáng", "2345-7"},
    {"E11.9", 1, 14, 0, "Metformin 500 mg", "A10BA02", "Uống 1 viên x 2 lần/ngày sau ăn", "4548-4"},
    {"E11.2", 0.2, 3, 0, "Gliclazid 30 mg", "A10BB09", "Uống 1 viên/ngày trước ăn sáng", "2160-0"},
    {"A97.0", 6, 2, 0, "Paracetamol 500 mg", "N02BE01",
     "Uống 1 viên khi sốt trên 38,5°C, cách 6 giờ", "777-3"},
    {"A97.1", 2, 1, 0, "Paracetamol 500 mg", "N02BE01",
     "Uống 1 viên khi sốt, theo dõi dấu hiệu cảnh báo", "777-3"},
    {"A15.0", 1, 1.5, 0, "Isoniazid 300 mg", "J04AC01",
     "Uống 1 viên/ngày lúc đói (phác đồ chống lao)", "6690-2"},
    {"J18.9", 3, 4, 0, "Amoxicilin 500 mg", "J01CA04", "Uống 1 viên x 3 lần/ngày trong 7 ngày",
     "6690-2"},
    {"J15.9", 1, 2, 0, "Amoxicilin/acid clavulanic 875/125 mg", "J01CR02",
     "Uống 1 viên x 2 lần/ngày trong 7 ngày", "6690-2"},
    {"B18.1", 2, 2, 0, "Tenofovir 300 mg", "J05AF07", "Uống 1 viên/ngày", "1742-6"},
    {"J06.9", 12, 5, 0, "Paracetamol 500 mg", "N02BE01", "Uống 1 viên x 3 lần/ngày khi đau, sốt",
     nullptr},
    {"J02.9", 5, 2, 0, "Amoxicilin 500 mg", "J01CA04", "Uống 1 viên x 3 lần/ngày trong 5 ngày",
     nullptr},
    {"K29.7", 5, 6, 0, "Omeprazol 20 mg", "A02BC01", "Uống 1 viên/ngày trước ăn sáng 30 phút",
     nullptr},
    {"M54.5", 3, 6, 0, "Meloxicam 7,5 mg", "M01AC06", "Uống 1 viên/ngày sau ăn", nullptr},
    {"J45.9", 2, 2, 0, "Salbutamol 100 mcg/liều xịt", "R03AC02", "Xịt 2 nhát khi khó thở", nullptr},
    {"J44.9", 0.1, 3, 0, "Salbutamol 100 mcg/liều xịt", "R03AC02", "Xịt 2 nhát x 3 lần/ngày",
     nullptr},
    {"S52.5", 2, 1, 0, "Paracetamol 500 mg", "N02BE01", "Uống 1 viên x 3 lần/ngày khi đau",
     nullptr},
    {"S06.0", 1.5, 0.5, 0, "Paracetamol 500 mg", "N02BE01", "Uống 1 viên khi đau đầu", nullptr},
    {"T14.1", 3, 1, 0, "Cephalexin 500 mg", "J01DB01", "Uống 1 viên x 4 lần/ngày trong 5 ngày",
     nullptr},
    {"A09.0", 4, 2, 0, "Oresol", "A07CA", "Pha 1 gói với 200 ml nước, uống sau mỗi lần đi ngoài",
     nullptr},
    {"N40", 0, 4, 1, "Tamsulosin 0,4 mg", "G04CA02", "Uống 1 viên/ngày sau ăn tối", nullptr},
    {"N39.0", 2, 2, 2, "Ciprofloxacin 500 mg", "J01MA02", "Uống 1 viên x 2 lần/ngày trong 3 ngày",
     nullptr},
    {"E78.5", 0.5, 6, 0, "Atorvastatin 20 mg", "C10AA05", "Uống 1 viên/ngày buổi tối", nullptr},
};
// External causes recorded with an injury (secondary diagnosis, not allowed as main).
const std::vector<const char*> kInjuryCauses = {"V29.9", "W19", "W01", "V89.2"};

struct Lab {
  const char* loinc;
  const char* display;
  const char* unit;
  const char* ucum;
  double normal, abnormal, sd;
};
const std::vector<Lab> kLabs = {
    {"2345-7", "Glucose máu", "mmol/L", "mmol/L", 5.2, 9.5, 0.8},
    {"4548-4", "HbA1c", "%", "%", 5.4, 8.1, 0.5},
    {"2160-0", "Creatinin máu", "µmol/L", "umol/L", 80, 150, 12},
    {"777-3", "Số lượng tiểu cầu", "G/L", "10*9/L", 250, 70, 25},
    {"6690-2", "Số lượng bạch cầu", "G/L", "10*9/L", 7, 15, 1.5},
    {"1742-6", "ALT (GPT)", "U/L", "U/L", 25, 95, 8},
};

class Ids {
 public:
  explicit Ids(std::mt19937_64& rng) : rng_(rng) {}
  std::string Next() {
    uint64_t a = rng_(), b = rng_();
    a = (a & ~0xF000ull) | 0x4000ull;                         // version 4
    b = (b & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull;  // variant
    char buf[40];
    std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                  static_cast<unsigned>((a >> 16) & 0xFFFF), static_cast<unsigned>(a & 0xFFFF),
                  static_cast<unsigned>(b >> 48),
                  static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFull));
    return buf;
  }

 private:
  std::mt19937_64& rng_;
};

json::object Coding(const char* system, const char* code, const std::string& display) {
  return json::object{{"system", system}, {"code", code}, {"display", display}};
}

json::object Quantity(double value, const char* unit, const char* ucum) {
  return json::object{{"value", std::round(value * 10) / 10},
                      {"unit", unit},
                      {"system", "http://unitsofmeasure.org"},
                      {"code", ucum}};
}

json::object Observation(const std::string& id, const std::string& pid, const std::string& eid,
                         const char* category, const char* loinc, const std::string& display,
                         json::object value, const std::string& when) {
  return json::object{
      {"resourceType", "Observation"},
      {"id", id},
      {"status", "final"},
      {"category", json::array{json::object{
                       {"coding", json::array{Coding(
                                      "http://terminology.hl7.org/CodeSystem/observation-category",
                                      category, category)}}}}},
      {"code", json::object{{"coding", json::array{Coding("http://loinc.org", loinc, display)}},
                            {"text", display}}},
      {"subject", json::object{{"reference", "Patient/" + pid}}},
      {"encounter", json::object{{"reference", "Encounter/" + eid}}},
      {"effectiveDateTime", when},
      {"valueQuantity", std::move(value)}};
}

std::string Date(int y, int m, int d) {
  char b[48];
  std::snprintf(b, sizeof b, "%04d-%02d-%02d", y, m, d);
  return b;
}

std::string Time(const std::string& date, int hour, int minute) {
  char b[64];
  std::snprintf(b, sizeof b, "%sT%02d:%02d:00+07:00", date.c_str(), hour, minute);
  return b;
}

// SplitMix64: one independent stream per patient.
uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

void OnePatient(uint64_t seed, int64_t index, const std::function<void(json::object&&)>& emit) {
  std::mt19937_64 rng(Mix(seed ^ Mix(static_cast<uint64_t>(index))));
  Ids ids(rng);
  auto starter = terminology::StarterIcd10();
  const bool male = rng() % 2 == 0;
  // Age: a rough Vietnamese pyramid (more young adults, fewer over 70).
  static const std::vector<Weighted<std::pair<int, int>>> kAges = {
      {{0, 5}, 7},    {{6, 14}, 13},  {{15, 24}, 14}, {{25, 34}, 16}, {{35, 44}, 15},
      {{45, 54}, 13}, {{55, 64}, 11}, {{65, 74}, 7},  {{75, 95}, 4}};
  auto band = PickW(rng, kAges);
  int age = Uniform(rng, band.first, band.second);
  int year = 2026 - age - (Uniform(rng, 0, 1));
  int month = Uniform(rng, 1, 12), day = Uniform(rng, 1, 28);
  std::string birth = Date(year, month, day);
  std::string family = PickW(rng, kFamily);
  std::string middle = male ? PickW(rng, kMiddleM) : PickW(rng, kMiddleF);
  std::string given = male ? Pick(rng, kGivenM) : Pick(rng, kGivenF);
  const Province& prov = [&]() -> const Province& {
    double total = 0;
    for (const auto& p : kProvinces) total += p.weight;
    double x = std::uniform_real_distribution<double>(0, total)(rng);
    for (const auto& p : kProvinces) {
      if (x < p.weight) return p;
      x -= p.weight;
    }
    return kProvinces.back();
  }();
  const terminology::ProvinceInfo& prov_info = *terminology::FindCurrentProvince(prov.code);
  // Where the birth was registered: one of the legacy provinces the current one was made of (the
  // personal ID keeps the legacy code).
  std::vector<const terminology::ProvinceInfo*> members;
  for (const auto& l : terminology::LegacyProvinces())
    if (std::string_view(l.current) == prov.code) members.push_back(&l);
  const char* birth_province = members[rng() % members.size()]->code;
  // Personal ID: 0 + province, century/sex digit, year, 6 digits.
  int sex_digit = ((year - 1900) / 100) * 2 + (male ? 0 : 1);
  char cccd[48];
  std::snprintf(cccd, sizeof cccd, "0%s%d%02d%06d", birth_province, sex_digit, year % 100,
                Uniform(rng, 0, 999999));
  // Insurance card: the group by age and work, its benefit level, province, 10 digits.
  const char* group = age < 6     ? "TE"
                      : age < 18  ? "HS"
                      : age < 23  ? (rng() % 2 ? "SV" : "GD")
                      : age >= 60 ? (rng() % 3 ? "HT" : "GD")
                                  : (rng() % 2 ? "DN" : "GD");
  char level = group[0] == 'T' ? '1' : group[0] == 'H' && group[1] == 'T' ? '2' : '4';
  char card[48];
  std::snprintf(card, sizeof card, "%s%c%s%010llu", group, level, prov.code,
                static_cast<unsigned long long>(rng() % 10000000000ull));
  const std::string pid = ids.Next();
  std::string phone = "09" + std::to_string(Uniform(rng, 10000000, 99999999));
  std::string line = std::to_string(Uniform(rng, 1, 300)) + " " + Pick(rng, kStreets);
  // A current address: street, ward (when the generator knows real ones), province; coded.
  const std::string province_name = terminology::ProvinceDisplay(prov_info);
  std::pair<const char*, const char*> ward{"", ""};
  if (!prov.wards.empty()) ward = prov.wards[rng() % prov.wards.size()];
  json::array address_ext{
      json::object{{"url", terminology::kProvinceExt},
                   {"valueCoding", json::object{{"system", terminology::kProvinceSystem},
                                                {"code", prov.code},
                                                {"display", province_name}}}}};
  if (*ward.first)
    address_ext.push_back(
        json::object{{"url", terminology::kWardExt},
                     {"valueCoding", json::object{{"system", terminology::kWardSystem},
                                                  {"code", ward.first},
                                                  {"display", ward.second}}}});
  json::object address{
      {"extension", std::move(address_ext)},
      {"use", "home"},
      {"text", line + (*ward.second ? std::string(", ") + ward.second : "") + ", " + province_name},
      {"line", json::array{json::string(line)}}};
  if (*ward.second) address["city"] = ward.second;
  address["state"] = province_name;
  address["country"] = "VN";
  emit(json::object{
      {"resourceType", "Patient"},
      {"id", pid},
      {"identifier",
       json::array{
           json::object{{"use", "official"},
                        {"type", json::object{{"text", "Số định danh cá nhân"}}},
                        {"system", terminology::kPersonalIdSystem},
                        {"value", cccd}},
           json::object{{"type", json::object{{"text", "Mã thẻ BHYT"}}},
                        {"system", terminology::kInsuranceCardSystem},
                        {"value", card},
                        {"period", json::object{{"start", "2026-01-01"}, {"end", "2026-12-31"}}}}}},
      {"active", true},
      {"name", json::array{json::object{
                   {"use", "official"},
                   {"text", family + " " + middle + " " + given},
                   {"family", family},
                   {"given", json::array{json::string(middle), json::string(given)}}}}},
      {"telecom",
       json::array{json::object{{"system", "phone"}, {"value", phone}, {"use", "mobile"}}}},
      {"gender", male ? "male" : "female"},
      {"birthDate", birth},
      {"address", json::array{std::move(address)}},
      {"communication", json::array{json::object{
                            {"language", json::object{{"coding", json::array{json::object{
                                                                     {"system", "urn:ietf:bcp:47"},
                                                                     {"code", "vi"},
                                                                     {"display", "Tiếng Việt"}}}}}},
                            {"preferred", true}}}}});

  int encounters =
      1 + static_cast<int>(std::min<double>(
              5, std::exponential_distribution<double>(0.9 - std::min(0.5, age / 200.0))(rng)));
  for (int e = 0; e < encounters; ++e) {
    // Diagnosis by age and sex.
    std::vector<Weighted<const Dx*>> options;
    for (const auto& d : kDx) {
      if ((d.sex == 1 && !male) || (d.sex == 2 && male)) continue;
      double w = age >= 45 ? d.weight_old : d.weight_young;
      if (w > 0) options.push_back({&d, w});
    }
    const Dx& dx = *PickW(rng, options);
    const terminology::Concept* concept_ = starter->Find(dx.code);
    std::string dx_display = concept_ ? concept_->display : dx.code;
    // Dengue comes in the rainy season (June-November).
    bool dengue = dx.code[0] == 'A' && dx.code[1] == '9';
    int vm = dengue ? Uniform(rng, 6, 11) : Uniform(rng, 1, 12);
    int vy = 2024 + Uniform(rng, 0, 2);
    if (vy == 2026 && vm > 11) vm = 11;
    std::string vdate = Date(vy, vm, Uniform(rng, 1, 28));
    bool inpatient = dx.code[0] == 'A' && dx.code[1] != '0'   ? rng() % 3 == 0
                     : dx.code[0] == 'J' && dx.code[1] == '1' ? rng() % 2 == 0
                                                              : rng() % 12 == 0;
    bool emergency = !inpatient && (dx.code[0] == 'S' || dx.code[0] == 'T') && rng() % 2 == 0;
    std::string start = Time(vdate, Uniform(rng, 7, 16), Uniform(rng, 0, 59));
    std::string end =
        inpatient
            ? Time(Date(vy, vm, std::min(28, std::stoi(vdate.substr(8)) + Uniform(rng, 2, 6))), 9,
                   0)
            : Time(vdate, std::min(22, std::stoi(start.substr(11, 2)) + 1), 30);
    const std::string eid = ids.Next(), cid = ids.Next();
    json::array diagnosis{
        json::object{{"condition", json::object{{"reference", "Condition/" + cid}}}, {"rank", 1}}};
    std::string cause_id;
    const char* cause = nullptr;
    if (dx.code[0] == 'S' || dx.code[0] == 'T') {
      cause = Pick(rng, kInjuryCauses);
      cause_id = ids.Next();
      diagnosis.push_back(json::object{
          {"condition", json::object{{"reference", "Condition/" + cause_id}}}, {"rank", 2}});
    }
    auto condition = [&](const std::string& id, const char* code) {
      const terminology::Concept* c = starter->Find(code);
      std::string display = c ? c->display : code;
      return json::object{
          {"resourceType", "Condition"},
          {"id", id},
          {"clinicalStatus",
           json::object{{"coding", json::array{Coding(
                                       "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "active", "Active")}}}},
          {"verificationStatus",
           json::object{{"coding", json::array{Coding(
                                       "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                       "confirmed", "Confirmed")}}}},
          {"category",
           json::array{json::object{
               {"coding",
                json::array{Coding("http://terminology.hl7.org/CodeSystem/condition-category",
                                   "encounter-diagnosis", "Encounter Diagnosis")}}}}},
          {"code",
           json::object{{"coding", json::array{Coding(terminology::kIcd10VnUrl, code, display)}},
                        {"text", display}}},
          {"subject", json::object{{"reference", "Patient/" + pid}}},
          {"encounter", json::object{{"reference", "Encounter/" + eid}}},
          {"recordedDate", end}};
    };
    // Conditions first (the Encounter refers to them), then the Encounter, then what it holds.
    json::object cond = condition(cid, dx.code);
    cond.erase("encounter");
    emit(std::move(cond));
    if (cause) {
      json::object c2 = condition(cause_id, cause);
      c2.erase("encounter");
      emit(std::move(c2));
    }
    const char* cls = inpatient ? "IMP" : emergency ? "EMER" : "AMB";
    emit(json::object{
        {"resourceType", "Encounter"},
        {"id", eid},
        {"status", "finished"},
        {"class", Coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", cls,
                         inpatient   ? "inpatient encounter"
                         : emergency ? "emergency"
                                     : "ambulatory")},
        {"type", json::array{json::object{{"text", inpatient   ? "Điều trị nội trú"
                                                   : emergency ? "Cấp cứu"
                                                               : "Khám bệnh ngoại trú"}}}},
        {"subject", json::object{{"reference", "Patient/" + pid}}},
        {"period", json::object{{"start", start}, {"end", end}}},
        {"reasonCode",
         json::array{json::object{
             {"coding", json::array{Coding(terminology::kIcd10VnUrl, dx.code, dx_display)}},
             {"text", dx_display}}}},
        {"diagnosis", std::move(diagnosis)}});
    // Vital signs.
    bool hyper = std::string_view(dx.code) == "I10";
    bool fever = dengue || dx.code[0] == 'J' || std::string_view(dx.code) == "A15.0";
    double sys = Normal(rng, hyper ? 150 : 118 + age * 0.25, 10);
    double dia = Normal(rng, hyper ? 92 : 75, 7);
    auto vital = [&](const char* loinc, const char* display, double v, const char* unit,
                     const char* ucum) {
      emit(Observation(ids.Next(), pid, eid, "vital-signs", loinc, display, Quantity(v, unit, ucum),
                       start));
    };
    vital("8480-6", "Huyết áp tâm thu", sys, "mmHg", "mm[Hg]");
    vital("8462-4", "Huyết áp tâm trương", dia, "mmHg", "mm[Hg]");
    vital("8867-4", "Mạch", Normal(rng, fever ? 98 : 78, 8), "lần/phút", "/min");
    vital("8310-5", "Nhiệt độ", Normal(rng, fever ? 38.6 : 36.8, fever ? 0.5 : 0.2), "°C", "Cel");
    if (age >= 2) {
      double height = age < 18 ? 75 + age * 5.5 : male ? Normal(rng, 166, 6) : Normal(rng, 155, 5);
      double bmi = Normal(rng, age < 18 ? 17 : 22.5, 2.5);
      vital("8302-2", "Chiều cao", height, "cm", "cm");
      vital("29463-7", "Cân nặng", bmi * height * height / 10000, "kg", "kg");
    }
    // Lab result of the diagnosis.
    if (dx.lab) {
      for (const auto& l : kLabs) {
        if (std::string_view(l.loinc) != dx.lab) continue;
        double v = std::max(0.1, Normal(rng, l.abnormal, l.sd));
        emit(Observation(ids.Next(), pid, eid, "laboratory", l.loinc, l.display,
                         Quantity(v, l.unit, l.ucum), end));
      }
    }
    // Prescription.
    emit(json::object{
        {"resourceType", "MedicationRequest"},
        {"id", ids.Next()},
        {"status", "completed"},
        {"intent", "order"},
        {"medicationCodeableConcept",
         json::object{{"coding", json::array{Coding("http://www.whocc.no/atc", dx.atc, dx.drug)}},
                      {"text", dx.drug}}},
        {"subject", json::object{{"reference", "Patient/" + pid}}},
        {"encounter", json::object{{"reference", "Encounter/" + eid}}},
        {"authoredOn", end},
        {"reasonReference", json::array{json::object{{"reference", "Condition/" + cid}}}},
        {"dosageInstruction", json::array{json::object{{"text", dx.dosage}}}}});
  }
}

}  // namespace

void GenerateDemoPopulation(const DemoOptions& opts,
                            const std::function<void(json::object&&)>& emit) {
  for (int64_t i = 0; i < opts.patients; ++i) OnePatient(opts.seed, opts.first + i, emit);
}

Result<int> LoadDemoData(Node& node) {
  service::ParsedSearch any;
  any.query.count = 1;
  any.query.want_total = false;
  auto existing = node.store().Search("Patient", any.query);
  if (!existing.ok()) return existing.status();
  if (!existing->matches.empty()) return 0;
  json::array entries;
  auto add = [&](json::object res) {
    std::string type(res["resourceType"].get_string());
    std::string id(res["id"].get_string());
    entries.push_back(
        json::object{{"resource", std::move(res)},
                     {"request", json::object{{"method", "PUT"}, {"url", type + "/" + id}}}});
  };
  for (auto& ns : terminology::NamingSystems()) add(std::move(ns.get_object()));
  DemoOptions opts;
  GenerateDemoPopulation(opts, [&](json::object&& r) { add(std::move(r)); });
  int n = static_cast<int>(entries.size());
  json::value bundle = json::object{
      {"resourceType", "Bundle"}, {"type", "transaction"}, {"entry", std::move(entries)}};
  service::RequestContext ctx;
  ctx.principal = "system:demo-loader";
  auto r = node.service().ProcessBundle(ctx, std::move(bundle), false);
  if (!r.ok()) return r.status();
  return n;
}

int DemoDataCmd(int argc, char** argv) {
  DemoOptions opts;
  std::string out_path;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (auto eq = a.find('='); eq != std::string::npos) return a.substr(eq + 1);
      return i + 1 < argc ? argv[++i] : "";
    };
    auto is = [&](const char* n) { return a == n || a.rfind(std::string(n) + "=", 0) == 0; };
    if (is("--patients")) {
      opts.patients = std::atoll(value().c_str());
    } else if (is("--seed")) {
      opts.seed = std::strtoull(value().c_str(), nullptr, 10);
    } else if (is("--first")) {
      opts.first = std::atoll(value().c_str());
    } else if (is("--out")) {
      out_path = value();
    } else {
      std::fprintf(
          stderr,
          "usage: benhan demo-data [--patients N] [--seed S] [--first I] [--out FILE]\n"
          "  Synthetic Vietnamese patients with encounters, ICD-10 diagnoses, vital signs,\n"
          "  lab results and prescriptions, as FHIR NDJSON (stdout unless --out).\n"
          "  N from 1 to 1,000,000 (default 40); the same seed gives the same population;\n"
          "  --first I starts at patient I (to generate a population in parts).\n"
          "  Load it with: benhan import FILE.ndjson\n");
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  if (opts.patients < 1 || opts.patients > 1000000) {
    std::fprintf(stderr, "benhan demo-data: --patients must be 1 to 1,000,000\n");
    return 2;
  }
  FILE* out = out_path.empty() || out_path == "-" ? stdout : std::fopen(out_path.c_str(), "wb");
  if (!out) {
    std::fprintf(stderr, "benhan demo-data: cannot write %s\n", out_path.c_str());
    return 1;
  }
  auto t0 = std::chrono::steady_clock::now();
  int64_t resources = 0;
  std::string line;
  GenerateDemoPopulation(opts, [&](json::object&& r) {
    line = fhir::Serialize(r);
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), out);
    ++resources;
  });
  bool ok = std::fflush(out) == 0 && !std::ferror(out);
  if (out != stdout) ok = std::fclose(out) == 0 && ok;
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr,
               "benhan demo-data: %lld patients, %lld resources in %.2f s (%.0f patients/s)\n",
               static_cast<long long>(opts.patients), static_cast<long long>(resources), s,
               s > 0 ? opts.patients / s : 0.0);
  return ok ? 0 : 1;
}

}  // namespace benhan::app
