// HL7 v2 throughput, end to end: ORU^R01 messages with 10 OBX each sent over MLLP on loopback to
// the listener of a real node (SQLite in a temp dir, synchronous=FULL); a message counts when its
// ACK (AA) is back, i.e. when the raw message, the DiagnosticReport and its 10 Observations are
// validated, indexed, audited and committed. 1 and 8 connections, each sending its next message
// when the ACK of the previous one is back (as LIS do). The results are for 1,000 patients
// registered first (ADT^A04, untimed), as a lab's results are for patients the HIS registered.
// Baselines in the same run: parsing and mapping alone, the same messages through
// InboundProcessor::Handle in process (no network; 1 and 8 threads), and MLLP ACKs without storing.
//
// Every line gives messages/s, the process CPU per message (user + system of every thread,
// clients included: they cost ~0.03 ms) and the bytes the process wrote per message (WAL pages;
// /proc/self/io wchar), so that a change is judged by CPU even when the machine is busy.
//
//   build-hl7/bench/hl7v2_bench [SECONDS per run, default 10] [PHASES, default map,inproc,mllp,e2e]
//   TMPDIR=/dev/shm ...   puts the data dir on tmpfs (no fsync cost: CPU alone)
//   BENCH_GROUP_WAIT_MS=N  InboundOptions::group_wait (default: the inbound default)
//   BENCH_MLLP_THREADS=N   the listener's handler threads in the e2e phase (hl7v2.threads; 8)
//   BENCH_PATIENTS=50 valgrind --tool=callgrind --toggle-collect='*RunCounted*'
//     build-hl7/bench/hl7v2_bench 0 count:200   instructions of 200 messages (after 20 warm-up)
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
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

int kPatients = 1000;  // BENCH_PATIENTS

std::string PatientId(long k) {
  char pid[32];
  std::snprintf(pid, sizeof pid, "0790900%05ld", k % kPatients);
  return pid;
}

std::string Adt(long k) {
  return "MSH|^~\\&|HIS|BV01|BENHAN|BV01|20250102070000||ADT^A04|A" + std::to_string(k) +
         "|P|2.5.1\rEVN|A04|20250102070000\rPID|1||" + PatientId(k) +
         "^^^BCA^CCCD||Nguyễn^Văn An||19900215|M\rPV1|1|O|KHAMBENH^^^BV01\r";
}

std::string Oru(int conn, long n) {
  std::string id = std::to_string(conn) + "-" + std::to_string(n);
  std::string m = "MSH|^~\\&|LIS|LAB|BENHAN|BV01|20250102080000||ORU^R01|B" + id + "|P|2.5.1\r" +
                  "PID|1||" + PatientId(conn * 7919 + n) +
                  "^^^BCA^CCCD||Nguyễn^Văn An||19900215|M\r" + "OBR|1|P" + id + "|F" + id +
                  "|CBC^Công thức máu^L|||20250102070000|||||||||||||||" + "20250102075500|||F\r";
  const char* codes[] = {"WBC", "RBC", "HGB", "HCT", "MCV", "MCH", "MCHC", "PLT", "NEU", "LYM"};
  for (int i = 0; i < 10; ++i)
    m += "OBX|" + std::to_string(i + 1) + "|NM|" + codes[i] + "^" + codes[i] + "^L||" +
         std::to_string(4 + i) + "." + std::to_string(i) + "|10*9/L|3.5-10.5|N|||F\r";
  return m;
}

// Process CPU (user + system, all threads) and bytes written by write(2)/pwrite(2) so far.
struct Usage {
  double cpu_s = 0;
  long long wchar = 0;
  static Usage Now() {
    Usage u;
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    u.cpu_s = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
              ru.ru_stime.tv_usec / 1e6;
    std::ifstream io("/proc/self/io");
    std::string key;
    long long v = 0;
    while (io >> key >> v)
      if (key == "wchar:") u.wchar = v;
    return u;
  }
};

std::string LoadAverage() {
  std::ifstream f("/proc/loadavg");
  double a = 0, b = 0, c = 0;
  f >> a >> b >> c;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f %.2f %.2f", a, b, c);
  return buf;
}

// One result line: rate, CPU ms and written KB per message.
void Report(const char* what, long n, double seconds, const Usage& before, const char* extra = "") {
  Usage after = Usage::Now();
  double per = n > 0 ? 1.0 / n : 0;
  std::printf("  %-52s %8.0f messages/s  %6.3f ms CPU/msg  %6.1f KB written/msg%s\n", what,
              n / seconds, (after.cpu_s - before.cpu_s) * 1000 * per,
              (after.wchar - before.wchar) / 1024.0 * per, extra);
  std::fflush(stdout);
}

// The disk's fdatasync latency in `dir` (p50 and p90 of `n` syncs of a 16 KiB append, as a WAL
// grows): with one connection every message waits for at least one, so 1 / p50 bounds its rate.
std::string FsyncLatency(const std::filesystem::path& dir, int n = 100) {
  std::string path = (dir / "fsync-probe").string();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return "?";
  std::string page(16384, 'x');
  std::vector<double> ms;
  for (int i = 0; i < n; ++i) {
    if (pwrite(fd, page.data(), page.size(), static_cast<off_t>(i) * 16384) < 0) break;
    auto t0 = Clock::now();
    if (fdatasync(fd) != 0) break;
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  ::close(fd);
  ::unlink(path.c_str());
  if (ms.empty()) return "?";
  std::sort(ms.begin(), ms.end());
  char buf[96];
  std::snprintf(buf, sizeof buf, "p50 %.2f ms, p90 %.2f ms", ms[ms.size() / 2],
                ms[ms.size() * 9 / 10]);
  return buf;
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

// Sends messages for `seconds` on each of `conns` connections; returns the elapsed seconds.
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
  *acked_out = acked;
  *bad_out = bad;
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// In process: `threads` threads call Handle for `seconds`; returns the elapsed seconds.
double RunInProcess(InboundProcessor& inbound, int threads, double seconds, int base, long* ok_out,
                    long* n_out) {
  std::atomic<long> ok{0}, all{0};
  auto stop_at = Clock::now() + std::chrono::duration<double>(seconds);
  auto t0 = Clock::now();
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      for (long n = 0; Clock::now() < stop_at; ++n) {
        auto out = inbound.Handle(Oru(base + t, n), "bench");
        ok += out.code == AckCode::kAccept;
        ++all;
      }
    });
  }
  for (auto& t : ts) t.join();
  *ok_out = ok;
  *n_out = all;
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// A fixed number of messages in process on this thread (the "count:N" phase): for instruction
// counts, e.g. valgrind --tool=callgrind --toggle-collect='*RunCounted*' (user space only: the
// kernel's copies of written pages are not counted; see KB written/msg).
__attribute__((noinline)) long RunCounted(InboundProcessor& inbound, int conn, long n) {
  long ok = 0;
  for (long k = 0; k < n; ++k) ok += inbound.Handle(Oru(conn, k), "bench").code == AckCode::kAccept;
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 10;
  std::string phases = argc > 2 ? argv[2] : "map,inproc,mllp,e2e";
  auto want = [&](const char* p) { return phases.find(p) != std::string::npos; };
  if (const char* p = std::getenv("BENCH_PATIENTS")) kPatients = std::max(1, std::atoi(p));
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
  InboundOptions io;
  if (const char* w = std::getenv("BENCH_GROUP_WAIT_MS"))  // hl7v2.group_wait_ms
    io.group_wait = std::chrono::milliseconds(std::atoi(w));
  InboundProcessor inbound((*node)->service(), io);
  std::printf(
      "ORU^R01 with 10 OBX (written per message: the raw message (Binary), DiagnosticReport, 10 "
      "Observations), %.0f s per run, data dir %s, load average %s\n",
      seconds, dir.c_str(), LoadAverage().c_str());
  // The patients, registered by the HIS (untimed).
  for (long k = 0; k < kPatients; ++k) {
    auto out = inbound.Handle(Adt(k), "bench");
    if (out.code != AckCode::kAccept) {
      std::fprintf(stderr, "ADT^A04 %ld refused: %s\n", k, out.ack ? out.ack->c_str() : "");
      return 1;
    }
  }
  int base = 0;
  if (size_t c = phases.find("count:"); c != std::string::npos) {
    long n = std::atol(phases.c_str() + c + 6);
    (void)RunCounted(inbound, 799, 20);  // warm up (statement cache, pages)
    Usage u = Usage::Now();
    auto t0 = Clock::now();
    long ok = RunCounted(inbound, 800, n);
    std::string extra = ok == n ? "" : "  (" + std::to_string(n - ok) + " not AA)";
    Report("counted run in process, 1 thread", ok,
           std::chrono::duration<double>(Clock::now() - t0).count(), u, extra.c_str());
  }
  if (want("map")) {
    // Where the time goes: parsing and mapping alone (no store).
    Usage u = Usage::Now();
    auto t1 = Clock::now();
    long k = 0;
    while (std::chrono::duration<double>(Clock::now() - t1).count() < 1) {
      auto m = Parse(Oru(901, k++));
      if (m.ok()) (void)MapToFhir(*m);
    }
    Report("parse + map to FHIR (no store), 1 thread", k,
           std::chrono::duration<double>(Clock::now() - t1).count(), u);
  }
  if (want("inproc")) {
    for (int threads : {1, 8}) {
      long ok = 0, n = 0;
      Usage u = Usage::Now();
      double s = RunInProcess(inbound, threads, seconds / 2, 900 + base, &ok, &n);
      base += 10;
      std::string what = "in process (InboundProcessor::Handle), " + std::to_string(threads) +
                         " thread" + (threads > 1 ? "s" : "");
      std::string extra = ok == n ? "" : "  (" + std::to_string(n - ok) + " not AA)";
      Report(what.c_str(), ok, s, u, extra.c_str());
    }
  }
  if (want("mllp")) {
    // Baseline: MLLP only (the ACK without any storage).
    MllpServerOptions mo;
    mo.threads = 2;
    MllpServer echo(mo, [](std::string_view m, const std::string&) -> std::optional<std::string> {
      auto h = SalvageHeader(m);
      AckOptions o;
      o.control_id = "x";
      return BuildAck(h, AckCode::kAccept, {}, o);
    });
    auto port = echo.Start();
    if (!port.ok()) return 1;
    for (int conns : {1, 8}) {
      long acked = 0, bad = 0;
      Usage u = Usage::Now();
      double s = RunMllp(*port, conns, seconds / 2, 700, &acked, &bad);
      std::string what = "MLLP + ACK, no storage, " + std::to_string(conns) + " connection(s)";
      Report(what.c_str(), acked, s, u);
    }
    echo.Stop();
  }
  if (want("e2e")) {
    std::printf("fdatasync of a 16 KiB append in the data dir: %s\n", FsyncLatency(dir).c_str());
    MllpServerOptions mo;
    mo.threads = 8;  // hl7v2.threads = 8 (the default): a handler thread per sender
    if (const char* t = std::getenv("BENCH_MLLP_THREADS")) mo.threads = std::max(1, std::atoi(t));
    MllpServer server(mo, [&](std::string_view m, const std::string& remote) {
      return inbound.Handle(m, remote).ack;
    });
    auto port = server.Start();
    if (!port.ok()) return 1;
    for (int conns : {1, 8}) {
      long acked = 0, bad = 0;
      Usage u = Usage::Now();
      double s = RunMllp(*port, conns, seconds, base, &acked, &bad);
      base += 10;
      std::string what = "END TO END over MLLP, " + std::to_string(conns) + " connection(s)";
      std::string extra = bad == 0 ? "" : "  (" + std::to_string(bad) + " not AA)";
      Report(what.c_str(), acked, s, u, extra.c_str());
    }
    server.Stop();
  }
  std::printf("load average at the end: %s\n", LoadAverage().c_str());
  node->reset();
  std::filesystem::remove_all(dir);
  return 0;
}
