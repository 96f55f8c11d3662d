#include "api/fhir_api.h"

#include <boost/json.hpp>
#include <ctime>
#include <set>

#include "core/clock.h"
#include "core/ids.h"
#include "core/log.h"
#include "fhir/resource.h"

namespace json = boost::json;

namespace benhan::api {
namespace {

constexpr const char* kFhirJson = "application/fhir+json; charset=utf-8";

// CORS (Fetch standard) for browser apps served from another origin (SMART on FHIR apps). The API
// takes credentials from the Authorization header only, never from cookies, so a page can do no
// more with it than the token it holds allows; "*" also keeps browsers from sending cookies.
constexpr const char* kCorsAllowMethods = "GET, HEAD, POST, PUT, PATCH, DELETE";
constexpr const char* kCorsAllowHeaders =
    "Authorization, Content-Type, Accept, Prefer, If-Match, If-None-Match, If-None-Exist, "
    "If-Modified-Since, X-Break-Glass";
constexpr const char* kCorsExposeHeaders =
    "Location, Content-Location, ETag, Last-Modified, WWW-Authenticate";

struct Format {
  bool pretty = false;
  fhir::SummaryMode summary = fhir::SummaryMode::kFalse;
  std::vector<std::string> elements;
};

enum class PreferReturn { kDefault, kMinimal, kRepresentation, kOperationOutcome };

PreferReturn ParsePreferReturn(std::string_view prefer) {
  if (prefer.find("return=minimal") != std::string_view::npos) return PreferReturn::kMinimal;
  if (prefer.find("return=representation") != std::string_view::npos)
    return PreferReturn::kRepresentation;
  if (prefer.find("return=OperationOutcome") != std::string_view::npos)
    return PreferReturn::kOperationOutcome;
  return PreferReturn::kDefault;
}

std::string HttpDate(int64_t micros) {
  std::time_t t = static_cast<std::time_t>(micros / 1000000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

std::vector<std::string> SplitPath(std::string_view p) {
  std::vector<std::string> out;
  while (!p.empty()) {
    while (!p.empty() && p.front() == '/') p.remove_prefix(1);
    if (p.empty()) break;
    auto s = p.find('/');
    out.emplace_back(p.substr(0, s));
    if (s == std::string_view::npos) break;
    p.remove_prefix(s);
  }
  return out;
}

void SendJson(HttpResponse& res, int status, const json::value& v, const Format& f) {
  res.status = status;
  res.Set("Content-Type", kFhirJson);
  res.body = fhir::Serialize(v, f.pretty);
}

void SendStatus(HttpResponse& res, const Status& st, bool pretty = false) {
  res.status = HttpStatusOf(st.code());
  res.Set("Content-Type", kFhirJson);
  res.body = fhir::Serialize(fhir::MakeOperationOutcome(st), pretty);
  if (res.status == 401) res.Set("WWW-Authenticate", "Bearer realm=\"benhan\"");
}

Result<std::optional<int64_t>> IfMatch(const HttpRequest& req) {
  std::string_view s = req.Header("if-match");
  if (s.empty()) return std::optional<int64_t>();
  if (s.substr(0, 2) == "W/") s.remove_prefix(2);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  char* end = nullptr;
  std::string str(s);
  long long v = std::strtoll(str.c_str(), &end, 10);
  if (str.empty() || *end != '\0')
    return Status(Code::kInvalid, "If-Match must look like W/\"3\"", "If-Match");
  return std::optional<int64_t>(v);
}

}  // namespace

const std::vector<Route>& Routes() {
  static const std::vector<Route> kRoutes = {
      {"GET", "/metadata", "", true},
      {"POST", "/", "transaction", true},
      {"POST", "/", "batch", true},
      {"GET", "/_history", "history-system", true},
      {"GET", "/?{params}", "search-system", true},
      {"POST", "/_search", "search-system", true},
      {"GET", "/{type}", "search-type", false},
      {"POST", "/{type}/_search", "search-type", false},
      {"POST", "/{type}", "create", false},
      {"PUT", "/{type}?{params}", "update", false},
      {"DELETE", "/{type}?{params}", "delete", false},
      {"GET", "/{type}/_history", "history-type", false},
      {"GET", "/{type}/{id}", "read", false},
      {"PUT", "/{type}/{id}", "update", false},
      {"PATCH", "/{type}/{id}", "patch", false},
      {"DELETE", "/{type}/{id}", "delete", false},
      {"GET", "/{type}/{id}/_history", "history-instance", false},
      {"GET", "/{type}/{id}/_history/{vid}", "vread", false},
      {"GET", "/{compartment}/{id}/{type}", "search-type", false},
      {"GET", "/Patient/{id}/$everything", "", false},
      // Terminology operations (also POST with Parameters, and /{type}/{id}/$op on stored ones).
      {"GET", "/ValueSet/$expand?url=http://benhan.vn/fhir/ValueSet/icd10-vn&filter=tang", "",
       false},
      {"GET", "/ValueSet/$validate-code?url=http://benhan.vn/fhir/ValueSet/icd10-vn&code=I10", "",
       false},
      {"GET", "/CodeSystem/$validate-code?url=http://benhan.vn/fhir/CodeSystem/icd10-vn&code=I10",
       "", false},
      {"GET", "/CodeSystem/$lookup?system=http://benhan.vn/fhir/CodeSystem/icd10-vn&code=I10", "",
       false},
      {"GET", "/ConceptMap/$translate?system=http://benhan.vn/fhir/CodeSystem/icd10-vn&code=I10",
       "", false},
  };
  return kRoutes;
}

FhirApi::FhirApi(service::ResourceService& service, const security::Authenticator& auth,
                 std::string software_version)
    : service_(service), auth_(auth), version_(std::move(software_version)) {}

HttpResponse FhirApi::ErrorResponse(int http_status, const std::string& message) {
  HttpResponse r;
  Code code = http_status == 413 || http_status == 431 ? Code::kTooLarge
              : http_status == 429                     ? Code::kTooManyRequests
              : http_status >= 500                     ? Code::kInternal
                                                       : Code::kInvalid;
  r.status = http_status;
  r.Set("Content-Type", kFhirJson);
  r.body = fhir::Serialize(fhir::MakeOperationOutcome(Status(code, message)));
  return r;
}

std::string FhirApi::BaseUrl(const HttpRequest& req) const {
  if (!service_.config().base_url.empty()) return service_.config().base_url;
  std::string_view host = req.Header("host");
  return std::string(req.tls ? "https://" : "http://") +
         std::string(host.empty() ? "localhost" : host) + "/fhir";
}

const std::string& FhirApi::CapabilityStatement() {
  std::call_once(cap_once_, [&] {
    const auto& defs = service_.defs();
    json::array resources;
    for (const auto& type : defs.ResourceTypeNames()) {
      json::array interactions;
      std::set<std::string> seen;
      for (const Route& r : Routes()) {
        if (!r.system_level && *r.interaction && seen.insert(r.interaction).second) {
          interactions.push_back(json::object{{"code", r.interaction}});
        }
      }
      json::array params;
      for (const auto* p : defs.SearchParamsFor(type)) {
        // Special parameters: only Location near is searched (service/search_params.cc).
        if (p->type == fhir::SearchParamType::kSpecial &&
            !(type == "Location" && p->code == "near"))
          continue;
        if (p->code.find('-') == 0 || p->code == "_query") continue;
        params.push_back(json::object{{"name", p->code},
                                      {"definition", p->url},
                                      {"type", fhir::SearchParamTypeName(p->type)}});
      }
      params.push_back(json::object{
          {"name", "_list"},
          {"type", "token"},
          {"documentation", "resources named in the entries of List/[id] (List.entry.item)"}});
      json::array includes;
      for (const auto* p : defs.SearchParamsFor(type)) {
        if (p->type == fhir::SearchParamType::kReference)
          includes.push_back(json::string(type + ":" + p->code));
      }
      json::object res_cap{{"type", type},
                           {"interaction", std::move(interactions)},
                           {"versioning", "versioned-update"},
                           {"readHistory", true},
                           {"updateCreate", true},
                           {"conditionalCreate", true},
                           {"conditionalUpdate", true},
                           {"conditionalDelete", "single"},
                           {"searchInclude", std::move(includes)},
                           {"searchParam", std::move(params)}};
      if (type == "Patient") {
        res_cap["operation"] = json::array{json::object{
            {"name", "everything"},
            {"definition", "http://hl7.org/fhir/OperationDefinition/Patient-everything"}}};
      }
      auto ops = [](std::initializer_list<const char*> names, const std::string& t) {
        json::array a;
        for (const char* n : names)
          a.push_back(json::object{
              {"name", n},
              {"definition", "http://hl7.org/fhir/OperationDefinition/" + t + "-" + n}});
        return a;
      };
      if (type == "ValueSet") res_cap["operation"] = ops({"expand", "validate-code"}, type);
      if (type == "CodeSystem") res_cap["operation"] = ops({"lookup", "validate-code"}, type);
      if (type == "ConceptMap") res_cap["operation"] = ops({"translate"}, type);
      for (const auto& op : operations_) {
        if (op.type != type) continue;
        if (!res_cap.contains("operation")) res_cap["operation"] = json::array{};
        res_cap["operation"].as_array().push_back(json::object{
            {"name", op.name}, {"definition", op.definition}, {"documentation", op.documentation}});
      }
      resources.push_back(std::move(res_cap));
    }
    json::array system_interactions;
    for (const Route& r : Routes()) {
      if (r.system_level && *r.interaction)
        system_interactions.push_back(json::object{{"code", r.interaction}});
    }
    json::object cap{
        {"resourceType", "CapabilityStatement"},
        {"status", "active"},
        {"date", FormatInstant(SystemClock().NowMicros()).substr(0, 10)},
        {"publisher", "benhan"},
        {"kind", "instance"},
        {"software", json::object{{"name", "benhan"}, {"version", version_}}},
        {"implementation",
         json::object{{"description", "benhan - bệnh án điện tử / electronic medical record"}}},
        {"fhirVersion", defs.fhir_version()},
        {"format", json::array{"application/fhir+json", "json"}},
        {"patchFormat", json::array{"application/json-patch+json"}},
        {"rest",
         json::array{json::object{
             {"mode", "server"},
             {"security", json::object{{"description",
                                        "Bearer tokens (Authorization: Bearer ...); the "
                                        "administrator token is created on first "
                                        "start in DATA/secrets/admin.token. Demo mode (--demo, "
                                        "loopback only) needs none."}}},
             {"resource", std::move(resources)},
             {"interaction", system_interactions},
             {"searchParam",
              json::array{
                  json::object{{"name", "_type"},
                               {"type", "token"},
                               {"documentation",
                                "search across types: GET [base]?_type=A,B&... (parameters must "
                                "apply to every listed type)"}},
                  json::object{{"name", "_id"}, {"type", "token"}},
                  json::object{{"name", "_lastUpdated"}, {"type", "date"}},
                  json::object{{"name", "_tag"}, {"type", "token"}},
                  json::object{{"name", "_profile"}, {"type", "uri"}},
                  json::object{{"name", "_security"}, {"type", "token"}},
                  json::object{{"name", "_content"}, {"type", "string"}}}},
             {"compartment", json::array{"http://hl7.org/fhir/CompartmentDefinition/patient",
                                         "http://hl7.org/fhir/CompartmentDefinition/encounter",
                                         "http://hl7.org/fhir/CompartmentDefinition/relatedPerson",
                                         "http://hl7.org/fhir/CompartmentDefinition/practitioner",
                                         "http://hl7.org/fhir/CompartmentDefinition/device"}}}}}};
    cap_json_ = fhir::Serialize(cap);
  });
  return cap_json_;
}

void FhirApi::Handle(const HttpRequest& req, HttpResponse& res) {
  res.Set("X-Content-Type-Options", "nosniff");
  res.Set("Cache-Control", "no-store");
  // An open (demo) server sends no CORS headers: with them, any web page the user visits could
  // read its records through the browser, since no credentials are needed. A request without
  // Origin does not come from a page of another origin (browsers send Origin on every cross-origin
  // request and preflight): LIS, HIS and other systems get no CORS headers they would not read.
  const bool cors = !auth_.open() && !req.Header("origin").empty();
  if (cors) res.Set("Access-Control-Allow-Origin", "*");
  if (cors && req.method == "OPTIONS" && !req.Header("access-control-request-method").empty()) {
    // A CORS preflight: it never carries credentials, so it is answered before authentication.
    res.status = 204;
    res.Set("Access-Control-Allow-Methods", kCorsAllowMethods);
    res.Set("Access-Control-Allow-Headers", kCorsAllowHeaders);
    res.Set("Access-Control-Max-Age", "600");
    return;
  }
  if (cors) res.Set("Access-Control-Expose-Headers", kCorsExposeHeaders);
  std::string_view path = req.path;
  path.remove_prefix(std::min<size_t>(5, path.size()));  // "/fhir"
  auto parts = SplitPath(path);
  if (parts.size() == 1 && parts[0] == "metadata" && req.method == "GET") {
    res.status = 200;
    res.Set("Content-Type", kFhirJson);
    res.body = CapabilityStatement();
    return;
  }
  auto who = auth_.Authenticate(req.Header("authorization"));
  if (!who.ok()) {
    // A refused credential is an audit row ("login-failed"), never with the credential itself.
    service::RequestContext anon;
    anon.remote = req.remote;
    service_.AuditSecurityEvent(
        anon, "login-failed", HttpStatusOf(who.status().code()),
        who.status().message() + " (" + req.method + " " + std::string(req.path) + ")");
    SendStatus(res, who.status());
    return;
  }
  service::RequestContext ctx;
  ctx.principal = who->id;
  ctx.who = std::move(*who);
  ctx.remote = req.remote;
  ctx.base_url = BaseUrl(req);
  ctx.strict = req.Header("prefer").find("handling=strict") != std::string_view::npos;
  ctx.break_glass = std::string(req.Header("x-break-glass"));
  Dispatch(req, res, ctx);
}

void FhirApi::Dispatch(const HttpRequest& req, HttpResponse& res,
                       const service::RequestContext& ctx) {
  std::string_view path = req.path;
  path.remove_prefix(std::min<size_t>(5, path.size()));
  auto parts = SplitPath(path);
  for (const auto& op : operations_) {
    if (op.handler && op.handler(req, res, parts, ctx)) return;
  }
  service::Params params = service::ParseQueryString(req.query);
  Format fmt;
  for (const auto& [k, v] : params) {
    if (k == "_pretty") fmt.pretty = v == "true";
    if (k == "_format" && v.find("json") == std::string::npos) {
      SendStatus(res, Status(Code::kNotAcceptable, "only JSON is supported (_format=" + v + ")",
                             "_format"));
      return;
    }
  }
  std::string_view accept = req.Header("accept");
  if (!accept.empty() && accept.find("json") == std::string_view::npos &&
      accept.find("*/*") == std::string_view::npos) {
    SendStatus(res,
               Status(Code::kNotAcceptable, "only application/fhir+json is supported (Accept: " +
                                                std::string(accept) + ")"));
    return;
  }
  const std::string& m = req.method;
  bool has_body = m == "POST" || m == "PUT" || m == "PATCH";
  std::string_view ctype = req.Header("content-type");
  bool form = ctype.find("application/x-www-form-urlencoded") != std::string_view::npos;
  bool search_post =
      (parts.size() == 2 && parts[1] == "_search") || (parts.size() == 1 && parts[0] == "_search");
  if (has_body && !ctype.empty() && ctype.find("json") == std::string_view::npos &&
      !(form && search_post)) {
    SendStatus(res, Status(Code::kUnsupportedMedia,
                           "send FHIR JSON (Content-Type: application/fhir+json), not " +
                               std::string(ctype)));
    return;
  }
  PreferReturn prefer = ParsePreferReturn(req.Header("prefer"));
  auto if_match = IfMatch(req);
  if (!if_match.ok()) {
    SendStatus(res, if_match.status());
    return;
  }

  auto parse_body = [&](json::value* out) -> Status {
    if (req.body.empty()) return Status(Code::kInvalid, "the request has no body");
    return fhir::ParseJson(req.body, out);
  };
  auto send_record = [&](int status, const store::VersionRecord& rec, bool with_location) {
    res.Set("ETag", "W/\"" + std::to_string(rec.version) + "\"");
    res.Set("Last-Modified", HttpDate(rec.last_updated_us));
    if (with_location) {
      res.Set("Location", ctx.base_url + "/" + rec.type + "/" + rec.id + "/_history/" +
                              std::to_string(rec.version));
    }
    res.status = status;
    if (fmt.summary == fhir::SummaryMode::kFalse && fmt.elements.empty() && !fmt.pretty) {
      res.Set("Content-Type", kFhirJson);
      res.body = rec.json;  // stored canonical JSON, sent as is
      return;
    }
    json::value v = json::parse(rec.json);
    SendJson(res, status, fhir::Subset(v, fmt.summary, fmt.elements, service_.defs()), fmt);
  };
  auto send_write = [&](const Result<service::WriteOutcome>& w, bool location) {
    if (!w.ok()) {
      SendStatus(res, w.status(), fmt.pretty);
      return;
    }
    const auto& rec = w->record;
    if (rec.version > 0) {
      res.Set("ETag", "W/\"" + std::to_string(rec.version) + "\"");
      res.Set("Last-Modified", HttpDate(rec.last_updated_us));
      if (location) {
        res.Set("Location", ctx.base_url + "/" + rec.type + "/" + rec.id + "/_history/" +
                                std::to_string(rec.version));
      }
    }
    res.status = w->http_status;
    if (prefer == PreferReturn::kMinimal || rec.json.empty()) {
      if (rec.json.empty()) {  // deletes
        SendJson(res, w->http_status, fhir::MakeOperationOutcome(Status::Ok(), w->message), fmt);
      }
      return;
    }
    if (prefer == PreferReturn::kOperationOutcome) {
      SendJson(
          res, w->http_status,
          fhir::MakeOperationOutcome(
              Status::Ok(), w->message.empty() ? "stored " + rec.type + "/" + rec.id : w->message),
          fmt);
      return;
    }
    res.Set("Content-Type", kFhirJson);
    res.body = fmt.pretty ? fhir::Serialize(json::parse(rec.json), true) : rec.json;
  };
  auto bundle_of = [&](const char* type, std::optional<int64_t> total,
                       const std::vector<store::VersionRecord>& recs, bool history) {
    json::object b{{"resourceType", "Bundle"}, {"id", NewUuid()}, {"type", type}};
    b["meta"] = json::object{{"lastUpdated", FormatInstant(SystemClock().NowMicros())}};
    if (total) b["total"] = *total;
    json::array entries;
    for (const auto& r : recs) {
      json::object e{{"fullUrl", ctx.base_url + "/" + r.type + "/" + r.id}};
      if (!r.json.empty()) {
        json::value v = json::parse(r.json);
        if (fmt.summary != fhir::SummaryMode::kFalse || !fmt.elements.empty()) {
          v = fhir::Subset(v, fmt.summary, fmt.elements, service_.defs());
        }
        e["resource"] = std::move(v);
      }
      if (history) {
        std::string url = r.method == "POST" ? r.type : r.type + "/" + r.id;
        e["request"] = json::object{{"method", r.method}, {"url", url}};
        e["response"] =
            json::object{{"status", r.deleted ? "204" : (r.version == 1 ? "201" : "200")},
                         {"etag", "W/\"" + std::to_string(r.version) + "\""},
                         {"lastModified", FormatInstant(r.last_updated_us)}};
      } else {
        e["search"] = json::object{{"mode", "match"}};
      }
      entries.push_back(std::move(e));
    }
    b["entry"] = std::move(entries);
    return b;
  };
  auto history = [&](store::HistoryQuery q) {
    q.count = service_.config().default_page_size;
    for (const auto& [k, v] : params) {
      if (k == "_count") {
        char* end = nullptr;
        long c = std::strtol(v.c_str(), &end, 10);
        if (v.empty() || *end != '\0' || c < 1) {
          SendStatus(res, Status(Code::kInvalid,
                                 "_count must be a positive integer, not '" + v + "'", "_count"));
          return;
        }
        q.count = static_cast<int>(std::min<long>(c, service_.config().max_page_size));
      }
      if (k == "_since" || k == "_at") {
        auto r = ParseFhirDateRange(v);
        if (!r) {
          SendStatus(res,
                     Status(Code::kInvalid, k + " must be a FHIR instant, not '" + v + "'", k));
          return;
        }
        if (k == "_since")
          q.since_us = r->low;
        else
          q.at_or_before_us = r->high;
      }
      if (k == "_before_seq") {
        char* end = nullptr;
        q.before_seq = std::strtoll(v.c_str(), &end, 10);
        if (v.empty() || *end != '\0' || q.before_seq < 0) {
          SendStatus(res, Status(Code::kInvalid, "bad paging cursor _before_seq='" + v + "'",
                                 "_before_seq"));
          return;
        }
      }
    }
    auto page = service_.History(ctx, q);
    if (!page.ok()) {
      SendStatus(res, page.status());
      return;
    }
    json::object b =
        bundle_of("history", page->total >= 0 ? std::optional<int64_t>(page->total) : std::nullopt,
                  page->entries, true);
    std::string self = ctx.base_url + "/" + (q.type.empty() ? "" : q.type + "/") +
                       (q.id.empty() ? "" : q.id + "/") + "_history";
    json::array links{json::object{{"relation", "self"},
                                   {"url", self + (req.query.empty() ? "" : "?" + req.query)}}};
    if (page->next_before_seq > 0) {
      service::Params next;
      for (const auto& [k, v] : params) {
        if (k != "_before_seq") next.emplace_back(k, v);
      }
      next.emplace_back("_before_seq", std::to_string(page->next_before_seq));
      links.push_back(json::object{{"relation", "next"},
                                   {"url", self + "?" + service::EncodeQueryString(next)}});
    }
    b["link"] = std::move(links);
    SendJson(res, 200, b, fmt);
  };
  // `compartment`: "Patient/123" for a compartment search (/Patient/123/Observation), else empty.
  auto search = [&](const std::string& type, service::Params sp, const std::string& compartment) {
    auto parsed =
        service::ParseSearch(type, sp, service_.defs(), ctx.strict,
                             service_.config().default_page_size, service_.config().max_page_size);
    if (!parsed.ok()) {
      SendStatus(res, parsed.status());
      return;
    }
    if (!compartment.empty()) {
      auto slash = compartment.find('/');
      auto cond = service_.CompartmentCondition(compartment.substr(0, slash),
                                                compartment.substr(slash + 1), type);
      if (!cond) {
        SendStatus(res, Status(Code::kNotFound, type + " is not in the " +
                                                    compartment.substr(0, slash) + " compartment"));
        return;
      }
      parsed->query.all_of.push_back(std::move(*cond));
    }
    fmt.summary = parsed->summary;
    fmt.elements = parsed->elements;
    if (parsed->summary == fhir::SummaryMode::kCount) parsed->query.count = 0;
    auto r = service_.Search(ctx, type, *parsed);
    if (!r.ok()) {
      SendStatus(res, r.status());
      return;
    }
    json::object b = bundle_of("searchset", r->total, r->matches, false);
    if (!parsed->includes.empty()) {
      auto inc = service_.ResolveIncludes(ctx, r->matches, parsed->includes,
                                          static_cast<size_t>(service_.config().max_page_size));
      if (!inc.ok()) {
        SendStatus(res, inc.status());
        return;
      }
      json::object ib = bundle_of("searchset", std::nullopt, *inc, false);
      json::array& entries = b["entry"].get_array();
      for (auto& e : ib["entry"].get_array()) {
        e.get_object()["search"] = json::object{{"mode", "include"}};
        entries.push_back(std::move(e));
      }
    }
    std::string self = ctx.base_url + (type.empty() ? "" : "/") +
                       (compartment.empty() ? type : compartment + "/" + type);
    // Paging: in the default order a keyset cursor (stable while others write); with _sort,
    // offsets.
    const bool keyset = parsed->query.sort.empty();
    auto link = [&](const char* key, int64_t position) {
      service::Params p;
      for (const auto& kv : parsed->used) p.push_back(kv);
      for (const auto& [k, v] : sp) {
        bool special = k == "_count" || k == "_total" || k == "_summary" || k == "_elements" ||
                       k == "_sort" || k == "_offset" || k == "_cursor" || k == "_format" ||
                       k == "_pretty";
        if (!special && std::find(p.begin(), p.end(), std::make_pair(k, v)) == p.end())
          p.emplace_back(k, v);
      }
      if (position > 0 || std::string_view(key) == "_offset")
        p.emplace_back(key, std::to_string(position));
      return self + "?" + service::EncodeQueryString(p);
    };
    json::array links{json::object{{"relation", "self"},
                                   {"url", keyset ? link("_cursor", parsed->query.after_key)
                                                  : link("_offset", parsed->query.offset)}}};
    if (r->has_more && parsed->query.count > 0) {
      links.push_back(json::object{
          {"relation", "next"},
          {"url", keyset ? link("_cursor", r->last_key)
                         : link("_offset", parsed->query.offset + parsed->query.count)}});
    }
    if (!keyset && parsed->query.offset > 0) {
      links.push_back(json::object{
          {"relation", "previous"},
          {"url",
           link("_offset", std::max<int64_t>(0, parsed->query.offset - parsed->query.count))}});
    }
    b["link"] = std::move(links);
    if (!parsed->warnings.empty()) {
      Status warn;
      for (const auto& w : parsed->warnings)
        warn.AddIssue(Issue{Code::kNotSupported, "warning", w, ""});
      json::array entries = b["entry"].get_array();
      entries.push_back(json::object{{"resource", fhir::MakeOperationOutcome(warn)},
                                     {"search", json::object{{"mode", "outcome"}}}});
      b["entry"] = std::move(entries);
    }
    SendJson(res, 200, b, fmt);
  };

  // Read-side format parameters.
  for (const auto& [k, v] : params) {
    if (k == "_summary") {
      auto s = fhir::ParseSummary(v);
      if (!s.ok()) {
        SendStatus(res, s.status());
        return;
      }
      fmt.summary = *s;
    } else if (k == "_elements") {
      for (auto& e : service::SplitOr(v)) fmt.elements.push_back(e);
    }
  }

  const size_t n = parts.size();
  if (n == 0) {
    if (m == "POST") {
      json::value body;
      Status st = parse_body(&body);
      if (!st.ok()) return SendStatus(res, st);
      auto r =
          service_.ProcessBundle(ctx, std::move(body), prefer == PreferReturn::kRepresentation);
      if (!r.ok()) return SendStatus(res, r.status(), fmt.pretty);
      return SendJson(res, 200, *r, fmt);
    }
    if (m == "GET" || m == "HEAD") return search("", params, "");  // system search (_type)
    return SendStatus(res, Status(Code::kMethodNotAllowed, m + " is not allowed on the base URL"));
  }
  if (n == 1 && parts[0] == "_history" && m == "GET") return history(store::HistoryQuery{});
  if (n == 1 && parts[0] == "_search" && m == "POST") {
    service::Params sp = params;
    if (form) {
      for (auto& kv : service::ParseQueryString(req.body)) sp.push_back(kv);
    }
    return search("", sp, "");
  }
  const std::string& type = parts[0];
  if (!service_.defs().IsResourceType(type)) {
    return SendStatus(res,
                      Status(Code::kNotFound, "'" + type + "' is not a FHIR R4 resource type"));
  }
  if (n == 1) {
    if (m == "GET" || m == "HEAD") return search(type, params, "");
    if (m == "POST") {
      json::value body;
      Status st = parse_body(&body);
      if (!st.ok()) return SendStatus(res, st);
      service::WriteOptions wo;
      wo.if_none_exist = std::string(req.Header("if-none-exist"));
      if (auto q = wo.if_none_exist.find('?'); q != std::string::npos)
        wo.if_none_exist = wo.if_none_exist.substr(q + 1);
      return send_write(service_.Create(ctx, type, std::move(body), wo), true);
    }
    if (m == "PUT") {
      json::value body;
      Status st = parse_body(&body);
      if (!st.ok()) return SendStatus(res, st);
      service::Params cond;
      for (const auto& kv : params) {
        if (kv.first != "_format" && kv.first != "_pretty") cond.push_back(kv);
      }
      return send_write(
          service_.ConditionalUpdate(ctx, type, cond, std::move(body), {*if_match, {}}), true);
    }
    if (m == "DELETE") {
      service::Params cond;
      for (const auto& kv : params) {
        if (kv.first != "_format" && kv.first != "_pretty") cond.push_back(kv);
      }
      return send_write(service_.ConditionalDelete(ctx, type, cond), false);
    }
    return SendStatus(res, Status(Code::kMethodNotAllowed, m + " is not allowed on /" + type));
  }
  const std::string& second = parts[1];
  if (n == 2 && second == "_search" && m == "POST") {
    service::Params sp = params;
    if (form) {
      for (auto& kv : service::ParseQueryString(req.body)) sp.push_back(kv);
    }
    return search(type, sp, "");
  }
  if (n == 2 && second == "_history" && m == "GET") {
    store::HistoryQuery q;
    q.type = type;
    return history(q);
  }
  if (HandleTerminology(req, res, parts, fmt.pretty)) return;
  const std::string& id = second;
  if (!id.empty() && (id[0] == '_' || id[0] == '$')) {
    return SendStatus(
        res, Status(Code::kMethodNotAllowed, m + " is not supported on /" + type + "/" + id));
  }
  if (n == 2) {
    if (m == "GET" || m == "HEAD") {
      auto r = service_.Read(ctx, type, id);
      if (!r.ok()) return SendStatus(res, r.status(), fmt.pretty);
      std::string_view inm = req.Header("if-none-match");
      if (!inm.empty() && inm == "W/\"" + std::to_string(r->version) + "\"") {
        res.status = 304;
        return;
      }
      return send_record(200, *r, false);
    }
    if (m == "PUT") {
      json::value body;
      Status st = parse_body(&body);
      if (!st.ok()) return SendStatus(res, st);
      return send_write(service_.Update(ctx, type, id, std::move(body), {*if_match, {}}), true);
    }
    if (m == "PATCH") {
      if (ctype.find("json-patch") == std::string_view::npos) {
        return SendStatus(
            res, Status(Code::kUnsupportedMedia, "PATCH takes application/json-patch+json"));
      }
      json::value body;
      Status st = parse_body(&body);
      if (!st.ok()) return SendStatus(res, st);
      return send_write(service_.Patch(ctx, type, id, body, {*if_match, {}}), false);
    }
    if (m == "DELETE") return send_write(service_.Delete(ctx, type, id, {*if_match, {}}), false);
    return SendStatus(
        res, Status(Code::kMethodNotAllowed, m + " is not allowed on /" + type + "/" + id));
  }
  if (n == 3 && m == "GET" && type == "Patient" && parts[2] == "$everything") {
    bool truncated = false;
    service::ResourceService::EverythingOptions eo;
    for (const auto& [k, v] : params) {
      if (k == "_type") {
        for (const auto& t : service::SplitOr(v)) {
          if (!service_.defs().IsResourceType(t)) {
            return SendStatus(
                res, Status(Code::kInvalid, "_type: '" + t + "' is not a FHIR R4 resource type",
                            "_type"));
          }
          eo.types.push_back(t);
        }
      } else if (k == "_since") {
        auto r = ParseFhirDateRange(v);
        if (!r) {
          return SendStatus(
              res, Status(Code::kInvalid, "_since must be a FHIR instant, not '" + v + "'", k));
        }
        eo.since_us = r->low;
      }
    }
    auto all = service_.Everything(ctx, id, eo, &truncated);
    if (!all.ok()) return SendStatus(res, all.status(), fmt.pretty);
    json::object b = bundle_of("searchset", static_cast<int64_t>(all->size()), *all, false);
    if (truncated) {
      Status warn;
      warn.AddIssue(Issue{Code::kTooLarge, "warning",
                          "some resource types have more than " +
                              std::to_string(service_.config().max_page_size) +
                              " resources in this compartment; only that many of each are included",
                          ""});
      b["entry"].get_array().push_back(json::object{{"resource", fhir::MakeOperationOutcome(warn)},
                                                    {"search", json::object{{"mode", "outcome"}}}});
    }
    return SendJson(res, 200, b, fmt);
  }
  if (n == 3 && (m == "GET" || m == "HEAD") && service_.defs().IsResourceType(parts[2]) &&
      service_.defs().CompartmentParams(type, parts[2]) != nullptr) {
    return search(parts[2], params, type + "/" + id);
  }
  if (parts[2] == "_history" && m == "GET") {
    if (n == 3) {
      store::HistoryQuery q;
      q.type = type;
      q.id = id;
      return history(q);
    }
    if (n == 4) {
      char* end = nullptr;
      long long v = std::strtoll(parts[3].c_str(), &end, 10);
      if (*end != '\0' || v <= 0)
        return SendStatus(res, Status(Code::kNotFound, "bad version id '" + parts[3] + "'"));
      auto r = service_.VRead(ctx, type, id, v);
      if (!r.ok()) return SendStatus(res, r.status(), fmt.pretty);
      return send_record(200, *r, false);
    }
  }
  SendStatus(res, Status(Code::kNotFound, "no route for " + m + " " + req.path));
}

bool FhirApi::HandleTerminology(const HttpRequest& req, HttpResponse& res,
                                const std::vector<std::string>& parts, bool pretty) {
  const size_t n = parts.size();
  if (n < 2 || n > 3 || parts.back().empty() || parts.back()[0] != '$') return false;
  const std::string& type = parts[0];
  const std::string& op = parts.back();
  if (type != "ValueSet" && type != "CodeSystem" && type != "ConceptMap") return false;
  if (!terminology_) return false;
  if (req.method != "GET" && req.method != "POST") {
    SendStatus(res, Status(Code::kMethodNotAllowed, req.method + " is not allowed on " + op));
    return true;
  }
  terminology::OpParams params;
  for (auto& kv : service::ParseQueryString(req.query)) {
    if (kv.first != "_format" && kv.first != "_pretty") params.push_back(std::move(kv));
  }
  if (req.method == "POST" && !req.body.empty()) {
    json::value body;
    Status st = fhir::ParseJson(req.body, &body);
    if (!st.ok()) {
      SendStatus(res, st, pretty);
      return true;
    }
    auto more = terminology::TerminologyService::ParamsFromBody(body);
    if (!more.ok()) {
      SendStatus(res, more.status(), pretty);
      return true;
    }
    for (auto& kv : *more) params.push_back(std::move(kv));
  }
  const std::string id = n == 3 ? parts[1] : std::string();
  Result<json::object> out = Status(Code::kNotFound, "no operation " + op + " on " + type);
  if (type == "ValueSet" && op == "$expand") {
    out = terminology_->Expand(params, id);
  } else if ((type == "ValueSet" || type == "CodeSystem") && op == "$validate-code") {
    out = terminology_->ValidateCode(type, params, id);
  } else if (type == "CodeSystem" && op == "$lookup") {
    out = terminology_->Lookup(params, id);
  } else if (type == "ConceptMap" && op == "$translate") {
    out = terminology_->Translate(params, id);
  }
  if (!out.ok()) {
    SendStatus(res, out.status(), pretty);
    return true;
  }
  res.status = 200;
  res.Set("Content-Type", kFhirJson);
  res.body = fhir::Serialize(*out, pretty);
  return true;
}

}  // namespace benhan::api
