// Parses FHIR search URL parameters into a store::Query using the R4 SearchParameter definitions.
// Pure, thread-safe.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "fhir/definitions.h"
#include "fhir/indexer.h"
#include "fhir/resource.h"
#include "store/query.h"

namespace benhan::service {

using Params =
    std::vector<std::pair<std::string, std::string>>;  // decoded name=value pairs, in order

// One _include / _revinclude: "Source:param[:Target]", "Source:*", or "*" (every reference).
struct Include {
  bool reverse = false;     // _revinclude
  bool iterate = false;     // :iterate (also applies to resources that were themselves included)
  std::string source_type;  // empty with "*"
  std::string param;        // reference search parameter code, or "*"
  std::string target_type;  // optional target type filter
};

struct ParsedSearch {
  store::Query query;
  std::vector<Include> includes;
  fhir::SummaryMode summary = fhir::SummaryMode::kFalse;
  std::vector<std::string> elements;
  std::vector<std::string> warnings;  // lenient mode: parameters ignored, and why
  Params used;                        // the parameters applied (for the self link)
};

// `strict`: Prefer: handling=strict -> an unknown or unsupported parameter is a kInvalid error
// naming it; otherwise it is ignored and reported in `warnings`.
Result<ParsedSearch> ParseSearch(const std::string& type, const Params& params,
                                 const fhir::Definitions& defs, bool strict, int default_count,
                                 int max_count);

// Rewrites the parameters of `q` (a search of `type`, or a system search if empty) that the
// indexer does not index (fhir::Indexer::AliasOf) into their source parameters: conditions,
// chains, _has, sort keys. Every search must go through it before the store.
// Errors: kNotSupported for an aliased parameter in a search across several types.
Status ApplyParamAliases(store::Query& q, const std::string& type, const fhir::Indexer& indexer);

// Splits "a,b\,c" at unescaped commas.
std::vector<std::string> SplitOr(const std::string& value);

}  // namespace benhan::service
