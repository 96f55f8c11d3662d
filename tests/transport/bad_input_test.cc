// Bad input over HTTP (issue 9, "What it must show"), on SQLite and PostgreSQL: SQL-injection
// strings in every search parameter type (bad_input/injections.txt x bad_input/search_params.txt),
// path traversal (bad_input/paths.txt), malformed request lines, oversized and too many headers,
// slow and silent clients, request rate limits. Each must be refused (4xx OperationOutcome) or,
// for a search whose value is merely text, match nothing; no answer may leak a database error or a
// file; the database is unchanged afterwards and the server keeps serving. Also: the security
// headers are on every kind of response.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "support/pg_cluster.h"
#include "support/test_server.h"

namespace benhan::testing {
namespace {

namespace json = boost::json;
const std::string kDir = std::string(BENHAN_SOURCE_DIR) + "/tests/transport/bad_input/";

std::vector<std::string> Lines(const std::string& file) {
  std::ifstream in(kDir + file);
  EXPECT_TRUE(in) << kDir + file;
  std::vector<std::string> out;
  std::string l;
  while (std::getline(in, l)) {
    if (l.empty() || l[0] == '#') continue;
    out.push_back(l);
  }
  return out;
}

std::string UrlEncode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// Words that would mean a database error or internal detail reached the client (a word the
// request itself carried may come back in the Bundle's self link).
void ExpectNothingLeaked(const Response& r, const std::string& what, const std::string& sent = {}) {
  for (const char* word : {"SQLITE", "sqlite3", "syntax error", "ERROR:  ", "pg_catalog", "libpq",
                           "resource_version", "idx_string", "root:x:0", "unrecognized token"}) {
    if (sent.find(word) != std::string::npos) continue;
    EXPECT_EQ(r.body.find(word), std::string::npos)
        << what << " leaked '" << word << "': " << r.body.substr(0, 400);
  }
}

bool IsOperationOutcome(const Response& r) {
  json::value v = r.Json();
  return v.is_object() && v.as_object().contains("resourceType") &&
         v.at("resourceType") == "OperationOutcome";
}

// The state of the store that no refused request may change.
std::string Fingerprint(TestServer& s) {
  std::string out;
  for (const char* type : {"Patient", "Observation", "RiskAssessment", "ValueSet"}) {
    json::value v = s.Request("GET", std::string("/fhir/") + type + "?_summary=count").Json();
    out += std::string(type) + "=" + (v.is_object() ? json::serialize(v.at("total")) : "?") + ";";
  }
  json::value h = s.Request("GET", "/fhir/_history?_count=1").Json();
  if (h.is_object() && h.as_object().contains("entry") && !h.at("entry").as_array().empty()) {
    const auto& e = h.at("entry").as_array()[0];
    out += json::serialize(e.at("response"));
  }
  return out;
}

// A raw TCP client for requests the normal client cannot send.
class Raw {
 public:
  explicit Raw(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Raw() { close(fd_); }
  bool ok() const { return ok_; }
  bool Send(std::string_view b) {
    while (!b.empty()) {
      ssize_t n = send(fd_, b.data(), b.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      b.remove_prefix(n);
    }
    return true;
  }
  // Everything until the server closes (or `timeout_ms` passes: then *closed is false).
  std::string ReadAll(int timeout_ms, bool* closed = nullptr) {
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      deadline - std::chrono::steady_clock::now())
                                      .count());
      pollfd p{fd_, POLLIN, 0};
      if (left <= 0 || poll(&p, 1, left) <= 0) {
        if (closed) *closed = false;
        return out;
      }
      char buf[8192];
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        if (closed) *closed = true;
        return out;
      }
      out.append(buf, n);
    }
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
};

int StatusOf(const std::string& raw) {
  if (raw.rfind("HTTP/1.1 ", 0) != 0) return 0;
  return std::atoi(raw.c_str() + 9);
}

class BadInput : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgresql") {
      std::string why;
      if (TestPostgres(&why).empty()) GTEST_SKIP() << "PostgreSQL is not available: " << why;
    }
  }
  std::unique_ptr<TestServer> Start(std::map<std::string, std::string> config = {}) {
    ServerOptions so;
    so.config = std::move(config);
    so.config["storage"] = GetParam();
    auto s = TestServer::Start(so);
    EXPECT_TRUE(s);
    return s;
  }
  // A small population: every injection must leave it exactly as it is.
  void Seed(TestServer& s) {
    auto put = [&](const std::string& path, const std::string& body) {
      auto r = s.Request("PUT", path, body, {{"Content-Type", "application/fhir+json"}});
      ASSERT_TRUE(r.status == 201 || r.status == 200) << path << ": " << r.body;
    };
    put("/fhir/Patient/bn-1",
        R"({"resourceType":"Patient","id":"bn-1","identifier":[{"system":"https://benhan.vn/sid/cccd","value":"001185000111"}],"name":[{"family":"Trần","given":["Thị","Lan"]}],"gender":"female","birthDate":"1985-03-02","address":[{"city":"Huế"}]})");
    put("/fhir/Observation/ob-1",
        R"({"resourceType":"Observation","id":"ob-1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}],"text":"Cân nặng"},"subject":{"reference":"Patient/bn-1"},"effectiveDateTime":"2025-01-02","valueQuantity":{"value":5.4,"unit":"mmol/L","system":"http://unitsofmeasure.org","code":"mmol/L"}})");
    put("/fhir/RiskAssessment/ra-1",
        R"({"resourceType":"RiskAssessment","id":"ra-1","status":"final","subject":{"reference":"Patient/bn-1"},"prediction":[{"probabilityDecimal":0.2}]})");
    put("/fhir/ValueSet/vs-1",
        R"({"resourceType":"ValueSet","id":"vs-1","url":"https://benhan.vn/fhir/ValueSet/vs-1","status":"active"})");
  }
};

TEST_P(BadInput, SqlInjectionInEverySearchParameterTypeChangesAndLeaksNothing) {
  auto s = Start();
  ASSERT_TRUE(s);
  Seed(*s);
  std::string before = Fingerprint(*s);
  auto injections = Lines("injections.txt");
  auto params = Lines("search_params.txt");
  ASSERT_GE(injections.size(), 20u);
  ASSERT_GE(params.size(), 25u);
  int refused = 0, empty = 0;
  for (const auto& line : params) {
    size_t tab = line.find('\t');
    ASSERT_NE(tab, std::string::npos) << line;
    std::string type = line.substr(0, tab), query = line.substr(tab + 1);
    for (const auto& inj : injections) {
      std::string q = query;
      q.replace(q.find("{}"), 2, UrlEncode(inj));
      std::string path = "/fhir/" + type + "?" + q;
      auto t0 = std::chrono::steady_clock::now();
      Response r = s->Request("GET", path);
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::string what = path + " (" + inj + ")";
      EXPECT_LT(secs, 3.0) << what << " took " << secs << " s (pg_sleep ran?)";
      ExpectNothingLeaked(r, what, inj);
      if (r.status == 200) {
        // Text that merely matches nothing: an empty searchset (never the seeded rows).
        json::value v = r.Json();
        ASSERT_TRUE(v.is_object()) << what;
        const auto* entries = v.as_object().if_contains("entry");
        int matches = 0;
        if (entries)
          for (const auto& e : entries->as_array())
            if (e.at("search").at("mode") == "match") ++matches;
        // _sort/_elements/_summary/_count/_include values that are ignored or harmless return
        // the normal result of Type? without them: at most the seeded resource of that type.
        // An unknown parameter name is ignored (lenient handling, FHIR R4 3.1.1.5.1).
        bool modifier_param =
            query.rfind("{}", 0) == 0 ||
            (query[0] == '_' && query.find("_id=") != 0 && query.find("_lastUpdated=") != 0 &&
             query.find("_content=") != 0 && query.find("_tag=") != 0 &&
             query.find("_profile=") != 0 && query.find("_has:") != 0);
        if (modifier_param) {
          EXPECT_LE(matches, 1) << what << ": " << r.body.substr(0, 300);
        } else {
          EXPECT_EQ(matches, 0) << what << " matched: " << r.body.substr(0, 300);
        }
        ++empty;
      } else {
        EXPECT_GE(r.status, 400) << what;
        EXPECT_LT(r.status, 500) << what << ": " << r.body.substr(0, 300);
        EXPECT_TRUE(IsOperationOutcome(r)) << what << ": " << r.body.substr(0, 300);
        ++refused;
      }
    }
  }
  std::printf("[ INFO     ] %s: %zu requests: %d refused (4xx), %d matched nothing\n",
              GetParam().c_str(), params.size() * injections.size(), refused, empty);
  EXPECT_EQ(Fingerprint(*s), before) << "the database changed";
  EXPECT_EQ(s->Request("GET", "/fhir/Patient/bn-1").status, 200);
}

TEST_P(BadInput, PathTraversalIsRefused) {
  auto s = Start();
  ASSERT_TRUE(s);
  Seed(*s);
  std::string before = Fingerprint(*s);
  std::string token = s->token();
  for (const auto& path : Lines("paths.txt")) {
    Raw c(s->port());
    ASSERT_TRUE(c.ok());
    c.Send("GET " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
           "\r\nConnection: close\r\n\r\n");
    std::string raw = c.ReadAll(5000);
    int st = StatusOf(raw);
    EXPECT_GE(st, 400) << path << ": " << raw.substr(0, 300);
    EXPECT_LT(st, 500) << path << ": " << raw.substr(0, 300);
    EXPECT_NE(raw.find("OperationOutcome"), std::string::npos) << path;
    EXPECT_EQ(raw.find("root:x:0"), std::string::npos) << path;
    EXPECT_EQ(raw.find(token), std::string::npos) << path << " leaked the token";
    EXPECT_EQ(raw.find("SQLite format"), std::string::npos) << path;
  }
  EXPECT_EQ(Fingerprint(*s), before);
  EXPECT_EQ(s->Request("GET", "/fhir/Patient/bn-1").status, 200);
}

INSTANTIATE_TEST_SUITE_P(Backends, BadInput, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

// Protocol-level bad input does not depend on the backend: SQLite only.
class Protocol : public ::testing::Test {};

TEST(Protocol, MalformedRequestsOversizedAndTooManyHeadersAreRefused) {
  ServerOptions so;
  so.config["http.max_header_bytes"] = "8192";
  so.config["http.max_headers"] = "50";
  auto s = TestServer::Start(so);
  ASSERT_TRUE(s);
  struct Bad {
    std::string name;
    std::string bytes;
    int status;
  };
  std::string big(10000, 'a');
  std::string many;
  for (int i = 0; i < 60; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  std::vector<Bad> cases = {
      {"garbage request line", "GARBAGE\r\n\r\n", 400},
      {"method only", "GET\r\n\r\n", 400},
      {"bad version", "GET /fhir/metadata HTTP/9.9\r\nHost: x\r\n\r\n", 400},
      {"header without colon", "GET /fhir/metadata HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400},
      {"control character in target", std::string("GET /fhir/\x01 HTTP/1.1\r\nHost: x\r\n\r\n"),
       400},
      {"encoded NUL in the path",
       "GET /fhir/Patient/abc%00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400},
      {"two Content-Length",
       "POST /fhir/Patient HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
       "Content-Length: 5\r\n\r\n{}",
       400},
      {"bad chunk",
       "POST /fhir/Patient HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
       "zz\r\n",
       400},
      {"oversized request line", "GET /fhir/Patient?name=" + big + " HTTP/1.1\r\nHost: x\r\n\r\n",
       431},
      {"oversized header", "GET /fhir/metadata HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n",
       431},
      {"too many headers", "GET /fhir/metadata HTTP/1.1\r\nHost: x\r\n" + many + "\r\n", 431},
  };
  for (const auto& c : cases) {
    Raw r(s->port());
    ASSERT_TRUE(r.ok());
    r.Send(c.bytes);
    bool closed = false;
    std::string raw = r.ReadAll(5000, &closed);
    EXPECT_EQ(StatusOf(raw), c.status) << c.name << ": " << raw.substr(0, 300);
    EXPECT_NE(raw.find("OperationOutcome"), std::string::npos) << c.name;
    EXPECT_NE(raw.find("X-Content-Type-Options: nosniff"), std::string::npos) << c.name;
    EXPECT_TRUE(closed) << c.name << ": the connection stays open after a protocol error";
    if (c.status == 431) {
      // Vietnamese first, then English.
      EXPECT_TRUE(raw.find("vượt giới hạn") != std::string::npos ||
                  raw.find("quá nhiều trường tiêu đề") != std::string::npos)
          << raw;
      EXPECT_NE(raw.find("too-costly"), std::string::npos) << raw;
    }
  }
  EXPECT_EQ(s->Request("GET", "/fhir/metadata").status, 200) << "the server stopped serving";
}

TEST(Protocol, SlowAndSilentClientsAreDisconnectedWhileOthersAreServed) {
  ServerOptions so;
  so.config["http.header_timeout_seconds"] = "1";
  so.config["http.idle_timeout_seconds"] = "2";
  auto s = TestServer::Start(so);
  ASSERT_TRUE(s);
  // Slowloris: the request line, then a header byte every 300 ms, never the blank line.
  Raw slow(s->port());
  ASSERT_TRUE(slow.ok());
  auto t0 = std::chrono::steady_clock::now();
  slow.Send("GET /fhir/metadata HTTP/1.1\r\n");
  bool dropped = false;
  for (int i = 0; i < 40 && !dropped; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    if (!slow.Send("X")) dropped = true;
    bool closed = false;
    slow.ReadAll(1, &closed);
    if (closed) dropped = true;
    // Others are served meanwhile.
    if (i == 1) {
      EXPECT_EQ(s->Request("GET", "/fhir/metadata").status, 200);
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(dropped) << "a client trickling its headers was never disconnected";
  EXPECT_LT(secs, 4.0) << "header timeout 1 s, disconnected after " << secs << " s";
  // Silent: connects and sends nothing; closed after the idle timeout, without an answer.
  Raw silent(s->port());
  ASSERT_TRUE(silent.ok());
  bool closed = false;
  t0 = std::chrono::steady_clock::now();
  std::string got = silent.ReadAll(6000, &closed);
  secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(closed);
  EXPECT_TRUE(got.empty()) << got;
  EXPECT_GE(secs, 1.5);
  EXPECT_LT(secs, 5.0);
  EXPECT_EQ(s->Request("GET", "/fhir/metadata").status, 200);
}

TEST(Protocol, RateLimitsPerTokenAndPerAddressAnswer429WithRetryAfter) {
  ServerOptions so;
  so.config["http.rate_limit.loopback"] = "true";
  so.config["http.rate_limit.token_per_second"] = "0.5";
  so.config["http.rate_limit.token_burst"] = "3";
  so.config["http.rate_limit.ip_per_second"] = "0.5";
  so.config["http.rate_limit.ip_burst"] = "6";
  auto s = TestServer::Start(so);
  ASSERT_TRUE(s);
  // The token's bucket: 3 requests, then 429.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(s->Request("GET", "/fhir/Patient").status, 200) << i;
  Response r = s->Request("GET", "/fhir/Patient");
  ASSERT_EQ(r.status, 429) << r.body;
  EXPECT_GE(std::atoi(r.headers["retry-after"].c_str()), 1);
  json::value oo = r.Json();
  ASSERT_TRUE(IsOperationOutcome(r));
  EXPECT_EQ(oo.at("issue").at(0).at("code"), "throttled");
  std::string diag(oo.at("issue").at(0).at("diagnostics").as_string());
  EXPECT_LT(diag.find("quá nhiều yêu cầu"), diag.find("too many requests")) << diag;
  EXPECT_EQ(r.headers["x-content-type-options"], "nosniff");
  // Another token (here: none, /metadata) still has the address's bucket: 6 - 4 = 2 left.
  EXPECT_EQ(s->Request("GET", "/fhir/metadata", {}, {}, false).status, 200);
  EXPECT_EQ(s->Request("GET", "/fhir/metadata", {}, {}, false).status, 200);
  Response ip = s->Request("GET", "/fhir/metadata", {}, {}, false);
  EXPECT_EQ(ip.status, 429);
  EXPECT_FALSE(ip.headers["retry-after"].empty());
  // Buckets refill: after 2 s the address has a token again (0.5/s).
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  EXPECT_EQ(s->Request("GET", "/fhir/metadata", {}, {}, false).status, 200);
}

TEST(Protocol, LoopbackIsExemptFromRateLimitsByDefault) {
  ServerOptions so;
  so.config["http.rate_limit.token_per_second"] = "0.1";
  so.config["http.rate_limit.token_burst"] = "1";
  auto s = TestServer::Start(so);
  ASSERT_TRUE(s);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(s->Request("GET", "/fhir/Patient").status, 200);
}

TEST(Protocol, SecurityHeadersOnEveryResponse) {
  ServerOptions so;
  so.config["http.max_body_bytes"] = "2048";
  auto s = TestServer::Start(so);
  ASSERT_TRUE(s);
  struct Req {
    std::string method, path, body;
    bool auth;
    int status;
  };
  std::vector<Req> reqs = {
      {"GET", "/fhir/metadata", "", false, 200},
      {"GET", "/fhir/Patient", "", true, 200},
      {"GET", "/fhir/Patient/none", "", true, 404},
      {"GET", "/fhir/Patient", "", false, 401},
      {"POST", "/fhir/Patient", "{", true, 400},
      {"POST", "/fhir/Patient", std::string(4096, ' '), true, 413},
  };
  for (const auto& q : reqs) {
    Response r =
        s->Request(q.method, q.path, q.body, {{"Content-Type", "application/fhir+json"}}, q.auth);
    std::string what = q.method + " " + q.path;
    EXPECT_EQ(r.status, q.status) << what;
    EXPECT_EQ(r.headers["x-content-type-options"], "nosniff") << what;
    EXPECT_EQ(r.headers["x-frame-options"], "DENY") << what;
    EXPECT_NE(r.headers["content-security-policy"].find("frame-ancestors 'none'"),
              std::string::npos)
        << what;
    EXPECT_EQ(r.headers["referrer-policy"], "no-referrer") << what;
    EXPECT_EQ(r.headers["cache-control"], "no-store") << what;
    EXPECT_EQ(r.headers.count("strict-transport-security"), 0u) << what << ": HSTS without TLS";
  }
}

// Browser apps on another origin (SMART apps): a CORS preflight is answered without a token, every
// FHIR answer (errors too) lets the page read it, and credentials still come only from the
// Authorization header.
TEST(Protocol, CorsPreflightAndHeadersForBrowserApps) {
  auto s = TestServer::Start();
  ASSERT_TRUE(s);
  const std::map<std::string, std::string> preflight = {
      {"Origin", "http://127.0.0.1:9"},
      {"Access-Control-Request-Method", "GET"},
      {"Access-Control-Request-Headers", "authorization"}};
  Response p = s->Request("OPTIONS", "/fhir/Patient/abc", {}, preflight, false);
  EXPECT_EQ(p.status, 204) << p.body;
  EXPECT_EQ(p.headers["access-control-allow-origin"], "*");
  EXPECT_NE(p.headers["access-control-allow-methods"].find("GET"), std::string::npos);
  EXPECT_NE(p.headers["access-control-allow-headers"].find("Authorization"), std::string::npos);
  EXPECT_EQ(p.headers["access-control-allow-credentials"], "");
  EXPECT_TRUE(p.body.empty());
  EXPECT_EQ(p.headers["x-content-type-options"], "nosniff");
  for (auto [path, auth, status] :
       std::vector<std::tuple<std::string, bool, int>>{{"/fhir/Patient", true, 200},
                                                       {"/fhir/Patient", false, 401},
                                                       {"/fhir/Patient/none", true, 404},
                                                       {"/fhir/metadata", false, 200}}) {
    Response r = s->Request("GET", path, {}, {{"Origin", "http://127.0.0.1:9"}}, auth);
    EXPECT_EQ(r.status, status) << path;
    EXPECT_EQ(r.headers["access-control-allow-origin"], "*") << path;
    EXPECT_NE(r.headers["access-control-expose-headers"].find("Location"), std::string::npos)
        << path;
  }
  // An OPTIONS that is not a preflight is no way around authentication.
  EXPECT_EQ(s->Request("OPTIONS", "/fhir/Patient", {}, {}, false).status, 401);
  // A request without Origin (a system, not a page of another origin) gets no CORS headers.
  Response plain = s->Request("GET", "/fhir/Patient", {}, {}, true);
  EXPECT_EQ(plain.status, 200) << plain.body;
  EXPECT_EQ(plain.headers["access-control-allow-origin"], "");
  EXPECT_EQ(plain.headers["access-control-expose-headers"], "");
}

// A demo server needs no credentials, so it must not let pages of other origins read it: no CORS
// headers, and a preflight is not approved.
TEST(Protocol, DemoServerIsNotReadableFromOtherOrigins) {
  ServerOptions opts;
  opts.demo = true;
  auto s = TestServer::Start(opts);
  ASSERT_TRUE(s);
  Response p = s->Request(
      "OPTIONS", "/fhir/Patient", {},
      {{"Origin", "http://evil.example"}, {"Access-Control-Request-Method", "GET"}}, false);
  EXPECT_NE(p.status, 204) << p.body;
  EXPECT_EQ(p.headers["access-control-allow-origin"], "");
  EXPECT_EQ(p.headers["access-control-allow-methods"], "");
  Response r = s->Request("GET", "/fhir/Patient", {}, {{"Origin", "http://evil.example"}}, false);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["access-control-allow-origin"], "");
  EXPECT_EQ(r.headers["access-control-expose-headers"], "");
}

}  // namespace
}  // namespace benhan::testing
