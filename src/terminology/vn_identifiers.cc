#include "terminology/vn_identifiers.h"

#include <boost/json.hpp>
#include <cctype>

namespace json = boost::json;

namespace benhan::terminology {
namespace {

struct Province {
  const char* code;
  const char* name;
};
// Province codes before the 2025 reorganisation (Decision 124/2004/QĐ-TTg numbering, used by the
// personal ID as 0NN and by insurance cards and facility codes as NN).
const Province kProvinces[] = {
    {"01", "Hà Nội"},
    {"02", "Hà Giang"},
    {"04", "Cao Bằng"},
    {"06", "Bắc Kạn"},
    {"08", "Tuyên Quang"},
    {"10", "Lào Cai"},
    {"11", "Điện Biên"},
    {"12", "Lai Châu"},
    {"14", "Sơn La"},
    {"15", "Yên Bái"},
    {"17", "Hòa Bình"},
    {"19", "Thái Nguyên"},
    {"20", "Lạng Sơn"},
    {"22", "Quảng Ninh"},
    {"24", "Bắc Giang"},
    {"25", "Phú Thọ"},
    {"26", "Vĩnh Phúc"},
    {"27", "Bắc Ninh"},
    {"30", "Hải Dương"},
    {"31", "Hải Phòng"},
    {"33", "Hưng Yên"},
    {"34", "Thái Bình"},
    {"35", "Hà Nam"},
    {"36", "Nam Định"},
    {"37", "Ninh Bình"},
    {"38", "Thanh Hóa"},
    {"40", "Nghệ An"},
    {"42", "Hà Tĩnh"},
    {"44", "Quảng Bình"},
    {"45", "Quảng Trị"},
    {"46", "Thừa Thiên Huế"},
    {"48", "Đà Nẵng"},
    {"49", "Quảng Nam"},
    {"51", "Quảng Ngãi"},
    {"52", "Bình Định"},
    {"54", "Phú Yên"},
    {"56", "Khánh Hòa"},
    {"58", "Ninh Thuận"},
    {"60", "Bình Thuận"},
    {"62", "Kon Tum"},
    {"64", "Gia Lai"},
    {"66", "Đắk Lắk"},
    {"67", "Đắk Nông"},
    {"68", "Lâm Đồng"},
    {"70", "Bình Phước"},
    {"72", "Tây Ninh"},
    {"74", "Bình Dương"},
    {"75", "Đồng Nai"},
    {"77", "Bà Rịa - Vũng Tàu"},
    {"79", "Thành phố Hồ Chí Minh"},
    {"80", "Long An"},
    {"82", "Tiền Giang"},
    {"83", "Bến Tre"},
    {"84", "Trà Vinh"},
    {"86", "Vĩnh Long"},
    {"87", "Đồng Tháp"},
    {"89", "An Giang"},
    {"91", "Kiên Giang"},
    {"92", "Cần Thơ"},
    {"93", "Hậu Giang"},
    {"94", "Sóc Trăng"},
    {"95", "Bạc Liêu"},
    {"96", "Cà Mau"},
};

// Beneficiary group codes of the card (Decision 1351/QĐ-BHXH and its amendments). A code outside
// this list is a warning, not an error: the list changes more often than the format.
const char* kGroups[] = {"DN", "HX", "CH", "NN", "TK", "HC", "XK", "CA", "HT", "TB", "NO", "CT",
                         "XB", "TN", "CS", "XN", "MS", "CC", "CK", "CB", "KC", "HD", "TE", "BT",
                         "HN", "DT", "DK", "XD", "TS", "TC", "TQ", "TA", "TY", "HG", "LS", "PV",
                         "CN", "OK", "HS", "SV", "GB", "GD", "ND", "TH", "QN", "CY", "XV", "NC"};

bool AllDigits(std::string_view s) {
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return !s.empty();
}

Issue Err(std::string vi, std::string en, const char* severity = "error") {
  return Issue{Code::kValue, severity, vi + " / " + en, ""};
}

}  // namespace

const char* ProvinceName(std::string_view two) {
  for (const auto& p : kProvinces)
    if (two == p.code) return p.name;
  return nullptr;
}

std::vector<Issue> CheckPersonalId(std::string_view id, std::string_view birth_date,
                                   std::string_view gender) {
  std::vector<Issue> out;
  std::string s(id);
  if (s.size() != 12 || !AllDigits(s)) {
    out.push_back(Err("Số định danh cá nhân '" + s + "' phải gồm đúng 12 chữ số",
                      "personal ID '" + s + "' must be exactly 12 digits"));
    return out;
  }
  if (s[0] != '0' || !ProvinceName(s.substr(1, 2)))
    out.push_back(Err("Mã tỉnh nơi đăng ký khai sinh '" + s.substr(0, 3) + "' không hợp lệ",
                      "province code '" + s.substr(0, 3) + "' of the personal ID is unknown"));
  int d = s[3] - '0';
  int century = 1900 + (d / 2) * 100;
  bool female = d % 2 == 1;
  int year = century + std::stoi(s.substr(4, 2));
  if (birth_date.size() >= 4 && AllDigits(birth_date.substr(0, 4))) {
    int by = std::stoi(std::string(birth_date.substr(0, 4)));
    if (by != year)
      out.push_back(Err("Số định danh '" + s + "' ghi năm sinh " + std::to_string(year) +
                            " (chữ số thế kỷ/giới tính " + s.substr(3, 1) + ", năm " +
                            s.substr(4, 2) + ") nhưng ngày sinh là " + std::string(birth_date),
                        "personal ID '" + s + "' encodes birth year " + std::to_string(year) +
                            " but birthDate is " + std::string(birth_date)));
  }
  if ((gender == "male" && female) || (gender == "female" && !female))
    out.push_back(Err("Số định danh '" + s + "' có chữ số thứ 4 là " + s.substr(3, 1) + " (" +
                          (female ? "nữ" : "nam") + ") nhưng giới tính là " +
                          (gender == "male" ? "nam" : "nữ"),
                      "personal ID '" + s + "' has sex digit " + s.substr(3, 1) + " (" +
                          (female ? "female" : "male") + ") but gender is " + std::string(gender)));
  return out;
}

std::vector<Issue> CheckInsuranceCard(std::string_view number) {
  std::vector<Issue> out;
  std::string s(number);
  if (s.size() != 15 || !std::isupper(static_cast<unsigned char>(s[0])) ||
      !std::isupper(static_cast<unsigned char>(s[1])) || !AllDigits(s.substr(2))) {
    out.push_back(Err("Mã thẻ BHYT '" + s +
                          "' phải gồm 15 ký tự: 2 chữ cái mã đối tượng, 1 chữ số mức hưởng, 2 chữ "
                          "số mã tỉnh, 10 chữ số",
                      "insurance card number '" + s +
                          "' must be 15 characters: 2-letter group, benefit level digit, 2-digit "
                          "province, 10 digits"));
    return out;
  }
  bool known = false;
  for (const char* g : kGroups) known = known || s.compare(0, 2, g) == 0;
  if (!known)
    out.push_back(Err("Mã đối tượng '" + s.substr(0, 2) + "' của thẻ BHYT không có trong danh mục",
                      "insurance card group code '" + s.substr(0, 2) + "' is not in the list",
                      "warning"));
  if (s[2] < '1' || s[2] > '5')
    out.push_back(Err("Mức hưởng '" + s.substr(2, 1) + "' của thẻ BHYT phải từ 1 đến 5",
                      "insurance benefit level '" + s.substr(2, 1) + "' must be 1 to 5"));
  std::string prov = s.substr(3, 2);
  if (!ProvinceName(prov) && prov != "97" && prov != "98")
    out.push_back(Err("Mã tỉnh '" + prov + "' của thẻ BHYT không hợp lệ",
                      "insurance card province code '" + prov + "' is unknown"));
  return out;
}

std::vector<Issue> CheckFacilityCode(std::string_view code) {
  std::vector<Issue> out;
  std::string s(code);
  if (s.size() != 5 || !AllDigits(s)) {
    out.push_back(Err("Mã cơ sở khám chữa bệnh '" + s + "' phải gồm 5 chữ số",
                      "facility code '" + s + "' must be 5 digits"));
  } else if (!ProvinceName(s.substr(0, 2)) && s.substr(0, 2) != "97" && s.substr(0, 2) != "98") {
    out.push_back(Err("Mã tỉnh '" + s.substr(0, 2) + "' của mã cơ sở khám chữa bệnh không hợp lệ",
                      "province code '" + s.substr(0, 2) + "' of the facility code is unknown"));
  }
  return out;
}

std::vector<Issue> CheckPatientIdentifiers(const json::object& patient) {
  std::vector<Issue> out;
  auto str = [](const json::object& o, const char* k) -> std::string {
    auto* v = o.if_contains(k);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  auto* ids = patient.if_contains("identifier");
  if (!ids || !ids->is_array()) return out;
  std::string birth = str(patient, "birthDate"), gender = str(patient, "gender");
  const auto& arr = ids->get_array();
  for (size_t i = 0; i < arr.size(); ++i) {
    if (!arr[i].is_object()) continue;
    std::string system = str(arr[i].get_object(), "system");
    std::string value = str(arr[i].get_object(), "value");
    std::vector<Issue> found;
    if (system == kPersonalIdSystem) found = CheckPersonalId(value, birth, gender);
    if (system == kInsuranceCardSystem) found = CheckInsuranceCard(value);
    if (system == kFacilitySystem) found = CheckFacilityCode(value);
    for (auto& is : found) {
      is.expression = "Patient.identifier[" + std::to_string(i) + "].value";
      out.push_back(std::move(is));
    }
  }
  return out;
}

json::array NamingSystems() {
  auto ns = [](const char* id, const char* name, const char* title, const char* uri,
               const char* desc) {
    return json::object{
        {"resourceType", "NamingSystem"},
        {"id", id},
        {"name", name},
        {"status", "active"},
        {"kind", "identifier"},
        {"date", "2026-12-04"},
        {"publisher", "benhan"},
        {"responsible", "Bộ Công an / Bảo hiểm xã hội Việt Nam / Bộ Y tế"},
        {"jurisdiction", json::array{json::object{
                             {"coding", json::array{json::object{{"system", "urn:iso:std:iso:3166"},
                                                                 {"code", "VN"}}}}}}},
        {"description", std::string(title) + ". " + desc},
        {"uniqueId",
         json::array{json::object{{"type", "uri"}, {"value", uri}, {"preferred", true}}}}};
  };
  return json::array{
      ns("vn-cccd", "VNPersonalIdentificationNumber", "Số định danh cá nhân (căn cước công dân)",
         kPersonalIdSystem,
         "12 chữ số: mã tỉnh nơi đăng ký khai sinh (3), thế kỷ và giới tính (1), năm sinh (2), "
         "số ngẫu nhiên (6) / 12 digits: province of birth registration (3), century and sex (1), "
         "year of birth (2), random (6)"),
      ns("vn-bhyt", "VNHealthInsuranceCardNumber", "Mã thẻ bảo hiểm y tế", kInsuranceCardSystem,
         "15 ký tự: mã đối tượng (2 chữ cái), mức hưởng (1), mã tỉnh (2), số (10) / 15 characters: "
         "beneficiary group (2 letters), benefit level (1), province (2), number (10)"),
      ns("vn-ma-cskcb", "VNHealthFacilityCode", "Mã cơ sở khám bệnh, chữa bệnh", kFacilitySystem,
         "5 chữ số, 2 chữ số đầu là mã tỉnh / 5 digits, the first 2 the province code")};
}

}  // namespace benhan::terminology
