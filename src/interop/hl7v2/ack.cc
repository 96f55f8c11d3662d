#include "interop/hl7v2/ack.h"

#include <cstdlib>

namespace benhan::interop::hl7v2 {

std::string_view Hl7ErrorText(std::string_view code) {
  if (code == "0") return "Message accepted";
  if (code == "100") return "Segment sequence error";
  if (code == "101") return "Required field missing";
  if (code == "102") return "Data type error";
  if (code == "103") return "Table value not found";
  if (code == "200") return "Unsupported message type";
  if (code == "201") return "Unsupported event code";
  if (code == "202") return "Unsupported processing id";
  if (code == "203") return "Unsupported version id";
  if (code == "204") return "Unknown key identifier";
  if (code == "205") return "Duplicate key identifier";
  if (code == "206") return "Application record locked";
  return "Application internal error";
}

AckError AckErrorOf(const Status& status) {
  AckError e;
  e.location = status.issues().empty() ? "" : status.issues().front().expression;
  switch (status.code()) {
    case Code::kNotSupported:
      e.code = e.location == "MSH^1^9^1^2" ? "201" : "200";
      break;
    case Code::kRequired:
      e.code = "101";
      break;
    case Code::kValue:
      e.code = "102";
      break;
    case Code::kCodeInvalid:
      e.code = "103";
      break;
    case Code::kInvalid:
    case Code::kStructure:
      e.code = "100";
      break;
    case Code::kNotFound:
      e.code = "204";
      break;
    case Code::kConflict:
    case Code::kPreconditionFailed:
      e.code = "206";
      break;
    default:
      e.code = "207";
      break;
  }
  e.text = std::string(VietnameseTextOf(status.code())) + " / " + status.message();
  return e;
}

Message SalvageHeader(std::string_view bytes) {
  Message m;
  if (bytes.substr(0, 3) == "\xEF\xBB\xBF") bytes.remove_prefix(3);
  size_t start = bytes.find("MSH");
  if (start == std::string_view::npos || start + 8 > bytes.size()) return m;
  std::string_view line = bytes.substr(start);
  line = line.substr(0, line.find_first_of("\r\n"));
  // Parse only the MSH line; if even that fails, keep what splitting by the separator gives.
  auto parsed = Parse(line);
  if (parsed.ok()) return std::move(parsed).value();
  Segment msh;
  msh.id = "MSH";
  msh.fields.resize(3);
  char sep = line[3];
  size_t pos = 4, n = 2;
  while (pos <= line.size()) {
    size_t end = line.find(sep, pos);
    std::string_view v = line.substr(pos, end == std::string_view::npos ? end : end - pos);
    if (n >= 3) {
      // Only printable ASCII survives, first component (split on the usual '^').
      std::string clean;
      for (char c : v.substr(0, v.find('^')))
        if (c >= 0x20 && c < 0x7F) clean += c;
      msh.Set(static_cast<int>(n), clean);
    }
    if (end == std::string_view::npos) break;
    pos = end + 1;
    ++n;
  }
  m.segments.push_back(std::move(msh));
  return m;
}

std::optional<std::string> BuildAck(const Message& in, AckCode code,
                                    const std::vector<AckError>& errors, const AckOptions& opts) {
  const std::string& accept_type = in.Get(15);
  const bool enhanced = !accept_type.empty();
  if (enhanced) {
    if (accept_type == "NE") return std::nullopt;
    if (accept_type == "ER" && code == AckCode::kAccept) return std::nullopt;
    if (accept_type == "SU" && code != AckCode::kAccept) return std::nullopt;
  }
  std::string version(in.version());
  if (version.empty()) version = "2.5.1";
  // ERR-2..8 exist from v2.5; before, ERR-1 carries segment^sequence^field^code&text.
  int minor = version.rfind("2.", 0) == 0 ? std::atoi(version.c_str() + 2) : 5;
  const bool v25 = minor >= 5;

  Message ack;
  ack.encoding = Encoding{};
  Segment msh;
  msh.id = "MSH";
  msh.fields.resize(3);
  msh.fields[1] = Field{Repetition{Component{"|"}}};
  msh.fields[2] = Field{Repetition{Component{"^~\\&"}}};
  msh.Set(3, opts.sending_application);
  if (!opts.sending_facility.empty()) msh.Set(4, opts.sending_facility);
  // Receiving application/facility: the sender of the message.
  if (const Segment* in_msh = in.Find("MSH")) {
    if (in_msh->fields.size() > 3) msh.fields.resize(std::max<size_t>(msh.fields.size(), 7));
    if (in_msh->fields.size() > 3) msh.fields[5] = in_msh->fields[3];
    if (in_msh->fields.size() > 4) msh.fields[6] = in_msh->fields[4];
  }
  msh.Set(7, opts.timestamp);
  msh.Set(9, "ACK");
  if (!in.trigger().empty()) msh.Set(9, std::string(in.trigger()), 2);
  msh.Set(9, "ACK", 3);
  msh.Set(10, opts.control_id);
  msh.Set(11, in.Get(11).empty() ? "P" : in.Get(11));
  msh.Set(12, version);
  if (!in.charset.empty()) msh.Set(18, "UNICODE UTF-8");
  ack.segments.push_back(std::move(msh));

  Segment msa;
  msa.id = "MSA";
  const char* prefix = enhanced ? "C" : "A";
  const char* suffix = code == AckCode::kAccept ? "A" : code == AckCode::kError ? "E" : "R";
  msa.Set(1, std::string(prefix) + suffix);
  msa.Set(2, std::string(in.control_id()));
  if (!v25 && !errors.empty()) msa.Set(3, errors.front().text);
  ack.segments.push_back(std::move(msa));

  for (const AckError& e : errors) {
    Segment err;
    err.id = "ERR";
    // Split the ERL location "SEG^seq^field^rep^comp" into components.
    std::vector<std::string> loc;
    size_t p = 0;
    while (!e.location.empty()) {
      size_t q = e.location.find('^', p);
      loc.emplace_back(e.location.substr(p, q == std::string::npos ? q : q - p));
      if (q == std::string::npos) break;
      p = q + 1;
    }
    if (v25) {
      for (size_t i = 0; i < loc.size() && i < 6; ++i) err.Set(2, loc[i], static_cast<int>(i + 1));
      err.Set(3, e.code, 1);
      err.Set(3, std::string(Hl7ErrorText(e.code)), 2);
      err.Set(3, "HL70357", 3);
      err.Set(4, code == AckCode::kAccept ? "W" : "E");
      err.Set(8, e.text);
    } else {
      for (size_t i = 0; i < loc.size() && i < 3; ++i) err.Set(1, loc[i], static_cast<int>(i + 1));
      err.Set(1, e.code, 4, 1);
      err.Set(1, e.text, 4, 2);
      err.Set(1, "HL70357", 4, 3);
    }
    ack.segments.push_back(std::move(err));
  }
  return Encode(ack);
}

}  // namespace benhan::interop::hl7v2
