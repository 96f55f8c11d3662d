#include "support/test_server.h"

#include "support/pg_cluster.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;

namespace benhan::testing {

std::string SharedDataDir() {
  std::string dir = std::string(BENHAN_SOURCE_DIR) + "/../shared/data";
  return std::filesystem::is_directory(dir) ? dir : std::string();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<std::string> SortedFiles(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.is_regular_file()) files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

namespace {
bool IsJsonFile(const std::string& path) {
  return path.size() > 5 && path.compare(path.size() - 5, 5, ".json") == 0;
}
json::value ParseOrNull(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  return ec ? json::value() : v;
}
}  // namespace

std::vector<json::value> ExampleAndSyntheaResources(const std::string& data,
                                                    bool patient_refs_as_stored) {
  std::vector<json::value> out;
  for (const auto& f : SortedFiles(data + "/fhir-r4-spec/examples-json")) {
    if (IsJsonFile(f)) out.push_back(ParseOrNull(ReadFile(f)));
  }
  for (const auto& f : SortedFiles(data + "/synthea/r4-bundles")) {
    if (!IsJsonFile(f)) continue;
    json::value b = ParseOrNull(ReadFile(f));
    if (!b.is_object() || !b.get_object().contains("entry")) continue;
    std::vector<std::string> patients;
    if (patient_refs_as_stored) {
      for (auto& e : b.at("entry").as_array()) {
        const auto& r = e.at("resource").as_object();
        if (r.at("resourceType").as_string() == "Patient")
          patients.emplace_back(r.at("id").as_string());
      }
    }
    for (auto& e : b.at("entry").as_array()) {
      if (patients.empty()) {
        out.push_back(e.at("resource"));
        continue;
      }
      std::string text = json::serialize(e.at("resource"));
      for (const auto& id : patients) {
        const std::string from = "urn:uuid:" + id, to = "Patient/" + id;
        for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at))
          text.replace(at, from.size(), to);
      }
      out.push_back(json::parse(text));
    }
  }
  return out;
}

json::value Response::Json() const {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  return ec ? json::value() : v;
}

struct HttpClient::Impl {
  std::string host;
  uint16_t port;
  asio::io_context ioc;
  std::unique_ptr<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  void Connect() {
    asio::ip::tcp::resolver resolver(ioc);
    stream = std::make_unique<beast::tcp_stream>(ioc);
    stream->connect(resolver.resolve(host, std::to_string(port)));
    stream->socket().set_option(asio::ip::tcp::no_delay(true));
    buffer.clear();
  }
};

HttpClient::HttpClient(std::string host, uint16_t port) : impl_(new Impl) {
  impl_->host = std::move(host);
  impl_->port = port;
}
HttpClient::~HttpClient() = default;

Response HttpClient::Send(const std::string& method, const std::string& target,
                          const std::string& body,
                          const std::map<std::string, std::string>& headers) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    try {
      if (!impl_->stream) impl_->Connect();
      http::request<http::string_body> req{http::string_to_verb(method), target, 11};
      req.set(http::field::host, impl_->host + ":" + std::to_string(impl_->port));
      req.keep_alive(true);
      if (!body.empty()) req.set(http::field::content_type, "application/fhir+json");
      for (const auto& [k, v] : headers) req.set(k, v);
      req.body() = body;
      req.prepare_payload();
      http::write(*impl_->stream, req);
      http::response_parser<http::string_body> parser;
      parser.body_limit(1ull << 30);
      if (method == "HEAD") parser.skip(true);
      http::read(*impl_->stream, impl_->buffer, parser);
      auto res = parser.release();
      Response r;
      r.status = static_cast<int>(res.result_int());
      for (const auto& f : res) {
        std::string name(f.name_string());
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        r.headers[name] = std::string(f.value());
      }
      r.body = std::move(res.body());
      if (!res.keep_alive()) impl_->stream.reset();
      return r;
    } catch (const std::exception& e) {
      impl_->stream.reset();  // server closed the connection: reconnect once
      if (attempt == 1) {
        Response r;
        r.status = -1;
        r.body = e.what();
        return r;
      }
    }
  }
  return Response{};
}

std::unique_ptr<TestServer> TestServer::Start(const ServerOptions& opts) {
  std::unique_ptr<TestServer> s(new TestServer());
  if (opts.data_dir.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "benhan-test-XXXXXX").string();
    char* d = mkdtemp(tmpl.data());
    if (d == nullptr) return nullptr;
    s->data_dir_ = d;
    s->owns_dir_ = true;
    if (!opts.copy_from.empty()) {
      std::error_code ec;
      std::filesystem::copy(opts.copy_from, s->data_dir_, std::filesystem::copy_options::recursive,
                            ec);
      EXPECT_FALSE(ec) << "copying " << opts.copy_from << ": " << ec.message();
      if (ec) return nullptr;
    }
  } else {
    s->data_dir_ = opts.data_dir;
  }
  s->config_.data_dir = s->data_dir_;
  s->config_.demo = opts.demo;
  s->config_.sqlite_readers = 2;
  s->config_.pg_pool = 4;
  for (const auto& [k, v] : opts.config) {
    if (k == "storage" && v == "postgresql") {
      // A database of its own: a copy of the template named in copy_from, or an empty one.
      std::string db_file = s->data_dir_ + "/pg-database";
      std::string tmpl;
      if (!opts.copy_from.empty()) std::getline(std::ifstream(db_file), tmpl);
      if (!tmpl.empty() || !std::filesystem::exists(db_file)) {
        auto db = CreateTestDatabase(tmpl);
        EXPECT_TRUE(db.ok()) << db.status().ToString();
        if (!db.ok()) return nullptr;
        s->pg_database_ = *db;
        std::ofstream(db_file) << *db << "\n";
      } else {
        std::getline(std::ifstream(db_file), s->pg_database_);  // a restart: the same database
      }
      std::string prefix = TestPostgres(nullptr);
      Status st = s->config_.Set("storage", prefix + s->pg_database_);
      EXPECT_TRUE(st.ok()) << st.ToString();
      continue;
    }
    Status st = s->config_.Set(k, v);
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
  auto node = app::Node::Open(s->config_);
  EXPECT_TRUE(node.ok()) << node.status().ToString();
  if (!node.ok()) return nullptr;
  s->node_ = std::move(*node);
  if (opts.demo) {
    s->auth_ = security::MakeDemoAuthenticator();
  } else {
    auto ta = security::TokenAuthenticator::Open(s->data_dir_, nullptr);
    EXPECT_TRUE(ta.ok());
    s->auth_ = std::move(*ta);
    std::ifstream in(s->data_dir_ + "/secrets/admin.token");
    std::getline(in, s->token_);
  }
  s->api_ = std::make_unique<api::FhirApi>(s->node_->service(), *s->auth_, "test");
  s->api_->SetTerminology(&s->node_->terminology());
  auto hopts = app::HttpOptionsFromConfig(s->config_);
  EXPECT_TRUE(hopts.ok()) << hopts.status().ToString();
  if (!hopts.ok()) return nullptr;
  api::HttpServerOptions ho = std::move(*hopts);
  ho.host = "127.0.0.1";
  ho.port = 0;
  ho.threads = 4;
  api::FhirApi* fa = s->api_.get();
  s->server_ = std::make_unique<api::HttpServer>(
      ho, [fa](const api::HttpRequest& req, api::HttpResponse& res) { fa->Handle(req, res); },
      api::FhirApi::ErrorResponse);
  auto port = s->server_->Start();
  EXPECT_TRUE(port.ok()) << port.status().ToString();
  if (!port.ok()) return nullptr;
  s->port_ = *port;
  s->client_ = std::make_unique<HttpClient>("127.0.0.1", s->port_);
  return s;
}

void TestServer::Stop() {
  client_.reset();
  if (server_) server_->Stop();
  server_.reset();
  api_.reset();
  node_.reset();
}

TestServer::~TestServer() {
  Stop();
  bool failed = ::testing::Test::HasFailure();
  if (owns_dir_ && !keep_ && !failed) {
    std::error_code ec;
    std::filesystem::remove_all(data_dir_, ec);
    if (!pg_database_.empty()) DropTestDatabase(pg_database_);
  } else if (owns_dir_) {
    std::fprintf(stderr, "test data directory kept: %s\n", data_dir_.c_str());
  }
}

Response TestServer::Request(const std::string& method, const std::string& path,
                             const std::string& body, std::map<std::string, std::string> headers,
                             bool auth) {
  if (auth && !token_.empty() && !headers.count("Authorization"))
    headers["Authorization"] = "Bearer " + token_;
  return client_->Send(method, path, body, headers);
}

}  // namespace benhan::testing
