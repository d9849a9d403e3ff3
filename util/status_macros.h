// Tiny status helpers: Abseil 20220623 ships no RETURN_IF_ERROR.
#ifndef ECSIMAGE_UTIL_STATUS_MACROS_H_
#define ECSIMAGE_UTIL_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define ECS_CONCAT_INNER_(a, b) a##b
#define ECS_CONCAT_(a, b) ECS_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function when `expr` is not OK.
#define RETURN_IF_ERROR(expr)                  \
  do {                                         \
    ::absl::Status ecs_status_ = (expr);       \
    if (!ecs_status_.ok()) return ecs_status_; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, StatusOrExpr());`
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL_(ECS_CONCAT_(ecs_statusor_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                           \
  if (!tmp.ok()) return tmp.status();          \
  lhs = std::move(tmp).value()

#endif  // ECSIMAGE_UTIL_STATUS_MACROS_H_
