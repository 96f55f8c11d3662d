// The HL7 v2 inbound path end to end: InboundProcessor on a real node (store, validation, audit)
// and the MLLP listener over loopback. Resources are checked through the FHIR REST API.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <thread>

#include "interop/hl7v2/inbound.h"
#include "interop/hl7v2/mllp.h"
#include "interop/hl7v2/mllp_server.h"
#include "support/test_server.h"

namespace benhan::interop::hl7v2 {
namespace {

namespace json = boost::json;
using testing::TestServer;

const char kAdtA01[] =
    "MSH|^~\\&|HIS|BV01|BENHAN|BV01|20250101120000||ADT^A01^ADT_A01|ADT0001|P|2.5.1\r"
    "EVN|A01|20250101120000\r"
    "PID|1||079090001234^^^BCA^CCCD~GD4797920012345^^^BHXH^HN~MR555^^^BV01^MR||Nguyễn^Văn "
    "An^^^^^L||19900215|M|||12 Lê Lợi^^Huế^Thừa Thiên Huế^^VN||0905123456\r"
    "PV1|1|I|NOI^101^1||||BS01^Trần^Bình||||||||||||V2025-1|||||||||||||||||||||||||"
    "20250101120000\r";

const char kOru[] =
    "MSH|^~\\&|LIS|LAB|BENHAN|BV01|20250102080000||ORU^R01|LAB0001|P|2.3\r"
    "PID|1||079090001234^^^BCA^CCCD||Nguyễn^Văn An||19900215|M\r"
    "OBR|1|ORD1|FIL1|CBC^Công thức máu^L|||20250102070000|||||||||||||||20250102075500|||F\r"
    "OBX|1|NM|GLU^Glucose^L||5.4|mmol/L|3.9-6.1|N|||F\r"
    "OBX|2|ST|COLOR^Màu^L||vàng nhạt||||||F\r"
    "OBX|3|CE|HBSAG^HBsAg^L||NEG^Âm tính^L||||||F\r"
    "OBX|4|SN|CRP^CRP^L||<^5|mg/L|<5|N|||F\r"
    "OBX|5|TX|NOTE^Ghi chú^L||dòng 1\\.br\\dòng 2||||||P\r"
    "OBX|6|DT|LMP^Kỳ kinh cuối^L||20241220||||||F\r"
    "OBX|7|NM|K^Kali^L||6.2|mmol/L|3.5-5.0|H|||C\r";

int Count(TestServer& s, const std::string& query) {
  auto r = s.Request("GET", "/fhir/" + query + (query.find('?') == std::string::npos ? "?" : "&") +
                                "_summary=count");
  auto v = r.Json();
  if (!v.is_object() || !v.as_object().contains("total")) return -1;
  return static_cast<int>(v.at("total").as_int64());
}

json::value First(TestServer& s, const std::string& query) {
  auto v = s.Request("GET", "/fhir/" + query).Json();
  if (!v.is_object() || !v.as_object().contains("entry")) return nullptr;
  return v.at("entry").as_array().at(0).at("resource");
}

std::string MsaCode(const std::optional<std::string>& ack) {
  if (!ack) return "(none)";
  auto m = Parse(*ack);
  return m.ok() && m->Find("MSA") ? m->Find("MSA")->Get(1) : "(bad ack)";
}

class Hl7v2Inbound : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = TestServer::Start();
    ASSERT_TRUE(server_);
    inbound_ = std::make_unique<InboundProcessor>(server_->node().service(), InboundOptions{});
  }
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<InboundProcessor> inbound_;
};

TEST_F(Hl7v2Inbound, AdtCreatesPatientAndEncounterFoundByIdentifier) {
  auto out = inbound_->Handle(kAdtA01, "test");
  ASSERT_EQ(MsaCode(out.ack), "AA") << *out.ack;
  EXPECT_EQ(Count(*server_, "Patient?identifier=079090001234"), 1);
  EXPECT_EQ(Count(*server_, "Patient?identifier=https://benhan.vn/sid/cccd|079090001234"), 1);
  EXPECT_EQ(Count(*server_, "Patient?identifier=https://benhan.vn/sid/bhyt|GD4797920012345"), 1);
  json::value p = First(*server_, "Patient?identifier=079090001234");
  EXPECT_EQ(p.at("name").at(0).at("family").as_string(), "Nguyễn");
  EXPECT_EQ(p.at("birthDate").as_string(), "1990-02-15");
  EXPECT_EQ(p.at("gender").as_string(), "male");
  json::value e =
      First(*server_, "Encounter?subject=Patient/" + std::string(p.at("id").as_string()));
  ASSERT_TRUE(e.is_object());
  EXPECT_EQ(e.at("status").as_string(), "in-progress");
  EXPECT_EQ(e.at("class").at("code").as_string(), "IMP");
  EXPECT_EQ(e.at("period").at("start").as_string(), "2025-01-01T12:00:00+07:00");

  // The same message again: acknowledged, not applied twice.
  auto again = inbound_->Handle(kAdtA01, "test");
  EXPECT_EQ(MsaCode(again.ack), "AA");
  EXPECT_TRUE(again.duplicate);
  json::value p2 = First(*server_, "Patient?identifier=079090001234");
  EXPECT_EQ(p2.at("meta").at("versionId").as_string(), p.at("meta").at("versionId").as_string());
  // The raw message is stored with its outcome.
  EXPECT_EQ(Count(*server_, "Binary?_tag=https://benhan.vn/hl7v2/ack|AA"), 1);

  // A03 discharge of the same visit updates the same Encounter.
  std::string a03 = kAdtA01;
  a03.replace(a03.find("ADT^A01^ADT_A01|ADT0001"), 23, "ADT^A03^ADT_A03|ADT0002");
  a03.replace(a03.find("EVN|A01"), 7, "EVN|A03");
  ASSERT_EQ(MsaCode(inbound_->Handle(a03, "test").ack), "AA");
  EXPECT_EQ(Count(*server_, "Encounter"), 1);
  EXPECT_EQ(First(*server_, "Encounter").at("status").as_string(), "finished");
  EXPECT_EQ(Count(*server_, "Patient"), 1);

  // Results for the registered patient link to it and leave its demographics alone
  // (regression: an ifNoneExist Patient entry left the Observations pointing at an id never
  // created).
  ASSERT_EQ(MsaCode(inbound_->Handle(kOru, "test").ack), "AA");
  std::string pid(p.at("id").as_string());
  EXPECT_EQ(Count(*server_, "Observation?subject=Patient/" + pid), 7);
  EXPECT_EQ(Count(*server_, "Patient"), 1);
  EXPECT_EQ(First(*server_, "Patient").at("meta").at("versionId").as_string(), "2");
}

TEST_F(Hl7v2Inbound, OruCreatesReportAndObservationsOfEveryValueType) {
  auto out = inbound_->Handle(kOru, "test");
  ASSERT_EQ(MsaCode(out.ack), "AA") << *out.ack;
  EXPECT_EQ(Count(*server_, "Observation"), 7);
  EXPECT_EQ(Count(*server_, "DiagnosticReport"), 1);
  EXPECT_EQ(Count(*server_, "Patient?identifier=079090001234"), 1);
  json::value glu = First(*server_, "Observation?code=GLU");
  EXPECT_EQ(glu.at("valueQuantity").at("value").as_double(), 5.4);
  EXPECT_EQ(glu.at("valueQuantity").at("code").as_string(), "mmol/L");
  EXPECT_EQ(glu.at("referenceRange").at(0).at("low").at("value").as_double(), 3.9);
  json::value k = First(*server_, "Observation?code=K");
  EXPECT_EQ(k.at("interpretation").at(0).at("coding").at(0).at("code").as_string(), "H");
  EXPECT_EQ(k.at("status").as_string(), "corrected");
  json::value crp = First(*server_, "Observation?code=CRP");
  EXPECT_EQ(crp.at("valueQuantity").at("comparator").as_string(), "<");
  EXPECT_EQ(First(*server_, "Observation?code=HBSAG")
                .at("valueCodeableConcept")
                .at("coding")
                .at(0)
                .at("code")
                .as_string(),
            "NEG");
  EXPECT_EQ(First(*server_, "Observation?code=NOTE").at("valueString").as_string(),
            "dòng 1\ndòng 2");
  EXPECT_EQ(First(*server_, "Observation?code=LMP").at("valueDateTime").as_string(), "2024-12-20");
  json::value dr = First(*server_, "DiagnosticReport");
  EXPECT_EQ(dr.at("result").as_array().size(), 7u);
  EXPECT_EQ(dr.at("basedOn").at(0).at("identifier").at("value").as_string(), "ORD1");
  // A corrected result sent again under a new control id updates the same resources.
  std::string again = kOru;
  again.replace(again.find("LAB0001"), 7, "LAB0002");
  ASSERT_EQ(MsaCode(inbound_->Handle(again, "test").ack), "AA");
  EXPECT_EQ(Count(*server_, "Observation"), 7);
}

// Copies of one message (same sender and MSH-10) arriving at once on several connections: one is
// applied, the others are acknowledged as duplicates with its outcome; every resource has one
// version and the raw message is stored once.
TEST_F(Hl7v2Inbound, ConcurrentCopiesOfAMessageAreAppliedOnce) {
  constexpr int kCopies = 6;
  std::vector<InboundOutcome> outs(kCopies);
  std::vector<std::thread> ts;
  for (int i = 0; i < kCopies; ++i)
    ts.emplace_back([&, i] { outs[i] = inbound_->Handle(kOru, "test"); });
  for (auto& t : ts) t.join();
  int applied = 0;
  for (const auto& o : outs) {
    EXPECT_EQ(MsaCode(o.ack), "AA") << *o.ack;
    applied += !o.duplicate;
  }
  EXPECT_EQ(applied, 1);
  EXPECT_EQ(Count(*server_, "Observation"), 7);
  EXPECT_EQ(Count(*server_, "Binary"), 1);
  EXPECT_EQ(First(*server_, "Observation?code=GLU").at("meta").at("versionId").as_string(), "1");
  json::value dr = First(*server_, "DiagnosticReport");
  EXPECT_EQ(dr.at("meta").at("versionId").as_string(), "1");
  EXPECT_EQ(First(*server_, "Binary").at("meta").at("versionId").as_string(), "1");
}

TEST_F(Hl7v2Inbound, MalformedMessagesGetANakAndChangeNothing) {
  std::string bad = kOru;
  bad.replace(bad.find("5.4|mmol"), 3, "abc");
  auto out = inbound_->Handle(bad, "test");
  ASSERT_EQ(MsaCode(out.ack), "AE") << *out.ack;
  auto ack = Parse(*out.ack);
  const Segment* err = ack->Find("ERR");
  ASSERT_NE(err, nullptr);
  // v2.3: ERR-1 = OBX^1^5^102&...
  EXPECT_EQ(err->Get(1, 1), "OBX");
  EXPECT_EQ(err->Get(1, 3), "5");
  EXPECT_EQ(err->Get(1, 4, 1), "102");
  EXPECT_EQ(Count(*server_, "Observation"), 0);
  EXPECT_EQ(Count(*server_, "Patient"), 0);
  EXPECT_EQ(Count(*server_, "Binary?_tag=https://benhan.vn/hl7v2/ack|AE"), 1);
  // Sent again: the same NAK, still nothing applied.
  auto again = inbound_->Handle(bad, "test");
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(MsaCode(again.ack), "AE");
  EXPECT_NE(again.ack->find("OBX^1^5"), std::string::npos) << *again.ack;

  auto unknown = inbound_->Handle("MSH|^~\\&|X|Y|||20250101||ZZZ^Z01|Q1|P|2.5\r", "test");
  EXPECT_EQ(MsaCode(unknown.ack), "AR");
  EXPECT_NE(unknown.ack->find("200^Unsupported message type"), std::string::npos) << *unknown.ack;

  auto no_pid = inbound_->Handle("MSH|^~\\&|X|Y|||20250101||ADT^A01|Q2|P|2.5\rPV1|1|I\r", "test");
  EXPECT_EQ(MsaCode(no_pid.ack), "AE");
  EXPECT_NE(no_pid.ack->find("ERR||PID^1|101"), std::string::npos) << *no_pid.ack;

  auto version = inbound_->Handle("MSH|^~\\&|X|Y|||20250101||ADT^A01|Q3|P|3.0\r", "test");
  EXPECT_EQ(MsaCode(version.ack), "AR");

  auto garbage =
      inbound_->Handle("MSH|^~\\&|X|Y|||20250101||ADT^A01|Q4|P|2.5\rPID|1||1||M\xfc\r", "t");
  EXPECT_EQ(MsaCode(garbage.ack), "AE");
  EXPECT_NE(garbage.ack->find("MSH^1^18"), std::string::npos) << *garbage.ack;
  EXPECT_EQ(Count(*server_, "Patient"), 0);
}

// ADT^A40: the surviving Patient (PID) replaces the one MRG-1 names; everything that referred to
// the merged Patient (Encounter, DiagnosticReport, Observations, ServiceRequest) now refers to the
// survivor, in the one transaction of the message (history shows one new version each).
TEST_F(Hl7v2Inbound, AdtA40MergeLinksPatientsAndMovesReferences) {
  ASSERT_EQ(MsaCode(inbound_->Handle(kAdtA01, "test").ack), "AA");  // old: 079090001234
  ASSERT_EQ(MsaCode(inbound_->Handle(kOru, "test").ack), "AA");
  std::string survivor_adt =
      "MSH|^~\\&|HIS|BV01|BENHAN|BV01|20250103120000||ADT^A04^ADT_A01|ADT0100|P|2.5.1\r"
      "EVN|A04|20250103120000\r"
      "PID|1||079090005678^^^BCA^CCCD||Nguyễn^Văn An||19900215|M\r"
      "PV1|1|O|KHAM^1^1||||BS01^Trần^Bình||||||||||||V2025-9\r";
  ASSERT_EQ(MsaCode(inbound_->Handle(survivor_adt, "test").ack), "AA");
  std::string old_id(First(*server_, "Patient?identifier=079090001234").at("id").as_string());
  std::string new_id(First(*server_, "Patient?identifier=079090005678").at("id").as_string());
  ASSERT_NE(old_id, new_id);
  int obs = Count(*server_, "Observation?subject=Patient/" + old_id);
  int reports = Count(*server_, "DiagnosticReport?subject=Patient/" + old_id);
  int orders = Count(*server_, "ServiceRequest?subject=Patient/" + old_id);
  ASSERT_EQ(obs, 7);
  ASSERT_EQ(reports, 1);
  ASSERT_EQ(Count(*server_, "Encounter?subject=Patient/" + old_id), 1);

  std::string a40 =
      "MSH|^~\\&|HIS|BV01|BENHAN|BV01|20250104090000||ADT^A40^ADT_A39|ADT0101|P|2.5.1\r"
      "EVN|A40|20250104090000\r"
      "PID|1||079090005678^^^BCA^CCCD||Nguyễn^Văn An||19900215|M\r"
      "MRG|079090001234^^^BCA^CCCD\r";
  auto out = inbound_->Handle(a40, "test");
  ASSERT_EQ(MsaCode(out.ack), "AA") << *out.ack;

  json::value survivor = server_->Request("GET", "/fhir/Patient/" + new_id).Json();
  ASSERT_TRUE(survivor.is_object());
  EXPECT_EQ(survivor.at("link").at(0).at("type").as_string(), "replaces");
  EXPECT_EQ(survivor.at("link").at(0).at("other").at("reference").as_string(), "Patient/" + old_id);
  json::value merged = server_->Request("GET", "/fhir/Patient/" + old_id).Json();
  EXPECT_EQ(merged.at("link").at(0).at("type").as_string(), "replaced-by");
  EXPECT_EQ(merged.at("link").at(0).at("other").at("reference").as_string(), "Patient/" + new_id);
  EXPECT_FALSE(merged.at("active").as_bool());

  for (const char* type : {"Observation", "DiagnosticReport", "Encounter", "ServiceRequest"})
    EXPECT_EQ(Count(*server_, std::string(type) + "?subject=Patient/" + old_id), 0) << type;
  EXPECT_EQ(Count(*server_, "Observation?subject=Patient/" + new_id), obs);
  EXPECT_EQ(Count(*server_, "DiagnosticReport?subject=Patient/" + new_id), reports);
  EXPECT_EQ(Count(*server_, "ServiceRequest?subject=Patient/" + new_id), orders);
  EXPECT_EQ(Count(*server_, "Encounter?subject=Patient/" + new_id), 2);
  // Moved through the service: each moved resource has a new version (audited like any write).
  json::value report = First(*server_, "DiagnosticReport?subject=Patient/" + new_id);
  EXPECT_EQ(report.at("meta").at("versionId").as_string(), "2");

  // The merge sent again is a duplicate: nothing moves twice.
  auto again = inbound_->Handle(a40, "test");
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(First(*server_, "DiagnosticReport?subject=Patient/" + new_id)
                .at("meta")
                .at("versionId")
                .as_string(),
            "2");

  // MRG-1 naming nobody known: the survivor records the identifier, nothing else changes.
  std::string a40_unknown = a40;
  a40_unknown.replace(a40_unknown.find("ADT0101"), 7, "ADT0102");
  a40_unknown.replace(a40_unknown.find("MRG|079090001234"), 16, "MRG|079090009999");
  ASSERT_EQ(MsaCode(inbound_->Handle(a40_unknown, "test").ack), "AA");
  survivor = server_->Request("GET", "/fhir/Patient/" + new_id).Json();
  EXPECT_EQ(survivor.at("link").at(0).at("other").at("identifier").at("value").as_string(),
            "079090009999");
  EXPECT_FALSE(survivor.at("link").at(0).at("other").as_object().contains("reference"));
}

// A tiny blocking MLLP client.
class MllpClient {
 public:
  explicit MllpClient(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~MllpClient() { close(fd_); }
  bool ok() const { return ok_; }
  void SendRaw(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      bytes.remove_prefix(n);
    }
  }
  // The next ACK ("" on close).
  std::string Receive() {
    while (true) {
      while (!pending_.empty()) {
        MllpDecoder::Event e = std::move(pending_.front());
        pending_.erase(pending_.begin());
        if (!e.is_error) return e.data;
      }
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return "";
      decoder_.Feed(std::string_view(buf, n), &pending_);
    }
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
  MllpDecoder decoder_;
  std::vector<MllpDecoder::Event> pending_;
};

TEST_F(Hl7v2Inbound, MllpListenerPartialReadsFramingErrorsAndManyConnections) {
  MllpServerOptions mo;
  mo.threads = 2;
  mo.idle_timeout_seconds = 1;
  MllpServer mllp(mo, [&](std::string_view m, const std::string& remote) {
    return inbound_->Handle(m, remote).ack;
  });
  auto port = mllp.Start();
  ASSERT_TRUE(port.ok());
  {
    MllpClient c(*port);
    ASSERT_TRUE(c.ok());
    // Junk, then a frame sent in 7-byte pieces, then a second frame in the same write as the end.
    std::string stream = "junk" + MllpFrame(kAdtA01);
    std::string second = MllpFrame(kOru);
    for (size_t i = 0; i < stream.size(); i += 7) c.SendRaw(stream.substr(i, 7));
    c.SendRaw(second);
    EXPECT_EQ(MsaCode(c.Receive()), "AA");
    EXPECT_EQ(MsaCode(c.Receive()), "AA");
  }
  // Eight connections at once, each its own patient.
  std::vector<std::thread> ts;
  std::atomic<int> aa{0};
  for (int i = 0; i < 8; ++i) {
    ts.emplace_back([&, i] {
      MllpClient c(*port);
      for (int k = 0; k < 5; ++k) {
        std::string msg = kOru;
        std::string ctrl = "C" + std::to_string(i) + "-" + std::to_string(k);
        msg.replace(msg.find("LAB0001"), 7, ctrl);
        msg.replace(msg.find("ORD1|FIL1"), 9, "O" + ctrl + "|F" + ctrl);
        msg.replace(msg.find("079090001234"), 12, "0790900012" + std::to_string(10 + i));
        c.SendRaw(MllpFrame(msg));
        if (MsaCode(c.Receive()) == "AA") ++aa;
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(aa.load(), 40);
  EXPECT_EQ(Count(*server_, "DiagnosticReport"), 41);
  // A silent peer is disconnected after the idle timeout.
  MllpClient idle(*port);
  idle.SendRaw("\x0BMSH|half a frame");
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(idle.Receive(), "");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  mllp.Stop();
}

}  // namespace
}  // namespace benhan::interop::hl7v2
