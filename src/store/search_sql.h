// The search->SQL compiler: turns a store::Query into a SQL WHERE/ORDER BY over the index tables.
// One compiler for every backend; the Dialect seam covers the few differences (placeholders, LIKE
// escaping, case). Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "core/status.h"
#include "store/query.h"

namespace benhan::store {

using SqlArg = std::variant<int64_t, double, std::string>;

struct Dialect {
  // Placeholder for the n-th argument (1-based). "?" for both backends: the PostgreSQL store
  // splices several compiled fragments (types of a system search, ORDER BY, paging) into one
  // statement and numbers its "?" as $1, $2... in text order when it prepares it.
  std::function<std::string(int)> placeholder;
  // SQL that is true when the stored resource JSON `json_sql` matches the folded words of the
  // argument `arg` (fhir::WordsMatch over fhir::SearchableText): narrative only for _text.
  std::function<std::string(const std::string& json_sql, bool narrative, const std::string& arg)>
      text_match;
  // SQL that is true when the point (`lat_sql`, `lon_sql`, degrees) is within the central angle
  // whose cosine is the argument `cos_max` of the point whose latitude's sine and cosine are the
  // arguments `sin0`, `cos0` and whose longitude (radians) is `lon0`: the spherical law of
  // cosines, compared without acos (exact great-circle test of `near`).
  std::function<std::string(const std::string& lat_sql, const std::string& lon_sql,
                            const std::string& sin0, const std::string& cos0,
                            const std::string& lon0, const std::string& cos_max)>
      great_circle;
  // Sort directions. SQLite puts NULLs (resources without the sort parameter) first when
  // ascending and last when descending; PostgreSQL says so explicitly.
  const char* ascending = " ASC";
  const char* descending = " DESC";
};
const Dialect& SqliteDialect();
// PostgreSQL (store/postgres): _text/_content read the folded words stored beside the JSON
// (resource_version.text_narrative / text_content) with the SQL function benhan_words_match.
const Dialect& PostgresDialect();

struct CompiledQuery {
  std::string where;               // boolean SQL over alias r (resource); never empty ("1=1")
  std::string order_by;            // without "ORDER BY"
  std::vector<SqlArg> args;        // arguments of `where`, in order
  std::vector<SqlArg> order_args;  // arguments of `order_by`, in order (numbered after args)
};

// `param_id(type, code)` gives the pid of a resource type's search parameter, or -1 if the
// database has never indexed it (then the condition matches nothing, or everything with
// :missing=true). The conditions apply to alias `r` (table resource) of resource type `type`.
using ParamIdFn = std::function<int64_t(const std::string& type, const std::string& code)>;
// `reverse_as_list`: compile _has as the list of the referenced ids, found from the referrers'
// own driving condition (cheap when few referrers match) instead of a per-row EXISTS read in page
// order (cheap when many do). The SQLite store tries the list first within a work budget.
Result<CompiledQuery> CompileQuery(const Query& q, const std::string& type, const Dialect& dialect,
                                   const ParamIdFn& param_id, bool reverse_as_list = false);
// True if the conditions hold a _has (at any depth): then reverse_as_list matters.
bool HasReverseChain(const std::vector<Condition>& conds);

}  // namespace benhan::store
