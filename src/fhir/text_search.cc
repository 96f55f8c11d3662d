#include "fhir/text_search.h"

#include <boost/json.hpp>

#include "core/text.h"

namespace json = boost::json;

namespace benhan::fhir {
namespace {

bool IsWordByte(unsigned char c) { return std::isalnum(c) || c >= 0x80; }

// XHTML narrative to plain text: tags become spaces, the common entities are decoded.
std::string StripMarkup(std::string_view div) {
  std::string out;
  out.reserve(div.size());
  for (size_t i = 0; i < div.size(); ++i) {
    char c = div[i];
    if (c == '<') {
      size_t close = div.find('>', i);
      if (close == std::string_view::npos) break;
      out += ' ';
      i = close;
    } else if (c == '&') {
      size_t semi = div.find(';', i);
      if (semi == std::string_view::npos || semi - i > 10) {
        out += c;
        continue;
      }
      std::string_view ent = div.substr(i + 1, semi - i - 1);
      if (ent == "amp")
        out += '&';
      else if (ent == "lt")
        out += '<';
      else if (ent == "gt")
        out += '>';
      else if (ent == "quot")
        out += '"';
      else if (ent == "apos")
        out += '\'';
      else
        out += ' ';  // &nbsp; and numeric references: a separator is enough for search
      i = semi;
    } else {
      out += c;
    }
  }
  return out;
}

void CollectStrings(const json::value& v, std::string& out) {
  switch (v.kind()) {
    case json::kind::string:
      out += v.get_string();
      out += ' ';
      break;
    case json::kind::array:
      for (const auto& e : v.get_array()) CollectStrings(e, out);
      break;
    case json::kind::object:
      for (const auto& kv : v.get_object()) {
        if (kv.key() == "div" && kv.value().is_string()) {
          out += StripMarkup(kv.value().get_string());
          out += ' ';
        } else if (kv.key() != "resourceType") {
          CollectStrings(kv.value(), out);
        }
      }
      break;
    default:
      break;
  }
}

}  // namespace

std::string SearchableText(std::string_view resource_json, bool narrative_only) {
  json::error_code ec;
  json::value v = json::parse(resource_json, ec);
  if (ec || !v.is_object()) return {};
  std::string raw;
  if (narrative_only) {
    const auto* t = v.get_object().if_contains("text");
    const auto* div = t && t->is_object() ? t->get_object().if_contains("div") : nullptr;
    if (div == nullptr || !div->is_string()) return {};
    raw = StripMarkup(div->get_string());
  } else {
    CollectStrings(v, raw);
  }
  return text::Fold(raw);
}

bool WordsMatch(std::string_view text, std::string_view query) {
  bool any = false;
  size_t i = 0;
  while (i < query.size()) {
    while (i < query.size() && !IsWordByte(static_cast<unsigned char>(query[i]))) ++i;
    size_t start = i;
    while (i < query.size() && IsWordByte(static_cast<unsigned char>(query[i]))) ++i;
    if (i == start) break;
    std::string_view word = query.substr(start, i - start);
    any = true;
    bool found = false;
    for (size_t p = text.find(word); p != std::string_view::npos; p = text.find(word, p + 1)) {
      if (p == 0 || !IsWordByte(static_cast<unsigned char>(text[p - 1]))) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return any;
}

}  // namespace benhan::fhir
