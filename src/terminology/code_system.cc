#include "terminology/code_system.h"

#include <algorithm>
#include <boost/json.hpp>
#include <mutex>

#include "terminology/concept_index.h"

namespace json = boost::json;

extern "C" const char benhan_icd10_starter_begin[];
extern "C" const char benhan_icd10_starter_end[];

namespace benhan::terminology {

std::string CodeKey(std::string_view code) {
  std::string k;
  k.reserve(code.size());
  for (char ch : code) {
    if (ch >= 'A' && ch <= 'Z') {
      k.push_back(static_cast<char>(ch - 'A' + 'a'));
    } else if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) {
      k.push_back(ch);
    }
  }
  return k;
}

CodeSystemVersion::CodeSystemVersion() = default;
CodeSystemVersion::~CodeSystemVersion() = default;
CodeSystemVersion::CodeSystemVersion(CodeSystemVersion&&) noexcept = default;
CodeSystemVersion& CodeSystemVersion::operator=(CodeSystemVersion&&) noexcept = default;

void CodeSystemVersion::Build() {
  std::stable_sort(concepts.begin(), concepts.end(),
                   [](const Concept& a, const Concept& b) { return a.code < b.code; });
  by_code_.clear();
  by_key_.clear();
  child_count_.assign(concepts.size(), 0);
  for (uint32_t i = 0; i < concepts.size(); ++i) {
    by_code_.emplace(concepts[i].code, i);
    by_key_.emplace(CodeKey(concepts[i].code), i);
  }
  for (const Concept& c : concepts) {
    if (c.parent.empty()) continue;
    auto it = by_code_.find(c.parent);
    if (it != by_code_.end()) ++child_count_[it->second];
  }
  // A code with children has more specific codes (ICD-10: use a 4/5-character code).
  for (uint32_t i = 0; i < concepts.size(); ++i)
    if (child_count_[i] > 0) concepts[i].flags |= kMoreSpecificExists;
  std::vector<const Concept*> ptrs;
  ptrs.reserve(concepts.size());
  for (const Concept& c : concepts) ptrs.push_back(&c);
  index_ = std::make_unique<ConceptIndex>(ptrs);
}

const Concept* CodeSystemVersion::Find(std::string_view code) const {
  if (auto it = by_code_.find(std::string(code)); it != by_code_.end())
    return &concepts[it->second];
  if (auto it = by_key_.find(CodeKey(code)); it != by_key_.end()) return &concepts[it->second];
  return nullptr;
}

bool CodeSystemVersion::HasChildren(const Concept& c) const {
  auto it = by_code_.find(c.code);
  return it != by_code_.end() && child_count_[it->second] > 0;
}

bool CodeSystemVersion::InForce(std::string_view date) const {
  std::string_view d = date.substr(0, std::min<size_t>(10, date.size()));
  if (!valid_from.empty() && d < std::string_view(valid_from)) return false;
  if (!valid_to.empty() && d >= std::string_view(valid_to)) return false;
  return true;
}

namespace {

struct FlagProp {
  const char* code;
  uint32_t bit;
  const char* description;
};
const FlagProp kFlagProps[] = {
    {"not-main-diagnosis", kNotMainDiagnosis,
     "Không được dùng làm bệnh chính / not allowed as the main diagnosis"},
    {"discouraged-main-diagnosis", kDiscouragedMainDiagnosis,
     "Không khuyến khích dùng làm bệnh chính / discouraged as the main diagnosis"},
    {"more-specific-exists", kMoreSpecificExists,
     "Có mã chi tiết hơn (4-5 ký tự), không dùng mã này / a more specific code exists"},
    {"cause-of-death-only", kCauseOfDeathOnly,
     "Chỉ dùng làm nguyên nhân tử vong / only as a cause of death"},
};

std::string Str(const json::object& o, std::string_view key) {
  if (auto* v = o.if_contains(key); v && v->is_string()) return std::string(v->get_string());
  return {};
}

void ReadConcepts(const json::array& arr, const std::string& parent, CodeSystemVersion& cs) {
  for (const auto& v : arr) {
    if (!v.is_object()) continue;
    const auto& o = v.get_object();
    Concept c;
    c.code = Str(o, "code");
    if (c.code.empty()) continue;
    c.display = Str(o, "display");
    c.parent = parent;
    if (auto* d = o.if_contains("designation"); d && d->is_array()) {
      for (const auto& dv : d->get_array()) {
        if (!dv.is_object()) continue;
        if (Str(dv.get_object(), "language").rfind("en", 0) == 0 && c.display_en.empty())
          c.display_en = Str(dv.get_object(), "value");
      }
    }
    if (auto* p = o.if_contains("property"); p && p->is_array()) {
      for (const auto& pv : p->get_array()) {
        if (!pv.is_object()) continue;
        const auto& po = pv.get_object();
        std::string code = Str(po, "code");
        bool flag = false;
        for (const auto& f : kFlagProps) {
          if (code == f.code) {
            flag = true;
            if (auto* b = po.if_contains("valueBoolean"); b && b->is_bool() && b->get_bool())
              c.flags |= f.bit;
          }
        }
        if (flag) continue;
        std::string value = Str(po, "valueCode");
        if (value.empty()) value = Str(po, "valueString");
        if (code == "parent") {
          c.parent = value;
        } else if (code == "sex") {
          if (value == "female") c.flags |= kFemaleOnly;
          if (value == "male") c.flags |= kMaleOnly;
        } else if (code == "common") {
          if (auto* b = po.if_contains("valueBoolean"); b && b->is_bool()) c.common = b->get_bool();
        } else if (code == "source-code") {
          c.source_code = value;
        } else if (!code.empty() && !value.empty()) {
          c.properties.emplace_back(code, value);
        }
      }
    }
    std::string code = c.code;
    cs.concepts.push_back(std::move(c));
    if (auto* kids = o.if_contains("concept"); kids && kids->is_array())
      ReadConcepts(kids->get_array(), code, cs);
  }
}

}  // namespace

Result<CodeSystemVersion> FromResource(const json::object& r) {
  CodeSystemVersion cs;
  cs.url = Str(r, "url");
  if (cs.url.empty()) return Status(Code::kInvalid, "CodeSystem without url", "CodeSystem.url");
  cs.version = Str(r, "version");
  cs.name = Str(r, "name");
  cs.title = Str(r, "title");
  cs.resource_id = Str(r, "id");
  cs.value_set = Str(r, "valueSet");
  if (auto* ext = r.if_contains("extension"); ext && ext->is_array()) {
    for (const auto& e : ext->get_array()) {
      if (!e.is_object() || Str(e.get_object(), "url") != kValidPeriodExt) continue;
      if (auto* p = e.get_object().if_contains("valuePeriod"); p && p->is_object()) {
        cs.valid_from = Str(p->get_object(), "start").substr(0, 10);
        cs.valid_to = Str(p->get_object(), "end").substr(0, 10);
      }
    }
  }
  if (auto* c = r.if_contains("concept"); c && c->is_array()) ReadConcepts(c->get_array(), "", cs);
  cs.Build();
  return cs;
}

json::object ToResource(const CodeSystemVersion& cs) {
  json::object r;
  r["resourceType"] = "CodeSystem";
  if (!cs.resource_id.empty()) r["id"] = cs.resource_id;
  r["language"] = "vi";
  if (!cs.valid_from.empty() || !cs.valid_to.empty()) {
    json::object period;
    if (!cs.valid_from.empty()) period["start"] = cs.valid_from;
    if (!cs.valid_to.empty()) period["end"] = cs.valid_to;
    r["extension"] =
        json::array{json::object{{"url", kValidPeriodExt}, {"valuePeriod", std::move(period)}}};
  }
  r["url"] = cs.url;
  if (!cs.version.empty()) r["version"] = cs.version;
  if (!cs.name.empty()) r["name"] = cs.name;
  if (!cs.title.empty()) r["title"] = cs.title;
  r["status"] = "active";
  r["hierarchyMeaning"] = "is-a";
  if (!cs.value_set.empty()) r["valueSet"] = cs.value_set;
  r["content"] = "complete";
  r["count"] = static_cast<int64_t>(cs.concepts.size());
  json::array props;
  props.push_back(
      json::object{{"code", "parent"}, {"type", "code"}, {"description", "Mã cha / parent code"}});
  for (const auto& f : kFlagProps)
    props.push_back(
        json::object{{"code", f.code}, {"type", "boolean"}, {"description", f.description}});
  props.push_back(json::object{{"code", "sex"},
                               {"type", "code"},
                               {"description", "Chỉ dùng cho giới (female|male) / sex-specific"}});
  props.push_back(json::object{{"code", "common"},
                               {"type", "boolean"},
                               {"description", "Mã thường dùng / commonly used code"}});
  props.push_back(json::object{{"code", "source-code"},
                               {"type", "string"},
                               {"description", "Mã như trong tệp gốc / code as in the source"}});
  std::vector<std::string> extra;
  for (const auto& c : cs.concepts)
    for (const auto& [k, v] : c.properties)
      if (std::find(extra.begin(), extra.end(), k) == extra.end()) extra.push_back(k);
  for (const auto& k : extra) props.push_back(json::object{{"code", k}, {"type", "string"}});
  r["property"] = std::move(props);
  json::array concepts;
  concepts.reserve(cs.concepts.size());
  for (const auto& c : cs.concepts) {
    json::object o;
    o["code"] = c.code;
    if (!c.display.empty()) o["display"] = c.display;
    if (!c.display_en.empty())
      o["designation"] = json::array{json::object{{"language", "en"}, {"value", c.display_en}}};
    json::array p;
    if (!c.parent.empty()) p.push_back(json::object{{"code", "parent"}, {"valueCode", c.parent}});
    for (const auto& f : kFlagProps)
      if (c.flags & f.bit) p.push_back(json::object{{"code", f.code}, {"valueBoolean", true}});
    if (c.flags & kFemaleOnly) p.push_back(json::object{{"code", "sex"}, {"valueCode", "female"}});
    if (c.flags & kMaleOnly) p.push_back(json::object{{"code", "sex"}, {"valueCode", "male"}});
    if (c.common) p.push_back(json::object{{"code", "common"}, {"valueBoolean", true}});
    if (!c.source_code.empty())
      p.push_back(json::object{{"code", "source-code"}, {"valueString", c.source_code}});
    for (const auto& [k, v] : c.properties)
      p.push_back(json::object{{"code", k}, {"valueString", v}});
    if (!p.empty()) o["property"] = std::move(p);
    concepts.push_back(std::move(o));
  }
  r["concept"] = std::move(concepts);
  return r;
}

static std::string ParentOf(std::string_view code) {
  auto dot = code.find('.');
  if (dot != std::string_view::npos) return std::string(code.substr(0, dot));
  return {};
}

std::shared_ptr<const CodeSystemVersion> StarterIcd10() {
  static std::shared_ptr<const CodeSystemVersion> starter = [] {
    auto cs = std::make_shared<CodeSystemVersion>();
    cs->url = kIcd10VnUrl;
    cs->version = "starter";
    cs->name = "ICD10VNStarter";
    cs->title = "ICD-10 — bộ mã khởi đầu của benhan (mã thường dùng) / benhan starter set";
    cs->value_set = kIcd10VnValueSet;
    cs->builtin = true;
    std::string_view data(
        benhan_icd10_starter_begin,
        static_cast<size_t>(benhan_icd10_starter_end - benhan_icd10_starter_begin));
    while (!data.empty()) {
      auto nl = data.find('\n');
      std::string_view line = data.substr(0, nl);
      data.remove_prefix(nl == std::string_view::npos ? data.size() : nl + 1);
      if (line.empty() || line[0] == '#') continue;
      std::vector<std::string_view> f;
      while (true) {
        auto tab = line.find('\t');
        f.push_back(line.substr(0, tab));
        if (tab == std::string_view::npos) break;
        line.remove_prefix(tab + 1);
      }
      if (f.size() < 3) continue;
      Concept c;
      c.code = std::string(f[0]);
      c.display = std::string(f[1]);
      c.display_en = std::string(f[2]);
      c.common = true;
      c.parent = ParentOf(c.code);
      if (f.size() > 3) {
        for (char ch : f[3]) {
          if (ch == 'N') c.flags |= kNotMainDiagnosis;
          if (ch == 'S') c.flags |= kDiscouragedMainDiagnosis;
          if (ch == 'C') c.flags |= kCauseOfDeathOnly;
          if (ch == 'F') c.flags |= kFemaleOnly;
          if (ch == 'M') c.flags |= kMaleOnly;
        }
      }
      cs->concepts.push_back(std::move(c));
    }
    cs->Build();
    for (auto& c : cs->concepts) {
      if (cs->HasChildren(c)) c.flags |= kMoreSpecificExists;
      if (!c.parent.empty() && cs->Find(c.parent) == nullptr) c.parent.clear();
    }
    return std::shared_ptr<const CodeSystemVersion>(std::move(cs));
  }();
  return starter;
}

}  // namespace benhan::terminology
