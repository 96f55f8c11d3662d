// HL7 v2 parser, writer, MLLP framing and ACKs (interop/hl7v2/).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "interop/hl7v2/ack.h"
#include "interop/hl7v2/message.h"
#include "interop/hl7v2/mllp.h"

namespace benhan::interop::hl7v2 {
namespace {

const char kAdt[] =
    "MSH|^~\\&|HIS|BV01|BENHAN|BV01|20250101120000||ADT^A01^ADT_A01|MSG0001|P|2.5.1\r"
    "EVN|A01|20250101120000\r"
    "PID|1||001204012345^^^BCA^CCCD~GD4797920012345^^^BHXH^HN||Nguyễn^Văn An^^^^^L||19900215|M\r"
    "PV1|1|I|NOI^101^1\r"
    "ZXY|custom^value|\\F\\\\S\\\\T\\\\R\\\\E\\\r";

TEST(Hl7v2Parse, FieldsComponentsRepetitionsAndZSegments) {
  auto m = Parse(kAdt);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->type(), "ADT");
  EXPECT_EQ(m->trigger(), "A01");
  EXPECT_EQ(m->control_id(), "MSG0001");
  EXPECT_EQ(m->version(), "2.5.1");
  EXPECT_EQ(m->Sender(), "HIS|BV01");
  const Segment* pid = m->Find("PID");
  ASSERT_NE(pid, nullptr);
  EXPECT_EQ(pid->Repetitions(3), 2u);
  EXPECT_EQ(pid->Get(3, 1, 1, 0), "001204012345");
  EXPECT_EQ(pid->Get(3, 4, 1, 1), "BHXH");
  EXPECT_EQ(pid->Get(3, 5, 1, 1), "HN");
  EXPECT_EQ(pid->Get(5, 2), "Văn An");
  EXPECT_EQ(pid->Get(99), "");
  const Segment* z = m->Find("ZXY");
  ASSERT_NE(z, nullptr);
  EXPECT_EQ(z->Get(1, 2), "value");
  EXPECT_EQ(z->Get(2), "|^&~\\");
  EXPECT_EQ(m->segments.size(), 5u);
}

TEST(Hl7v2Parse, SegmentTerminators) {
  std::string crlf = kAdt, lf = kAdt;
  for (size_t p = 0; (p = crlf.find('\r', p)) != std::string::npos; p += 2)
    crlf.insert(p + 1, "\n");
  for (char& c : lf)
    if (c == '\r') c = '\n';
  for (const std::string& text : {crlf, lf}) {
    auto m = Parse(text);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ(m->segments.size(), 5u);
    EXPECT_EQ(m->Find("PV1")->Get(3, 2), "101");
  }
}

TEST(Hl7v2Parse, CustomEncodingCharacters) {
  auto m = Parse("MSH#$*@%#A#B#C#D#20250101##ORU$R01#X1#P#2.3\rOBX#1#ST#GLU$Glucose##a%b*c%d\r");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->encoding.field, '#');
  EXPECT_EQ(m->type(), "ORU");
  const Segment* obx = m->Find("OBX");
  EXPECT_EQ(obx->Get(3, 2), "Glucose");
  EXPECT_EQ(obx->Get(5, 1, 1, 0), "a");
  EXPECT_EQ(obx->Get(5, 1, 2, 0), "b");
  EXPECT_EQ(obx->Get(5, 1, 1, 1), "c");
  EXPECT_EQ(obx->Get(5, 1, 2, 1), "d");
  // Written back with the same characters, it reads the same.
  auto again = Parse(Encode(*m));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Encode(*again), Encode(*m));
}

TEST(Hl7v2Parse, EscapeSequences) {
  Encoding e;
  EXPECT_EQ(Unescape("a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f", e), "a|b^c&d~e\\f");
  EXPECT_EQ(Unescape("line1\\.br\\line2", e), "line1\nline2");
  EXPECT_EQ(Unescape("\\H\\bold\\N\\", e), "bold");
  EXPECT_EQ(Unescape("\\X41C3A9\\", e), "Aé");
  EXPECT_EQ(Unescape("\\XE9\\", e), "é");          // not UTF-8: read as Latin-1
  EXPECT_EQ(Unescape("C:\\path", e), "C:\\path");  // a lone escape stays text
  EXPECT_EQ(Unescape("\\Q\\", e), "\\Q\\");        // unknown: kept literally
  std::string v = "a|b^c&d~e\\f\ng";
  EXPECT_EQ(Unescape(Escape(v, e), e), v);
}

TEST(Hl7v2Parse, WriterRoundTrip) {
  auto m = Parse(kAdt);
  ASSERT_TRUE(m.ok());
  std::string out = Encode(*m);
  auto again = Parse(out);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(Encode(*again), out);
  EXPECT_EQ(again->Find("ZXY")->Get(2), "|^&~\\");
  EXPECT_EQ(again->Find("PID")->Get(5, 2), "Văn An");
}

TEST(Hl7v2Parse, CharacterSets) {
  // "Nguyễn Thị Hoa" in TCVN 5712 (VN3), Windows-1258 and Latin-1 ("Müller").
  std::string tcvn =
      "MSH|^~\\&|LAB|BV|||20250101||ADT^A08|1|P|2.3||||||TCVN\rPID|1||1||Nguy\xd4n^Th\xde Hoa\r";
  auto m = Parse(tcvn);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->Find("PID")->Get(5, 1), "Nguyễn");
  EXPECT_EQ(m->Find("PID")->Get(5, 2), "Thị Hoa");
  EXPECT_EQ(m->charset, "TCVN");

  std::string cp =
      "MSH|^~\\&|LAB|BV|||20250101||ADT^A08|1|P|2.3||||||WINDOWS-1258\rPID|1||1||"
      "Nguy\xea\xde\x6e\r";
  auto c = Parse(cp);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->Find("PID")->Get(5, 1), "Nguyễn");

  auto l = Parse("MSH|^~\\&|A|B|||1||ADT^A08|1|P|2.3||||||8859/1\rPID|1||1||M\xfcller\r");
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(l->Find("PID")->Get(5, 1), "Müller");

  auto u = Parse("MSH|^~\\&|A|B|||1||ADT^A08|1|P|2.5||||||UNICODE UTF-8\rPID|1||1||Trần\r");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->Find("PID")->Get(5, 1), "Trần");
}

TEST(Hl7v2Parse, ErrorsNameSegmentAndField) {
  auto bad_utf8 = Parse("MSH|^~\\&|A|B|||1||ADT^A08|1|P|2.5\rPID|1||1||M\xfcller\r");
  ASSERT_FALSE(bad_utf8.ok());
  EXPECT_EQ(bad_utf8.status().issues()[0].expression, "MSH^1^18");

  auto unknown_set = Parse("MSH|^~\\&|A|B|||1||ADT^A08|1|P|2.5||||||KLINGON-8\rPID|1\r");
  ASSERT_FALSE(unknown_set.ok());
  EXPECT_EQ(unknown_set.status().code(), Code::kNotSupported);

  auto no_msh = Parse("PID|1||1\r");
  ASSERT_FALSE(no_msh.ok());
  EXPECT_EQ(no_msh.status().issues()[0].expression, "MSH^1");

  auto bad_id = Parse("MSH|^~\\&|A|B|||1||ADT^A08|1|P|2.5\rPID|1\rpv1|x\r");
  ASSERT_FALSE(bad_id.ok());
  EXPECT_EQ(bad_id.status().issues()[0].expression, "3");
  EXPECT_NE(bad_id.status().message().find("segment 3"), std::string::npos);

  auto dup_enc = Parse("MSH|^^\\&|A\r");
  ASSERT_FALSE(dup_enc.ok());
  EXPECT_EQ(dup_enc.status().issues()[0].expression, "MSH^1^2");
}

TEST(Hl7v2Parse, SplitsBatches) {
  auto parts =
      SplitMessages("FHS|^~\\&\rBHS|^~\\&\rMSH|^~\\&|A\rPID|1\rMSH|^~\\&|B\rBTS|2\rFTS|1\r");
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0], "MSH|^~\\&|A\rPID|1\r");
  EXPECT_EQ(parts[1], "MSH|^~\\&|B\r");
}

TEST(Mllp, PartialReadsAndErrors) {
  std::string stream = MllpFrame("MSH|one") + "junk" + MllpFrame("MSH|two");
  // Fed one byte at a time: the same two messages and one error.
  MllpDecoder d;
  std::vector<MllpDecoder::Event> ev;
  for (char c : stream) d.Feed(std::string_view(&c, 1), &ev);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].data, "MSH|one");
  EXPECT_TRUE(ev[1].is_error);
  EXPECT_EQ(ev[2].data, "MSH|two");
  EXPECT_TRUE(d.idle());

  MllpDecoder small(8);
  ev.clear();
  small.Feed(MllpFrame("MSH|this is too long") + MllpFrame("MSH|ok"), &ev);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_TRUE(ev[0].is_error);
  EXPECT_EQ(ev[1].data, "MSH|ok");

  MllpDecoder restart;
  ev.clear();
  restart.Feed(std::string("\x0BMSH|cut\x0BMSH|whole\x1C\x0D"), &ev);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_TRUE(ev[0].is_error);
  EXPECT_EQ(ev[1].data, "MSH|whole");
  restart.Feed("\x0BMSH|half", &ev);
  EXPECT_FALSE(restart.idle());
}

TEST(Hl7v2Ack, OriginalAndEnhancedModes) {
  auto m = Parse(kAdt);
  ASSERT_TRUE(m.ok());
  AckOptions o;
  o.control_id = "ACK1";
  o.timestamp = "20250101120001";
  auto aa = BuildAck(*m, AckCode::kAccept, {}, o);
  ASSERT_TRUE(aa.has_value());
  auto parsed = Parse(*aa);
  ASSERT_TRUE(parsed.ok()) << *aa;
  EXPECT_EQ(parsed->Get(9, 1), "ACK");
  EXPECT_EQ(parsed->Get(9, 2), "A01");
  EXPECT_EQ(parsed->Get(5), "HIS");
  EXPECT_EQ(parsed->Find("MSA")->Get(1), "AA");
  EXPECT_EQ(parsed->Find("MSA")->Get(2), "MSG0001");

  AckError e{"PID^1^3", "101", "Thiếu thông tin bắt buộc / PID-3 is required"};
  auto ae = Parse(*BuildAck(*m, AckCode::kError, {e}, o));
  ASSERT_TRUE(ae.ok());
  EXPECT_EQ(ae->Find("MSA")->Get(1), "AE");
  const Segment* err = ae->Find("ERR");
  ASSERT_NE(err, nullptr);
  EXPECT_EQ(err->Get(2, 1), "PID");
  EXPECT_EQ(err->Get(2, 3), "3");
  EXPECT_EQ(err->Get(3, 1), "101");
  EXPECT_EQ(err->Get(4), "E");
  EXPECT_EQ(err->Get(8), e.text);

  // v2.3: ERR-1 carries the location and the code.
  auto old = Parse("MSH|^~\\&|A|B|||1||ORU^R01|9|P|2.3\r");
  auto ar = Parse(*BuildAck(*old, AckCode::kReject, {e}, o));
  EXPECT_EQ(ar->Find("MSA")->Get(1), "AR");
  EXPECT_EQ(ar->Find("ERR")->Get(1, 1), "PID");
  EXPECT_EQ(ar->Find("ERR")->Get(1, 4, 1), "101");

  // Enhanced mode: CA/CE/CR as MSH-15 asks.
  auto al = Parse("MSH|^~\\&|A|B|||1||ORU^R01|9|P|2.5|||AL|NE\r");
  EXPECT_EQ(Parse(*BuildAck(*al, AckCode::kAccept, {}, o))->Find("MSA")->Get(1), "CA");
  auto er = Parse("MSH|^~\\&|A|B|||1||ORU^R01|9|P|2.5|||ER|NE\r");
  EXPECT_FALSE(BuildAck(*er, AckCode::kAccept, {}, o).has_value());
  EXPECT_EQ(Parse(*BuildAck(*er, AckCode::kError, {e}, o))->Find("MSA")->Get(1), "CE");
  auto ne = Parse("MSH|^~\\&|A|B|||1||ORU^R01|9|P|2.5|||NE|NE\r");
  EXPECT_FALSE(BuildAck(*ne, AckCode::kReject, {e}, o).has_value());
}

TEST(Hl7v2Ack, SalvagedHeaderOfABrokenMessage) {
  Message h = SalvageHeader("MSH|^~\\&|LIS|LAB|||2025||ORU^R01|CTRL77|P|2.4\rbad segment\r");
  EXPECT_EQ(h.control_id(), "CTRL77");
  EXPECT_EQ(h.Sender(), "LIS|LAB");
  EXPECT_TRUE(SalvageHeader("garbage").segments.empty());
}

// Every sample message in the shared corpus either parses or fails with a located error; none
// crashes. Read in place (never copied into the repository).
TEST(Hl7v2Parse, SharedSamples) {
  std::filesystem::path dir = "/work/shared/data/hl7v2";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "no sample messages in " << dir;
  int parsed = 0, failed = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    auto ext = entry.path().extension();
    if (!entry.is_regular_file() || (ext != ".hl7" && ext != ".txt")) continue;
    std::ifstream f(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string text = ss.str();
    for (std::string_view one : SplitMessages(text)) {
      auto m = Parse(one);
      if (m.ok())
        ++parsed;
      else
        ++failed;
    }
  }
  EXPECT_GT(parsed, 0);
  std::printf("shared samples: %d parsed, %d with errors\n", parsed, failed);
}

}  // namespace
}  // namespace benhan::interop::hl7v2
