// FHIRPath (N1, as used by FHIR R4): compile once, evaluate many times over boost::json resources.
//
//   ASSIGN_OR_RETURN(auto expr, fhirpath::CompileCached("Patient.name.where(use='official')"));
//   ASSIGN_OR_RETURN(fhirpath::Collection out, fhirpath::Evaluate(*expr, patient_json, defs));
//   for (const fhirpath::Item& it : out) { it.json(); it.type(); it.primitive_extension(); }
//
// Ownership: an Expression is immutable; share it as std::shared_ptr<const Expression>. Items of a
// result Collection point into the evaluated resource (and into resources returned by the resolver)
// without copying: the caller must keep those JSON values alive while it uses the result. Computed
// values (literals, arithmetic, string functions...) are owned by the Item itself (shared,
// immutable).
//
// Thread-safety: Compile/CompileCached/Evaluate are safe to call concurrently from any thread; one
// Expression may be evaluated by many threads at once. The resolver callback and the EvalOptions
// are only read; the callback must itself be safe if the same options are used from several
// threads.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "fhir/definitions.h"

namespace benhan::fhir::fhirpath {

namespace internal {
struct Node;
}  // namespace internal

// A compiled FHIRPath expression. Immutable.
class Expression {
 public:
  ~Expression();
  Expression(const Expression&) = delete;
  Expression& operator=(const Expression&) = delete;

  // The text it was compiled from.
  const std::string& text() const { return text_; }
  // A normalised rendering of the parse tree (for tests and debugging).
  std::string DebugString() const;

  const internal::Node& root() const { return *root_; }  // engine use

 private:
  friend Result<std::shared_ptr<const Expression>> Compile(std::string_view text);
  Expression(std::string text, std::unique_ptr<internal::Node> root);
  std::string text_;
  std::unique_ptr<internal::Node> root_;
};

// Parses `text`. Errors: kInvalid with the message "FHIRPath syntax error at <offset> (line L, col
// C): <reason>"; the issue's `expression` field holds the text.
Result<std::shared_ptr<const Expression>> Compile(std::string_view text);

// Like Compile, through a process-wide cache keyed by the text: the same text gives the same
// compiled Expression. Thread-safe. Syntax errors are not cached (they are cheap to reproduce).
Result<std::shared_ptr<const Expression>> CompileCached(std::string_view text);

// One element of a result collection.
//
// Either a node of the input (json() refers into the evaluated resource; not owned) or a value
// computed by the expression (owned by the Item, shared by its copies). type() is the FHIR type
// name for input nodes ("HumanName", "string", "dateTime", "Reference", "BackboneElement",
// "Patient"...), and the System type name for computed values ("String", "Integer", "Decimal",
// "Boolean", "Date", "DateTime", "Time", "Quantity"), with is_system() true. type() is empty if the
// model does not know the node (e.g. an element that is not in the R4 definitions).
//
// Computed values are represented as JSON: strings, int64 integers, doubles, booleans; dates,
// dateTimes and times as their text without '@' (times without the 'T'); Quantities as {"value": n,
// "unit": u}.
class Item {
 public:
  Item() = default;

  // An input node. `ext` is the `_name` sibling object of a primitive (may be null).
  static Item Node(const boost::json::value* v, std::string_view type,
                   const TypeDef* def_type = nullptr, int32_t def_element = -1,
                   const boost::json::object* ext = nullptr) {
    Item it;
    it.node_ = v;
    it.type_ = type;
    it.def_type_ = def_type;
    it.def_element_ = def_element;
    it.ext_ = ext;
    return it;
  }
  // A computed value of System type `system_type` ("String", "Integer"...). `system_type` must be a
  // string with static storage duration.
  static Item Computed(boost::json::value v, std::string_view system_type);
  // A computed value that shares already-owned storage.
  static Item Shared(std::shared_ptr<const boost::json::value> v, std::string_view type,
                     bool system);

  // The JSON value. For a primitive that only has extensions (FHIR JSON `null` with a `_x`
  // sibling), this is a null value. Never dangling while the input lives.
  const boost::json::value& json() const { return *node_; }
  std::string_view type() const { return type_; }
  bool is_system() const { return system_; }
  // The `_name` sibling of a primitive in FHIR JSON ({"id":..., "extension":[...]}), or nullptr.
  const boost::json::object* primitive_extension() const { return ext_; }
  // True if this Item points into the input (not computed).
  bool is_input_node() const { return owned_ == nullptr; }
  // Where the node is defined in the R4 model (null/-1 for primitives' values and computed values).
  const TypeDef* def_type() const { return def_type_; }
  int32_t def_element() const { return def_element_; }

  bool valid() const { return node_ != nullptr; }

  // The computed value this item lives in (itself, or the computed parent it was navigated from),
  // kept alive by the item; null for nodes of the input.
  const std::shared_ptr<const boost::json::value>& owner() const { return owned_ ? owned_ : keep_; }
  // Makes a node navigated from a computed value keep that value alive.
  void KeepAlive(const std::shared_ptr<const boost::json::value>& owner) {
    if (!owned_ && !keep_) keep_ = owner;
  }

  // For computed System.Decimal values: digits after the decimal point as written or computed
  // ("1.50" -> 2), so that toString() and precision() keep trailing zeros; -1 if unknown.
  int decimal_scale() const { return scale_; }
  static Item Decimal(double v, int scale);

 private:
  const boost::json::value* node_ = nullptr;
  std::shared_ptr<const boost::json::value> owned_;
  std::shared_ptr<const boost::json::value> keep_;  // owner of a node inside a computed value
  std::string_view type_;
  const boost::json::object* ext_ = nullptr;
  const TypeDef* def_type_ = nullptr;
  int32_t def_element_ = -1;
  bool system_ = false;
  int8_t scale_ = -1;
};

using Collection = std::vector<Item>;

// Resolves a reference string ("Patient/123", "urn:uuid:...", "#contained-id" is handled by the
// engine itself) to a resource, or nullptr if it cannot. The returned value must outlive the
// result.
using Resolver = std::function<const boost::json::value*(std::string_view reference)>;

struct EvalOptions {
  // Environment variables: %name -> collection. Names without the '%'. Overrides built-ins
  // (%ucum, %sct, %loinc, %context, %resource, %rootResource).
  std::map<std::string, Collection, std::less<>> variables;
  // Optional: resolves references that are not inside the current Bundle / contained resources.
  Resolver resolver;
  // %resource and %rootResource: default to the evaluated resource (for an element context, set
  // them).
  const boost::json::value* resource = nullptr;
  const boost::json::value* root_resource = nullptr;
  // resolve() on a reference that neither the Bundle, the contained resources nor `resolver` can
  // resolve returns a placeholder {"resourceType": T, "id": id} when the reference names its type
  // ("Patient/1", "http://x/fhir/Patient/1"), so that search parameters such as
  // `subject.where(resolve() is Patient)` work without loading the target.
  bool stub_unresolved_references = false;
  // The FHIR type of the input if it is not a resource with `resourceType` ("HumanName"...).
  std::string_view input_type;
  // Evaluation limits (untrusted expressions): maximum items in one intermediate collection and
  // maximum recursion depth of repeat()/descendants(). Exceeding them is kProcessing.
  size_t max_collection_size = 1'000'000;
};

// Evaluates `expr` with `resource` as %context, %resource and the initial focus.
// Errors: kProcessing for evaluation errors (e.g. a function given a collection of several items
// where one is required, a wrong argument type); never crashes on any input.
Result<Collection> Evaluate(const Expression& expr, const boost::json::value& resource,
                            const Definitions& defs, const EvalOptions& opts = {});

// Evaluates `expr` with an item of an earlier result as %context and focus (e.g. the components
// of a composite search parameter, relative to each item of its expression); set
// `opts.resource` to the resource the item belongs to. Same errors as Evaluate.
Result<Collection> EvaluateOn(const Expression& expr, const Item& context, const Definitions& defs,
                              const EvalOptions& opts = {});

// Evaluates `expr` on an empty context (no input). Same errors as Evaluate.
Result<Collection> EvaluateEmpty(const Expression& expr, const Definitions& defs,
                                 const EvalOptions& opts = {});

// The collection as one JSON array (the CLI output): primitives as JSON values, dates/times as
// their text, Quantities as {"value", "unit"}, complex elements as their FHIR JSON.
boost::json::array ToJson(const Collection& c);

// Checks `expr` against the type model when the input is of type `input_type` ("Patient"): unknown
// elements, functions given the wrong number or type of arguments. Errors: kInvalid with the
// reason.
Status CheckStrict(const Expression& expr, std::string_view input_type, const Definitions& defs);

}  // namespace benhan::fhir::fhirpath
