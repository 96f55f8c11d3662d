// Outbound orders: OML^O21 (or ORM^O01) to a lab system over MLLP, from a persistent outbox.
//
// The outbox is FHIR Task resources (so it lives in the same store on SQLite and PostgreSQL, with
// history and audit): Enqueue() builds the message from the ServiceRequest and its Patient and
// stores it in a Task (status requested, code https://benhan.vn/hl7v2/task|send, focus the
// ServiceRequest, input the message, owner the destination). RunOnce() sends every requested Task
// in order, waits for the ACK and records it: AA/CA -> Task completed; AE/AR/CE/CR -> failed, with
// the ERR text in businessStatus; no answer (connection refused, timeout) -> stays requested with
// the attempt count and error in businessStatus, retried on the next RunOnce. The status is
// visible through FHIR: Task?focus=ServiceRequest/ID.
//
// OutboxWorker runs it in `benhan serve` (hl7v2.lab_destination): every second it enqueues the
// active ServiceRequests written since it last looked (REST, UI, import; not those that came in
// over HL7 v2) that have no send Task yet, then calls RunOnce.
// Thread-safety: RunOnce from one thread at a time; Enqueue is thread-safe.
// Errors: Enqueue: kNotFound (ServiceRequest or Patient), service errors. RunOnce: only store
// errors (a send failure is recorded on the Task, not returned).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "core/status.h"
#include "service/resource_service.h"

namespace boost::asio::ssl {
class context;
}

namespace benhan::interop::hl7v2 {

struct Destination {
  std::string name;      // Task.owner display, MSH-5 (receiving application)
  std::string facility;  // MSH-6
  std::string host;
  uint16_t port = 0;
  bool orm = false;  // ORM^O01 instead of OML^O21
  std::chrono::milliseconds ack_timeout{10000};
  // Set: MLLP over TLS (core/tls.h MakeClientContext), the lab's certificate checked against
  // `host`.
  std::shared_ptr<boost::asio::ssl::context> tls;
};

class Outbox {
 public:
  Outbox(service::ResourceService& service, Destination dest, std::string sending_facility = {});
  // Queues the order ServiceRequest/`service_request_id`; returns the Task id.
  Result<std::string> Enqueue(const std::string& service_request_id);
  // Sends what is queued. Returns the number of Tasks whose ACK was received.
  Result<int> RunOnce();

 private:
  service::ResourceService& service_;
  Destination dest_;
  std::string facility_;
};

// The background loop of an Outbox. Start/Stop from one thread; Stop joins.
class OutboxWorker {
 public:
  OutboxWorker(service::ResourceService& service, Destination dest, std::string facility,
               std::chrono::milliseconds period = std::chrono::seconds(1));
  ~OutboxWorker();
  void Start();
  void Stop();
  // One pass: enqueue new ServiceRequests, send. Returns the number enqueued.
  Result<int> Poll();

 private:
  service::ResourceService& service_;
  Outbox outbox_;
  std::string dest_name_;
  std::chrono::milliseconds period_;
  std::string since_;  // _lastUpdated of the newest ServiceRequest seen
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

// Parses "NAME@HOST:PORT" (hl7v2.lab_destination). False if malformed.
bool ParseDestination(const std::string& spec, Destination* out);

// Sends one framed message and returns the ACK (unframed). kUnavailable on connection errors
// (with `tls`: also a failed handshake or a certificate that does not verify for `host`),
// kTimeout without an answer.
Result<std::string> MllpSend(const std::string& host, uint16_t port, const std::string& message,
                             std::chrono::milliseconds timeout,
                             const std::shared_ptr<boost::asio::ssl::context>& tls = nullptr);

}  // namespace benhan::interop::hl7v2
