// FHIR R4 definitions as data: every resource and data type, their elements, the search parameters,
// the codes of required value sets and the compartments, loaded from the compact form that the
// build makes out of HL7's official R4 bundles (tools/gen_definitions.py,
// docs/definitions_format.md).
//
// Ownership: Definitions is immutable once loaded; share it as std::shared_ptr<const Definitions>.
// Thread-safety: all methods are const and safe to call from any thread.
// Pointers returned by lookups live as long as the Definitions object.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/status.h"

namespace benhan::fhir {

enum class TypeKind { kPrimitive, kComplex, kResource, kLogical };
enum class BindingStrength { kNone, kExample, kPreferred, kExtensible, kRequired };
enum class SearchParamType {
  kNumber,
  kDate,
  kString,
  kToken,
  kReference,
  kComposite,
  kQuantity,
  kUri,
  kSpecial
};

std::string_view SearchParamTypeName(SearchParamType t);

inline constexpr uint32_t kUnbounded = UINT32_MAX;

struct ElementDef {
  std::string path;  // as in the StructureDefinition: "Observation.value[x]"
  std::string name;  // JSON name stem: "value" (choice suffix removed)
  bool is_choice = false;
  uint32_t min = 0;
  uint32_t max = 1;                       // kUnbounded for "*"
  std::vector<std::string> types;         // type codes: "Quantity", "string", "BackboneElement"...
  std::vector<std::string> target_types;  // Reference/canonical targets ("Patient", "Resource"...)
  BindingStrength binding = BindingStrength::kNone;
  std::string value_set;  // canonical URL, no version
  bool summary = false;
  bool modifier = false;
  int32_t content_ref = -1;  // for contentReference: element (same type) whose children apply
  std::vector<int32_t> children;
  std::unordered_map<std::string, int32_t> child_by_name;  // by JSON name stem
  std::vector<int32_t> choice_children;                    // children with [x]
};

struct TypeDef {
  std::string name;
  TypeKind kind = TypeKind::kComplex;
  bool abstract = false;
  std::string base_name;
  const TypeDef* base = nullptr;
  std::vector<ElementDef> elements;  // elements[0] is the root ("Patient")

  bool IsResource() const { return kind == TypeKind::kResource; }
};

struct SearchParamDef {
  std::string url;
  std::string code;
  std::vector<std::string> base;
  SearchParamType type = SearchParamType::kString;
  std::string expression;  // FHIRPath; may be empty (e.g. _text, _content)
  std::vector<std::string> targets;
  // Composite parameters: each component's parameter (its canonical URL and type) and its
  // FHIRPath, relative to an item of `expression`.
  struct Component {
    std::string definition;
    std::string expression;
    SearchParamType type = SearchParamType::kToken;
  };
  std::vector<Component> components;
};

// Where a JSON property of a FHIR node is defined.
struct ChildRef {
  const TypeDef* type = nullptr;  // type whose elements[] holds the definition
  int32_t element = -1;
  std::string_view chosen_type;  // for choice elements: the type the JSON suffix names
  explicit operator bool() const { return element >= 0; }
  const ElementDef& def() const { return type->elements[static_cast<size_t>(element)]; }
};

class Definitions {
 public:
  // Loads the compact definitions embedded in the binary. Errors: kInternal if they are corrupt.
  static Result<std::shared_ptr<const Definitions>> LoadEmbedded();
  // Loads compact definitions from JSON text (tests, tools).
  static Result<std::shared_ptr<const Definitions>> LoadFromJson(std::string_view json);

  const std::string& fhir_version() const { return fhir_version_; }
  // nullptr if unknown.
  const TypeDef* FindType(std::string_view name) const;
  bool IsResourceType(std::string_view name) const;  // concrete (non-abstract) resource types
  const std::vector<std::string>& ResourceTypeNames() const { return resource_names_; }
  // True if `type` is `ancestor` or derives from it (Age is-a Quantity, Patient is-a Resource).
  bool IsA(std::string_view type, std::string_view ancestor) const;

  // The node reached by following `element` of `type`: for backbone elements the same type and that
  // element; for contentReference its target; for a typed element the root of `element_type`.
  // Returns {nullptr,-1} for primitive types (they have no children in JSON).
  ChildRef NodeOf(const ChildRef& ref, std::string_view element_type) const;
  // Resolves a JSON property name under the node (type, element). `json_name` may name a choice
  // element with its type suffix ("valueQuantity"). Returns an empty ChildRef if unknown.
  ChildRef FindChild(const TypeDef& type, int32_t element, std::string_view json_name) const;

  // Search parameters that apply to resource type `type` (including Resource/DomainResource ones).
  const std::vector<const SearchParamDef*>& SearchParamsFor(std::string_view type) const;
  const SearchParamDef* FindSearchParam(std::string_view type, std::string_view code) const;
  const std::vector<SearchParamDef>& AllSearchParams() const { return search_params_; }

  // Codes of a required value set as "system|code" and bare "code" keys; nullptr if not expanded.
  const std::unordered_set<std::string>* ValueSetCodes(std::string_view url) const;
  // The code system of `code` in the expansion of required value set `url` (the implicit system
  // of a `code` element bound to it), or "" if unknown or ambiguous.
  std::string_view ImplicitSystem(std::string_view url, std::string_view code) const;
  // An HL7 value set's compose (for the :in / :not-in search modifiers); nullptr if unknown.
  struct ValueSetCompose {
    std::vector<std::pair<std::string, std::string>> codes;     // (system, code) enumerated
    std::vector<std::string> systems;                           // whole code systems
    std::vector<std::string> value_sets;                        // included value sets
    std::vector<std::pair<std::string, std::string>> excluded;  // (system, code)
    bool has_filters = false;  // includes by filter: not expandable without a terminology server
  };
  const ValueSetCompose* FindValueSetCompose(std::string_view url) const;
  // The regex HL7 gives for a primitive type's value; nullptr if none.
  const std::string* PrimitiveRegex(std::string_view type) const;
  // Search parameters linking `resource_type` to compartment `compartment` ("Patient"); nullptr if
  // none.
  const std::vector<std::string>* CompartmentParams(std::string_view compartment,
                                                    std::string_view resource_type) const;

 private:
  Definitions() = default;
  Status Build(std::string_view json);

  std::string fhir_version_;
  std::vector<std::unique_ptr<TypeDef>> types_;
  std::unordered_map<std::string, const TypeDef*> type_by_name_;
  std::vector<std::string> resource_names_;
  std::vector<SearchParamDef> search_params_;
  std::unordered_map<std::string, std::vector<const SearchParamDef*>> params_by_type_;
  std::unordered_map<std::string, std::unordered_map<std::string, const SearchParamDef*>>
      param_index_;
  std::unordered_map<std::string, std::unordered_set<std::string>> value_sets_;
  std::unordered_map<std::string, std::string> regex_;
  std::unordered_map<std::string, ValueSetCompose> compose_;
  std::unordered_map<std::string, std::unordered_map<std::string, std::string>> code_system_;
  std::unordered_map<std::string, std::unordered_map<std::string, std::vector<std::string>>>
      compartments_;
};

}  // namespace benhan::fhir
