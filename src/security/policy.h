// Access policy (service/access_policy.h implemented): who may do what to which patient's records.
//
// Data-driven: roles, their permissions per resource type and interaction (technical guide 365's
// view / create / edit / cancel / restore), which patients they reach (all, department, care,
// own), their working hours and break-the-glass right come from a JSON file (config/policy.json,
// built in; `security.policy: FILE` replaces it). On top of the roles:
//  - SMART scopes: a token that carries scopes (OAuth2) may only do what some scope grants
//    (v1 read/write/*, v2 c r u d s letters; patient/ user/ system/; a type or *). A token with
//    only patient/ scopes, or the role "patient", sees only its patient context's compartment.
//    Scopes with a v2 query restriction ("?category=...") grant nothing (not interpreted yet).
//  - care relationships: see config/policy.json ("patients"), computed from Encounter,
//    EpisodeOfCare and CareTeam resources and cached for 10 s (dropped at once when one of them
//    is written through this server).
//  - Consent: an active Consent whose top-level provision.type is "deny" forbids access to the
//    patient's records to the actors it lists (provision.actor: Practitioner or Organization
//    references; none: everyone), except actors of a nested provision of type "permit", the
//    patient themself and break-the-glass; provision.period bounds it.
//  - break-the-glass: a role with "break_glass": true that sends "X-Break-Glass: <reason>" (at
//    least break_glass_min_reason characters) reaches one patient outside its care or behind a
//    Consent for break_glass_minutes; the opening is an audit row of its own (action
//    "break-glass"), and every access through it is flagged "btg" for review.
// Administrator tokens and demo mode (Principal::all_access) are not restricted, nor are the
// server's own jobs (a context without an authenticated Principal: import, HL7 v2, outbox).
//
// Thread-safety: all methods are safe from any thread. The care sets and the Consent rules are
// immutable snapshots, published under a mutex and kept per thread, so a request checks them
// without a lock or a shared reference count: a thread takes the shared snapshot again only when
// its own is older than 10 s or a write bumped the generation. Errors: kForbidden
// with a Vietnamese, then English reason; Load: kInvalid naming what is wrong in the file.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <boost/container/small_vector.hpp>

#include "core/clock.h"
#include "fhir/definitions.h"
#include "service/access_policy.h"
#include "service/audit_log.h"
#include "service/resource_service.h"
#include "store/store.h"

namespace benhan::security {

// The built-in policy (config/policy.json at build time).
const std::string& BuiltinPolicyJson();

class Policy final : public service::AccessPolicy {
 public:
  enum Perm : unsigned { kView = 1, kCreate = 2, kEdit = 4, kCancel = 8, kRestore = 16 };
  enum class Patients { kAll, kDepartment, kCare, kOwn };
  struct Role {
    std::string name;
    Patients patients = Patients::kAll;
    std::map<std::string, unsigned> perms;  // type or "*" -> Perm bits
    int start_min = 0, end_min = 24 * 60;   // local minutes [start, end)
    unsigned days = 0x7f;                   // bit 0 = Monday ... bit 6 = Sunday
    bool break_glass = false;
    unsigned PermsFor(const std::string& type) const;
  };

  // Parses the policy JSON. `store`, `defs`, `audit` and `clock` must outlive the policy.
  static Result<std::shared_ptr<Policy>> Load(const std::string& json_text, store::Store& store,
                                              std::shared_ptr<const fhir::Definitions> defs,
                                              service::AuditLog& audit,
                                              const Clock& clock = SystemClock());

  Status CheckType(const service::RequestContext& ctx, service::Interaction i,
                   const std::string& type) const override;
  service::AccessDecision CheckResource(const service::RequestContext& ctx, service::Interaction i,
                                        const std::string& type,
                                        const boost::json::object& resource) const override;
  service::AccessDecision CheckPatients(const service::RequestContext& ctx, service::Interaction i,
                                        const std::string& type,
                                        std::vector<std::string> patients) const override;
  Status RestrictSearch(const service::RequestContext& ctx, const std::string& type,
                        store::Query& query) const override;
  bool Unrestricted(const service::RequestContext& ctx) const override;
  void OnWrite(const std::string& type) const override;

  const std::map<std::string, Role>& roles() const { return roles_; }
  static unsigned PermOf(service::Interaction i);

 private:
  using PatientSet = std::unordered_set<std::string>;
  using RoleList = boost::container::small_vector<const Role*, 4>;
  struct ConsentRule {
    std::set<std::string> actors;      // empty: everyone
    std::set<std::string> permitted;   // nested permit provisions' actors
    int64_t start_us = 0, end_us = 0;  // 0: open
  };
  // Immutable once published.
  struct CareEntry {
    uint64_t generation = 0;
    int64_t at_us = 0;
    std::string practitioner, department;  // the key ("" department unless reach kDepartment)
    PatientSet patients;
  };
  struct ConsentSnapshot {
    uint64_t generation = 0;
    int64_t at_us = 0;
    std::unordered_multimap<std::string, ConsentRule> rules;  // patient id -> deny rules
  };
  struct ThreadCache;  // policy.cc: this thread's copies of the snapshots

  Policy(store::Store& store, std::shared_ptr<const fhir::Definitions> defs,
         service::AuditLog& audit, const Clock& clock);
  ThreadCache& Cache() const;
  // The widest patient reach of the principal (kAll for all_access).
  Patients ReachOf(const Principal& who) const;
  RoleList RolesOf(const Principal& who) const;
  // Patients under the principal's care (or department), cached. The set is owned by this
  // thread's cache: valid until the next CareSet call on the same thread.
  const PatientSet* CareSet(const Principal& who, Patients reach) const;
  std::shared_ptr<const CareEntry> ComputeCare(const std::string& practitioner,
                                               const std::string& department, uint64_t gen,
                                               int64_t now) const;
  // The active deny Consents; owned by this thread's cache: valid until the next Consents call
  // on the same thread.
  const ConsentSnapshot& Consents() const;
  std::shared_ptr<const ConsentSnapshot> LoadConsents(uint64_t gen, int64_t now) const;
  // Patient ids with a Consent denying this principal.
  std::set<std::string> DeniedPatients(const Principal& who) const;
  bool ConsentDenies(const Principal& who, const std::string& patient) const;
  bool ConsentDeniesIn(const ConsentSnapshot& c, const Principal& who,
                       const std::string& patient) const;
  bool BreakGlassOpen(const Principal& who, const std::string& patient) const;
  std::set<std::string> BreakGlassPatients(const Principal& who) const;
  std::optional<store::Condition> CompartmentCondition(const std::string& type,
                                                       const std::vector<std::string>& ids) const;

  store::Store& store_;
  std::shared_ptr<const fhir::Definitions> defs_;
  service::PatientCompartment compartment_;
  service::AuditLog& audit_;
  const Clock& clock_;
  std::map<std::string, Role> roles_;
  int utc_offset_min_ = 7 * 60;
  int break_glass_seconds_ = 3600;
  size_t break_glass_min_reason_ = 10;

  const uint64_t instance_;  // tells this policy's entries apart in the per-thread caches
  mutable std::atomic<uint64_t> generation_{1};  // bumped by OnWrite of care / consent resources
  mutable std::mutex mu_;                        // care_, consents_, glass_
  mutable std::mutex refresh_mu_;  // one care set / Consent load at a time: others wait for it
  mutable std::map<std::pair<std::string, std::string>, std::shared_ptr<const CareEntry>> care_;
  mutable std::shared_ptr<const ConsentSnapshot> consents_;
  mutable std::map<std::pair<std::string, std::string>, int64_t> glass_;  // (who, patient)->until
};

}  // namespace benhan::security
