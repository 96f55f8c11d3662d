// Draft FHIR resources from a digitized record: a transaction Bundle holding the scan (Binary),
// a DocumentReference (the scan, the OCR text and the word positions as attachments), one draft
// resource per extracted fact (Condition with ICD-10, Observation with LOINC valueQuantity or
// blood-pressure components, MedicationStatement with dosage) and one Provenance per draft that
// points to the document and the text span, with the extraction confidence.
//
// Drafts are marked so nothing enters the active record before a clinician confirms it:
// meta.tag kDraftTag (and the document's id under kDocumentTagSystem, for the review queue),
// Condition.verificationStatus "unconfirmed" ("provisional" for "theo dõi"), Observation.status
// "preliminary", MedicationStatement.status "unknown"; review.h turns them into records.
//
// Thread-safety: pure functions. Errors: none (the input is already validated).
#pragma once

#include <boost/json/object.hpp>
#include <string>

#include "digitize/digitizer.h"
#include "digitize/extract.h"

namespace benhan::digitize {

inline constexpr const char* kTagSystem = "http://benhan.vn/fhir/CodeSystem/digitize";
inline constexpr const char* kDraftCode = "draft";
inline constexpr const char* kDocumentTagSystem =
    "http://benhan.vn/fhir/CodeSystem/digitize-document";
inline constexpr const char* kConfidenceExt =
    "http://benhan.vn/fhir/StructureDefinition/extraction-confidence";
inline constexpr const char* kTextSpanExt = "http://benhan.vn/fhir/StructureDefinition/text-span";
inline constexpr const char* kOcrConfidenceExt =
    "http://benhan.vn/fhir/StructureDefinition/ocr-confidence";

struct DraftOptions {
  std::string patient_id;  // empty: a Patient built from the demographics is created (POST)
  std::string now;         // instant for Provenance.recorded / DocumentReference.date
  bool include_binary = true;
};

struct DraftCounts {
  int conditions = 0, observations = 0, medications = 0, provenances = 0;
};

// The transaction Bundle (PUT entries with ids chosen here, so drafts can carry the document id).
// `*document_id` gets the DocumentReference id.
boost::json::object BuildDraftBundle(const RecognizedDocument& doc, const ExtractionDoc& ex,
                                     const DraftOptions& options, std::string* document_id,
                                     DraftCounts* counts = nullptr);

// Base64 (RFC 4648, with padding).
std::string Base64(std::string_view data);

}  // namespace benhan::digitize
