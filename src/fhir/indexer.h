// Indexer: extracts the search-index rows of a resource from the official R4 SearchParameter
// FHIRPath expressions (every parameter of every resource type; special parameters are searched by
// the search layer itself, except Location `near`: Location.position is indexed as one
// idx_quantity row, unit_key "wgs84", canonical = latitude, value = longitude). Strings are
// indexed twice: exact and Vietnamese-folded.
//
// Composite parameters: for each item of the parameter's expression, the values of the second (and
// third) component are indexed in their own type's table under a derived code that carries the
// first component's value (CompositeCode in index_entries.h).
// A search seeks those codes (by code, system|code, |code or system|), then compares the value.
//
// Thread-safety: immutable after construction; Extract() may run concurrently on many threads.
// Ownership: holds a shared reference to the Definitions.
#pragma once

#include <boost/json/value.hpp>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "fhir/definitions.h"
#include "fhir/fhirpath/fhirpath.h"
#include "fhir/index_entries.h"

namespace benhan::fhir {

class Indexer {
 public:
  // Compiles every SearchParameter expression once. Errors: kInternal if an expression fails to
  // compile (the official definitions all compile; a failure is a bug).
  static Result<std::unique_ptr<Indexer>> Create(std::shared_ptr<const Definitions> defs);

  // Index rows of `resource` (a resource JSON object with resourceType). Evaluation errors of one
  // parameter do not fail the write: that parameter is skipped and logged at debug level.
  // Shortcuts (`shortcuts = true`, never changing the rows): parameters whose expression starts
  // from top-level elements the resource lacks are skipped without evaluating them; composite
  // parameters over the same item share their components' evaluation (Observation's code is
  // evaluated once for its six code-value composites). `shortcuts = false` evaluates every
  // parameter and component separately (the reference: tests compare both).
  IndexEntries Extract(const boost::json::value& resource, bool shortcuts = true) const;

  const Definitions& defs() const { return *defs_; }

  // A search parameter whose index rows would repeat other parameters' rows, so it is not indexed
  // and searches use the sources' rows instead: a duplicate (Patient `phonetic` = `name`), a union
  // (Observation `combo-code` = `code` | `component-code`) or a reference restricted to a target
  // type (Observation `patient` = `subject` where the target is a Patient: `target_type`).
  // About a fifth of Synthea's index rows. Derived from the definitions' expressions at start-up.
  struct Alias {
    std::vector<std::string> sources;
    std::string target_type;  // restriction of a reference alias, or ""
  };
  // The alias entry of type.code, or nullptr if the parameter is indexed itself.
  const Alias* AliasOf(std::string_view type, std::string_view code) const;

 private:
  struct Param {
    const SearchParamDef* def;
    std::shared_ptr<const fhirpath::Expression> expr;
    // Composite parameters: each component's expression, relative to an item of `expr`.
    std::vector<std::shared_ptr<const fhirpath::Expression>> components;
    // Token parameters on one `code` element with a required binding (Patient.gender): its value
    // set, whose code system is the codes' implicit system.
    std::string implicit_vs;
    std::string expression;  // the FHIRPath for this resource type
    // The resource's top-level elements the expression starts from (`Observation.code.coding`:
    // "code"): when the resource has none of them, the expression is empty and is not evaluated.
    // Empty: always evaluated (an expression that can yield values from nothing, e.g. exists()).
    std::vector<std::string> roots;
    // The same as indexes into TypeParams::roots.
    std::vector<uint16_t> root_ids;
  };
  // The indexed parameters of one resource type.
  struct TypeParams {
    const TypeDef* type = nullptr;
    std::vector<Param> params;
    std::vector<std::string> roots;  // every Param::roots of the type, sorted, unique
  };
  // Evaluations shared by the composite parameters of one Extract (defined in indexer.cc).
  struct CompositeCache;
  void DeriveAliases(const std::string& type, std::vector<Param>& list);
  explicit Indexer(std::shared_ptr<const Definitions> defs) : defs_(std::move(defs)) {}
  void AddValue(SearchParamType type, const std::string& code, const fhirpath::Item& item,
                IndexEntries& out, std::string_view implicit_vs = {}) const;
  // Location.position -> one quantity row: unit_key "wgs84", canonical = latitude, value =
  // longitude (store/query.h kNear).
  void AddPosition(const std::string& code, const fhirpath::Item& item, IndexEntries& out) const;
  void AddComposite(const Param& p, const fhirpath::Item& item, const boost::json::value& resource,
                    IndexEntries& out, CompositeCache* cache) const;

  std::shared_ptr<const Definitions> defs_;
  std::unordered_map<std::string, TypeParams> by_type_;
  std::unordered_map<std::string, std::unordered_map<std::string, Alias>> aliases_;
};

// The comparable form of a quantity (see IndexEntries::Quantity): UCUM units (system
// http://unitsofmeasure.org) become "ucum:<dimensions>" and the value in canonical units; other
// units keep their code and value. Used alike for index rows and for search values.
void QuantityKey(std::string_view system, std::string_view code, double value,
                 std::string* unit_key, double* canonical);
void AddQuantity(const std::string& param, double value, std::string system, std::string code,
                 std::string unit, IndexEntries& out);

// Splits a SearchParameter expression at its top-level '|' and keeps the branches that apply to
// `resource_type` ("Condition.code | Observation.code" -> "Observation.code" for Observation).
std::string ExpressionFor(std::string_view expression, std::string_view resource_type,
                          const Definitions& defs);

}  // namespace benhan::fhir
