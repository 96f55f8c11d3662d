// The access-policy hook: ResourceService asks it before every interaction, on every resource it
// returns or writes, and to narrow every search, so REST, Bundles (batch and transaction entries),
// _include/_revinclude, $everything, history, HL7 v2 and any later interface are governed alike.
// Implemented by security/policy.h (roles, SMART scopes, care relationships, Consent,
// break-the-glass); without one (tests, `benhan import`) everything is allowed.
//
// Thread-safety: implementations are safe from any thread. Errors: kForbidden (403) with the
// reason; kInvalid for a malformed break-the-glass request.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "fhir/definitions.h"
#include "store/query.h"

namespace benhan::service {

struct RequestContext;

// The interactions of technical guide 365 map onto these: view = kRead/kSearch/kHistory,
// create = kCreate, edit = kUpdate (update and patch), cancel = kDelete, restore = kRestore (an
// update that brings a deleted resource back).
enum class Interaction { kRead, kSearch, kHistory, kCreate, kUpdate, kDelete, kRestore };
const char* InteractionName(Interaction i);

// What the policy said about one resource: allowed, and how (for the audit row).
struct AccessDecision {
  Status status;             // Ok or kForbidden
  std::string patient;       // the patient the resource belongs to ("" if none)
  bool break_glass = false;  // allowed only through break-the-glass: flagged for review
};

class AccessPolicy {
 public:
  virtual ~AccessPolicy() = default;
  // May the principal do `i` on resources of `type` at all (role permissions, SMART scopes,
  // access hours)? `type` is empty for whole-system searches and history.
  virtual Status CheckType(const RequestContext& ctx, Interaction i,
                           const std::string& type) const = 0;
  // A concrete resource (read, to be written, or the version being replaced or deleted): patient
  // context, care relationship, department, Consent, break-the-glass. Call after CheckType.
  virtual AccessDecision CheckResource(const RequestContext& ctx, Interaction i,
                                       const std::string& type,
                                       const boost::json::object& resource) const = 0;
  // The same, for a resource whose patients the caller already has (PatientsOf or
  // PatientsOfJson of it): a stored resource need not be parsed into a DOM on every read.
  virtual AccessDecision CheckPatients(const RequestContext& ctx, Interaction i,
                                       const std::string& type,
                                       std::vector<std::string> patients) const = 0;
  // Adds conditions to a search of `type` so that it only matches resources the principal may
  // see: totals and pages are then computed by the store over permitted resources only (no count
  // leak). Also refuses chains/_has into types the principal may not search.
  virtual Status RestrictSearch(const RequestContext& ctx, const std::string& type,
                                store::Query& query) const = 0;
  // True if the principal is under no resource-level restriction (then CheckResource always
  // allows and RestrictSearch adds nothing): lets callers skip parsing resources.
  virtual bool Unrestricted(const RequestContext& ctx) const = 0;
  // Told after every committed write (Encounter/EpisodeOfCare/CareTeam/Consent change who may
  // see what).
  virtual void OnWrite(const std::string& type) const = 0;
};

// Which patients a resource belongs to: the R4 Patient CompartmentDefinition, read as the
// elements its parameters name (e.g. Observation.subject and .performer, Encounter.subject). Built
// once from the definitions; immutable, thread-safe.
class PatientCompartment {
 public:
  explicit PatientCompartment(const fhir::Definitions& defs);
  // Patient ids `resource` of `type` refers to through those elements (its own id for a Patient).
  std::vector<std::string> PatientsOf(const std::string& type,
                                      const boost::json::object& resource) const;
  // The same ids in the same order, read from the resource's JSON text by a streaming parser
  // (no DOM, no allocation beyond the ids): for stored resources checked on every read and
  // search match. Errors: kInvalid if `json` is not one JSON object.
  Result<std::vector<std::string>> PatientsOfJson(const std::string& type,
                                                  std::string_view json) const;
  // PatientsOfJson's first id ("" if none) for a resource this server stored (valid JSON: checked
  // when written), found by a scan that does not validate and stops at the first patient of the
  // first compartment path: the audit row's patient when no policy needs the others. Falls back
  // to PatientsOfJson when unsure (an escape in a key or reference, deep nesting), so
  // text that is not one JSON object fails as there (kInvalid) unless it breaks only after the
  // patient was found.
  Result<std::string> FirstPatientOfStored(const std::string& type, std::string_view json) const;
  // PatientsOfJson's answer for a resource this server stored, by the same scan collecting every
  // patient (the policy's input on every restricted read and search match); the same fallback.
  Result<std::vector<std::string>> PatientsOfStored(const std::string& type,
                                                    std::string_view json) const;
  // True for Patient and every type with Patient compartment parameters (patient data).
  bool IsPatientData(const std::string& type) const;

 private:
  // The paths the stored-text scan follows for `type` (none for a Patient or a type outside the
  // compartment); nullptr if more than its 32-bit masks hold (then the DOM is parsed).
  const std::vector<std::vector<std::string>>* ScanPaths(const std::string& type) const;
  // type -> element paths (each a list of element names from the resource root).
  std::unordered_map<std::string, std::vector<std::vector<std::string>>> paths_;
};

}  // namespace benhan::service
