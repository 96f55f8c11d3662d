// The FHIRPath parse tree (engine-internal). Built by parser.cc, read by eval.cc and check.cc.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fhir/fhirpath/fhirpath.h"

namespace benhan::fhir::fhirpath::internal {

enum class Kind : uint8_t {
  kEmpty,     // {}
  kLiteral,   // literal value in `literal`
  kMember,    // identifier `name` applied to the focus
  kFunction,  // function `name`(args) applied to the focus
  kThis,      // $this
  kIndex,     // $index
  kTotal,     // $total
  kVariable,  // %name
  kInvoke,    // args[0] '.' args[1] (args[1] is kMember or kFunction)
  kIndexer,   // args[0] '[' args[1] ']'
  kUnary,     // op args[0]
  kBinary,    // args[0] op args[1]
  kIs,        // args[0] is type_name
  kAs,        // args[0] as type_name
};

enum class Op : uint8_t {
  kNone,
  kPlus,
  kMinus,
  kMul,
  kDiv,
  kIntDiv,
  kMod,
  kConcat,
  kUnion,
  kLt,
  kLe,
  kGt,
  kGe,
  kEq,
  kNe,
  kEquiv,
  kNotEquiv,
  kIn,
  kContains,
  kAnd,
  kOr,
  kXor,
  kImplies,
};

// A type specifier: `FHIR.string` -> {ns "FHIR", name "string"}; `Patient` -> {ns "", name
// "Patient"}.
struct TypeName {
  std::string ns;
  std::string name;
  // The Definitions (by address) in which the evaluator found this name to be a known type: the
  // check is made once, not at every evaluation. Not copied with the name.
  struct Checked {
    mutable std::atomic<const void*> defs{nullptr};
    Checked() = default;
    Checked(const Checked&) {}
    Checked& operator=(const Checked&) { return *this; }
  } checked;
};

struct Node {
  Kind kind = Kind::kEmpty;
  Op op = Op::kNone;
  int16_t fn = -1;   // function id (eval.cc), resolved at compile time; -1 if unknown
  uint32_t pos = 0;  // offset in the expression text
  std::string name;  // member, function or variable name
  TypeName type;     // kIs / kAs, and is()/as()/ofType() arguments
  Item literal;      // kLiteral
  std::vector<std::unique_ptr<Node>> args;
};

// Function table lookup (eval.cc): id of function `name`, or -1.
int16_t FunctionId(std::string_view name);
// Min/max number of arguments of function id.
void FunctionArity(int16_t id, int* min_args, int* max_args);

std::string DebugString(const Node& n);

}  // namespace benhan::fhir::fhirpath::internal
