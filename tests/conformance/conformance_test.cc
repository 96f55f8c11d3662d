// Runs the conformance cases in tests/conformance/cases/**/*.json against every storage backend.
// A case is a sequence of HTTP requests with expected status, headers and a JSON subset of the
// body; values can be captured from one response (JSON path) and used as ${name} later.
// Format: tests/conformance/README.md.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <regex>

#include "support/test_server.h"

namespace json = boost::json;
namespace fs = std::filesystem;

namespace benhan::testing {
namespace {

struct Case {
  std::string file;
  json::object doc;
};

std::vector<Case> LoadCases() {
  std::vector<Case> out;
  fs::path dir = fs::path(BENHAN_SOURCE_DIR) / "tests/conformance/cases";
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec || !v.is_object()) {
      ADD_FAILURE() << f << ": not a JSON object: " << ec.message();
      continue;
    }
    out.push_back(Case{fs::relative(f, dir).string(), v.get_object()});
  }
  return out;
}

std::string Substitute(std::string s, const std::map<std::string, std::string>& vars) {
  for (const auto& [k, v] : vars) {
    std::string key = "${" + k + "}";
    for (size_t p = s.find(key); p != std::string::npos; p = s.find(key, p + v.size()))
      s.replace(p, key.size(), v);
  }
  return s;
}

json::value SubstituteJson(const json::value& v, const std::map<std::string, std::string>& vars) {
  if (v.is_string()) return json::string(Substitute(std::string(v.get_string()), vars));
  if (v.is_array()) {
    json::array a;
    for (const auto& e : v.get_array()) a.push_back(SubstituteJson(e, vars));
    return a;
  }
  if (v.is_object()) {
    json::object o;
    for (const auto& kv : v.get_object()) o[kv.key()] = SubstituteJson(kv.value(), vars);
    return o;
  }
  return v;
}

// "body.entry.0.resource.id" -> value or nullptr.
const json::value* AtPath(const json::value& root, const std::string& path) {
  const json::value* cur = &root;
  std::stringstream ss(path);
  std::string part;
  while (std::getline(ss, part, '.')) {
    if (cur->is_object()) {
      cur = cur->get_object().if_contains(part);
    } else if (cur->is_array() && !part.empty() &&
               std::isdigit(static_cast<unsigned char>(part[0]))) {
      size_t i = std::stoul(part);
      cur = i < cur->get_array().size() ? &cur->get_array()[i] : nullptr;
    } else {
      cur = nullptr;
    }
    if (cur == nullptr) return nullptr;
  }
  return cur;
}

// Expected is a subset of actual: objects by key, arrays element by element (actual may be longer
// unless the expected array is wrapped as {"$exactly": [...]}); "$any" matches any present value;
// {"$regex": "..."} matches strings; {"$count": n} matches arrays of length n.
bool Matches(const json::value& exp, const json::value& act, std::string path, std::string* why) {
  if (exp.is_string() && exp.get_string() == "$any") return true;
  if (exp.is_object()) {
    const auto& eo = exp.get_object();
    if (const auto* rx = eo.if_contains("$regex")) {
      if (!act.is_string() || !std::regex_search(std::string(act.get_string()),
                                                 std::regex(std::string(rx->get_string())))) {
        *why = path + ": " + json::serialize(act) + " does not match /" +
               std::string(rx->get_string()) + "/";
        return false;
      }
      return true;
    }
    if (const auto* n = eo.if_contains("$count")) {
      if (!act.is_array() ||
          static_cast<int64_t>(act.get_array().size()) != n->to_number<int64_t>()) {
        *why = path + ": expected an array of " + json::serialize(*n) + " items, got " +
               json::serialize(act).substr(0, 200);
        return false;
      }
      return true;
    }
    if (!act.is_object()) {
      *why = path + ": expected an object, got " + json::serialize(act).substr(0, 200);
      return false;
    }
    for (const auto& kv : eo) {
      const auto* a = act.get_object().if_contains(kv.key());
      if (kv.value().is_string() && kv.value().get_string() == "$absent") {
        if (a) {
          *why = path + "." + std::string(kv.key()) + ": expected absent";
          return false;
        }
        continue;
      }
      if (!a) {
        *why = path + "." + std::string(kv.key()) + ": missing";
        return false;
      }
      if (!Matches(kv.value(), *a, path + "." + std::string(kv.key()), why)) return false;
    }
    return true;
  }
  if (exp.is_array()) {
    if (!act.is_array() || act.get_array().size() < exp.get_array().size()) {
      *why = path + ": expected at least " + std::to_string(exp.get_array().size()) +
             " items, got " + json::serialize(act).substr(0, 200);
      return false;
    }
    for (size_t i = 0; i < exp.get_array().size(); ++i) {
      if (!Matches(exp.get_array()[i], act.get_array()[i], path + "[" + std::to_string(i) + "]",
                   why))
        return false;
    }
    return true;
  }
  if (exp.is_number() && act.is_number()) {
    if (exp.to_number<double>() != act.to_number<double>()) {
      *why = path + ": expected " + json::serialize(exp) + ", got " + json::serialize(act);
      return false;
    }
    return true;
  }
  if (exp != act) {
    *why = path + ": expected " + json::serialize(exp) + ", got " +
           json::serialize(act).substr(0, 200);
    return false;
  }
  return true;
}

void RunCase(const Case& c, const std::string& backend) {
  const json::object& doc = c.doc;
  ServerOptions so;
  so.demo = doc.contains("demo") && doc.at("demo").as_bool();
  so.config["storage"] = backend;
  if (const auto* cfg = doc.if_contains("config")) {
    for (const auto& kv : cfg->get_object())
      so.config[std::string(kv.key())] = std::string(kv.value().get_string());
  }
  auto server = TestServer::Start(so);
  ASSERT_TRUE(server);
  std::map<std::string, std::string> vars;
  int step_no = 0;
  for (const auto& sv : doc.at("steps").get_array()) {
    ++step_no;
    const json::object& step = sv.get_object();
    std::string label = c.file + " step " + std::to_string(step_no);
    if (const auto* d = step.if_contains("description"))
      label += " (" + std::string(d->get_string()) + ")";
    const json::object& req = step.at("request").get_object();
    std::string method(req.at("method").get_string());
    std::string path = Substitute(std::string(req.at("path").get_string()), vars);
    if (path.rfind("http://", 0) == 0) path = path.substr(path.find('/', 7));  // a captured link
    std::string body;
    if (const auto* b = req.if_contains("body")) body = json::serialize(SubstituteJson(*b, vars));
    if (const auto* b = req.if_contains("bodyText"))
      body = Substitute(std::string(b->get_string()), vars);
    if (const auto* g = req.if_contains("bodyRepeat")) {  // {"text": "x", "times": n}
      std::string unit(g->at("text").get_string());
      int64_t times = g->at("times").to_number<int64_t>();
      body.reserve(unit.size() * static_cast<size_t>(times));
      for (int64_t i = 0; i < times; ++i) body += unit;
    }
    std::map<std::string, std::string> headers;
    if (const auto* h = req.if_contains("headers")) {
      for (const auto& kv : h->get_object())
        headers[std::string(kv.key())] = Substitute(std::string(kv.value().get_string()), vars);
    }
    bool auth = !(req.contains("auth") && !req.at("auth").as_bool());
    Response r = server->Request(method, path, body, headers, auth);
    const json::object& exp = step.at("expect").get_object();
    if (const auto* st = exp.if_contains("status")) {
      EXPECT_EQ(r.status, st->to_number<int>()) << label << ": " << method << " " << path << "\n"
                                                << r.body.substr(0, 2000);
    }
    if (const auto* hs = exp.if_contains("headers")) {
      for (const auto& kv : hs->get_object()) {
        std::string name(kv.key());
        for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        auto it = r.headers.find(name);
        std::string want = Substitute(std::string(kv.value().get_string()), vars);
        if (want == "$any") {
          EXPECT_TRUE(it != r.headers.end()) << label << ": header " << name << " missing";
        } else if (want == "$absent") {
          EXPECT_TRUE(it == r.headers.end()) << label << ": header " << name << " present";
        } else {
          EXPECT_TRUE(it != r.headers.end() && it->second.find(want) != std::string::npos)
              << label << ": header " << name << " = '"
              << (it == r.headers.end() ? "<missing>" : it->second) << "', expected to contain '"
              << want << "'";
        }
      }
    }
    json::value actual = r.Json();
    if (const auto* eb = exp.if_contains("body")) {
      std::string why;
      EXPECT_TRUE(Matches(SubstituteJson(*eb, vars), actual, "body", &why))
          << label << ": " << why << "\n"
          << r.body.substr(0, 2000);
    }
    if (const auto* ec = exp.if_contains("bodyContains")) {
      EXPECT_NE(r.body.find(Substitute(std::string(ec->get_string()), vars)), std::string::npos)
          << label << ": body lacks '" << ec->get_string() << "'\n"
          << r.body.substr(0, 2000);
    }
    if (const auto* cap = step.if_contains("capture")) {
      json::object hdrs;
      for (const auto& [k, v] : r.headers) hdrs[k] = v;
      json::value wrapped = json::object{{"body", actual}, {"headers", std::move(hdrs)}};
      for (const auto& kv : cap->get_object()) {
        const json::value* v = AtPath(wrapped, std::string(kv.value().get_string()));
        ASSERT_NE(v, nullptr) << label << ": capture " << kv.key() << " path " << kv.value()
                              << " not found\n"
                              << r.body.substr(0, 1000);
        vars[std::string(kv.key())] =
            v->is_string() ? std::string(v->get_string()) : json::serialize(*v);
      }
    }
    if (::testing::Test::HasFatalFailure()) return;
  }
}

const std::vector<Case>& AllCases() {
  static const std::vector<Case> cases = LoadCases();
  return cases;
}

std::vector<size_t> CaseIndexes() {
  std::vector<size_t> v(AllCases().size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = i;
  return v;
}

class Conformance : public ::testing::TestWithParam<std::tuple<size_t, std::string>> {};

TEST_P(Conformance, Case) {
  const Case& c = AllCases()[std::get<0>(GetParam())];
  RunCase(c, std::get<1>(GetParam()));
}

TEST(ConformanceCorpus, HasCases) { EXPECT_GE(AllCases().size(), 25u); }

std::string CaseName(const ::testing::TestParamInfo<std::tuple<size_t, std::string>>& info) {
  std::string n = std::get<1>(info.param) + "_" + AllCases()[std::get<0>(info.param)].file;
  for (char& ch : n) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return n;
}

// Every storage backend this build has. PostgreSQL joins this list when its backend lands.
INSTANTIATE_TEST_SUITE_P(Backends, Conformance,
                         ::testing::Combine(::testing::ValuesIn(CaseIndexes()),
                                            ::testing::Values("sqlite")),
                         CaseName);

}  // namespace
}  // namespace benhan::testing
