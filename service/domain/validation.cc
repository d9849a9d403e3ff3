#include "service/domain/validation.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "util/absl_compat.h"
#include "util/status_macros.h"

namespace ecsimage::domain {
namespace {

bool StartsWithUrl(std::string_view s) {
  return absl::StartsWithIgnoreCase(AV(s), "http://") ||
         absl::StartsWithIgnoreCase(AV(s), "https://");
}

}  // namespace

absl::Status Require(std::string_view name, std::string_view value) {
  if (value.empty()) return Error(Err::kMissingParameter).Param(name);
  return absl::OkStatus();
}

absl::Status CheckRegion(storage::ReadTxn& txn, std::string_view region_id) {
  RETURN_IF_ERROR(Require("RegionId", region_id));
  // Region ids are short words; anything else cannot exist.
  bool plausible = region_id.size() <= 64;
  if (plausible) {
    ASSIGN_OR_RETURN(bool exists, txn.RegionExists(std::string(region_id)));
    if (exists) return absl::OkStatus();
  }
  return Error(Err::kInvalidRegionIdNotFound)
      .Meta("regionId", plausible ? region_id : region_id.substr(0, 64))
      .Resource("region", plausible ? region_id : region_id.substr(0, 64));
}

bool IsValidName(std::string_view name) {
  if (name.size() < 2 || name.size() > 128) return false;
  if (!absl::ascii_isalpha(static_cast<unsigned char>(name[0]))) return false;
  if (StartsWithUrl(name)) return false;
  for (char c : name) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
          c == '_' || c == ':' || c == '-')) {
      return false;
    }
  }
  return true;
}

bool IsValidDescription(std::string_view description) {
  if (description.size() < 2 || description.size() > 256) return false;
  return !StartsWithUrl(description);
}

absl::Status CheckOptionalName(std::string_view param, std::string_view name,
                               Err malformed) {
  if (name.empty() || IsValidName(name)) return absl::OkStatus();
  return Error(malformed).Param(
      param,
      "2-128 characters, starting with a letter, [A-Za-z0-9._:-], not "
      "http:// or https://");
}

absl::Status CheckOptionalDescription(std::string_view param,
                                      std::string_view description,
                                      Err malformed) {
  if (description.empty() || IsValidDescription(description)) {
    return absl::OkStatus();
  }
  return Error(malformed).Param(
      param, "2-256 characters, not starting with http:// or https://");
}

absl::Status CheckClientToken(std::string_view token) {
  if (token.size() > 64) {
    return Error(Err::kInvalidParameter)
        .Param("ClientToken", "at most 64 ASCII characters");
  }
  for (char c : token) {
    if (c < 0x21 || c > 0x7e) {
      return Error(Err::kInvalidParameter)
          .Param("ClientToken", "printable ASCII characters only");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Page> CheckPage(int32_t page_number, int32_t page_size) {
  Page page;
  if (page_number < 0) {
    return Error(Err::kInvalidParameter).Param("PageNumber", "must be >= 1");
  }
  if (page_number > 0) page.number = page_number;
  if (page_size < 0 || page_size > 100) {
    return Error(Err::kInvalidParameter).Param("PageSize", "must be 1-100");
  }
  if (page_size > 0) page.size = page_size;
  return page;
}

absl::StatusOr<std::vector<std::string>> SplitList(std::string_view param,
                                                   std::string_view value,
                                                   size_t max_items) {
  std::vector<std::string> items;
  if (value.empty()) return items;
  for (absl::string_view part : absl::StrSplit(AV(value), ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (part.empty()) {
      return Error(Err::kInvalidParameter).Param(param, "empty list item");
    }
    items.emplace_back(part);
    if (items.size() > max_items) {
      return Error(Err::kInvalidParameter)
          .Param(param, "too many items in the list");
    }
  }
  return items;
}

absl::Status CheckOneOf(std::string_view param, std::string_view value,
                        const std::vector<std::string_view>& allowed) {
  for (auto a : allowed) {
    if (a == value) return absl::OkStatus();
  }
  return Error(Err::kInvalidParameter)
      .Param(param, "not one of the documented values");
}

const std::vector<std::string_view>& ImageStatuses() {
  static const auto* const kStatuses = new std::vector<std::string_view>{
      "Waiting",     "Creating",     "Available",
      "UnAvailable", "CreateFailed", "Deprecated"};
  return *kStatuses;
}

}  // namespace ecsimage::domain
