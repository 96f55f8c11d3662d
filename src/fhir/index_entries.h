// IndexEntries: the search-index rows of one resource version, produced by fhir/indexer from the
// official SearchParameter expressions and written by the store in the same commit as the version.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace benhan::fhir {

// The derived parameter code under which component `k` (2 or 3) of composite parameter `code` is
// indexed when its first component has the key `first` (token: "code|system"; reference:
// "Type/id" or the URL; string: folded): "code-value-quantity$8480-6|http://loinc.org".
inline std::string CompositeCode(std::string_view code, int k, std::string_view first) {
  std::string out(code);
  out += '$';
  if (k > 2) {
    out += std::to_string(k);
    out += '$';
  }
  out += first;
  return out;
}

struct IndexEntries {
  struct String {
    std::string param;
    std::string folded;
    std::string exact;
  };
  struct Token {
    std::string param;
    std::string system;
    std::string code;
    std::string text;
  };
  struct Reference {
    std::string param;
    std::string target_type;
    std::string target_id;
    std::string url;
  };
  struct Date {
    std::string param;
    int64_t low;
    int64_t high;
  };  // [low, high) epoch µs
  struct Number {
    std::string param;
    double value;
  };
  // A quantity is keyed by its comparable form: for a UCUM unit, the canonical dimension key
  // ("ucum:g.m-3") and the value in canonical units; otherwise its code (or unit text) and value.
  struct Quantity {
    std::string param;
    double value;  // as written
    std::string system;
    std::string code;
    std::string unit;
    std::string unit_key;
    double canonical;
  };
  struct Uri {
    std::string param;
    std::string uri;
  };

  std::vector<String> strings;
  std::vector<Token> tokens;
  std::vector<Reference> references;
  std::vector<Date> dates;
  std::vector<Number> numbers;
  std::vector<Quantity> quantities;
  std::vector<Uri> uris;

  size_t size() const {
    return strings.size() + tokens.size() + references.size() + dates.size() + numbers.size() +
           quantities.size() + uris.size();
  }
};

}  // namespace benhan::fhir
