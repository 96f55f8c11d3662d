// The terminology layer without HTTP: the ICD-10 importers against the Ministry file, the
// autocomplete cases (autocomplete_cases.tsv) on the starter set and the full list, the edit
// distance, the CSV parser. HTTP-level cases are in tests/conformance/cases/terminology/.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "terminology/concept_index.h"
#include "terminology/importers.h"
#include "terminology/xlsx.h"

namespace json = boost::json;

namespace benhan::terminology {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The Ministry ICD-10 JSON extraction in the shared test data, or "" when absent.
std::string MinistryFile() {
  std::string p = std::string(BENHAN_SOURCE_DIR) + "/../shared/data/vietnam/icd10-vn.json";
  std::ifstream in(p);
  return in ? p : std::string();
}

CatalogInfo Info(std::string version, std::string valid_from = {}, std::string url = {}) {
  CatalogInfo i;
  i.version = std::move(version);
  i.valid_from = std::move(valid_from);
  i.url = std::move(url);
  return i;
}

std::string TrimSpaces(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  while (!s.empty() && s.front() == ' ') s.erase(0, 1);
  return s;
}

struct Case {
  std::string scope, query, purpose;
  std::vector<std::string> first;
  size_t n = 1;
  int line = 0;
};

std::vector<Case> LoadCases() {
  std::ifstream in(std::string(BENHAN_SOURCE_DIR) + "/tests/terminology/autocomplete_cases.tsv");
  std::vector<Case> out;
  std::string line;
  int no = 0;
  while (std::getline(in, line)) {
    ++no;
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, '\t')) f.push_back(cell);
    if (f.size() < 5) {
      ADD_FAILURE() << "autocomplete_cases.tsv line " << no << ": needs 5 fields";
      continue;
    }
    Case c{f[0], f[1], f[4], {}, static_cast<size_t>(std::stoi(f[3])), no};
    std::stringstream alts(f[2]);
    while (std::getline(alts, cell, '|')) c.first.push_back(cell);
    out.push_back(c);
  }
  return out;
}

void RunCases(const CodeSystemVersion& cs, const std::string& scope) {
  auto cases = LoadCases();
  ASSERT_FALSE(cases.empty());
  int run = 0;
  for (const Case& c : cases) {
    if (c.scope != "both" && c.scope != scope) continue;
    ++run;
    size_t total = 0;
    auto hits = cs.index().Search(c.query, 0, c.n, &total);
    std::string got;
    for (const auto& h : hits) got += h.item->code + " " + h.item->display + "; ";
    EXPECT_GE(hits.size(), c.n) << "line " << c.line << " '" << c.query << "' (" << c.purpose
                                << "): too few results: " << got;
    for (const auto& h : hits) {
      bool ok = false;
      for (const auto& p : c.first) ok = ok || h.item->code.rfind(p, 0) == 0;
      EXPECT_TRUE(ok) << "line " << c.line << " '" << c.query << "' (" << c.purpose
                      << "): expected " << c.first[0] << "..., got " << got;
    }
  }
  EXPECT_GT(run, 10);
}

TEST(Autocomplete, StarterSetCases) { RunCases(*StarterIcd10(), "starter"); }

TEST(Autocomplete, MinistryListCases) {
  std::string path = MinistryFile();
  if (path.empty()) GTEST_SKIP() << "../shared/data/vietnam/icd10-vn.json is absent";
  auto r = ImportIcd10Json(ReadAll(path), Info("2026"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  RunCases(r->cs, "full");
}

TEST(Icd10Import, EveryRowOfTheMinistryFileWithItsFlags) {
  std::string path = MinistryFile();
  if (path.empty()) GTEST_SKIP() << "../shared/data/vietnam/icd10-vn.json is absent";
  std::string text = ReadAll(path);
  auto r = ImportIcd10Json(text, Info("2026", "2026-01-01"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  json::object src = json::parse(text).as_object();
  EXPECT_EQ(r->rows, src.size());
  EXPECT_EQ(r->cs.concepts.size(), src.size()) << "every row becomes a concept";
  // Every source code is found, as written or through its normalised form.
  std::map<std::string, const Concept*> by_source;
  for (const auto& c : r->cs.concepts)
    by_source[c.source_code.empty() ? c.code : c.source_code] = &c;
  size_t i = 0, checked = 0;
  for (const auto& [k, v] : src) {
    const Concept* c = by_source[std::string(k)];
    ASSERT_NE(c, nullptr) << "row " << k << " missing";
    // A sample (every 37th row, and the rows named below) compared field by field with the file.
    bool named = k == "I10" || k == "O95" || k == "N40" || k == "A17t" || k == "C76";
    if (i++ % 37 == 0 || named) {
      ++checked;
      EXPECT_EQ(c->display, TrimSpaces(std::string(v.at(0).as_string()))) << k;
      // Flags as in the file; a category with codes under it also says so (bit 4).
      uint32_t want = static_cast<uint32_t>(v.at(1).to_number<int64_t>());
      EXPECT_EQ(c->flags & ~static_cast<uint32_t>(kMoreSpecificExists),
                want & ~static_cast<uint32_t>(kMoreSpecificExists))
          << k;
      if (want & kMoreSpecificExists) {
        EXPECT_TRUE(c->flags & kMoreSpecificExists) << k;
      }
    }
  }
  EXPECT_GT(checked, 400u);
  const Concept* i10 = r->cs.Find("I10");
  ASSERT_NE(i10, nullptr);
  EXPECT_EQ(i10->display, "Tăng huyết áp vô căn");
  EXPECT_EQ(i10->display_en, "Essential (primary) hypertension") << "English from the starter set";
  EXPECT_TRUE(i10->common);
  const Concept* o95 = r->cs.Find("O95");
  ASSERT_NE(o95, nullptr);
  EXPECT_TRUE(o95->flags & kCauseOfDeathOnly);
  EXPECT_TRUE(o95->flags & kFemaleOnly);
  EXPECT_TRUE(r->cs.Find("N40")->flags & kMaleOnly);
  // Dagger mark: "A17t" is stored as A17 with its source code kept.
  const Concept* a17 = r->cs.Find("A17");
  ASSERT_NE(a17, nullptr);
  EXPECT_EQ(a17->source_code, "A17t");
  EXPECT_EQ(r->cs.Find("E11.9")->parent, "E11");
  EXPECT_EQ(r->cs.Find("E119"), r->cs.Find("E11.9")) << "codes without the dot";
  // The source's faults are reported, not fatal.
  bool placeholder = false, odd = false;
  for (const auto& p : r->problems) {
    placeholder = placeholder || p.find("'C76': placeholder") != std::string::npos;
    odd = odd || p.find("'U13/9'") != std::string::npos;
  }
  EXPECT_TRUE(placeholder);
  EXPECT_TRUE(odd);
}

TEST(Icd10Import, RoundTripsThroughTheFhirResource) {
  auto starter = StarterIcd10();
  json::object r = ToResource(*starter);
  auto back = FromResource(r);
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->concepts.size(), starter->concepts.size());
  for (size_t i = 0; i < starter->concepts.size(); ++i) {
    const auto& a = starter->concepts[i];
    const auto& b = back->concepts[i];
    EXPECT_EQ(a.code, b.code);
    EXPECT_EQ(a.display, b.display);
    EXPECT_EQ(a.display_en, b.display_en);
    EXPECT_EQ(a.flags, b.flags) << a.code;
    EXPECT_EQ(a.parent, b.parent) << a.code;
    EXPECT_EQ(a.common, b.common);
  }
}

TEST(Starter, HasTheIssuesCommonCodes) {
  auto s = StarterIcd10();
  EXPECT_GE(s->concepts.size(), 300u);
  for (const char* code :
       {"I10", "E10", "E11", "E11.9", "E14", "A90",   "A91", "A97",   "A97.0", "A15",
        "A16", "A17", "A18", "A19",   "J12", "J18.9", "B16", "B18.1", "S72.0", "T14.0"})
    EXPECT_NE(s->Find(code), nullptr) << code;
  EXPECT_TRUE(s->Find("E11")->flags & kMoreSpecificExists);
  EXPECT_FALSE(s->Find("I10")->flags & kMoreSpecificExists);
  EXPECT_TRUE(s->Find("W19")->flags & kNotMainDiagnosis);
  EXPECT_TRUE(s->Find("N40")->flags & kMaleOnly);
}

TEST(EditDistance, OneEdit) {
  EXPECT_TRUE(WithinOneEdit("huyet", "huyet"));
  EXPECT_TRUE(WithinOneEdit("huyrt", "huyet"));   // substitution
  EXPECT_TRUE(WithinOneEdit("huyt", "huyet"));    // deletion
  EXPECT_TRUE(WithinOneEdit("huyeet", "huyet"));  // insertion
  EXPECT_TRUE(WithinOneEdit("tnag", "tang"));     // swap
  EXPECT_FALSE(WithinOneEdit("tnga", "tang"));
  EXPECT_FALSE(WithinOneEdit("hyt", "huyet"));
  EXPECT_FALSE(WithinOneEdit("abcd", "abdc1"));
}

TEST(Csv, QuotesSeparatorsAndErrors) {
  auto r = ParseCsv("\xEF\xBB\xBFma;ten\r\n\"A00\";\"Bệnh \"\"tả\"\"; cấp\"\nA01;x\n");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[1][1], "Bệnh \"tả\"; cấp");
  EXPECT_FALSE(ParseCsv("a,b\n\"open,c\n").ok());
  EXPECT_FALSE(ParseCsv("a,\xff\n").ok());
}

TEST(Icd10Import, MinistryCsvLayout) {
  std::string csv =
      "STT,Mã chương,Mã nhóm chính,Mã loại,Mã bệnh,Mã bệnh không dấu,Tên tiếng Anh,Tên tiếng Việt,"
      "Không dùng làm bệnh chính,Chỉ dùng làm nguyên nhân tử vong,Giới tính,Có mã chi tiết hơn\n"
      "1,I,A00-A09,A00,A00,A00,Cholera,Bệnh tả,,,,x\n"
      "2,I,A00-A09,A00,A00.0,A000,\"Cholera due to Vibrio cholerae 01, biovar cholerae\",Bệnh tả "
      "do "
      "Vibrio cholerae 01,,,,\n"
      "3,XV,O94-O99,O95,O95,O95,Obstetric death of unspecified cause,Tử vong sản khoa,,x,Nữ,\n"
      "4,XX,W00-X59,W19,,W19,Unspecified fall,Ngã,x,,,\n"
      "5,XIV,N40-N51,N40,N40,N40,Hyperplasia of prostate,Tăng sản tuyến tiền liệt,,,Nam,\n";
  auto r = ImportIcd10Csv(csv, Info("t"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->rows, 5u);
  ASSERT_EQ(r->cs.concepts.size(), 5u);
  EXPECT_EQ(r->cs.Find("A00.0")->display_en, "Cholera due to Vibrio cholerae 01, biovar cholerae");
  EXPECT_EQ(r->cs.Find("A00.0")->parent, "A00");
  EXPECT_TRUE(r->cs.Find("A00")->flags & kMoreSpecificExists);
  EXPECT_EQ(r->cs.Find("O95")->flags, kCauseOfDeathOnly | kFemaleOnly);
  EXPECT_EQ(r->cs.Find("W19")->flags, kNotMainDiagnosis) << "code from the no-dot column";
  EXPECT_EQ(r->cs.Find("N40")->flags, kMaleOnly);
  bool has_chapter = false;
  for (const auto& [k, v] : r->cs.Find("O95")->properties)
    has_chapter |= k == "chapter" && v == "XV";
  EXPECT_TRUE(has_chapter);
}

TEST(CodeListImport, GenericAndLab) {
  auto r = ImportCodeListCsv(
      "code,display,display_en,parent\nK1,Khoa Nội,Internal medicine,\n"
      "K1.1,Nội tim mạch,Cardiology,K1\nK1.1,dup,,\nK2,Khoa Ngoại,,K9\n",
      Info("1", "", "http://example.vn/khoa"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->cs.concepts.size(), 3u);
  EXPECT_EQ(r->problems.size(), 2u) << "a duplicate and a missing parent";
  size_t total = 0;
  auto hits = r->cs.index().Search("noi tim", 0, 5, &total);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].item->code, "K1.1");
  auto lab = ImportLabCsv(
      "Mã,Tên xét nghiệm,Long_Common_Name,LOINC,Đơn vị\n"
      "2301001,Định lượng Glucose máu,Glucose [Mass/volume] in Serum or Plasma,2345-7,mmol/L\n",
      Info("1227"));
  ASSERT_TRUE(lab.ok());
  ASSERT_EQ(lab->cs.concepts.size(), 1u);
  EXPECT_EQ(lab->cs.url, "http://benhan.vn/fhir/CodeSystem/xet-nghiem");
  EXPECT_EQ(lab->cs.index().Search("glucose mau", 0, 5, &total).size(), 1u);
  EXPECT_EQ(lab->cs.concepts[0].properties.size(), 2u);  // loinc, unit
}

}  // namespace
}  // namespace benhan::terminology

namespace benhan::terminology {
namespace {

TEST(Icd10Import, MinistryTableAsXlsx) {
  std::string bytes =
      ReadAll(std::string(BENHAN_SOURCE_DIR) + "/tests/terminology/data/icd10_annex_sample.xlsx");
  ASSERT_TRUE(LooksLikeXlsx(bytes));
  auto rows = ReadXlsxFirstSheet(bytes);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 6u);
  EXPECT_EQ((*rows)[0][1], "Mã chương");
  EXPECT_EQ((*rows)[1][0], "1") << "numbers as written";
  EXPECT_EQ((*rows)[1][5], "Cholera") << "rich-text runs joined";
  EXPECT_EQ((*rows)[5][6], "Tử vong sản khoa <không rõ> & khác") << "entities";
  auto r = ImportIcd10Csv(bytes, Info("xlsx"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->cs.concepts.size(), 5u);
  EXPECT_EQ(r->cs.Find("W19")->display, "Ngã, không xác định") << "inline string";
  EXPECT_EQ(r->cs.Find("W19")->flags, kNotMainDiagnosis);
  EXPECT_EQ(r->cs.Find("N40")->flags, kMaleOnly);
  EXPECT_EQ(r->cs.Find("O95")->flags, kFemaleOnly);
  EXPECT_TRUE(r->cs.Find("A00")->flags & kMoreSpecificExists);
  EXPECT_EQ(r->cs.Find("A00.0")->parent, "A00");
  // Damaged input is an error, not a crash.
  EXPECT_FALSE(ReadXlsxFirstSheet(bytes.substr(0, bytes.size() / 2)).ok());
  std::string corrupt = bytes;
  for (size_t i = 100; i < 400 && i < corrupt.size(); ++i) corrupt[i] = static_cast<char>(i);
  (void)ReadXlsxFirstSheet(corrupt);
}

}  // namespace
}  // namespace benhan::terminology
