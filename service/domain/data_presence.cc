#include "service/domain/data_presence.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "util/status_macros.h"

namespace ecsimage::domain {
namespace {

constexpr size_t kExamples = 5;

bool IsFinished(const storage::ImageRow& image) {
  return !image.deleted_at_ms.has_value() && !image.is_system &&
         (image.status == "Available" || image.status == "Deprecated");
}

// Still live, finished and without data in a fresh transaction: the image
// as read then.
absl::StatusOr<std::optional<storage::ImageRow>> StillMissing(
    storage::Store& store, const backend::Backend& backend, int64_t rowid) {
  std::optional<storage::ImageRow> image;
  RETURN_IF_ERROR(
      store.RunInReadTransaction([&](storage::ReadTxn& txn) -> absl::Status {
        ASSIGN_OR_RETURN(image, txn.GetImageByRowid(rowid));
        return absl::OkStatus();
      }));
  if (!image.has_value() || !IsFinished(*image) ||
      backend.HasImageData(image->region_id, image->image_id)) {
    return std::nullopt;
  }
  return image;
}

}  // namespace

absl::StatusOr<DataCheckSlice> CheckImageDataSlice(
    storage::Store& store, const backend::Backend& backend, int64_t after,
    int64_t limit, const backend::ImageDataIndex* index) {
  DataCheckSlice slice;
  std::vector<storage::ImageRow> page;
  RETURN_IF_ERROR(
      store.RunInReadTransaction([&](storage::ReadTxn& txn) -> absl::Status {
        ASSIGN_OR_RETURN(page, txn.ListFinishedCustomImages(after, limit));
        return absl::OkStatus();
      }));
  for (const storage::ImageRow& image : page) {
    ++slice.checked;
    if (index != nullptr && index->Has(image.region_id, image.image_id)) {
      continue;
    }
    if (backend.HasImageData(image.region_id, image.image_id)) continue;
    ASSIGN_OR_RETURN(std::optional<storage::ImageRow> missing,
                     StillMissing(store, backend, image.rowid));
    if (missing.has_value()) slice.missing.push_back(*std::move(missing));
  }
  slice.next = static_cast<int64_t>(page.size()) < limit || page.empty()
                   ? 0
                   : page.back().rowid;
  return slice;
}

absl::StatusOr<DataPresence> CheckImageData(
    storage::Store& store, const backend::Backend& backend, int64_t page_size,
    const backend::ImageDataIndex* index) {
  DataPresence presence;
  int64_t after = 0;
  do {
    ASSIGN_OR_RETURN(
        DataCheckSlice slice,
        CheckImageDataSlice(store, backend, after, page_size, index));
    presence.checked += slice.checked;
    for (const storage::ImageRow& image : slice.missing) {
      ++presence.missing;
      if (presence.examples.size() < kExamples) {
        presence.examples.push_back(
            absl::StrCat(image.region_id, "/", image.image_id));
      }
    }
    after = slice.next;
  } while (after != 0);
  return presence;
}

std::string MissingDataMessage(const DataPresence& presence) {
  return absl::StrCat(
      presence.missing, " of the database's ", presence.checked,
      " finished images have no data under --data-root (",
      absl::StrJoin(presence.examples, ", "),
      presence.missing > static_cast<int64_t>(presence.examples.size())
          ? ", ..."
          : "",
      "): data is never invented. Start with the --data-root these images "
      "were made with, or with the backend that made them (--backend="
      "simulated); docs/operations.md, \"The filesystem backend\"");
}

}  // namespace ecsimage::domain
