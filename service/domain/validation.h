// Parameter rules of the ECS API (api.md §1): required parameters, names,
// descriptions, paging, comma lists, ClientToken, enumerated words. Each
// returns OK or the catalog error naming the parameter.
#ifndef ECSIMAGE_SERVICE_DOMAIN_VALIDATION_H_
#define ECSIMAGE_SERVICE_DOMAIN_VALIDATION_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "service/domain/errors.h"
#include "storage/image_store.h"

namespace ecsimage::domain {

// MissingParameter "<name>" when `value` is empty.
absl::Status Require(std::string_view name, std::string_view value);

// RegionId present and known (InvalidRegionId.NotFound otherwise).
absl::Status CheckRegion(storage::ReadTxn& txn, std::string_view region_id);

// Names: 2-128, starts with a letter, not http(s)://, [A-Za-z0-9._:-].
bool IsValidName(std::string_view name);
// Descriptions: 2-256, not starting http(s)://.
bool IsValidDescription(std::string_view description);

// An image name if given: `malformed` when invalid. Empty is OK.
absl::Status CheckOptionalName(std::string_view param, std::string_view name,
                               Err malformed);
absl::Status CheckOptionalDescription(std::string_view param,
                                      std::string_view description,
                                      Err malformed);

// ClientToken: at most 64 printable ASCII characters (InvalidParameter).
absl::Status CheckClientToken(std::string_view token);

struct Page {
  int32_t number = 1;
  int32_t size = 10;
  int64_t offset() const { return int64_t{number - 1} * size; }
};
// PageNumber >= 1 (0 = 1), PageSize 1..100 (0 = 10); InvalidParameter else.
absl::StatusOr<Page> CheckPage(int32_t page_number, int32_t page_size);

// "a,b,c" -> {"a","b","c"}; blanks around items are trimmed, empty items
// rejected; more than `max_items` is InvalidParameter.
absl::StatusOr<std::vector<std::string>> SplitList(std::string_view param,
                                                   std::string_view value,
                                                   size_t max_items);

// `value` must be one of `allowed` (InvalidParameter otherwise).
absl::Status CheckOneOf(std::string_view param, std::string_view value,
                        const std::vector<std::string_view>& allowed);

// Image statuses of api.md §3.
const std::vector<std::string_view>& ImageStatuses();

}  // namespace ecsimage::domain

#endif  // ECSIMAGE_SERVICE_DOMAIN_VALIDATION_H_
