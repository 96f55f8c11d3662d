// Mappings from HL7 v2 messages to FHIR R4 resources (docs/hl7v2-mapping.md).
//
// The mapping is a table (kRoutes in mapping.cc): message type and trigger events -> the function
// that turns the message into transaction Bundle entries, with the action each trigger means
// (admit, transfer, discharge, cancel...). Resources get deterministic ids derived from the
// sender and the HL7 keys (visit number, placer/filler order numbers, OBX set id), so a message
// sent again, or a correction of a result, updates the same resources instead of adding new ones.
// Patients are matched by identifier (find_patient): ADT writes (PUT) the Patient found, or a new
// one under an id derived from the identifier; other messages only link to the Patient found, and
// create it (same derived id) when there is none. ADT^A40 (merge) also rewrites, in the same
// Bundle, the merged Patient (link replaced-by, active false) and every resource referring to it
// (references moved to the surviving Patient), each under If-Match of the version read.
//
// Errors: Status whose expression is the HL7 location "SEG^sequence^field" (ERR-2):
// kNotSupported (message type or event without a mapping; code 200/201), kRequired (a field the
// mapping needs; code 101), kValue (a value that cannot be read; code 102).
// Thread-safety: pure functions of the message.
#pragma once

#include <boost/json/array.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "interop/hl7v2/message.h"

namespace benhan::interop::hl7v2 {

// A stored resource as the merge (ADT^A40) needs it: to rewrite and write back under If-Match.
struct StoredResource {
  std::string type;
  std::string id;
  int64_t version = 0;
  std::string json;
};

struct MappingOptions {
  std::string timezone = "+07:00";  // for HL7 timestamps that carry a time but no offset
  // The id of the Patient with this identifier, if one exists (ADT updates it). Unset or nullopt:
  // the Patient is written under a deterministic id derived from the identifier.
  std::function<std::optional<std::string>(const std::string& system, const std::string& value)>
      find_patient;
  // ADT^A40: Patient/`patient_id` itself (first) and every resource that refers to it (its
  // compartment: Encounters, Observations, DiagnosticReports, ServiceRequests...). Unset: the
  // merge only records the link on the surviving Patient.
  std::function<Result<std::vector<StoredResource>>(const std::string& patient_id)>
      patient_and_referrers;
};

// Transaction Bundle entries (fullUrl, resource, request) for `m`.
Result<boost::json::array> MapToFhir(const Message& m, const MappingOptions& opts = {});

// Whether benhan has a mapping for this type^trigger.
bool IsSupported(std::string_view type, std::string_view trigger);

// A deterministic FHIR id ("h7-" + 40 hex digits of SHA-256) for a key.
std::string StableId(std::string_view key);

// HL7 TS/DTM/DT "YYYY[MM[DD[HH[MM[SS[.S...]]]]]][+/-ZZZZ]" as a FHIR date or dateTime; "" when it
// cannot be read.
std::string Hl7DateTimeToFhir(std::string_view ts, std::string_view default_tz, bool date_only);

// The identifier system for a PID-3 repetition (CX): the Vietnamese personal ID and insurance
// card systems (terminology/vn_identifiers.h) recognised by assigning authority or type code.
std::string IdentifierSystemOf(std::string_view value, std::string_view authority,
                               std::string_view type_code);

}  // namespace benhan::interop::hl7v2
