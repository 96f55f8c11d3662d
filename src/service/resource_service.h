// ResourceService: benhan's internal FHIR API. REST (api/), `benhan import`, and later HL7 v2 and
// digitization all write and read through it, so every path validates, indexes, versions and
// audits alike.
//
// Every write: parse -> validate against the R4 definitions -> extract search-index rows -> one
// store transaction (version row + current pointer + index rows + audit row). Reads are audited
// through the AuditLog (batched).
//
// Thread-safety: all methods are thread-safe. Ownership: borrows the Store, Validator, Indexer and
// AuditLog, which must outlive it.
// Errors: the Code table (core/error_codes.def); validation errors carry every issue with its
// element path.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/config.h"
#include "core/principal.h"
#include "core/status.h"
#include "fhir/definitions.h"
#include "fhir/indexer.h"
#include "fhir/validator.h"
#include "service/access_policy.h"
#include "service/audit_log.h"
#include "service/search_params.h"
#include "service/value_sets.h"
#include "service/version_patients.h"
#include "store/store.h"

namespace benhan::service {

// Who is asking, for audit and policy.
struct RequestContext {
  std::string principal = "anonymous";  // == who.id when authenticated
  Principal who;                        // everything authentication established
  std::string remote;
  std::string base_url;  // e.g. "http://127.0.0.1:8080/fhir", for Bundle fullUrl and links
  bool strict = false;   // Prefer: handling=strict
  // Break-the-glass: the stated reason (HTTP header X-Break-Glass), empty if none. Lets a role
  // the policy allows it reach a patient outside its care or behind a Consent, for a limited
  // time, audited and flagged for review (security/policy.h).
  std::string break_glass;
};

struct WriteOptions {
  std::optional<int64_t> if_match;  // If-Match: W/"n"
  std::string if_none_exist;        // If-None-Exist: query string (conditional create)
};

// Result of a write.
struct WriteOutcome {
  int http_status = 200;        // 200 OK, 201 Created
  store::VersionRecord record;  // the stored (or, for a no-op, the existing) version
  std::string message;          // human-readable outcome for an OperationOutcome
};

// An extra rule checked on every write after the R4 validation (Vietnamese identifiers, ICD-10
// rules: terminology/write_checks.h). Check returns an error Status to reject the write; it must
// be thread-safe.
class WriteCheck {
 public:
  virtual ~WriteCheck() = default;
  virtual Status Check(const boost::json::object& resource) const = 0;
};

class ResourceService {
 public:
  ResourceService(std::shared_ptr<const fhir::Definitions> defs, store::Store& store,
                  const fhir::Validator& validator, const fhir::Indexer& indexer, AuditLog& audit,
                  const Config& config);

  Result<WriteOutcome> Create(const RequestContext& ctx, const std::string& type,
                              boost::json::value body, const WriteOptions& opts = {});
  Result<WriteOutcome> Update(const RequestContext& ctx, const std::string& type,
                              const std::string& id, boost::json::value body,
                              const WriteOptions& opts = {});
  Result<WriteOutcome> ConditionalUpdate(const RequestContext& ctx, const std::string& type,
                                         const Params& query, boost::json::value body,
                                         const WriteOptions& opts = {});
  Result<WriteOutcome> Patch(const RequestContext& ctx, const std::string& type,
                             const std::string& id, const boost::json::value& patch,
                             const WriteOptions& opts = {});
  // Deleting writes a tombstone version (nothing is erased). Deleting a deleted or unknown resource
  // is not an error (200, no new version).
  Result<WriteOutcome> Delete(const RequestContext& ctx, const std::string& type,
                              const std::string& id, const WriteOptions& opts = {});
  Result<WriteOutcome> ConditionalDelete(const RequestContext& ctx, const std::string& type,
                                         const Params& query);

  // kNotFound if it never existed; kGone if deleted.
  Result<store::VersionRecord> Read(const RequestContext& ctx, const std::string& type,
                                    const std::string& id);
  Result<store::VersionRecord> VRead(const RequestContext& ctx, const std::string& type,
                                     const std::string& id, int64_t version);
  Result<store::HistoryPage> History(const RequestContext& ctx, const store::HistoryQuery& q);
  Result<store::SearchResult> Search(const RequestContext& ctx, const std::string& type,
                                     const ParsedSearch& search);

  // The resources that the search's _include / _revinclude add to `matches` (no duplicates of
  // matches or of each other). Each is audited as a read. At most `limit` resources.
  Result<std::vector<store::VersionRecord>> ResolveIncludes(
      const RequestContext& ctx, const std::vector<store::VersionRecord>& matches,
      const std::vector<Include>& includes, size_t limit);
  // A compartment condition: references to compartment/id through any of the parameters the
  // R4 CompartmentDefinition lists for `type`. nullopt if `type` is not in that compartment.
  std::optional<store::Condition> CompartmentCondition(const std::string& compartment,
                                                       const std::string& id,
                                                       const std::string& type) const;
  // Patient/$everything: the patient and every resource in its compartment (up to max_page_size
  // of each type; `truncated` tells if a type had more).
  // Options of the R4 Patient-everything operation: `_type` (only these types; empty: all) and
  // `_since` (only resources updated at or after it; epoch µs, 0: all).
  struct EverythingOptions {
    std::vector<std::string> types;
    int64_t since_us = 0;
  };
  Result<std::vector<store::VersionRecord>> Everything(const RequestContext& ctx,
                                                       const std::string& id,
                                                       const EverythingOptions& opts,
                                                       bool* truncated);

  // Processes a batch or transaction Bundle; returns the response Bundle. A transaction is atomic:
  // on any error nothing is stored and the error is returned.
  Result<boost::json::object> ProcessBundle(const RequestContext& ctx, boost::json::value bundle,
                                            bool return_resources);

  // Adds a check run on every write (also when validate_on_write is off). Call before serving.
  void AddWriteCheck(std::shared_ptr<const WriteCheck> check) {
    checks_.push_back(std::move(check));
  }
  // The code hierarchies behind token :below / :above (the terminology layer). Call before
  // serving; without one those modifiers are refused (kNotSupported).
  void SetCodeHierarchy(std::shared_ptr<const CodeHierarchy> hierarchy) {
    hierarchy_ = std::move(hierarchy);
  }
  // The access policy every interaction passes (service/access_policy.h). Call before serving;
  // without one everything is allowed (imports, tests of other layers).
  void SetAccessPolicy(std::shared_ptr<const AccessPolicy> policy) { policy_ = std::move(policy); }
  const PatientCompartment& compartment() const { return compartment_; }

  // A security event that is not a resource interaction: "login", "login-failed", "logout",
  // "token-revoked"... (the authentication layer's). Audited like a read (batched, chained).
  void AuditSecurityEvent(const RequestContext& ctx, const char* action, int status,
                          std::string detail) {
    AuditRead(ctx, action, "", "", 0, status, std::move(detail));
  }

  const fhir::Definitions& defs() const { return *defs_; }
  const Config& config() const { return config_; }
  store::Store& store() { return store_; }
  // Bulk loads: writes wait (up to max_wait) until `min_group` are ready to share one commit
  // (store::GroupCommitter::SetMinGroup). 1 (the default) never waits.
  void SetWriteBatching(size_t min_group, std::chrono::milliseconds max_wait) {
    committer_.SetMinGroup(min_group, max_wait);
  }

 private:
  struct Prepared;
  struct BundleEntry;
  Status CheckResource(const boost::json::value& body, const std::string& type) const;
  Status Validate(const boost::json::value& body) const;
  // A new resource's stored JSON made before taking the write lock (version 1 is known in advance
  // for a new id): under the lock WriteVersion only overwrites its fixed-width lastUpdated text.
  struct Prestamped {
    std::string json;                // stamped with version 1 and a provisional lastUpdated
    size_t last_updated_offset = 0;  // where the lastUpdated text is, restamped under the lock
  };
  static Prestamped Prestamp(const boost::json::object& body, const std::string& id);
  Result<WriteOutcome> WriteVersion(store::Transaction& txn, const RequestContext& ctx,
                                    const std::string& type, const std::string& id,
                                    const boost::json::object& body,
                                    const fhir::IndexEntries& index,
                                    std::optional<int64_t> if_match, const std::string& method,
                                    const std::string& action, Prestamped* pre = nullptr);
  // Runs one unit of write work through the group committer and returns its outcome.
  Result<WriteOutcome> RunWrite(
      const std::function<Result<WriteOutcome>(store::Transaction&)>& work);
  // Writes a deletion (tombstone) version after `current_version`, with its audit row.
  Result<store::VersionRecord> WriteTombstone(store::Transaction& txn, const RequestContext& ctx,
                                              const std::string& type, const std::string& id,
                                              int64_t current_version, const std::string& detail);
  // What every query (search, conditional operation) needs before the store sees it: :below /
  // :above and :in / :not-in expanded into codes, alias parameters mapped to their sources.
  Status ResolveQuery(const std::string& type, store::Query& query) const;
  Result<std::vector<std::string>> FindIdsIn(store::Transaction& txn, const std::string& type,
                                             const Params& query);
  Result<boost::json::object> ProcessTransaction(const RequestContext& ctx,
                                                 boost::json::array& entries,
                                                 bool return_resources);
  Result<boost::json::object> ProcessBatch(const RequestContext& ctx, boost::json::array& entries,
                                           bool return_resources);
  void AuditRead(const RequestContext& ctx, const char* action, const std::string& type,
                 const std::string& id, int64_t version, int status, std::string detail = {},
                 std::string patient = {}, bool break_glass = false);
  // Policy gates (no policy: allowed). Type-level, then per resource (the decision names the
  // patient for the audit row whether or not a policy is set).
  Status CheckType(const RequestContext& ctx, Interaction i, const std::string& type) const;
  Status CheckPut(const RequestContext& ctx, const std::string& type) const;
  // `seq`: the stored version's change sequence when `json` is a stored version (its patients
  // are then remembered: versions_), else 0.
  AccessDecision CheckJson(const RequestContext& ctx, Interaction i, const std::string& type,
                           const std::string& id, const std::string& json, int64_t seq = 0) const;
  // The patients of stored version `seq` (from versions_, else scanned from `text` and kept).
  Result<std::vector<std::string>> PatientsOfVersion(const std::string& type,
                                                     const std::string& text, int64_t seq) const;
  AccessDecision CheckObject(const RequestContext& ctx, Interaction i, const std::string& type,
                             const boost::json::object& resource) const;
  bool Restricted(const RequestContext& ctx) const {
    return policy_ != nullptr && !policy_->Unrestricted(ctx);
  }
  // AuditEvent reads and searches are answered from the audit trail (audit_event rows).
  Result<store::SearchResult> SearchAuditTrail(const RequestContext& ctx,
                                               const store::Query& query);

  std::shared_ptr<const fhir::Definitions> defs_;
  store::Store& store_;
  const fhir::Validator& validator_;
  const fhir::Indexer& indexer_;
  AuditLog& audit_;
  const Config& config_;
  store::GroupCommitter committer_;  // all writes: concurrent requests share commits
  std::vector<std::shared_ptr<const WriteCheck>> checks_;
  std::shared_ptr<const CodeHierarchy> hierarchy_;
  std::shared_ptr<const AccessPolicy> policy_;
  PatientCompartment compartment_;
  mutable VersionPatients versions_;  // patients of stored versions, by seq (CheckJson)
};

// An audit row as a FHIR R4 AuditEvent (id "audit-<aid>"). `base` prefixes nothing today.
boost::json::object AuditEventOf(const store::AuditRow& row);

// Parses "a=b&c=d" (URL-encoded) into decoded pairs.
Params ParseQueryString(std::string_view qs);
// Encodes pairs back to a query string.
std::string EncodeQueryString(const Params& p);

}  // namespace benhan::service
