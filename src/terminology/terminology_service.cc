#include "terminology/terminology_service.h"

#include <algorithm>
#include <boost/json.hpp>

#include "core/clock.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/text.h"
#include "terminology/concept_index.h"
#include "terminology/vn_address.h"

namespace json = boost::json;

namespace benhan::terminology {

// A stored ValueSet, reduced to what expansion needs.
struct TerminologyService::ValueSetDef {
  std::string url, version, id, name, title;
  struct Include {
    std::string system, version;
    std::vector<std::string> codes;  // empty: the whole system
    // compose filters on the hierarchy: (op, code) with op "is-a" or "descendent-of"
    std::vector<std::pair<std::string, std::string>> filters;
  };
  std::vector<Include> include, exclude;
  std::string unsupported;  // why it cannot be expanded here (filters, nested value sets)
};

// A stored ConceptMap: source (system, code) -> targets.
struct TerminologyService::ConceptMapDef {
  std::string url, version, id, source_vs, target_vs;
  struct Target {
    std::string system, code, display, equivalence;
  };
  // key: source system + '|' + code
  std::multimap<std::string, Target> map;
};

// A value set expansion: its concepts (with their systems) and an index over them.
struct TerminologyService::Expansion {
  std::vector<std::shared_ptr<const CodeSystemVersion>> systems;  // keeps the concepts alive
  std::unordered_map<const Concept*, const CodeSystemVersion*> system_of;
  std::unique_ptr<ConceptIndex> own_index;  // null when one whole system: its own index
  const ConceptIndex* index = nullptr;
};

namespace {

std::string Str(const json::object& o, std::string_view key) {
  if (auto* v = o.if_contains(key); v && v->is_string()) return std::string(v->get_string());
  return {};
}

std::string Get(const OpParams& p, std::string_view name) {
  for (const auto& [k, v] : p)
    if (k == name) return v;
  return {};
}

std::string Today() { return FormatInstant(SystemClock().NowMicros()).substr(0, 10); }

// "Vietnamese / English" messages.
std::string Msg(const std::string& vi, const std::string& en) { return vi + " / " + en; }

json::object Param(std::string name, std::string_view value_key, json::value v) {
  json::object o{{"name", std::move(name)}};
  o[value_key] = std::move(v);
  return o;
}

std::string Display(const Concept& c, const std::string& lang) {
  if (lang.rfind("en", 0) == 0 && !c.display_en.empty()) return c.display_en;
  return c.display;
}

Result<size_t> ParseCount(const std::string& s, const char* name, size_t dflt, size_t max) {
  if (s.empty()) return dflt;
  char* end = nullptr;
  long v = std::strtol(s.c_str(), &end, 10);
  if (*end != '\0' || v < 0)
    return Status(Code::kInvalid,
                  Msg(std::string("Tham số ") + name + " phải là số nguyên không âm",
                      std::string(name) + " must be a non-negative integer"),
                  name);
  return std::min(static_cast<size_t>(v), max);
}

// A ConceptMap resource reduced to its (source system|code) -> targets.
std::shared_ptr<TerminologyService::ConceptMapDef> ParseConceptMap(const json::object& r,
                                                                   const std::string& id) {
  auto cm = std::make_shared<TerminologyService::ConceptMapDef>();
  cm->url = Str(r, "url");
  cm->version = Str(r, "version");
  cm->id = id;
  cm->source_vs = Str(r, "sourceUri") + Str(r, "sourceCanonical");
  cm->target_vs = Str(r, "targetUri") + Str(r, "targetCanonical");
  if (auto* groups = r.if_contains("group"); groups && groups->is_array()) {
    for (const auto& gv : groups->get_array()) {
      if (!gv.is_object()) continue;
      const auto& g = gv.get_object();
      std::string src = Str(g, "source"), tgt = Str(g, "target");
      auto* elems = g.if_contains("element");
      if (!elems || !elems->is_array()) continue;
      for (const auto& ev : elems->get_array()) {
        if (!ev.is_object()) continue;
        const auto& e = ev.get_object();
        auto* targets = e.if_contains("target");
        if (!targets || !targets->is_array()) continue;
        for (const auto& tv : targets->get_array()) {
          if (!tv.is_object()) continue;
          const auto& t = tv.get_object();
          cm->map.emplace(src + "|" + Str(e, "code"),
                          TerminologyService::ConceptMapDef::Target{
                              tgt, Str(t, "code"), Str(t, "display"), Str(t, "equivalence")});
        }
      }
    }
  }
  return cm;
}

}  // namespace

TerminologyService::TerminologyService(store::Store& store) : store_(store) {}
TerminologyService::~TerminologyService() = default;

void TerminologyService::NoteWrite() { noted_us_ = SystemClock().NowMicros(); }

void TerminologyService::MaybeReload() {
  int64_t noted = noted_us_.load();
  if (noted == 0) return;
  int64_t now = SystemClock().NowMicros();
  int64_t loaded = loaded_us_.load();  // when the last load started
  // A write noted since the last load: reload now (a client that got the write's response sees
  // it). The write is noted before it commits, so concurrent readers may reload too early: keep
  // reloading, at most every 100 ms, for 2 s after it.
  bool newer = loaded <= noted;
  bool tail = now - noted < 2'000'000 && now - checked_us_.load() >= 100'000;
  if (!newer && !tail) return;
  std::lock_guard<std::mutex> l(load_mu_);
  if (loaded_us_.load() != loaded) return;  // another thread just reloaded
  if (!newer) {
    // In the tail: reload only if a terminology resource changed since the last load started.
    checked_us_ = now;
    bool changed = false;
    for (const char* type : {"CodeSystem", "ValueSet", "ConceptMap"}) {
      store::Query q;
      q.count = 0;
      q.want_total = true;
      q.total_accurate = true;
      store::Condition c;
      c.param = "_lastUpdated";
      c.kind = store::ParamKind::kLastUpdated;
      store::QueryValue v;
      v.prefix = store::Prefix::kGe;
      v.low = loaded;
      v.high = loaded + 1;
      c.any_of.push_back(v);
      q.all_of.push_back(std::move(c));
      auto r = store_.Search(type, q);
      changed = changed || !r.ok() || r->total.value_or(1) > 0;
    }
    if (!changed) return;
  }
  Status st = Load();
  if (!st.ok()) log::Warn("terminology: reload failed: " + st.ToString());
}

Status TerminologyService::Load() {
  std::map<std::string, std::vector<std::shared_ptr<const CodeSystemVersion>>> systems;
  std::vector<std::shared_ptr<const ValueSetDef>> value_sets;
  std::vector<std::shared_ptr<const ConceptMapDef>> maps;
  systems[kIcd10VnUrl].push_back(StarterIcd10());
  systems[kProvinceSystem].push_back(BuiltinProvinces());
  systems[kLegacyProvinceSystem].push_back(BuiltinLegacyProvinces());
  maps.push_back(ParseConceptMap(ProvinceConceptMap(), "vn-province-legacy-to-current"));
  int64_t started = SystemClock().NowMicros();
  for (const char* type : {"CodeSystem", "ValueSet", "ConceptMap"}) {
    store::Query q;
    q.count = 100;
    while (true) {
      ASSIGN_OR_RETURN(store::SearchResult page, store_.Search(type, q));
      for (const auto& rec : page.matches) {
        json::error_code ec;
        json::value v = json::parse(rec.json, ec);
        if (ec || !v.is_object()) continue;
        const json::object& r = v.get_object();
        if (std::string_view(type) == "CodeSystem") {
          auto cs = FromResource(r);
          if (!cs.ok() || cs->concepts.empty()) continue;  // content=not-present: nothing to serve
          systems[cs->url].push_back(std::make_shared<const CodeSystemVersion>(std::move(*cs)));
        } else if (std::string_view(type) == "ValueSet") {
          auto vs = std::make_shared<ValueSetDef>();
          vs->url = Str(r, "url");
          vs->version = Str(r, "version");
          vs->id = rec.id;
          vs->name = Str(r, "name");
          vs->title = Str(r, "title");
          if (auto* compose = r.if_contains("compose"); compose && compose->is_object()) {
            for (const char* part : {"include", "exclude"}) {
              auto* arr = compose->get_object().if_contains(part);
              if (!arr || !arr->is_array()) continue;
              for (const auto& iv : arr->get_array()) {
                if (!iv.is_object()) continue;
                const auto& io = iv.get_object();
                ValueSetDef::Include inc;
                inc.system = Str(io, "system");
                inc.version = Str(io, "version");
                if (io.contains("valueSet") || inc.system.empty())
                  vs->unsupported = "compose." + std::string(part) +
                                    " with valueSet or without system (not supported yet)";
                if (auto* fs = io.if_contains("filter"); fs && fs->is_array()) {
                  for (const auto& fv : fs->get_array()) {
                    if (!fv.is_object()) continue;
                    std::string prop = Str(fv.get_object(), "property");
                    std::string op = Str(fv.get_object(), "op");
                    if (op == "descendant-of") op = "descendent-of";
                    if (prop != "concept" || (op != "is-a" && op != "descendent-of")) {
                      vs->unsupported = "compose filter " + prop + " " + op +
                                        " (only concept is-a / descendent-of)";
                      continue;
                    }
                    inc.filters.emplace_back(op, Str(fv.get_object(), "value"));
                  }
                }
                if (auto* cs = io.if_contains("concept"); cs && cs->is_array()) {
                  for (const auto& cv : cs->get_array())
                    if (cv.is_object()) inc.codes.push_back(Str(cv.get_object(), "code"));
                }
                (std::string_view(part) == "include" ? vs->include : vs->exclude)
                    .push_back(std::move(inc));
              }
            }
          }
          value_sets.push_back(std::move(vs));
        } else {
          maps.push_back(ParseConceptMap(r, rec.id));
        }
      }
      if (!page.has_more) break;
      q.after_key = page.last_key;
    }
  }
  std::lock_guard<std::mutex> l(mu_);
  systems_ = std::move(systems);
  value_sets_ = std::move(value_sets);
  concept_maps_ = std::move(maps);
  expansion_cache_.clear();
  loaded_us_ = started;
  return Status::Ok();
}

std::vector<std::shared_ptr<const CodeSystemVersion>> TerminologyService::Versions(
    const std::string& url) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = systems_.find(url);
  return it == systems_.end() ? std::vector<std::shared_ptr<const CodeSystemVersion>>{}
                              : it->second;
}

std::shared_ptr<const CodeSystemVersion> TerminologyService::Resolve(
    const std::string& url, const std::string& version, const std::string& date) const {
  auto all = Versions(url);
  if (!version.empty()) {
    for (const auto& v : all)
      if (v->version == version) return v;
    return nullptr;
  }
  // Stored versions before the built-in one; the newest (valid_from) first.
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    if (a->builtin != b->builtin) return !a->builtin;
    return a->valid_from > b->valid_from;
  });
  const std::string when = date.empty() ? Today() : date;
  for (const auto& v : all)
    if (v->InForce(when)) return v;
  if (date.empty() && !all.empty()) return all.front();
  return nullptr;
}

std::shared_ptr<const TerminologyService::ValueSetDef> TerminologyService::FindValueSet(
    const std::string& url, const std::string& id) const {
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& vs : value_sets_)
    if ((!id.empty() && vs->id == id) || (id.empty() && !url.empty() && vs->url == url)) return vs;
  if (!url.empty() && id.empty()) {
    // The implicit all-codes value set of a code system (CodeSystem.valueSet).
    for (const auto& [sys_url, versions] : systems_) {
      for (const auto& v : versions) {
        if (v->value_set == url) {
          auto def = std::make_shared<ValueSetDef>();
          def->url = url;
          def->name = v->name;
          def->title = v->title;
          def->include.push_back(ValueSetDef::Include{sys_url, {}, {}, {}});
          return def;
        }
      }
    }
  }
  return nullptr;
}

Result<std::shared_ptr<const TerminologyService::Expansion>> TerminologyService::ExpandDef(
    const ValueSetDef& vs, const std::string& date) {
  if (!vs.unsupported.empty())
    return Status(Code::kNotSupported,
                  Msg("Không thể mở rộng tập giá trị " + vs.url,
                      "cannot expand value set " + vs.url + ": " + vs.unsupported));
  auto exp = std::make_shared<Expansion>();
  std::string cache_key = vs.url + "|" + vs.version + "|" + vs.id;
  for (const auto& inc : vs.include) {
    auto cs = Resolve(inc.system, inc.version, date);
    if (!cs)
      return Status(Code::kNotFound,
                    Msg("Không tìm thấy hệ mã " + inc.system,
                        "unknown code system " + inc.system +
                            (inc.version.empty() ? "" : " version " + inc.version)));
    exp->systems.push_back(cs);
    cache_key += "|" + cs->url + "@" + cs->version;
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    if (auto it = expansion_cache_.find(cache_key); it != expansion_cache_.end()) return it->second;
  }
  // Whether `c` passes the include's hierarchy filters (its ancestors through `parent`).
  auto passes = [](const CodeSystemVersion& cs, const Concept& c, const ValueSetDef::Include& inc) {
    for (const auto& [op, code] : inc.filters) {
      bool ok = op == "is-a" && c.code == code;
      const Concept* p = &c;
      for (int depth = 0; !ok && depth < 32 && p && !p->parent.empty(); ++depth) {
        p = cs.Find(p->parent);
        ok = p && p->code == code;
      }
      if (!ok) return false;
    }
    return true;
  };
  if (vs.include.size() == 1 && vs.include[0].codes.empty() && vs.include[0].filters.empty() &&
      vs.exclude.empty()) {
    exp->index = &exp->systems[0]->index();
    for (const auto& c : exp->systems[0]->concepts) exp->system_of[&c] = exp->systems[0].get();
  } else {
    std::vector<const Concept*> list;
    for (size_t i = 0; i < vs.include.size(); ++i) {
      const auto& inc = vs.include[i];
      const CodeSystemVersion& cs = *exp->systems[i];
      auto excluded = [&](const Concept& c) {
        for (const auto& ex : vs.exclude) {
          if (ex.system != cs.url) continue;
          if (!ex.filters.empty() && !passes(cs, c, ex)) continue;
          if (ex.codes.empty()) return true;
          if (std::find(ex.codes.begin(), ex.codes.end(), c.code) != ex.codes.end()) return true;
        }
        return false;
      };
      auto take = [&](const Concept& c) {
        if (!passes(cs, c, inc) || excluded(c) || exp->system_of.count(&c)) return;
        list.push_back(&c);
        exp->system_of[&c] = &cs;
      };
      if (inc.codes.empty()) {
        for (const auto& c : cs.concepts) take(c);
      } else {
        for (const auto& code : inc.codes)
          if (const Concept* c = cs.Find(code)) take(*c);
      }
    }
    exp->own_index = std::make_unique<ConceptIndex>(list);
    exp->index = exp->own_index.get();
  }
  std::shared_ptr<const Expansion> out = exp;
  std::lock_guard<std::mutex> l(mu_);
  if (expansion_cache_.size() > 256) expansion_cache_.clear();
  expansion_cache_[cache_key] = out;
  return out;
}

Result<json::object> TerminologyService::Expand(const OpParams& params,
                                                const std::string& instance_id) {
  MaybeReload();
  std::string url = Get(params, "url");
  if (url.empty() && instance_id.empty())
    return Status(Code::kInvalid,
                  Msg("$expand cần tham số url (tập giá trị)", "$expand needs the url parameter"),
                  "url");
  // Accept "url|version".
  std::string vs_version = Get(params, "valueSetVersion");
  if (auto bar = url.find('|'); bar != std::string::npos) {
    vs_version = url.substr(bar + 1);
    url = url.substr(0, bar);
  }
  auto vs = FindValueSet(url, instance_id);
  if (!vs)
    return Status(Code::kNotFound,
                  Msg("Không tìm thấy tập giá trị " + (url.empty() ? instance_id : url),
                      "unknown value set " + (url.empty() ? instance_id : url)));
  const std::string date = Get(params, "date");
  std::string lang = Get(params, "displayLanguage");
  if (lang.empty()) lang = "vi";
  ASSIGN_OR_RETURN(size_t offset, ParseCount(Get(params, "offset"), "offset", 0, SIZE_MAX));
  ASSIGN_OR_RETURN(size_t count, ParseCount(Get(params, "count"), "count", 50, 1000));
  std::string filter = Get(params, "filter");
  // system-version: pin the version of a code system for this expansion.
  ValueSetDef def = *vs;
  for (const auto& [k, v] : params) {
    if (k != "system-version" && k != "force-system-version") continue;
    auto bar = v.find('|');
    if (bar == std::string::npos) continue;
    for (auto& inc : def.include)
      if (inc.system == v.substr(0, bar)) inc.version = v.substr(bar + 1);
  }
  ASSIGN_OR_RETURN(auto exp, ExpandDef(def, date));
  size_t total = 0;
  auto hits = exp->index->Search(filter, offset, count, &total);
  json::array contains;
  contains.reserve(hits.size());
  for (const auto& h : hits) {
    const CodeSystemVersion* cs = exp->system_of.at(h.item);
    json::object c{{"system", cs->url}};
    if (!cs->version.empty()) c["version"] = cs->version;
    c["code"] = h.item->code;
    c["display"] = Display(*h.item, lang);
    contains.push_back(std::move(c));
  }
  json::array eparams;
  if (!filter.empty()) eparams.push_back(Param("filter", "valueString", json::string(filter)));
  eparams.push_back(Param("offset", "valueInteger", static_cast<int64_t>(offset)));
  eparams.push_back(Param("count", "valueInteger", static_cast<int64_t>(count)));
  eparams.push_back(Param("displayLanguage", "valueCode", json::string(lang)));
  for (const auto& cs : exp->systems)
    eparams.push_back(Param("version", "valueUri", json::string(cs->url + "|" + cs->version)));
  json::object expansion{{"identifier", "urn:uuid:" + NewUuid()},
                         {"timestamp", FormatInstant(SystemClock().NowMicros())},
                         {"total", static_cast<int64_t>(total)},
                         {"offset", static_cast<int64_t>(offset)},
                         {"parameter", std::move(eparams)}};
  if (!contains.empty()) expansion["contains"] = std::move(contains);
  json::object out{{"resourceType", "ValueSet"}};
  if (!vs->id.empty()) out["id"] = vs->id;
  out["url"] = vs->url;
  if (!vs->version.empty()) out["version"] = vs->version;
  if (!vs->name.empty()) out["name"] = vs->name;
  if (!vs->title.empty()) out["title"] = vs->title;
  out["status"] = "active";
  out["expansion"] = std::move(expansion);
  return out;
}

namespace {

// Rule notes on a valid ICD-10 code, for $validate-code and $lookup.
std::vector<std::string> RuleNotes(const Concept& c, bool has_children) {
  std::vector<std::string> notes;
  if ((c.flags & kMoreSpecificExists) || has_children)
    notes.push_back(Msg("Mã " + c.code + " có mã chi tiết hơn, nên dùng mã 4-5 ký tự",
                        c.code + " has more specific codes; use a 4/5-character code"));
  if (c.flags & kNotMainDiagnosis)
    notes.push_back(Msg("Mã " + c.code + " không được dùng làm bệnh chính",
                        c.code + " is not allowed as the main diagnosis"));
  if (c.flags & kCauseOfDeathOnly)
    notes.push_back(Msg("Mã " + c.code + " chỉ dùng làm nguyên nhân tử vong",
                        c.code + " is only used as a cause of death"));
  return notes;
}

}  // namespace

Result<json::object> TerminologyService::ValidateCode(const std::string& type,
                                                      const OpParams& params,
                                                      const std::string& instance_id) {
  MaybeReload();
  std::string code = Get(params, "code");
  std::string system = Get(params, "system");
  std::string version =
      type == "CodeSystem" ? Get(params, "version") : Get(params, "systemVersion");
  std::string display = Get(params, "display");
  std::string date = Get(params, "date");
  std::string url = Get(params, "url");
  if (code.empty())
    return Status(Code::kInvalid,
                  Msg("$validate-code cần tham số code", "$validate-code needs code"), "code");
  std::shared_ptr<const CodeSystemVersion> cs;
  std::shared_ptr<const Expansion> exp;
  if (type == "CodeSystem") {
    if (url.empty()) url = system;
    if (!instance_id.empty()) {
      std::lock_guard<std::mutex> l(mu_);
      for (const auto& [u, vs] : systems_)
        for (const auto& v : vs)
          if (v->resource_id == instance_id) cs = v;
    } else {
      if (url.empty())
        return Status(Code::kInvalid,
                      Msg("Cần tham số url (hệ mã)", "url (code system) is required"), "url");
      cs = Resolve(url, version, date);
    }
    if (!cs)
      return Status(
          Code::kNotFound,
          Msg("Không tìm thấy hệ mã " + url + (version.empty() ? "" : " phiên bản " + version),
              "unknown code system " + url + (version.empty() ? "" : " version " + version) +
                  (date.empty() ? "" : " in force on " + date)));
  } else {
    auto vs = FindValueSet(url, instance_id);
    if (!vs)
      return Status(Code::kNotFound,
                    Msg("Không tìm thấy tập giá trị " + url, "unknown value set " + url));
    ASSIGN_OR_RETURN(exp, ExpandDef(*vs, date));
  }
  const Concept* found = nullptr;
  const CodeSystemVersion* found_in = nullptr;
  if (cs) {
    if (!system.empty() && system != cs->url) {
      found = nullptr;
    } else {
      found = cs->Find(code);
      found_in = cs.get();
    }
  } else {
    for (const auto& s : exp->systems) {
      if (!system.empty() && s->url != system) continue;
      const Concept* c = s->Find(code);
      if (c && exp->system_of.count(c)) {
        found = c;
        found_in = s.get();
        break;
      }
    }
  }
  json::array out;
  if (found && found->code != code && CodeKey(found->code) == CodeKey(code) &&
      code.find('.') == std::string::npos && found->code.find('.') != std::string::npos) {
    // "E119" is accepted as E11.9 (codes without the dot, as in insurance files).
  } else if (found && found->code != code) {
    found = nullptr;  // case or punctuation differences other than the dot are not the code
  }
  out.push_back(Param("result", "valueBoolean", found != nullptr));
  if (!found) {
    std::string where = cs ? cs->url + (cs->version.empty() ? "" : " (" + cs->version + ")") : url;
    out.push_back(Param("message", "valueString",
                        json::string(Msg("Mã '" + code + "' không có trong " + where,
                                         "code '" + code + "' is not in " + where))));
  } else {
    out.push_back(Param("display", "valueString", json::string(found->display)));
    if (!found_in->version.empty())
      out.push_back(Param("version", "valueString", json::string(found_in->version)));
    std::vector<std::string> notes = RuleNotes(*found, found_in->HasChildren(*found));
    if (!display.empty() && text::Fold(display) != text::Fold(found->display) &&
        text::Fold(display) != text::Fold(found->display_en))
      notes.push_back(Msg("Tên hiển thị '" + display + "' khác tên chuẩn '" + found->display + "'",
                          "display '" + display + "' differs from '" + found->display + "'"));
    if (found->code != code)
      notes.push_back(Msg("Mã '" + code + "' được hiểu là " + found->code,
                          "code '" + code + "' read as " + found->code));
    if (!notes.empty()) {
      std::string joined;
      for (const auto& n : notes) joined += (joined.empty() ? "" : "; ") + n;
      out.push_back(Param("message", "valueString", json::string(joined)));
    }
  }
  return json::object{{"resourceType", "Parameters"}, {"parameter", std::move(out)}};
}

Result<json::object> TerminologyService::Lookup(const OpParams& params,
                                                const std::string& instance_id) {
  MaybeReload();
  std::string code = Get(params, "code");
  std::string system = Get(params, "system");
  if (system.empty()) system = Get(params, "url");
  if (code.empty() || (system.empty() && instance_id.empty()))
    return Status(Code::kInvalid,
                  Msg("$lookup cần tham số system và code", "$lookup needs system and code"),
                  code.empty() ? "code" : "system");
  std::shared_ptr<const CodeSystemVersion> cs;
  if (!instance_id.empty()) {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [u, vs] : systems_)
      for (const auto& v : vs)
        if (v->resource_id == instance_id) cs = v;
  } else {
    cs = Resolve(system, Get(params, "version"), Get(params, "date"));
  }
  if (!cs)
    return Status(Code::kNotFound,
                  Msg("Không tìm thấy hệ mã " + system, "unknown code system " + system));
  const Concept* c = cs->Find(code);
  if (!c)
    return Status(Code::kNotFound,
                  Msg("Mã '" + code + "' không có trong " + cs->url,
                      "code '" + code + "' is not in " + cs->url + " version " + cs->version));
  std::string lang = Get(params, "displayLanguage");
  json::array p;
  p.push_back(Param("name", "valueString", json::string(cs->name.empty() ? cs->url : cs->name)));
  if (!cs->version.empty()) p.push_back(Param("version", "valueString", json::string(cs->version)));
  p.push_back(Param("display", "valueString", json::string(Display(*c, lang))));
  auto designation = [&](const char* language, const std::string& value) {
    p.push_back(
        json::object{{"name", "designation"},
                     {"part", json::array{Param("language", "valueCode", json::string(language)),
                                          Param("value", "valueString", json::string(value))}}});
  };
  designation("vi", c->display);
  if (!c->display_en.empty()) designation("en", c->display_en);
  auto property = [&](const std::string& code, std::string_view key, json::value v) {
    p.push_back(json::object{{"name", "property"},
                             {"part", json::array{Param("code", "valueCode", json::string(code)),
                                                  Param("value", key, std::move(v))}}});
  };
  if (!c->parent.empty()) property("parent", "valueCode", json::string(c->parent));
  for (const auto& other : cs->concepts)
    if (other.parent == c->code) property("child", "valueCode", json::string(other.code));
  if (c->flags & kNotMainDiagnosis) property("not-main-diagnosis", "valueBoolean", true);
  if (c->flags & kDiscouragedMainDiagnosis)
    property("discouraged-main-diagnosis", "valueBoolean", true);
  if ((c->flags & kMoreSpecificExists) || cs->HasChildren(*c))
    property("more-specific-exists", "valueBoolean", true);
  if (c->flags & kCauseOfDeathOnly) property("cause-of-death-only", "valueBoolean", true);
  if (c->flags & kFemaleOnly) property("sex", "valueCode", json::string("female"));
  if (c->flags & kMaleOnly) property("sex", "valueCode", json::string("male"));
  if (!c->source_code.empty()) property("source-code", "valueString", json::string(c->source_code));
  for (const auto& [k, v] : c->properties) property(k, "valueString", json::string(v));
  return json::object{{"resourceType", "Parameters"}, {"parameter", std::move(p)}};
}

Result<json::object> TerminologyService::Translate(const OpParams& params,
                                                   const std::string& instance_id) {
  MaybeReload();
  std::string url = Get(params, "url");
  std::string code = Get(params, "code");
  std::string system = Get(params, "system");
  std::string target_system = Get(params, "targetsystem");
  std::string target_vs = Get(params, "target");
  std::string source_vs = Get(params, "source");
  if (code.empty() || system.empty())
    return Status(Code::kInvalid,
                  Msg("$translate cần tham số system và code", "$translate needs system and code"),
                  code.empty() ? "code" : "system");
  std::vector<std::shared_ptr<const ConceptMapDef>> maps;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& m : concept_maps_) {
      if (!instance_id.empty() ? m->id != instance_id : (!url.empty() && m->url != url)) continue;
      if (!source_vs.empty() && m->source_vs != source_vs) continue;
      if (!target_vs.empty() && m->target_vs != target_vs) continue;
      maps.push_back(m);
    }
  }
  if (maps.empty() && (!url.empty() || !instance_id.empty()))
    return Status(Code::kNotFound, Msg("Không tìm thấy bảng chuyển mã " + url + instance_id,
                                       "unknown concept map " + url + instance_id));
  json::array matches;
  for (const auto& m : maps) {
    auto [lo, hi] = m->map.equal_range(system + "|" + code);
    for (auto it = lo; it != hi; ++it) {
      const auto& t = it->second;
      if (!target_system.empty() && t.system != target_system) continue;
      json::object coding{{"system", t.system}, {"code", t.code}};
      if (!t.display.empty()) coding["display"] = t.display;
      json::array part{Param("equivalence", "valueCode",
                             json::string(t.equivalence.empty() ? "equivalent" : t.equivalence)),
                       Param("concept", "valueCoding", std::move(coding))};
      if (!m->url.empty()) part.push_back(Param("source", "valueUri", json::string(m->url)));
      matches.push_back(json::object{{"name", "match"}, {"part", std::move(part)}});
    }
  }
  json::array p;
  bool ok = !matches.empty();
  p.push_back(Param("result", "valueBoolean", ok));
  if (!ok)
    p.push_back(Param("message", "valueString",
                      json::string(Msg("Không có mã tương ứng cho " + system + "|" + code,
                                       "no mapping for " + system + "|" + code))));
  for (auto& m : matches) p.push_back(std::move(m));
  return json::object{{"resourceType", "Parameters"}, {"parameter", std::move(p)}};
}

std::vector<TerminologyService::MapTarget> TerminologyService::MapCode(
    const std::string& system, const std::string& code, const std::string& target_system) const {
  std::vector<MapTarget> out;
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& m : concept_maps_) {
    auto [lo, hi] = m->map.equal_range(system + "|" + code);
    for (auto it = lo; it != hi; ++it)
      if (target_system.empty() || it->second.system == target_system)
        out.push_back(MapTarget{it->second.system, it->second.code, it->second.display,
                                it->second.equivalence});
  }
  return out;
}

Result<OpParams> TerminologyService::ParamsFromBody(const json::value& body) {
  if (!body.is_object() || Str(body.get_object(), "resourceType") != "Parameters")
    return Status(Code::kInvalid, Msg("Nội dung phải là tài nguyên Parameters",
                                      "the body must be a Parameters resource"));
  OpParams out;
  auto* arr = body.get_object().if_contains("parameter");
  if (!arr || !arr->is_array()) return out;
  for (const auto& pv : arr->get_array()) {
    if (!pv.is_object()) continue;
    const auto& p = pv.get_object();
    std::string name = Str(p, "name");
    for (const auto& [k, v] : p) {
      if (k.size() <= 5 || k.substr(0, 5) != "value") continue;
      if (v.is_string()) {
        out.emplace_back(name, std::string(v.get_string()));
      } else if (v.is_bool()) {
        out.emplace_back(name, v.get_bool() ? "true" : "false");
      } else if (v.is_int64() || v.is_uint64()) {
        out.emplace_back(name, json::serialize(v));
      } else if (v.is_object() && (k == "valueCoding" || k == "valueCodeableConcept")) {
        const json::object* coding = &v.get_object();
        if (k == "valueCodeableConcept") {
          auto* cs = coding->if_contains("coding");
          if (!cs || !cs->is_array() || cs->get_array().empty() || !cs->get_array()[0].is_object())
            continue;
          coding = &cs->get_array()[0].get_object();
        }
        for (const char* f : {"system", "code", "version", "display"}) {
          std::string s = Str(*coding, f);
          if (!s.empty()) out.emplace_back(f, s);
        }
      }
    }
  }
  return out;
}

}  // namespace benhan::terminology
