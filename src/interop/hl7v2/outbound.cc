#include "interop/hl7v2/outbound.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/json.hpp>
#include <ctime>

#include "core/log.h"
#include "interop/hl7v2/message.h"
#include "interop/hl7v2/mllp.h"
#include "service/search_params.h"

namespace benhan::interop::hl7v2 {
namespace json = boost::json;
namespace asio = boost::asio;
namespace {

constexpr const char* kTaskCode = "https://benhan.vn/hl7v2/task";

std::string S(const json::value* v) {
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}
const json::value* At(const json::value& v, std::initializer_list<const char*> path) {
  const json::value* cur = &v;
  for (const char* p : path) {
    if (!cur) return nullptr;
    if (p[0] == '#') {
      size_t i = std::strtoul(p + 1, nullptr, 10);
      if (!cur->is_array() || cur->as_array().size() <= i) return nullptr;
      cur = &cur->as_array()[i];
    } else {
      if (!cur->is_object()) return nullptr;
      cur = cur->as_object().if_contains(p);
    }
  }
  return cur;
}

std::string Digits(const std::string& fhir_date) {
  std::string out;
  for (char c : fhir_date) {
    if (c == 'T' && out.size() < 8) break;
    if (c >= '0' && c <= '9') out += c;
    if (c == '+' || c == 'Z' || (c == '-' && out.size() >= 12)) break;
  }
  return out.substr(0, 14);
}

std::string Now() {
  std::time_t t = std::time(nullptr) + 7 * 3600;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S+0700", &tm);
  return buf;
}

}  // namespace

namespace {

// MLLP over TLS: connect, handshake (peer verified for `host`), send, read until one ACK frame,
// all within `timeout`, on a private io_context.
Result<std::string> MllpSendTls(const std::string& host, uint16_t port, const std::string& message,
                                std::chrono::milliseconds timeout, asio::ssl::context& tls) {
  asio::io_context ioc;
  asio::ssl::stream<asio::ip::tcp::socket> stream(ioc, tls);
  SSL* ssl = stream.native_handle();
  SSL_set_tlsext_host_name(ssl, host.c_str());
  SSL_set1_host(ssl, host.c_str());
  Status result(Code::kTimeout, "no ACK within " + std::to_string(timeout.count()) + " ms");
  std::string ack;
  std::string frame = MllpFrame(message);
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        asio::ip::tcp::resolver resolver(ioc);
        auto [rec, eps] = co_await resolver.async_resolve(host, std::to_string(port),
                                                          asio::as_tuple(asio::use_awaitable));
        if (rec) {
          result = Status(Code::kUnavailable, "cannot resolve " + host);
          co_return;
        }
        auto [cec, ep] = co_await asio::async_connect(stream.lowest_layer(), eps,
                                                      asio::as_tuple(asio::use_awaitable));
        if (cec) {
          result =
              Status(Code::kUnavailable, "cannot connect to " + host + ":" + std::to_string(port));
          co_return;
        }
        auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::client,
                                                     asio::as_tuple(asio::use_awaitable));
        if (hec) {
          long v = SSL_get_verify_result(ssl);
          result = Status(Code::kUnavailable,
                          "TLS handshake with " + host + ":" + std::to_string(port) +
                              " failed: " + hec.message() +
                              (v != X509_V_OK ? std::string(" (certificate: ") +
                                                    X509_verify_cert_error_string(v) + ")"
                                              : std::string()));
          co_return;
        }
        auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(frame),
                                                    asio::as_tuple(asio::use_awaitable));
        (void)wn;
        if (wec) {
          result = Status(Code::kUnavailable, "connection lost while sending");
          co_return;
        }
        MllpDecoder dec;
        std::vector<MllpDecoder::Event> ev;
        char buf[8192];
        for (;;) {
          auto [ec, n] = co_await stream.async_read_some(asio::buffer(buf),
                                                         asio::as_tuple(asio::use_awaitable));
          if (ec) {
            result = Status(Code::kUnavailable, "connection closed before the ACK");
            co_return;
          }
          ev.clear();
          dec.Feed(std::string_view(buf, n), &ev);
          for (auto& e : ev) {
            if (!e.is_error) {
              ack = std::move(e.data);
              result = Status::Ok();
              auto [sec] = co_await stream.async_shutdown(asio::as_tuple(asio::use_awaitable));
              (void)sec;
              co_return;
            }
          }
        }
      },
      asio::detached);
  ioc.run_for(timeout);
  if (!ioc.stopped()) {  // timed out: cancel and let the coroutine finish before returning
    boost::system::error_code ignored;
    stream.lowest_layer().close(ignored);
    ioc.run();
    return Status(Code::kTimeout, "no ACK within " + std::to_string(timeout.count()) + " ms");
  }
  if (!result.ok()) return result;
  return ack;
}

}  // namespace

Result<std::string> MllpSend(const std::string& host, uint16_t port, const std::string& message,
                             std::chrono::milliseconds timeout,
                             const std::shared_ptr<asio::ssl::context>& tls) {
  if (tls) return MllpSendTls(host, port, message, timeout, *tls);
  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || !res)
    return Status(Code::kUnavailable, "cannot resolve " + host);
  int fd = socket(res->ai_family, SOCK_STREAM, 0);
  bool connected = fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0;
  freeaddrinfo(res);
  if (!connected) {
    if (fd >= 0) close(fd);
    return Status(Code::kUnavailable, "cannot connect to " + host + ":" + std::to_string(port));
  }
  std::string frame = MllpFrame(message);
  std::string_view rest = frame;
  while (!rest.empty()) {
    ssize_t n = send(fd, rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      close(fd);
      return Status(Code::kUnavailable, "connection lost while sending");
    }
    rest.remove_prefix(n);
  }
  MllpDecoder dec;
  std::vector<MllpDecoder::Event> ev;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[8192];
  while (true) {
    for (auto& e : ev)
      if (!e.is_error) {
        close(fd);
        return std::move(e.data);
      }
    ev.clear();
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      close(fd);
      return Status(Code::kTimeout, "no ACK within " + std::to_string(timeout.count()) + " ms");
    }
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      close(fd);
      return Status(Code::kUnavailable, "connection closed before the ACK");
    }
    dec.Feed(std::string_view(buf, n), &ev);
  }
}

Outbox::Outbox(service::ResourceService& service, Destination dest, std::string sending_facility)
    : service_(service), dest_(std::move(dest)), facility_(std::move(sending_facility)) {}

Result<std::string> Outbox::Enqueue(const std::string& service_request_id) {
  service::RequestContext ctx;
  ctx.principal = "hl7v2-outbox";
  ASSIGN_OR_RETURN(auto sr_rec, service_.Read(ctx, "ServiceRequest", service_request_id));
  json::value sr = json::parse(sr_rec.json);
  std::string subject = S(At(sr, {"subject", "reference"}));
  if (subject.rfind("Patient/", 0) != 0)
    return Status(Code::kProcessing, "the ServiceRequest has no Patient subject",
                  "ServiceRequest.subject");
  ASSIGN_OR_RETURN(auto pat_rec, service_.Read(ctx, "Patient", subject.substr(8)));
  json::value pat = json::parse(pat_rec.json);

  Message m;
  Segment msh;
  msh.id = "MSH";
  msh.fields.resize(3);
  msh.fields[1] = Field{Repetition{Component{"|"}}};
  msh.fields[2] = Field{Repetition{Component{"^~\\&"}}};
  msh.Set(3, "BENHAN");
  msh.Set(4, facility_);
  msh.Set(5, dest_.name);
  msh.Set(6, dest_.facility);
  msh.Set(7, Now());
  msh.Set(9, dest_.orm ? "ORM" : "OML");
  msh.Set(9, dest_.orm ? "O01" : "O21", 2);
  msh.Set(9, dest_.orm ? "ORM_O01" : "OML_O21", 3);
  std::string control =
      "SR" + service_request_id.substr(0, 16) + "-" + std::to_string(sr_rec.version);
  msh.Set(10, control);
  msh.Set(11, "P");
  msh.Set(12, "2.5.1");
  msh.Set(18, "UNICODE UTF-8");
  m.segments.push_back(std::move(msh));

  Segment pid;
  pid.id = "PID";
  pid.Set(1, "1");
  size_t rep = 0;
  if (const json::value* ids = At(pat, {"identifier"}); ids && ids->is_array()) {
    for (const auto& id : ids->as_array()) {
      std::string sys = S(At(id, {"system"}));
      pid.Set(3, S(At(id, {"value"})), 1, 1, rep);
      pid.Set(3,
              sys == "https://benhan.vn/sid/cccd"   ? "BCA"
              : sys == "https://benhan.vn/sid/bhyt" ? "BHXH"
                                                    : sys,
              4, 1, rep);
      pid.Set(3,
              sys == "https://benhan.vn/sid/cccd"   ? "CCCD"
              : sys == "https://benhan.vn/sid/bhyt" ? "BHYT"
                                                    : "MR",
              5, 1, rep);
      ++rep;
    }
  }
  pid.Set(3, "benhan-" + S(At(pat, {"id"})), 1, 1, rep);
  pid.Set(3, "BENHAN", 4, 1, rep);
  pid.Set(3, "PI", 5, 1, rep);
  pid.Set(5, S(At(pat, {"name", "#0", "family"})), 1);
  std::string given;
  if (const json::value* g = At(pat, {"name", "#0", "given"}); g && g->is_array())
    for (const auto& x : g->as_array())
      given += (given.empty() ? "" : " ") + std::string(x.as_string());
  pid.Set(5, given, 2);
  pid.Set(7, Digits(S(At(pat, {"birthDate"}))));
  std::string gender = S(At(pat, {"gender"}));
  pid.Set(8, gender == "male" ? "M" : gender == "female" ? "F" : gender == "other" ? "O" : "U");
  m.segments.push_back(std::move(pid));

  std::string placer = service_request_id;
  if (const json::value* ids = At(sr, {"identifier"}); ids && ids->is_array())
    for (const auto& id : ids->as_array())
      if (S(At(id, {"type", "coding", "#0", "code"})) == "PLAC") placer = S(At(id, {"value"}));
  std::string status = S(At(sr, {"status"}));
  Segment orc;
  orc.id = "ORC";
  orc.Set(1, status == "revoked" ? "CA" : "NW");
  orc.Set(2, placer);
  orc.Set(2, "BENHAN", 2);
  orc.Set(9, Digits(S(At(sr, {"authoredOn"}))));
  orc.Set(12, S(At(sr, {"requester", "display"})), 2);
  m.segments.push_back(std::move(orc));
  Segment obr;
  obr.id = "OBR";
  obr.Set(1, "1");
  obr.Set(2, placer);
  obr.Set(2, "BENHAN", 2);
  obr.Set(4, S(At(sr, {"code", "coding", "#0", "code"})), 1);
  obr.Set(4, S(At(sr, {"code", "coding", "#0", "display"})), 2);
  std::string system = S(At(sr, {"code", "coding", "#0", "system"}));
  obr.Set(4, system == "http://loinc.org" ? "LN" : "L", 3);
  m.segments.push_back(std::move(obr));

  json::object task{
      {"resourceType", "Task"},
      {"status", "requested"},
      {"intent", "order"},
      {"code", {{"coding", json::array{{{"system", kTaskCode}, {"code", "send"}}}}}},
      {"focus", {{"reference", "ServiceRequest/" + service_request_id}}},
      {"for", {{"reference", subject}}},
      {"authoredOn", S(At(sr, {"meta", "lastUpdated"}))},
      {"owner", {{"display", dest_.name}}},
      {"input", json::array{{{"type", {{"text", "HL7 v2 message"}}}, {"valueString", Encode(m)}}}}};
  if (json::value& a = task["authoredOn"]; a.as_string().empty()) task.erase("authoredOn");
  ASSIGN_OR_RETURN(auto w, service_.Create(ctx, "Task", std::move(task)));
  return w.record.id;
}

Result<int> Outbox::RunOnce() {
  service::RequestContext ctx;
  ctx.principal = "hl7v2-outbox";
  service::Params q{
      {"status", "requested"}, {"code", std::string(kTaskCode) + "|send"}, {"_count", "100"}};
  ASSIGN_OR_RETURN(auto ps, service::ParseSearch("Task", q, service_.defs(), true, 100, 100));
  ASSIGN_OR_RETURN(auto found, service_.Search(ctx, "Task", ps));
  int acked = 0;
  for (const auto& rec : found.matches) {
    json::value task = json::parse(rec.json);
    if (S(At(task, {"owner", "display"})) != dest_.name) continue;
    std::string msg = S(At(task, {"input", "#0", "valueString"}));
    auto ack = MllpSend(dest_.host, dest_.port, msg, dest_.ack_timeout, dest_.tls);
    json::object& t = task.as_object();
    if (!ack.ok()) {
      int attempts = 1;
      std::string prior = S(At(task, {"businessStatus", "text"}));
      if (prior.rfind("attempt ", 0) == 0) attempts = std::atoi(prior.c_str() + 8) + 1;
      t["businessStatus"] = {
          {"text", "attempt " + std::to_string(attempts) + ": " + ack.status().message()}};
    } else {
      ++acked;
      auto parsed = Parse(*ack);
      std::string code = parsed.ok() && parsed->Find("MSA") ? parsed->Find("MSA")->Get(1) : "";
      std::string text = code;
      if (parsed.ok())
        if (const Segment* err = parsed->Find("ERR"))
          text += ": " + (err->Get(8).empty() ? err->Get(1, 4, 2) : err->Get(8));
      t["status"] = code == "AA" || code == "CA" ? "completed" : "failed";
      t["businessStatus"] = {{"text", text.empty() ? "unreadable ACK" : text}};
      t["output"] = json::array{{{"type", {{"text", "ACK"}}}, {"valueString", *ack}}};
    }
    service::WriteOptions wo;
    wo.if_match = rec.version;
    auto w = service_.Update(ctx, "Task", rec.id, std::move(task), wo);
    if (!w.ok()) return w.status();
  }
  return acked;
}

OutboxWorker::OutboxWorker(service::ResourceService& service, Destination dest,
                           std::string facility, std::chrono::milliseconds period)
    : service_(service),
      outbox_(service, dest, std::move(facility)),
      dest_name_(dest.name),
      period_(period) {}

OutboxWorker::~OutboxWorker() { Stop(); }

void OutboxWorker::Start() {
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> l(mu_);
    while (!stop_) {
      l.unlock();
      auto r = Poll();
      if (!r.ok()) log::Warn("hl7v2 outbox: " + r.status().ToString());
      l.lock();
      cv_.wait_for(l, period_, [this] { return stop_; });
    }
  });
}

void OutboxWorker::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Result<int> OutboxWorker::Poll() {
  service::RequestContext ctx;
  ctx.principal = "hl7v2-outbox";
  service::Params q{{"status", "active"}, {"_sort", "_lastUpdated"}, {"_count", "100"}};
  if (!since_.empty()) q.emplace_back("_lastUpdated", "ge" + since_);
  ASSIGN_OR_RETURN(auto ps,
                   service::ParseSearch("ServiceRequest", q, service_.defs(), false, 100, 100));
  ASSIGN_OR_RETURN(auto found, service_.Search(ctx, "ServiceRequest", ps));
  int enqueued = 0;
  for (const auto& rec : found.matches) {
    json::value sr = json::parse(rec.json);
    std::string updated = S(At(sr, {"meta", "lastUpdated"}));
    if (updated > since_) since_ = updated;
    // Orders that came in over HL7 v2 are not sent back out.
    bool from_hl7 = false;
    if (const json::value* ids = At(sr, {"identifier"}); ids && ids->is_array())
      for (const auto& id : ids->as_array())
        if (S(At(id, {"system"})).rfind("https://benhan.vn/hl7v2/", 0) == 0) from_hl7 = true;
    if (from_hl7) continue;
    service::Params tq{{"focus", "ServiceRequest/" + rec.id},
                       {"code", std::string(kTaskCode) + "|send"},
                       {"_count", "1"}};
    ASSIGN_OR_RETURN(auto tps, service::ParseSearch("Task", tq, service_.defs(), false, 1, 1));
    ASSIGN_OR_RETURN(auto tasks, service_.Search(ctx, "Task", tps));
    if (!tasks.matches.empty()) continue;
    auto t = outbox_.Enqueue(rec.id);
    if (!t.ok()) {
      log::Warn("hl7v2 outbox: ServiceRequest/" + rec.id + ": " + t.status().ToString());
      continue;
    }
    ++enqueued;
  }
  auto sent = outbox_.RunOnce();
  if (!sent.ok()) return sent.status();
  return enqueued;
}

bool ParseDestination(const std::string& spec, Destination* out) {
  size_t at = spec.find('@');
  if (at == std::string::npos || at == 0) return false;
  out->name = spec.substr(0, at);
  std::string host;
  uint16_t port = 0;
  size_t colon = spec.rfind(':');
  if (colon == std::string::npos || colon < at) return false;
  host = spec.substr(at + 1, colon - at - 1);
  for (size_t i = colon + 1; i < spec.size(); ++i) {
    if (spec[i] < '0' || spec[i] > '9') return false;
    port = static_cast<uint16_t>(port * 10 + (spec[i] - '0'));
  }
  if (host.empty() || port == 0) return false;
  out->host = host;
  out->port = port;
  return true;
}

}  // namespace benhan::interop::hl7v2
