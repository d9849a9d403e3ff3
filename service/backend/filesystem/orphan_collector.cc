#include "service/backend/filesystem/orphan_collector.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "service/backend/filesystem/data_layout.h"
#include "service/backend/filesystem/dir_entries.h"
#include "service/backend/filesystem/unique_fd.h"

namespace ecsimage::backend::filesystem {
namespace {

using Kind = DataFile::Kind;

DataFile Of(Kind kind, absl::string_view id) {
  if (id.empty() || absl::StrContains(id, '/')) return {};
  return DataFile{kind, std::string(id)};
}

// The names of the entries of an open directory.
std::vector<std::string> List(int dir_fd) {
  std::vector<std::string> names;
  ForEachEntry(dir_fd, [&](std::string_view name, unsigned char) {
    names.emplace_back(name);
  });
  return names;
}

}  // namespace

DataFile ClassifyDataFile(absl::string_view name) {
  if (absl::ConsumeSuffix(&name, ".tmp")) {
    return absl::StartsWith(name, ".") ? DataFile{Kind::kWriteTemp, ""}
                                       : DataFile{};
  }
  // A data disk's file (or an export's checkpoint of one): the system
  // disk's name and ".<N>", its image's (or task's).
  if (const int disk = DataDiskOfName(name); disk > 0) {
    DataFile file = ClassifyDataFile(
        name.substr(0, name.size() - absl::StrCat(".", disk).size()));
    if (file.kind == Kind::kImageData || file.kind == Kind::kImageTemp ||
        file.kind == Kind::kExportCkpt) {
      return file;
    }
    return {};
  }
  if (!absl::ConsumePrefix(&name, ".")) {
    absl::string_view id = name;
    if (absl::ConsumeSuffix(&id, ".img") || absl::ConsumeSuffix(&id, ".meta")) {
      return Of(Kind::kImageData, id);
    }
    return {};
  }
  if (absl::ConsumePrefix(&name, "task-")) {
    return absl::ConsumeSuffix(&name, ".failure") ? Of(Kind::kTaskFailure, name)
                                                  : DataFile{};
  }
  if (absl::ConsumePrefix(&name, "export-")) {
    return absl::ConsumeSuffix(&name, ".ckpt") ? Of(Kind::kExportCkpt, name)
                                               : DataFile{};
  }
  if (absl::ConsumeSuffix(&name, ".failure")) {
    return Of(Kind::kImageFailure, name);
  }
  // <image>.e<epoch>.part|ckpt
  if (!absl::ConsumeSuffix(&name, ".part") &&
      !absl::ConsumeSuffix(&name, ".ckpt")) {
    return {};
  }
  const size_t dot = name.rfind(".e");
  int64_t epoch = 0;
  if (dot == absl::string_view::npos ||
      !absl::SimpleAtoi(name.substr(dot + 2), &epoch)) {
    return {};
  }
  return Of(Kind::kImageTemp, name.substr(0, dot));
}

int CollectOrphanFiles(Files& files, const std::string& data_root,
                       DataOwners& owners, int64_t grace_ms, int64_t now_s) {
  UniqueFd root(::open(data_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return 0;
  int removed = 0;
  for (const std::string& region : List(root.get())) {
    if (absl::StartsWith(region, ".")) continue;
    UniqueFd dir(::openat(root.get(), region.c_str(),
                          O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir.valid()) continue;
    // One answer per image or task per sweep.
    std::map<std::pair<bool, std::string>, DataOwner> asked;
    auto owner = [&](bool task, const std::string& id) {
      auto it = asked.find({task, id});
      if (it != asked.end()) return it->second;
      const DataOwner o =
          task ? owners.OfTask(region, id) : owners.OfImage(region, id);
      asked.emplace(std::make_pair(task, id), o);
      return o;
    };
    int removed_here = 0;
    for (const std::string& name : List(dir.get())) {
      const DataFile file = ClassifyDataFile(name);
      if (file.kind == Kind::kUnknown) continue;
      struct stat st;
      if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
          !S_ISREG(st.st_mode)) {
        continue;
      }
      // Young files are someone's work in progress, whatever the database
      // says yet.
      if ((now_s - st.st_mtime) * 1000 < grace_ms) continue;
      bool wanted = false;
      switch (file.kind) {
        case Kind::kImageData:
        case Kind::kImageFailure:
          wanted = owner(false, file.id) != DataOwner::kNone;
          break;
        case Kind::kImageTemp:
          wanted = owner(false, file.id) == DataOwner::kWorking;
          break;
        case Kind::kExportCkpt:
          wanted = owner(true, file.id) == DataOwner::kWorking;
          break;
        case Kind::kTaskFailure:
          wanted = owner(true, file.id) != DataOwner::kNone;
          break;
        case Kind::kWriteTemp:
        case Kind::kUnknown:
          break;
      }
      if (wanted) continue;
      const int rc = files.UnlinkAt(dir.get(), name);
      if (rc == 0) ++removed_here;
      std::string line = absl::StrCat(
          "{\"level\":\"info\",\"msg\":\"backend orphan "
          "removed\",\"region\":\"",
          absl::CHexEscape(region), "\",\"file\":\"", absl::CHexEscape(name),
          "\",\"rc\":", rc, "}\n");
      std::fwrite(line.data(), 1, line.size(), stderr);
    }
    if (removed_here > 0) files.Sync(dir.get());
    removed += removed_here;
  }
  return removed;
}

}  // namespace ecsimage::backend::filesystem
