// Acknowledgements (ACK messages) for received HL7 v2 messages.
//
// Original mode (MSH-15 empty): MSA-1 is AA (applied), AE (error in the content: nothing applied)
// or AR (rejected: unsupported type, version or processing id, or unreadable). Enhanced mode
// (MSH-15 set): benhan answers on the same connection with the accept acknowledgement CA/CE/CR,
// sent or not as MSH-15 asks (AL, NE, ER, SU); the application outcome is stored with the message.
// Each error becomes an ERR segment naming segment, sequence and field (ERR-2, v2.5+; ERR-1 before
// 2.5), the HL7 table 0357 code and a reason, Vietnamese first then English.
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "interop/hl7v2/message.h"

namespace benhan::interop::hl7v2 {

enum class AckCode { kAccept, kError, kReject };

struct AckError {
  std::string location;  // ERL: "PID^1^3" (segment^sequence^field[^rep^component]); may be empty
  std::string code = "207";  // HL7 table 0357: 100..207
  std::string text;          // the reason, for people
};

struct AckOptions {
  std::string sending_application = "BENHAN";
  std::string sending_facility;
  std::string control_id;  // MSH-10 of the ACK
  std::string timestamp;   // MSH-7, "YYYYMMDDHHMMSS+0700"
};

// The ACK to send for `in` (whose MSH may be all that could be read), or nullopt when enhanced
// mode says none is wanted. The ACK is UTF-8 (MSH-18 "UNICODE UTF-8" when the input named a set).
std::optional<std::string> BuildAck(const Message& in, AckCode code,
                                    const std::vector<AckError>& errors, const AckOptions& opts);

// Reads just the MSH of a message that did not parse (for MSA-2 and routing): never fails; the
// result may have no segments.
Message SalvageHeader(std::string_view bytes);

// The HL7 table 0357 code and a description for a Status from the parser or mappers:
// kNotSupported -> 200 "Unsupported message type", kRequired -> 101, kValue/kCodeInvalid ->
// 102/103, kInvalid/kStructure -> 100 "Segment sequence error" or 102, others -> 207.
AckError AckErrorOf(const Status& status);

// The text of a table 0357 code ("Required field missing").
std::string_view Hl7ErrorText(std::string_view code);

}  // namespace benhan::interop::hl7v2
