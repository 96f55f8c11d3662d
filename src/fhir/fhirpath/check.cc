// Strict mode: checks an expression against the R4 type model before evaluation. The checker infers
// the set of possible FHIR types along paths; where it cannot know the type (a function result, a
// variable, a resolved reference) it stops checking that branch, so it only reports certain errors:
//  - an element that no possible type has (`Patient.name.given1`, `(Observation.value as
//  Period).unit`);
//  - a choice element written with its type suffix (`Observation.valueQuantity`: use
//  `value.ofType()`);
//  - a path that starts with another resource type than the input (`Encounter.name` on a Patient);
//  - an ordered function (first, last, tail, skip, take, indexer) on children()/descendants();
//  - iif() with a criterion that is a literal non-boolean or a union of several items.
#include <stdexcept>

#include "fhir/fhirpath/ast.h"
#include "fhir/fhirpath/fhirpath.h"

namespace benhan::fhir::fhirpath {

using internal::Kind;
using internal::Node;
using internal::Op;

namespace {

struct Ty {
  const TypeDef* def = nullptr;  // null for primitives
  int32_t element = -1;
  std::string_view name;
};

struct Types {
  bool known = false;  // false: anything (stop checking)
  bool unordered = false;
  std::vector<Ty> list;
  static Types Unknown() { return Types{}; }
};

struct CheckError {
  size_t pos;
  std::string reason;
};

class Checker {
 public:
  explicit Checker(const Definitions& defs) : defs_(defs) {}

  Types Check(const Node& n, const Types& in) {
    switch (n.kind) {
      case Kind::kMember:
        return Member(n, in);
      case Kind::kInvoke: {
        Types left = Check(*n.args[0], in);
        return Check(*n.args[1], left);
      }
      case Kind::kFunction:
        return Function(n, in);
      case Kind::kIndexer: {
        Types left = Check(*n.args[0], in);
        Check(*n.args[1], Types::Unknown());
        if (left.unordered) throw CheckError{n.pos, "indexer on an unordered collection"};
        return left;
      }
      case Kind::kAs: {
        Check(*n.args[0], in);
        return Named(n.type);
      }
      case Kind::kIs:
      case Kind::kUnary:
        for (const auto& a : n.args) Check(*a, in);
        return Types::Unknown();
      case Kind::kBinary: {
        Types a = Check(*n.args[0], in);
        Types b = Check(*n.args[1], in);
        if (n.op == Op::kUnion && a.known && b.known) {
          a.list.insert(a.list.end(), b.list.begin(), b.list.end());
          return a;
        }
        return Types::Unknown();
      }
      default:
        return Types::Unknown();
    }
  }

 private:
  Types Named(const internal::TypeName& tn) const {
    if (tn.ns == "System") return Types::Unknown();
    const TypeDef* t = defs_.FindType(tn.name);
    if (t == nullptr) return Types::Unknown();
    Types out;
    out.known = true;
    out.list.push_back(Ty{t->kind == TypeKind::kPrimitive ? nullptr : t, 0, t->name});
    return out;
  }

  ChildRef FindElement(const TypeDef* t, int32_t el, const std::string& name) const {
    while (t != nullptr) {
      const ElementDef& node = t->elements[static_cast<size_t>(el)];
      auto it = node.child_by_name.find(name);
      if (it != node.child_by_name.end()) return ChildRef{t, it->second, {}};
      if (el != 0) break;
      t = t->base;
    }
    return ChildRef{};
  }

  Types Member(const Node& n, const Types& in) {
    if (!in.known) return Types::Unknown();
    const std::string& name = n.name;
    if (!name.empty() && name[0] >= 'A' && name[0] <= 'Z') {
      bool all_resources = !in.list.empty();
      for (const Ty& t : in.list) {
        if (t.name == name || defs_.IsA(t.name, name)) return in;
        if (t.def == nullptr || !t.def->IsResource()) all_resources = false;
      }
      if (all_resources && defs_.FindType(name) != nullptr) {
        throw CheckError{n.pos,
                         "the input is a " + std::string(in.list[0].name) + ", not a " + name};
      }
      return Types::Unknown();
    }
    Types out;
    out.known = true;
    bool found = false;
    for (const Ty& t : in.list) {
      if (t.def == nullptr) {
        if (name == "id" || name == "extension") return Types::Unknown();
        continue;
      }
      ChildRef ref = FindElement(t.def, t.element, name);
      if (!ref) {
        ChildRef suffixed = defs_.FindChild(*t.def, t.element, name);
        if (suffixed && suffixed.def().is_choice) {
          throw CheckError{n.pos, "'" + name + "' is a JSON name, not a FHIRPath element: use " +
                                      suffixed.def().name + ".ofType(" +
                                      std::string(suffixed.chosen_type) + ")"};
        }
        continue;
      }
      found = true;
      const ElementDef& d = ref.def();
      std::vector<std::string_view> types;
      if (d.types.empty()) {
        types.push_back("BackboneElement");
      } else {
        for (const auto& ty : d.types) types.push_back(ty);
      }
      for (std::string_view ty : types) {
        if (ty == "Resource" || ty == "DomainResource") return Types::Unknown();
        ChildRef node = defs_.NodeOf(ref, ty);
        out.list.push_back(Ty{node.type, node.element, ty});
      }
    }
    if (!found) {
      if (in.list.empty()) return Types::Unknown();
      std::string on;
      for (const Ty& t : in.list) on += (on.empty() ? "" : " | ") + std::string(t.name);
      throw CheckError{n.pos, "unknown element '" + name + "' on " + on};
    }
    return out;
  }

  static bool IsNonBooleanLiteral(const Node& n) {
    if (n.kind == Kind::kLiteral) return n.literal.type() != "Boolean";
    if (n.kind == Kind::kBinary && n.op == Op::kUnion && n.args[0]->kind == Kind::kBinary) {
      return IsNonBooleanLiteral(*n.args[0]) && n.args[1]->kind == Kind::kLiteral;
    }
    if (n.kind == Kind::kBinary && n.op == Op::kUnion) {
      // A union of two or more literal values is a collection, never a single boolean.
      return n.args[0]->kind == Kind::kLiteral && n.args[1]->kind == Kind::kLiteral;
    }
    return false;
  }

  Types Function(const Node& n, const Types& in) {
    const std::string& f = n.name;
    // Lambda arguments see the focus as $this.
    static const char* const kLambdas[] = {"where",     "select", "exists",    "all", "repeat",
                                           "repeatAll", "sort",   "aggregate", "iif"};
    bool lambda = false;
    for (const char* l : kLambdas) lambda = lambda || f == l;
    for (const auto& a : n.args) Check(*a, lambda && f != "iif" ? in : Types::Unknown());
    if (f == "iif" && !n.args.empty() && IsNonBooleanLiteral(*n.args[0])) {
      throw CheckError{n.args[0]->pos, "iif() criterion must be a single boolean"};
    }
    if (f == "first" || f == "last" || f == "tail" || f == "skip" || f == "take") {
      if (in.unordered)
        throw CheckError{n.pos, f + "() on an unordered collection (children/descendants)"};
      return in;
    }
    if (f == "where" || f == "single" || f == "distinct" || f == "trace" || f == "intersect" ||
        f == "exclude") {
      return in;
    }
    if (f == "ofType" || f == "as") return Named(n.type);
    if (f == "extension") return Named(internal::TypeName{"", "Extension", {}});
    if (f == "children" || f == "descendants") {
      Types t = Types::Unknown();
      t.unordered = true;
      return t;
    }
    return Types::Unknown();
  }

  const Definitions& defs_;
};

}  // namespace

Status CheckStrict(const Expression& expr, std::string_view input_type, const Definitions& defs) {
  Types in;
  const TypeDef* t = input_type.empty() ? nullptr : defs.FindType(input_type);
  if (t != nullptr) {
    in.known = true;
    in.list.push_back(Ty{t->kind == TypeKind::kPrimitive ? nullptr : t, 0, t->name});
  }
  try {
    Checker(defs).Check(expr.root(), in);
  } catch (const CheckError& e) {
    return Status(Code::kInvalid, "FHIRPath error at " + std::to_string(e.pos) + ": " + e.reason,
                  expr.text());
  }
  return Status::Ok();
}

}  // namespace benhan::fhir::fhirpath
