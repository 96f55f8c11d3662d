// MLLP (Minimal Lower Layer Protocol) framing: <VT> message <FS><CR>.
//
// MllpDecoder takes bytes as they arrive (any split: partial reads are normal) and yields whole
// messages and framing errors: bytes outside a frame, a frame larger than the limit, a new <VT>
// inside a frame. After an error it resynchronises on the next <VT>.
// Thread-safety: one decoder per connection; not thread-safe. No errors are thrown.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace benhan::interop::hl7v2 {

inline constexpr char kMllpStart = '\x0B';
inline constexpr char kMllpEnd = '\x1C';
inline constexpr char kMllpCr = '\x0D';

// Wraps one message in an MLLP frame.
std::string MllpFrame(std::string_view message);

class MllpDecoder {
 public:
  struct Event {
    bool is_error = false;
    std::string data;  // the message, or a description of the framing error
  };
  explicit MllpDecoder(size_t max_message_bytes = 16u << 20) : max_(max_message_bytes) {}
  // Consumes `bytes`, appending complete messages and errors to `out` in order.
  void Feed(std::string_view bytes, std::vector<Event>* out);
  // True when no frame is half received.
  bool idle() const { return state_ == State::kOutside; }

 private:
  enum class State { kOutside, kInside, kAfterEnd, kSkipping };
  State state_ = State::kOutside;
  size_t max_;
  std::string buf_;
  size_t junk_ = 0;  // bytes seen outside frames since the last report
};

}  // namespace benhan::interop::hl7v2
