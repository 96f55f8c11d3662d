// Fuzz target for the HL7 v2 interface's handling of bytes from the network (interop/hl7v2/):
// the input is fed to the MLLP decoder in chunks whose sizes come from the first byte; every
// message it yields (and the whole input as one message) is parsed, written back and parsed again,
// and an ACK is built for it (or for its salvaged header when it does not parse). Any input must
// give messages or Statuses, never a crash.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "interop/hl7v2/ack.h"
#include "interop/hl7v2/message.h"
#include "interop/hl7v2/mllp.h"

namespace {

void ParseOne(std::string_view bytes) {
  using namespace benhan::interop::hl7v2;
  AckOptions o;
  // Not `= "F"`: GCC 12 warns -Wrestrict on that assignment under ASan (a false positive, GCC PR
  // 105329).
  o.control_id = std::string(1, 'F');
  auto m = Parse(bytes);
  if (!m.ok()) {
    (void)BuildAck(SalvageHeader(bytes), AckCode::kReject, {AckErrorOf(m.status())}, o);
    return;
  }
  std::string out = Encode(*m);
  auto again = Parse(out);
  if (again.ok()) (void)Encode(*again);
  (void)BuildAck(*m, AckCode::kAccept, {}, o);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace benhan::interop::hl7v2;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  ParseOne(in);
  size_t chunk = size ? (static_cast<unsigned char>(in[0]) % 17) + 1 : 1;
  MllpDecoder decoder(4096);
  std::vector<MllpDecoder::Event> events;
  for (size_t i = 0; i < in.size(); i += chunk) decoder.Feed(in.substr(i, chunk), &events);
  for (const auto& e : events)
    if (!e.is_error) ParseOne(e.data);
  return 0;
}
