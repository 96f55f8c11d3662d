// InboundProcessor: what benhan does with one received HL7 v2 message, independent of transport
// (the MLLP listener calls it; tests call it directly).
//
// 1. Parse (Parse) and check the header: MSH-9, MSH-10, MSH-12 (2.1-2.8) and a mapping for the
//    event; failures give AR (unsupported) or AE (content) with ERR.
// 2. Duplicates: a message with the MSH-10 of one already stored from the same sender
//    (MSH-3/MSH-4) is not applied again; the stored outcome is acknowledged again. The check is
//    the raw message's own write (If-Match W/"0" on its Binary, in the message's transaction), so
//    it costs nothing for a new message and two copies arriving at once are applied once.
// 3. Map to FHIR (mapping.h) and write, through service::ResourceService, one transaction Bundle
//    holding the mapped resources AND the raw message as a Binary (id from sender + MSH-10,
//    contentType x-application/hl7-v2+er7, outcome in meta.tag). So the raw message and its effect
//    commit together, before the ACK is built: a crash after the commit loses nothing that was
//    ACKed, and a crash before it means no ACK was sent. If the transaction fails (validation), the
//    raw message is stored alone with its AE outcome and nothing else changes. "Committed" means
//    durable: the store returns only once the commit is synced (on SQLite the WAL's fdatasync
//    runs after the write lock is released and is shared by every commit made before it began,
//    store.h), and a duplicate's stored outcome is acknowledged only after Store::Flush.
// The raw store is the FHIR store itself, so it exists on SQLite and PostgreSQL alike without a
// schema change; `Binary?_tag=https://benhan.vn/hl7v2/ack|AE` lists the failed messages.
//
// Thread-safety: Handle is thread-safe (the service is). Ownership: borrows the service.
// Errors: none escape; every failure becomes the ACK's MSA-1/ERR (store unavailable: AE with
// code 207 and nothing stored, so the sender retries).
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "interop/hl7v2/ack.h"
#include "interop/hl7v2/mapping.h"
#include "service/resource_service.h"

namespace benhan::interop::hl7v2 {

inline constexpr const char* kAckTagSystem = "https://benhan.vn/hl7v2/ack";
inline constexpr const char* kEventTagSystem = "https://benhan.vn/hl7v2/event";
inline constexpr const char* kSenderTagSystem = "https://benhan.vn/hl7v2/sender";

struct InboundOptions {
  std::string application = "BENHAN";  // MSH-3 of our ACKs
  std::string facility;                // MSH-4 of our ACKs
  MappingOptions mapping;
  // Group commit across connections: while N messages are being processed, the store's group
  // committer waits up to this long for those of them not already waiting for their sync to share
  // one commit (ResourceService::SetWriteBatching); one message alone never waits. 0: no waiting
  // (each commit takes what is queued). Every writer of the service shares the setting while HL7
  // messages are in flight.
  std::chrono::milliseconds group_wait{2};
};

struct InboundOutcome {
  AckCode code = AckCode::kAccept;
  bool duplicate = false;
  std::optional<std::string> ack;  // nullopt: enhanced mode asked for no ACK
  std::string raw_id;              // Binary id of the stored raw message ("" if not stored)
};

class InboundProcessor {
 public:
  InboundProcessor(service::ResourceService& service, InboundOptions opts);
  InboundOutcome Handle(std::string_view raw, const std::string& remote);

 private:
  std::string NextControlId();
  // Counts the messages on their way to a commit and sets the group committer's minimum group.
  void WritingMessages(int delta);
  service::ResourceService& service_;
  InboundOptions opts_;
  std::atomic<uint64_t> counter_{0};
  std::mutex writing_mu_;
  int writing_ = 0;  // guarded by writing_mu_
};

}  // namespace benhan::interop::hl7v2
