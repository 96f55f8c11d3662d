// Fuzz target for the validator: bytes -> boost::json (if they parse) -> Validator::Validate.
// The validator must handle any JSON without crashing; its Status is ignored.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <boost/json.hpp>

#include "fhir/validator.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const benhan::fhir::Validator* validator = [] {
    auto defs = benhan::fhir::Definitions::LoadEmbedded();
    if (!defs.ok()) __builtin_trap();
    return new benhan::fhir::Validator(*defs);  // lives for the process
  }();
  boost::json::error_code ec;
  boost::json::value v =
      boost::json::parse(std::string_view(reinterpret_cast<const char*>(data), size), ec);
  if (ec) return 0;
  (void)validator->Validate(v);
  return 0;
}
