#include "fhir/definitions.h"

#include <boost/json.hpp>

namespace json = boost::json;

extern "C" {
extern const char benhan_r4_definitions_begin[];
extern const char benhan_r4_definitions_end[];
}

namespace benhan::fhir {
namespace {

std::string Str(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  return std::string(it->value().get_string());
}

std::vector<std::string> StrList(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_array()) return out;
  for (const auto& v : it->value().get_array()) {
    if (v.is_string()) out.emplace_back(v.get_string());
  }
  return out;
}

BindingStrength ParseStrength(std::string_view s) {
  if (s == "required") return BindingStrength::kRequired;
  if (s == "extensible") return BindingStrength::kExtensible;
  if (s == "preferred") return BindingStrength::kPreferred;
  if (s == "example") return BindingStrength::kExample;
  return BindingStrength::kNone;
}

SearchParamType ParseParamType(std::string_view s) {
  if (s == "number") return SearchParamType::kNumber;
  if (s == "date") return SearchParamType::kDate;
  if (s == "string") return SearchParamType::kString;
  if (s == "token") return SearchParamType::kToken;
  if (s == "reference") return SearchParamType::kReference;
  if (s == "composite") return SearchParamType::kComposite;
  if (s == "quantity") return SearchParamType::kQuantity;
  if (s == "uri") return SearchParamType::kUri;
  return SearchParamType::kSpecial;
}

std::string Capitalize(std::string_view s) {
  std::string r(s);
  if (!r.empty() && r[0] >= 'a' && r[0] <= 'z') r[0] = static_cast<char>(r[0] - 'a' + 'A');
  return r;
}

}  // namespace

std::string_view SearchParamTypeName(SearchParamType t) {
  switch (t) {
    case SearchParamType::kNumber:
      return "number";
    case SearchParamType::kDate:
      return "date";
    case SearchParamType::kString:
      return "string";
    case SearchParamType::kToken:
      return "token";
    case SearchParamType::kReference:
      return "reference";
    case SearchParamType::kComposite:
      return "composite";
    case SearchParamType::kQuantity:
      return "quantity";
    case SearchParamType::kUri:
      return "uri";
    case SearchParamType::kSpecial:
      return "special";
  }
  return "special";
}

Result<std::shared_ptr<const Definitions>> Definitions::LoadEmbedded() {
  std::string_view text(
      benhan_r4_definitions_begin,
      static_cast<size_t>(benhan_r4_definitions_end - benhan_r4_definitions_begin));
  return LoadFromJson(text);
}

Result<std::shared_ptr<const Definitions>> Definitions::LoadFromJson(std::string_view text) {
  std::shared_ptr<Definitions> d(new Definitions());
  Status st = d->Build(text);
  if (!st.ok()) return st;
  return std::shared_ptr<const Definitions>(std::move(d));
}

Status Definitions::Build(std::string_view text) {
  json::error_code ec;
  json::value root = json::parse(text, ec);
  if (ec || !root.is_object()) {
    return Status(Code::kInternal, "R4 definitions are corrupt: " + ec.message());
  }
  const json::object& doc = root.get_object();
  fhir_version_ = Str(doc, "fhirVersion");

  for (const auto& tv : doc.at("types").get_array()) {
    const json::object& to = tv.get_object();
    auto t = std::make_unique<TypeDef>();
    t->name = Str(to, "name");
    std::string kind = Str(to, "kind");
    t->kind = kind == "primitive-type" ? TypeKind::kPrimitive
              : kind == "resource"     ? TypeKind::kResource
              : kind == "logical"      ? TypeKind::kLogical
                                       : TypeKind::kComplex;
    t->abstract = to.at("abstract").as_bool();
    t->base_name = Str(to, "base");
    std::unordered_map<std::string, int32_t> by_path;
    for (const auto& ev : to.at("elements").get_array()) {
      const json::object& eo = ev.get_object();
      ElementDef e;
      e.path = Str(eo, "p");
      std::string_view last = e.path;
      if (auto dot = last.rfind('.'); dot != std::string_view::npos) last = last.substr(dot + 1);
      if (last.size() > 3 && last.substr(last.size() - 3) == "[x]") {
        e.is_choice = true;
        last = last.substr(0, last.size() - 3);
      }
      e.name = std::string(last);
      e.min = static_cast<uint32_t>(eo.at("n").to_number<int64_t>());
      int64_t mx = eo.at("x").to_number<int64_t>();
      e.max = mx < 0 ? kUnbounded : static_cast<uint32_t>(mx);
      e.types = StrList(eo, "t");
      e.target_types = StrList(eo, "r");
      if (auto it = eo.find("b"); it != eo.end()) {
        const auto& b = it->value().get_array();
        e.binding = ParseStrength(b[0].get_string());
        e.value_set = std::string(b[1].get_string());
      }
      e.summary = eo.contains("s");
      e.modifier = eo.contains("m");
      int32_t idx = static_cast<int32_t>(t->elements.size());
      by_path[e.path] = idx;
      // Parent: the element whose path is this one's without the last segment.
      if (auto dot = e.path.rfind('.'); dot != std::string::npos) {
        auto pit = by_path.find(e.path.substr(0, dot));
        if (pit != by_path.end()) {
          ElementDef& parent = t->elements[static_cast<size_t>(pit->second)];
          parent.children.push_back(idx);
          parent.child_by_name.emplace(e.name, idx);
          if (e.is_choice) parent.choice_children.push_back(idx);
        }
      }
      std::string cref = Str(eo, "c");
      t->elements.push_back(std::move(e));
      if (!cref.empty()) {
        auto cit = by_path.find(cref);
        if (cit != by_path.end()) t->elements.back().content_ref = cit->second;
      }
    }
    if (t->kind == TypeKind::kResource && !t->abstract) resource_names_.push_back(t->name);
    type_by_name_[t->name] = t.get();
    types_.push_back(std::move(t));
  }
  for (auto& t : types_) {
    if (!t->base_name.empty()) {
      auto it = type_by_name_.find(t->base_name);
      if (it != type_by_name_.end()) t->base = it->second;
    }
  }

  for (const auto& pv : doc.at("searchParams").get_array()) {
    const json::object& po = pv.get_object();
    SearchParamDef p;
    p.url = Str(po, "u");
    p.code = Str(po, "c");
    p.base = StrList(po, "b");
    p.type = ParseParamType(Str(po, "t"));
    p.expression = Str(po, "e");
    p.targets = StrList(po, "tg");
    if (auto it = po.find("comp"); it != po.end()) {
      for (const auto& c : it->value().get_array()) {
        p.components.push_back({std::string(c.get_array()[0].get_string()),
                                std::string(c.get_array()[1].get_string()),
                                SearchParamType::kToken});
      }
    }
    search_params_.push_back(std::move(p));
  }
  // Component types, from the component parameters' own definitions.
  std::unordered_map<std::string_view, SearchParamType> type_by_url;
  for (const auto& p : search_params_) {  // components name their parameter by id (URL tail)
    std::string_view u = p.url;
    type_by_url.emplace(u.substr(u.rfind('/') + 1), p.type);
  }
  for (auto& p : search_params_) {
    for (auto& c : p.components) {
      auto it = type_by_url.find(c.definition);
      if (it == type_by_url.end()) {
        return Status(Code::kInternal, "search parameter " + p.url + ": component " + c.definition +
                                           " is not defined");
      }
      c.type = it->second;
    }
  }
  // Index by resource type; Resource/DomainResource parameters apply to every resource type.
  for (const auto& p : search_params_) {
    for (const auto& b : p.base) {
      if (b == "Resource" || b == "DomainResource") {
        for (const auto& rn : resource_names_) {
          if (b == "DomainResource" && !IsA(rn, "DomainResource")) continue;
          param_index_[rn].emplace(p.code, &p);
        }
      } else {
        param_index_[b].emplace(p.code, &p);
      }
    }
  }
  for (auto& [type, m] : param_index_) {
    auto& v = params_by_type_[type];
    for (auto& [code, p] : m) v.push_back(p);
  }

  for (const auto& [url, codes] : doc.at("valueSets").get_object()) {
    auto& set = value_sets_[std::string(url)];
    for (const auto& c : codes.get_array()) {
      std::string system(c.get_array()[0].get_string());
      std::string code(c.get_array()[1].get_string());
      set.insert(system + "|" + code);
      set.insert(code);
      auto [it, fresh] = code_system_[std::string(url)].emplace(code, system);
      if (!fresh && it->second != system) it->second.clear();  // ambiguous
    }
  }
  if (const auto* vc = doc.if_contains("valueSetCompose")) {
    auto pairs = [](const json::object& o, std::string_view key,
                    std::vector<std::pair<std::string, std::string>>* out) {
      if (const auto* a = o.if_contains(key)) {
        for (const auto& p : a->get_array()) {
          out->emplace_back(std::string(p.get_array()[0].get_string()),
                            std::string(p.get_array()[1].get_string()));
        }
      }
    };
    for (const auto& [url, item] : vc->get_object()) {
      const json::object& o = item.get_object();
      ValueSetCompose c;
      pairs(o, "c", &c.codes);
      pairs(o, "x", &c.excluded);
      c.systems = StrList(o, "s");
      c.value_sets = StrList(o, "v");
      c.has_filters = o.contains("f");
      compose_.emplace(std::string(url), std::move(c));
    }
  }
  for (const auto& [type, rx] : doc.at("regex").get_object()) {
    regex_[std::string(type)] = std::string(rx.get_string());
  }
  for (const auto& [comp, members] : doc.at("compartments").get_object()) {
    auto& m = compartments_[std::string(comp)];
    for (const auto& [rt, params] : members.get_object()) {
      auto& v = m[std::string(rt)];
      for (const auto& p : params.get_array()) v.emplace_back(p.get_string());
    }
  }
  return Status::Ok();
}

const TypeDef* Definitions::FindType(std::string_view name) const {
  auto it = type_by_name_.find(std::string(name));
  return it == type_by_name_.end() ? nullptr : it->second;
}

bool Definitions::IsResourceType(std::string_view name) const {
  const TypeDef* t = FindType(name);
  return t != nullptr && t->kind == TypeKind::kResource && !t->abstract;
}

bool Definitions::IsA(std::string_view type, std::string_view ancestor) const {
  for (const TypeDef* t = FindType(type); t != nullptr; t = t->base) {
    if (t->name == ancestor) return true;
  }
  return false;
}

ChildRef Definitions::NodeOf(const ChildRef& ref, std::string_view element_type) const {
  const ElementDef& e = ref.def();
  if (e.content_ref >= 0) return ChildRef{ref.type, e.content_ref, {}};
  if (!e.children.empty()) return ChildRef{ref.type, ref.element, {}};
  const TypeDef* t = FindType(element_type);
  if (t == nullptr || t->kind == TypeKind::kPrimitive) return ChildRef{};
  return ChildRef{t, 0, {}};
}

ChildRef Definitions::FindChild(const TypeDef& type, int32_t element,
                                std::string_view json_name) const {
  // Walk up the type hierarchy for the root node (Patient inherits DomainResource's elements).
  const TypeDef* t = &type;
  int32_t el = element;
  while (t != nullptr) {
    const ElementDef& node = t->elements[static_cast<size_t>(el)];
    auto it = node.child_by_name.find(std::string(json_name));
    if (it != node.child_by_name.end() && !t->elements[static_cast<size_t>(it->second)].is_choice) {
      const ElementDef& c = t->elements[static_cast<size_t>(it->second)];
      return ChildRef{t, it->second,
                      c.types.size() == 1 ? std::string_view(c.types[0]) : std::string_view()};
    }
    for (int32_t ci : node.choice_children) {
      const ElementDef& c = t->elements[static_cast<size_t>(ci)];
      if (json_name.size() > c.name.size() && json_name.substr(0, c.name.size()) == c.name) {
        std::string_view suffix = json_name.substr(c.name.size());
        for (const auto& ty : c.types) {
          if (suffix == Capitalize(ty)) return ChildRef{t, ci, ty};
        }
      }
    }
    if (el != 0) break;  // only roots inherit
    t = t->base;
  }
  return ChildRef{};
}

const std::vector<const SearchParamDef*>& Definitions::SearchParamsFor(
    std::string_view type) const {
  static const std::vector<const SearchParamDef*> kNone;
  auto it = params_by_type_.find(std::string(type));
  return it == params_by_type_.end() ? kNone : it->second;
}

const SearchParamDef* Definitions::FindSearchParam(std::string_view type,
                                                   std::string_view code) const {
  auto it = param_index_.find(std::string(type));
  if (it == param_index_.end()) return nullptr;
  auto p = it->second.find(std::string(code));
  return p == it->second.end() ? nullptr : p->second;
}

std::string_view Definitions::ImplicitSystem(std::string_view url, std::string_view code) const {
  auto vs = code_system_.find(std::string(url));
  if (vs == code_system_.end()) return {};
  auto it = vs->second.find(std::string(code));
  return it == vs->second.end() ? std::string_view() : std::string_view(it->second);
}

const Definitions::ValueSetCompose* Definitions::FindValueSetCompose(std::string_view url) const {
  auto it = compose_.find(std::string(url));
  return it == compose_.end() ? nullptr : &it->second;
}

const std::unordered_set<std::string>* Definitions::ValueSetCodes(std::string_view url) const {
  auto it = value_sets_.find(std::string(url));
  return it == value_sets_.end() ? nullptr : &it->second;
}

const std::string* Definitions::PrimitiveRegex(std::string_view type) const {
  auto it = regex_.find(std::string(type));
  return it == regex_.end() ? nullptr : &it->second;
}

const std::vector<std::string>* Definitions::CompartmentParams(
    std::string_view compartment, std::string_view resource_type) const {
  auto c = compartments_.find(std::string(compartment));
  if (c == compartments_.end()) return nullptr;
  auto r = c->second.find(std::string(resource_type));
  return r == c->second.end() ? nullptr : &r->second;
}

}  // namespace benhan::fhir
