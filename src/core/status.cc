#include "core/status.h"

namespace benhan {

int HttpStatusOf(Code code) {
  switch (code) {
#define BENHAN_ERROR(name, http, issue, action, vi) \
  case Code::name:                                  \
    return http;
#include "core/error_codes.def"
#undef BENHAN_ERROR
  }
  return 500;
}

std::string_view IssueCodeOf(Code code) {
  switch (code) {
#define BENHAN_ERROR(name, http, issue, action, vi) \
  case Code::name:                                  \
    return issue;
#include "core/error_codes.def"
#undef BENHAN_ERROR
  }
  return "exception";
}

std::string_view CodeName(Code code) {
  switch (code) {
#define BENHAN_ERROR(name, http, issue, action, vi) \
  case Code::name:                                  \
    return #name;
#include "core/error_codes.def"
#undef BENHAN_ERROR
  }
  return "kUnknown";
}

std::string_view VietnameseTextOf(Code code) {
  switch (code) {
#define BENHAN_ERROR(name, http, issue, action, vi) \
  case Code::name:                                  \
    return vi;
#include "core/error_codes.def"
#undef BENHAN_ERROR
  }
  return "Lỗi";
}

Status::Status(Code code, std::string message, std::string expression) {
  if (code == Code::kOk) return;
  issues_.push_back(Issue{code, "error", std::move(message), std::move(expression)});
}

const std::string& Status::message() const {
  static const std::string kEmpty;
  return issues_.empty() ? kEmpty : issues_.front().message;
}

Status& Status::WithContext(std::string_view context) {
  if (!issues_.empty()) {
    issues_.front().message = std::string(context) + ": " + issues_.front().message;
  }
  return *this;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out;
  for (const auto& i : issues_) {
    if (!out.empty()) out += "; ";
    out += std::string(CodeName(i.code)) + ": " + i.message;
    if (!i.expression.empty()) out += " (at " + i.expression + ")";
  }
  return out;
}

}  // namespace benhan
