// The FHIRPath evaluator: a tree walk over the parse tree, collections of Items that point into the
// input. Evaluation errors unwind with an internal EvalError that Evaluate() turns into a Status.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <limits>
#include <regex>
#include <unordered_map>

#include <boost/json.hpp>

#include "fhir/fhirpath/ast.h"
#include "fhir/fhirpath/fhirpath.h"
#include "fhir/fhirpath/values.h"

namespace benhan::fhir::fhirpath {

namespace json = boost::json;
using namespace internal;  // NOLINT: engine-internal names

Item Item::Computed(json::value v, std::string_view system_type) {
  Item it;
  it.owned_ = std::make_shared<const json::value>(std::move(v));
  it.node_ = it.owned_.get();
  it.type_ = system_type;
  it.system_ = true;
  return it;
}

Item Item::Decimal(double v, int scale) {
  Item it = Computed(json::value(v), "Decimal");
  it.scale_ = static_cast<int8_t>(scale < 0 ? -1 : std::min(scale, 100));
  return it;
}

Item Item::Shared(std::shared_ptr<const json::value> v, std::string_view type, bool system) {
  Item it;
  it.owned_ = std::move(v);
  it.node_ = it.owned_.get();
  it.type_ = type;
  it.system_ = system;
  return it;
}

namespace internal {

enum class Fn : int16_t {
#define FN(e, n, mn, mx) k##e,
#include "fhir/fhirpath/functions.def"
#undef FN
  kCount_
};

struct FnInfo {
  const char* name;
  int min_args, max_args;
};
const FnInfo kFns[] = {
#define FN(e, n, mn, mx) {n, mn, mx},
#include "fhir/fhirpath/functions.def"
#undef FN
};

int16_t FunctionId(std::string_view name) {
  static const auto* index = [] {
    auto* m = new std::unordered_map<std::string_view, int16_t>();
    for (int16_t i = 0; i < static_cast<int16_t>(Fn::kCount_); ++i) m->emplace(kFns[i].name, i);
    return m;
  }();
  auto it = index->find(name);
  return it == index->end() ? -1 : it->second;
}

void FunctionArity(int16_t id, int* min_args, int* max_args) {
  *min_args = kFns[id].min_args;
  *max_args = kFns[id].max_args;
}

}  // namespace internal

namespace {

struct EvalError {
  std::string message;
};
[[noreturn]] void Fail(std::string msg) { throw EvalError{std::move(msg)}; }

const Item& True() {
  static const Item t = Item::Computed(json::value(true), "Boolean");
  return t;
}
const Item& False() {
  static const Item f = Item::Computed(json::value(false), "Boolean");
  return f;
}
Item Bool(bool b) { return b ? True() : False(); }
Item Int(int64_t v) { return Item::Computed(json::value(v), "Integer"); }
Item Dec(double v, int scale = -1) { return Item::Decimal(v, scale); }

// Digits after the point of a decimal item (as written when known).
int ScaleOf(const Item& it) {
  if (it.decimal_scale() >= 0) return it.decimal_scale();
  const json::value& v = it.json();
  if (!v.is_double()) return 0;
  std::string s = FormatDecimal(v.get_double());
  auto p = s.find('.');
  return p == std::string::npos ? 0 : static_cast<int>(s.size() - p - 1);
}

std::string DecimalText(const Item& it) {
  std::string s = FormatDecimal(it.json().to_number<double>());
  int want = it.decimal_scale();
  if (want > 0) {
    auto p = s.find('.');
    int have = p == std::string::npos ? 0 : static_cast<int>(s.size() - p - 1);
    if (have < want) {
      if (p == std::string::npos) s += '.';
      s.append(static_cast<size_t>(want - have), '0');
    }
  }
  return s;
}

bool DecEq(double x, double y) {
  return x == y || std::fabs(x - y) <= 1e-12 * std::max(std::fabs(x), std::fabs(y));
}
Item Str(std::string s) { return Item::Computed(json::value(std::move(s)), "String"); }
Item Qty(double v, std::string unit) {
  json::object o;
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    o["value"] = v;
  } else {
    o["value"] = v;
  }
  o["unit"] = std::move(unit);
  return Item::Computed(json::value(std::move(o)), "Quantity");
}
Item TemporalItem(const Temporal& t) {
  const char* type = t.kind == VK::kDate ? "Date" : t.kind == VK::kTime ? "Time" : "DateTime";
  return Item::Computed(json::value(FormatTemporal(t)), type);
}

Collection One(Item it) {
  Collection c;
  c.push_back(std::move(it));
  return c;
}

std::string_view StrOf(const Item& it) {
  const json::value& v = it.json();
  return v.is_string() ? std::string_view(v.get_string()) : std::string_view();
}

double NumOf(const Item& it) {
  const json::value& v = it.json();
  return v.is_number() ? v.to_number<double>() : 0.0;
}

int64_t IntOf(const Item& it) {
  const json::value& v = it.json();
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) return static_cast<int64_t>(v.get_uint64());
  if (v.is_double()) return static_cast<int64_t>(v.get_double());
  return 0;
}

std::optional<Temporal> TemporalOf(const Item& it, VK k) {
  auto s = StrOf(it);
  if (k == VK::kDateTime) {
    // FHIR dateTime may be a bare date; System DateTime text is stored without the trailing 'T'.
    return ParseTemporal(s, VK::kDateTime);
  }
  return ParseTemporal(s, k);
}

bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }

// UTF-8 code points of s.
std::vector<std::string_view> CodePoints(std::string_view s) {
  std::vector<std::string_view> out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (i + n > s.size()) n = s.size() - i;
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

// '.' matches any character including newlines (FHIRPath regexes are single-line mode).
std::string DotAll(std::string_view p) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      out += c;
      out += p[++i];
      continue;
    }
    if (c == '[') in_class = true;
    if (c == ']') in_class = false;
    if (c == '.' && !in_class) {
      out += "[\\s\\S]";
      continue;
    }
    out += c;
  }
  return out;
}

struct Frame {
  const Item* this_item = nullptr;
  int64_t index = -1;
  const Collection* total = nullptr;
  const Frame* parent = nullptr;
  // defineVariable() values in scope (name -> collection), chained through parents.
  const std::vector<std::pair<std::string, Collection>>* defined = nullptr;
};

class Evaluator {
 public:
  Evaluator(const Definitions& defs, const EvalOptions& opts) : defs_(defs), opts_(opts) {}

  Item RootItem(const json::value& v, std::string_view input_type) const {
    if (!input_type.empty()) {
      const TypeDef* t = defs_.FindType(input_type);
      if (t != nullptr)
        return Item::Node(&v, t->name, t->kind == TypeKind::kPrimitive ? nullptr : t, 0);
      return Item::Node(&v, {});
    }
    return ResourceItem(&v);
  }

  Item ResourceItem(const json::value* v) const {
    if (v->is_object()) {
      const auto* rt = v->get_object().if_contains("resourceType");
      if (rt != nullptr && rt->is_string()) {
        const TypeDef* t = defs_.FindType(rt->get_string());
        if (t != nullptr) return Item::Node(v, t->name, t, 0);
      }
    }
    return Item::Node(v, {});
  }

  void SetContext(Item context, const json::value* resource, const json::value* root) {
    context_ = std::move(context);
    resource_ = resource;
    root_ = root;
  }

  Collection Eval(const Node& n, const Collection& focus, const Frame& f) {
    switch (n.kind) {
      case Kind::kEmpty:
        return {};
      case Kind::kLiteral:
        return One(n.literal);
      case Kind::kMember: {
        Collection out;
        for (const Item& it : focus) Member(it, n.name, out);
        return out;
      }
      case Kind::kFunction:
        return Call(n, focus, f);
      case Kind::kThis:
        if (f.this_item == nullptr) return focus;
        return One(*f.this_item);
      case Kind::kIndex:
        if (f.index < 0) return {};
        return One(Int(f.index));
      case Kind::kTotal:
        if (f.total == nullptr) return {};
        return *f.total;
      case Kind::kVariable:
        return Variable(n.name, f);
      case Kind::kInvoke: {
        Collection left = Eval(*n.args[0], focus, f);
        const Node& right = *n.args[1];
        if (right.kind == Kind::kMember) {
          Collection out;
          out.reserve(left.size());
          for (const Item& it : left) Member(it, right.name, out);
          Limit(out);
          return out;
        }
        if (right.kind == Kind::kThis || right.kind == Kind::kIndex || right.kind == Kind::kTotal) {
          return Eval(right, left, f);
        }
        return Call(right, left, f);
      }
      case Kind::kIndexer: {
        Collection left = Eval(*n.args[0], focus, f);
        Collection idx = Eval(*n.args[1], focus, f);
        if (idx.empty()) return {};
        int64_t i = IntArg(idx, "indexer");
        if (i < 0 || static_cast<size_t>(i) >= left.size()) return {};
        return One(left[static_cast<size_t>(i)]);
      }
      case Kind::kUnary: {
        Collection c = Eval(*n.args[0], focus, f);
        if (c.empty()) return {};
        if (c.size() > 1) Fail("unary operator on a collection of several items");
        if (n.op == Op::kPlus) return c;
        const Item& it = c[0];
        switch (KindOf(it)) {
          case VK::kInt:
            return One(Int(-IntOf(it)));
          case VK::kDec:
            return One(Dec(-NumOf(it)));
          case VK::kQuantity: {
            auto q = QuantityOf(it);
            return One(Qty(-q->value, q->unit));
          }
          default:
            Fail("unary minus on a value that is not a number");
        }
      }
      case Kind::kBinary:
        return Binary(n, focus, f);
      case Kind::kIs: {
        Collection c = Eval(*n.args[0], focus, f);
        if (c.empty()) return {};
        if (c.size() > 1) Fail("'is' on a collection of several items");
        return One(Bool(IsType(c[0], n.type)));
      }
      case Kind::kAs: {
        // The `as` operator filters a collection like ofType(): R4 search parameters rely on it
        // ("Observation.component.value as Quantity"). The as() function keeps N1's single-item
        // rule.
        Collection c = Eval(*n.args[0], focus, f);
        Collection out;
        CheckTypeName(n.type);
        for (const Item& it : c) {
          if (AsType(it, n.type)) out.push_back(it);
        }
        return out;
      }
    }
    return {};
  }

 private:
  void Limit(const Collection& c) const {
    if (c.size() > opts_.max_collection_size) Fail("collection too large");
  }

  // ---- navigation ----

  // Finds the definition of child `name` under (type, element), walking up base types for roots.
  ChildRef FindElement(const TypeDef* t, int32_t el, const std::string& name) const {
    // Cached per thread by (type, element, name text): paths are evaluated over and over.
    struct Key {
      const TypeDef* t;
      int32_t el;
      std::string_view name;
      bool operator==(const Key& o) const { return t == o.t && el == o.el && name == o.name; }
    };
    struct Hash {
      size_t operator()(const Key& k) const {
        size_t h =
            std::hash<const void*>()(k.t) ^ (static_cast<size_t>(k.el) * 0x9E3779B97F4A7C15ULL);
        for (char c : k.name) h = h * 131 + static_cast<unsigned char>(c);
        return h;
      }
    };
    struct Cache {
      const Definitions* defs = nullptr;
      std::unordered_map<Key, ChildRef, Hash> map;
      std::vector<std::unique_ptr<std::string>> names;  // owns the key texts
    };
    thread_local Cache cache;
    if (cache.defs != &defs_ || cache.map.size() > 200000) {
      cache.map.clear();
      cache.names.clear();
      cache.defs = &defs_;
    }
    auto it = cache.map.find(Key{t, el, name});
    if (it != cache.map.end()) return it->second;
    ChildRef found;
    for (const TypeDef* cur = t; cur != nullptr;) {
      const ElementDef& node = cur->elements[static_cast<size_t>(el)];
      auto c = node.child_by_name.find(name);
      if (c != node.child_by_name.end()) {
        found = ChildRef{cur, c->second, {}};
        break;
      }
      if (el != 0) break;
      cur = cur->base;
    }
    cache.names.push_back(std::make_unique<std::string>(name));
    cache.map.emplace(Key{t, el, *cache.names.back()}, found);
    return found;
  }

  // Adds the item for a JSON child value `v` of declared type `type`.
  void AddChild(const ChildRef& ref, std::string_view type, const json::value* v,
                const json::object* ext, Collection& out) const {
    if (v != nullptr && v->is_null()) v = &Null();
    if (ref && (type == "Resource" || type == "DomainResource") && v != nullptr && v->is_object()) {
      Item r = ResourceItem(v);
      if (!r.type().empty()) {
        out.push_back(r);
        return;
      }
    }
    const TypeDef* t = nullptr;
    int32_t el = -1;
    if (ref) {
      ChildRef node = NodeOf(ref, type);
      t = node.type;
      el = node.element;
    }
    out.push_back(Item::Node(v == nullptr ? &Null() : v, type, t, el, ext));
  }

  static const json::value& Null() {
    static const json::value n;
    return n;
  }

  void AddValues(const ChildRef& ref, std::string_view type, const json::value* v,
                 const json::value* ext, Collection& out) const {
    if (v != nullptr && v->is_array()) {
      const auto& a = v->get_array();
      const json::array* ea = ext != nullptr && ext->is_array() ? &ext->get_array() : nullptr;
      for (size_t i = 0; i < a.size(); ++i) {
        const json::object* e = nullptr;
        if (ea != nullptr && i < ea->size() && (*ea)[i].is_object()) e = &(*ea)[i].get_object();
        if (a[i].is_null() && e == nullptr) continue;
        AddChild(ref, type, &a[i], e, out);
      }
      return;
    }
    if (v == nullptr && ext != nullptr && ext->is_array()) {
      for (const auto& e : ext->get_array()) {
        if (e.is_object()) AddChild(ref, type, nullptr, &e.get_object(), out);
      }
      return;
    }
    const json::object* e = ext != nullptr && ext->is_object() ? &ext->get_object() : nullptr;
    if ((v == nullptr || v->is_null()) && e == nullptr) return;
    AddChild(ref, type, v, e, out);
  }

  // Definitions::NodeOf with the type lookup cached per thread. `type` must be a string owned by
  // the Definitions (ElementDef::types, TypeDef::name): the cache is keyed by its address.
  ChildRef NodeOf(const ChildRef& ref, std::string_view type) const {
    const ElementDef& e = ref.def();
    if (e.content_ref >= 0) return ChildRef{ref.type, e.content_ref, {}};
    if (!e.children.empty()) return ChildRef{ref.type, ref.element, {}};
    struct Cache {
      const Definitions* defs = nullptr;
      std::unordered_map<const char*, const TypeDef*> map;
    };
    thread_local Cache cache;
    if (cache.defs != &defs_) {
      cache.map.clear();
      cache.defs = &defs_;
    }
    auto [it, inserted] = cache.map.try_emplace(type.data(), nullptr);
    if (inserted) it->second = defs_.FindType(type);
    const TypeDef* t = it->second;
    if (t == nullptr || t->kind == TypeKind::kPrimitive) return ChildRef{};
    return ChildRef{t, 0, {}};
  }

  static std::string_view TypeOfDef(const ChildRef& ref) {
    const ElementDef& d = ref.def();
    if (!d.types.empty()) return d.types[0];
    if (d.content_ref >= 0) {
      const ElementDef& c = ref.type->elements[static_cast<size_t>(d.content_ref)];
      if (!c.types.empty()) return c.types[0];
    }
    return "BackboneElement";
  }

  // Children of a computed value keep it alive (they point into it).
  struct KeepChildrenAlive {
    const Item& parent;
    Collection& out;
    size_t start;
    ~KeepChildrenAlive() {
      if (parent.owner()) {
        for (size_t i = start; i < out.size(); ++i) out[i].KeepAlive(parent.owner());
      }
    }
  };

  void Member(const Item& it, const std::string& name, Collection& out) const {
    KeepChildrenAlive keep{it, out, out.size()};
    const json::value& v = it.json();
    if (!name.empty() && IsUpper(name[0])) {
      // A type name at the start of a path selects the focus if it is of that type.
      if (!it.type().empty() && !it.is_system()) {
        bool match = it.type() == name;
        if (!match && it.def_type() != nullptr && it.def_element() == 0) {
          for (const TypeDef* t = it.def_type()->base; t != nullptr && !match; t = t->base) {
            match = t->name == name;
          }
        } else if (!match) {
          match = defs_.IsA(it.type(), name);
        }
        if (match) out.push_back(it);
        return;
      }
    }
    if (!v.is_object()) {
      // Primitive: only id and extension, from the `_name` sibling.
      if (it.primitive_extension() != nullptr && (name == "extension" || name == "id")) {
        const json::object& e = *it.primitive_extension();
        const json::value* c = e.if_contains(name);
        if (c == nullptr) return;
        const TypeDef* element_type = defs_.FindType("Element");
        ChildRef ref = element_type != nullptr ? FindElement(element_type, 0, name) : ChildRef{};
        AddValues(ref, ref ? TypeOfDef(ref) : std::string_view(), c, nullptr, out);
      }
      return;
    }
    const json::object& o = v.get_object();
    ChildRef ref;
    if (it.def_type() != nullptr) ref = FindElement(it.def_type(), it.def_element(), name);
    if (ref && ref.def().is_choice) {
      // Polymorphic element: valueQuantity, valueString...
      for (const auto& kv : o) {
        std::string_view key = kv.key();
        if (key.size() <= name.size() || !IsUpper(key[name.size()]) ||
            std::memcmp(key.data(), name.data(), name.size()) != 0) {
          continue;
        }
        std::string_view suffix = key.substr(name.size());
        for (const std::string& ty : ref.def().types) {
          if (ty.size() == suffix.size() &&
              (ty[0] == suffix[0] || ty[0] - 'a' + 'A' == suffix[0]) &&
              std::memcmp(ty.data() + 1, suffix.data() + 1, suffix.size() - 1) == 0) {
            std::string ekey;
            ekey.reserve(key.size() + 1);
            ekey += '_';
            ekey += key;
            AddValues(ref, ty, &kv.value(), o.if_contains(ekey), out);
            break;
          }
        }
      }
      return;
    }
    const json::value* c = nullptr;
    const json::value* ext = nullptr;
    if (o.size() <= 16) {
      // Small objects (most FHIR elements): one pass finds both `name` and its `_name` sibling
      // (keys are unique), where two lookups would scan the keys twice.
      const size_t n = name.size();
      for (const auto& kv : o) {
        std::string_view key = kv.key();
        if (key.size() == n) {
          if (c == nullptr && std::memcmp(key.data(), name.data(), n) == 0) c = &kv.value();
        } else if (key.size() == n + 1 && key[0] == '_' && ext == nullptr &&
                   std::memcmp(key.data() + 1, name.data(), n) == 0) {
          ext = &kv.value();
        }
      }
    } else {
      c = o.if_contains(name);
      char buf[128];
      if (name.size() + 1 < sizeof buf) {
        buf[0] = '_';
        std::memcpy(buf + 1, name.data(), name.size());
        ext = o.if_contains(std::string_view(buf, name.size() + 1));
      }
    }
    if (c == nullptr && ext == nullptr) {
      if (!ref && it.def_type() == nullptr && it.type().empty()) {
        // Untyped input: guess polymorphic elements by key shape.
        for (const auto& kv : o) {
          std::string_view key = kv.key();
          if (key.size() > name.size() && key.substr(0, name.size()) == name &&
              IsUpper(key[name.size()])) {
            AddValues(ChildRef{}, {}, &kv.value(), nullptr, out);
          }
        }
      }
      return;
    }
    if (name == "resourceType") return;  // not an element
    if (ref) {
      AddValues(ref, TypeOfDef(ref), c, ext, out);
    } else {
      AddValues(ref, {}, c, ext, out);
    }
  }

  // All child items (children()).
  void AllChildren(const Item& it, Collection& out) const {
    KeepChildrenAlive keep{it, out, out.size()};
    const json::value& v = it.json();
    if (!v.is_object()) {
      if (it.primitive_extension() != nullptr) {
        for (const auto& kv : *it.primitive_extension()) Member(it, std::string(kv.key()), out);
      }
      return;
    }
    for (const auto& kv : v.get_object()) {
      std::string_view key = kv.key();
      if (key == "resourceType") continue;
      if (!key.empty() && key[0] == '_') {
        // Only if there is no value sibling (an extension-only primitive).
        if (v.get_object().contains(key.substr(1))) continue;
        key = key.substr(1);
      }
      std::string k(key);
      ChildRef ref =
          it.def_type() != nullptr ? FindElement(it.def_type(), it.def_element(), k) : ChildRef{};
      if (!ref && it.def_type() != nullptr) {
        ChildRef r = defs_.FindChild(*it.def_type(), it.def_element(), k);
        if (r) {
          const json::value* e = v.get_object().if_contains("_" + k);
          AddValues(r, r.chosen_type, v.get_object().if_contains(k), e, out);
          continue;
        }
      }
      if (ref) {
        AddValues(ref, TypeOfDef(ref), v.get_object().if_contains(k),
                  v.get_object().if_contains("_" + k), out);
      } else {
        AddValues(ref, {}, v.get_object().if_contains(k), v.get_object().if_contains("_" + k), out);
      }
    }
  }

  // ---- variables ----

  Collection Variable(const std::string& name, const Frame& f) const {
    for (const Frame* p = &f; p != nullptr; p = p->parent) {
      if (p->defined != nullptr) {
        for (auto it = p->defined->rbegin(); it != p->defined->rend(); ++it) {
          if (it->first == name) return it->second;
        }
      }
    }
    auto v = opts_.variables.find(name);
    if (v != opts_.variables.end()) return v->second;
    if (name == "context") return context_.valid() ? One(context_) : Collection{};
    if (name == "resource")
      return resource_ != nullptr ? One(ResourceItem(resource_)) : Collection{};
    if (name == "rootResource") return root_ != nullptr ? One(ResourceItem(root_)) : Collection{};
    if (name == "ucum") return One(Str("http://unitsofmeasure.org"));
    if (name == "sct") return One(Str("http://snomed.info/sct"));
    if (name == "loinc") return One(Str("http://loinc.org"));
    if (name.rfind("vs-", 0) == 0)
      return One(Str("http://hl7.org/fhir/ValueSet/" + name.substr(3)));
    if (name.rfind("ext-", 0) == 0) {
      return One(Str("http://hl7.org/fhir/StructureDefinition/" + name.substr(4)));
    }
    Fail("unknown variable %" + name);
  }

  // ---- types ----

  // as() / ofType(): the exact type, or a subtype for complex types and resources.
  bool AsType(const Item& it, const TypeName& tn) const {
    if (!IsType(it, tn)) return false;
    if (it.is_system() || it.type() == tn.name) return true;
    const TypeDef* t = defs_.FindType(it.type());
    return t == nullptr || t->kind != TypeKind::kPrimitive;
  }

  void CheckTypeName(const TypeName& tn) const {
    static const char* const kSystem[] = {"Boolean",  "Integer", "Decimal",  "String", "Date",
                                          "DateTime", "Time",    "Quantity", "Long",   "Any"};
    if (tn.checked.defs.load(std::memory_order_relaxed) == &defs_) return;
    if (tn.ns != "FHIR") {
      for (const char* s : kSystem) {
        if (tn.name == s) {
          tn.checked.defs.store(&defs_, std::memory_order_relaxed);
          return;
        }
      }
    }
    if (tn.ns != "System" && defs_.FindType(tn.name) != nullptr) {
      tn.checked.defs.store(&defs_, std::memory_order_relaxed);
      return;
    }
    Fail("unknown type '" + (tn.ns.empty() ? "" : tn.ns + ".") + tn.name + "'");
  }

  bool IsType(const Item& it, const TypeName& tn) const {
    static const char* const kSystem[] = {"Boolean",  "Integer", "Decimal",  "String", "Date",
                                          "DateTime", "Time",    "Quantity", "Long",   "Any"};
    if (it.is_system()) {
      if (!tn.ns.empty() && tn.ns != "System") return false;
      if (tn.name == "Any") return true;
      return it.type() == tn.name;
    }
    if (tn.ns == "System") return false;
    if (it.type().empty()) return false;
    if (it.type() == tn.name) return true;
    if (tn.ns.empty()) {
      for (const char* s : kSystem) {
        if (tn.name == s && tn.name != "Quantity") return false;
      }
    }
    return defs_.IsA(it.type(), tn.name);
  }

  // ---- helpers ----

  int64_t IntArg(const Collection& c, const char* fn) const {
    if (c.size() != 1) Fail(std::string(fn) + ": expected one integer");
    VK k = KindOf(c[0]);
    if (k != VK::kInt) Fail(std::string(fn) + ": expected an integer");
    return IntOf(c[0]);
  }

  std::optional<std::string> StrArg(const Collection& c, const char* fn) const {
    if (c.empty()) return std::nullopt;
    if (c.size() > 1) Fail(std::string(fn) + ": expected one string");
    if (KindOf(c[0]) != VK::kStr) Fail(std::string(fn) + ": expected a string");
    return std::string(StrOf(c[0]));
  }

  // Singleton evaluation to boolean: empty -> nullopt.
  std::optional<bool> BoolOf(const Collection& c, const char* what) const {
    if (c.empty()) return std::nullopt;
    if (c.size() > 1) Fail(std::string(what) + ": expected a single boolean, got a collection");
    if (KindOf(c[0]) == VK::kBool) return c[0].json().get_bool();
    return true;  // singleton non-boolean is true
  }

  // The string focus of a string function: empty -> nullopt; not a string -> error.
  std::optional<std::string_view> FocusStr(const Collection& focus, const char* fn) const {
    if (focus.empty()) return std::nullopt;
    if (focus.size() > 1) Fail(std::string(fn) + "() on a collection of several items");
    VK k = KindOf(focus[0]);
    if (k != VK::kStr) {
      if (k == VK::kNone) return std::nullopt;
      Fail(std::string(fn) + "() on a value that is not a string");
    }
    return StrOf(focus[0]);
  }

  // ---- equality ----

  // Equal: 1 true, 0 false, -1 unknown (empty).
  int EqualItems(const Item& a, const Item& b, bool equiv) const {
    VK ka = KindOf(a), kb = KindOf(b);
    if (ka == VK::kNone || kb == VK::kNone) return equiv ? (ka == kb ? 1 : 0) : -1;
    if ((ka == VK::kInt || ka == VK::kDec) && (kb == VK::kInt || kb == VK::kDec)) {
      if (ka == VK::kInt && kb == VK::kInt) return IntOf(a) == IntOf(b);
      double x = NumOf(a), y = NumOf(b);
      if (equiv) {
        // Equivalent at the precision of the least precise operand.
        auto digits = [](double d) {
          std::string s = FormatDecimal(d);
          auto p = s.find('.');
          return p == std::string::npos ? 0 : static_cast<int>(s.size() - p - 1);
        };
        int p = std::min(digits(x), digits(y));
        double m = std::pow(10.0, p);
        return std::round(x * m) == std::round(y * m);
      }
      return DecEq(x, y);
    }
    if (ka == VK::kStr && kb == VK::kStr) {
      if (!equiv) return StrOf(a) == StrOf(b);
      return NormalizeStr(StrOf(a)) == NormalizeStr(StrOf(b));
    }
    if (ka == VK::kBool && kb == VK::kBool) return a.json().get_bool() == b.json().get_bool();
    bool ta = ka == VK::kDate || ka == VK::kDateTime || ka == VK::kTime;
    bool tb = kb == VK::kDate || kb == VK::kDateTime || kb == VK::kTime;
    if (ta && tb) {
      auto x = TemporalOf(a, ka), y = TemporalOf(b, kb);
      if (!x || !y) return 0;
      if ((ka == VK::kTime) != (kb == VK::kTime)) return 0;
      auto c = CompareTemporal(*x, *y);
      if (!c) return equiv ? 0 : -1;
      return *c == 0;
    }
    if (ka == VK::kQuantity && kb == VK::kQuantity) {
      auto x = QuantityOf(a), y = QuantityOf(b);
      if (!x || !y) return 0;
      int r = QuantityEqual(*x, *y, equiv);
      return r;
    }
    if (ka == VK::kOther && kb == VK::kOther) {
      return a.json() == b.json();
    }
    return 0;
  }

  static bool IsCalendar(std::string_view u) {
    return u == "year" || u == "years" || u == "month" || u == "months";
  }

  int QuantityEqual(const Quantity& x, const Quantity& y, bool equiv) const {
    // Calendar year/month are not comparable with UCUM 'a'/'mo' for equality.
    bool cx = IsCalendar(x.unit), cy = IsCalendar(y.unit);
    if (cx != cy) {
      if (!equiv) return -1;
    }
    double vx, vy;
    std::string dx, dy;
    Canonical(x, &vx, &dx);
    Canonical(y, &vy, &dy);
    if (cx && !cy) {
      Quantity u{x.value, dx == "year" ? "a" : "mo"};
      Canonical(u, &vx, &dx);
    } else if (cy && !cx) {
      Quantity u{y.value, dy == "year" ? "a" : "mo"};
      Canonical(u, &vy, &dy);
    }
    if (dx != dy) return equiv ? 0 : -1;
    double tol = std::max(std::fabs(vx), std::fabs(vy)) * 1e-12;
    if (equiv) {
      // Equivalence: compare with the precision of the least precise value.
      double a = vx, b = vy;
      auto digits = [](double d) {
        std::string s = FormatDecimal(d);
        auto p = s.find('.');
        return p == std::string::npos ? 0 : static_cast<int>(s.size() - p - 1);
      };
      int p = std::min(digits(x.value), digits(y.value));
      double scale = std::max(std::fabs(a), std::fabs(b));
      double mag = scale == 0 ? 1 : std::pow(10.0, std::floor(std::log10(scale)));
      double rel = std::pow(10.0, -p) * mag / std::max(std::fabs(x.value), 1.0);
      (void)rel;
      return std::fabs(a - b) <= std::max(tol, std::pow(10.0, -p) * scale / 100 + tol);
    }
    return std::fabs(vx - vy) <= tol;
  }

  static std::string NormalizeStr(std::string_view s) {
    std::string out;
    bool space = false;
    for (char c : s) {
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        space = true;
        continue;
      }
      if (space && !out.empty()) out.push_back(' ');
      space = false;
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    return out;
  }

  // Collection equality (=): -1 unknown.
  int EqualCollections(const Collection& a, const Collection& b) const {
    if (a.empty() || b.empty()) return -1;
    if (a.size() != b.size()) return 0;
    int result = 1;
    for (size_t i = 0; i < a.size(); ++i) {
      int r = EqualItems(a[i], b[i], false);
      if (r == 0) return 0;
      if (r < 0) result = -1;
    }
    return result;
  }

  bool EquivCollections(const Collection& a, const Collection& b) const {
    if (a.empty() && b.empty()) return true;
    if (a.size() != b.size()) return false;
    std::vector<bool> used(b.size(), false);
    for (const Item& x : a) {
      bool found = false;
      for (size_t j = 0; j < b.size(); ++j) {
        if (!used[j] && EqualItems(x, b[j], true) == 1) {
          used[j] = true;
          found = true;
          break;
        }
      }
      if (!found) return false;
    }
    return true;
  }

  bool Contains(const Collection& c, const Item& x) const {
    for (const Item& y : c) {
      if (EqualItems(x, y, false) == 1) return true;
    }
    return false;
  }

  // Ordering: -1/0/1, nullopt when unknown (temporal precision); error for incomparable types.
  std::optional<int> CompareItems(const Item& a, const Item& b) const {
    VK ka = KindOf(a), kb = KindOf(b);
    if ((ka == VK::kInt || ka == VK::kDec) && (kb == VK::kInt || kb == VK::kDec)) {
      if (ka == VK::kInt && kb == VK::kInt) {
        int64_t x = IntOf(a), y = IntOf(b);
        return x < y ? -1 : x > y ? 1 : 0;
      }
      double x = NumOf(a), y = NumOf(b);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    if (ka == VK::kStr && kb == VK::kStr) {
      int c = StrOf(a).compare(StrOf(b));
      return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
    bool ta = ka == VK::kDate || ka == VK::kDateTime || ka == VK::kTime;
    bool tb = kb == VK::kDate || kb == VK::kDateTime || kb == VK::kTime;
    if (ta && tb) {
      if ((ka == VK::kTime) != (kb == VK::kTime)) Fail("cannot compare a time with a date");
      auto x = TemporalOf(a, ka), y = TemporalOf(b, kb);
      if (!x || !y) return std::nullopt;
      return CompareTemporal(*x, *y);
    }
    if (ka == VK::kQuantity && kb == VK::kQuantity) {
      auto x = QuantityOf(a), y = QuantityOf(b);
      double vx, vy;
      std::string dx, dy;
      Canonical(*x, &vx, &dx);
      Canonical(*y, &vy, &dy);
      if (dx != dy) return std::nullopt;
      return vx < vy ? -1 : vx > vy ? 1 : 0;
    }
    if (ka == VK::kNone || kb == VK::kNone) return std::nullopt;
    Fail("cannot compare values of different types");
  }

  // ---- operators ----

  Collection Binary(const Node& n, const Collection& focus, const Frame& f) {
    switch (n.op) {
      case Op::kAnd: {
        auto a = BoolOf(Eval(*n.args[0], focus, f), "and");
        if (a.has_value() && !*a) return One(False());
        auto b = BoolOf(Eval(*n.args[1], focus, f), "and");
        if (b.has_value() && !*b) return One(False());
        if (a.has_value() && b.has_value()) return One(True());
        return {};
      }
      case Op::kOr: {
        auto a = BoolOf(Eval(*n.args[0], focus, f), "or");
        if (a.has_value() && *a) return One(True());
        auto b = BoolOf(Eval(*n.args[1], focus, f), "or");
        if (b.has_value() && *b) return One(True());
        if (a.has_value() && b.has_value()) return One(False());
        return {};
      }
      case Op::kXor: {
        auto a = BoolOf(Eval(*n.args[0], focus, f), "xor");
        auto b = BoolOf(Eval(*n.args[1], focus, f), "xor");
        if (!a || !b) return {};
        return One(Bool(*a != *b));
      }
      case Op::kImplies: {
        auto a = BoolOf(Eval(*n.args[0], focus, f), "implies");
        if (a.has_value() && !*a) return One(True());
        auto b = BoolOf(Eval(*n.args[1], focus, f), "implies");
        if (b.has_value() && *b) return One(True());
        if (a.has_value() && b.has_value()) return One(False());
        return {};
      }
      default:
        break;
    }
    Collection l = Eval(*n.args[0], focus, f);
    Collection r = Eval(*n.args[1], focus, f);
    switch (n.op) {
      case Op::kUnion: {
        Collection out;
        for (const Item& x : l) {
          if (!Contains(out, x)) out.push_back(x);
        }
        for (const Item& x : r) {
          if (!Contains(out, x)) out.push_back(x);
        }
        return out;
      }
      case Op::kEq:
      case Op::kNe: {
        int e = EqualCollections(l, r);
        if (e < 0) return {};
        return One(Bool((e == 1) == (n.op == Op::kEq)));
      }
      case Op::kEquiv:
      case Op::kNotEquiv: {
        bool e = EquivCollections(l, r);
        return One(Bool(e == (n.op == Op::kEquiv)));
      }
      case Op::kIn:
      case Op::kContains: {
        const Collection& item = n.op == Op::kIn ? l : r;
        const Collection& coll = n.op == Op::kIn ? r : l;
        if (item.empty()) return {};
        if (item.size() > 1) Fail("'in'/'contains' with a collection of several items");
        return One(Bool(Contains(coll, item[0])));
      }
      case Op::kConcat: {
        if (l.size() > 1 || r.size() > 1) Fail("'&' on a collection of several items");
        std::string s;
        if (!l.empty()) s += StrOf(l[0]);
        if (!r.empty()) s += StrOf(r[0]);
        return One(Str(std::move(s)));
      }
      default:
        break;
    }
    if (l.empty() || r.empty()) return {};
    if (l.size() > 1 || r.size() > 1) Fail("operator on a collection of several items");
    const Item& a = l[0];
    const Item& b = r[0];
    switch (n.op) {
      case Op::kLt:
      case Op::kLe:
      case Op::kGt:
      case Op::kGe: {
        auto c = CompareItems(a, b);
        if (!c) return {};
        bool res = n.op == Op::kLt   ? *c < 0
                   : n.op == Op::kLe ? *c <= 0
                   : n.op == Op::kGt ? *c > 0
                                     : *c >= 0;
        return One(Bool(res));
      }
      default:
        return Arithmetic(n.op, a, b);
    }
  }

  Collection Arithmetic(Op op, const Item& a, const Item& b) const {
    VK ka = KindOf(a), kb = KindOf(b);
    if (ka == VK::kNone || kb == VK::kNone) return {};
    bool na = ka == VK::kInt || ka == VK::kDec, nb = kb == VK::kInt || kb == VK::kDec;
    if (na && nb) {
      if (ka == VK::kInt && kb == VK::kInt && op != Op::kDiv) {
        int64_t x = IntOf(a), y = IntOf(b), r = 0;
        switch (op) {
          case Op::kPlus:
            if (__builtin_add_overflow(x, y, &r)) return {};
            return One(Int(r));
          case Op::kMinus:
            if (__builtin_sub_overflow(x, y, &r)) return {};
            return One(Int(r));
          case Op::kMul:
            if (__builtin_mul_overflow(x, y, &r)) return {};
            return One(Int(r));
          case Op::kIntDiv:
            if (y == 0 || (x == INT64_MIN && y == -1)) return {};
            return One(Int(x / y));
          case Op::kMod:
            if (y == 0 || (x == INT64_MIN && y == -1)) return {};
            return One(Int(x % y));
          default:
            break;
        }
      }
      double x = NumOf(a), y = NumOf(b);
      int sa = ScaleOf(a), sb = ScaleOf(b);
      auto fix = [](double v, int scale) {
        // Round away binary noise at the decimal scale of the operands (1.8 - 1.2 = 0.6).
        if (scale < 0 || scale > 15) return v;
        double m = std::pow(10.0, scale);
        double r = std::round(v * m) / m;
        return std::fabs(r - v) < 1e-9 * std::max(1.0, std::fabs(v)) ? r : v;
      };
      switch (op) {
        case Op::kPlus:
          return One(Dec(fix(x + y, std::max(sa, sb)), std::max(sa, sb)));
        case Op::kMinus:
          return One(Dec(fix(x - y, std::max(sa, sb)), std::max(sa, sb)));
        case Op::kMul:
          return One(Dec(fix(x * y, sa + sb), sa + sb));
        case Op::kDiv:
          if (y == 0) return {};
          return One(Dec(x / y));
        case Op::kIntDiv:
          if (y == 0) return {};
          return One(Int(static_cast<int64_t>(std::trunc(x / y))));
        case Op::kMod:
          if (y == 0) return {};
          return One(Dec(fix(std::fmod(x, y), std::max(sa, sb)), std::max(sa, sb)));
        default:
          break;
      }
    }
    if (ka == VK::kStr && kb == VK::kStr && op == Op::kPlus) {
      return One(Str(std::string(StrOf(a)) + std::string(StrOf(b))));
    }
    bool ta = ka == VK::kDate || ka == VK::kDateTime || ka == VK::kTime;
    if (ta && kb == VK::kQuantity && (op == Op::kPlus || op == Op::kMinus)) {
      auto t = TemporalOf(a, ka);
      auto q = QuantityOf(b);
      if (!t || !q) return {};
      if (q->unit == "a" || q->unit == "mo") Fail("cannot add a UCUM year or month to a date");
      double v = op == Op::kMinus ? -q->value : q->value;
      if (!AddToTemporal(&*t, v, q->unit))
        Fail("cannot add a quantity of unit '" + q->unit + "' to a date");
      t->kind = ka == VK::kDate ? VK::kDate : ka == VK::kTime ? VK::kTime : VK::kDateTime;
      return One(TemporalItem(*t));
    }
    if (ka == VK::kQuantity || kb == VK::kQuantity) {
      std::optional<Quantity> x = ka == VK::kQuantity ? QuantityOf(a) : std::nullopt;
      std::optional<Quantity> y = kb == VK::kQuantity ? QuantityOf(b) : std::nullopt;
      if (!x && na) x = Quantity{NumOf(a), "1"};
      if (!y && nb) y = Quantity{NumOf(b), "1"};
      if (!x || !y) Fail("arithmetic on incompatible operands");
      switch (op) {
        case Op::kPlus:
        case Op::kMinus: {
          auto yc = ConvertQuantity(*y, x->unit);
          if (!yc) return {};
          return One(Qty(op == Op::kPlus ? x->value + yc->value : x->value - yc->value, x->unit));
        }
        case Op::kMul:
        case Op::kDiv: {
          double vx, vy;
          std::string dx, dy;
          Canonical(*x, &vx, &dx);
          Canonical(*y, &vy, &dy);
          if (op == Op::kDiv && vy == 0) return {};
          return One(Qty(op == Op::kMul ? vx * vy : vx / vy, MulUnits(dx, dy, op == Op::kDiv)));
        }
        default:
          Fail("operator not defined for quantities");
      }
    }
    Fail("arithmetic on incompatible operands");
  }

  // ---- functions ----

  Collection Lambda(const Node& arg, const Item& it, int64_t index, const Frame& f) {
    Frame g{&it, index, f.total, &f, nullptr};
    Collection focus = One(it);
    return Eval(arg, focus, g);
  }

  Collection ArgValue(const Node& n, size_t i, const Frame& f) {
    // Arguments that are not lambdas are evaluated with the outer context ($this of the caller).
    Collection focus;
    if (f.this_item != nullptr)
      focus.push_back(*f.this_item);
    else if (context_.valid())
      focus.push_back(context_);
    return Eval(*n.args[i], focus, f);
  }

  Collection Call(const Node& n, const Collection& focus, const Frame& f) {
    Fn fn = static_cast<Fn>(n.fn);
    switch (fn) {
      case Fn::kEmpty:
        return One(Bool(focus.empty()));
      case Fn::kExists: {
        if (n.args.empty()) return One(Bool(!focus.empty()));
        for (size_t i = 0; i < focus.size(); ++i) {
          auto b = BoolOf(Lambda(*n.args[0], focus[i], static_cast<int64_t>(i), f), "exists");
          if (b.value_or(false)) return One(True());
        }
        return One(False());
      }
      case Fn::kAll: {
        for (size_t i = 0; i < focus.size(); ++i) {
          auto b = BoolOf(Lambda(*n.args[0], focus[i], static_cast<int64_t>(i), f), "all");
          if (!b.value_or(false)) return One(False());
        }
        return One(True());
      }
      case Fn::kAllTrue:
      case Fn::kAnyTrue:
      case Fn::kAllFalse:
      case Fn::kAnyFalse: {
        bool all = fn == Fn::kAllTrue || fn == Fn::kAllFalse;
        bool want = fn == Fn::kAllTrue || fn == Fn::kAnyTrue;
        for (const Item& it : focus) {
          if (KindOf(it) != VK::kBool)
            Fail(std::string(kFns[n.fn].name) + "() on a non-boolean item");
          bool v = it.json().get_bool();
          if (all && v != want) return One(False());
          if (!all && v == want) return One(True());
        }
        return One(Bool(all));
      }
      case Fn::kSubsetOf:
      case Fn::kSupersetOf: {
        Collection other = ArgValue(n, 0, f);
        const Collection& sub = fn == Fn::kSubsetOf ? focus : other;
        const Collection& sup = fn == Fn::kSubsetOf ? other : focus;
        for (const Item& x : sub) {
          if (!Contains(sup, x)) return One(False());
        }
        return One(True());
      }
      case Fn::kCount:
        return One(Int(static_cast<int64_t>(focus.size())));
      case Fn::kDistinct: {
        Collection out;
        for (const Item& x : focus) {
          if (!Contains(out, x)) out.push_back(x);
        }
        return out;
      }
      case Fn::kIsDistinct: {
        Collection out;
        for (const Item& x : focus) {
          if (Contains(out, x)) return One(False());
          out.push_back(x);
        }
        return One(True());
      }
      case Fn::kWhere: {
        Collection out;
        for (size_t i = 0; i < focus.size(); ++i) {
          auto b = BoolOf(Lambda(*n.args[0], focus[i], static_cast<int64_t>(i), f), "where");
          if (b.value_or(false)) out.push_back(focus[i]);
        }
        return out;
      }
      case Fn::kSelect: {
        Collection out;
        for (size_t i = 0; i < focus.size(); ++i) {
          Collection r = Lambda(*n.args[0], focus[i], static_cast<int64_t>(i), f);
          out.insert(out.end(), r.begin(), r.end());
          Limit(out);
        }
        return out;
      }
      case Fn::kRepeat:
      case Fn::kRepeatAll: {
        Collection out;
        Collection work = focus;
        size_t rounds = 0;
        while (!work.empty()) {
          if (++rounds > 10000) Fail("repeat() does not terminate");
          Collection next;
          for (size_t i = 0; i < work.size(); ++i) {
            Collection r = Lambda(*n.args[0], work[i], static_cast<int64_t>(i), f);
            for (Item& x : r) {
              if (fn == Fn::kRepeat && Contains(out, x)) continue;
              out.push_back(x);
              next.push_back(std::move(x));
            }
          }
          Limit(out);
          work = std::move(next);
        }
        return out;
      }
      case Fn::kOfType: {
        CheckTypeName(n.type);
        Collection out;
        for (const Item& it : focus) {
          if (AsType(it, n.type)) out.push_back(it);
        }
        return out;
      }
      case Fn::kIs: {
        if (focus.empty()) return {};
        if (focus.size() > 1) Fail("is() on a collection of several items");
        return One(Bool(IsType(focus[0], n.type)));
      }
      case Fn::kAs: {
        CheckTypeName(n.type);
        if (focus.size() > 1) Fail("as() on a collection of several items");
        Collection out;
        for (const Item& it : focus) {
          if (AsType(it, n.type)) out.push_back(it);
        }
        return out;
      }
      case Fn::kSingle:
        if (focus.size() > 1) Fail("single() on a collection of several items");
        return focus;
      case Fn::kFirst:
        if (focus.empty()) return {};
        return One(focus.front());
      case Fn::kLast:
        if (focus.empty()) return {};
        return One(focus.back());
      case Fn::kTail:
        if (focus.size() <= 1) return {};
        return Collection(focus.begin() + 1, focus.end());
      case Fn::kSkip: {
        Collection a = ArgValue(n, 0, f);
        if (a.empty()) return focus;
        int64_t k = IntArg(a, "skip");
        if (k <= 0) return focus;
        if (static_cast<size_t>(k) >= focus.size()) return {};
        return Collection(focus.begin() + k, focus.end());
      }
      case Fn::kTake: {
        Collection a = ArgValue(n, 0, f);
        if (a.empty()) return {};
        int64_t k = IntArg(a, "take");
        if (k <= 0) return {};
        if (static_cast<size_t>(k) >= focus.size()) return focus;
        return Collection(focus.begin(), focus.begin() + k);
      }
      case Fn::kIntersect: {
        Collection other = ArgValue(n, 0, f);
        Collection out;
        for (const Item& x : focus) {
          if (Contains(other, x) && !Contains(out, x)) out.push_back(x);
        }
        return out;
      }
      case Fn::kExclude: {
        Collection other = ArgValue(n, 0, f);
        Collection out;
        for (const Item& x : focus) {
          if (!Contains(other, x)) out.push_back(x);
        }
        return out;
      }
      case Fn::kUnion: {
        Collection other = ArgValue(n, 0, f);
        Collection out;
        for (const Item& x : focus) {
          if (!Contains(out, x)) out.push_back(x);
        }
        for (const Item& x : other) {
          if (!Contains(out, x)) out.push_back(x);
        }
        return out;
      }
      case Fn::kCombine: {
        Collection other = ArgValue(n, 0, f);
        Collection out = focus;
        out.insert(out.end(), other.begin(), other.end());
        return out;
      }
      case Fn::kIif: {
        if (focus.size() > 1) Fail("iif() on a collection of several items");
        Item self;
        Frame g = f;
        if (!focus.empty() && f.this_item != &focus[0]) {
          self = focus[0];
          g.this_item = &self;
          g.parent = &f;
        }
        Collection c = ArgValue(n, 0, g);
        if (c.size() > 1) Fail("iif(): criterion is a collection of several items");
        if (c.size() == 1 && KindOf(c[0]) != VK::kBool) Fail("iif(): criterion is not a boolean");
        bool cond = c.size() == 1 && c[0].json().get_bool();
        if (cond) return ArgValue(n, 1, g);
        if (n.args.size() > 2) return ArgValue(n, 2, g);
        return {};
      }
      case Fn::kNot: {
        if (focus.empty()) return {};
        if (focus.size() > 1) Fail("not() on a collection of several items");
        auto b = BoolOf(focus, "not");
        return One(Bool(!*b));
      }
      case Fn::kToBoolean:
      case Fn::kConvertsToBoolean:
      case Fn::kToInteger:
      case Fn::kConvertsToInteger:
      case Fn::kToLong:
      case Fn::kConvertsToLong:
      case Fn::kToDecimal:
      case Fn::kConvertsToDecimal:
      case Fn::kToString:
      case Fn::kConvertsToString:
      case Fn::kToDate:
      case Fn::kConvertsToDate:
      case Fn::kToDateTime:
      case Fn::kConvertsToDateTime:
      case Fn::kToTime:
      case Fn::kConvertsToTime:
      case Fn::kToQuantity:
      case Fn::kConvertsToQuantity:
        return Convert(n, fn, focus, f);
      default:
        return Call2(n, fn, focus, f);
    }
  }

  Collection Convert(const Node& n, Fn fn, const Collection& focus, const Frame& f) {
    if (focus.empty()) return {};
    if (focus.size() > 1)
      Fail(std::string(kFns[n.fn].name) + "() on a collection of several items");
    const Item& it = focus[0];
    VK k = KindOf(it);
    std::optional<Item> r;
    switch (fn) {
      case Fn::kToBoolean:
      case Fn::kConvertsToBoolean:
        if (k == VK::kBool) {
          r = Bool(it.json().get_bool());
        } else if (k == VK::kInt) {
          if (IntOf(it) == 1) r = True();
          if (IntOf(it) == 0) r = False();
        } else if (k == VK::kDec) {
          if (NumOf(it) == 1.0) r = True();
          if (NumOf(it) == 0.0) r = False();
        } else if (k == VK::kStr) {
          std::string s = NormalizeStr(StrOf(it));
          if (s == "true" || s == "t" || s == "yes" || s == "y" || s == "1" || s == "1.0")
            r = True();
          if (s == "false" || s == "f" || s == "no" || s == "n" || s == "0" || s == "0.0")
            r = False();
        }
        break;
      case Fn::kToInteger:
      case Fn::kConvertsToInteger:
      case Fn::kToLong:
      case Fn::kConvertsToLong:
        if (k == VK::kInt) {
          r = Int(IntOf(it));
        } else if (k == VK::kBool) {
          r = Int(it.json().get_bool() ? 1 : 0);
        } else if (k == VK::kStr) {
          std::string_view s = StrOf(it);
          size_t i = 0;
          if (!s.empty() && (s[0] == '+' || s[0] == '-')) i = 1;
          bool ok = i < s.size();
          for (size_t j = i; j < s.size(); ++j) ok = ok && s[j] >= '0' && s[j] <= '9';
          if (ok && s.size() < 19) r = Int(std::strtoll(std::string(s).c_str(), nullptr, 10));
        }
        break;
      case Fn::kToDecimal:
      case Fn::kConvertsToDecimal:
        if (k == VK::kInt || k == VK::kDec) {
          r = Dec(NumOf(it));
        } else if (k == VK::kBool) {
          r = Dec(it.json().get_bool() ? 1.0 : 0.0);
        } else if (k == VK::kStr) {
          std::string s(StrOf(it));
          size_t i = 0;
          if (!s.empty() && (s[0] == '+' || s[0] == '-')) i = 1;
          size_t digits = 0, dots = 0;
          bool ok = i < s.size();
          for (size_t j = i; j < s.size(); ++j) {
            if (s[j] >= '0' && s[j] <= '9')
              ++digits;
            else if (s[j] == '.')
              ++dots;
            else
              ok = false;
          }
          if (ok && digits > 0 && dots <= 1 && s.back() != '.')
            r = Dec(std::strtod(s.c_str(), nullptr));
        }
        break;
      case Fn::kToString:
      case Fn::kConvertsToString:
        r = ToStringItem(it, k);
        break;
      case Fn::kToDate:
      case Fn::kConvertsToDate:
        if (k == VK::kDate || k == VK::kDateTime || k == VK::kStr) {
          auto t = ParseTemporal(StrOf(it), k == VK::kDate ? VK::kDate : VK::kDateTime);
          if (t) {
            t->kind = VK::kDate;
            t->prec = std::min(t->prec, 3);
            t->tz = false;
            r = TemporalItem(*t);
          }
        }
        break;
      case Fn::kToDateTime:
      case Fn::kConvertsToDateTime:
        if (k == VK::kDate || k == VK::kDateTime || k == VK::kStr) {
          auto t = ParseTemporal(StrOf(it), VK::kDateTime);
          if (t) {
            t->kind = VK::kDateTime;
            r = TemporalItem(*t);
          }
        }
        break;
      case Fn::kToTime:
      case Fn::kConvertsToTime:
        if (k == VK::kTime || k == VK::kStr) {
          auto s = StrOf(it);
          if (!s.empty() && s[0] == 'T') s.remove_prefix(1);
          auto t = ParseTemporal(s, VK::kTime);
          if (t) r = TemporalItem(*t);
        }
        break;
      case Fn::kToQuantity:
      case Fn::kConvertsToQuantity: {
        std::optional<Quantity> q;
        if (k == VK::kInt || k == VK::kDec) {
          q = Quantity{NumOf(it), "1"};
        } else if (k == VK::kBool) {
          q = Quantity{it.json().get_bool() ? 1.0 : 0.0, "1"};
        } else if (k == VK::kQuantity) {
          q = QuantityOf(it);
        } else if (k == VK::kStr) {
          q = ParseQuantityString(StrOf(it));
        }
        if (q && !n.args.empty()) {
          auto u = StrArg(ArgValue(n, 0, f), "toQuantity");
          if (u) {
            if (*u != q->unit) q = ConvertQuantity(*q, *u);
          }
        }
        if (q) r = Qty(q->value, q->unit);
        break;
      }
      default:
        break;
    }
    bool converts =
        fn == Fn::kConvertsToBoolean || fn == Fn::kConvertsToInteger || fn == Fn::kConvertsToLong ||
        fn == Fn::kConvertsToDecimal || fn == Fn::kConvertsToString || fn == Fn::kConvertsToDate ||
        fn == Fn::kConvertsToDateTime || fn == Fn::kConvertsToTime || fn == Fn::kConvertsToQuantity;
    if (converts) return One(Bool(r.has_value()));
    if (!r) return {};
    return One(*r);
  }

  static std::optional<Quantity> ParseQuantityString(std::string_view s) {
    size_t i = 0;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t b = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == b) return std::nullopt;
    if (i < s.size() && s[i] == '.') {
      ++i;
      size_t d = i;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
      if (i == d) return std::nullopt;
    }
    Quantity q;
    q.value = std::strtod(std::string(s.substr(0, i)).c_str(), nullptr);
    while (i < s.size() && s[i] == ' ') ++i;
    std::string_view rest = s.substr(i);
    if (rest.empty()) {
      q.unit = "1";
      return q;
    }
    if (rest.size() >= 2 && rest.front() == '\'' && rest.back() == '\'') {
      q.unit = std::string(rest.substr(1, rest.size() - 2));
      return q;
    }
    static const char* const kCal[] = {
        "year", "years", "month",  "months",  "week",   "weeks",   "day",         "days",
        "hour", "hours", "minute", "minutes", "second", "seconds", "millisecond", "milliseconds"};
    for (const char* c : kCal) {
      if (rest == c) {
        q.unit = std::string(rest);
        return q;
      }
    }
    return std::nullopt;
  }

  std::optional<Item> ToStringItem(const Item& it, VK k) const {
    switch (k) {
      case VK::kStr:
        return Str(std::string(StrOf(it)));
      case VK::kBool:
        return Str(it.json().get_bool() ? "true" : "false");
      case VK::kInt:
        return Str(std::to_string(IntOf(it)));
      case VK::kDec:
        return Str(DecimalText(it));
      case VK::kDate:
      case VK::kDateTime:
      case VK::kTime:
        return Str(std::string(StrOf(it)));
      case VK::kQuantity: {
        auto q = QuantityOf(it);
        if (!q) return std::nullopt;
        bool cal = false;
        static const char* const kCal[] = {"year",   "years",   "month",       "months",
                                           "week",   "weeks",   "day",         "days",
                                           "hour",   "hours",   "minute",      "minutes",
                                           "second", "seconds", "millisecond", "milliseconds"};
        for (const char* c : kCal) cal = cal || q->unit == c;
        return Str(FormatDecimal(q->value) + " " + (cal ? q->unit : "'" + q->unit + "'"));
      }
      default:
        return std::nullopt;
    }
  }

  Collection Call2(const Node& n, Fn fn, const Collection& focus, const Frame& f) {
    switch (fn) {
      case Fn::kIndexOf:
      case Fn::kLastIndexOf: {
        auto s = FocusStr(focus, "indexOf");
        auto sub = StrArg(ArgValue(n, 0, f), "indexOf");
        if (!s || !sub) return {};
        size_t p = fn == Fn::kIndexOf ? s->find(*sub) : s->rfind(*sub);
        return One(Int(p == std::string_view::npos ? -1 : static_cast<int64_t>(p)));
      }
      case Fn::kSubstring: {
        auto s = FocusStr(focus, "substring");
        Collection a = ArgValue(n, 0, f);
        if (!s || a.empty()) return {};
        int64_t start = IntArg(a, "substring");
        auto cps = CodePoints(*s);
        if (start < 0 || static_cast<size_t>(start) >= cps.size()) return {};
        int64_t len = static_cast<int64_t>(cps.size()) - start;
        if (n.args.size() > 1) {
          Collection b = ArgValue(n, 1, f);
          if (!b.empty()) len = std::min(len, IntArg(b, "substring"));
        }
        std::string out;
        for (int64_t i = start; i < start + len; ++i) out += cps[static_cast<size_t>(i)];
        return One(Str(std::move(out)));
      }
      case Fn::kStartsWith:
      case Fn::kEndsWith:
      case Fn::kContains: {
        auto s = FocusStr(focus, kFns[n.fn].name);
        auto sub = StrArg(ArgValue(n, 0, f), kFns[n.fn].name);
        if (!s || !sub) return {};
        bool r = fn == Fn::kStartsWith ? s->substr(0, sub->size()) == *sub
                 : fn == Fn::kEndsWith
                     ? (s->size() >= sub->size() && s->substr(s->size() - sub->size()) == *sub)
                     : s->find(*sub) != std::string_view::npos;
        return One(Bool(r));
      }
      case Fn::kUpper:
      case Fn::kLower: {
        auto s = FocusStr(focus, "upper");
        if (!s) return {};
        std::string r(*s);
        for (char& c : r) {
          c = static_cast<char>(fn == Fn::kUpper ? std::toupper(static_cast<unsigned char>(c))
                                                 : std::tolower(static_cast<unsigned char>(c)));
        }
        return One(Str(std::move(r)));
      }
      case Fn::kReplace: {
        auto s = FocusStr(focus, "replace");
        auto pat = StrArg(ArgValue(n, 0, f), "replace");
        auto rep = StrArg(ArgValue(n, 1, f), "replace");
        if (!s || !pat || !rep) return {};
        std::string out;
        if (pat->empty()) {
          out += *rep;
          for (auto cp : CodePoints(*s)) {
            out += cp;
            out += *rep;
          }
          return One(Str(std::move(out)));
        }
        size_t i = 0;
        while (true) {
          size_t p = s->find(*pat, i);
          if (p == std::string_view::npos) break;
          out += s->substr(i, p - i);
          out += *rep;
          i = p + pat->size();
        }
        out += s->substr(i);
        return One(Str(std::move(out)));
      }
      case Fn::kMatches:
      case Fn::kMatchesFull: {
        auto s = FocusStr(focus, "matches");
        auto pat = StrArg(ArgValue(n, 0, f), "matches");
        if (!s || !pat) return {};
        try {
          std::regex re(DotAll(*pat), std::regex::ECMAScript);
          bool r = fn == Fn::kMatchesFull ? std::regex_match(s->begin(), s->end(), re)
                                          : std::regex_search(s->begin(), s->end(), re);
          return One(Bool(r));
        } catch (const std::regex_error& e) {
          Fail("matches(): invalid regular expression: " + std::string(e.what()));
        }
      }
      case Fn::kReplaceMatches: {
        auto s = FocusStr(focus, "replaceMatches");
        auto pat = StrArg(ArgValue(n, 0, f), "replaceMatches");
        auto rep = StrArg(ArgValue(n, 1, f), "replaceMatches");
        if (!s || !pat || !rep) return {};
        if (pat->empty()) return One(Str(std::string(*s)));
        try {
          std::regex re(*pat, std::regex::ECMAScript);
          return One(Str(std::regex_replace(std::string(*s), re, *rep)));
        } catch (const std::regex_error& e) {
          Fail("replaceMatches(): invalid regular expression: " + std::string(e.what()));
        }
      }
      case Fn::kLength: {
        auto s = FocusStr(focus, "length");
        if (!s) return {};
        return One(Int(static_cast<int64_t>(CodePoints(*s).size())));
      }
      case Fn::kToChars: {
        auto s = FocusStr(focus, "toChars");
        if (!s) return {};
        Collection out;
        for (auto cp : CodePoints(*s)) out.push_back(Str(std::string(cp)));
        return out;
      }
      case Fn::kTrim: {
        auto s = FocusStr(focus, "trim");
        if (!s) return {};
        std::string_view v = *s;
        while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front())))
          v.remove_prefix(1);
        while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.remove_suffix(1);
        return One(Str(std::string(v)));
      }
      case Fn::kSplit: {
        auto s = FocusStr(focus, "split");
        auto sep = StrArg(ArgValue(n, 0, f), "split");
        if (!s || !sep) return {};
        Collection out;
        if (sep->empty()) {
          for (auto cp : CodePoints(*s)) out.push_back(Str(std::string(cp)));
          return out;
        }
        size_t i = 0;
        while (true) {
          size_t p = s->find(*sep, i);
          out.push_back(Str(std::string(s->substr(i, p == std::string_view::npos ? p : p - i))));
          if (p == std::string_view::npos) break;
          i = p + sep->size();
        }
        return out;
      }
      case Fn::kJoin: {
        std::string sep;
        if (!n.args.empty()) sep = StrArg(ArgValue(n, 0, f), "join").value_or("");
        std::string out;
        for (size_t i = 0; i < focus.size(); ++i) {
          if (i) out += sep;
          out += StrOf(focus[i]);
        }
        return One(Str(std::move(out)));
      }
      case Fn::kEncode:
      case Fn::kDecode:
      case Fn::kEscape:
      case Fn::kUnescape: {
        auto s = FocusStr(focus, kFns[n.fn].name);
        auto fmt = StrArg(ArgValue(n, 0, f), kFns[n.fn].name);
        if (!s || !fmt) return {};
        auto r = Codec(fn, *s, *fmt);
        if (!r) return {};
        return One(Str(std::move(*r)));
      }
      case Fn::kAbs:
      case Fn::kCeiling:
      case Fn::kExp:
      case Fn::kFloor:
      case Fn::kLn:
      case Fn::kSqrt:
      case Fn::kTruncate:
      case Fn::kRound:
      case Fn::kLog:
      case Fn::kPower:
        return Math(n, fn, focus, f);
      case Fn::kChildren: {
        Collection out;
        for (const Item& it : focus) AllChildren(it, out);
        return out;
      }
      case Fn::kDescendants: {
        Collection out;
        Collection work;
        for (const Item& it : focus) AllChildren(it, work);
        size_t depth = 0;
        while (!work.empty()) {
          if (++depth > 1000) Fail("descendants(): too deep");
          Collection next;
          for (const Item& it : work) AllChildren(it, next);
          out.insert(out.end(), work.begin(), work.end());
          Limit(out);
          work = std::move(next);
        }
        return out;
      }
      case Fn::kTrace:
        return focus;
      case Fn::kNow:
      case Fn::kToday:
      case Fn::kTimeOfDay: {
        auto now = std::chrono::system_clock::now();
        int64_t ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
        std::time_t secs = static_cast<std::time_t>(ms / 1000);
        std::tm tm{};
        gmtime_r(&secs, &tm);
        Temporal t;
        t.v[0] = tm.tm_year + 1900;
        t.v[1] = tm.tm_mon + 1;
        t.v[2] = tm.tm_mday;
        t.v[3] = tm.tm_hour;
        t.v[4] = tm.tm_min;
        t.v[5] = tm.tm_sec;
        t.v[6] = static_cast<int>(ms % 1000);
        if (fn == Fn::kToday) {
          t.kind = VK::kDate;
          t.prec = 3;
        } else if (fn == Fn::kNow) {
          t.kind = VK::kDateTime;
          t.prec = 7;
          t.tz = true;
        } else {
          t.kind = VK::kTime;
          t.prec = 7;
        }
        return One(TemporalItem(t));
      }
      case Fn::kAggregate: {
        Collection total;
        if (n.args.size() > 1) total = ArgValue(n, 1, f);
        for (size_t i = 0; i < focus.size(); ++i) {
          Frame g{&focus[i], static_cast<int64_t>(i), &total, &f, nullptr};
          Collection c = One(focus[i]);
          total = Eval(*n.args[0], c, g);
        }
        return total;
      }
      case Fn::kSum:
      case Fn::kMin:
      case Fn::kMax:
      case Fn::kAvg: {
        if (focus.empty()) return fn == Fn::kSum ? One(Int(0)) : Collection{};
        Item acc = focus[0];
        for (size_t i = 1; i < focus.size(); ++i) {
          if (fn == Fn::kSum || fn == Fn::kAvg) {
            Collection r = Arithmetic(Op::kPlus, acc, focus[i]);
            if (r.empty()) return {};
            acc = r[0];
          } else {
            auto c = CompareItems(focus[i], acc);
            if (!c) return {};
            if ((fn == Fn::kMin && *c < 0) || (fn == Fn::kMax && *c > 0)) acc = focus[i];
          }
        }
        if (fn == Fn::kAvg) {
          Collection r = Arithmetic(Op::kDiv, acc, Dec(static_cast<double>(focus.size())));
          return r;
        }
        return One(acc);
      }
      case Fn::kSort:
        return Sort(n, focus, f);
      case Fn::kType: {
        Collection out;
        for (const Item& it : focus) {
          json::object o;
          bool sys = it.is_system() || it.type().empty();
          o["namespace"] = sys ? "System" : "FHIR";
          std::string name(it.type());
          if (name.empty()) {
            VK k = KindOf(it);
            name = k == VK::kBool  ? "Boolean"
                   : k == VK::kInt ? "Integer"
                   : k == VK::kDec ? "Decimal"
                                   : "String";
          }
          o["name"] = name;
          out.push_back(Item::Computed(json::value(std::move(o)), "TypeInfo"));
        }
        return out;
      }
      case Fn::kExtension: {
        auto url = StrArg(ArgValue(n, 0, f), "extension");
        if (!url) return {};
        Collection out;
        static const std::string kExt = "extension";
        for (const Item& it : focus) {
          Collection exts;
          Member(it, kExt, exts);
          for (const Item& e : exts) {
            if (!e.json().is_object()) continue;
            const auto* u = e.json().get_object().if_contains("url");
            if (u != nullptr && u->is_string() && u->get_string() == *url) out.push_back(e);
          }
        }
        return out;
      }
      case Fn::kHasValue: {
        if (focus.size() != 1) return One(False());
        VK k = KindOf(focus[0]);
        return One(Bool(k != VK::kNone && k != VK::kOther && k != VK::kQuantity));
      }
      case Fn::kGetValue: {
        if (focus.size() != 1) return {};
        VK k = KindOf(focus[0]);
        if (k == VK::kNone || k == VK::kOther || k == VK::kQuantity) return {};
        return focus;
      }
      case Fn::kResolve: {
        Collection out;
        for (const Item& it : focus) Resolve(it, out);
        return out;
      }
      case Fn::kConformsTo: {
        auto url = StrArg(ArgValue(n, 0, f), "conformsTo");
        if (!url || focus.empty()) return {};
        const std::string prefix = "http://hl7.org/fhir/StructureDefinition/";
        if (url->rfind(prefix, 0) != 0) Fail("conformsTo(): unknown profile " + *url);
        std::string type = url->substr(prefix.size());
        if (defs_.FindType(type) == nullptr) Fail("conformsTo(): unknown profile " + *url);
        return One(Bool(focus[0].type() == type || defs_.IsA(focus[0].type(), type)));
      }
      case Fn::kMemberOf: {
        auto url = StrArg(ArgValue(n, 0, f), "memberOf");
        if (!url || focus.size() != 1) return {};
        std::string u = *url;
        if (auto p = u.find('|'); p != std::string::npos) u.resize(p);
        const auto* codes = defs_.ValueSetCodes(u);
        if (codes == nullptr) return {};
        const Item& it = focus[0];
        if (KindOf(it) == VK::kStr) return One(Bool(codes->count(std::string(StrOf(it))) > 0));
        if (!it.json().is_object()) return {};
        auto check = [&](const json::object& coding) {
          const auto* sys = coding.if_contains("system");
          const auto* code = coding.if_contains("code");
          if (code == nullptr || !code->is_string()) return false;
          std::string key =
              sys != nullptr && sys->is_string()
                  ? std::string(sys->get_string()) + "|" + std::string(code->get_string())
                  : std::string(code->get_string());
          return codes->count(key) > 0;
        };
        const auto& o = it.json().get_object();
        if (const auto* cs = o.if_contains("coding"); cs != nullptr && cs->is_array()) {
          for (const auto& c : cs->get_array()) {
            if (c.is_object() && check(c.get_object())) return One(True());
          }
          return One(False());
        }
        return One(Bool(check(o)));
      }
      case Fn::kSubsumes:
      case Fn::kSubsumedBy:
        return {};
      case Fn::kHtmlChecks:
      case Fn::kHtmlChecks2:
        return One(True());
      case Fn::kLowBoundary:
      case Fn::kHighBoundary:
      case Fn::kPrecision:
        return Boundary(n, fn, focus, f);
      case Fn::kComparable: {
        if (focus.size() != 1) return {};
        Collection o = ArgValue(n, 0, f);
        if (o.size() != 1) return {};
        auto x = QuantityOf(focus[0]), y = QuantityOf(o[0]);
        if (!x || !y) return One(False());
        double a, b;
        std::string da, db;
        Canonical(*x, &a, &da);
        Canonical(*y, &b, &db);
        return One(Bool(da == db));
      }
      case Fn::kDefineVariable:
        Fail("defineVariable() is handled by the invocation chain");
      case Fn::kElementDefinition:
      case Fn::kSlice:
      case Fn::kCheckModifiers:
        return focus.empty() || fn != Fn::kCheckModifiers ? Collection{} : focus;
      case Fn::kYearOf:
      case Fn::kMonthOf:
      case Fn::kDayOf:
      case Fn::kHourOf:
      case Fn::kMinuteOf:
      case Fn::kSecondOf:
      case Fn::kMillisecondOf: {
        if (focus.size() != 1) return {};
        VK k = KindOf(focus[0]);
        if (k != VK::kDate && k != VK::kDateTime && k != VK::kTime) return {};
        auto t = TemporalOf(focus[0], k);
        if (!t) return {};
        int idx = static_cast<int>(fn) - static_cast<int>(Fn::kYearOf);
        if (idx >= t->prec) return {};
        return One(Int(t->v[idx]));
      }
      default:
        break;
    }
    Fail(std::string("function not implemented: ") + kFns[n.fn].name);
  }

  static std::optional<std::string> Codec(Fn fn, std::string_view s, std::string_view fmt) {
    static const char* kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    if (fn == Fn::kEncode) {
      if (fmt == "hex") {
        static const char* kHex = "0123456789abcdef";
        for (unsigned char c : s) {
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        }
        return out;
      }
      if (fmt == "base64" || fmt == "urlbase64") {
        size_t i = 0;
        for (; i + 2 < s.size(); i += 3) {
          uint32_t v = (static_cast<unsigned char>(s[i]) << 16) |
                       (static_cast<unsigned char>(s[i + 1]) << 8) |
                       static_cast<unsigned char>(s[i + 2]);
          for (int k = 3; k >= 0; --k) out.push_back(kB64[(v >> (6 * k)) & 63]);
        }
        if (i < s.size()) {
          uint32_t v = static_cast<unsigned char>(s[i]) << 16;
          if (i + 1 < s.size()) v |= static_cast<unsigned char>(s[i + 1]) << 8;
          out.push_back(kB64[(v >> 18) & 63]);
          out.push_back(kB64[(v >> 12) & 63]);
          out.push_back(i + 1 < s.size() ? kB64[(v >> 6) & 63] : '=');
          out.push_back('=');
        }
        if (fmt == "urlbase64") {
          for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
        }
        return out;
      }
      return std::nullopt;
    }
    if (fn == Fn::kDecode) {
      if (fmt == "hex") {
        if (s.size() % 2) return std::nullopt;
        for (size_t i = 0; i < s.size(); i += 2) {
          out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i, 2)), nullptr, 16)));
        }
        return out;
      }
      if (fmt == "base64" || fmt == "urlbase64") {
        uint32_t buf = 0;
        int bits = 0;
        for (char c : s) {
          if (c == '=') break;
          if (c == '-') c = '+';
          if (c == '_') c = '/';
          const char* p = std::strchr(kB64, c);
          if (p == nullptr || c == 0) return std::nullopt;
          buf = (buf << 6) | static_cast<uint32_t>(p - kB64);
          bits += 6;
          if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((buf >> bits) & 0xFF));
          }
        }
        return out;
      }
      return std::nullopt;
    }
    if (fn == Fn::kEscape) {
      for (char c : s) {
        if (fmt == "html") {
          if (c == '<')
            out += "&lt;";
          else if (c == '>')
            out += "&gt;";
          else if (c == '&')
            out += "&amp;";
          else if (c == '"')
            out += "&quot;";
          else
            out.push_back(c);
        } else if (fmt == "json") {
          if (c == '"')
            out += "\\\"";
          else if (c == '\\')
            out += "\\\\";
          else
            out.push_back(c);
        } else {
          return std::nullopt;
        }
      }
      return out;
    }
    // unescape
    if (fmt == "html") {
      for (size_t i = 0; i < s.size(); ++i) {
        auto rest = s.substr(i);
        if (rest.rfind("&lt;", 0) == 0)
          out += '<', i += 3;
        else if (rest.rfind("&gt;", 0) == 0)
          out += '>', i += 3;
        else if (rest.rfind("&amp;", 0) == 0)
          out += '&', i += 4;
        else if (rest.rfind("&quot;", 0) == 0)
          out += '"', i += 5;
        else
          out.push_back(s[i]);
      }
      return out;
    }
    if (fmt == "json") {
      for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 1 < s.size()) {
          ++i;
          out.push_back(s[i]);
        } else {
          out.push_back(s[i]);
        }
      }
      return out;
    }
    return std::nullopt;
  }

  Collection Math(const Node& n, Fn fn, const Collection& focus, const Frame& f) {
    if (focus.empty()) return {};
    if (focus.size() > 1)
      Fail(std::string(kFns[n.fn].name) + "() on a collection of several items");
    const Item& it = focus[0];
    VK k = KindOf(it);
    if (fn == Fn::kAbs && k == VK::kQuantity) {
      auto q = QuantityOf(it);
      return One(Qty(std::fabs(q->value), q->unit));
    }
    if (k != VK::kInt && k != VK::kDec)
      Fail(std::string(kFns[n.fn].name) + "() on a value that is not a number");
    double x = NumOf(it);
    switch (fn) {
      case Fn::kAbs:
        return One(k == VK::kInt ? Int(std::llabs(IntOf(it))) : Dec(std::fabs(x)));
      case Fn::kCeiling:
        return One(Int(static_cast<int64_t>(std::ceil(x))));
      case Fn::kFloor:
        return One(Int(static_cast<int64_t>(std::floor(x))));
      case Fn::kTruncate:
        return One(Int(static_cast<int64_t>(std::trunc(x))));
      case Fn::kExp:
        return One(Dec(std::exp(x)));
      case Fn::kLn:
        if (x <= 0) return {};
        return One(Dec(std::log(x)));
      case Fn::kSqrt:
        if (x < 0) return {};
        return One(Dec(std::sqrt(x)));
      case Fn::kRound: {
        int64_t p = 0;
        if (!n.args.empty()) {
          Collection a = ArgValue(n, 0, f);
          if (a.empty()) return {};
          p = IntArg(a, "round");
          if (p < 0) Fail("round(): negative precision");
        }
        double m = std::pow(10.0, static_cast<double>(p));
        return One(Dec(std::round(x * m) / m));
      }
      case Fn::kLog: {
        Collection a = ArgValue(n, 0, f);
        if (a.empty()) return {};
        double b = NumOf(a[0]);
        if (x <= 0 || b <= 0 || b == 1) return {};
        return One(Dec(std::log(x) / std::log(b)));
      }
      case Fn::kPower: {
        Collection a = ArgValue(n, 0, f);
        if (a.empty()) return {};
        VK kb = KindOf(a[0]);
        double y = NumOf(a[0]);
        double r = std::pow(x, y);
        if (std::isnan(r) || std::isinf(r)) return {};
        if (k == VK::kInt && kb == VK::kInt && y >= 0) return One(Int(static_cast<int64_t>(r)));
        return One(Dec(r));
      }
      default:
        break;
    }
    return {};
  }

  Collection Boundary(const Node& n, Fn fn, const Collection& focus, const Frame& f) {
    if (focus.size() != 1) return {};
    const Item& it = focus[0];
    VK k = KindOf(it);
    int64_t prec = -1;
    if (!n.args.empty()) {
      Collection a = ArgValue(n, 0, f);
      if (!a.empty()) prec = IntArg(a, "boundary");
    }
    if (k == VK::kDate || k == VK::kDateTime || k == VK::kTime) {
      auto t = TemporalOf(it, k);
      if (!t) return {};
      static const int kDigits[] = {4, 6, 8, 10, 12, 14, 17};
      if (fn == Fn::kPrecision) {
        int start = k == VK::kTime ? 3 : 0;
        int d = kDigits[t->prec - 1] - (start ? 8 : 0);
        return One(Int(d));
      }
      // Precision in digits -> number of fields.
      int fields = 7;
      if (prec >= 0) {
        int64_t p = k == VK::kTime ? prec + 8 : prec;
        fields = 0;
        for (int i = 0; i < 7; ++i) {
          if (kDigits[i] <= p) fields = i + 1;
        }
        if (k == VK::kTime && fields < 4) return {};
        if (k == VK::kDate && fields > 3) fields = 3;
      } else if (k == VK::kDate) {
        fields = 3;
      }
      bool high = fn == Fn::kHighBoundary;
      for (int i = t->prec; i < 7; ++i) {
        static const int kLow[] = {0, 1, 1, 0, 0, 0, 0};
        int hv = i == 2 ? 31 : i == 1 ? 12 : i == 3 ? 23 : i == 4 ? 59 : i == 5 ? 59 : 999;
        if (i == 2) {
          static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
          int y = t->v[0], m = t->v[1];
          hv = kDays[(m - 1) % 12];
          if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) hv = 29;
        }
        t->v[i] = high ? hv : kLow[i];
      }
      if (k == VK::kDateTime && !t->tz && fields > 3) {
        t->tz = true;
        t->tz_min = high ? -12 * 60 : 14 * 60;
      }
      t->prec = fields;
      return One(TemporalItem(*t));
    }
    if (k == VK::kInt || k == VK::kDec || k == VK::kQuantity) {
      double x;
      std::string unit;
      std::string text;
      if (k == VK::kQuantity) {
        auto q = QuantityOf(it);
        x = q->value;
        unit = q->unit;
      } else {
        x = NumOf(it);
      }
      int digits = k == VK::kInt ? 0 : k == VK::kDec ? ScaleOf(it) : 0;
      if (k == VK::kQuantity) {
        text = FormatDecimal(x);
        auto dot = text.find('.');
        digits = dot == std::string::npos ? 0 : static_cast<int>(text.size() - dot - 1);
      }
      if (fn == Fn::kPrecision) return One(Int(digits));
      if (prec > 28 || (prec < 0 && !n.args.empty())) return {};
      int out_prec = prec >= 0 ? static_cast<int>(prec) : 8;
      double half = 0.5 * std::pow(10.0, -digits);
      double v = fn == Fn::kLowBoundary ? x - half : x + half;
      double m = std::pow(10.0, out_prec);
      v = fn == Fn::kLowBoundary ? std::floor(v * m + 1e-9) / m : std::ceil(v * m - 1e-9) / m;
      if (out_prec < digits) {
        v = fn == Fn::kLowBoundary ? std::floor(x * m) / m : std::ceil(x * m) / m;
      }
      if (k == VK::kQuantity) return One(Qty(v, unit));
      if (out_prec == 0) return One(Int(static_cast<int64_t>(v)));
      return One(Dec(v, out_prec));
    }
    return {};
  }

  Collection Sort(const Node& n, const Collection& focus, const Frame& f) {
    struct Key {
      Collection values;
    };
    std::vector<std::pair<std::vector<Collection>, size_t>> keyed;
    std::vector<bool> desc;
    std::vector<const Node*> exprs;
    for (const auto& a : n.args) {
      if (a->kind == Kind::kUnary && a->op == Op::kMinus) {
        desc.push_back(true);
        exprs.push_back(a->args[0].get());
      } else {
        desc.push_back(false);
        exprs.push_back(a.get());
      }
    }
    for (size_t i = 0; i < focus.size(); ++i) {
      std::vector<Collection> keys;
      if (exprs.empty()) {
        keys.push_back(One(focus[i]));
      } else {
        for (const Node* e : exprs)
          keys.push_back(Lambda(*e, focus[i], static_cast<int64_t>(i), f));
      }
      keyed.emplace_back(std::move(keys), i);
    }
    if (exprs.empty()) desc.push_back(false);
    std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
      for (size_t k = 0; k < a.first.size(); ++k) {
        const Collection& x = a.first[k];
        const Collection& y = b.first[k];
        if (x.empty() || y.empty()) {
          if (x.empty() != y.empty()) return x.empty();
          continue;
        }
        auto c = CompareItems(x[0], y[0]);
        if (!c || *c == 0) continue;
        return desc[k] ? *c > 0 : *c < 0;
      }
      return false;
    });
    Collection out;
    for (const auto& kv : keyed) out.push_back(focus[kv.second]);
    return out;
  }

  // ---- resolve() ----

  const json::value* FindInBundle(const json::value* bundle, std::string_view ref) const {
    if (bundle == nullptr || !bundle->is_object()) return nullptr;
    const auto& b = bundle->get_object();
    const auto* rt = b.if_contains("resourceType");
    if (rt == nullptr || !rt->is_string() || rt->get_string() != "Bundle") return nullptr;
    const auto* entries = b.if_contains("entry");
    if (entries == nullptr || !entries->is_array()) return nullptr;
    for (const auto& e : entries->get_array()) {
      if (!e.is_object()) continue;
      const auto* res = e.get_object().if_contains("resource");
      if (res == nullptr || !res->is_object()) continue;
      const auto* full = e.get_object().if_contains("fullUrl");
      if (full != nullptr && full->is_string()) {
        std::string_view fu = full->get_string();
        if (fu == ref) return res;
        if (fu.size() > ref.size() && fu.substr(fu.size() - ref.size()) == ref &&
            fu[fu.size() - ref.size() - 1] == '/') {
          return res;
        }
      }
      const auto* t = res->get_object().if_contains("resourceType");
      const auto* id = res->get_object().if_contains("id");
      if (t != nullptr && id != nullptr && t->is_string() && id->is_string()) {
        std::string key = std::string(t->get_string()) + "/" + std::string(id->get_string());
        if (key == ref) return res;
      }
    }
    return nullptr;
  }

  void Resolve(const Item& it, Collection& out) const {
    std::string_view ref;
    const json::value& v = it.json();
    if (v.is_string()) {
      ref = v.get_string();
    } else if (v.is_object()) {
      const auto* r = v.get_object().if_contains("reference");
      if (r != nullptr && r->is_string()) ref = r->get_string();
    }
    if (ref.empty()) return;
    if (ref[0] == '#') {
      for (const json::value* host : {resource_, root_}) {
        if (host == nullptr || !host->is_object()) continue;
        const auto* contained = host->get_object().if_contains("contained");
        if (contained == nullptr || !contained->is_array()) continue;
        for (const auto& c : contained->get_array()) {
          if (!c.is_object()) continue;
          const auto* id = c.get_object().if_contains("id");
          if (id != nullptr && id->is_string() && id->get_string() == ref.substr(1)) {
            out.push_back(ResourceItem(&c));
            return;
          }
        }
      }
      return;
    }
    if (const json::value* r = FindInBundle(root_, ref); r != nullptr) {
      out.push_back(ResourceItem(r));
      return;
    }
    if (opts_.resolver) {
      if (const json::value* r = opts_.resolver(ref); r != nullptr) {
        out.push_back(ResourceItem(r));
        return;
      }
    }
    if (opts_.stub_unresolved_references) {
      std::string_view s = ref;
      if (auto h = s.find('/', 0); h != std::string_view::npos) {
        auto hist = s.find("/_history/");
        if (hist != std::string_view::npos) s = s.substr(0, hist);
        auto slash = s.rfind('/');
        if (slash == std::string_view::npos || slash == 0) return;
        std::string_view id = s.substr(slash + 1);
        std::string_view head = s.substr(0, slash);
        auto prev = head.rfind('/');
        std::string_view type = prev == std::string_view::npos ? head : head.substr(prev + 1);
        const TypeDef* t = defs_.FindType(type);
        if (t == nullptr || t->kind != TypeKind::kResource) return;
        json::object o;
        o["resourceType"] = t->name;
        o["id"] = id;
        out.push_back(
            Item::Shared(std::make_shared<const json::value>(std::move(o)), t->name, false));
      }
    }
  }

  const Definitions& defs_;
  const EvalOptions& opts_;
  Item context_;
  const json::value* resource_ = nullptr;
  const json::value* root_ = nullptr;

 public:
  // defineVariable(): handled in Run to scope variables along an invocation chain.
};

}  // namespace

namespace {

Result<Collection> Run(const Expression& expr, const json::value* input, const Definitions& defs,
                       const EvalOptions& opts, const Item* context = nullptr) {
  try {
    Evaluator ev(defs, opts);
    Collection focus;
    Item ctx;
    if (context != nullptr) {
      ctx = *context;
      focus.push_back(ctx);
    } else if (input != nullptr) {
      ctx = ev.RootItem(*input, opts.input_type);
      focus.push_back(ctx);
    }
    const json::value* res = opts.resource != nullptr ? opts.resource : input;
    const json::value* root = opts.root_resource != nullptr ? opts.root_resource : res;
    ev.SetContext(ctx, res, root);
    Frame f;
    return ev.Eval(expr.root(), focus, f);
  } catch (const EvalError& e) {
    return Status(Code::kProcessing, "FHIRPath evaluation error: " + e.message, expr.text());
  } catch (const std::exception& e) {
    return Status(Code::kProcessing, std::string("FHIRPath evaluation error: ") + e.what(),
                  expr.text());
  }
}

}  // namespace

Result<Collection> Evaluate(const Expression& expr, const json::value& resource,
                            const Definitions& defs, const EvalOptions& opts) {
  return Run(expr, &resource, defs, opts);
}

Result<Collection> EvaluateOn(const Expression& expr, const Item& context, const Definitions& defs,
                              const EvalOptions& opts) {
  return Run(expr, &context.json(), defs, opts, &context);
}

Result<Collection> EvaluateEmpty(const Expression& expr, const Definitions& defs,
                                 const EvalOptions& opts) {
  return Run(expr, nullptr, defs, opts);
}

json::array ToJson(const Collection& c) {
  json::array out;
  out.reserve(c.size());
  for (const Item& it : c) {
    if (it.is_system() && it.type() == "Quantity" && it.json().is_object()) {
      json::object q;
      const auto& o = it.json().get_object();
      if (const auto* v = o.if_contains("value")) q["value"] = *v;
      if (const auto* u = o.if_contains("unit")) q["unit"] = *u;
      out.push_back(std::move(q));
    } else {
      out.push_back(it.json());
    }
  }
  return out;
}

}  // namespace benhan::fhir::fhirpath
