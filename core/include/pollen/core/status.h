// Status and Result<T>: the one error model of every Pollen API.
//
// A Status is either OK or a code plus a message written for the person who
// has to act on it ("array 'fc1.weight': .npy data is 12 bytes, header needs
// 16"). Result<T> holds a T or a non-OK Status. Both are [[nodiscard]].
#ifndef POLLEN_CORE_STATUS_H_
#define POLLEN_CORE_STATUS_H_

#include <cassert>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace pollen {

// Codes follow gRPC's canonical set so transport errors map one to one.
enum class StatusCode {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

// Returns the upper-case name of `code`, e.g. "INVALID_ARGUMENT".
std::string_view status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message);

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns a copy whose message is "<context>: <message>".
  Status with_context(std::string_view context) const;

  // "INVALID_ARGUMENT: <message>", or "OK".
  std::string to_string() const;

  // Marks a status as deliberately ignored.
  void ignore() const {}

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

std::ostream& operator<<(std::ostream& os, const Status& status);

// Shorthands for the common codes.
Status invalid_argument(std::string message);
Status data_loss(std::string message);
Status not_found(std::string message);
Status failed_precondition(std::string message);
Status out_of_range(std::string message);
Status internal_error(std::string message);
Status unimplemented(std::string message);
Status unavailable(std::string message);
Status cancelled(std::string message);
Status resource_exhausted(std::string message);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    assert(!status_.ok() && "Result needs a value or a non-OK status");
    if (status_.ok()) status_ = internal_error("Result built from an OK status without a value");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  // Precondition: ok().
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace pollen

#define POLLEN_CONCAT_INNER_(a, b) a##b
#define POLLEN_CONCAT_(a, b) POLLEN_CONCAT_INNER_(a, b)

// Returns the Status of `expr` from the enclosing function when it is not OK.
#define POLLEN_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::pollen::Status pollen_status_ = (expr);        \
    if (!pollen_status_.ok()) return pollen_status_; \
  } while (0)

// Evaluates `rexpr` (a Result<T>); on error returns its Status, else moves
// the value into `lhs` (a declaration such as `auto x` or an lvalue).
#define POLLEN_ASSIGN_OR_RETURN(lhs, rexpr) \
  POLLEN_ASSIGN_OR_RETURN_IMPL_(POLLEN_CONCAT_(pollen_result_, __LINE__), lhs, rexpr)

#define POLLEN_ASSIGN_OR_RETURN_IMPL_(result, lhs, rexpr) \
  auto result = (rexpr);                                  \
  if (!result.ok()) return result.status();               \
  lhs = std::move(result).value()

#endif  // POLLEN_CORE_STATUS_H_
