// End to end, in process with a real Node (SQLite in a temp dir): a two-page scanned discharge
// summary (rendered at test time, skewed and noisy, as a scanned PDF) -> DocumentReference +
// drafts -> the clinician confirms some, edits one, rejects the rest -> the patient's record
// shows exactly the confirmed ones; every decision went through the ResourceService.
#include <gtest/gtest.h>
#include <leptonica/allheaders.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "app/node.h"
#include "digitize/digitizer.h"
#include "digitize/fhir_drafts.h"
#include "digitize/icd10_coder.h"
#include "digitize/jobs.h"
#include "digitize/review.h"
#include "page_render.h"

namespace benhan::digitize {
namespace {

namespace json = boost::json;

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class DigitizeE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("benhan-dig-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    Config cfg;
    cfg.data_dir = dir_.string();
    auto node = app::Node::Open(cfg);
    ASSERT_TRUE(node.ok()) << node.status().message();
    node_ = std::move(*node);
    coder_ = std::make_unique<Icd10Coder>([this] {
      auto v = node_->terminology().Resolve(terminology::kIcd10VnUrl);
      return v ? v : terminology::StarterIcd10();
    });
    auto d = Digitizer::Create({}, coder_.get());
    if (!d.ok()) GTEST_SKIP() << "SKIP: " << d.status().message();
    digitizer_ = std::move(*d);
    ctx_.principal = "bs.nguyen";
  }
  void TearDown() override {
    digitizer_.reset();
    node_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::vector<json::object> Search(const std::string& type, service::Params p) {
    auto s = service::ParseSearch(type, p, node_->service().defs(), true, 100, 1000);
    EXPECT_TRUE(s.ok()) << s.status().message();
    auto r = node_->service().Search(ctx_, type, *s);
    EXPECT_TRUE(r.ok()) << r.status().message();
    std::vector<json::object> out;
    for (auto& m : r->matches) out.push_back(json::parse(m.json).as_object());
    return out;
  }
  static std::string Code(const json::object& r) {
    const char* key =
        r.at("resourceType") == "MedicationStatement" ? "medicationCodeableConcept" : "code";
    const auto& cc = r.at(key).as_object();
    if (auto* c = cc.if_contains("coding"))
      return std::string(c->as_array()[0].as_object().at("code").as_string());
    return std::string(cc.at("text").as_string());
  }

  std::filesystem::path dir_;
  std::unique_ptr<app::Node> node_;
  std::unique_ptr<Icd10Coder> coder_;
  std::unique_ptr<Digitizer> digitizer_;
  service::RequestContext ctx_;
};

TEST_F(DigitizeE2E, ScannedDischargeSummaryToConfirmedRecord) {
  // The patient.
  json::object patient{{"resourceType", "Patient"},
                       {"id", "pt-an"},
                       {"name", json::array{json::object{{"text", "Nguyễn Văn An"}}}},
                       {"gender", "male"},
                       {"birthDate", "1958"}};
  ASSERT_TRUE(node_->service().Update(ctx_, "Patient", "pt-an", json::value(patient)).ok());

  // Two scanned pages: the discharge summary split where the examination starts.
  std::string text = ReadFile(std::filesystem::path(BENHAN_SOURCE_DIR) /
                              "tests/digitize/devset/01-giay-ra-vien-tha.txt");
  size_t cut = text.find("Khám bệnh:");
  ASSERT_NE(cut, std::string::npos);
  std::vector<PixPtr> pages;
  std::vector<Pix*> raw;
  testing::Degradation scan;
  scan.skew_degrees = 1.5;
  scan.noise_sigma = 10;
  scan.jpeg_quality = 70;
  for (const std::string& part : {text.substr(0, cut), text.substr(cut)}) {
    testing::RenderOptions ro;
    ro.width_mm = 210;
    ro.height_mm = 297;
    ro.font = "Noto Sans 10";
    auto page = testing::RenderPage(part, ro);
    ASSERT_EQ(page.consumed, part.size()) << "page overflow";
    pages.push_back(testing::Degrade(page.pix.get(), 300, scan));
    raw.push_back(pages.back().get());
  }
  std::string pdf = testing::ImagesToPdf(raw, 300);
  if (const char* dump = std::getenv("BENHAN_DIG_DUMP"))
    std::ofstream(std::string(dump) + "/scan.pdf") << pdf;

  // In: DocumentReference + drafts.
  int last_done = 0;
  auto out = DigitizeAndStore(*digitizer_, node_->service(), ctx_, pdf, "giay-ra-vien.pdf", "pt-an",
                              [&](int done, int total) {
                                EXPECT_EQ(total, 2);
                                last_done = done;
                                return true;
                              });
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(last_done, 2);
  EXPECT_EQ(out->pages, 2);
  EXPECT_GE(out->counts.conditions, 2);
  EXPECT_GE(out->counts.observations, 5);
  // (OCR of this scan may misread one strength, e.g. "5mg" as "5mdg": that line is then no drug)
  EXPECT_GE(out->counts.medications, 2);
  EXPECT_EQ(out->counts.provenances,
            out->counts.conditions + out->counts.observations + out->counts.medications);

  // The document holds the scan and the OCR text.
  auto docrec = node_->service().Read(ctx_, "DocumentReference", out->document_id);
  ASSERT_TRUE(docrec.ok());
  json::object doc = json::parse(docrec->json).as_object();
  const auto& content = doc.at("content").as_array();
  ASSERT_GE(content.size(), 2u);
  std::string binary_url(content[0].at("attachment").at("url").as_string());
  EXPECT_TRUE(node_->service().Read(ctx_, "Binary", binary_url.substr(7)).ok());
  EXPECT_EQ(doc.at("subject").at("reference"), "Patient/pt-an");

  // The review queue: every draft of the patient, none in the active record yet.
  ReviewService review(node_->service());
  auto pending = review.Pending(ctx_, "pt-an", "");
  ASSERT_TRUE(pending.ok()) << pending.status().message();
  const size_t drafts = pending->size();
  EXPECT_EQ(static_cast<int>(drafts),
            out->counts.conditions + out->counts.observations + out->counts.medications);
  auto by_doc = review.Pending(ctx_, "", out->document_id);
  ASSERT_TRUE(by_doc.ok());
  EXPECT_EQ(by_doc->size(), drafts);
  EXPECT_TRUE(
      Search("Condition", {{"patient", "pt-an"}, {"verification-status", "confirmed"}}).empty());
  // Each draft has a Provenance pointing to the document and the text span.
  auto provs = Search("Provenance", {{"entity", "DocumentReference/" + out->document_id}});
  EXPECT_EQ(provs.size(), drafts);

  // Decisions: confirm I10, the heart rate and the first medication; edit the diabetes code to
  // E11.9 then confirm it; reject everything else.
  std::multiset<std::string> confirmed_conditions, confirmed_obs, confirmed_meds;
  size_t confirmations = 0;
  for (const auto& rec : *pending) {
    json::object r = json::parse(rec.json).as_object();
    std::string code = Code(r);
    bool keep = false;
    if (rec.type == "Condition" && code == "I10") keep = true;
    if (rec.type == "Observation" && code == "8867-4") keep = true;
    if (rec.type == "MedicationStatement" && confirmed_meds.empty()) keep = true;
    if (rec.type == "Condition" && code.rfind("E11", 0) == 0) {
      json::object edited = r;
      edited["code"] = json::object{
          {"coding",
           json::array{json::object{{"system", terminology::kIcd10VnUrl},
                                    {"code", "E11.9"},
                                    {"display", "Đái tháo đường típ 2 không có biến chứng"}}}}};
      auto e = review.Decide(ctx_, "Condition", rec.id, "edit", &edited);
      ASSERT_TRUE(e.ok()) << e.status().message();
      code = "E11.9";
      keep = true;
    }
    auto d = review.Decide(ctx_, rec.type, rec.id, keep ? "confirm" : "reject");
    ASSERT_TRUE(d.ok()) << rec.type << "/" << rec.id << ": " << d.status().message();
    confirmations += keep;
    if (keep && rec.type == "Condition") confirmed_conditions.insert(code);
    if (keep && rec.type == "Observation") confirmed_obs.insert(code);
    if (keep && rec.type == "MedicationStatement") confirmed_meds.insert(code);
    // A second decision on the same resource is refused: it is no longer a draft.
    EXPECT_FALSE(review.Decide(ctx_, rec.type, rec.id, "confirm").ok());
  }
  EXPECT_EQ(confirmed_conditions, (std::multiset<std::string>{"I10", "E11.9"}));
  EXPECT_GE(confirmed_obs.size(), 1u);
  EXPECT_EQ(confirmed_meds.size(), 1u);

  // Out: the patient's record shows exactly the confirmed ones.
  EXPECT_TRUE(review.Pending(ctx_, "pt-an", "")->empty());
  std::multiset<std::string> conds, obs, meds;
  for (auto& r : Search("Condition", {{"patient", "pt-an"}})) {
    conds.insert(Code(r));
    EXPECT_EQ(r.at("verificationStatus").at("coding").as_array()[0].at("code"), "confirmed");
  }
  for (auto& r : Search("Observation", {{"patient", "pt-an"}})) {
    obs.insert(Code(r));
    EXPECT_EQ(r.at("status"), "final");
  }
  for (auto& r : Search("MedicationStatement", {{"patient", "pt-an"}})) {
    meds.insert(Code(r));
    EXPECT_EQ(r.at("status"), "active");
  }
  EXPECT_EQ(conds, confirmed_conditions);
  EXPECT_EQ(obs, confirmed_obs);
  EXPECT_EQ(meds, confirmed_meds);
  // Each confirmation has the clinician's Provenance (activity UPDATE, agent verifier).
  size_t verified = 0;
  for (auto& p : Search("Provenance", {})) {
    if (p.at("agent").as_array()[0].at("who").at("display") == "bs.nguyen") ++verified;
  }
  EXPECT_EQ(verified, confirmations);
}

TEST_F(DigitizeE2E, AsyncJobReportsProgressAndResult) {
  json::object patient{{"resourceType", "Patient"}, {"id", "pt-job"}};
  ASSERT_TRUE(node_->service().Update(ctx_, "Patient", "pt-job", json::value(patient)).ok());
  DigitizeJobs jobs(*digitizer_, node_->service(), 1, 4);
  std::string pdf = testing::RenderTextPdf({"Chẩn đoán: Tăng huyết áp (I10)\nMạch: 80 lần/phút",
                                            "Điều trị:\n- Amlodipin 5mg x 1 viên/ngày, uống sáng"});
  if (const char* dump = std::getenv("BENHAN_DIG_DUMP"))
    std::ofstream(std::string(dump) + "/text.pdf") << pdf;
  auto id = jobs.Submit(ctx_, pdf, "a.pdf", "pt-job");
  ASSERT_TRUE(id.ok());
  auto bad = jobs.Submit(ctx_, pdf, "a.pdf", "no-such-patient");
  ASSERT_TRUE(bad.ok());
  for (int i = 0; i < 600; ++i) {
    auto s = jobs.Get(*id);
    auto b = jobs.Get(*bad);
    if (s->state == "completed" && b->state == "failed") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto s = jobs.Get(*id);
  ASSERT_EQ(s->state, "completed") << s->error.message();
  EXPECT_EQ(s->pages_done, 2);
  EXPECT_EQ(s->pages_total, 2);
  EXPECT_EQ(s->outcome->counts.conditions, 1);
  EXPECT_EQ(s->outcome->counts.medications, 1);
  auto b = jobs.Get(*bad);
  EXPECT_EQ(b->state, "failed");
  EXPECT_EQ(b->error.code(), Code::kNotFound);
  EXPECT_FALSE(jobs.Get("nope").has_value());
}

}  // namespace
}  // namespace benhan::digitize
