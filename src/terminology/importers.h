// Catalog importers: Ministry of Health code lists in the files hospitals receive, turned into a
// CodeSystemVersion (then stored as a FHIR CodeSystem by `benhan terminology import`).
//
// Every source row becomes a concept; problems (codes outside the usual pattern, dagger/asterisk
// marks, placeholder names, duplicates) are reported in `problems` with the row, never thrown.
// Thread-safety: stateless functions.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "terminology/code_system.h"

namespace benhan::terminology {

struct ImportResult {
  CodeSystemVersion cs;  // concepts filled, Build() done
  size_t rows = 0;       // source rows read
  std::vector<std::string> problems;
};

// What the caller says about the catalog being imported.
struct CatalogInfo {
  std::string url;          // canonical URL (default per format)
  std::string version;      // e.g. "2026"
  std::string valid_from;   // YYYY-MM-DD
  std::string valid_to;     // YYYY-MM-DD, empty: still in force
  std::string name, title;  // defaults per format
  std::string value_set;    // all-codes value set URL (default per format)
};

// The public JSON extraction of the Ministry ICD-10 list ({"CODE": ["Vietnamese name", FLAGS]},
// FLAGS = Icd10Flag bits). Codes with dagger/asterisk marks ("A17t", "A06.4+", "B00.3*") are
// normalised ("A17", "A06.4", "B00.3"; the source code kept as the source-code property) unless
// that code already exists; other odd codes are kept as written and reported. English names and
// the `common` mark come from the built-in starter set for the codes it has.
// Errors: kInvalid when the text is not such a JSON object.
Result<ImportResult> ImportIcd10Json(std::string_view text, const CatalogInfo& info);

// A CSV file (RFC 4180: commas or semicolons or tabs, quotes, UTF-8 with or without BOM) as rows
// of fields. Errors: kInvalid for an unterminated quote or invalid UTF-8 (with the line).
Result<std::vector<std::vector<std::string>>> ParseCsv(std::string_view text);

// A table file: an XLSX workbook's first sheet (terminology/xlsx.h) when `bytes` is a ZIP file,
// else CSV (ParseCsv). The importers below read their input through it, so each takes CSV or XLSX.
Result<std::vector<std::vector<std::string>>> ReadTable(std::string_view bytes);

// The Ministry ICD-10 table as CSV or XLSX, in the annex's column layout; columns are found by
// their header (Vietnamese or English, with or without diacritics; docs/terminology.md lists them):
// code, code without dot, English name, Vietnamese name, chapter, block, group, and the rule
// columns (not main diagnosis, cause of death only, sex, more specific code exists).
Result<ImportResult> ImportIcd10Csv(std::string_view text, const CatalogInfo& info);
// A generic code list: columns code, display (vi), display_en, parent (by header; the first
// column is the code when there is no recognisable header).
Result<ImportResult> ImportCodeListCsv(std::string_view text, const CatalogInfo& info);
// A LOINC-style lab catalog: code (or ma/ma_xet_nghiem), name (vi), name_en / long_common_name,
// loinc, component, property, system, scale, unit (kept as properties).
Result<ImportResult> ImportLabCsv(std::string_view text, const CatalogInfo& info);

// The government's list of wards and communes (cấp xã) as CSV or XLSX, into kWardSystem (or
// kLegacyWardSystem when info.url says so; vn_address.h). Two layouts:
// - the statistics office's export (danhmuchanhchinh.nso.gov.vn), by header: "Mã PX" / "Mã" (ward
//   code), "Phường Xã" / "Tên" (name), "Cấp" (level), "Mã TP" (province code), "Tỉnh Thành Phố"
//   (province name), optionally "Mã QH" / "Quận Huyện" (district, legacy list) and "Tên Tiếng
//   Anh";
// - the annex of the decision on the codes: no header; a row with an empty code and a province's
//   name opens that province, then rows of code, name (and optionally the province name).
// Codes are 5 digits (leading zeros restored when a spreadsheet dropped them); each ward gets the
// properties province (2-digit code), province-name, level, and district / district-name when
// given. A province name that is not in the (current or legacy) list, a bad code or a duplicate is
// reported in `problems` and the row skipped. Errors: kInvalid when no row could be read.
Result<ImportResult> ImportWardCsv(std::string_view text, const CatalogInfo& info);

// The government's conversion table from the wards before 2025-07-01 to the current ones (CSV or
// XLSX; header row with "Mã Xã mới" and "Mã Xã cũ", optionally "Tên Xã mới", "Tên Xã cũ" and
// "Ghi chú": "Nhập toàn bộ" whole, "Nhập một phần" part) as a FHIR ConceptMap from
// kLegacyWardSystem to kWardSystem (url kWardMap unless info.url is given, version info.version).
struct MapImportResult {
  boost::json::object concept_map;
  size_t rows = 0;      // source rows read
  size_t elements = 0;  // legacy codes mapped
  std::vector<std::string> problems;
};
Result<MapImportResult> ImportWardMapCsv(std::string_view text, const CatalogInfo& info);

}  // namespace benhan::terminology
