// fhir::Serialize / SerializeStamped: string escaping (the SSE2 scan in AppendString) agrees with
// boost::json's own serializer for every length and every position of a character to escape.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "fhir/resource.h"

namespace json = boost::json;

namespace benhan::fhir {
namespace {

TEST(Serialize, EscapesLikeBoostJsonAtEveryPositionAndLength) {
  const std::string specials[] = {
      "\"",   "\\",   "\n",   "\r",       "\t",           "\b", "\f", std::string(1, '\0'),
      "\x01", "\x1f", "\x7f", "\xc3\xa1", "\xe1\xbb\x85", " "};
  for (size_t len = 0; len <= 48; ++len) {
    for (size_t pos = 0; pos <= len; ++pos) {
      for (const auto& sp : specials) {
        std::string s(len, 'a');
        for (size_t i = 0; i < len; ++i) s[i] = static_cast<char>('a' + i % 26);
        s.insert(pos, sp);
        json::value v = json::string(s);
        std::string ours = Serialize(v);
        // Same text back, and the same escaping as boost::json for what JSON requires.
        EXPECT_EQ(json::parse(ours).as_string(), s) << "len " << len << " pos " << pos;
        if (sp != "\x7f" && sp[0] != '\xc3' && sp[0] != '\xe1') {
          EXPECT_EQ(ours, json::serialize(v)) << "len " << len << " pos " << pos;
        }
      }
    }
  }
}

TEST(Serialize, ManyEscapesInALongString) {
  std::string s;
  for (int i = 0; i < 200; ++i) s += (i % 7 == 0) ? "\"" : (i % 11 == 0 ? "\\" : "x\n");
  json::value v = json::string(s);
  EXPECT_EQ(Serialize(v), json::serialize(v));
}

TEST(Serialize, StampedKeepsEscapedContent) {
  json::object o{{"resourceType", "Patient"},
                 {"name", json::array{json::object{{"text", "A \"B\"\n"}}}}};
  std::string out = SerializeStamped(o, "p1", 1, 0);
  json::value back = json::parse(out);
  EXPECT_EQ(back.at("id").as_string(), "p1");
  EXPECT_EQ(back.at("name").at(0).at("text").as_string(), "A \"B\"\n");
}

}  // namespace
}  // namespace benhan::fhir
