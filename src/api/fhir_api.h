// FhirApi: the FHIR R4 REST interface at /fhir. Turns HTTP requests into ResourceService calls and
// their results into FHIR responses (resources, Bundles, OperationOutcomes); owns no business
// rules.
//
// Routes (the CapabilityStatement at /fhir/metadata is generated from this same table):
//   GET  /metadata                      capabilities (no authentication)
//   POST /                              batch / transaction Bundle
//   GET  /_history                      system history
//   GET  /{type}  POST /{type}/_search  search
//   POST /{type}                        create (If-None-Exist: conditional create)
//   PUT  /{type}?params                 conditional update;  DELETE /{type}?params conditional
//   delete GET  /{type}/_history               type history GET|PUT|PATCH|DELETE /{type}/{id} read,
//   update (or create with client id), JSON Patch, delete GET  /{type}/{id}/_history[/{vid}]
//   instance history, vread
//
// Thread-safety: Handle() is thread-safe.
#pragma once

#include <boost/json/value.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/http_server.h"
#include "security/auth.h"
#include "service/resource_service.h"
#include "terminology/terminology_service.h"

namespace benhan::api {

// One REST route: what FhirApi::Dispatch serves and /metadata advertises (one table, so the
// CapabilityStatement cannot drift from the code; tests/conformance checks each route answers).
struct Route {
  const char* method;       // "GET", "POST"...
  const char* path;         // pattern: "/{type}/{id}/_history/{vid}"
  const char* interaction;  // CapabilityStatement interaction code ("vread"), "" for none
  bool system_level;        // a system interaction (rest.interaction) rather than per resource type
};
const std::vector<Route>& Routes();

class FhirApi {
 public:
  FhirApi(service::ResourceService& service, const security::Authenticator& auth,
          std::string software_version);

  // Serves the terminology operations ($expand, $validate-code, $lookup, $translate on
  // ValueSet, CodeSystem and ConceptMap, type and instance level, GET or POST Parameters) from
  // `terminology` (borrowed; must outlive this). Without it those operations are 404.
  void SetTerminology(terminology::TerminologyService* terminology) { terminology_ = terminology; }
  // An operation served by another layer (digitize/, wired in app/): its handler is tried before
  // the built-in routes (after authentication) and returns false when the request is not its
  // own (an entry without a handler is only listed); it is listed in the CapabilityStatement
  // under `type`. Add before serving.
  struct Operation {
    std::string type;  // resource type it is listed under ("DocumentReference")
    std::string name;  // "digitize"
    std::string definition;
    std::string documentation;
    std::function<bool(const HttpRequest&, HttpResponse&, const std::vector<std::string>& parts,
                       const service::RequestContext&)>
        handler;
  };
  void AddOperation(Operation op) { operations_.push_back(std::move(op)); }
  // Handles a request whose path starts with /fhir.
  void Handle(const HttpRequest& req, HttpResponse& res);
  // An OperationOutcome response for a protocol-level error.
  static HttpResponse ErrorResponse(int http_status, const std::string& message);

 private:
  void Dispatch(const HttpRequest& req, HttpResponse& res, const service::RequestContext& ctx);
  std::string BaseUrl(const HttpRequest& req) const;
  // A terminology operation (/{CodeSystem|ValueSet|ConceptMap}[/{id}]/${op}); false if `parts`
  // is not one.
  bool HandleTerminology(const HttpRequest& req, HttpResponse& res,
                         const std::vector<std::string>& parts, bool pretty);
  const std::string& CapabilityStatement();

  service::ResourceService& service_;
  const security::Authenticator& auth_;
  terminology::TerminologyService* terminology_ = nullptr;
  std::vector<Operation> operations_;
  std::string version_;
  std::once_flag cap_once_;
  std::string cap_json_;
};

}  // namespace benhan::api
