// The app side of digitize/: the `benhan digitize` command and the HTTP operations of a running
// server (POST /fhir/DocumentReference/$digitize as an asynchronous job, the review queue),
// registered on FhirApi as extra operations (docs/digitize.md).
//
// Ownership: DigitizeHttp owns the coder, Digitizer, jobs and review service; it borrows the Node
// and must be destroyed before it (its destructor stops the job workers).
// Thread-safety: the handlers are thread-safe.
#pragma once

#include <memory>

#include "api/fhir_api.h"
#include "app/node.h"
#include "core/status.h"

namespace benhan::app {

// `benhan digitize ...`; argv[1] is "digitize". Exit status.
int DigitizeCmd(int argc, char** argv);

class DigitizeHttp {
 public:
  // Errors: kUnavailable when the Tesseract Vietnamese model is missing (the server then runs
  // without the digitize operations; the caller logs it).
  static Result<std::unique_ptr<DigitizeHttp>> Start(Node& node, api::FhirApi& api);
  ~DigitizeHttp();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace benhan::app
