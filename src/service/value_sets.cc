#include "service/value_sets.h"

#include <boost/json.hpp>
#include <set>

namespace json = boost::json;

namespace benhan::service {
namespace {

constexpr size_t kMaxCodes = 10000;
constexpr int kMaxDepth = 8;

struct Expansion {
  std::set<std::pair<std::string, std::string>> codes;  // (system, code)
  std::set<std::string> systems;                        // whole code systems
};

std::string_view Str(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

void FlattenContains(const json::value* contains, Expansion& out) {
  if (contains == nullptr || !contains->is_array()) return;
  for (const auto& c : contains->get_array()) {
    if (!c.is_object()) continue;
    const auto& o = c.get_object();
    if (!Str(o, "code").empty()) out.codes.emplace(Str(o, "system"), Str(o, "code"));
    FlattenContains(o.if_contains("contains"), out);
  }
}

// A stored ValueSet by canonical URL or "ValueSet/id"; nullopt if none.
Result<std::optional<json::value>> FindStored(const std::string& ref, store::Store& store) {
  if (ref.rfind("ValueSet/", 0) == 0) {
    auto r = store.Read("ValueSet", ref.substr(9));
    if (!r.ok() || r->deleted) return std::optional<json::value>();
    return std::optional<json::value>(json::parse(r->json));
  }
  store::Query q;
  store::Condition c;
  c.param = "url";
  c.kind = store::ParamKind::kUri;
  store::QueryValue v;
  v.code = ref.substr(0, ref.find('|'));
  c.any_of.push_back(std::move(v));
  q.all_of.push_back(std::move(c));
  q.count = 1;
  q.want_total = false;
  ASSIGN_OR_RETURN(store::SearchResult r, store.Search("ValueSet", q));
  if (r.matches.empty()) return std::optional<json::value>();
  return std::optional<json::value>(json::parse(r.matches.front().json));
}

Status ExpandOne(const std::string& url, store::Store& store, const fhir::Definitions& defs,
                 const CodeHierarchy* hierarchy, int depth, Expansion& out);

// The codes of `system` that a compose include's `filter` list selects. Only the hierarchy
// filters (`concept is-a X`: X and its descendants; `descendent-of`: without X), one per include,
// on a code system the terminology service holds; anything else is kNotSupported naming it.
Result<std::vector<std::string>> FilterCodes(const std::string& url, const std::string& system,
                                             const json::value& filters,
                                             const CodeHierarchy* hierarchy) {
  auto refuse = [&](const std::string& why) {
    return Status(Code::kNotSupported,
                  "value set " + url + " selects codes by filter (" + why + ")");
  };
  if (!filters.is_array() || filters.get_array().size() != 1 || !filters.get_array()[0].is_object())
    return refuse("only one filter per include is supported");
  const auto& f = filters.get_array()[0].get_object();
  std::string property(Str(f, "property")), op(Str(f, "op")), value(Str(f, "value"));
  std::string what = property + " " + op + " " + value + " in " + system;
  if (property != "concept" || (op != "is-a" && op != "descendent-of"))
    return refuse(what + ": only concept is-a / descendent-of are supported");
  if (hierarchy == nullptr) return refuse(what + ": needs the terminology service");
  auto codes = hierarchy->Related(system, value, /*below=*/true);
  if (!codes.ok()) return refuse(what + ": " + codes.status().message());
  if (op == "descendent-of" && !codes->empty()) codes->erase(codes->begin());
  return codes;
}

// Expands `url` on its own (its exclusions apply to it only) and adds the result to `into`.
Status Expand(const std::string& url, store::Store& store, const fhir::Definitions& defs,
              const CodeHierarchy* hierarchy, int depth, Expansion& into) {
  Expansion one;
  RETURN_IF_ERROR(ExpandOne(url, store, defs, hierarchy, depth, one));
  into.codes.insert(one.codes.begin(), one.codes.end());
  into.systems.insert(one.systems.begin(), one.systems.end());
  return Status::Ok();
}

Status ExpandOne(const std::string& url, store::Store& store, const fhir::Definitions& defs,
                 const CodeHierarchy* hierarchy, int depth, Expansion& out) {
  if (depth > kMaxDepth)
    return Status(Code::kNotSupported, "value set " + url + " includes value sets too deeply");
  ASSIGN_OR_RETURN(std::optional<json::value> stored, FindStored(url, store));
  if (stored && stored->is_object()) {
    const auto& vs = stored->get_object();
    if (const auto* ex = vs.if_contains("expansion"); ex && ex->is_object()) {
      FlattenContains(ex->get_object().if_contains("contains"), out);
      return Status::Ok();
    }
    const auto* compose = vs.if_contains("compose");
    if (compose == nullptr || !compose->is_object()) {
      return Status(Code::kNotSupported,
                    "value set " + url + " has neither an expansion nor a compose");
    }
    std::set<std::pair<std::string, std::string>> excluded;
    for (const char* part : {"include", "exclude"}) {
      const auto* list = compose->get_object().if_contains(part);
      if (list == nullptr || !list->is_array()) continue;
      const bool include = std::string_view(part) == "include";
      for (const auto& inc : list->get_array()) {
        if (!inc.is_object()) continue;
        const auto& io = inc.get_object();
        std::string system(Str(io, "system"));
        if (const auto* fl = io.if_contains("filter")) {
          if (io.contains("valueSet") || io.contains("concept")) {
            return Status(Code::kNotSupported,
                          "value set " + url + " combines a filter with concepts or value sets");
          }
          ASSIGN_OR_RETURN(auto codes, FilterCodes(url, system, *fl, hierarchy));
          for (auto& code : codes)
            (include ? out.codes : excluded).emplace(system, std::move(code));
          continue;
        }
        if (const auto* vsl = io.if_contains("valueSet"); vsl && vsl->is_array() && include) {
          for (const auto& v : vsl->get_array()) {
            if (v.is_string())
              RETURN_IF_ERROR(
                  Expand(std::string(v.get_string()), store, defs, hierarchy, depth + 1, out));
          }
        }
        if (const auto* cl = io.if_contains("concept"); cl && cl->is_array()) {
          for (const auto& c : cl->get_array()) {
            if (!c.is_object()) continue;
            std::pair<std::string, std::string> key(system, Str(c.get_object(), "code"));
            if (include)
              out.codes.insert(key);
            else
              excluded.insert(key);
          }
        } else if (!system.empty()) {
          if (!include) {
            return Status(Code::kNotSupported,
                          "value set " + url + " excludes a whole code system");
          }
          out.systems.insert(system);
        }
      }
    }
    for (const auto& e : excluded) out.codes.erase(e);
    return Status::Ok();
  }
  const std::string canonical = url.substr(0, url.find('|'));
  // HL7's expansion when the definitions carry one (complete for HL7's own code systems, whose
  // codes a compose "include system" does not list), else the compose.
  if (const auto* codes = defs.ValueSetCodes(canonical)) {
    for (const auto& key : *codes) {
      auto bar = key.find('|');
      if (bar != std::string::npos) out.codes.emplace(key.substr(0, bar), key.substr(bar + 1));
    }
    return Status::Ok();
  }
  const fhir::Definitions::ValueSetCompose* c = defs.FindValueSetCompose(canonical);
  if (c == nullptr) {
    return Status(Code::kInvalid, "value set " + url +
                                      " is neither stored on this server nor one of HL7's R4 "
                                      "value sets");
  }
  if (c->has_filters) {
    // HL7's value sets name their code systems' hierarchies (SNOMED CT...), not held here.
    return Status(Code::kNotSupported,
                  "value set " + url +
                      " selects codes by filter over a code system this server does not hold");
  }
  for (const auto& v : c->value_sets)
    RETURN_IF_ERROR(Expand(v, store, defs, hierarchy, depth + 1, out));
  for (const auto& code : c->codes) out.codes.insert(code);
  for (const auto& s : c->systems) out.systems.insert(s);
  for (const auto& e : c->excluded) out.codes.erase(e);
  return Status::Ok();
}

}  // namespace

Status ExpandValueSetModifiers(std::vector<store::Condition>& conds, store::Store& store,
                               const fhir::Definitions& defs, const CodeHierarchy* hierarchy) {
  for (auto& c : conds) {
    for (auto& ch : c.chains)
      RETURN_IF_ERROR(ExpandValueSetModifiers(ch.all_of, store, defs, hierarchy));
    if (c.modifier != "in" && c.modifier != "not-in") continue;
    Expansion ex;
    for (const auto& v : c.any_of) RETURN_IF_ERROR(Expand(v.code, store, defs, hierarchy, 0, ex));
    if (ex.codes.size() + ex.systems.size() > kMaxCodes) {
      return Status(Code::kNotSupported,
                    "the value set of " + c.param + ":" + c.modifier + " has more than " +
                        std::to_string(kMaxCodes) + " codes",
                    c.param + ":" + c.modifier);
    }
    std::vector<store::QueryValue> values;
    for (const auto& [system, code] : ex.codes) {
      store::QueryValue v;
      v.has_system = true;
      v.system = system;
      v.code = code;
      values.push_back(v);
      // An element of type `code` is indexed without a system (the system is implied by its
      // binding): match its code too.
      v.system.clear();
      values.push_back(std::move(v));
    }
    for (const auto& system : ex.systems) {
      store::QueryValue v;
      v.has_system = true;
      v.system = system;
      values.push_back(std::move(v));
    }
    c.any_of = std::move(values);
    c.modifier = c.modifier == "in" ? "" : "not";
  }
  return Status::Ok();
}

Status ExpandCodeHierarchyModifiers(std::vector<store::Condition>& conds,
                                    const CodeHierarchy* hierarchy) {
  for (auto& c : conds) {
    for (auto& ch : c.chains) RETURN_IF_ERROR(ExpandCodeHierarchyModifiers(ch.all_of, hierarchy));
    if (c.kind != store::ParamKind::kToken || (c.modifier != "below" && c.modifier != "above"))
      continue;
    std::string where = c.param + ":" + c.modifier;
    if (hierarchy == nullptr) {
      return Status(Code::kNotSupported,
                    "modifier ':" + c.modifier + "' needs the terminology service", where);
    }
    std::vector<store::QueryValue> values;
    for (const auto& v : c.any_of) {
      if (!v.has_system || v.system.empty() || v.code.empty()) {
        return Status(Code::kInvalid,
                      "search parameter " + where +
                          " needs system|code: a code's place in a hierarchy depends on its system",
                      where);
      }
      auto codes = hierarchy->Related(v.system, v.code, c.modifier == "below");
      if (!codes.ok()) {
        // An unknown code or system is a fault of the query (400), not a missing resource.
        Code code =
            codes.status().code() == Code::kNotFound ? Code::kInvalid : codes.status().code();
        return Status(code, "search parameter " + where + ": " + codes.status().message(), where);
      }
      for (auto& code : *codes) {
        store::QueryValue out;
        out.has_system = true;
        out.system = v.system;
        out.code = std::move(code);
        values.push_back(std::move(out));
      }
    }
    if (values.size() > kMaxCodes) {
      return Status(Code::kNotSupported,
                    where + " covers more than " + std::to_string(kMaxCodes) + " codes", where);
    }
    c.any_of = std::move(values);
    c.modifier.clear();
  }
  return Status::Ok();
}

}  // namespace benhan::service
