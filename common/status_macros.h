// RETURN_IF_ERROR / ASSIGN_OR_RETURN: Debian's Abseil 20220623 ships none.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define EW_CONCAT_INNER_(a, b) a##b
#define EW_CONCAT_(a, b) EW_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function when `expr` is not OK.
#define RETURN_IF_ERROR(expr)                \
  do {                                       \
    ::absl::Status ew_status_ = (expr);      \
    if (!ew_status_.ok()) return ew_status_; \
  } while (false)

// ASSIGN_OR_RETURN(auto x, F()): binds the value, or returns the error.
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  EW_ASSIGN_OR_RETURN_IMPL_(EW_CONCAT_(ew_statusor_, __LINE__), lhs, rexpr)

#define EW_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                              \
  if (!statusor.ok()) return statusor.status();         \
  lhs = std::move(statusor).value()
