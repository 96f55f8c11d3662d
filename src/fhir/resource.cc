#include "fhir/resource.h"

#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <memory>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/clock.h"

namespace json = boost::json;

namespace benhan::fhir {

namespace {

// Numbers as FHIR expects them: integers as integers, decimals in the shortest form that reads back
// to the same double, without an exponent for ordinary magnitudes (36.6, not 3.66E1).
void AppendNumber(const json::value& v, std::string& out) {
  char buf[64];
  if (v.is_int64()) {
    auto r = std::to_chars(buf, buf + sizeof buf, v.get_int64());
    out.append(buf, r.ptr);
    return;
  }
  if (v.is_uint64()) {
    auto r = std::to_chars(buf, buf + sizeof buf, v.get_uint64());
    out.append(buf, r.ptr);
    return;
  }
  double d = v.get_double();
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  double a = std::fabs(d);
  auto r = (a != 0 && (a < 1e-6 || a >= 1e21))
               ? std::to_chars(buf, buf + sizeof buf, d)
               : std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed);
  out.append(buf, r.ptr);
}

// The position of the first character at or after `i` that JSON must escape (a control
// character, '"' or '\\'), or s.size(). 16 bytes at a time with SSE2: stored JSON is mostly
// string contents, and almost none of them needs escaping.
size_t NextToEscape(std::string_view s, size_t i) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i max_control = _mm_set1_epi8(0x1f);
  for (; i + 16 <= s.size(); i += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
    // Unsigned v <= 0x1f exactly when min(v, 0x1f) == v.
    __m128i hit = _mm_cmpeq_epi8(_mm_min_epu8(v, max_control), v);
    hit = _mm_or_si128(hit, _mm_cmpeq_epi8(v, quote));
    hit = _mm_or_si128(hit, _mm_cmpeq_epi8(v, backslash));
    if (int mask = _mm_movemask_epi8(hit)) return i + static_cast<size_t>(__builtin_ctz(mask));
  }
  if (i < s.size() && s.size() >= 16) {  // the tail: the last 16 bytes, lanes before i ignored
    size_t base = s.size() - 16;
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + base));
    __m128i hit = _mm_cmpeq_epi8(_mm_min_epu8(v, max_control), v);
    hit = _mm_or_si128(hit, _mm_cmpeq_epi8(v, quote));
    hit = _mm_or_si128(hit, _mm_cmpeq_epi8(v, backslash));
    unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(hit)) >> (i - base);
    return mask ? i + static_cast<size_t>(__builtin_ctz(mask)) : s.size();
  }
#endif
  for (; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == '"' || c == '\\') return i;
  }
  return s.size();
}

void AppendString(std::string_view s, std::string& out) {
  static const char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run = 0;
  for (size_t i = NextToEscape(s, 0); i < s.size(); i = NextToEscape(s, i + 1)) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        out += "\\u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

void Write(const json::value& v, std::string& out, int indent) {
  auto newline = [&](int n) {
    if (indent < 0) return;
    out.push_back('\n');
    out.append(static_cast<size_t>(n) * 2, ' ');
  };
  switch (v.kind()) {
    case json::kind::object: {
      const auto& o = v.get_object();
      if (o.empty()) {
        out += "{}";
        return;
      }
      out.push_back('{');
      bool first = true;
      for (const auto& kv : o) {
        if (!first) out.push_back(',');
        first = false;
        newline(indent + 1);
        AppendString(kv.key(), out);
        out += indent < 0 ? ":" : ": ";
        Write(kv.value(), out, indent < 0 ? -1 : indent + 1);
      }
      newline(indent);
      out.push_back('}');
      return;
    }
    case json::kind::array: {
      const auto& a = v.get_array();
      if (a.empty()) {
        out += "[]";
        return;
      }
      out.push_back('[');
      bool first = true;
      for (const auto& e : a) {
        if (!first) out.push_back(',');
        first = false;
        newline(indent + 1);
        Write(e, out, indent < 0 ? -1 : indent + 1);
      }
      newline(indent);
      out.push_back(']');
      return;
    }
    case json::kind::string:
      AppendString(v.get_string(), out);
      return;
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      AppendNumber(v, out);
      return;
    case json::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      return;
    case json::kind::null:
      out += "null";
      return;
  }
}

void AddSubsettedTag(json::object& o) {
  json::object& meta = o["meta"].is_object() ? o["meta"].get_object() : o["meta"].emplace_object();
  json::array& tags =
      meta["tag"].is_array() ? meta["tag"].get_array() : meta["tag"].emplace_array();
  tags.push_back(
      json::object{{"system", "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"},
                   {"code", "SUBSETTED"},
                   {"display", "Resource encoded in summary mode"}});
}

}  // namespace

std::string Serialize(const json::value& v, bool pretty) {
  std::string out;
  out.reserve(1024);
  Write(v, out, pretty ? 0 : -1);
  if (pretty) out.push_back('\n');
  return out;
}

std::string SerializeStamped(const json::object& resource, std::string_view id, int64_t version,
                             int64_t last_updated_us, size_t* last_updated_offset) {
  std::string out;
  out.reserve(2048);
  out.push_back('{');
  if (const auto* rt = resource.if_contains("resourceType")) {
    out += "\"resourceType\":";
    Write(*rt, out, -1);
    out.push_back(',');
  }
  out += "\"id\":";
  AppendString(id, out);
  out += ",\"meta\":{";
  if (const auto* m = resource.if_contains("meta"); m && m->is_object()) {
    for (const auto& kv : m->get_object()) {
      if (kv.key() == "versionId" || kv.key() == "lastUpdated") continue;
      AppendString(kv.key(), out);
      out.push_back(':');
      Write(kv.value(), out, -1);
      out.push_back(',');
    }
  }
  out += "\"versionId\":";
  AppendString(std::to_string(version), out);
  out += ",\"lastUpdated\":";
  if (last_updated_offset) *last_updated_offset = out.size() + 1;  // after the opening quote
  AppendString(FormatInstant(last_updated_us), out);
  out.push_back('}');
  for (const auto& kv : resource) {
    if (kv.key() == "resourceType" || kv.key() == "id" || kv.key() == "meta") continue;
    out.push_back(',');
    AppendString(kv.key(), out);
    out.push_back(':');
    Write(kv.value(), out, -1);
  }
  out.push_back('}');
  return out;
}

Result<SummaryMode> ParseSummary(std::string_view s) {
  if (s == "true") return SummaryMode::kTrue;
  if (s == "false") return SummaryMode::kFalse;
  if (s == "text") return SummaryMode::kText;
  if (s == "data") return SummaryMode::kData;
  if (s == "count") return SummaryMode::kCount;
  return Status(Code::kInvalid,
                "_summary must be true, false, text, data or count, not '" + std::string(s) + "'",
                "_summary");
}

json::value Subset(const json::value& resource, SummaryMode mode,
                   const std::vector<std::string>& elements, const Definitions& defs) {
  if (!resource.is_object()) return resource;
  const json::object& in = resource.get_object();
  if (mode == SummaryMode::kFalse && elements.empty()) return resource;
  std::string_view type =
      in.contains("resourceType") ? std::string_view(in.at("resourceType").get_string()) : "";
  const TypeDef* td = defs.FindType(type);
  json::object out;
  for (const auto& kv : in) {
    std::string_view key = kv.key();
    bool keep = false;
    if (key == "resourceType" || key == "id" || key == "meta") {
      keep = true;
    } else if (!elements.empty()) {
      std::string_view base = key.front() == '_' ? key.substr(1) : key;
      for (const auto& e : elements) {
        if (e == base) keep = true;
      }
      ChildRef c = td ? defs.FindChild(*td, 0, base) : ChildRef{};
      // A choice element is named without its type: _elements=effective keeps effectiveDateTime.
      if (!keep && c && c.def().is_choice) {
        for (const auto& e : elements) {
          if (e == c.def().name) keep = true;
        }
      }
      // Mandatory elements are always returned.
      if (!keep && c && c.def().min > 0) keep = true;
    } else if (mode == SummaryMode::kData) {
      keep = key != "text";
    } else if (mode == SummaryMode::kText) {
      keep = key == "text";
      if (!keep && td) {
        ChildRef c = defs.FindChild(*td, 0, key.front() == '_' ? key.substr(1) : key);
        keep = c && c.def().min > 0;
      }
    } else if (mode == SummaryMode::kTrue) {
      if (td) {
        ChildRef c = defs.FindChild(*td, 0, key.front() == '_' ? key.substr(1) : key);
        keep = c && (c.def().summary || c.def().min > 0);
      }
    }
    if (keep) out.emplace(key, kv.value());
  }
  AddSubsettedTag(out);
  return out;
}

namespace {

std::string LineColumn(std::string_view text, size_t offset) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(col) + " (byte " +
         std::to_string(offset) + ")";
}

// The position of the first of `chars` (up to 5 distinct characters) at or after `i` in `s`, or
// s.size(). 16 bytes at a time with SSE2 (JSON text is mostly string contents and indentation).
template <char... C>
size_t FindAny(std::string_view s, size_t i) {
#if defined(__SSE2__)
  for (; i + 16 <= s.size(); i += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
    __m128i hit = _mm_setzero_si128();
    ((hit = _mm_or_si128(hit, _mm_cmpeq_epi8(v, _mm_set1_epi8(C)))), ...);
    if (int mask = _mm_movemask_epi8(hit)) return i + static_cast<size_t>(__builtin_ctz(mask));
  }
#endif
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (((c == C) || ...)) return i;
  }
  return s.size();
}

// In well-formed JSON text, the offset of the first key that repeats a key of the same object
// (compared as written), or npos. One pass; keys of all open objects share one vector.
size_t FindDuplicateKey(std::string_view s, std::string_view* key) {
  std::vector<std::string_view> keys;
  std::vector<size_t> frames;  // per open container: index into keys where its keys start, or npos
  constexpr size_t kArray = std::string_view::npos;
  for (size_t i = FindAny<'"', '{', '}', '[', ']'>(s, 0); i < s.size();
       i = FindAny<'"', '{', '}', '[', ']'>(s, i + 1)) {
    char c = s[i];
    if (c == '"') {
      size_t start = i + 1;
      i = FindAny<'"', '\\'>(s, start);
      while (i < s.size() && s[i] == '\\') i = FindAny<'"', '\\'>(s, i + 2);
      if (i >= s.size()) break;
      if (frames.empty() || frames.back() == kArray) continue;
      size_t j = i + 1;
      while (j < s.size() && (s[j] == ' ' || s[j] == '\n' || s[j] == '\r' || s[j] == '\t')) ++j;
      if (j >= s.size() || s[j] != ':') continue;  // a value, not a key
      std::string_view k = s.substr(start, i - start);
      for (size_t n = frames.back(); n < keys.size(); ++n) {
        if (keys[n] == k) {
          *key = k;
          return start - 1;
        }
      }
      keys.push_back(k);
      i = j;  // the ':'
    } else if (c == '{') {
      frames.push_back(keys.size());
    } else if (c == '[') {
      frames.push_back(kArray);
    } else if (!frames.empty()) {  // '}' or ']'
      if (frames.back() != kArray) keys.resize(frames.back());
      frames.pop_back();
    }
  }
  return std::string_view::npos;
}

}  // namespace

Status ParseJson(std::string_view body, json::value* out) {
  return ParseJson(body, out, json::make_shared_resource<json::monotonic_resource>());
}

Status ParseJson(std::string_view body, json::value* out, json::storage_ptr storage) {
  json::parse_options po;
  po.max_depth = 256;
  // The constructor's storage is for the parser's own temporaries; reset() names the storage of
  // the resulting tree (without it the tree is allocated node by node with malloc).
  json::stream_parser p(json::storage_ptr(), po);
  p.reset(std::move(storage));
  boost::system::error_code ec;
  size_t used = p.write_some(body.data(), body.size(), ec);
  if (!ec && used < body.size()) {
    // Only whitespace may follow the value.
    for (size_t i = used; i < body.size(); ++i) {
      char c = body[i];
      if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
        ec = json::make_error_code(json::error::extra_data);
        used = i;
        break;
      }
    }
  }
  if (!ec && !p.done()) {
    p.finish(ec);
    used = body.size();
  }
  if (ec) {
    return Status(Code::kInvalid,
                  "the body is not valid JSON: " + ec.message() + " at " + LineColumn(body, used));
  }
  // FHIR JSON forbids repeated keys; the parser would silently keep the last one.
  std::string_view dup;
  if (size_t at = FindDuplicateKey(body, &dup); at != std::string_view::npos) {
    return Status(Code::kInvalid, "the body repeats the key \"" + std::string(dup) +
                                      "\" in one object at " + LineColumn(body, at));
  }
  // Not `*out = p.release()`: assignment keeps *out's storage and so would copy the whole tree out
  // of the arena, node by node, into the default (malloc) storage.
  json::value parsed = p.release();
  std::destroy_at(out);
  std::construct_at(out, std::move(parsed));
  return Status::Ok();
}

json::object MakeOperationOutcome(const Status& status, std::string_view ok_message) {
  json::array issues;
  if (status.ok()) {
    issues.push_back(json::object{{"severity", "information"},
                                  {"code", "informational"},
                                  {"diagnostics", ok_message.empty() ? "OK" : ok_message}});
  }
  for (const auto& i : status.issues()) {
    json::object o;
    o["severity"] = i.severity;
    o["code"] = IssueCodeOf(i.code);
    o["details"] = json::object{{"text", VietnameseTextOf(i.code)}};  // Vietnamese first, for users
    o["diagnostics"] = i.message;
    if (!i.expression.empty()) o["expression"] = json::array{json::string(i.expression)};
    issues.push_back(std::move(o));
  }
  return json::object{{"resourceType", "OperationOutcome"}, {"issue", std::move(issues)}};
}

}  // namespace benhan::fhir
