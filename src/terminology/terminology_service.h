// TerminologyService: the FHIR terminology operations ($expand, $validate-code, $lookup,
// $translate) over the CodeSystem, ValueSet and ConceptMap resources stored on this server, plus
// the built-in ICD-10 starter set. Stored resources are read through the Store at Load() and kept
// in memory with an autocomplete index per code system version (terminology/concept_index.h);
// writes of terminology resources (NoteWrite, called by the write check) make the next operations
// reload them.
//
// Versions of a code system are kept side by side: an operation picks the one named by `version`
// (or `system-version`), else the one in force on `date` (the benhan valid-period extension),
// else the newest stored version in force today, else the built-in starter set.
//
// Thread-safety: all methods are thread-safe. Ownership: borrows the Store, which must outlive it.
// Errors: kInvalid (missing or bad parameters), kNotFound (unknown code system, value set or
// concept map), kNotSupported (value set composes this server cannot expand), store errors from
// Load().
#pragma once

#include <atomic>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"
#include "store/store.h"
#include "terminology/code_system.h"

namespace benhan::terminology {

using OpParams = std::vector<std::pair<std::string, std::string>>;

class TerminologyService {
 public:
  explicit TerminologyService(store::Store& store);
  ~TerminologyService();

  // (Re)reads every stored CodeSystem, ValueSet and ConceptMap and rebuilds their indexes.
  Status Load();
  // A CodeSystem/ValueSet/ConceptMap is being written: reload before the next operations.
  void NoteWrite();
  // Reloads if a terminology write was noted since the last load (the operations call it; callers
  // of Resolve that must see the latest writes too).
  void Refresh() { MaybeReload(); }

  // The version of `url` to use (see the header comment); nullptr if none.
  std::shared_ptr<const CodeSystemVersion> Resolve(const std::string& url,
                                                   const std::string& version = {},
                                                   const std::string& date = {}) const;
  // Every loaded version of `url`, builtin included.
  std::vector<std::shared_ptr<const CodeSystemVersion>> Versions(const std::string& url) const;

  // The operations. `params` are the operation's parameters (query string, or a Parameters body
  // through ParamsFromBody); `instance_id` is the id of /ValueSet/{id}/$expand and the like.
  // Each returns the response resource (ValueSet or Parameters).
  Result<boost::json::object> Expand(const OpParams& params, const std::string& instance_id = {});
  // `type` is "CodeSystem" or "ValueSet".
  Result<boost::json::object> ValidateCode(const std::string& type, const OpParams& params,
                                           const std::string& instance_id = {});
  Result<boost::json::object> Lookup(const OpParams& params, const std::string& instance_id = {});
  Result<boost::json::object> Translate(const OpParams& params,
                                        const std::string& instance_id = {});

  // What the loaded ConceptMaps (built-in ones included) map (system, code) to, optionally only
  // into `target_system`.
  struct MapTarget {
    std::string system, code, display, equivalence;
  };
  std::vector<MapTarget> MapCode(const std::string& system, const std::string& code,
                                 const std::string& target_system = {}) const;
  struct ConceptMapDef;  // a loaded ConceptMap (defined in the .cc)

  // A Parameters resource as operation parameters (valueX as text; a Coding gives system, code,
  // version, display). kInvalid if it is not a Parameters resource.
  static Result<OpParams> ParamsFromBody(const boost::json::value& body);

 private:
  struct ValueSetDef;
  struct Expansion;
  void MaybeReload();
  std::shared_ptr<const ValueSetDef> FindValueSet(const std::string& url,
                                                  const std::string& id) const;
  Result<std::shared_ptr<const Expansion>> ExpandDef(const ValueSetDef& vs,
                                                     const std::string& date);

  store::Store& store_;
  mutable std::mutex mu_;
  std::map<std::string, std::vector<std::shared_ptr<const CodeSystemVersion>>> systems_;  // by url
  std::vector<std::shared_ptr<const ValueSetDef>> value_sets_;
  std::vector<std::shared_ptr<const ConceptMapDef>> concept_maps_;
  std::map<std::string, std::shared_ptr<const Expansion>> expansion_cache_;
  std::atomic<int64_t> noted_us_{0};
  std::atomic<int64_t> loaded_us_{0};
  std::atomic<int64_t> checked_us_{0};  // last look for changes in the 2 s after a noted write
  std::mutex load_mu_;
};

}  // namespace benhan::terminology
