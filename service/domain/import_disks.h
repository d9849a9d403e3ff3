// ImportImage's data disks (DiskDeviceMapping.2..N) as one text column of
// the import task (io_tasks.data_disks, migration 0010): one line per disk,
// "<FORMAT>\t<bucket>\t<object>", bucket and object C-escaped, so that a key
// holding a tab, a newline or a backslash survives.
#ifndef ECSIMAGE_SERVICE_DOMAIN_IMPORT_DISKS_H_
#define ECSIMAGE_SERVICE_DOMAIN_IMPORT_DISKS_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "service/backend/backend.h"

namespace ecsimage::domain {

std::string EncodeImportDisks(const std::vector<backend::ImportDisk>& disks);

// DataLoss when the text is not what EncodeImportDisks writes.
absl::StatusOr<std::vector<backend::ImportDisk>> DecodeImportDisks(
    std::string_view text);

}  // namespace ecsimage::domain

#endif  // ECSIMAGE_SERVICE_DOMAIN_IMPORT_DISKS_H_
