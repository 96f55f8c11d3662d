// Bad input: corrupt and truncated images, unknown formats, empty pages, non-Vietnamese text, an
// image header claiming a huge page, a 500-page PDF: clear errors or results, never a crash, and
// memory bounded by one page at a time.
#include <gtest/gtest.h>
#include <leptonica/allheaders.h>
#include <sys/resource.h>

#include "digitize/digitizer.h"
#include "digitize/page_source.h"
#include "page_render.h"

namespace benhan::digitize {
namespace {

long PeakRssKb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = Digitizer::Create({}, nullptr);
    if (!d.ok()) GTEST_SKIP() << "SKIP: " << d.status().message();
    dz_ = std::move(*d);
  }
  std::unique_ptr<Digitizer> dz_;
};

TEST_F(BadInput, UnknownFormatEmptyAndRandomBytes) {
  auto empty = dz_->Recognize("");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("rỗng"), std::string::npos);
  auto text = dz_->Recognize("Họ tên: Nguyễn Văn A");
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.status().message().find("không được hỗ trợ"), std::string::npos);
  std::string noise(4096, '\0');
  for (size_t i = 0; i < noise.size(); ++i) noise[i] = static_cast<char>((i * 7919 + 13) & 0xff);
  EXPECT_FALSE(dz_->Recognize(noise).ok());
}

TEST_F(BadInput, CorruptAndTruncatedImages) {
  auto page = testing::RenderPage("Chẩn đoán: Tăng huyết áp", {});
  std::string png = testing::EncodePng(page.pix.get());
  std::string jpg = testing::EncodeJpeg(page.pix.get(), 80);
  for (const std::string& good : {png, jpg}) {
    for (size_t keep : {size_t(4), size_t(40), good.size() / 3, good.size() - 10}) {
      auto r = dz_->Recognize(good.substr(0, keep));  // error or partial text; never a crash
      if (!r.ok()) {
        EXPECT_FALSE(r.status().message().empty());
        EXPECT_NE(r.status().code(), Code::kInternal) << r.status().message();
      }
    }
    std::string flipped = good;
    for (size_t i = 60; i < flipped.size(); i += 97) flipped[i] = static_cast<char>(~flipped[i]);
    (void)dz_->Recognize(flipped);
  }
  // A PDF that is only a header, and a PDF cut in half.
  std::string pdf = testing::RenderTextPdf({"Chẩn đoán: Tăng huyết áp"});
  EXPECT_FALSE(dz_->Recognize("%PDF-1.5\n").ok());
  (void)dz_->Recognize(pdf.substr(0, pdf.size() / 2));
}

TEST_F(BadInput, HugeImageHeaderIsRefusedBeforeDecoding) {
  // A 1x1 PNG whose header claims 100000 x 100000 pixels.
  Pix* tiny = pixCreate(1, 1, 8);
  std::string png = testing::EncodePng(tiny);
  pixDestroy(&tiny);
  auto put32 = [&](size_t at, uint32_t v) {
    png[at] = static_cast<char>(v >> 24);
    png[at + 1] = static_cast<char>(v >> 16);
    png[at + 2] = static_cast<char>(v >> 8);
    png[at + 3] = static_cast<char>(v);
  };
  put32(16, 100000);
  put32(20, 100000);
  long before = PeakRssKb();
  auto r = dz_->Recognize(png);
  ASSERT_FALSE(r.ok());
  EXPECT_LT(PeakRssKb() - before, 200 * 1024) << "decoded a bomb";
}

TEST_F(BadInput, EmptyPagesAreReportedAndABlankDocumentIsAnError) {
  Pix* white = pixCreate(1240, 1754, 8);
  pixSetAllArbitrary(white, 255);
  pixSetResolution(white, 150, 150);
  auto blank = dz_->Recognize(testing::EncodePng(white));
  ASSERT_FALSE(blank.ok());
  EXPECT_EQ(blank.status().code(), Code::kInvalid);
  EXPECT_NE(blank.status().message().find("Không nhận dạng được chữ"), std::string::npos);
  // A scanned PDF with a blank page between two written ones: a warning names page 2.
  auto p1 = testing::RenderPage("Chẩn đoán: Tăng huyết áp", {});
  auto p3 = testing::RenderPage("Điều trị: Amlodipin 5mg x 1 viên/ngày", {});
  Pix* white300 = pixCreate(pixGetWidth(p1.pix.get()), pixGetHeight(p1.pix.get()), 8);
  pixSetAllArbitrary(white300, 255);
  auto doc = dz_->Recognize(testing::ImagesToPdf({p1.pix.get(), white300, p3.pix.get()}, 300));
  pixDestroy(&white300);
  pixDestroy(&white);
  ASSERT_TRUE(doc.ok()) << doc.status().message();
  ASSERT_EQ(doc->pages.size(), 3u);
  bool warned = false;
  for (const auto& w : doc->warnings) warned |= w.find("Trang 2") != std::string::npos;
  EXPECT_TRUE(warned);
  EXPECT_NE(doc->text.find("Amlodipin"), std::string::npos);
}

TEST_F(BadInput, NonVietnameseTextGivesAResultWithAWarning) {
  std::string en;
  for (int i = 0; i < 12; ++i)
    en += "The patient was admitted with chest pain and discharged after three days of care. ";
  auto page = testing::RenderPage(en, {});
  auto r = dz_->Recognize(testing::EncodePng(page.pix.get()));
  ASSERT_TRUE(r.ok()) << r.status().message();
  bool warned = false;
  for (const auto& w : r->warnings) warned |= w.find("không phải tiếng Việt") != std::string::npos;
  EXPECT_TRUE(warned);
  auto ex = dz_->Extract(*r);
  ASSERT_TRUE(ex.ok());
}

TEST_F(BadInput, FiveHundredPagePdfIsProcessedPageByPageOrRefusedByTheLimit) {
  std::vector<std::string> pages;
  for (int i = 0; i < 500; ++i) {
    pages.push_back("Trang " + std::to_string(i + 1) +
                    "\nDiễn biến: bệnh nhân tỉnh, không sốt, mạch 80 lần/phút, huyết áp 120/80 "
                    "mmHg.\nY lệnh: Amlodipin 5mg x 1 viên/ngày, uống sáng.");
  }
  std::string pdf = testing::RenderTextPdf(pages);
  // Over the limit: refused up front, saying how many pages and the limit.
  DigitizeOptions small;
  small.limits.max_pages = 100;
  auto limited = Digitizer::Create(small, nullptr);
  ASSERT_TRUE(limited.ok());
  auto refused = (*limited)->Recognize(pdf);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kTooLarge);
  EXPECT_NE(refused.status().message().find("500 trang"), std::string::npos)
      << refused.status().message();
  // Within the limit: all 500 pages, one at a time.
  long before = PeakRssKb();
  int calls = 0;
  auto r = dz_->Recognize(pdf, [&](int, int total) {
    EXPECT_EQ(total, 500);
    ++calls;
    return true;
  });
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(calls, 500);
  EXPECT_EQ(r->pages.size(), 500u);
  EXPECT_EQ(r->pages[499].source, "text-layer");
  EXPECT_NE(r->text.find("Trang 500"), std::string::npos);
  std::printf("500-page PDF (%zu KB): peak RSS grew by %ld KB\n", pdf.size() / 1024,
              PeakRssKb() - before);
  EXPECT_LT(PeakRssKb() - before, 300 * 1024);
  auto ex = dz_->Extract(*r);
  ASSERT_TRUE(ex.ok()) << ex.status().message();
  // Cancelling stops at the page the callback refuses.
  auto cancelled = dz_->Recognize(pdf, [](int done, int) { return done < 10; });
  EXPECT_FALSE(cancelled.ok());
}

}  // namespace
}  // namespace benhan::digitize
