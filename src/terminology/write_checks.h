// The write checks terminology/ adds to ResourceService (service::WriteCheck): every write of a
// CodeSystem, ValueSet or ConceptMap makes the TerminologyService reload; Patients' Vietnamese
// identifiers and addresses are checked (vn_identifiers.h, vn_address.h); Condition and Encounter diagnoses are checked
// against the ICD-10 rules. Each rule is off, a warning (logged) or an error (the write is
// rejected with a Vietnamese-then-English OperationOutcome), by config:
//   identifiers.check: error | warning | off      (default error; addresses too)
//   terminology.icd10_rules: error | warning | off (default warning)
//
// Thread-safety: the checks are immutable and thread-safe. Ownership: they borrow the
// TerminologyService and the Store, which must outlive the ResourceService.
#pragma once

#include "core/config.h"
#include "service/resource_service.h"
#include "store/store.h"
#include "terminology/terminology_service.h"

namespace benhan::terminology {

void AddWriteChecks(service::ResourceService& service, TerminologyService& terminology,
                    store::Store& store, const Config& config);

}  // namespace benhan::terminology
