// Digitization as stored records and as asynchronous jobs.
//
// DigitizeAndStore: a scan -> Digitizer -> draft Bundle -> one transaction through the
// ResourceService (validated and audited; all or nothing). The patient must exist.
// DigitizeJobs: a bounded queue and worker threads running DigitizeAndStore, with progress per
// job (pages done / total) — behind POST /fhir/DocumentReference/$digitize.
//
// Ownership: DigitizeJobs borrows the Digitizer and the ResourceService (must outlive it); its
// destructor stops the workers (a running job finishes its current page, queued jobs fail with
// "cancelled"). Thread-safety: all methods are thread-safe.
// Errors: Submit gives kTooManyRequests when the queue is full; job errors are those of
// DigitizeAndStore (kNotFound for an unknown patient, the Digitizer's, the service's).
#pragma once

#include <boost/json/object.hpp>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "digitize/digitizer.h"
#include "digitize/fhir_drafts.h"
#include "service/resource_service.h"

namespace benhan::digitize {

struct DigitizeOutcome {
  std::string document_id;
  int pages = 0;
  DraftCounts counts;
  std::vector<std::string> warnings;
  double ocr_confidence = 0;
  // A Parameters resource saying the above (the job's result).
  boost::json::object ToParameters() const;
};

Result<DigitizeOutcome> DigitizeAndStore(Digitizer& digitizer, service::ResourceService& service,
                                         const service::RequestContext& ctx, std::string bytes,
                                         const std::string& filename, const std::string& patient_id,
                                         const Digitizer::Progress& progress = {});

struct JobStatus {
  std::string id;
  std::string state;  // "queued", "running", "completed", "failed"
  int pages_done = 0, pages_total = 0;
  Status error;                            // when failed
  std::optional<DigitizeOutcome> outcome;  // when completed
};

class DigitizeJobs {
 public:
  DigitizeJobs(Digitizer& digitizer, service::ResourceService& service, int workers,
               size_t max_queued);
  ~DigitizeJobs();

  Result<std::string> Submit(const service::RequestContext& ctx, std::string bytes,
                             std::string filename, std::string patient_id);
  std::optional<JobStatus> Get(const std::string& id) const;

 private:
  struct Job;
  void Work();

  Digitizer& digitizer_;
  service::ResourceService& service_;
  size_t max_queued_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::deque<std::shared_ptr<Job>> queue_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;  // the last ~1000 are kept
  std::deque<std::string> order_;
  std::vector<std::thread> workers_;
};

}  // namespace benhan::digitize
