#include "interop/hl7v2/mllp.h"

namespace benhan::interop::hl7v2 {

std::string MllpFrame(std::string_view message) {
  std::string out;
  out.reserve(message.size() + 3);
  out += kMllpStart;
  out.append(message);
  out += kMllpEnd;
  out += kMllpCr;
  return out;
}

void MllpDecoder::Feed(std::string_view bytes, std::vector<Event>* out) {
  size_t i = 0;
  auto report_junk = [&] {
    if (junk_) {
      out->push_back({true, std::to_string(junk_) + " byte(s) outside an MLLP frame ignored"});
      junk_ = 0;
    }
  };
  while (i < bytes.size()) {
    switch (state_) {
      case State::kAfterEnd:
        // <FS> must be followed by <CR>; tolerate its absence (the frame is complete anyway).
        state_ = State::kOutside;
        if (bytes[i] == kMllpCr) ++i;
        break;
      case State::kOutside:
      case State::kSkipping: {
        size_t vt = bytes.find(kMllpStart, i);
        size_t stop = vt == std::string_view::npos ? bytes.size() : vt;
        if (state_ == State::kOutside) {
          // Whitespace between frames (some peers send "\n" after <CR>) is not an error.
          for (size_t k = i; k < stop; ++k)
            if (bytes[k] != '\r' && bytes[k] != '\n' && bytes[k] != ' ') ++junk_;
        }
        i = stop;
        if (vt != std::string_view::npos) {
          report_junk();
          state_ = State::kInside;
          buf_.clear();
          ++i;
        }
        break;
      }
      case State::kInside: {
        size_t special = bytes.find_first_of(std::string_view("\x0B\x1C", 2), i);
        size_t stop = special == std::string_view::npos ? bytes.size() : special;
        if (buf_.size() + (stop - i) > max_) {
          out->push_back(
              {true, "MLLP frame larger than " + std::to_string(max_) + " bytes: dropped"});
          buf_.clear();
          buf_.shrink_to_fit();
          state_ = State::kSkipping;
          i = stop;
          break;
        }
        buf_.append(bytes.substr(i, stop - i));
        i = stop;
        if (special == std::string_view::npos) break;
        if (bytes[special] == kMllpStart) {
          out->push_back(
              {true, "MLLP frame of " + std::to_string(buf_.size()) +
                         " byte(s) not ended by <FS><CR> before the next <VT>: dropped"});
          buf_.clear();
          ++i;  // stays inside the new frame
        } else {
          out->push_back({false, std::move(buf_)});
          buf_.clear();
          state_ = State::kAfterEnd;
          ++i;
        }
        break;
      }
    }
  }
}

}  // namespace benhan::interop::hl7v2
