// HL7 v2.x messages (2.1-2.8): parse and write the ER7 ("pipe and hat") encoding.
//
// A Message is a list of Segments; a segment's field n is fields[n] (fields[0] is unused; for MSH,
// fields[1] is the field separator and fields[2] the encoding characters, both kept verbatim).
// A field is a list of repetitions, a repetition a list of components, a component a list of
// sub-components: plain UTF-8 strings with every escape sequence already decoded. Positions in the
// accessors are 1-based like the standard (PID-3.4.1); repetitions are 0-based. Unknown segments
// (Z-segments included) are kept as they are, in order.
//
// Parse() accepts the segment terminators \r, \n and \r\n, custom encoding characters from MSH-1/2,
// the escape sequences \F\ \S\ \T\ \R\ \E\ \Xhh..\ \.br\ (and drops highlighting \H\ \N\), and the
// character set named in MSH-18 (UTF-8, ASCII, 8859/1, and the Vietnamese legacy sets TCVN 5712
// "VN3" and Windows-1258, through iconv): the parsed text is always UTF-8.
//
// Errors: Status kInvalid (structure) or kValue (character set), whose expression() is the HL7
// error location "SEG^sequence^field" (ERL, as ERR-2 wants it), e.g. "MSH^1^18".
// Thread-safety: values; Parse and Encode are reentrant.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace benhan::interop::hl7v2 {

using Component = std::vector<std::string>;  // sub-components
using Repetition = std::vector<Component>;   // components
using Field = std::vector<Repetition>;       // repetitions

// The delimiters of one message (MSH-1 and MSH-2).
struct Encoding {
  char field = '|';
  char component = '^';
  char repetition = '~';
  char escape = '\\';
  char subcomponent = '&';
  char truncation = 0;  // 2.7+: the fifth MSH-2 character, kept when writing; 0 when absent
};

struct Segment {
  std::string id;
  std::vector<Field> fields;  // fields[n] is field n; fields[0] is unused

  // The value at field-component.sub-component in repetition `rep`; "" when absent.
  const std::string& Get(int field, int component = 1, int sub = 1, size_t rep = 0) const;
  size_t Repetitions(int field) const;
  size_t Components(int field, size_t rep = 0) const;
  // Sets one value, growing the field, repetition and component lists as needed.
  void Set(int field, std::string value, int component = 1, int sub = 1, size_t rep = 0);
  // Whether field has any non-empty value.
  bool Has(int field) const;
};

class Message {
 public:
  std::vector<Segment> segments;
  Encoding encoding;
  std::string charset;  // MSH-18 as received ("" = none given)

  // The nth (0-based) segment with this id, or nullptr.
  const Segment* Find(std::string_view id, size_t nth = 0) const;
  Segment* Find(std::string_view id, size_t nth = 0);
  // The 1-based sequence of segments[index] among the segments with the same id (for ERR-2).
  int SequenceOf(size_t index) const;

  // MSH shortcuts ("" when the message has no MSH or the field is empty).
  const std::string& Get(int field, int component = 1, int sub = 1) const;
  std::string_view type() const { return Get(9, 1); }      // MSH-9.1, "ADT"
  std::string_view trigger() const { return Get(9, 2); }   // MSH-9.2, "A01"
  std::string_view control_id() const { return Get(10); }  // MSH-10
  std::string_view version() const { return Get(12); }     // MSH-12.1, "2.5.1"
  // MSH-3 and MSH-4 (namespace ids, or the universal id when there is none): "APP|FACILITY".
  std::string Sender() const;
};

// The "" null of HL7 (delete the value): Get() returns it as the two characters `""`.
inline bool IsHl7Null(std::string_view v) { return v == "\"\""; }

// Parses one message. `bytes` may be in the character set MSH-18 names.
Result<Message> Parse(std::string_view bytes);
// Splits a file or batch (FHS/BHS...BTS/FTS envelopes dropped) into its messages, each starting
// at an MSH line.
std::vector<std::string_view> SplitMessages(std::string_view text);
// Writes `m` with its encoding characters and "\r" after every segment, in UTF-8 (the caller sets
// MSH-18 if it wants it said).
std::string Encode(const Message& m);

// Decodes escape sequences in one leaf value (used by Parse; exposed for tests).
std::string Unescape(std::string_view raw, const Encoding& enc);
// Escapes the delimiters (and the escape character) in a value for writing.
std::string Escape(std::string_view value, const Encoding& enc);

// The iconv name for an MSH-18 value ("8859/1" -> "ISO-8859-1"), "" for UTF-8/ASCII/empty, or
// kNotSupported for a set benhan cannot read.
Result<std::string> IconvNameOf(std::string_view msh18);

}  // namespace benhan::interop::hl7v2
