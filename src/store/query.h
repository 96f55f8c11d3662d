// Query: a parsed FHIR search, independent of SQL. api/ parses URL parameters into it with the
// help of fhir/ (parameter types); store/ compiles it to SQL for its dialect.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace benhan::store {

enum class ParamKind {
  kString,
  kToken,
  kReference,
  kDate,
  kNumber,
  kQuantity,
  kUri,
  kId,
  kLastUpdated,
  kComposite,
  kText,  // _text (narrative) and _content (whole resource): full-text words, folded
  // Location `near` (special): within distance_km of (latitude, longitude) on the WGS84 sphere,
  // over the row the indexer writes for Location.position (idx_quantity, unit_key "wgs84",
  // canonical = latitude, value = longitude).
  kNear
};
enum class Prefix { kEq, kNe, kGt, kLt, kGe, kLe, kSa, kEb, kAp };

// One value of a parameter (one OR alternative).
struct QueryValue {
  Prefix prefix = Prefix::kEq;
  std::string system;       // token system / quantity system / reference type
  bool has_system = false;  // "system|code" or "|code" given
  std::string code;         // token code / string value / reference id / uri / quantity code
  double number = 0;        // number / quantity value
  // Quantity unit as given ("mg"), and when it is a UCUM unit its comparable key ("ucum:g") and
  // the factor to canonical units: index rows of commensurable units then compare by value.
  std::string unit;
  std::string unit_key;
  double factor = 1;
  int64_t low = 0, high = 0;  // date range [low, high)
  // near: the point (degrees) and the distance (km).
  double latitude = 0, longitude = 0, distance_km = 0;
  // Composite parameters: one value per component ("8480-6$gt100"), of Condition::part_kinds.
  std::vector<QueryValue> parts;
};

struct Condition;

// A chain step: resources of `type` that match every condition (AND).
struct Chain {
  std::string type;
  std::vector<Condition> all_of;
};

struct Condition {
  std::string param;  // search parameter code
  ParamKind kind = ParamKind::kString;
  std::string modifier;  // "", "exact", "contains", "missing", "not", "text", "below", "above"...
  bool missing = false;  // value of :missing
  std::vector<QueryValue> any_of;     // OR
  std::vector<ParamKind> part_kinds;  // composite: the kind of each component
  // More parameters the values may match through (OR), e.g. a compartment: Observation in
  // Patient/1's compartment matches on `subject` or `performer`.
  std::vector<std::string> also_params;
  // Chained reference parameter (`subject:Patient.name=an`): the reference must point at a resource
  // matching one of `chains` (OR across target types). With `reverse` (`_has:Observation:patient:
  // code=x`): some resource of chains[0].type whose `param` refers to this one matches chains[0].
  std::vector<Chain> chains;
  bool reverse = false;
  // Reference rows only of this target type (a parameter searched through the rows of the one it
  // restricts: Observation `patient` is `subject` rows that point at a Patient).
  std::string target_type;
};

struct SortKey {
  std::string param;  // "_id", "_lastUpdated" or a search parameter code
  ParamKind kind = ParamKind::kLastUpdated;
  bool descending = false;
};

struct Query {
  // System search (Store::Search with an empty type): the resource types searched (`_type`), or
  // every type if empty. The conditions are compiled for each type.
  std::vector<std::string> types;
  std::vector<Condition> all_of;  // AND
  std::vector<SortKey> sort;
  int count = 50;
  int64_t offset = 0;
  // Keyset paging for the default order (no sort keys): only resources after this internal key.
  // Stable under concurrent writes: new resources come later, updates keep their place.
  int64_t after_key = 0;
  bool want_total = false;
  // With want_total: count however long it takes (_total=accurate, _summary=count). Otherwise the
  // count has a work budget (~ a few ms) and the total is left out when it would cost more
  // (FHIR lets a server omit Bundle.total); a page that holds every match is always counted.
  bool total_accurate = false;
  // With want_total and not total_accurate: no count beyond the page (total only when the first
  // page holds every match). Set for searches whose count visits every candidate with a per-row
  // test (_has): at 1,000 patients such a count never fits its budget, so trying cost ~5 ms a
  // search for nothing (docs/benchmarks.md, "Page size and the memory map").
  bool total_from_page_only = false;
};

}  // namespace benhan::store
