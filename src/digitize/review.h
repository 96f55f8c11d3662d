// ReviewService: the clinician review of digitized drafts (fhir_drafts.h), through the
// ResourceService so every decision is validated, versioned and audited like any other write.
//
//   Pending(patient, document)  the drafts still waiting (Condition, Observation,
//                               MedicationStatement with the draft tag), per patient and/or per
//                               document.
//   Decide(type, id, decision)  "confirm": the draft becomes a record (draft tags removed,
//                               Condition.verificationStatus confirmed, Observation final,
//                               MedicationStatement active) and a Provenance (activity "verify",
//                               the clinician as agent) is written with it in one transaction;
//                               "edit": the clinician's version replaces the draft, still pending
//                               (tags, subject and document link are kept);
//                               "reject": the draft is deleted (its versions stay in history).
//
// Ownership: borrows the ResourceService. Thread-safety: thread-safe.
// Errors: kNotFound / kGone for an unknown or deleted draft, kConflict for a resource that is not
// a pending draft, kInvalid for an unknown decision or a bad edited resource, service errors.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <vector>

#include "core/status.h"
#include "service/resource_service.h"

namespace benhan::digitize {

class ReviewService {
 public:
  explicit ReviewService(service::ResourceService& service) : service_(service) {}

  // At least one of patient_id / document_id. The drafts as stored records.
  Result<std::vector<store::VersionRecord>> Pending(const service::RequestContext& ctx,
                                                    const std::string& patient_id,
                                                    const std::string& document_id);
  // `edited` is the clinician's version for "edit" (ignored otherwise). Returns the stored
  // resource (confirm, edit) or an empty object (reject).
  Result<boost::json::object> Decide(const service::RequestContext& ctx, const std::string& type,
                                     const std::string& id, const std::string& decision,
                                     const boost::json::object* edited = nullptr);

  static bool IsDraftType(const std::string& type) {
    return type == "Condition" || type == "Observation" || type == "MedicationStatement";
  }

 private:
  service::ResourceService& service_;
};

}  // namespace benhan::digitize
