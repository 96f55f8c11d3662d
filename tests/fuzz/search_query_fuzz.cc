// Fuzz target for search requests: bytes "Type\nquery-string" -> ParseQueryString -> ParseSearch
// (strict or lenient) -> the search->SQL compiler; and the same bytes as a UCUM unit expression.
// Any input must give a Status, never a crash; statuses are ignored.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fhir/definitions.h"
#include "fhir/ucum.h"
#include "service/resource_service.h"
#include "service/search_params.h"
#include "store/search_sql.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::shared_ptr<const benhan::fhir::Definitions> loaded = [] {
    auto d = benhan::fhir::Definitions::LoadEmbedded();
    if (!d.ok()) __builtin_trap();
    return *d;
  }();
  const benhan::fhir::Definitions* defs = loaded.get();
  std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)benhan::fhir::ucum::Parse(in.substr(0, 256));
  size_t nl = in.find('\n');
  std::string type(in.substr(0, nl == std::string_view::npos ? 0 : nl));
  std::string_view qs = nl == std::string_view::npos ? in : in.substr(nl + 1);
  if (!type.empty() && !defs->IsResourceType(type)) type = "Observation";
  auto params = benhan::service::ParseQueryString(qs);
  auto parsed = benhan::service::ParseSearch(type, params, *defs, size % 2 == 0, 50, 1000);
  if (!parsed.ok()) return 0;
  auto pid = [](const std::string& t, const std::string& code) -> int64_t {
    return static_cast<int64_t>((t.size() * 31 + code.size()) % 7) - 1;  // some params unknown
  };
  std::vector<std::string> types = parsed->query.types;
  if (!type.empty()) types = {type};
  if (types.empty()) types = {"Patient"};
  for (const auto& t : types)
    (void)benhan::store::CompileQuery(parsed->query, t, benhan::store::SqliteDialect(), pid);
  return 0;
}
