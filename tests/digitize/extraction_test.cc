// Extraction precision and recall per entity type on the committed development set
// (tests/digitize/devset, README there), plus focused behaviour tests of the rule stages.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/text.h"
#include "digitize/extract.h"
#include "digitize/icd10_coder.h"

namespace benhan::digitize {
namespace {

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", std::round(v * 100) / 100);
  return buf;
}

std::string FirstWord(const std::string& s) {
  std::string f = text::Fold(s);
  return f.substr(0, f.find(' '));
}

// The comparison keys of a fact (see devset/README.md); empty for facts not evaluated.
std::vector<std::pair<std::string, std::string>> Keys(const Fact& f) {
  std::vector<std::pair<std::string, std::string>> out;
  if (f.kind == "section") out.push_back({"section", f.field});
  if (f.kind == "demographic") out.push_back({"demographic", f.field + "|" + text::Fold(f.value)});
  if (f.kind == "vital" && f.number) {
    std::string v = Num(*f.number);
    if (f.number2) v += "/" + Num(*f.number2);
    out.push_back({"vital", f.field + "|" + v});
  }
  if (f.kind == "lab" && f.number) out.push_back({"lab", f.field + "|" + Num(*f.number)});
  if (f.kind == "diagnosis") {
    out.push_back({"diagnosis", f.coding.code.substr(0, 3) + "|" + AssertionName(f.assertion)});
  }
  if (f.kind == "medication") {
    std::string name = FirstWord(f.value);
    out.push_back({"medication", name + "|" + Num(f.strength.value_or(0))});
    out.push_back({"dosage", name + "|" + Num(f.dose.value_or(0)) + "|" +
                                 (f.route.code.empty() ? "-" : f.route.code) + "|" +
                                 std::to_string(f.per_day) + "|" +
                                 std::to_string(f.duration_days)});
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> LabelKeys(const std::string& tsv) {
  std::vector<std::pair<std::string, std::string>> out;
  std::istringstream in(tsv);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> c;
    std::string cur;
    for (char ch : line + "\t") {
      if (ch == '\t') {
        c.push_back(cur);
        cur.clear();
      } else {
        cur += ch;
      }
    }
    const std::string& k = c[0];
    if (k == "section")
      out.push_back({k, c[1]});
    else if (k == "demographic")
      out.push_back({k, c[1] + "|" + text::Fold(c[2])});
    else if (k == "vital" || k == "lab") {
      std::string v = c[2];
      auto slash = v.find('/');
      if (slash != std::string::npos)
        v = Num(std::stod(v.substr(0, slash))) + "/" + Num(std::stod(v.substr(slash + 1)));
      else
        v = Num(std::stod(v));
      out.push_back({k, c[1] + "|" + v});
    } else if (k == "diagnosis")
      out.push_back({k, c[1].substr(0, 3) + "|" + c[2]});
    else if (k == "medication")
      out.push_back({k, text::Fold(c[1]) + "|" + Num(std::stod(c[2]))});
    else if (k == "dosage")
      out.push_back({k, text::Fold(c[1]) + "|" + Num(std::stod(c[2])) + "|" + c[3] + "|" + c[4] +
                            "|" + c[5]});
  }
  return out;
}

class Extraction : public ::testing::Test {
 protected:
  void SetUp() override {
    auto rules = Rules::Load();
    ASSERT_TRUE(rules.ok()) << rules.status().message();
    rules_ = std::make_shared<Rules>(std::move(*rules));
    coder_ = std::make_unique<Icd10Coder>([] { return terminology::StarterIcd10(); });
    extractor_ = MakeRuleExtractor(rules_, coder_.get());
  }
  ExtractionDoc Run(const std::string& text) {
    auto r = extractor_->Extract(text);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? std::move(*r) : ExtractionDoc{};
  }
  std::shared_ptr<Rules> rules_;
  std::unique_ptr<Icd10Coder> coder_;
  std::unique_ptr<Extractor> extractor_;
};

TEST_F(Extraction, PrecisionRecallOnDevelopmentSet) {
  const std::filesystem::path dir =
      std::filesystem::path(BENHAN_SOURCE_DIR) / "tests/digitize/devset";
  std::map<std::string, int> tp, fp, fn;
  int docs = 0;
  const bool verbose = std::getenv("BENHAN_DEVSET_VERBOSE") != nullptr;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".txt") continue;
    ++docs;
    std::string text = ReadFile(entry.path());
    auto labels_path = entry.path();
    labels_path.replace_extension(".labels.tsv");
    std::set<std::pair<std::string, std::string>> expected, got;
    for (auto& k : LabelKeys(ReadFile(labels_path))) expected.insert(k);
    ExtractionDoc doc = Run(text);
    for (const auto& f : doc.facts) {
      EXPECT_LE(f.begin, f.end);
      EXPECT_LE(f.end, doc.text.size());
      for (auto& k : Keys(f)) got.insert(k);
    }
    for (auto& k : got) {
      if (expected.count(k))
        ++tp[k.first];
      else {
        ++fp[k.first];
        if (verbose)
          std::printf("  FP %s: %s %s\n", entry.path().filename().c_str(), k.first.c_str(),
                      k.second.c_str());
      }
    }
    for (auto& k : expected) {
      if (!got.count(k)) {
        ++fn[k.first];
        if (verbose)
          std::printf("  FN %s: %s %s\n", entry.path().filename().c_str(), k.first.c_str(),
                      k.second.c_str());
      }
    }
  }
  ASSERT_GT(docs, 0);
  std::printf("Extraction on the development set (%d records)\n", docs);
  std::printf("%-12s %5s %5s %5s %10s %8s\n", "entity", "tp", "fp", "fn", "precision", "recall");
  int all_tp = 0, all_fp = 0, all_fn = 0;
  std::map<std::string, double> precision, recall;
  for (const char* k :
       {"section", "demographic", "vital", "lab", "diagnosis", "medication", "dosage"}) {
    int t = tp[k], p = fp[k], n = fn[k];
    all_tp += t, all_fp += p, all_fn += n;
    precision[k] = t + p ? double(t) / (t + p) : 1;
    recall[k] = t + n ? double(t) / (t + n) : 1;
    std::printf("%-12s %5d %5d %5d %9.1f%% %7.1f%%\n", k, t, p, n, precision[k] * 100,
                recall[k] * 100);
  }
  std::printf("%-12s %5d %5d %5d %9.1f%% %7.1f%%\n", "all", all_tp, all_fp, all_fn,
              100.0 * all_tp / std::max(1, all_tp + all_fp),
              100.0 * all_tp / std::max(1, all_tp + all_fn));
  std::fflush(stdout);
  // Floors, so a rule change that loses ground fails (the figures printed above are the record).
  for (const char* k : {"section", "demographic", "vital", "lab", "diagnosis", "medication"}) {
    EXPECT_GE(precision[k], 0.8) << k;
    EXPECT_GE(recall[k], 0.8) << k;
  }
}

TEST_F(Extraction, AbbreviationsMapThroughTerminologyDiacriticInsensitively) {
  ExtractionDoc d = Run("Chẩn đoán: THA, ĐTĐ típ 2, COPD; NMCT\n");
  std::set<std::string> codes;
  for (const auto& f : d.facts)
    if (f.kind == "diagnosis") codes.insert(f.coding.code.substr(0, 3));
  EXPECT_EQ(codes, (std::set<std::string>{"I10", "E11", "J44", "I21"}));
  // Without marks (typed on a keyboard without Vietnamese input) the same codes come out.
  ExtractionDoc plain = Run("Chan doan: tang huyet ap; dai thao duong tip 2\n");
  std::set<std::string> plain_codes;
  for (const auto& f : plain.facts)
    if (f.kind == "diagnosis") plain_codes.insert(f.coding.code.substr(0, 3));
  EXPECT_EQ(plain_codes, (std::set<std::string>{"I10", "E11"}));
}

TEST_F(Extraction, NegationAndHistoryAreNotActive) {
  ExtractionDoc d = Run("Bệnh sử: không sốt, ho khan. Bệnh nhân có tiền sử lao phổi.\n");
  std::map<std::string, Assertion> by_code;
  for (const auto& f : d.facts)
    if (f.kind == "diagnosis") by_code[f.coding.code.substr(0, 3)] = f.assertion;
  EXPECT_EQ(by_code["R50"], Assertion::kNegated);
  EXPECT_EQ(by_code["R05"], Assertion::kPresent);
  EXPECT_EQ(by_code["A16"], Assertion::kHistory);
}

TEST_F(Extraction, MedicationWithStrengthDoseRouteFrequencyDuration) {
  ExtractionDoc d = Run("Điều trị:\n- Amlodipin 5mg x 1 viên/ngày, uống sáng, 30 ngày\n");
  const Fact* m = nullptr;
  for (const auto& f : d.facts)
    if (f.kind == "medication") m = &f;
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->value, "Amlodipin");
  EXPECT_EQ(m->strength.value_or(0), 5);
  EXPECT_EQ(m->ucum, "mg");
  EXPECT_EQ(m->dose.value_or(0), 1);
  EXPECT_EQ(m->dose_unit, "viên");
  EXPECT_EQ(m->route.code, "26643006");
  EXPECT_EQ(m->per_day, 1);
  EXPECT_EQ(m->when, std::vector<std::string>{"MORN"});
  EXPECT_EQ(m->duration_days, 30);
  EXPECT_EQ(d.text.substr(m->begin, m->end - m->begin),
            "Amlodipin 5mg x 1 viên/ngày, uống sáng, 30 ngày");
}

TEST_F(Extraction, VitalsWithUnitsAndSpans) {
  ExtractionDoc d =
      Run("Khám: Mạch: 88 lần/phút, Nhiệt độ: 37,5°C, Huyết áp: 130/80 mmHg, "
          "tiêm tĩnh mạch 2 lần\n");
  std::map<std::string, const Fact*> v;
  for (const auto& f : d.facts)
    if (f.kind == "vital") v[f.field] = &f;
  ASSERT_EQ(v.size(), 3u);  // "tĩnh mạch 2" is not a pulse
  EXPECT_EQ(*v["8867-4"]->number, 88);
  EXPECT_EQ(v["8867-4"]->ucum, "/min");
  EXPECT_EQ(*v["8310-5"]->number, 37.5);
  EXPECT_EQ(v["8310-5"]->ucum, "Cel");
  EXPECT_EQ(*v["85354-9"]->number, 130);
  EXPECT_EQ(*v["85354-9"]->number2, 80);
  const Fact* bp = v["85354-9"];
  EXPECT_EQ(d.text.substr(bp->begin, bp->end - bp->begin), "Huyết áp: 130/80 mmHg");
}

TEST_F(Extraction, RulesAreDataFilesAndCanBeReplaced) {
  // The same rules loaded from the source directory give the same pipeline.
  auto r = Rules::Load(std::string(BENHAN_SOURCE_DIR) + "/src/digitize/rules");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->vitals.size(), rules_->vitals.size());
  auto bad = Rules::Load("/nonexistent");
  EXPECT_FALSE(bad.ok());
}

TEST_F(Extraction, BadTextIsAnErrorNotACrash) {
  EXPECT_FALSE(extractor_->Extract(std::string("\xff\xfe\x00garbage", 10)).ok());
  ExtractOptions small;
  small.max_text_bytes = 10;
  auto ex = MakeRuleExtractor(rules_, coder_.get(), small);
  EXPECT_EQ(ex->Extract("Chẩn đoán: tăng huyết áp").status().code(), Code::kInvalid);
  // English-only text gives no Vietnamese facts but no error either.
  auto en = extractor_->Extract("The quick brown fox jumps over the lazy dog. Pulse normal.");
  ASSERT_TRUE(en.ok());
  EXPECT_TRUE(en->facts.empty());
}

}  // namespace
}  // namespace benhan::digitize
