// Debian 12 builds Abseil with its own absl::string_view (not an alias of
// std::string_view), so the two do not convert implicitly. Use AV() where a
// std::string_view meets an Abseil API.
#ifndef ECSIMAGE_UTIL_ABSL_COMPAT_H_
#define ECSIMAGE_UTIL_ABSL_COMPAT_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace ecsimage {

inline absl::string_view AV(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

}  // namespace ecsimage

#endif  // ECSIMAGE_UTIL_ABSL_COMPAT_H_
