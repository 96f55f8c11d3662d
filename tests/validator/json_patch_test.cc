// RFC 6902 JSON Patch: the FHIR test cases (fhir-test-cases/r4/patch/json-patch-tests.json, which
// hold RFC 6902 appendix A) and our own table of edge cases.
#include "fhir/json_patch.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <boost/json.hpp>

namespace json = boost::json;
namespace fs = std::filesystem;

namespace benhan::fhir {
namespace {

// Each case: doc, patch, and either expected (the result) or error (a Code name).
void RunCases(const json::array& cases) {
  for (const auto& cv : cases) {
    const json::object& c = cv.as_object();
    SCOPED_TRACE(std::string(c.at("comment").as_string()));
    json::value doc = c.at("doc");
    const json::value before = doc;
    Status st = ApplyJsonPatch(c.at("patch"), doc);
    if (const json::value* want = c.if_contains("expected")) {
      EXPECT_TRUE(st.ok()) << st.ToString();
      EXPECT_EQ(doc, *want) << json::serialize(doc);
    } else {
      EXPECT_FALSE(st.ok());
      EXPECT_EQ(doc, before) << "target changed by a failed patch";
      if (const json::value* code = c.if_contains("code")) {
        EXPECT_EQ(CodeName(st.code()), code->as_string()) << st.ToString();
      }
    }
  }
}

TEST(JsonPatch, FhirTestCases) {
  fs::path f = fs::path(BENHAN_SHARED_DATA) / "fhir-test-cases/r4/patch/json-patch-tests.json";
  if (!fs::exists(f)) GTEST_SKIP() << "shared data not found: " << f;
  std::ifstream in(f);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  json::value cases = json::parse(text);
  ASSERT_GE(cases.as_array().size(), 16u);
  RunCases(cases.as_array());
}

// RFC 6902 appendix A (A.13, duplicate "op", is a JSON parser matter) and edge cases.
constexpr const char* kCases = R"([
 {"comment": "A.1 add object member", "doc": {"foo": "bar"},
  "patch": [{"op": "add", "path": "/baz", "value": "qux"}], "expected": {"baz": "qux", "foo": "bar"}},
 {"comment": "A.2 add array element", "doc": {"foo": ["bar", "baz"]},
  "patch": [{"op": "add", "path": "/foo/1", "value": "qux"}], "expected": {"foo": ["bar", "qux", "baz"]}},
 {"comment": "A.3 remove object member", "doc": {"baz": "qux", "foo": "bar"},
  "patch": [{"op": "remove", "path": "/baz"}], "expected": {"foo": "bar"}},
 {"comment": "A.4 remove array element", "doc": {"foo": ["bar", "qux", "baz"]},
  "patch": [{"op": "remove", "path": "/foo/1"}], "expected": {"foo": ["bar", "baz"]}},
 {"comment": "A.5 replace", "doc": {"baz": "qux", "foo": "bar"},
  "patch": [{"op": "replace", "path": "/baz", "value": "boo"}], "expected": {"baz": "boo", "foo": "bar"}},
 {"comment": "A.6 move", "doc": {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
  "patch": [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
  "expected": {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}},
 {"comment": "A.7 move array element", "doc": {"foo": ["all", "grass", "cows", "eat"]},
  "patch": [{"op": "move", "from": "/foo/1", "path": "/foo/3"}], "expected": {"foo": ["all", "cows", "eat", "grass"]}},
 {"comment": "A.8 test success", "doc": {"baz": "qux", "foo": ["a", 2, "c"]},
  "patch": [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
  "expected": {"baz": "qux", "foo": ["a", 2, "c"]}},
 {"comment": "A.9 test failure", "doc": {"baz": "qux"},
  "patch": [{"op": "test", "path": "/baz", "value": "bar"}], "code": "kProcessing"},
 {"comment": "A.10 add nested member object", "doc": {"foo": "bar"},
  "patch": [{"op": "add", "path": "/child", "value": {"grandchild": {}}}], "expected": {"foo": "bar", "child": {"grandchild": {}}}},
 {"comment": "A.11 ignore unrecognized members", "doc": {"foo": "bar"},
  "patch": [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}], "expected": {"foo": "bar", "baz": "qux"}},
 {"comment": "A.12 add to a non-existent target", "doc": {"foo": "bar"},
  "patch": [{"op": "add", "path": "/baz/bat", "value": "qux"}], "code": "kProcessing"},
 {"comment": "A.14 ~ escape ordering", "doc": {"/": 9, "~1": 10},
  "patch": [{"op": "test", "path": "/~01", "value": 10}], "expected": {"/": 9, "~1": 10}},
 {"comment": "A.15 strings and numbers differ", "doc": {"/": 9, "~1": 10},
  "patch": [{"op": "test", "path": "/~01", "value": "10"}], "code": "kProcessing"},
 {"comment": "A.16 add an array value", "doc": {"foo": ["bar"]},
  "patch": [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}], "expected": {"foo": ["bar", ["abc", "def"]]}},
 {"comment": "~1 escape in add", "doc": {},
  "patch": [{"op": "add", "path": "/a~1b", "value": 1}], "expected": {"a/b": 1}},
 {"comment": "empty key", "doc": {"": 1},
  "patch": [{"op": "replace", "path": "/", "value": 2}], "expected": {"": 2}},
 {"comment": "replace the whole document", "doc": {"a": 1},
  "patch": [{"op": "replace", "path": "", "value": [1]}], "expected": [1]},
 {"comment": "add replaces an existing member", "doc": {"a": 1},
  "patch": [{"op": "add", "path": "/a", "value": 2}], "expected": {"a": 2}},
 {"comment": "add at the end index", "doc": [1, 2],
  "patch": [{"op": "add", "path": "/2", "value": 3}], "expected": [1, 2, 3]},
 {"comment": "add past the end", "doc": [1, 2],
  "patch": [{"op": "add", "path": "/3", "value": 3}], "code": "kProcessing"},
 {"comment": "leading zero index", "doc": [1, 2],
  "patch": [{"op": "remove", "path": "/01"}], "code": "kProcessing"},
 {"comment": "remove missing member", "doc": {"a": 1},
  "patch": [{"op": "remove", "path": "/b"}], "code": "kProcessing"},
 {"comment": "replace missing member", "doc": {"a": 1},
  "patch": [{"op": "replace", "path": "/b", "value": 1}], "code": "kProcessing"},
 {"comment": "remove with '-' index", "doc": [1],
  "patch": [{"op": "remove", "path": "/-"}], "code": "kProcessing"},
 {"comment": "copy", "doc": {"a": {"b": [1, 2]}},
  "patch": [{"op": "copy", "from": "/a/b", "path": "/c"}], "expected": {"a": {"b": [1, 2]}, "c": [1, 2]}},
 {"comment": "copy from missing", "doc": {"a": 1},
  "patch": [{"op": "copy", "from": "/x", "path": "/c"}], "code": "kProcessing"},
 {"comment": "move into own child", "doc": {"a": {"b": 1}},
  "patch": [{"op": "move", "from": "/a", "path": "/a/c"}], "code": "kInvalid"},
 {"comment": "move to itself", "doc": {"a": 1},
  "patch": [{"op": "move", "from": "/a", "path": "/a"}], "expected": {"a": 1}},
 {"comment": "test deep equality ignores member order", "doc": {"a": {"x": 1, "y": [1, {"z": null}]}},
  "patch": [{"op": "test", "path": "/a", "value": {"y": [1, {"z": null}], "x": 1}}],
  "expected": {"a": {"x": 1, "y": [1, {"z": null}]}}},
 {"comment": "test array order matters", "doc": {"a": [1, 2]},
  "patch": [{"op": "test", "path": "/a", "value": [2, 1]}], "code": "kProcessing"},
 {"comment": "test numbers by value", "doc": {"a": 1},
  "patch": [{"op": "test", "path": "/a", "value": 1.0}], "expected": {"a": 1}},
 {"comment": "test missing path", "doc": {"a": 1},
  "patch": [{"op": "test", "path": "/b", "value": 1}], "code": "kProcessing"},
 {"comment": "atomic: a later failure undoes earlier ops", "doc": {"a": 1},
  "patch": [{"op": "add", "path": "/b", "value": 2}, {"op": "test", "path": "/a", "value": 3}], "code": "kProcessing"},
 {"comment": "unknown op", "doc": {}, "patch": [{"op": "merge", "path": "/a"}], "code": "kInvalid"},
 {"comment": "missing op", "doc": {}, "patch": [{"path": "/a"}], "code": "kInvalid"},
 {"comment": "missing path", "doc": {}, "patch": [{"op": "remove"}], "code": "kInvalid"},
 {"comment": "missing value", "doc": {}, "patch": [{"op": "add", "path": "/a"}], "code": "kInvalid"},
 {"comment": "null is a value", "doc": {}, "patch": [{"op": "add", "path": "/a", "value": null}], "expected": {"a": null}},
 {"comment": "missing from", "doc": {"a": 1}, "patch": [{"op": "move", "path": "/b"}], "code": "kInvalid"},
 {"comment": "pointer without leading slash", "doc": {"a": 1}, "patch": [{"op": "remove", "path": "a"}], "code": "kInvalid"},
 {"comment": "bad escape", "doc": {"a": 1}, "patch": [{"op": "remove", "path": "/~2"}], "code": "kInvalid"},
 {"comment": "operation not an object", "doc": {}, "patch": [1], "code": "kInvalid"},
 {"comment": "patch not an array", "doc": {}, "patch": {"op": "add", "path": "/a", "value": 1}, "code": "kInvalid"},
 {"comment": "FHIR: replace a nested primitive", "doc": {"resourceType": "Patient", "name": [{"given": ["A", "B"]}]},
  "patch": [{"op": "replace", "path": "/name/0/given/1", "value": "C"}],
  "expected": {"resourceType": "Patient", "name": [{"given": ["A", "C"]}]}}
])";

TEST(JsonPatch, OwnCases) { RunCases(json::parse(kCases).as_array()); }

TEST(JsonPatch, ErrorNamesTheOperationIndex) {
  json::value doc = json::parse(R"({"a": 1})");
  Status st = ApplyJsonPatch(
      json::parse(R"([{"op":"test","path":"/a","value":1},{"op":"bogus","path":"/a"}])"), doc);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("operation 1"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace benhan::fhir
