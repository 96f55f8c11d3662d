// HL7 v2 throughput, end to end: ORU^R01 messages with 10 OBX each sent over MLLP on loopback to
// the listener of a real node (SQLite in a temp dir); a message counts when its ACK (AA) is back,
// i.e. when the raw message, the DiagnosticReport and its 10 Observations (and the Patient the
// first time) are committed. 1 and 8 connections, each sending its next message when the ACK
// of the previous one is back. Baseline in the same run: the same messages through
// InboundProcessor::Handle in process (no network), and MLLP ACKs without storing (network only).
//
//   build-hl7/bench/hl7v2_bench [seconds per run, default 10]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "app/node.h"
#include "core/log.h"
#include "interop/hl7v2/inbound.h"
#include "interop/hl7v2/mllp.h"
#include "interop/hl7v2/mllp_server.h"

using namespace benhan;
using namespace benhan::interop::hl7v2;
using Clock = std::chrono::steady_clock;

namespace {

std::string Oru(int conn, long n) {
  std::string id = std::to_string(conn) + "-" + std::to_string(n);
  char pid[16];
  std::snprintf(pid, sizeof pid, "0790900%05ld", (conn * 100000 + n) % 100000);
  std::string m = "MSH|^~\\&|LIS|LAB|BENHAN|BV01|20250102080000||ORU^R01|B" + id + "|P|2.5.1\r" +
                  "PID|1||" + pid + "^^^BCA^CCCD||Nguyễn^Văn An||19900215|M\r" + "OBR|1|P" + id +
                  "|F" + id + "|CBC^Công thức máu^L|||20250102070000|||||||||||||||" +
                  "20250102075500|||F\r";
  const char* codes[] = {"WBC", "RBC", "HGB", "HCT", "MCV", "MCH", "MCHC", "PLT", "NEU", "LYM"};
  for (int i = 0; i < 10; ++i)
    m += "OBX|" + std::to_string(i + 1) + "|NM|" + codes[i] + "^" + codes[i] + "^L||" +
         std::to_string(4 + i) + "." + std::to_string(i) + "|10*9/L|3.5-10.5|N|||F\r";
  return m;
}

int Connect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return -1;
  return fd;
}

// Sends messages for `seconds` on each of `conns` connections; returns ACKed messages/s.
double RunMllp(uint16_t port, int conns, double seconds, int base, long* acked_out, long* bad_out) {
  std::atomic<long> acked{0}, bad{0};
  auto stop_at = Clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> ts;
  auto t0 = Clock::now();
  for (int c = 0; c < conns; ++c) {
    ts.emplace_back([&, c] {
      int fd = Connect(port);
      if (fd < 0) return;
      MllpDecoder dec;
      std::vector<MllpDecoder::Event> ev;
      char buf[8192];
      for (long n = 0; Clock::now() < stop_at; ++n) {
        std::string f = MllpFrame(Oru(base + c, n));
        if (send(fd, f.data(), f.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(f.size())) break;
        ev.clear();
        while (ev.empty()) {
          ssize_t r = recv(fd, buf, sizeof buf, 0);
          if (r <= 0) break;
          dec.Feed(std::string_view(buf, r), &ev);
        }
        if (ev.empty()) break;
        if (ev[0].data.find("MSA|AA|") != std::string::npos)
          ++acked;
        else
          ++bad;
      }
      close(fd);
    });
  }
  for (auto& t : ts) t.join();
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  *acked_out = acked;
  *bad_out = bad;
  return acked / s;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 10;
  log::SetLevel("warn");
  auto dir =
      std::filesystem::temp_directory_path() / ("benhan-hl7bench-" + std::to_string(getpid()));
  Config cfg;
  cfg.data_dir = dir.string();
  auto node = app::Node::Open(cfg);
  if (!node.ok()) {
    std::fprintf(stderr, "%s\n", node.status().ToString().c_str());
    return 1;
  }
  InboundProcessor inbound((*node)->service(), {});
  std::printf(
      "ORU^R01 with 10 OBX (12 resources written per message: Binary, DiagnosticReport, 10 "
      "Observations; Patient on first sight), %.0f s per run\n",
      seconds);

  // Baseline: in process, one thread, no network.
  {
    auto t0 = Clock::now();
    long n = 0, ok = 0;
    while (std::chrono::duration<double>(Clock::now() - t0).count() < seconds / 2) {
      auto out = inbound.Handle(Oru(900, n++), "bench");
      ok += out.code == AckCode::kAccept;
    }
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf(
        "  in process (InboundProcessor::Handle), 1 thread: %8.0f messages/s (%ld AA of %ld)\n",
        ok / s, ok, n);
    // Where the time goes: parsing and mapping alone (no store).
    auto t1 = Clock::now();
    long k = 0;
    while (std::chrono::duration<double>(Clock::now() - t1).count() < 1) {
      auto m = Parse(Oru(901, k++));
      if (m.ok()) (void)MapToFhir(*m);
    }
    double s1 = std::chrono::duration<double>(Clock::now() - t1).count();
    std::printf("  of which parse + map to FHIR (no store), 1 thread: %8.0f messages/s\n", k / s1);
  }
  // Baseline: MLLP only (the ACK without any storage).
  {
    MllpServerOptions mo;
    mo.threads = 2;
    MllpServer echo(mo, [](std::string_view m, const std::string&) -> std::optional<std::string> {
      auto h = SalvageHeader(m);
      AckOptions o;
      o.control_id = "x";
      return BuildAck(h, AckCode::kAccept, {}, o);
    });
    auto port = echo.Start();
    for (int conns : {1, 8}) {
      long acked = 0, bad = 0;
      double r = RunMllp(*port, conns, seconds / 2, 700, &acked, &bad);
      std::printf("  MLLP + ACK, no storage, %d connection(s):        %8.0f messages/s\n", conns,
                  r);
    }
    echo.Stop();
  }
  MllpServerOptions mo;
  mo.threads = 8;
  MllpServer server(mo, [&](std::string_view m, const std::string& remote) {
    return inbound.Handle(m, remote).ack;
  });
  auto port = server.Start();
  if (!port.ok()) return 1;
  int base = 0;
  for (int conns : {1, 8}) {
    long acked = 0, bad = 0;
    double r = RunMllp(*port, conns, seconds, base, &acked, &bad);
    base += 10;
    std::printf(
        "  end to end over MLLP, %d connection(s):          %8.0f messages/s (%ld AA, %ld other)\n",
        conns, r, acked, bad);
  }
  server.Stop();
  node->reset();
  std::filesystem::remove_all(dir);
  return 0;
}
