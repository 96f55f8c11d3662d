#include "fhir/indexer.h"

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "core/clock.h"
#include "core/log.h"
#include "core/text.h"
#include "fhir/ucum.h"

namespace json = boost::json;

namespace benhan::fhir {
namespace {

std::string_view Str(const json::value& v) {
  return v.is_string() ? std::string_view(v.get_string()) : std::string_view();
}
std::string_view Field(const json::value& v, std::string_view key) {
  if (!v.is_object()) return {};
  const auto* f = v.get_object().if_contains(key);
  return f ? Str(*f) : std::string_view();
}

std::vector<std::string> SplitTopLevelUnion(std::string_view e) {
  std::vector<std::string> out;
  int depth = 0;
  bool quote = false;
  size_t start = 0;
  for (size_t i = 0; i < e.size(); ++i) {
    char c = e[i];
    if (quote) {
      if (c == '\\')
        ++i;
      else if (c == '\'')
        quote = false;
      continue;
    }
    if (c == '\'')
      quote = true;
    else if (c == '(' || c == '[')
      ++depth;
    else if (c == ')' || c == ']')
      --depth;
    else if (c == '|' && depth == 0) {
      out.emplace_back(e.substr(start, i - start));
      start = i + 1;
    }
  }
  out.emplace_back(e.substr(start));
  for (auto& s : out) {
    size_t b = s.find_first_not_of(" \t\r\n");
    size_t en = s.find_last_not_of(" \t\r\n");
    s = b == std::string::npos ? std::string() : s.substr(b, en - b + 1);
  }
  return out;
}

// First identifier of a branch, skipping an opening parenthesis: "(Observation.value as Quantity)".
std::string_view LeadingName(std::string_view s) {
  while (!s.empty() && (s.front() == '(' || s.front() == ' ')) s.remove_prefix(1);
  size_t n = 0;
  while (n < s.size() && (std::isalnum(static_cast<unsigned char>(s[n])) || s[n] == '_')) ++n;
  return s.substr(0, n);
}

// The top-level elements `expression` (already reduced to one resource type's branches) starts
// from, or nothing if it may yield values when they are all absent. Conservative: every branch must
// begin `Type.element` (after opening parentheses), and the expression may use no operator or
// function that makes something of an empty collection (exists(), empty(), count(), not(),
// iif(), and/or/xor/implies, literals, environment variables).
std::vector<std::string> RootElements(const std::string& expression) {
  static constexpr std::string_view kFromEmpty[] = {
      "exists(", "empty(",    "count(",   "not(",     "iif(",  "all(",
      "allTrue", "anyTrue",   "allFalse", "anyFalse", " and ", " or ",
      " xor ",   " implies ", "%",        "'",        "{}"};
  for (std::string_view k : kFromEmpty) {
    if (expression.find(k) != std::string::npos) return {};
  }
  std::vector<std::string> roots;
  for (const auto& branch : SplitTopLevelUnion(expression)) {
    std::string_view b = branch;
    while (!b.empty() && (b.front() == '(' || b.front() == ' ')) b.remove_prefix(1);
    std::string_view lead = LeadingName(b);
    if (lead.empty() || b.size() <= lead.size() || b[lead.size()] != '.') return {};
    std::string_view rest = b.substr(lead.size() + 1);
    size_t n = 0;
    while (n < rest.size() && std::isalnum(static_cast<unsigned char>(rest[n]))) ++n;
    if (n == 0 || !std::islower(static_cast<unsigned char>(rest[0]))) return {};
    // A function call at the root (`Type.ofType(...)`) is not an element.
    if (n < rest.size() && rest[n] == '(') return {};
    roots.emplace_back(rest.substr(0, n));
  }
  return roots;
}

// Narrows the roots of branches `(Type.elem as T)...` where `elem` is a choice element
// (`Observation.value[x]`) to the JSON names that can yield a T: `valueQuantity`, not every
// `value...` (an Observation with a valueQuantity skips value-concept, value-date, value-string).
// A choice type can yield a T if it is T, or a complex type derived from T (`as Quantity` keeps an
// `Age`: the evaluator's `as` does the same). Any branch of another form keeps its root.
std::vector<std::string> NarrowChoiceRoots(const std::string& expression,
                                           std::vector<std::string> roots,
                                           const Definitions& defs) {
  std::vector<std::string> branches = SplitTopLevelUnion(expression);
  if (roots.empty() || branches.size() != roots.size()) return roots;
  std::vector<std::string> out;
  for (size_t i = 0; i < branches.size(); ++i) {
    std::string_view b = branches[i];
    size_t close = b.find(')');
    size_t as = b.find(" as ");
    bool narrowed = false;
    if (!b.empty() && b.front() == '(' && close != std::string_view::npos && as < close &&
        (close + 1 == b.size() || b[close + 1] == '.') &&
        b.find('(', 1) == std::string_view::npos) {
      std::string_view path = b.substr(1, as - 1);
      std::string_view target = b.substr(as + 4, close - as - 4);
      size_t dot = path.find('.');
      const TypeDef* t =
          dot == std::string_view::npos ? nullptr : defs.FindType(path.substr(0, dot));
      bool plain = !target.empty() && std::all_of(target.begin(), target.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c));
      });
      if (t != nullptr && plain && path.substr(dot + 1) == roots[i]) {
        std::string choice_path = std::string(path) + "[x]";
        for (const ElementDef& el : t->elements) {
          if (el.path != choice_path || !el.is_choice || el.types.empty()) continue;
          for (const std::string& ty : el.types) {
            const TypeDef* tt = defs.FindType(ty);
            bool yields = ty == target || (tt != nullptr && tt->kind != TypeKind::kPrimitive &&
                                           defs.IsA(ty, target));
            if (!yields || ty.empty()) continue;
            std::string name = roots[i];
            name += static_cast<char>(std::toupper(static_cast<unsigned char>(ty[0])));
            name += ty.substr(1);
            out.push_back(std::move(name));
          }
          narrowed = true;
          break;
        }
      }
    }
    if (!narrowed) out.push_back(roots[i]);
  }
  // A branch that can yield nothing from any choice leaves no root: keep the expression's roots
  // non-empty (empty means "always evaluate", which is also correct but slower).
  if (out.empty()) return roots;
  return out;
}

// Which of `roots` (sorted) `resource` has at its top level: the element itself, a choice of it
// (`value` → `valueQuantity`) or only its primitive extension (`_birthDate`). A key matches a
// root that is the whole key or the part before one of its capitals.
std::vector<char> PresentRoots(const json::object& resource,
                               const std::vector<std::string>& roots) {
  std::vector<char> present(roots.size(), 0);
  auto mark = [&](std::string_view name) {
    auto it = std::lower_bound(roots.begin(), roots.end(), name,
                               [](const std::string& a, std::string_view b) { return a < b; });
    if (it != roots.end() && *it == name) present[static_cast<size_t>(it - roots.begin())] = 1;
  };
  for (const auto& kv : resource) {
    std::string_view k = kv.key();
    if (!k.empty() && k.front() == '_') k.remove_prefix(1);
    for (size_t j = 1; j < k.size(); ++j) {
      if (std::isupper(static_cast<unsigned char>(k[j]))) mark(k.substr(0, j));
    }
    mark(k);
  }
  return present;
}

void AddString(const std::string& param, std::string_view s, IndexEntries& out) {
  if (s.empty()) return;
  std::string exact = text::Nfc(s);
  out.strings.push_back({param, text::Fold(exact), std::move(exact)});
}

void AddDateText(const std::string& param, std::string_view s, IndexEntries& out) {
  if (auto r = ParseFhirDateRange(s)) out.dates.push_back({param, r->low, r->high});
}

constexpr int64_t kMinTime = INT64_MIN / 2;
constexpr int64_t kMaxTime = INT64_MAX / 2;

void ParseReference(const std::string& param, std::string_view ref, IndexEntries& out) {
  if (ref.empty() || ref.front() == '#') return;
  IndexEntries::Reference r{param, "", "", ""};
  if (ref.find("://") != std::string_view::npos || ref.rfind("urn:", 0) == 0) {
    r.url = std::string(ref);
    // Absolute FHIR URL ".../Type/id[/_history/n]": keep type and id too.
    std::string_view s = ref;
    if (auto h = s.find("/_history/"); h != std::string_view::npos) s = s.substr(0, h);
    auto slash = s.rfind('/');
    if (slash != std::string_view::npos && slash > 0) {
      auto prev = s.rfind('/', slash - 1);
      if (prev != std::string_view::npos) {
        r.target_type = std::string(s.substr(prev + 1, slash - prev - 1));
        r.target_id = std::string(s.substr(slash + 1));
      }
    }
  } else {
    std::string_view s = ref;
    if (auto h = s.find("/_history/"); h != std::string_view::npos) s = s.substr(0, h);
    auto slash = s.find('/');
    if (slash == std::string_view::npos) {
      r.target_id = std::string(s);
    } else {
      r.target_type = std::string(s.substr(0, slash));
      r.target_id = std::string(s.substr(slash + 1));
    }
  }
  out.references.push_back(std::move(r));
}

// For an expression that is a plain path to one element of type `code` with a required binding
// ("Patient.gender"), that binding's value set; else "".
std::string RequiredCodeBinding(const std::string& expression, const Definitions& defs) {
  for (char c : expression) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.') return {};
  }
  const TypeDef* t = defs.FindType(expression.substr(0, expression.find('.')));
  if (t == nullptr) return {};
  for (const auto& el : t->elements) {
    if (el.path == expression) {
      bool is_code = el.types.size() == 1 && el.types[0] == "code";
      return is_code && el.binding == BindingStrength::kRequired ? el.value_set : std::string();
    }
  }
  return {};
}

}  // namespace

void AddQuantity(const std::string& param, double value, std::string system, std::string code,
                 std::string unit, IndexEntries& out) {
  IndexEntries::Quantity q{param, value, std::move(system), std::move(code), std::move(unit),
                           "",    value};
  QuantityKey(q.system, q.code.empty() ? q.unit : q.code, value, &q.unit_key, &q.canonical);
  out.quantities.push_back(std::move(q));
}

void QuantityKey(std::string_view system, std::string_view code, double value,
                 std::string* unit_key, double* canonical) {
  if (system == ucum::kSystem) {
    // Parsing a unit costs ~5 k instructions; the same few units come back in every lab result.
    // Cached per thread (ucum::Parse is a pure function), bounded by clearing.
    thread_local std::unordered_map<std::string, std::optional<ucum::Canonical>> cache;
    auto it = cache.find(std::string(code));
    if (it == cache.end()) {
      if (cache.size() >= 4096) cache.clear();
      it = cache.emplace(std::string(code), ucum::Parse(code)).first;
    }
    if (const auto& c = it->second) {
      *unit_key = "ucum:" + c->dims;
      *canonical = value * c->factor;
      return;
    }
  }
  *unit_key = std::string(code);
  *canonical = value;
}

namespace {

double Number(const json::value& v) {
  if (v.is_double()) return v.get_double();
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  return 0;
}

}  // namespace

std::string ExpressionFor(std::string_view expression, std::string_view resource_type,
                          const Definitions& defs) {
  std::string out;
  for (const auto& branch : SplitTopLevelUnion(expression)) {
    if (branch.empty()) continue;
    std::string_view lead = LeadingName(branch);
    const TypeDef* t = defs.FindType(lead);
    bool applies = t == nullptr || !t->IsResource() || lead == resource_type ||
                   lead == "Resource" || lead == "DomainResource";
    if (!applies) continue;
    if (!out.empty()) out += " | ";
    out += branch;
  }
  return out;
}

Result<std::unique_ptr<Indexer>> Indexer::Create(std::shared_ptr<const Definitions> defs) {
  std::unique_ptr<Indexer> ix(new Indexer(defs));
  for (const auto& type : defs->ResourceTypeNames()) {
    TypeParams& tp = ix->by_type_[type];
    tp.type = defs->FindType(type);
    auto& list = tp.params;
    for (const SearchParamDef* p : defs->SearchParamsFor(type)) {
      // Special parameters have no index rows, except Location `near` (its position's
      // latitude and longitude as numbers; AddPosition).
      if (p->type == SearchParamType::kSpecial && !(type == "Location" && p->code == "near"))
        continue;
      if (p->expression.empty() || p->code == "_id" || p->code == "_lastUpdated") continue;
      std::string e = ExpressionFor(p->expression, type, *defs);
      if (e.empty()) continue;
      auto compiled = fhirpath::CompileCached(e);
      if (!compiled.ok()) {
        return Status(Code::kInternal, "search parameter " + type + "." + p->code + ": " +
                                           compiled.status().message());
      }
      Param param{p, *compiled, {}, {}, e, NarrowChoiceRoots(e, RootElements(e), *defs), {}};
      if (p->type == SearchParamType::kToken) param.implicit_vs = RequiredCodeBinding(e, *defs);
      if (p->type == SearchParamType::kComposite) {
        if (p->components.size() < 2 || p->components.size() > 3) continue;
        for (const auto& c : p->components) {
          // R4 writes `value.as(DateTime)` (the System type) for Observation.valueDateTime, a
          // FHIR dateTime: ask for the FHIR type, as the non-composite value-date does.
          std::string ex = c.expression;
          for (size_t at; (at = ex.find("as(DateTime)")) != std::string::npos;)
            ex.replace(at, 12, "as(dateTime)");
          auto ce = fhirpath::CompileCached(ex);
          if (!ce.ok()) {
            return Status(Code::kInternal, "search parameter " + type + "." + p->code +
                                               " component: " + ce.status().message());
          }
          param.components.push_back(*ce);
        }
      }
      list.push_back(std::move(param));
    }
    ix->DeriveAliases(type, list);
    for (const Param& p : list) tp.roots.insert(tp.roots.end(), p.roots.begin(), p.roots.end());
    std::sort(tp.roots.begin(), tp.roots.end());
    tp.roots.erase(std::unique(tp.roots.begin(), tp.roots.end()), tp.roots.end());
    for (Param& p : list) {
      for (const auto& r : p.roots) {
        p.root_ids.push_back(static_cast<uint16_t>(
            std::lower_bound(tp.roots.begin(), tp.roots.end(), r) - tp.roots.begin()));
      }
    }
  }
  return ix;
}

namespace {

// What makes two parameters' rows the same: kind, expression and (composites) components.
std::string Signature(const SearchParamDef& p, std::string_view expression) {
  // Appended piece by piece (GCC 12 warns -Wrestrict, wrongly, on "|" + std::string(...)).
  std::string s(SearchParamTypeName(p.type));
  s += '|';
  s += expression;
  for (const auto& c : p.components) {
    s += '|';
    s += SearchParamTypeName(c.type);
    s += '=';
    s += c.expression;
  }
  return s;
}

}  // namespace

void Indexer::DeriveAliases(const std::string& type, std::vector<Param>& list) {
  auto& aliases = aliases_[type];
  std::unordered_map<std::string, const Param*> by_sig;  // first (smallest code) of each signature
  std::vector<const Param*> sorted;
  for (const auto& p : list) sorted.push_back(&p);
  std::sort(sorted.begin(), sorted.end(),
            [](const Param* a, const Param* b) { return a->def->code < b->def->code; });
  // Duplicates: the same rows under another code.
  for (const Param* p : sorted) {
    auto [it, fresh] = by_sig.emplace(Signature(*p->def, p->expression), p);
    if (!fresh) aliases[p->def->code] = Alias{{it->second->def->code}, ""};
  }
  // Each parameter's top-level union branches and its kind (signature without the expression),
  // in `sorted` order: computed once, compared for every union parameter below.
  std::vector<std::vector<std::string>> branches_of;
  std::vector<std::string> kind_of;
  for (const Param* p : sorted) {
    branches_of.push_back(SplitTopLevelUnion(p->expression));
    kind_of.push_back(Signature(*p->def, ""));
  }
  for (size_t pi = 0; pi < sorted.size(); ++pi) {
    const Param* p = sorted[pi];
    if (aliases.count(p->def->code)) continue;
    // Unions of other parameters' expressions (not for references: a _has or chain names one).
    const std::vector<std::string>& branches = branches_of[pi];
    if (branches.size() > 1 && p->def->type != SearchParamType::kReference) {
      Alias a;
      for (const auto& b : branches) {
        auto it = by_sig.find(Signature(*p->def, b));
        if (it == by_sig.end() || it->second == p || aliases.count(it->second->def->code)) {
          a.sources.clear();
          break;
        }
        a.sources.push_back(it->second->def->code);
      }
      if (!a.sources.empty()) {
        aliases[p->def->code] = std::move(a);
        continue;
      }
      // Unions of other parameters' unions: Observation `combo-value-quantity` is the four
      // branches of `value-quantity` (value as Quantity | value as SampledData) and of
      // `component-value-quantity`. Each source's branches must all be branches of this one, and
      // together they must give every branch (same kind and components: the same rows).
      std::vector<bool> covered(branches.size(), false);
      for (size_t qi = 0; qi < sorted.size(); ++qi) {
        const Param* q = sorted[qi];
        if (q == p || aliases.count(q->def->code) || kind_of[qi] != kind_of[pi]) continue;
        const std::vector<std::string>& qb = branches_of[qi];
        if (qb.size() >= branches.size()) continue;
        std::vector<size_t> at;
        for (const auto& b : qb) {
          auto it = std::find(branches.begin(), branches.end(), b);
          if (it == branches.end()) break;
          at.push_back(static_cast<size_t>(it - branches.begin()));
        }
        if (at.size() != qb.size()) continue;
        bool adds = false;
        for (size_t i : at) adds = adds || !covered[i];
        if (!adds) continue;
        for (size_t i : at) covered[i] = true;
        a.sources.push_back(q->def->code);
      }
      if (std::all_of(covered.begin(), covered.end(), [](bool c) { return c; })) {
        aliases[p->def->code] = std::move(a);
        continue;
      }
      a.sources.clear();
    }
    // References restricted to a target type: E.where(resolve() is T) over E.
    static constexpr std::string_view kWhere = ".where(resolve() is ";
    const std::string& e = p->expression;
    size_t at = e.rfind(kWhere);
    if (p->def->type == SearchParamType::kReference && at != std::string::npos && e.back() == ')' &&
        e.find('|') == std::string::npos) {
      std::string target = e.substr(at + kWhere.size(), e.size() - at - kWhere.size() - 1);
      auto it = by_sig.find(Signature(*p->def, e.substr(0, at)));
      if (defs_->IsResourceType(target) && it != by_sig.end() && it->second != p &&
          !aliases.count(it->second->def->code)) {
        aliases[p->def->code] = Alias{{it->second->def->code}, target};
      }
    }
  }
  // Sources are indexed parameters only.
  for (auto it = aliases.begin(); it != aliases.end();) {
    bool ok = true;
    for (const auto& s : it->second.sources) ok = ok && !aliases.count(s);
    it = ok ? std::next(it) : aliases.erase(it);
  }
  // Aliases are not indexed.
  list.erase(std::remove_if(list.begin(), list.end(),
                            [&](const Param& p) { return aliases.count(p.def->code) > 0; }),
             list.end());
}

const Indexer::Alias* Indexer::AliasOf(std::string_view type, std::string_view code) const {
  auto t = aliases_.find(std::string(type));
  if (t == aliases_.end()) return nullptr;
  auto it = t->second.find(std::string(code));
  return it == t->second.end() ? nullptr : &it->second;
}

namespace {

// `compute()`'s value for `key`, computed once per key of `map`; with no map (nothing shared) it
// is computed into `*own`.
template <typename Map, typename Compute>
const typename Map::mapped_type& Remembered(Map* map, const typename Map::key_type& key,
                                            typename Map::mapped_type* own, Compute compute) {
  if (map == nullptr) return *own = compute();
  auto it = map->find(key);
  if (it == map->end()) it = map->emplace(key, compute()).first;
  return it->second;
}

}  // namespace

// Component evaluations of one Extract, keyed by (component expression, item node, item type):
// the composites of a resource share their items (`Observation`, `Observation | ...component`)
// and most of their components (`code`). Only items of the input are cached (their address
// identifies them for the whole Extract).
struct Indexer::CompositeCache {
  using Key = std::tuple<const fhirpath::Expression*, const json::value*, std::string_view, int>;
  std::map<Key, std::vector<std::string>> keys;  // int: the first component's SearchParamType
  std::map<Key, fhirpath::Collection> values;    // int: 0
};

void Indexer::AddComposite(const Param& p, const fhirpath::Item& item, const json::value& resource,
                           IndexEntries& out, CompositeCache* cache) const {
  if (cache != nullptr && !item.is_input_node()) cache = nullptr;
  fhirpath::EvalOptions opts;
  opts.stub_unresolved_references = true;
  opts.resource = &resource;
  auto eval = [&](size_t k) {
    auto r = fhirpath::EvaluateOn(*p.components[k], item, *defs_, opts);
    return r.ok() ? std::move(*r) : fhirpath::Collection{};
  };
  // Keys of the first component.
  auto first_keys = [&] {
    std::vector<std::string> keys;
    IndexEntries first;
    for (const auto& it : eval(0)) {
      if (it.valid()) AddValue(p.def->components[0].type, "", it, first);
    }
    for (const auto& t : first.tokens) {
      if (!t.code.empty()) keys.push_back(t.code + "|" + t.system);
    }
    for (const auto& r : first.references) {
      keys.push_back(
          r.target_type.empty() || r.target_id.empty() ? r.url : r.target_type + "/" + r.target_id);
    }
    for (const auto& s : first.strings) keys.push_back(s.folded);
    return keys;
  };
  std::vector<std::string> own_keys;
  const std::vector<std::string>& keys =
      Remembered(cache != nullptr ? &cache->keys : nullptr,
                 {p.components[0].get(), &item.json(), item.type(),
                  static_cast<int>(p.def->components[0].type)},
                 &own_keys, first_keys);
  if (keys.empty()) return;
  for (size_t k = 1; k < p.components.size(); ++k) {
    fhirpath::Collection own_values;
    const fhirpath::Collection& values =
        Remembered(cache != nullptr ? &cache->values : nullptr,
                   {p.components[k].get(), &item.json(), item.type(), 0}, &own_values,
                   [&] { return eval(k); });
    for (const auto& key : keys) {
      std::string code = CompositeCode(p.def->code, static_cast<int>(k) + 1, key);
      for (const auto& v : values) {
        if (v.valid()) AddValue(p.def->components[k].type, code, v, out);
      }
    }
  }
}

void Indexer::AddPosition(const std::string& code, const fhirpath::Item& item,
                          IndexEntries& out) const {
  // Location.position: latitude and longitude (decimal degrees, WGS84), both needed.
  const json::value& v = item.json();
  if (!v.is_object()) return;
  const auto* lat = v.get_object().if_contains("latitude");
  const auto* lon = v.get_object().if_contains("longitude");
  if (!lat || !lon || !lat->is_number() || !lon->is_number()) return;
  double la = Number(*lat), lo = Number(*lon);
  if (la < -90 || la > 90 || lo < -180 || lo > 180) return;
  // One row holding both (a search ranges over the latitude and tests the longitude in the same
  // row): idx_quantity keyed by unit_key "wgs84", canonical = latitude, value = longitude.
  out.quantities.push_back({code, lo, "", "", "", "wgs84", la});
}

void Indexer::AddValue(SearchParamType type, const std::string& code, const fhirpath::Item& item,
                       IndexEntries& out, std::string_view implicit_vs) const {
  const json::value& v = item.json();
  std::string_view t = item.type();
  switch (type) {
    case SearchParamType::kString: {
      if (v.is_string()) {
        AddString(code, v.get_string(), out);
      } else if (v.is_object()) {
        const auto& o = v.get_object();
        std::string family(Field(v, "family"));
        std::string given_all;
        for (const char* k :
             {"family", "text", "city", "district", "state", "postalCode", "country"}) {
          if (const auto* f = o.if_contains(k)) AddString(code, Str(*f), out);
        }
        for (const char* k : {"given", "prefix", "suffix", "line"}) {
          if (const auto* f = o.if_contains(k); f && f->is_array()) {
            for (const auto& g : f->get_array()) {
              AddString(code, Str(g), out);
              if (std::string_view(k) == "given" && g.is_string()) {
                if (!given_all.empty()) given_all += ' ';
                given_all += g.get_string();
              }
            }
          }
        }
        // Whole names in both orders: Vietnamese "Nguyễn Văn An" (family first) and Western.
        if (!family.empty() && !given_all.empty()) {
          AddString(code, family + " " + given_all, out);
          AddString(code, given_all + " " + family, out);
        }
      }
      break;
    }
    case SearchParamType::kToken: {
      if (v.is_string()) {
        // A `code` element's system is implied by its required binding (gender ->
        // http://hl7.org/fhir/administrative-gender): index it, so system|code matches too.
        std::string_view system;
        if (!implicit_vs.empty() && t == "code")
          system = defs_->ImplicitSystem(implicit_vs, v.get_string());
        out.tokens.push_back({code, std::string(system), std::string(v.get_string()), ""});
      } else if (v.is_bool()) {
        out.tokens.push_back({code, "", v.get_bool() ? "true" : "false", ""});
      } else if (v.is_object()) {
        const auto& o = v.get_object();
        if (t == "CodeableConcept" || o.contains("coding")) {
          std::string txt = text::Fold(Field(v, "text"));
          bool any = false;
          if (const auto* c = o.if_contains("coding"); c && c->is_array()) {
            for (const auto& cd : c->get_array()) {
              std::string display = text::Fold(Field(cd, "display"));
              out.tokens.push_back({code, std::string(Field(cd, "system")),
                                    std::string(Field(cd, "code")), txt.empty() ? display : txt});
              any = true;
            }
          }
          if (!any && !txt.empty()) out.tokens.push_back({code, "", "", txt});
        } else if (t == "Identifier" || (o.contains("value") && !o.contains("code"))) {
          const auto* ty = o.if_contains("type");
          out.tokens.push_back({code, std::string(Field(v, "system")),
                                std::string(Field(v, "value")),
                                ty ? text::Fold(Field(*ty, "text")) : std::string()});
          // identifier:of-type=typeSystem|typeCode|value
          if (ty && ty->is_object()) {
            if (const auto* tc = ty->get_object().if_contains("coding"); tc && tc->is_array()) {
              for (const auto& cd : tc->get_array()) {
                out.tokens.push_back(
                    {code + ":of-type", std::string(Field(cd, "system")),
                     std::string(Field(cd, "code")) + "|" + std::string(Field(v, "value")), ""});
              }
            }
          }
        } else {  // Coding, ContactPoint...
          std::string_view c = Field(v, "code");
          if (c.empty()) c = Field(v, "value");
          out.tokens.push_back({code, std::string(Field(v, "system")), std::string(c),
                                text::Fold(Field(v, "display"))});
        }
      } else if (v.is_number()) {
        out.tokens.push_back({code, "", json::serialize(v), ""});
      }
      break;
    }
    case SearchParamType::kReference: {
      if (v.is_string()) {
        ParseReference(code, v.get_string(), out);
      } else if (v.is_object()) {
        std::string_view ref = Field(v, "reference");
        if (!ref.empty()) ParseReference(code, ref, out);
        // Reference.identifier (e.g. a patient's personal ID number when the record has no id yet):
        // searched with the :identifier modifier, kept as a token under "code:identifier".
        if (const auto* id = v.get_object().if_contains("identifier"); id && id->is_object()) {
          out.tokens.push_back({code + ":identifier", std::string(Field(*id, "system")),
                                std::string(Field(*id, "value")), ""});
        }
      }
      break;
    }
    case SearchParamType::kDate: {
      if (v.is_string()) {
        AddDateText(code, v.get_string(), out);
      } else if (v.is_object()) {
        const auto& o = v.get_object();
        if (o.contains("start") || o.contains("end")) {  // Period
          int64_t low = kMinTime, high = kMaxTime;
          if (auto r = ParseFhirDateRange(Field(v, "start"))) low = r->low;
          if (auto r = ParseFhirDateRange(Field(v, "end"))) high = r->high;
          out.dates.push_back({code, low, high});
        } else if (const auto* ev = o.if_contains("event"); ev && ev->is_array()) {  // Timing
          for (const auto& e : ev->get_array()) AddDateText(code, Str(e), out);
        }
      }
      break;
    }
    case SearchParamType::kNumber: {
      if (v.is_number()) out.numbers.push_back({code, Number(v)});
      break;
    }
    case SearchParamType::kQuantity: {
      if (v.is_object()) {
        const auto& o = v.get_object();
        if (const auto* val = o.if_contains("value"); val && val->is_number()) {
          std::string system(Field(v, "system"));
          std::string qcode(Field(v, "code"));
          if (qcode.empty()) qcode = std::string(Field(v, "currency"));
          AddQuantity(code, Number(*val), std::move(system), std::move(qcode),
                      std::string(Field(v, "unit")), out);
        }
      } else if (v.is_number()) {
        AddQuantity(code, Number(v), "", "", "", out);
      }
      break;
    }
    case SearchParamType::kUri: {
      if (v.is_string()) out.uris.push_back({code, std::string(v.get_string())});
      break;
    }
    default:
      break;
  }
}

IndexEntries Indexer::Extract(const json::value& resource, bool shortcuts) const {
  IndexEntries out;
  std::string_view type = Field(resource, "resourceType");
  auto it = by_type_.find(std::string(type));
  if (it == by_type_.end()) return out;
  const TypeParams& tp = it->second;
  fhirpath::EvalOptions opts;
  opts.stub_unresolved_references = true;
  const json::object& obj = resource.get_object();
  std::vector<char> present;
  CompositeCache cache;
  // The resource as FHIRPath's root item, made once (what Evaluate makes for every expression).
  fhirpath::Item root;
  if (shortcuts) {
    present = PresentRoots(obj, tp.roots);
    if (tp.type != nullptr) {
      root = fhirpath::Item::Node(&resource, tp.type->name, tp.type, 0);
      opts.resource = &resource;
    }
  }
  for (const Param& p : tp.params) {
    if (shortcuts && !p.root_ids.empty() &&
        std::none_of(p.root_ids.begin(), p.root_ids.end(),
                     [&](uint16_t id) { return present[id] != 0; })) {
      continue;
    }
    auto r = root.valid() ? fhirpath::EvaluateOn(*p.expr, root, *defs_, opts)
                          : fhirpath::Evaluate(*p.expr, resource, *defs_, opts);
    if (!r.ok()) {
      log::Debug("index " + std::string(type) + "." + p.def->code + ": " + r.status().message());
      continue;
    }
    for (const auto& item : *r) {
      if (!item.valid()) continue;
      if (p.def->type == SearchParamType::kComposite)
        AddComposite(p, item, resource, out, shortcuts ? &cache : nullptr);
      else if (p.def->type == SearchParamType::kSpecial)
        AddPosition(p.def->code, item, out);
      else
        AddValue(p.def->type, p.def->code, item, out, p.implicit_vs);
    }
  }
  return out;
}

}  // namespace benhan::fhir
