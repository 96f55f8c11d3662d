#include "digitize/jobs.h"

#include <boost/json.hpp>
#include <chrono>
#include <cmath>

#include "core/clock.h"
#include "core/ids.h"
#include "core/log.h"

namespace benhan::digitize {

namespace json = boost::json;

json::object DigitizeOutcome::ToParameters() const {
  json::array params{
      json::object{
          {"name", "document"},
          {"valueReference", json::object{{"reference", "DocumentReference/" + document_id}}}},
      json::object{{"name", "pages"}, {"valueInteger", pages}},
      json::object{{"name", "ocrConfidence"}, {"valueDecimal", std::round(ocr_confidence) / 100.0}},
      json::object{{"name", "conditions"}, {"valueInteger", counts.conditions}},
      json::object{{"name", "observations"}, {"valueInteger", counts.observations}},
      json::object{{"name", "medications"}, {"valueInteger", counts.medications}}};
  for (const auto& w : warnings)
    params.push_back(json::object{{"name", "warning"}, {"valueString", w}});
  return json::object{{"resourceType", "Parameters"}, {"parameter", std::move(params)}};
}

Result<DigitizeOutcome> DigitizeAndStore(Digitizer& digitizer, service::ResourceService& service,
                                         const service::RequestContext& ctx, std::string bytes,
                                         const std::string& filename, const std::string& patient_id,
                                         const Digitizer::Progress& progress) {
  if (patient_id.empty()) {
    return Status(Code::kRequired, "Cần chỉ định bệnh nhân (--patient / parameter 'patient')");
  }
  {
    auto p = service.Read(ctx, "Patient", patient_id);
    if (!p.ok()) {
      Status st(p.status().code(), "Không tìm thấy bệnh nhân Patient/" + patient_id + " (" +
                                       p.status().message() + ")");
      return st;
    }
  }
  ASSIGN_OR_RETURN(RecognizedDocument doc, digitizer.Recognize(std::move(bytes), progress));
  doc.filename = filename;
  ASSIGN_OR_RETURN(ExtractionDoc ex, digitizer.Extract(doc));
  DraftOptions opts;
  opts.patient_id = patient_id;
  opts.now = FormatInstant(std::chrono::duration_cast<std::chrono::microseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count());
  DigitizeOutcome out;
  json::object bundle = BuildDraftBundle(doc, ex, opts, &out.document_id, &out.counts);
  ASSIGN_OR_RETURN(auto resp, service.ProcessBundle(ctx, json::value(std::move(bundle)), false));
  (void)resp;
  out.pages = static_cast<int>(doc.pages.size());
  out.warnings = doc.warnings;
  out.ocr_confidence = doc.mean_confidence;
  return out;
}

struct DigitizeJobs::Job {
  std::string id;
  service::RequestContext ctx;
  std::string bytes, filename, patient_id;
  std::atomic<int> done{0}, total{0};
  std::string state = "queued";  // under mu_
  Status error;
  std::optional<DigitizeOutcome> outcome;
};

DigitizeJobs::DigitizeJobs(Digitizer& digitizer, service::ResourceService& service, int workers,
                           size_t max_queued)
    : digitizer_(digitizer), service_(service), max_queued_(max_queued) {
  for (int i = 0; i < std::max(1, workers); ++i) workers_.emplace_back([this] { Work(); });
}

DigitizeJobs::~DigitizeJobs() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

Result<std::string> DigitizeJobs::Submit(const service::RequestContext& ctx, std::string bytes,
                                         std::string filename, std::string patient_id) {
  auto job = std::make_shared<Job>();
  job->id = RandomHex(8);
  job->ctx = ctx;
  job->bytes = std::move(bytes);
  job->filename = std::move(filename);
  job->patient_id = std::move(patient_id);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() >= max_queued_) {
      return Status(Code::kTooManyRequests,
                    "Hàng đợi số hoá đầy (" + std::to_string(max_queued_) +
                        " tài liệu); hãy thử lại sau (digitize queue full)");
    }
    queue_.push_back(job);
    jobs_[job->id] = job;
    order_.push_back(job->id);
    while (order_.size() > 1000) {
      auto old = jobs_.find(order_.front());
      if (old != jobs_.end() &&
          (old->second->state == "completed" || old->second->state == "failed"))
        jobs_.erase(old);
      order_.pop_front();
    }
  }
  cv_.notify_one();
  return job->id;
}

std::optional<JobStatus> DigitizeJobs::Get(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return std::nullopt;
  const Job& j = *it->second;
  JobStatus s;
  s.id = j.id;
  s.state = j.state;
  s.pages_done = j.done.load();
  s.pages_total = j.total.load();
  s.error = j.error;
  s.outcome = j.outcome;
  return s;
}

void DigitizeJobs::Work() {
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) {
        for (auto& q : queue_) {
          q->state = "failed";
          q->error =
              Status(Code::kUnavailable, "Máy chủ dừng, tài liệu chưa được xử lý (cancelled)");
        }
        queue_.clear();
        return;
      }
      job = queue_.front();
      queue_.pop_front();
      job->state = "running";
    }
    auto progress = [&](int done, int total) {
      job->done = done;
      job->total = total;
      std::lock_guard<std::mutex> lock(mu_);
      return !stop_;
    };
    auto r = DigitizeAndStore(digitizer_, service_, job->ctx, std::move(job->bytes), job->filename,
                              job->patient_id, progress);
    std::lock_guard<std::mutex> lock(mu_);
    job->bytes.clear();
    if (r.ok()) {
      job->state = "completed";
      job->outcome = std::move(*r);
    } else {
      job->state = "failed";
      job->error = r.status();
    }
  }
}

}  // namespace benhan::digitize
