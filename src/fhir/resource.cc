#include "fhir/resource.h"

#include <boost/json.hpp>

#include "core/clock.h"

namespace json = boost::json;

namespace benhan::fhir {

json::object StampMeta(const json::object& resource, std::string_view id, int64_t version, int64_t last_updated_us) {
  json::object out;
  out.reserve(resource.size() + 2);
  if (const auto* rt = resource.if_contains("resourceType")) out.emplace("resourceType", *rt);
  out.emplace("id", id);
  json::object meta;
  if (const auto* m = resource.if_contains("meta"); m && m->is_object()) meta = m->get_object();
  meta["versionId"] = std::to_string(version);
  meta["lastUpdated"] = FormatInstant(last_updated_us);
  out.emplace("meta", std::move(meta));
  for (const auto& kv : resource) {
    if (kv.key() == "resourceType" || kv.key() == "id" || kv.key() == "meta") continue;
    out.emplace(kv.key(), kv.value());
  }
  return out;
}

namespace {

void Pretty(const json::value& v, std::string& out, int indent) {
  auto pad = [&](int n) { out.append(static_cast<size_t>(n) * 2, ' '); };
  switch (v.kind()) {
    case json::kind::object: {
      const auto& o = v.get_object();
      if (o.empty()) {
        out += "{}";
        return;
      }
      out += "{\n";
      bool first = true;
      for (const auto& kv : o) {
        if (!first) out += ",\n";
        first = false;
        pad(indent + 1);
        out += json::serialize(json::string(kv.key()));
        out += ": ";
        Pretty(kv.value(), out, indent + 1);
      }
      out += "\n";
      pad(indent);
      out += "}";
      return;
    }
    case json::kind::array: {
      const auto& a = v.get_array();
      if (a.empty()) {
        out += "[]";
        return;
      }
      out += "[\n";
      bool first = true;
      for (const auto& e : a) {
        if (!first) out += ",\n";
        first = false;
        pad(indent + 1);
        Pretty(e, out, indent + 1);
      }
      out += "\n";
      pad(indent);
      out += "]";
      return;
    }
    default:
      out += json::serialize(v);
  }
}

void AddSubsettedTag(json::object& o) {
  json::object& meta = o["meta"].is_object() ? o["meta"].get_object() : o["meta"].emplace_object();
  json::array& tags = meta["tag"].is_array() ? meta["tag"].get_array() : meta["tag"].emplace_array();
  tags.push_back(json::object{{"system", "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"},
                              {"code", "SUBSETTED"},
                              {"display", "Resource encoded in summary mode"}});
}

}  // namespace

std::string Serialize(const json::value& v, bool pretty) {
  if (!pretty) return json::serialize(v);
  std::string out;
  Pretty(v, out, 0);
  out += "\n";
  return out;
}

Result<SummaryMode> ParseSummary(std::string_view s) {
  if (s == "true") return SummaryMode::kTrue;
  if (s == "false") return SummaryMode::kFalse;
  if (s == "text") return SummaryMode::kText;
  if (s == "data") return SummaryMode::kData;
  if (s == "count") return SummaryMode::kCount;
  return Status(Code::kInvalid, "_summary must be true, false, text, data or count, not '" + std::string(s) + "'",
                "_summary");
}

json::value Subset(const json::value& resource, SummaryMode mode, const std::vector<std::string>& elements,
                   const Definitions& defs) {
  if (!resource.is_object()) return resource;
  const json::object& in = resource.get_object();
  if (mode == SummaryMode::kFalse && elements.empty()) return resource;
  std::string_view type = in.contains("resourceType") ? std::string_view(in.at("resourceType").get_string()) : "";
  const TypeDef* td = defs.FindType(type);
  json::object out;
  for (const auto& kv : in) {
    std::string_view key = kv.key();
    bool keep = false;
    if (key == "resourceType" || key == "id" || key == "meta") {
      keep = true;
    } else if (!elements.empty()) {
      std::string_view base = key.front() == '_' ? key.substr(1) : key;
      for (const auto& e : elements) {
        if (e == base) keep = true;
      }
      // Mandatory elements are always returned.
      if (!keep && td) {
        ChildRef c = defs.FindChild(*td, 0, base);
        if (c && c.def().min > 0) keep = true;
      }
    } else if (mode == SummaryMode::kData) {
      keep = key != "text";
    } else if (mode == SummaryMode::kText) {
      keep = key == "text";
      if (!keep && td) {
        ChildRef c = defs.FindChild(*td, 0, key.front() == '_' ? key.substr(1) : key);
        keep = c && c.def().min > 0;
      }
    } else if (mode == SummaryMode::kTrue) {
      if (td) {
        ChildRef c = defs.FindChild(*td, 0, key.front() == '_' ? key.substr(1) : key);
        keep = c && (c.def().summary || c.def().min > 0);
      }
    }
    if (keep) out.emplace(key, kv.value());
  }
  AddSubsettedTag(out);
  return out;
}

json::object MakeOperationOutcome(const Status& status, std::string_view ok_message) {
  json::array issues;
  if (status.ok()) {
    issues.push_back(json::object{{"severity", "information"},
                                  {"code", "informational"},
                                  {"diagnostics", ok_message.empty() ? "OK" : ok_message}});
  }
  for (const auto& i : status.issues()) {
    json::object o;
    o["severity"] = i.severity;
    o["code"] = IssueCodeOf(i.code);
    o["diagnostics"] = i.message;
    if (!i.expression.empty()) o["expression"] = json::array{json::string(i.expression)};
    issues.push_back(std::move(o));
  }
  return json::object{{"resourceType", "OperationOutcome"}, {"issue", std::move(issues)}};
}

}  // namespace benhan::fhir
