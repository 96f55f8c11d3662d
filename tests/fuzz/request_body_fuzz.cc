// Fuzz target for the request-body path of the FHIR API: bytes -> fhir::ParseJson (the parser used
// for every request body) -> Validator -> Indexer (search-parameter extraction), exactly as a POST
// does before it reaches the store. Must never crash, leak or hang.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "fhir/indexer.h"
#include "fhir/resource.h"
#include "fhir/validator.h"

namespace {
struct Env {
  std::shared_ptr<const benhan::fhir::Definitions> defs =
      *benhan::fhir::Definitions::LoadEmbedded();
  benhan::fhir::Validator validator{defs};
  std::unique_ptr<benhan::fhir::Indexer> indexer =
      std::move(benhan::fhir::Indexer::Create(defs).value());
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Env* env = new Env();
  std::string_view body(reinterpret_cast<const char*>(data), size);
  boost::json::value v;
  if (!benhan::fhir::ParseJson(body, &v).ok()) return 0;
  benhan::Status st = env->validator.Validate(v);
  (void)benhan::fhir::MakeOperationOutcome(st);
  if (v.is_object()) {
    // Index extraction runs on valid resources in production; run it on everything here too.
    (void)env->indexer->Extract(v);
    (void)benhan::fhir::Serialize(v, true);
  }
  return 0;
}
