// Outbound orders (interop/hl7v2/outbound.h): OML^O21 from the Task outbox to a lab system over
// MLLP, with retry when the lab does not answer and the ACK recorded on the Task.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <mutex>

#include "interop/hl7v2/ack.h"
#include "interop/hl7v2/message.h"
#include "interop/hl7v2/mllp_server.h"
#include "interop/hl7v2/outbound.h"
#include "support/test_server.h"

namespace benhan::interop::hl7v2 {
namespace {
namespace json = boost::json;

TEST(Hl7v2Outbound, OmlFromTheOutboxWithRetryAndAckTracking) {
  auto server = testing::TestServer::Start();
  ASSERT_TRUE(server);
  auto& svc = server->node().service();
  service::RequestContext ctx;
  auto p = svc.Create(ctx, "Patient", json::parse(R"({"resourceType":"Patient",
      "identifier":[{"system":"https://benhan.vn/sid/cccd","value":"079090001234"}],
      "name":[{"family":"Nguyễn","given":["Văn","An"]}],"gender":"male","birthDate":"1990-02-15"})"));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  auto sr = svc.Create(ctx, "ServiceRequest",
                       json::parse(R"({"resourceType":"ServiceRequest",
      "status":"active","intent":"order","subject":{"reference":"Patient/)" +
                                   p->record.id + R"("},
      "code":{"coding":[{"system":"http://loinc.org","code":"2345-7","display":"Glucose"}]}})"));
  ASSERT_TRUE(sr.ok()) << sr.status().ToString();

  // The lab: no answer the first time, AA the second, AE for anything after.
  std::atomic<int> calls{0};
  std::mutex mu;
  std::vector<std::string> received;
  MllpServer lis({}, [&](std::string_view m, const std::string&) -> std::optional<std::string> {
    int n = ++calls;
    {
      std::lock_guard<std::mutex> l(mu);
      received.emplace_back(m);
    }
    if (n == 1) return std::nullopt;
    auto in = Parse(m);
    AckOptions o;
    o.control_id = "L" + std::to_string(n);
    if (n == 2) return BuildAck(*in, AckCode::kAccept, {}, o);
    return BuildAck(*in, AckCode::kError, {{"OBR^1^4", "103", "unknown test"}}, o);
  });
  auto port = lis.Start();
  ASSERT_TRUE(port.ok());

  Destination d;
  d.name = "LIS";
  d.facility = "LAB";
  d.host = "127.0.0.1";
  d.port = *port;
  d.ack_timeout = std::chrono::milliseconds(300);
  Outbox outbox(svc, d, "BV01");
  auto task_id = outbox.Enqueue(sr->record.id);
  ASSERT_TRUE(task_id.ok()) << task_id.status().ToString();

  auto task = [&] { return json::parse(svc.Read(ctx, "Task", *task_id)->json); };
  // 1st attempt: no ACK -> still requested, attempt counted.
  auto r1 = outbox.RunOnce();
  ASSERT_TRUE(r1.ok()) << r1.status().ToString();
  EXPECT_EQ(*r1, 0);
  EXPECT_EQ(task().at("status").as_string(), "requested");
  EXPECT_EQ(std::string(task().at("businessStatus").at("text").as_string()).rfind("attempt 1:", 0),
            0u);
  // 2nd: AA -> completed, ACK kept.
  auto r2 = outbox.RunOnce();
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(*r2, 1);
  EXPECT_EQ(task().at("status").as_string(), "completed");
  EXPECT_EQ(task().at("businessStatus").at("text").as_string(), "AA");
  // Nothing left to send.
  EXPECT_EQ(*outbox.RunOnce(), 0);
  EXPECT_EQ(calls.load(), 2);

  // What the lab received: OML^O21 with the patient's personal ID and the LOINC test.
  auto oml = Parse(received.back());
  ASSERT_TRUE(oml.ok()) << received.back();
  EXPECT_EQ(oml->type(), "OML");
  EXPECT_EQ(oml->trigger(), "O21");
  EXPECT_EQ(oml->Find("PID")->Get(3, 1, 1, 0), "079090001234");
  EXPECT_EQ(oml->Find("PID")->Get(3, 5, 1, 0), "CCCD");
  EXPECT_EQ(oml->Find("PID")->Get(5, 1), "Nguyễn");
  EXPECT_EQ(oml->Find("OBR")->Get(4, 1), "2345-7");
  EXPECT_EQ(oml->Find("OBR")->Get(4, 3), "LN");
  EXPECT_EQ(oml->Find("ORC")->Get(1), "NW");

  // A refused order: the Task fails with the lab's reason, visible via FHIR.
  auto t2 = outbox.Enqueue(sr->record.id);
  ASSERT_TRUE(t2.ok());
  EXPECT_EQ(*outbox.RunOnce(), 1);
  auto failed = json::parse(svc.Read(ctx, "Task", *t2)->json);
  EXPECT_EQ(failed.at("status").as_string(), "failed");
  EXPECT_NE(std::string(failed.at("businessStatus").at("text").as_string()).find("unknown test"),
            std::string::npos);
  auto found = server->Request(
      "GET", "/fhir/Task?focus=ServiceRequest/" + sr->record.id + "&_summary=count");
  EXPECT_EQ(found.Json().at("total").as_int64(), 2);
  lis.Stop();
}

}  // namespace
}  // namespace benhan::interop::hl7v2
