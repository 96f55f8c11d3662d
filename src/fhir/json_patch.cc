#include "fhir/json_patch.h"

#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

namespace json = boost::json;

namespace benhan::fhir {
namespace {

// A parsed JSON Pointer: its reference tokens, unescaped.
struct Pointer {
  std::vector<std::string> tokens;
};

// RFC 6901: "" is the whole document; otherwise "/" followed by tokens, "~0" -> "~", "~1" -> "/".
bool ParsePointer(std::string_view s, Pointer* out) {
  out->tokens.clear();
  if (s.empty()) return true;
  if (s[0] != '/') return false;
  size_t i = 1;
  std::string tok;
  for (;;) {
    if (i >= s.size() || s[i] == '/') {
      out->tokens.push_back(std::move(tok));
      tok.clear();
      if (i >= s.size()) break;
      ++i;
      continue;
    }
    if (s[i] == '~') {
      if (i + 1 >= s.size() || (s[i + 1] != '0' && s[i + 1] != '1')) return false;
      tok.push_back(s[i + 1] == '0' ? '~' : '/');
      i += 2;
      continue;
    }
    tok.push_back(s[i++]);
  }
  return true;
}

// Array index token: "0" or digits without a leading zero. "-" is handled by callers.
bool ParseIndex(const std::string& tok, size_t* out) {
  if (tok.empty() || tok.size() > 18) return false;
  if (tok.size() > 1 && tok[0] == '0') return false;
  size_t v = 0;
  for (char c : tok) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<size_t>(c - '0');
  }
  *out = v;
  return true;
}

std::string Op(size_t i) { return "patch operation " + std::to_string(i) + ": "; }

// Resolves all tokens; nullptr if the location does not exist.
json::value* Resolve(json::value& doc, const Pointer& p, size_t ntokens) {
  json::value* cur = &doc;
  for (size_t k = 0; k < ntokens; ++k) {
    const std::string& tok = p.tokens[k];
    if (cur->is_object()) {
      cur = cur->get_object().if_contains(tok);
      if (cur == nullptr) return nullptr;
    } else if (cur->is_array()) {
      size_t idx = 0;
      if (!ParseIndex(tok, &idx) || idx >= cur->get_array().size()) return nullptr;
      cur = &cur->get_array()[idx];
    } else {
      return nullptr;
    }
  }
  return cur;
}

class Applier {
 public:
  Applier(json::value& doc, size_t index) : doc_(doc), i_(index) {}

  Status Add(const Pointer& p, json::value v) {
    if (p.tokens.empty()) {
      doc_ = std::move(v);
      return Status::Ok();
    }
    json::value* parent = Resolve(doc_, p, p.tokens.size() - 1);
    if (parent == nullptr) return NotFound("the parent of 'path' does not exist");
    const std::string& last = p.tokens.back();
    if (parent->is_object()) {
      parent->get_object()[last] = std::move(v);
      return Status::Ok();
    }
    if (parent->is_array()) {
      json::array& a = parent->get_array();
      if (last == "-") {
        a.push_back(std::move(v));
        return Status::Ok();
      }
      size_t idx = 0;
      if (!ParseIndex(last, &idx)) return NotFound("'" + last + "' is not an array index");
      if (idx > a.size()) return NotFound("array index " + last + " is out of bounds");
      a.insert(a.begin() + static_cast<std::ptrdiff_t>(idx), std::move(v));
      return Status::Ok();
    }
    return NotFound("the parent of 'path' is not an object or array");
  }

  // Removes and returns the value at p.
  Status Remove(const Pointer& p, json::value* removed) {
    if (p.tokens.empty()) {
      if (removed != nullptr) *removed = std::move(doc_);
      doc_ = nullptr;
      return Status::Ok();
    }
    json::value* parent = Resolve(doc_, p, p.tokens.size() - 1);
    if (parent == nullptr) return NotFound("path does not exist");
    const std::string& last = p.tokens.back();
    if (parent->is_object()) {
      json::object& o = parent->get_object();
      auto it = o.find(last);
      if (it == o.end()) return NotFound("path does not exist");
      if (removed != nullptr) *removed = std::move(it->value());
      o.erase(it);
      return Status::Ok();
    }
    if (parent->is_array()) {
      json::array& a = parent->get_array();
      size_t idx = 0;
      if (!ParseIndex(last, &idx) || idx >= a.size()) return NotFound("path does not exist");
      if (removed != nullptr) *removed = std::move(a[idx]);
      a.erase(a.begin() + static_cast<std::ptrdiff_t>(idx));
      return Status::Ok();
    }
    return NotFound("path does not exist");
  }

  Status NotFound(const std::string& what) const {
    return Status(Code::kProcessing, Op(i_) + what);
  }

 private:
  json::value& doc_;
  size_t i_;
};

Status ApplyOne(const json::value& opv, size_t i, json::value& doc) {
  if (!opv.is_object()) return Status(Code::kInvalid, Op(i) + "must be a JSON object");
  const json::object& op = opv.get_object();
  const json::value* opname = op.if_contains("op");
  const json::value* path = op.if_contains("path");
  if (opname == nullptr || !opname->is_string()) {
    return Status(Code::kInvalid, Op(i) + "missing or non-string 'op'");
  }
  if (path == nullptr || !path->is_string()) {
    return Status(Code::kInvalid, Op(i) + "missing or non-string 'path'");
  }
  std::string_view name = opname->get_string();
  Pointer p;
  if (!ParsePointer(path->get_string(), &p)) {
    return Status(Code::kInvalid, Op(i) + "'path' is not a valid JSON Pointer: '" +
                                      std::string(path->get_string()) + "'");
  }
  const json::value* value = op.if_contains("value");
  auto need_value = [&]() -> Status {
    if (value == nullptr)
      return Status(Code::kInvalid, Op(i) + "'" + std::string(name) + "' needs a 'value'");
    return Status::Ok();
  };
  Pointer from;
  auto need_from = [&]() -> Status {
    const json::value* f = op.if_contains("from");
    if (f == nullptr || !f->is_string()) {
      return Status(Code::kInvalid, Op(i) + "'" + std::string(name) + "' needs a string 'from'");
    }
    if (!ParsePointer(f->get_string(), &from)) {
      return Status(Code::kInvalid, Op(i) + "'from' is not a valid JSON Pointer: '" +
                                        std::string(f->get_string()) + "'");
    }
    return Status::Ok();
  };
  Applier a(doc, i);
  if (name == "add") {
    RETURN_IF_ERROR(need_value());
    return a.Add(p, *value);
  }
  if (name == "remove") return a.Remove(p, nullptr);
  if (name == "replace") {
    RETURN_IF_ERROR(need_value());
    json::value* target = Resolve(doc, p, p.tokens.size());
    if (target == nullptr) return a.NotFound("path does not exist");
    *target = *value;
    return Status::Ok();
  }
  if (name == "move") {
    RETURN_IF_ERROR(need_from());
    // "from" must not be a proper prefix of "path" (a value cannot move into its own child).
    if (from.tokens.size() < p.tokens.size() &&
        std::equal(from.tokens.begin(), from.tokens.end(), p.tokens.begin())) {
      return Status(Code::kInvalid, Op(i) + "cannot move a value into one of its children");
    }
    if (Resolve(doc, from, from.tokens.size()) == nullptr)
      return a.NotFound("'from' does not exist");
    if (from.tokens == p.tokens) return Status::Ok();
    json::value moved;
    RETURN_IF_ERROR(a.Remove(from, &moved));
    return a.Add(p, std::move(moved));
  }
  if (name == "copy") {
    RETURN_IF_ERROR(need_from());
    json::value* src = Resolve(doc, from, from.tokens.size());
    if (src == nullptr) return a.NotFound("'from' does not exist");
    json::value copy = *src;
    return a.Add(p, std::move(copy));
  }
  if (name == "test") {
    RETURN_IF_ERROR(need_value());
    json::value* target = Resolve(doc, p, p.tokens.size());
    if (target == nullptr) return a.NotFound("path does not exist");
    // boost::json equality is deep; object member order does not matter. Numbers compare by
    // value across int64/uint64/double representations.
    bool equal = *target == *value;
    if (!equal && target->is_number() && value->is_number()) {
      equal = target->to_number<double>() == value->to_number<double>();
    }
    if (!equal) {
      return Status(Code::kProcessing,
                    Op(i) + "test failed: value at '" + std::string(path->get_string()) + "' is " +
                        json::serialize(*target) + ", not " + json::serialize(*value));
    }
    return Status::Ok();
  }
  return Status(Code::kInvalid, Op(i) + "unknown op '" + std::string(name) + "'");
}

}  // namespace

Status ApplyJsonPatch(const json::value& patch, json::value& target) {
  if (!patch.is_array()) {
    return Status(Code::kInvalid, "a JSON Patch document must be a JSON array of operations");
  }
  // Work on a copy so that a failure leaves `target` unchanged.
  json::value doc = target;
  const json::array& ops = patch.get_array();
  for (size_t i = 0; i < ops.size(); ++i) {
    RETURN_IF_ERROR(ApplyOne(ops[i], i, doc));
  }
  target = std::move(doc);
  return Status::Ok();
}

}  // namespace benhan::fhir
