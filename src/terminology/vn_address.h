// Vietnamese administrative units for addresses: the 34 provinces and centrally-run cities in
// force since 2025-07-01 (Resolution 202/2025/QH15; codes of Decision 19/2025/QĐ-TTg: each merged
// province kept the code of one of its members), the 63 provinces before that date (Decision
// 124/2004/QĐ-TTg numbering, still found in old records and in personal ID / insurance card /
// facility codes), the legacy -> current province map, and the checks of Patient.address.
//
// Wards and communes (cấp xã, about 3,300 since 2025-07-01; about 10,000 before) are not built in:
// they are imported from the government's list (`benhan terminology import --format ward-csv`,
// importers.h) into the code systems kWardSystem / kLegacyWardSystem, and the legacy -> current
// ward map from the government's conversion table (`--format ward-map-csv`) as a ConceptMap. The
// address checks use them when they are loaded and give no verdict on wards otherwise.
//
// Address convention (docs/terminology.md): Address.state is the province or city (tỉnh/thành
// phố), Address.city the ward or commune (phường/xã/đặc khu), Address.district the former district
// (quận/huyện, legacy addresses only); codes go in the extensions kProvinceExt / kWardExt
// (valueCoding). Only Vietnamese addresses are checked: country VN/VNM/Việt Nam, or carrying one of
// those extensions.
//
// Thread-safety: immutable data and stateless functions. Errors: issues (Vietnamese first, then
// English), never thrown.
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "terminology/code_system.h"

namespace benhan::terminology {

inline constexpr const char* kProvinceSystem = "http://benhan.vn/fhir/CodeSystem/vn-province";
inline constexpr const char* kProvinceValueSet = "http://benhan.vn/fhir/ValueSet/vn-province";
inline constexpr const char* kLegacyProvinceSystem =
    "http://benhan.vn/fhir/CodeSystem/vn-province-legacy";
inline constexpr const char* kLegacyProvinceValueSet =
    "http://benhan.vn/fhir/ValueSet/vn-province-legacy";
inline constexpr const char* kProvinceMap =
    "http://benhan.vn/fhir/ConceptMap/vn-province-legacy-to-current";
inline constexpr const char* kWardSystem = "http://benhan.vn/fhir/CodeSystem/vn-ward";
inline constexpr const char* kWardValueSet = "http://benhan.vn/fhir/ValueSet/vn-ward";
inline constexpr const char* kLegacyWardSystem = "http://benhan.vn/fhir/CodeSystem/vn-ward-legacy";
inline constexpr const char* kLegacyWardValueSet = "http://benhan.vn/fhir/ValueSet/vn-ward-legacy";
inline constexpr const char* kWardMap =
    "http://benhan.vn/fhir/ConceptMap/vn-ward-legacy-to-current";
inline constexpr const char* kProvinceExt =
    "http://benhan.vn/fhir/StructureDefinition/address-province";
inline constexpr const char* kWardExt = "http://benhan.vn/fhir/StructureDefinition/address-ward";
// The day the reorganisation took effect.
inline constexpr const char* kReorganisationDate = "2025-07-01";

struct ProvinceInfo {
  const char* code;  // 2 digits
  const char* name;  // without "Tỉnh"/"Thành phố": "Hà Nội", "Cao Bằng"
  const char* name_en;
  bool city;            // thành phố trực thuộc trung ương
  const char* current;  // legacy entries: the code of the current unit it is part of
};

// The 34 current units and the 63 legacy ones, in code order.
const std::vector<ProvinceInfo>& CurrentProvinces();
const std::vector<ProvinceInfo>& LegacyProvinces();
// By 2-digit code; nullptr if unknown.
const ProvinceInfo* FindCurrentProvince(std::string_view code);
const ProvinceInfo* FindLegacyProvince(std::string_view code);
// By name, ignoring case, diacritics, punctuation and the "Tỉnh"/"Thành phố"/"TP" prefix ("tp ho
// chi minh", "TP.HCM", "Sài Gòn", "thua thien hue" for the legacy list); nullptr if unknown.
const ProvinceInfo* FindCurrentProvinceByName(std::string_view name);
const ProvinceInfo* FindLegacyProvinceByName(std::string_view name);
// "Thành phố Hà Nội", "Tỉnh Cao Bằng".
std::string ProvinceDisplay(const ProvinceInfo& p);
// The key names are compared by: folded words joined by one space, the unit-type prefix removed
// ("Phường Bến Nghé" -> "ben nghe"; "TP. Hồ Chí Minh" -> "ho chi minh").
std::string UnitNameKey(std::string_view name);

// The built-in code systems (version "2025", builtin) and the legacy -> current ConceptMap as a
// FHIR resource (served by $translate).
std::shared_ptr<const CodeSystemVersion> BuiltinProvinces();
std::shared_ptr<const CodeSystemVersion> BuiltinLegacyProvinces();
boost::json::object ProvinceConceptMap();

// What the address checks know about wards: the loaded lists (null: not imported) and the
// legacy -> current map (may return nothing).
struct WardData {
  std::shared_ptr<const CodeSystemVersion> current;
  std::shared_ptr<const CodeSystemVersion> legacy;
  // (code, display) of the current wards a legacy ward code became.
  std::function<std::vector<std::pair<std::string, std::string>>(const std::string&)> map;
};

// The checks of every Vietnamese Patient.address (see the header comment). Unknown province or
// ward (code or name) -> error; a legacy one -> warning with the current unit; a ward outside the
// address's province -> warning. Each issue's expression names the element
// ("Patient.address[0].state", "Patient.address[1].extension[0].valueCoding.code").
std::vector<Issue> CheckPatientAddresses(const boost::json::object& patient, const WardData& wards);

}  // namespace benhan::terminology
