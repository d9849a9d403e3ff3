#include "service/domain/import_disks.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "util/absl_compat.h"

namespace ecsimage::domain {

std::string EncodeImportDisks(const std::vector<backend::ImportDisk>& disks) {
  std::string out;
  for (const backend::ImportDisk& disk : disks) {
    absl::StrAppend(&out, disk.format, "\t", absl::CEscape(disk.oss_bucket),
                    "\t", absl::CEscape(disk.oss_object), "\n");
  }
  return out;
}

absl::StatusOr<std::vector<backend::ImportDisk>> DecodeImportDisks(
    std::string_view text) {
  std::vector<backend::ImportDisk> disks;
  for (absl::string_view line : absl::StrSplit(AV(text), '\n')) {
    if (line.empty()) continue;
    std::vector<absl::string_view> fields = absl::StrSplit(line, '\t');
    backend::ImportDisk disk;
    if (fields.size() != 3 || !absl::CUnescape(fields[1], &disk.oss_bucket) ||
        !absl::CUnescape(fields[2], &disk.oss_object)) {
      return absl::DataLossError(
          absl::StrCat("import task data disk \"", absl::CHexEscape(line),
                       "\" is not <FORMAT>\\t<bucket>\\t<object>"));
    }
    disk.format = std::string(fields[0]);
    disks.push_back(std::move(disk));
  }
  return disks;
}

}  // namespace ecsimage::domain
