// The hand-coded primitive format checkers must agree with HL7's regexes
// (Definitions::PrimitiveRegex) on every sample below, valid and invalid.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "fhir/validator.h"

namespace benhan::fhir {
namespace {

struct Samples {
  const char* type;
  std::vector<std::string> values;
};

// Samples without control characters: those are excluded by FHIR's string rule, which the
// validator applies to all string-based types on top of the format.
const std::vector<Samples>& AllSamples() {
  static const std::vector<Samples> k = {
      {"date", {"2019",       "2019-01",
                "2019-01-31", "2019-02-30",
                "0000",       "0001",
                "1000",       "2019-00",
                "2019-13",    "2019-1",
                "2019-01-00", "2019-01-32",
                "19",         "2019-01-01T10:00:00Z",
                "2019-",      "2019-01-",
                " 2019",      "2019/01/01",
                "",           "9999-12-31",
                "2019-01-1",  "20190101"}},
      {"dateTime",
       {"2019",
        "2019-01",
        "2019-01-31",
        "2019-01-31T10:00:00Z",
        "2019-01-31T10:00:00+07:00",
        "2019-01-31T10:00:00.123-05:00",
        "2019-01-31T10:00:00",
        "2019-01-31T10:00Z",
        "2019-01-31T24:00:00Z",
        "2019-01-31T23:59:60Z",
        "2019-01-31T23:59:61Z",
        "2019-01-31T10:00:00+14:00",
        "2019-01-31T10:00:00+14:30",
        "2019-01-31T10:00:00+13:59",
        "2019-01-31T10:00:00+7:00",
        "2019-01T10:00:00Z",
        "2019T10:00:00Z",
        "2019-01-31T10:00:00.Z",
        "2019-01-31 10:00:00Z",
        "2019-01-31T10:00:00z",
        "2019-01-31T10:00:00ZZ",
        "0000-01-01",
        "2019-01-31T10:00:00+0700",
        "2019-01-31T"}},
      {"instant",
       {"2019-01-31T10:00:00Z", "2019-01-31T10:00:00.5+01:00", "2019-01-31", "2019-01-31T10:00:00",
        "2019-01T10:00:00Z", "2019-01-31T10:00:00.000Z", "2019-01-31T1:00:00Z"}},
      {"time",
       {"10:00:00", "23:59:60", "24:00:00", "10:00", "10:00:00.1", "10:00:00.", "10:00:00Z",
        "1:00:00", "10:60:00"}},
      {"id",
       {"a", "abc-123.X", std::string(64, 'a'), std::string(65, 'a'), "", "a_b", "a b", "a/b", "é",
        "123"}},
      {"code",
       {"a", "a b", "a  b", " a", "a ", "a\tb", "a\t\tb", "", "male", "x-y|z", "a\nb", "a \nb"}},
      {"uri", {"http://x.org/a", "urn:oid:1.2", "a b", "", "relative/path", "http://x.org/a\t"}},
      {"url", {"http://x.org/a", "a b", "mailto:a@b.c"}},
      {"canonical", {"http://x.org/fhir/ValueSet/a|1.0", "a b"}},
      {"oid",
       {"urn:oid:1.2.3", "urn:oid:2.16.840.1.113883", "urn:oid:3.1", "urn:oid:1", "urn:oid:1.",
        "urn:oid:1.02", "urn:oid:1.0", "urn:oid:1.0.0", "1.2.3", "urn:oid:1..2", "urn:oid:"}},
      {"uuid",
       {"urn:uuid:c757873d-ec9a-4326-a141-556f43239520",
        "urn:uuid:C757873D-EC9A-4326-A141-556F43239520", "c757873d-ec9a-4326-a141-556f43239520",
        "urn:uuid:c757873d-ec9a-4326-a141-556f4323952",
        "urn:uuid:c757873dec9a-4326-a141-556f43239520-", "urn:uuid:"}},
      {"base64Binary",
       {"aGVsbG8=", "aGVs bG8=", "aGV sbG8=", "aGVsbG8", "", "    ", " aGVs ",
        "aGVs\nbG8=", "a===", "====", "aGVsbG8=!", "aGVsbG8=aGVs"}},
      {"string", {"a", " a ", "a\tb\r\nc", "", "tiếng Việt", "a\vb", "a\fb", " "}},
      {"markdown", {"# title\n\n*x*", ""}},
      {"integer", {"0", "-0", "1", "-1", "01", "+1", "1.0", "", "-", "2147483648", "1e3"}},
      {"unsignedInt", {"0", "1", "01", "-1", "00", ""}},
      {"positiveInt", {"1", "10", "0", "01", "-1", ""}},
      {"decimal",
       {"0", "-0", "1.5", "-1.50", "1e10", "1.5E-3", "1.", ".5", "01", "1e", "+1", "0.0", "1e+5",
        "", "-"}},
      {"boolean", {"true", "false", "True", "1", ""}},
  };
  return k;
}

TEST(PrimitiveFormat, AgreesWithHl7Regexes) {
  auto defs = Definitions::LoadEmbedded();
  ASSERT_TRUE(defs.ok());
  size_t checked = 0;
  for (const auto& s : AllSamples()) {
    const std::string* rx = (*defs)->PrimitiveRegex(s.type);
    ASSERT_NE(rx, nullptr) << s.type;
    std::regex re(*rx, std::regex::ECMAScript);
    for (const auto& v : s.values) {
      bool want = std::regex_match(v, re);
      EXPECT_EQ(MatchesPrimitiveFormat(s.type, v), want)
          << s.type << " '" << v << "' (HL7 regex " << *rx << " says " << want << ")";
      ++checked;
    }
  }
  EXPECT_GT(checked, 150u);
}

TEST(PrimitiveFormat, EveryTypeWithARegexHasSamples) {
  auto defs = Definitions::LoadEmbedded();
  ASSERT_TRUE(defs.ok());
  for (const char* t : {"base64Binary", "boolean", "canonical", "code", "date", "dateTime",
                        "decimal", "id", "instant", "integer", "markdown", "oid", "positiveInt",
                        "string", "time", "unsignedInt", "uri", "url", "uuid"}) {
    EXPECT_NE((*defs)->PrimitiveRegex(t), nullptr) << t;
    bool has = false;
    for (const auto& s : AllSamples()) has |= std::string(s.type) == t;
    EXPECT_TRUE(has) << "no samples for " << t;
  }
}

}  // namespace
}  // namespace benhan::fhir
