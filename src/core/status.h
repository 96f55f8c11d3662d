// Status and Result<T>: how errors cross module boundaries in benhan.
//
// A Status is a code from error_codes.def, a message for humans, and optionally the FHIRPath
// location (`expression`) of the element at fault plus further issues. Statuses are values:
// copyable, thread-compatible (no shared state). Exceptions are only for bugs.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace benhan {

enum class Code {
#define BENHAN_ERROR(name, http, issue, action, vi) name,
#include "core/error_codes.def"
#undef BENHAN_ERROR
};

// The HTTP status and OperationOutcome issue.code for each Code: the one mapping table.
int HttpStatusOf(Code code);
std::string_view IssueCodeOf(Code code);
std::string_view CodeName(Code code);
// Short Vietnamese text for users ("Không tìm thấy"), from the same table.
std::string_view VietnameseTextOf(Code code);

// One problem found in the input. `severity` is "error", "warning" or "information".
struct Issue {
  Code code = Code::kInvalid;
  std::string severity = "error";
  std::string message;
  std::string expression;  // FHIRPath of the element, e.g. "Patient.birthDate"; may be empty
};

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message, std::string expression = {});
  static Status Ok() { return Status(); }

  bool ok() const { return issues_.empty(); }
  // The code of the first error issue (kOk when ok()).
  Code code() const { return issues_.empty() ? Code::kOk : issues_.front().code; }
  const std::string& message() const;
  const std::vector<Issue>& issues() const { return issues_; }

  // Adds another issue (e.g. a second validation error). An ok Status becomes an error.
  void AddIssue(Issue issue) { issues_.push_back(std::move(issue)); }
  // Prefixes the message of the first issue with `context` ("entry 3: ...").
  Status& WithContext(std::string_view context);
  std::string ToString() const;

 private:
  std::vector<Issue> issues_;
};

// Result<T>: a T or an error Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).ok()); }  // NOLINT
  bool ok() const { return v_.index() == 0; }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace benhan

#define BENHAN_CONCAT_INNER(a, b) a##b
#define BENHAN_CONCAT(a, b) BENHAN_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function if `expr` is an error.
#define RETURN_IF_ERROR(expr)      \
  do {                             \
    ::benhan::Status _st = (expr); \
    if (!_st.ok()) return _st;     \
  } while (0)

// ASSIGN_OR_RETURN(auto x, Fn()): unwraps a Result or returns its Status.
#define ASSIGN_OR_RETURN(lhs, expr)                                                         \
  auto BENHAN_CONCAT(_res_, __LINE__) = (expr);                                             \
  if (!BENHAN_CONCAT(_res_, __LINE__).ok()) return BENHAN_CONCAT(_res_, __LINE__).status(); \
  lhs = std::move(BENHAN_CONCAT(_res_, __LINE__)).value()
