// data-plane.md §1: a backend that holds image bytes never starts on a
// database whose finished images have none ("data is never invented": a
// database made on the simulated backend, a wrong or empty --data-root).
#ifndef ECSIMAGE_SERVICE_DOMAIN_DATA_PRESENCE_H_
#define ECSIMAGE_SERVICE_DOMAIN_DATA_PRESENCE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "service/backend/backend.h"
#include "storage/image_store.h"

namespace ecsimage::domain {

struct DataPresence {
  int64_t checked = 0;  // live custom images that are Available/Deprecated
  int64_t missing = 0;  // of them, without data
  std::vector<std::string> examples;  // "<region>/<image>", the first few
};

// Asks `backend` about every live custom image that is Available or
// Deprecated, walking the store by rowid in pages of `page_size` read
// transactions. An image found without data is read again in a fresh
// transaction and asked again before it counts (another replica may have
// deleted it, and its data after the tombstone, meanwhile).
// With an `index` (Backend::IndexImageData), an image it lists is not
// asked about one by one.
absl::StatusOr<DataPresence> CheckImageData(
    storage::Store& store, const backend::Backend& backend,
    int64_t page_size = 1000, const backend::ImageDataIndex* index = nullptr);

// One slice of the same walk, for the background check: at most `limit`
// finished images after rowid `after`. `missing`: those without data (read
// again and asked again, as above); `next`: where the next slice starts (0
// once the walk reached the end: start again).
struct DataCheckSlice {
  int64_t checked = 0;
  std::vector<storage::ImageRow> missing;
  int64_t next = 0;
};
absl::StatusOr<DataCheckSlice> CheckImageDataSlice(
    storage::Store& store, const backend::Backend& backend, int64_t after,
    int64_t limit, const backend::ImageDataIndex* index = nullptr);

// The refusal serve prints when `presence.missing` > 0.
std::string MissingDataMessage(const DataPresence& presence);

}  // namespace ecsimage::domain

#endif  // ECSIMAGE_SERVICE_DOMAIN_DATA_PRESENCE_H_
