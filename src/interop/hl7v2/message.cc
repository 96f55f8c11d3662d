#include "interop/hl7v2/message.h"

#include <iconv.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace benhan::interop::hl7v2 {
namespace {

const std::string kEmpty;

Status ParseError(std::string_view location, std::string message, Code code = Code::kInvalid) {
  return Status(code, std::move(message), std::string(location));
}

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (int k = 1; k < len; ++k) {
      unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

std::string Latin1ToUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() * 2);
  for (unsigned char c : s) {
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Converts `in` from iconv charset `from` to UTF-8. Errors name MSH-18.
Result<std::string> ToUtf8(std::string_view in, const std::string& from) {
  iconv_t cd = iconv_open("UTF-8", from.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1))
    return ParseError("MSH^1^18", "character set '" + from + "' is not available (iconv)",
                      Code::kNotSupported);
  std::string out(in.size() * 4 + 16, '\0');
  char* src = const_cast<char*>(in.data());
  size_t src_left = in.size();
  char* dst = out.data();
  size_t dst_left = out.size();
  size_t r = iconv(cd, &src, &src_left, &dst, &dst_left);
  int err = errno;
  iconv_close(cd);
  if (r == static_cast<size_t>(-1)) {
    size_t offset = in.size() - src_left;
    return ParseError("MSH^1^18",
                      "byte " + std::to_string(offset) + " is not valid in character set " + from +
                          " (" + std::strerror(err) + ")",
                      Code::kValue);
  }
  out.resize(out.size() - dst_left);
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsSegmentId(std::string_view id) {
  if (id.size() != 3) return false;
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); });
}

Field ParseField(std::string_view raw, const Encoding& enc) {
  Field field;
  size_t rs = 0;
  while (true) {
    size_t re = raw.find(enc.repetition, rs);
    std::string_view rep_raw = raw.substr(rs, re == std::string_view::npos ? re : re - rs);
    Repetition rep;
    size_t cs = 0;
    while (true) {
      size_t ce = rep_raw.find(enc.component, cs);
      std::string_view comp_raw = rep_raw.substr(cs, ce == std::string_view::npos ? ce : ce - cs);
      Component comp;
      size_t ss = 0;
      while (true) {
        size_t se = comp_raw.find(enc.subcomponent, ss);
        comp.push_back(
            Unescape(comp_raw.substr(ss, se == std::string_view::npos ? se : se - ss), enc));
        if (se == std::string_view::npos) break;
        ss = se + 1;
      }
      rep.push_back(std::move(comp));
      if (ce == std::string_view::npos) break;
      cs = ce + 1;
    }
    field.push_back(std::move(rep));
    if (re == std::string_view::npos) break;
    rs = re + 1;
  }
  return field;
}

// MSH-18 (first repetition, first component) read from the raw MSH line, before decoding.
std::string RawMsh18(std::string_view text) {
  size_t end = text.find_first_of("\r\n");
  std::string_view line = text.substr(0, end);
  if (line.size() < 4) return {};
  char sep = line[3];
  size_t pos = 3;
  // After "MSH", field n starts after the (n-1)th separator.
  for (int n = 1; n < 18; ++n) {
    pos = line.find(sep, pos + (n == 1 ? 0 : 1));
    if (pos == std::string_view::npos) return {};
  }
  std::string_view f = line.substr(pos + 1);
  f = f.substr(0, f.find(sep));
  size_t cut = f.find_first_of(line.size() > 5 ? std::string{line[4], line[5]} : "^~");
  return std::string(f.substr(0, cut));
}

}  // namespace

const std::string& Segment::Get(int field, int component, int sub, size_t rep) const {
  if (field < 0 || static_cast<size_t>(field) >= fields.size()) return kEmpty;
  const Field& f = fields[field];
  if (rep >= f.size()) return kEmpty;
  const Repetition& r = f[rep];
  if (component < 1 || static_cast<size_t>(component) > r.size()) return kEmpty;
  const Component& c = r[component - 1];
  if (sub < 1 || static_cast<size_t>(sub) > c.size()) return kEmpty;
  return c[sub - 1];
}

size_t Segment::Repetitions(int field) const {
  if (field < 0 || static_cast<size_t>(field) >= fields.size()) return 0;
  return fields[field].size();
}

size_t Segment::Components(int field, size_t rep) const {
  if (field < 0 || static_cast<size_t>(field) >= fields.size()) return 0;
  if (rep >= fields[field].size()) return 0;
  return fields[field][rep].size();
}

bool Segment::Has(int field) const {
  if (field < 0 || static_cast<size_t>(field) >= fields.size()) return false;
  for (const auto& r : fields[field])
    for (const auto& c : r)
      for (const auto& s : c)
        if (!s.empty()) return true;
  return false;
}

void Segment::Set(int field, std::string value, int component, int sub, size_t rep) {
  if (field < 1 || component < 1 || sub < 1) return;
  if (fields.size() <= static_cast<size_t>(field)) fields.resize(field + 1);
  Field& f = fields[field];
  if (f.size() <= rep) f.resize(rep + 1);
  Repetition& r = f[rep];
  if (r.size() < static_cast<size_t>(component)) r.resize(component);
  Component& c = r[component - 1];
  if (c.size() < static_cast<size_t>(sub)) c.resize(sub);
  c[sub - 1] = std::move(value);
}

const Segment* Message::Find(std::string_view id, size_t nth) const {
  for (const Segment& s : segments)
    if (s.id == id && nth-- == 0) return &s;
  return nullptr;
}

Segment* Message::Find(std::string_view id, size_t nth) {
  for (Segment& s : segments)
    if (s.id == id && nth-- == 0) return &s;
  return nullptr;
}

int Message::SequenceOf(size_t index) const {
  if (index >= segments.size()) return 0;
  int seq = 0;
  for (size_t i = 0; i <= index; ++i)
    if (segments[i].id == segments[index].id) ++seq;
  return seq;
}

const std::string& Message::Get(int field, int component, int sub) const {
  const Segment* msh = Find("MSH");
  return msh ? msh->Get(field, component, sub) : kEmpty;
}

std::string Message::Sender() const {
  auto id_of = [&](int field) -> std::string {
    const std::string& ns = Get(field, 1);
    return ns.empty() ? Get(field, 2) : ns;
  };
  return id_of(3) + "|" + id_of(4);
}

Result<std::string> IconvNameOf(std::string_view msh18) {
  std::string v = Upper(msh18);
  while (!v.empty() && v.back() == ' ') v.pop_back();
  if (v.empty() || v == "ASCII" || v == "UNICODE UTF-8" || v == "UTF-8" || v == "UTF8" ||
      v == "UNICODE")
    return std::string();
  if (v.rfind("8859/", 0) == 0) return "ISO-8859-" + v.substr(5);
  if (v == "TCVN" || v == "TCVN3" || v == "VN3" || v == "TCVN5712" || v == "TCVN-5712" ||
      v == "TCVN 5712" || v == "ABC")
    return std::string("TCVN5712-1");
  if (v == "WINDOWS-1258" || v == "CP1258" || v == "CP-1258" || v == "WINDOWS1258")
    return std::string("CP1258");
  if (v == "VISCII") return std::string("VISCII");
  // Anything else iconv knows under that name (e.g. "ISO-8859-1").
  iconv_t cd = iconv_open("UTF-8", v.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1))
    return ParseError("MSH^1^18", "unsupported character set '" + std::string(msh18) + "'",
                      Code::kNotSupported);
  iconv_close(cd);
  return v;
}

std::string Unescape(std::string_view raw, const Encoding& enc) {
  if (raw.find(enc.escape) == std::string_view::npos) return std::string(raw);
  std::string out;
  out.reserve(raw.size());
  size_t i = 0;
  while (i < raw.size()) {
    char c = raw[i];
    if (c != enc.escape) {
      out += c;
      ++i;
      continue;
    }
    size_t close = raw.find(enc.escape, i + 1);
    if (close == std::string_view::npos) {  // a lone escape character: kept as text
      out.append(raw.substr(i));
      break;
    }
    std::string_view seq = raw.substr(i + 1, close - i - 1);
    bool known = true;
    if (seq == "F") {
      out += enc.field;
    } else if (seq == "S") {
      out += enc.component;
    } else if (seq == "T") {
      out += enc.subcomponent;
    } else if (seq == "R") {
      out += enc.repetition;
    } else if (seq == "E") {
      out += enc.escape;
    } else if (seq == "P" && enc.truncation) {
      out += enc.truncation;
    } else if (seq == ".br" || seq.rfind(".sp", 0) == 0) {
      out += '\n';
    } else if (seq == "H" || seq == "N" || (!seq.empty() && seq[0] == '.') ||
               (!seq.empty() && (seq[0] == 'C' || seq[0] == 'M' || seq[0] == 'Z'))) {
      // Highlighting, formatting commands, character-set switches, local escapes: dropped.
    } else if (seq.size() >= 3 && seq[0] == 'X' && (seq.size() - 1) % 2 == 0) {
      std::string bytes;
      for (size_t k = 1; k + 1 < seq.size() + 1 && known; k += 2) {
        int hi = HexDigit(seq[k]), lo = HexDigit(seq[k + 1]);
        if (hi < 0 || lo < 0)
          known = false;
        else
          bytes += static_cast<char>(hi * 16 + lo);
      }
      if (known) out += ValidUtf8(bytes) ? bytes : Latin1ToUtf8(bytes);
    } else {
      known = false;
    }
    if (!known) out.append(raw.substr(i, close - i + 1));  // unknown: kept literally
    i = close + 1;
  }
  return out;
}

std::string Escape(std::string_view value, const Encoding& enc) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == enc.escape)
      out += std::string{enc.escape, 'E', enc.escape};
    else if (c == enc.field)
      out += std::string{enc.escape, 'F', enc.escape};
    else if (c == enc.component)
      out += std::string{enc.escape, 'S', enc.escape};
    else if (c == enc.subcomponent)
      out += std::string{enc.escape, 'T', enc.escape};
    else if (c == enc.repetition)
      out += std::string{enc.escape, 'R', enc.escape};
    else if (enc.truncation && c == enc.truncation)
      out += std::string{enc.escape, 'P', enc.escape};
    else if (c == '\n')
      out += std::string{enc.escape} + ".br" + enc.escape;
    else if (c == '\r')
      out += std::string{enc.escape} + "X0D" + enc.escape;
    else
      out += c;
  }
  return out;
}

Result<Message> Parse(std::string_view bytes) {
  // A UTF-8 byte-order mark and blank lines before MSH are tolerated.
  if (bytes.substr(0, 3) == "\xEF\xBB\xBF") bytes.remove_prefix(3);
  while (!bytes.empty() && (bytes.front() == '\r' || bytes.front() == '\n' ||
                            bytes.front() == ' ' || bytes.front() == '\t'))
    bytes.remove_prefix(1);
  if (bytes.substr(0, 3) != "MSH")
    return ParseError("MSH^1", "a message must begin with an MSH segment");
  if (bytes.size() < 8) return ParseError("MSH^1", "MSH segment too short");

  Message m;
  m.charset = RawMsh18(bytes);
  ASSIGN_OR_RETURN(std::string iconv_name, IconvNameOf(m.charset));
  std::string converted;
  if (!iconv_name.empty()) {
    ASSIGN_OR_RETURN(converted, ToUtf8(bytes, iconv_name));
    bytes = converted;
  } else if (!ValidUtf8(bytes)) {
    return ParseError("MSH^1^18",
                      m.charset.empty()
                          ? "the message is not valid UTF-8 and MSH-18 names no character set"
                          : "the message is not valid " + m.charset);
  }

  Encoding& enc = m.encoding;
  enc.field = bytes[3];
  size_t enc_end = bytes.find(enc.field, 4);
  size_t line_end = bytes.find_first_of("\r\n");
  if (enc_end == std::string_view::npos || enc_end > line_end)
    return ParseError("MSH^1^2",
                      "MSH-2 (encoding characters) is not followed by a field separator");
  std::string_view enc_chars = bytes.substr(4, enc_end - 4);
  // "^~\\&": the escape character doubled by a sender that escaped it twice (seen in samples).
  if (enc_chars == "^~\\\\&") enc_chars = "^~\\&";
  if (enc_chars.empty() || enc_chars.size() > 5)
    return ParseError("MSH^1^2", "MSH-2 must hold 1 to 5 encoding characters, not " +
                                     std::to_string(enc_chars.size()));
  enc.component = enc_chars[0];
  if (enc_chars.size() > 1) enc.repetition = enc_chars[1];
  if (enc_chars.size() > 2) enc.escape = enc_chars[2];
  if (enc_chars.size() > 3) enc.subcomponent = enc_chars[3];
  if (enc_chars.size() > 4) enc.truncation = enc_chars[4];
  std::string all{enc.field, enc.component, enc.repetition, enc.escape, enc.subcomponent};
  if (enc.truncation) all += enc.truncation;
  for (size_t a = 0; a < all.size(); ++a) {
    unsigned char c = static_cast<unsigned char>(all[a]);
    if (std::isalnum(c) || c == '\r' || c == '\n' || c < 0x20 || c >= 0x7F)
      return ParseError("MSH^1^2", "encoding character '" + std::string(1, all[a]) +
                                       "' is not allowed (letters, digits, controls)");
    for (size_t b = a + 1; b < all.size(); ++b)
      if (all[a] == all[b])
        return ParseError("MSH^1^2",
                          "encoding character '" + std::string(1, all[a]) + "' is used twice");
  }

  size_t pos = 0;
  while (pos < bytes.size()) {
    size_t end = bytes.find_first_of("\r\n", pos);
    std::string_view line = bytes.substr(pos, end == std::string_view::npos ? end : end - pos);
    pos = end == std::string_view::npos ? bytes.size() : end + 1;
    // Blank lines (from \r\n or \n\n) and whitespace-only lines separate nothing.
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    Segment seg;
    size_t id_end = line.find(enc.field);
    seg.id = std::string(line.substr(0, id_end));
    if (!IsSegmentId(seg.id)) {
      std::string shown = seg.id.substr(0, 16);
      for (char& ch : shown)
        if (static_cast<unsigned char>(ch) < 0x20) ch = '?';
      return ParseError(std::to_string(m.segments.size() + 1),
                        "segment " + std::to_string(m.segments.size() + 1) + " has id '" + shown +
                            "': a segment id is 3 upper-case letters or digits");
    }
    if (seg.id == "MSH" && !m.segments.empty())
      return ParseError("MSH^2",
                        "a second MSH segment: one message per frame (batches are not "
                        "supported)");
    seg.fields.emplace_back();  // field 0: the id
    if (m.segments.empty()) {
      if (seg.id != "MSH") return ParseError("MSH^1", "a message must begin with an MSH segment");
      seg.fields.push_back(Field{Repetition{Component{std::string(1, enc.field)}}});
      seg.fields.push_back(Field{Repetition{Component{std::string(enc_chars)}}});
      size_t rest = enc_end;  // the separator after MSH-2
      if (rest < line.size()) {
        std::string_view tail = line.substr(rest + 1);
        size_t fs = 0;
        while (true) {
          size_t fe = tail.find(enc.field, fs);
          seg.fields.push_back(
              ParseField(tail.substr(fs, fe == std::string_view::npos ? fe : fe - fs), enc));
          if (fe == std::string_view::npos) break;
          fs = fe + 1;
        }
      }
    } else if (id_end != std::string_view::npos) {
      std::string_view tail = line.substr(id_end + 1);
      size_t fs = 0;
      while (true) {
        size_t fe = tail.find(enc.field, fs);
        seg.fields.push_back(
            ParseField(tail.substr(fs, fe == std::string_view::npos ? fe : fe - fs), enc));
        if (fe == std::string_view::npos) break;
        fs = fe + 1;
      }
    }
    m.segments.push_back(std::move(seg));
  }
  return m;
}

std::vector<std::string_view> SplitMessages(std::string_view text) {
  std::vector<std::string_view> out;
  size_t start = std::string_view::npos;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find_first_of("\r\n", pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    std::string_view id = line.substr(0, 3);
    bool envelope = id == "FHS" || id == "BHS" || id == "BTS" || id == "FTS";
    if (id == "MSH" || envelope) {
      if (start != std::string_view::npos) out.push_back(text.substr(start, pos - start));
      start = envelope ? std::string_view::npos : pos;
    }
    pos = end + 1;
  }
  if (start != std::string_view::npos) out.push_back(text.substr(start));
  return out;
}

std::string Encode(const Message& m) {
  const Encoding& enc = m.encoding;
  std::string out;
  for (const Segment& seg : m.segments) {
    out += seg.id;
    size_t first = 1;
    if (seg.id == "MSH") {
      out += enc.field;
      out += enc.component;
      out += enc.repetition;
      out += enc.escape;
      out += enc.subcomponent;
      if (enc.truncation) out += enc.truncation;
      first = 3;
    }
    // Trailing empty fields are not written.
    size_t last = seg.fields.size();
    while (last > first && !seg.Has(static_cast<int>(last - 1))) --last;
    for (size_t f = first; f < last; ++f) {
      out += enc.field;
      const Field& field = seg.fields[f];
      for (size_t r = 0; r < field.size(); ++r) {
        if (r) out += enc.repetition;
        const Repetition& rep = field[r];
        size_t nc = rep.size();
        while (nc > 1 && std::all_of(rep[nc - 1].begin(), rep[nc - 1].end(),
                                     [](const std::string& s) { return s.empty(); }))
          --nc;
        for (size_t c = 0; c < nc; ++c) {
          if (c) out += enc.component;
          const Component& comp = rep[c];
          size_t ns = comp.size();
          while (ns > 1 && comp[ns - 1].empty()) --ns;
          for (size_t s = 0; s < ns; ++s) {
            if (s) out += enc.subcomponent;
            // The HL7 null "" is written as is.
            out += IsHl7Null(comp[s]) ? comp[s] : Escape(comp[s], enc);
          }
        }
      }
    }
    out += '\r';
  }
  return out;
}

}  // namespace benhan::interop::hl7v2
