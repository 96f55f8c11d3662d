#include "terminology/importers.h"

#include <boost/json.hpp>
#include <map>
#include <set>

#include "core/text.h"
#include "terminology/vn_address.h"
#include "terminology/xlsx.h"

namespace json = boost::json;

namespace benhan::terminology {
namespace {

bool IsIcdCode(std::string_view c) {
  // A00, A00.0, A00.00, M05.361
  if (c.size() != 3 && !(c.size() >= 5 && c.size() <= 7)) return false;
  if (c[0] < 'A' || c[0] > 'Z' || !isdigit(static_cast<unsigned char>(c[1])) ||
      !isdigit(static_cast<unsigned char>(c[2])))
    return false;
  if (c.size() == 3) return true;
  if (c[3] != '.') return false;
  for (size_t i = 4; i < c.size(); ++i)
    if (!isdigit(static_cast<unsigned char>(c[i]))) return false;
  return true;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return std::string(s);
}

// Removes the dagger/asterisk marks the extraction left on codes: "A06.4+", "A17t", "B00.3*",
// "M05.1 +". Returns the code unchanged when there is none.
std::string StripMarks(std::string_view raw) {
  std::string c = Trim(raw);
  while (!c.empty() && (c.back() == '+' || c.back() == '*' || c.back() == ' ')) c.pop_back();
  if (c.size() >= 4 && c.back() == 't' && isdigit(static_cast<unsigned char>(c[c.size() - 2])))
    c.pop_back();
  return c;
}

void Defaults(CatalogInfo& info, const char* url, const char* vs, const char* name,
              const char* title) {
  if (info.url.empty()) info.url = url;
  if (info.value_set.empty() && vs) info.value_set = vs;
  if (info.name.empty()) info.name = name;
  if (info.title.empty()) info.title = title;
}

ImportResult Start(const CatalogInfo& info) {
  ImportResult r;
  r.cs.url = info.url;
  r.cs.version = info.version;
  r.cs.name = info.name;
  r.cs.title = info.title;
  r.cs.value_set = info.value_set;
  r.cs.valid_from = info.valid_from;
  r.cs.valid_to = info.valid_to;
  return r;
}

// Parent links for ICD-10 codes (A00.1 -> A00) when the parent is present; English names and the
// common mark from the starter set; then Build().
void FinishIcd(ImportResult& r) {
  std::set<std::string> codes;
  for (const auto& c : r.cs.concepts) codes.insert(c.code);
  auto starter = StarterIcd10();
  for (auto& c : r.cs.concepts) {
    if (c.parent.empty()) {
      if (auto dot = c.code.find('.'); dot != std::string::npos) {
        std::string p = c.code.substr(0, dot);
        if (c.code.size() - dot > 2 && codes.count(c.code.substr(0, dot + 2)))
          p = c.code.substr(0, dot + 2);  // A00.00 -> A00.0
        if (codes.count(p)) c.parent = p;
      }
    }
    if (const Concept* s = starter->Find(c.code); s && s->code == c.code) {
      if (c.display_en.empty()) c.display_en = s->display_en;
      c.common = true;
    }
  }
  r.cs.Build();
}

std::string HeaderKey(std::string_view h) {
  std::string f = text::Fold(h);
  std::string out;
  for (char ch : f) {
    char c =
        (ch == '_' || ch == '-' || ch == '/' || ch == '(' || ch == ')' || ch == '.') ? ' ' : ch;
    if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
    out.push_back(c);
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// Column index for the first header among `names` (folded keys), or -1.
int Column(const std::vector<std::string>& header, const std::vector<const char*>& names) {
  for (const char* n : names)
    for (size_t i = 0; i < header.size(); ++i)
      if (header[i] == n) return static_cast<int>(i);
  return -1;
}

bool Truthy(std::string_view v) {
  std::string f = HeaderKey(v);
  return f == "x" || f == "1" || f == "co" || f == "yes" || f == "true" || f == "y" || f == "*";
}

std::string Cell(const std::vector<std::string>& row, int col) {
  if (col < 0 || static_cast<size_t>(col) >= row.size()) return {};
  return Trim(row[static_cast<size_t>(col)]);
}

}  // namespace

Result<ImportResult> ImportIcd10Json(std::string_view text, const CatalogInfo& given) {
  CatalogInfo info = given;
  Defaults(
      info, kIcd10VnUrl, kIcd10VnValueSet, "ICD10VN",
      "Bảng phân loại quốc tế bệnh tật ICD-10 (Bộ Y tế) / ICD-10, Vietnamese Ministry of Health");
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return Status(Code::kInvalid, "ICD-10 JSON: " + ec.message());
  if (!v.is_object())
    return Status(Code::kInvalid, "ICD-10 JSON: expected an object {\"CODE\": [name, flags]}");
  ImportResult r = Start(info);
  const auto& obj = v.get_object();
  std::set<std::string> raw_codes;
  for (const auto& [k, val] : obj) raw_codes.insert(std::string(k));
  std::set<std::string> taken;
  for (const auto& [k, val] : obj) {
    ++r.rows;
    std::string raw(k);
    std::string where = "row " + std::to_string(r.rows) + " '" + raw + "'";
    Concept c;
    if (!val.is_array() || val.get_array().empty() || !val.get_array()[0].is_string()) {
      r.problems.push_back(where + ": value is not [name, flags]; kept without a name");
    } else {
      c.display = Trim(val.get_array()[0].get_string());
      if (val.get_array().size() > 1) {
        const auto& f = val.get_array()[1];
        int64_t flags = f.is_int64()    ? f.get_int64()
                        : f.is_uint64() ? static_cast<int64_t>(f.get_uint64())
                                        : -1;
        if (flags < 0 || flags > 63) {
          r.problems.push_back(where + ": flags " + json::serialize(f) + " not understood");
        } else {
          c.flags = static_cast<uint32_t>(flags);
        }
      }
    }
    std::string code = StripMarks(raw);
    if (code != raw) {
      if (IsIcdCode(code) && !raw_codes.count(code) && !taken.count(code)) {
        c.source_code = raw;
      } else {
        r.problems.push_back(where + ": dagger/asterisk mark, but " + code +
                             " exists too; kept as written");
        code = raw;
      }
    } else if (!IsIcdCode(code)) {
      r.problems.push_back(where + ": not an ICD-10 code pattern; kept as written");
    }
    if (taken.count(code)) {
      r.problems.push_back(where + ": duplicate code; skipped");
      continue;
    }
    if (c.display == raw || c.display == code)
      r.problems.push_back(where + ": placeholder row (the name is the code)");
    taken.insert(code);
    c.code = code;
    r.cs.concepts.push_back(std::move(c));
  }
  FinishIcd(r);
  return r;
}

Result<std::vector<std::vector<std::string>>> ParseCsv(std::string_view text) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  if (!text::IsValidUtf8(text)) return Status(Code::kInvalid, "CSV: the file is not valid UTF-8");
  // Separator: the most frequent of , ; TAB on the first line (outside quotes).
  char sep = ',';
  {
    size_t counts[3] = {0, 0, 0};
    bool q = false;
    for (char ch : text.substr(0, text.find('\n'))) {
      if (ch == '"') q = !q;
      if (q) continue;
      if (ch == ',') ++counts[0];
      if (ch == ';') ++counts[1];
      if (ch == '\t') ++counts[2];
    }
    if (counts[1] > counts[0] && counts[1] >= counts[2]) sep = ';';
    if (counts[2] > counts[0] && counts[2] > counts[1]) sep = '\t';
  }
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, any = false;
  size_t line = 1, quote_line = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char ch = text[i];
    if (quoted) {
      if (ch == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field.push_back('"');
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (ch == '\n') ++line;
        field.push_back(ch);
      }
      continue;
    }
    if (ch == '"' && field.empty()) {
      quoted = true;
      quote_line = line;
      any = true;
    } else if (ch == sep) {
      row.push_back(std::move(field));
      field.clear();
      any = true;
    } else if (ch == '\n' || ch == '\r') {
      if (ch == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      ++line;
      if (any || !field.empty()) {
        row.push_back(std::move(field));
        rows.push_back(std::move(row));
      }
      row.clear();
      field.clear();
      any = false;
    } else {
      field.push_back(ch);
      any = true;
    }
  }
  if (quoted)
    return Status(Code::kInvalid,
                  "CSV: quote opened on line " + std::to_string(quote_line) + " is never closed");
  if (any || !field.empty()) {
    row.push_back(std::move(field));
    rows.push_back(std::move(row));
  }
  return rows;
}

Result<std::vector<std::vector<std::string>>> ReadTable(std::string_view bytes) {
  if (LooksLikeXlsx(bytes)) return ReadXlsxFirstSheet(bytes);
  return ParseCsv(bytes);
}

namespace {

std::vector<std::string> HeaderKeys(const std::vector<std::string>& row) {
  std::vector<std::string> h;
  for (const auto& c : row) h.push_back(HeaderKey(c));
  return h;
}

}  // namespace

Result<ImportResult> ImportIcd10Csv(std::string_view text, const CatalogInfo& given) {
  CatalogInfo info = given;
  Defaults(
      info, kIcd10VnUrl, kIcd10VnValueSet, "ICD10VN",
      "Bảng phân loại quốc tế bệnh tật ICD-10 (Bộ Y tế) / ICD-10, Vietnamese Ministry of Health");
  ASSIGN_OR_RETURN(auto rows, ReadTable(text));
  if (rows.empty()) return Status(Code::kInvalid, "ICD-10 CSV: the file is empty");
  auto h = HeaderKeys(rows[0]);
  int code = Column(h, {"ma benh", "ma icd", "ma icd10", "ma icd 10", "code", "ma", "icd10 code"});
  int nodot = Column(h, {"ma benh khong dau", "ma khong dau", "ma benh khong dau cham",
                         "code without dot", "code nodot"});
  int en = Column(h, {"ten tieng anh", "ten benh tieng anh", "english name", "name en",
                      "disease name", "display en"});
  int vi = Column(h, {"ten tieng viet", "ten benh tieng viet", "ten benh", "vietnamese name",
                      "name vi", "display vi", "display"});
  int chapter = Column(h, {"chuong", "ma chuong", "chapter"});
  int block = Column(h, {"ma nhom chinh", "nhom chinh", "nhom", "block"});
  int group = Column(h, {"ma loai", "loai", "group"});
  int not_main = Column(h, {"khong dung lam benh chinh", "khong duoc dung lam benh chinh",
                            "not main diagnosis", "not main"});
  int discouraged = Column(h, {"khong khuyen khich dung lam benh chinh",
                               "discouraged main diagnosis", "discouraged main"});
  int death = Column(h, {"chi dung lam nguyen nhan tu vong", "nguyen nhan tu vong",
                         "cause of death only", "cause of death"});
  int sex = Column(h, {"gioi tinh", "gioi", "sex"});
  int specific = Column(
      h, {"co ma chi tiet hon", "ma chi tiet hon", "more specific code exists", "more specific"});
  int flags = Column(h, {"flags", "co"});
  if (code < 0 && nodot < 0)
    return Status(Code::kInvalid,
                  "ICD-10 CSV: no code column (header 'Mã bệnh' or 'code') in the first line");
  if (vi < 0 && en < 0)
    return Status(
        Code::kInvalid,
        "ICD-10 CSV: no name column ('Tên tiếng Việt' / 'Tên tiếng Anh') in the first line");
  ImportResult r = Start(info);
  std::set<std::string> taken;
  for (size_t i = 1; i < rows.size(); ++i) {
    const auto& row = rows[i];
    ++r.rows;
    std::string where = "line " + std::to_string(i + 1);
    std::string raw = Cell(row, code);
    if (raw.empty()) {
      std::string nd = Cell(row, nodot);
      raw = nd.size() > 3 ? nd.substr(0, 3) + "." + nd.substr(3) : nd;
    }
    if (raw.empty()) {
      r.problems.push_back(where + ": no code; skipped");
      continue;
    }
    Concept c;
    std::string norm = StripMarks(raw);
    if (norm != raw && IsIcdCode(norm)) c.source_code = raw;
    c.code = IsIcdCode(norm) ? norm : raw;
    if (!IsIcdCode(c.code))
      r.problems.push_back(where + ": '" + raw +
                           "' is not an ICD-10 code pattern; kept as written");
    if (taken.count(c.code)) {
      r.problems.push_back(where + ": duplicate code " + c.code + "; skipped");
      continue;
    }
    taken.insert(c.code);
    c.display = Cell(row, vi);
    c.display_en = Cell(row, en);
    if (c.display.empty()) c.display = c.display_en;
    if (auto v = Cell(row, chapter); !v.empty()) c.properties.emplace_back("chapter", v);
    if (auto v = Cell(row, block); !v.empty()) c.properties.emplace_back("block", v);
    if (auto v = Cell(row, group); !v.empty()) c.properties.emplace_back("group", v);
    if (Truthy(Cell(row, not_main))) c.flags |= kNotMainDiagnosis;
    if (Truthy(Cell(row, discouraged))) c.flags |= kDiscouragedMainDiagnosis;
    if (Truthy(Cell(row, death))) c.flags |= kCauseOfDeathOnly;
    if (Truthy(Cell(row, specific))) c.flags |= kMoreSpecificExists;
    std::string s = HeaderKey(Cell(row, sex));
    if (s == "nu" || s == "female" || s == "f") c.flags |= kFemaleOnly;
    if (s == "nam" || s == "male" || s == "m") c.flags |= kMaleOnly;
    if (auto v = Cell(row, flags); !v.empty()) {
      char* end = nullptr;
      long f = std::strtol(v.c_str(), &end, 10);
      if (*end == '\0' && f >= 0 && f <= 63)
        c.flags |= static_cast<uint32_t>(f);
      else
        r.problems.push_back(where + ": flags '" + v + "' not understood");
    }
    r.cs.concepts.push_back(std::move(c));
  }
  FinishIcd(r);
  return r;
}

Result<ImportResult> ImportCodeListCsv(std::string_view text, const CatalogInfo& given) {
  if (given.url.empty())
    return Status(Code::kInvalid, "a code list needs its canonical URL (--url)");
  CatalogInfo info = given;
  Defaults(info, given.url.c_str(), nullptr, "CodeList", "");
  ASSIGN_OR_RETURN(auto rows, ReadTable(text));
  if (rows.empty()) return Status(Code::kInvalid, "CSV: the file is empty");
  auto h = HeaderKeys(rows[0]);
  int code = Column(h, {"code", "ma"});
  int vi = Column(h, {"display vi", "display", "ten", "ten tieng viet", "name vi", "name"});
  int en = Column(h, {"display en", "ten tieng anh", "name en", "english"});
  int parent = Column(h, {"parent", "ma cha"});
  size_t first = 1;
  if (code < 0) {  // no header: code, display vi, display en, parent
    code = 0, vi = 1, en = 2, parent = 3;
    first = 0;
  }
  ImportResult r = Start(info);
  std::set<std::string> taken;
  for (size_t i = first; i < rows.size(); ++i) {
    ++r.rows;
    Concept c;
    c.code = Cell(rows[i], code);
    std::string where = "line " + std::to_string(i + 1);
    if (c.code.empty()) {
      r.problems.push_back(where + ": no code; skipped");
      continue;
    }
    if (!taken.insert(c.code).second) {
      r.problems.push_back(where + ": duplicate code " + c.code + "; skipped");
      continue;
    }
    c.display = Cell(rows[i], vi);
    c.display_en = Cell(rows[i], en);
    c.parent = Cell(rows[i], parent);
    r.cs.concepts.push_back(std::move(c));
  }
  for (const auto& c : r.cs.concepts)
    if (!c.parent.empty() && !taken.count(c.parent))
      r.problems.push_back("code " + c.code + ": parent " + c.parent + " is not in the list");
  r.cs.Build();
  return r;
}

Result<ImportResult> ImportLabCsv(std::string_view text, const CatalogInfo& given) {
  CatalogInfo info = given;
  Defaults(info, "http://benhan.vn/fhir/CodeSystem/xet-nghiem", nullptr, "LabCatalogVN",
           "Danh mục chỉ số xét nghiệm / laboratory indicators");
  ASSIGN_OR_RETURN(auto rows, ReadTable(text));
  if (rows.empty()) return Status(Code::kInvalid, "CSV: the file is empty");
  auto h = HeaderKeys(rows[0]);
  int code = Column(h, {"code", "ma", "ma xet nghiem", "ma chi so", "loinc num", "loinc"});
  int vi = Column(h, {"ten", "ten xet nghiem", "ten chi so", "name vi", "display vi", "name"});
  int en = Column(h, {"long common name", "name en", "ten tieng anh", "display en"});
  if (code < 0)
    return Status(Code::kInvalid,
                  "lab CSV: no code column ('code', 'Mã', 'LOINC_NUM') in the first line");
  const std::pair<const char*, std::vector<const char*>> kProps[] = {
      {"loinc", {"loinc", "ma loinc"}},
      {"component", {"component"}},
      {"property", {"property"}},
      {"system", {"system"}},
      {"scale", {"scale typ", "scale"}},
      {"unit", {"unit", "don vi", "example units", "example ucum units"}},
      {"class", {"class", "nhom"}}};
  std::vector<std::pair<std::string, int>> props;
  for (const auto& [name, headers] : kProps) {
    int col = Column(h, headers);
    if (col >= 0 && col != code) props.emplace_back(name, col);
  }
  ImportResult r = Start(info);
  std::set<std::string> taken;
  for (size_t i = 1; i < rows.size(); ++i) {
    ++r.rows;
    Concept c;
    c.code = Cell(rows[i], code);
    std::string where = "line " + std::to_string(i + 1);
    if (c.code.empty()) {
      r.problems.push_back(where + ": no code; skipped");
      continue;
    }
    if (!taken.insert(c.code).second) {
      r.problems.push_back(where + ": duplicate code " + c.code + "; skipped");
      continue;
    }
    c.display = Cell(rows[i], vi);
    c.display_en = Cell(rows[i], en);
    if (c.display.empty()) c.display = c.display_en;
    for (const auto& [name, col] : props)
      if (auto v = Cell(rows[i], col); !v.empty()) c.properties.emplace_back(name, v);
    r.cs.concepts.push_back(std::move(c));
  }
  r.cs.Build();
  return r;
}

namespace {

// A 5-digit administrative code from a cell ("70" from a spreadsheet that dropped the zeros ->
// "00070"); empty if the cell is not digits.
std::string UnitCode(std::string_view cell, size_t width) {
  std::string c = Trim(cell);
  if (c.size() > 2 && c.compare(c.size() - 2, 2, ".0") == 0) c.resize(c.size() - 2);  // 70.0
  if (c.empty() || c.size() > width || c.find_first_not_of("0123456789") != std::string::npos)
    return {};
  return std::string(width - c.size(), '0') + c;
}

// Whitespace (newlines included) collapsed, trimmed.
std::string CleanName(std::string_view s) {
  std::string out;
  for (char ch : s) {
    bool space = ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t';
    if (space) {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
    } else {
      out.push_back(ch);
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string LevelOf(const std::string& name) {
  std::string f = text::Fold(name);
  for (const char* l : {"phuong", "xa", "dac khu", "thi tran"})
    if (f.rfind(std::string(l) + " ", 0) == 0) {
      if (std::string_view(l) == "phuong") return "Phường";
      if (std::string_view(l) == "xa") return "Xã";
      if (std::string_view(l) == "dac khu") return "Đặc khu";
      return "Thị trấn";
    }
  return {};
}

}  // namespace

Result<ImportResult> ImportWardCsv(std::string_view text, const CatalogInfo& given) {
  CatalogInfo info = given;
  const bool legacy = info.url == kLegacyWardSystem;
  if (legacy)
    Defaults(info, kLegacyWardSystem, kLegacyWardValueSet, "VNWardLegacy",
             "Danh mục phường, xã trước ngày 01/07/2025 / wards and communes before 2025-07-01");
  else
    Defaults(info, kWardSystem, kWardValueSet, "VNWard",
             "Danh mục phường, xã, đặc khu từ ngày 01/07/2025 / wards and communes since "
             "2025-07-01");
  auto province_by_name = [&](const std::string& name) {
    return legacy ? FindLegacyProvinceByName(name) : FindCurrentProvinceByName(name);
  };
  auto province_by_code = [&](const std::string& code) {
    return legacy ? FindLegacyProvince(code) : FindCurrentProvince(code);
  };
  ASSIGN_OR_RETURN(auto rows, ReadTable(text));
  // The header row: the first of the first 10 rows with a ward code column.
  int code = -1, name = -1, level = -1, pcode = -1, pname = -1, dcode = -1, dname = -1, en = -1;
  size_t first = 0;
  for (size_t i = 0; i < rows.size() && i < 10 && code < 0; ++i) {
    auto h = HeaderKeys(rows[i]);
    code = Column(h, {"ma px", "ma phuong xa", "ma xa", "ma don vi hanh chinh cap xa", "ma"});
    if (code < 0) continue;
    name = Column(h, {"phuong xa", "ten phuong xa", "ten xa", "ten don vi hanh chinh", "ten"});
    level = Column(h, {"cap"});
    pcode = Column(h, {"ma tp", "ma tinh", "ma tinh thanh pho"});
    pname = Column(h, {"tinh thanh pho", "tinh tp", "ten tinh", "tinh"});
    dcode = Column(h, {"ma qh", "ma quan huyen", "ma huyen"});
    dname = Column(h, {"quan huyen", "ten quan huyen", "huyen"});
    en = Column(h, {"ten tieng anh", "english name"});
    first = i + 1;
  }
  const bool annex = code < 0;
  if (annex) code = 0, name = 1, pname = 2;
  ImportResult r = Start(info);
  std::set<std::string> taken;
  const ProvinceInfo* section = nullptr;  // annex layout: the province being listed
  for (size_t i = first; i < rows.size(); ++i) {
    const auto& row = rows[i];
    std::string where = "line " + std::to_string(i + 1);
    std::string raw_code = Cell(row, code);
    std::string nm = CleanName(Cell(row, name));
    if (raw_code.empty() && nm.empty()) continue;
    if (annex && raw_code.empty()) {  // a province heading ("THÀNH PHỐ HÀ NỘI")
      section = province_by_name(nm);
      if (!section) r.problems.push_back(where + ": province '" + nm + "' is not in the list");
      continue;
    }
    ++r.rows;
    Concept c;
    c.code = UnitCode(raw_code, 5);
    if (c.code.empty()) {
      r.problems.push_back(where + ": ward code '" + raw_code + "' is not 5 digits; skipped");
      continue;
    }
    if (nm.empty()) {
      r.problems.push_back(where + ": ward " + c.code + " has no name; skipped");
      continue;
    }
    const ProvinceInfo* prov = nullptr;
    if (std::string pc = UnitCode(Cell(row, pcode), 2); !pc.empty()) prov = province_by_code(pc);
    if (!prov && pname >= 0 && !Cell(row, pname).empty()) prov = province_by_name(Cell(row, pname));
    if (!prov) prov = section;
    if (!prov) {
      r.problems.push_back(where + ": ward " + c.code + " (" + nm +
                           "): province unknown or not in the list; skipped");
      continue;
    }
    if (!taken.insert(c.code).second) {
      r.problems.push_back(where + ": duplicate ward code " + c.code + "; skipped");
      continue;
    }
    c.display = nm;
    c.display_en = Cell(row, en);
    c.properties.emplace_back("province", prov->code);
    c.properties.emplace_back("province-name", ProvinceDisplay(*prov));
    std::string lv = CleanName(Cell(row, level));
    if (lv.empty()) lv = LevelOf(nm);
    if (!lv.empty()) c.properties.emplace_back("level", lv);
    if (std::string d = UnitCode(Cell(row, dcode), 3); !d.empty())
      c.properties.emplace_back("district", d);
    if (std::string d = CleanName(Cell(row, dname)); !d.empty())
      c.properties.emplace_back("district-name", d);
    r.cs.concepts.push_back(std::move(c));
  }
  if (r.cs.concepts.empty())
    return Status(Code::kInvalid, "ward list: no ward could be read (" +
                                      std::to_string(r.problems.size()) + " problems)" +
                                      (r.problems.empty() ? "" : ": " + r.problems.front()));
  r.cs.Build();
  return r;
}

Result<MapImportResult> ImportWardMapCsv(std::string_view text, const CatalogInfo& info) {
  ASSIGN_OR_RETURN(auto rows, ReadTable(text));
  int new_code = -1, new_name = -1, old_code = -1, old_name = -1, note = -1;
  size_t first = 0;
  for (size_t i = 0; i < rows.size() && i < 10 && new_code < 0; ++i) {
    auto h = HeaderKeys(rows[i]);
    new_code = Column(h, {"ma xa moi", "ma phuong xa moi", "ma moi"});
    old_code = Column(h, {"ma xa cu", "ma phuong xa cu", "ma cu"});
    new_name = Column(h, {"ten xa moi", "ten phuong xa moi", "ten moi"});
    old_name = Column(h, {"ten xa cu", "ten phuong xa cu", "ten cu"});
    note = Column(h, {"ghi chu", "note"});
    first = i + 1;
  }
  if (new_code < 0 || old_code < 0)
    return Status(Code::kInvalid,
                  "ward conversion table: no 'Mã Xã mới' and 'Mã Xã cũ' columns in the first 10 "
                  "rows");
  MapImportResult r;
  // Old code -> its targets, in first-seen order.
  std::vector<std::string> order;
  std::map<std::string, std::pair<std::string, json::array>> by_old;
  std::set<std::pair<std::string, std::string>> seen;
  for (size_t i = first; i < rows.size(); ++i) {
    const auto& row = rows[i];
    std::string nc = UnitCode(Cell(row, new_code), 5), oc = UnitCode(Cell(row, old_code), 5);
    if (Cell(row, new_code).empty() && Cell(row, old_code).empty()) continue;  // headings
    ++r.rows;
    std::string where = "line " + std::to_string(i + 1);
    if (nc.empty() || oc.empty()) {
      r.problems.push_back(where + ": codes '" + Cell(row, new_code) + "' / '" +
                           Cell(row, old_code) + "' are not 5 digits; skipped");
      continue;
    }
    if (!seen.insert({oc, nc}).second) continue;
    std::string n = text::Fold(Cell(row, note));
    bool whole = n.find("toan bo") != std::string::npos && n.find("mot phan") == std::string::npos;
    json::object target{{"code", nc}, {"equivalence", whole ? "wider" : "inexact"}};
    if (std::string d = CleanName(Cell(row, new_name)); !d.empty()) target["display"] = d;
    if (std::string c = CleanName(Cell(row, note)); !c.empty()) target["comment"] = c;
    auto [it, inserted] = by_old.try_emplace(oc);
    if (inserted) {
      order.push_back(oc);
      it->second.first = CleanName(Cell(row, old_name));
    }
    it->second.second.push_back(std::move(target));
  }
  json::array elements;
  for (const auto& oc : order) {
    auto& [display, targets] = by_old[oc];
    json::object e{{"code", oc}};
    if (!display.empty()) e["display"] = display;
    e["target"] = std::move(targets);
    elements.push_back(std::move(e));
  }
  r.elements = elements.size();
  if (elements.empty())
    return Status(Code::kInvalid, "ward conversion table: no row could be read");
  std::string url = info.url.empty() ? std::string(kWardMap) : info.url;
  r.concept_map = json::object{
      {"resourceType", "ConceptMap"},
      {"url", url},
      {"version", info.version},
      {"name", info.name.empty() ? "VNWardLegacyToCurrent" : info.name},
      {"title", info.title.empty() ? "Phường, xã trước và sau ngày 01/07/2025 / wards before and "
                                     "after 2025-07-01"
                                   : info.title},
      {"status", "active"},
      {"sourceUri", kLegacyWardValueSet},
      {"targetUri", kWardValueSet},
      {"group", json::array{json::object{{"source", kLegacyWardSystem},
                                         {"target", kWardSystem},
                                         {"element", std::move(elements)}}}}};
  return r;
}

}  // namespace benhan::terminology
