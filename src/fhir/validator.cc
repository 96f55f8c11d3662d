#include "fhir/validator.h"

#include <array>
#include <cctype>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <boost/json.hpp>

namespace json = boost::json;

namespace benhan::fhir {
namespace {

// ---------------------------------------------------------------------------------------------
// Lexical checks, hand-coded equivalents of HL7's regexes (Definitions::PrimitiveRegex).

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
// \s of the ECMAScript regexes, ASCII part.
inline bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
inline bool IsIdChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || IsDigit(c) || c == '-' || c == '.';
}
inline bool IsLowerHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f'); }
inline bool IsB64(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || IsDigit(c) || c == '+' || c == '/' ||
         c == '=';
}

// Two digits at s[i], value in [lo, hi].
inline bool TwoDigits(std::string_view s, size_t i, int lo, int hi, int* out = nullptr) {
  if (i + 2 > s.size() || !IsDigit(s[i]) || !IsDigit(s[i + 1])) return false;
  int v = (s[i] - '0') * 10 + (s[i + 1] - '0');
  if (out != nullptr) *out = v;
  return v >= lo && v <= hi;
}

struct DateParts {
  int year = 0, month = 0, day = 0;
};

// YYYY(-MM(-DD)?)? at the start of s; sets *end past it. Year 0000 is not allowed.
bool ParseDatePart(std::string_view s, size_t* end, DateParts* d) {
  if (s.size() < 4 || !IsDigit(s[0]) || !IsDigit(s[1]) || !IsDigit(s[2]) || !IsDigit(s[3])) {
    return false;
  }
  d->year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
  if (d->year == 0) return false;
  size_t i = 4;
  if (i < s.size() && s[i] == '-') {
    if (!TwoDigits(s, i + 1, 1, 12, &d->month)) return false;
    i += 3;
    if (i < s.size() && s[i] == '-') {
      if (!TwoDigits(s, i + 1, 1, 31, &d->day)) return false;
      i += 3;
    }
  }
  *end = i;
  return true;
}

// hh:mm:ss(.f+)? at s[i]; sets *end.
bool ParseTimePart(std::string_view s, size_t i, size_t* end) {
  if (!TwoDigits(s, i, 0, 23) || i + 2 >= s.size() || s[i + 2] != ':') return false;
  if (!TwoDigits(s, i + 3, 0, 59) || i + 5 >= s.size() || s[i + 5] != ':') return false;
  if (!TwoDigits(s, i + 6, 0, 60)) return false;
  i += 8;
  if (i < s.size() && s[i] == '.') {
    size_t j = i + 1;
    while (j < s.size() && IsDigit(s[j])) ++j;
    if (j == i + 1) return false;
    i = j;
  }
  *end = i;
  return true;
}

// Z | (+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00), the whole rest of s.
bool ParseZone(std::string_view s, size_t i) {
  if (i >= s.size()) return false;
  if (s[i] == 'Z') return i + 1 == s.size();
  if (s[i] != '+' && s[i] != '-') return false;
  if (i + 6 != s.size() || s[i + 3] != ':') return false;
  int h = 0;
  if (!TwoDigits(s, i + 1, 0, 14, &h)) return false;
  if (h == 14) return s[i + 4] == '0' && s[i + 5] == '0';
  return TwoDigits(s, i + 4, 0, 59);
}

bool DateFormat(std::string_view s, DateParts* d) {
  size_t end = 0;
  return ParseDatePart(s, &end, d) && end == s.size();
}

bool DateTimeFormat(std::string_view s, DateParts* d) {
  size_t end = 0;
  if (!ParseDatePart(s, &end, d)) return false;
  if (end == s.size()) return true;
  if (d->day == 0 || s[end] != 'T') return false;
  size_t t = 0;
  return ParseTimePart(s, end + 1, &t) && ParseZone(s, t);
}

bool InstantFormat(std::string_view s, DateParts* d) {
  size_t end = 0;
  if (!ParseDatePart(s, &end, d) || d->day == 0 || end >= s.size() || s[end] != 'T') return false;
  size_t t = 0;
  return ParseTimePart(s, end + 1, &t) && ParseZone(s, t);
}

bool TimeFormat(std::string_view s) {
  size_t end = 0;
  return ParseTimePart(s, 0, &end) && end == s.size();
}

bool IdFormat(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!IsIdChar(c)) return false;
  }
  return true;
}

// [^\s]+(\s[^\s]+)*
bool CodeFormat(std::string_view s) {
  if (s.empty() || IsSpace(s.front()) || IsSpace(s.back())) return false;
  for (size_t i = 1; i < s.size(); ++i) {
    if (IsSpace(s[i]) && IsSpace(s[i - 1])) return false;
  }
  return true;
}

// \S*
bool NoSpaceFormat(std::string_view s) {
  for (char c : s) {
    if (IsSpace(c)) return false;
  }
  return true;
}

// [ \r\n\t\S]+
bool StringFormat(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c == '\v' || c == '\f') return false;
  }
  return true;
}

// urn:oid:[0-2](\.(0|[1-9][0-9]*))+
bool OidFormat(std::string_view s) {
  constexpr std::string_view kPrefix = "urn:oid:";
  if (s.substr(0, kPrefix.size()) != kPrefix) return false;
  size_t i = kPrefix.size();
  if (i >= s.size() || s[i] < '0' || s[i] > '2') return false;
  ++i;
  int arcs = 0;
  while (i < s.size()) {
    if (s[i] != '.') return false;
    ++i;
    if (i >= s.size() || !IsDigit(s[i])) return false;
    if (s[i] == '0') {
      ++i;
    } else {
      while (i < s.size() && IsDigit(s[i])) ++i;
    }
    ++arcs;
  }
  return arcs > 0;
}

// urn:uuid:8-4-4-4-12 lowercase hex
bool UuidFormat(std::string_view s) {
  constexpr std::string_view kPrefix = "urn:uuid:";
  if (s.size() != kPrefix.size() + 36 || s.substr(0, kPrefix.size()) != kPrefix) return false;
  s.remove_prefix(kPrefix.size());
  for (size_t i = 0; i < 36; ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !IsLowerHex(s[i])) return false;
  }
  return true;
}

// (\s*([0-9a-zA-Z\+/=]){4}\s*)+ : every run of non-space characters is base64 characters, a
// multiple of 4 long; at least one run.
bool Base64Format(std::string_view s) {
  size_t i = 0, groups = 0;
  while (i < s.size()) {
    while (i < s.size() && IsSpace(s[i])) ++i;
    if (i == s.size()) break;
    for (int k = 0; k < 4; ++k, ++i) {
      if (i >= s.size() || !IsB64(s[i])) return false;
    }
    ++groups;
  }
  return groups > 0;
}

// -?(0|[1-9][0-9]*)  with sign allowed or not; positive: [1-9][0-9]*
bool IntegerFormat(std::string_view s, bool sign, bool zero) {
  size_t i = 0;
  if (sign && i < s.size() && s[i] == '-') ++i;
  if (i >= s.size() || !IsDigit(s[i])) return false;
  if (s[i] == '0') return zero && i + 1 == s.size();
  for (; i < s.size(); ++i) {
    if (!IsDigit(s[i])) return false;
  }
  return true;
}

// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool DecimalFormat(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  if (i >= s.size() || !IsDigit(s[i])) return false;
  if (s[i] == '0') {
    ++i;
  } else {
    while (i < s.size() && IsDigit(s[i])) ++i;
  }
  if (i < s.size() && s[i] == '.') {
    size_t j = ++i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i == j) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t j = i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i == j) return false;
  }
  return i == s.size();
}

int DaysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0)) return 29;
  return kDays[month - 1];
}

// ---------------------------------------------------------------------------------------------

enum class Prim : uint8_t {
  kNone,
  kBoolean,
  kInteger,
  kPositiveInt,
  kUnsignedInt,
  kDecimal,
  kString,
  kMarkdown,
  kCode,
  kId,
  kUri,
  kUrl,
  kCanonical,
  kOid,
  kUuid,
  kBase64,
  kDate,
  kDateTime,
  kInstant,
  kTime,
  kXhtml,
};

Prim PrimOf(std::string_view t) {
  static const std::unordered_map<std::string_view, Prim> kMap = {
      {"boolean", Prim::kBoolean},
      {"integer", Prim::kInteger},
      {"positiveInt", Prim::kPositiveInt},
      {"unsignedInt", Prim::kUnsignedInt},
      {"decimal", Prim::kDecimal},
      {"string", Prim::kString},
      {"markdown", Prim::kMarkdown},
      {"code", Prim::kCode},
      {"id", Prim::kId},
      {"uri", Prim::kUri},
      {"url", Prim::kUrl},
      {"canonical", Prim::kCanonical},
      {"oid", Prim::kOid},
      {"uuid", Prim::kUuid},
      {"base64Binary", Prim::kBase64},
      {"date", Prim::kDate},
      {"dateTime", Prim::kDateTime},
      {"instant", Prim::kInstant},
      {"time", Prim::kTime},
      {"xhtml", Prim::kXhtml},
  };
  auto it = kMap.find(t);
  return it == kMap.end() ? Prim::kNone : it->second;
}

std::string_view PrimName(Prim p) {
  switch (p) {
    case Prim::kNone:
      return "";
    case Prim::kBoolean:
      return "boolean";
    case Prim::kInteger:
      return "integer";
    case Prim::kPositiveInt:
      return "positiveInt";
    case Prim::kUnsignedInt:
      return "unsignedInt";
    case Prim::kDecimal:
      return "decimal";
    case Prim::kString:
      return "string";
    case Prim::kMarkdown:
      return "markdown";
    case Prim::kCode:
      return "code";
    case Prim::kId:
      return "id";
    case Prim::kUri:
      return "uri";
    case Prim::kUrl:
      return "url";
    case Prim::kCanonical:
      return "canonical";
    case Prim::kOid:
      return "oid";
    case Prim::kUuid:
      return "uuid";
    case Prim::kBase64:
      return "base64Binary";
    case Prim::kDate:
      return "date";
    case Prim::kDateTime:
      return "dateTime";
    case Prim::kInstant:
      return "instant";
    case Prim::kTime:
      return "time";
    case Prim::kXhtml:
      return "xhtml";
  }
  return "";
}

// Lexical check of a JSON string value of primitive type p; dates also against the calendar.
bool StringValueOk(Prim p, std::string_view s) {
  DateParts d;
  bool ok = true;
  switch (p) {
    case Prim::kString:
    case Prim::kMarkdown:
      ok = StringFormat(s);
      break;
    case Prim::kCode:
      ok = CodeFormat(s);
      break;
    case Prim::kId:
      ok = IdFormat(s);
      break;
    case Prim::kUri:
    case Prim::kUrl:
    case Prim::kCanonical:
      ok = NoSpaceFormat(s);
      break;
    case Prim::kOid:
      ok = OidFormat(s);
      break;
    case Prim::kUuid:
      ok = UuidFormat(s);
      break;
    case Prim::kBase64:
      ok = Base64Format(s);
      break;
    case Prim::kDate:
      ok = DateFormat(s, &d);
      break;
    case Prim::kDateTime:
      ok = DateTimeFormat(s, &d);
      break;
    case Prim::kInstant:
      ok = InstantFormat(s, &d);
      break;
    case Prim::kTime:
      ok = TimeFormat(s);
      break;
    case Prim::kXhtml: {
      size_t i = 0;
      while (i < s.size() && IsSpace(s[i])) ++i;
      ok = s.substr(i, 4) == "<div";
      break;
    }
    default:
      break;
  }
  if (ok && d.day != 0 && d.day > DaysInMonth(d.year, d.month)) ok = false;
  return ok;
}

// FHIR strings: no characters below U+0020 except tab, CR and LF.
inline bool NoControlChars(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') return false;
  }
  return true;
}

std::string Quote(std::string_view s) {
  constexpr size_t kMax = 80;
  std::string out = "'";
  if (s.size() > kMax) {
    out.append(s.substr(0, kMax)).append("...");
  } else {
    out.append(s);
  }
  out.push_back('\'');
  return out;
}

std::string Quote(const json::value& v) {
  if (v.is_string()) return Quote(std::string_view(v.get_string()));
  return Quote(json::serialize(v));
}

std::string_view KindName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "a number";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "?";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Compiled lookup tables: one Node per JSON object shape (a type's root, a backbone element).

struct Validator::Schema {
  struct Node;
  struct ValueSet {
    std::unordered_set<std::string_view> codes;  // bare codes
    std::unordered_map<std::string_view, std::unordered_set<std::string_view>> by_system;
  };
  enum class Kind : uint8_t { kPrimitive, kComplex, kResource };
  struct Field {
    std::string_view json_name;  // "valueQuantity"
    const ElementDef* def = nullptr;
    uint32_t min = 0, max = 1;
    Kind kind = Kind::kPrimitive;
    Prim prim = Prim::kNone;
    const Node* node = nullptr;  // kComplex
    std::string_view type_name;
    bool is_reference = false, is_coding = false, is_concept = false;
    const ValueSet* vs = nullptr;  // required binding with an expanded value set
    int16_t choice = -1;           // choice group within the node
    uint16_t slot = 0;             // element index within the node (shared by choice variants)
  };
  struct Required {
    uint16_t slot;
    std::string display;  // "status", "medication[x]"
  };
  struct Node {
    std::string_view type_name;
    bool resource_root = false;
    std::vector<Field> fields;
    std::vector<int32_t> table;  // open addressing into fields, -1 empty
    uint32_t mask = 0;
    std::vector<Required> required;
    std::vector<const ElementDef*> choices;  // by choice group

    static uint32_t Hash(std::string_view s) {
      uint32_t h = 2166136261u;
      for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
      return h;
    }
    const Field* Find(std::string_view name) const {
      if (table.empty()) return nullptr;
      for (uint32_t i = Hash(name) & mask;; i = (i + 1) & mask) {
        int32_t f = table[i];
        if (f < 0) return nullptr;
        if (fields[static_cast<size_t>(f)].json_name == name)
          return &fields[static_cast<size_t>(f)];
      }
    }
  };

  const Definitions* defs = nullptr;
  std::deque<Node> nodes;
  std::map<std::pair<const TypeDef*, int32_t>, Node*> node_by_def;
  std::unordered_map<std::string_view, const Node*> resources;
  std::deque<std::string> names;  // storage for generated JSON names
  std::unordered_map<std::string, ValueSet> value_sets;
  const Node* element_node = nullptr;  // shape of `_x` primitive extension objects

  const ValueSet* ValueSetFor(const std::string& url) {
    auto it = value_sets.find(url);
    if (it != value_sets.end()) return &it->second;
    const std::unordered_set<std::string>* codes = defs->ValueSetCodes(url);
    if (codes == nullptr) return nullptr;
    ValueSet& vs = value_sets[url];
    for (const std::string& key : *codes) {
      std::string_view k = key;
      size_t bar = k.find('|');
      if (bar == std::string_view::npos) {
        vs.codes.insert(k);
      } else {
        vs.by_system[k.substr(0, bar)].insert(k.substr(bar + 1));
      }
    }
    return &vs;
  }

  // The node for an object shaped by element `el` of `t` (el = 0: the type's root).
  const Node* NodeFor(const TypeDef* t, int32_t el) {
    auto key = std::make_pair(t, el);
    if (auto it = node_by_def.find(key); it != node_by_def.end()) return it->second;
    Node& n = nodes.emplace_back();
    node_by_def[key] = &n;
    n.type_name = t->name;
    n.resource_root = el == 0 && t->kind == TypeKind::kResource;
    const ElementDef& parent = t->elements[static_cast<size_t>(el)];
    uint16_t slot = 0;
    for (int32_t ci : parent.children) {
      const ElementDef& c = t->elements[static_cast<size_t>(ci)];
      int16_t choice = -1;
      if (c.is_choice) {
        choice = static_cast<int16_t>(n.choices.size());
        n.choices.push_back(&c);
      }
      if (c.min > 0) n.required.push_back({slot, c.is_choice ? c.name + "[x]" : c.name});
      // contentReference elements ("Questionnaire.item.item") carry no type of their own.
      static const std::vector<std::string> kBackbone = {"BackboneElement"};
      const std::vector<std::string>& types =
          c.types.empty() && c.content_ref >= 0 ? kBackbone : c.types;
      for (const std::string& ty : types) {
        Field f;
        f.def = &c;
        f.min = c.min;
        f.max = c.max;
        f.choice = choice;
        f.slot = slot;
        f.type_name = ty;
        if (c.is_choice) {
          std::string& nm = names.emplace_back(c.name);
          nm += ty;
          nm[c.name.size()] =
              static_cast<char>(std::toupper(static_cast<unsigned char>(nm[c.name.size()])));
          f.json_name = nm;
        } else {
          f.json_name = c.name;
        }
        if (c.content_ref >= 0 || !c.children.empty()) {
          f.kind = Kind::kComplex;
          f.node = NodeFor(t, c.content_ref >= 0 ? c.content_ref : ci);
        } else if (ty == "Resource") {
          f.kind = Kind::kResource;
        } else if (Prim p = PrimOf(ty); p != Prim::kNone) {
          f.kind = Kind::kPrimitive;
          f.prim = p;
          // Resource.id is of type id (the compact form records its System.String).
          if (n.resource_root && c.name == "id") f.prim = Prim::kId;
        } else if (const TypeDef* ct = defs->FindType(ty); ct != nullptr) {
          f.kind = Kind::kComplex;
          f.node = NodeFor(ct, 0);
        } else {
          continue;  // unknown type: the element is then reported as unknown
        }
        f.is_reference = ty == "Reference";
        f.is_coding = ty == "Coding";
        f.is_concept = ty == "CodeableConcept";
        if (c.binding == BindingStrength::kRequired && !c.value_set.empty()) {
          f.vs = ValueSetFor(c.value_set);
        }
        n.fields.push_back(f);
      }
      ++slot;
    }
    uint32_t cap = 8;
    while (cap < n.fields.size() * 2) cap *= 2;
    n.mask = cap - 1;
    n.table.assign(cap, -1);
    for (size_t i = 0; i < n.fields.size(); ++i) {
      uint32_t h = Node::Hash(n.fields[i].json_name) & n.mask;
      while (n.table[h] >= 0) h = (h + 1) & n.mask;
      n.table[h] = static_cast<int32_t>(i);
    }
    return &n;
  }
};

namespace {

using Schema = Validator::Schema;
using Node = Schema::Node;
using Field = Schema::Field;

class Run {
 public:
  Run(const Schema& schema, const ValidationOptions& opts, Status& out)
      : s_(schema), opts_(opts), out_(out) {}

  void TopLevel(const json::value& v) {
    if (!v.is_object()) {
      Report(Code::kInvalid,
             "a FHIR resource must be a JSON object, not " + std::string(KindName(v)));
      return;
    }
    const json::object& o = v.get_object();
    const json::value* rt = o.if_contains("resourceType");
    if (rt == nullptr || !rt->is_string()) {
      Report(Code::kInvalid,
             rt == nullptr ? "missing 'resourceType'" : "'resourceType' must be a string");
      return;
    }
    std::string_view type = rt->get_string();
    auto it = s_.resources.find(type);
    if (it == s_.resources.end()) {
      Report(Code::kInvalid, Quote(type) + " is not a known FHIR R4 resource type", "resourceType");
      return;
    }
    Push(it->second->type_name);
    Object(*it->second, o);
    Pop();
  }

 private:
  struct Seg {
    std::string_view name;
    int64_t index = -1;
  };

  void Push(std::string_view name) {
    if (depth_ < path_.size()) path_[depth_] = Seg{name, -1};
    ++depth_;
  }
  void Pop() { --depth_; }
  void SetIndex(int64_t i) {
    if (depth_ > 0 && depth_ <= path_.size()) path_[depth_ - 1].index = i;
  }

  std::string Path() const {
    std::string p;
    for (size_t i = 0; i < depth_ && i < path_.size(); ++i) {
      if (i > 0) p.push_back('.');
      p.append(path_[i].name);
      if (path_[i].index >= 0) {
        p.push_back('[');
        p.append(std::to_string(path_[i].index));
        p.push_back(']');
      }
    }
    return p;
  }

  void Report(Code code, std::string message, std::string expression) {
    if (stopped_) return;
    if (out_.issues().size() >= Validator::kMaxIssues) {
      out_.AddIssue(
          Issue{Code::kStructure, "error", "too many errors; the rest were not reported", {}});
      stopped_ = true;
      return;
    }
    out_.AddIssue(Issue{code, "error", std::move(message), std::move(expression)});
  }
  void Report(Code code, std::string message) { Report(code, std::move(message), Path()); }

  // A nested resource (contained, Bundle.entry.resource...); the path points at it.
  // `contained`: v is an entry of DomainResource.contained.
  void Resource(const json::value& v, bool contained) {
    if (!v.is_object()) {
      Report(Code::kStructure,
             "must be a resource (a JSON object), not " + std::string(KindName(v)));
      return;
    }
    const json::object& o = v.get_object();
    const json::value* rt = o.if_contains("resourceType");
    if (rt == nullptr || !rt->is_string()) {
      Report(Code::kStructure,
             rt == nullptr ? "resource has no 'resourceType'" : "'resourceType' must be a string");
      return;
    }
    auto it = s_.resources.find(std::string_view(rt->get_string()));
    if (it == s_.resources.end()) {
      Report(Code::kStructure,
             Quote(std::string_view(rt->get_string())) + " is not a known FHIR R4 resource type");
      return;
    }
    if (contained && o.contains("contained")) {
      Push("contained");
      Report(Code::kStructure, "a contained resource cannot contain other resources (dom-2)");
      Pop();
    }
    Object(*it->second, o);
  }

  void Object(const Node& node, const json::object& o) {
    if (stopped_) return;
    if (depth_ > Validator::kMaxDepth) {
      Report(Code::kStructure, "elements are nested too deeply");
      stopped_ = true;
      return;
    }
    if (o.empty()) {
      Report(Code::kStructure, "empty objects are not allowed in FHIR JSON");
      return;
    }
    uint64_t seen[2] = {0, 0};
    std::array<const Field*, 8> chosen{};
    for (const auto& kv : o) {
      std::string_view key = kv.key();
      if (node.resource_root && key == "resourceType") continue;
      bool ext = !key.empty() && key[0] == '_';
      std::string_view name = ext ? key.substr(1) : key;
      const Field* f = node.Find(name);
      if (f == nullptr || (ext && f->kind != Schema::Kind::kPrimitive)) {
        Unknown(node, key);
        continue;
      }
      if (f->slot < 128) seen[f->slot / 64] |= uint64_t{1} << (f->slot % 64);
      if (f->choice >= 0 && static_cast<size_t>(f->choice) < chosen.size()) {
        const Field*& c = chosen[static_cast<size_t>(f->choice)];
        if (c == nullptr) {
          c = f;
        } else if (c != f) {
          Push(name);
          Report(Code::kStructure, "only one of " + f->def->name + "[x] may be present, found " +
                                       Quote(c->json_name) + " and " + Quote(name));
          Pop();
          continue;
        }
      }
      Push(name);
      if (ext) {
        PrimitiveExtension(*f, kv.value(), o, name);
      } else {
        Value(*f, kv.value(), o, key);
      }
      Pop();
    }
    for (const auto& r : node.required) {
      if (r.slot < 128 && (seen[r.slot / 64] & (uint64_t{1} << (r.slot % 64))) == 0) {
        Push(r.display);
        Report(Code::kRequired, "missing required element " + Quote(r.display));
        Pop();
      }
    }
  }

  void Unknown(const Node& node, std::string_view key) {
    Push(key);
    bool ext = !key.empty() && key[0] == '_';
    std::string_view name = ext ? key.substr(1) : key;
    for (const ElementDef* c : node.choices) {
      if (name.size() > c->name.size() && name.substr(0, c->name.size()) == c->name) {
        std::string allowed;
        for (const auto& t : c->types) allowed += (allowed.empty() ? "" : ", ") + t;
        Report(Code::kStructure, Quote(key) + " is not an allowed type for " + c->name +
                                     "[x] (allowed: " + allowed + ")");
        Pop();
        return;
      }
    }
    if (ext && node.Find(name) != nullptr) {
      Report(Code::kStructure, Quote(key) + ": only primitive elements have '_' siblings");
    } else {
      Report(Code::kStructure,
             "unknown element " + Quote(key) + " in " + std::string(node.type_name));
    }
    Pop();
  }

  // The value of `key` (the value element of field f) in object `o`.
  void Value(const Field& f, const json::value& v, const json::object& o, std::string_view key) {
    if (f.max > 1) {
      if (!v.is_array()) {
        Report(Code::kStructure, Quote(key) + " must be a JSON array (it can repeat), not " +
                                     std::string(KindName(v)));
        return;
      }
      const json::array& a = v.get_array();
      if (a.empty()) {
        Report(Code::kStructure, "empty arrays are not allowed in FHIR JSON");
        return;
      }
      if (f.max != kUnbounded && a.size() > f.max) {
        Report(Code::kStructure, Quote(key) + " has " + std::to_string(a.size()) +
                                     " values, at most " + std::to_string(f.max) + " allowed");
      }
      const json::array* ext = nullptr;
      bool ext_looked = false;
      for (size_t i = 0; i < a.size(); ++i) {
        SetIndex(static_cast<int64_t>(i));
        if (a[i].is_null()) {
          if (f.kind == Schema::Kind::kPrimitive) {
            if (!ext_looked) {
              ext_looked = true;
              std::string ek = "_" + std::string(key);  // only on arrays with nulls
              if (const json::value* e = o.if_contains(ek); e != nullptr && e->is_array()) {
                ext = &e->get_array();
              }
            }
            if (ext == nullptr || i >= ext->size() || (*ext)[i].is_null()) {
              Report(Code::kStructure, "null is only allowed where the '_" + std::string(key) +
                                           "' array has a value");
            }
          } else {
            Report(Code::kStructure, "null is not allowed here");
          }
          continue;
        }
        Item(f, a[i]);
      }
      SetIndex(-1);
      return;
    }
    if (v.is_array()) {
      Report(Code::kStructure, Quote(key) + " must be a single value, not an array");
      return;
    }
    if (v.is_null()) {
      Report(Code::kStructure, "null is not allowed here");
      return;
    }
    Item(f, v);
  }

  // `_key` (primitive extension) of field f.
  void PrimitiveExtension(const Field& f, const json::value& v, const json::object& o,
                          std::string_view name) {
    if (f.max > 1) {
      if (!v.is_array()) {
        Report(Code::kStructure, "'_" + std::string(name) + "' must be a JSON array, not " +
                                     std::string(KindName(v)));
        return;
      }
      const json::array& a = v.get_array();
      const json::value* val = o.if_contains(name);
      const json::array* va = val != nullptr && val->is_array() ? &val->get_array() : nullptr;
      if (a.empty()) {
        Report(Code::kStructure, "empty arrays are not allowed in FHIR JSON");
        return;
      }
      if (va != nullptr && va->size() != a.size()) {
        Report(Code::kStructure, "'_" + std::string(name) + "' has " + std::to_string(a.size()) +
                                     " entries but " + Quote(name) + " has " +
                                     std::to_string(va->size()));
      }
      for (size_t i = 0; i < a.size(); ++i) {
        SetIndex(static_cast<int64_t>(i));
        if (a[i].is_null()) {
          if (va == nullptr || i >= va->size() || (*va)[i].is_null()) {
            Report(Code::kStructure, "null in '_" + std::string(name) +
                                         "' where the value array has no value either");
          }
          continue;
        }
        ElementObject(a[i], name);
      }
      SetIndex(-1);
      return;
    }
    ElementObject(v, name);
  }

  void ElementObject(const json::value& v, std::string_view name) {
    if (!v.is_object()) {
      Report(Code::kStructure, "'_" + std::string(name) +
                                   "' must hold JSON objects (id, extension), not " +
                                   std::string(KindName(v)));
      return;
    }
    Object(*s_.element_node, v.get_object());
  }

  void Item(const Field& f, const json::value& v) {
    switch (f.kind) {
      case Schema::Kind::kPrimitive:
        Primitive(f, v);
        return;
      case Schema::Kind::kResource:
        Resource(v, f.def->name == "contained");
        return;
      case Schema::Kind::kComplex:
        break;
    }
    if (!v.is_object()) {
      Report(Code::kStructure, "must be a JSON object (" + std::string(f.type_name) + "), not " +
                                   std::string(KindName(v)) + " " + Quote(v));
      return;
    }
    const json::object& o = v.get_object();
    Object(*f.node, o);
    if (f.is_reference) Reference(f, o);
    if (f.vs != nullptr && opts_.check_required_bindings) {
      if (f.is_coding) {
        Coding(*f.vs, o);
      } else if (f.is_concept) {
        if (const json::value* c = o.if_contains("coding"); c != nullptr && c->is_array()) {
          Push("coding");
          for (size_t i = 0; i < c->get_array().size(); ++i) {
            const json::value& cv = c->get_array()[i];
            if (!cv.is_object()) continue;
            SetIndex(static_cast<int64_t>(i));
            Coding(*f.vs, cv.get_object());
          }
          Pop();
        }
      }
    }
  }

  void Coding(const Schema::ValueSet& vs, const json::object& o) {
    const json::value* sys = o.if_contains("system");
    const json::value* code = o.if_contains("code");
    if (sys == nullptr || code == nullptr || !sys->is_string() || !code->is_string()) return;
    auto it = vs.by_system.find(std::string_view(sys->get_string()));
    if (it == vs.by_system.end()) return;
    if (!it->second.contains(std::string_view(code->get_string()))) {
      Push("code");
      Report(Code::kCodeInvalid, Quote(std::string_view(code->get_string())) +
                                     " is not a valid code in " + std::string(sys->get_string()) +
                                     " for this element");
      Pop();
    }
  }

  void Reference(const Field& f, const json::object& o) {
    const json::value* rv = o.if_contains("reference");
    if (rv == nullptr || !rv->is_string()) return;
    std::string_view ref = rv->get_string();
    if (ref.empty() || ref[0] == '#' || ref.starts_with("urn:uuid:") ||
        ref.starts_with("urn:oid:") || ref.find("://") != std::string_view::npos) {
      return;
    }
    size_t end = ref.find_first_of("/?");
    if (end == std::string_view::npos) {
      Push("reference");
      Report(Code::kValue, Quote(ref) +
                               " is not a valid reference (expected Type/id, an absolute URL, "
                               "#id or urn:uuid:)");
      Pop();
      return;
    }
    std::string_view type = ref.substr(0, end);
    if (s_.resources.find(type) == s_.resources.end()) {
      Push("reference");
      Report(Code::kValue,
             "reference to unknown resource type " + Quote(type) + " in " + Quote(ref));
      Pop();
      return;
    }
    if (ref[end] == '/') {
      std::string_view rest = ref.substr(end + 1);
      std::string_view id = rest.substr(0, rest.find('/'));
      if (!IdFormat(id)) {
        Push("reference");
        Report(Code::kValue, Quote(ref) + ": " + Quote(id) + " is not a valid resource id");
        Pop();
        return;
      }
    }
    const auto& targets = f.def->target_types;
    if (targets.empty()) return;
    for (const auto& t : targets) {
      if (t == type || t == "Resource") return;
    }
    std::string allowed;
    for (const auto& t : targets) allowed += (allowed.empty() ? "" : ", ") + t;
    Push("reference");
    Report(Code::kValue, Quote(ref) + ": a reference to " + std::string(type) +
                             " is not allowed here (allowed: " + allowed + ")");
    Pop();
  }

  void Primitive(const Field& f, const json::value& v) {
    Prim p = f.prim;
    switch (p) {
      case Prim::kBoolean:
        if (!v.is_bool()) Bad(p, v, "must be JSON true or false");
        return;
      case Prim::kInteger:
      case Prim::kPositiveInt:
      case Prim::kUnsignedInt: {
        int64_t lo = p == Prim::kInteger ? INT32_MIN : p == Prim::kPositiveInt ? 1 : 0;
        if (v.is_int64()) {
          int64_t x = v.get_int64();
          if (x < lo || x > INT32_MAX) Bad(p, v, "out of range");
        } else if (v.is_uint64()) {
          Bad(p, v, "out of range");
        } else {
          Bad(p, v, "must be a JSON integer");
        }
        return;
      }
      case Prim::kDecimal:
        if (!v.is_number()) Bad(p, v, "must be a JSON number");
        return;
      default:
        break;
    }
    if (!v.is_string()) {
      Bad(p, v, "must be a JSON string");
      return;
    }
    std::string_view s = v.get_string();
    if (s.empty()) {
      Report(Code::kValue, "empty strings are not allowed in FHIR JSON");
      return;
    }
    if (!NoControlChars(s)) {
      Bad(p, v, "contains control characters");
      return;
    }
    if (!StringValueOk(p, s)) {
      Bad(p, v, {});
      return;
    }
    if (p == Prim::kCode && f.vs != nullptr && opts_.check_required_bindings &&
        !f.vs->codes.contains(s)) {
      Report(Code::kCodeInvalid, Quote(s) + " is not one of the codes allowed for " + f.def->name +
                                     " (value set " + f.def->value_set + ")");
    }
  }

  void Bad(Prim p, const json::value& v, std::string_view why) {
    std::string msg = Quote(v) + " is not a valid " + std::string(PrimName(p));
    if (!why.empty()) msg.append(" (").append(why).append(")");
    Report(Code::kValue, std::move(msg));
  }

  const Schema& s_;
  const ValidationOptions& opts_;
  Status& out_;
  std::array<Seg, Validator::kMaxDepth + 2> path_{};
  size_t depth_ = 0;
  bool stopped_ = false;
};

}  // namespace

Validator::Validator(std::shared_ptr<const Definitions> defs, ValidationOptions opts)
    : defs_(std::move(defs)), opts_(opts) {
  auto s = std::make_unique<Schema>();
  s->defs = defs_.get();
  for (const std::string& name : defs_->ResourceTypeNames()) {
    const TypeDef* t = defs_->FindType(name);
    if (t != nullptr) s->resources[t->name] = s->NodeFor(t, 0);
  }
  // `_x` objects: the Element shape (id, extension).
  if (const TypeDef* el = defs_->FindType("Element"); el != nullptr) {
    s->element_node = s->NodeFor(el, 0);
  }
  schema_ = std::move(s);
}

Validator::~Validator() = default;

Status Validator::Validate(const json::value& resource) const {
  Status st;
  Run run(*schema_, opts_, st);
  run.TopLevel(resource);
  return st;
}

bool MatchesPrimitiveFormat(std::string_view type, std::string_view s) {
  DateParts d;
  if (type == "date") return DateFormat(s, &d);
  if (type == "dateTime") return DateTimeFormat(s, &d);
  if (type == "instant") return InstantFormat(s, &d);
  if (type == "time") return TimeFormat(s);
  if (type == "id") return IdFormat(s);
  if (type == "code") return CodeFormat(s);
  if (type == "uri" || type == "url" || type == "canonical") return NoSpaceFormat(s);
  if (type == "oid") return OidFormat(s);
  if (type == "uuid") return UuidFormat(s);
  if (type == "base64Binary") return Base64Format(s);
  if (type == "string" || type == "markdown") return StringFormat(s);
  if (type == "integer") return IntegerFormat(s, true, true);
  if (type == "unsignedInt") return IntegerFormat(s, false, true);
  if (type == "positiveInt") return IntegerFormat(s, false, false);
  if (type == "decimal") return DecimalFormat(s);
  if (type == "boolean") return s == "true" || s == "false";
  return true;
}

}  // namespace benhan::fhir
