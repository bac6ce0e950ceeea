// Status helpers: the installed Abseil (20220623) has no RETURN_IF_ERROR / ASSIGN_OR_RETURN, so
// they are defined here, once. Fallible functions return absl::Status or absl::StatusOr<T>; no
// exceptions cross a function boundary (CONTRIBUTING.md "Errors are values").
#ifndef MECAI_COMMON_BASE_STATUS_H_
#define MECAI_COMMON_BASE_STATUS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

// Evaluates `expr` (an absl::Status); returns it from the enclosing function if not OK.
#define RETURN_IF_ERROR(expr)                      \
  do {                                             \
    ::absl::Status mecai_status_ = (expr);         \
    if (!mecai_status_.ok()) return mecai_status_; \
  } while (0)

#define MECAI_STATUS_CONCAT_INNER_(a, b) a##b
#define MECAI_STATUS_CONCAT_(a, b) MECAI_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::StatusOr<T>); on error returns its status, else moves the value into
// `lhs`, which may be a declaration ("auto x") or an existing variable.
#define ASSIGN_OR_RETURN(lhs, expr) \
  MECAI_ASSIGN_OR_RETURN_IMPL_(MECAI_STATUS_CONCAT_(mecai_statusor_, __LINE__), lhs, expr)

#define MECAI_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr)  \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

namespace mecai {

// Returns `status` with `context` prepended to its message ("context: message"), same code.
inline absl::Status Annotate(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(context, ": ", status.message()));
}

}  // namespace mecai

#endif  // MECAI_COMMON_BASE_STATUS_H_
