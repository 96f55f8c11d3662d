// Vietnamese identifiers: the 12-digit personal ID number (số định danh cá nhân / CCCD), the
// 15-character health insurance card number (mã thẻ BHYT) and the 5-digit facility code (mã cơ sở
// KCB): their systems (FHIR NamingSystems) and validators.
//
// Rules (BRIEF.md "Identifiers"; Circular 07/2016/TT-BCA for the personal ID, Decision
// 1351/QĐ-BHXH for the card):
// - personal ID: 3-digit province-of-birth code, 1 digit for century and sex (0/1: 1900s
// male/female,
//   2/3: 2000s, 4/5: 2100s, 6/7: 2200s, 8/9: 2300s), 2 digits of the birth year, 6 digits;
// - insurance card: 2-letter beneficiary group, benefit level 1-5, 2-digit province code, 10
// digits;
// - facility code: 5 digits, the first 2 the province code.
// Province codes are the 63 provinces' codes before the 2025 reorganisation; they stay valid in
// existing numbers, and the merged provinces kept one of them.
//
// Thread-safety: stateless functions. Errors: issues (not Status) so that a caller can report
// every problem; each message is Vietnamese first, then English.
#pragma once

#include <boost/json/array.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace benhan::terminology {

inline constexpr const char* kPersonalIdSystem = "https://benhan.vn/sid/cccd";
inline constexpr const char* kInsuranceCardSystem = "https://benhan.vn/sid/bhyt";
inline constexpr const char* kFacilitySystem = "https://benhan.vn/sid/ma-cskcb";

// The legacy name of a 2-digit province code ("01" -> "Hà Nội"), or nullptr if unknown.
const char* ProvinceName(std::string_view two_digits);

// `birth_date` (YYYY[-MM[-DD]]) and `gender` (FHIR administrative gender) may be empty: those
// checks are skipped. Each problem is an Issue (kValue, severity "error" or "warning").
std::vector<Issue> CheckPersonalId(std::string_view id, std::string_view birth_date,
                                   std::string_view gender);
std::vector<Issue> CheckInsuranceCard(std::string_view number);
std::vector<Issue> CheckFacilityCode(std::string_view code);

// The Patient's identifiers of the three systems, checked against its birthDate and gender; each
// issue's expression is "Patient.identifier[i].value".
std::vector<Issue> CheckPatientIdentifiers(const boost::json::object& patient);

// The three NamingSystem resources (ids vn-cccd, vn-bhyt, vn-ma-cskcb).
boost::json::array NamingSystems();

}  // namespace benhan::terminology
