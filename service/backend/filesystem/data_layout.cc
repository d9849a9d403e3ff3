#include "service/backend/filesystem/data_layout.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "service/backend/filesystem/dir_entries.h"

namespace ecsimage::backend::filesystem {
namespace {

constexpr char kMarker[] = ".ecsimage-data-root";

absl::Status Errno(int err, absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(err)));
}

absl::StatusOr<std::string> ReadSmallFile(int dir_fd, const std::string& name) {
  UniqueFd fd(
      ::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return absl::NotFoundError(name);
    return Errno(errno, name);
  }
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd.get(), buf, sizeof buf)) > 0 && text.size() < 65536) {
    text.append(buf, n);
  }
  return text;
}

// Writes `text` to `name` durably: temp file, fsync, rename, fsync dir.
absl::Status WriteSmallFile(Files& files, int dir_fd, const std::string& name,
                            const std::string& text) {
  const std::string tmp = absl::StrCat(".", name, ".tmp");
  int fd = files.OpenAt(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return Errno(-fd, tmp);
  UniqueFd owned(fd);
  if (int rc = PWriteAll(files, fd, text.data(), text.size(), 0); rc < 0) {
    return Errno(-rc, tmp);
  }
  if (int rc = files.Sync(fd); rc < 0) return Errno(-rc, tmp);
  if (int rc = files.RenameAt(dir_fd, tmp, name); rc < 0) {
    return Errno(-rc, name);
  }
  return absl::OkStatus();
}

// A disk id (DiskId) as the base of its names and their suffix: an image
// id is itself with no suffix; "<image>#<N>" is "<image>" and ".<N>".
std::pair<absl::string_view, std::string> SplitDiskId(absl::string_view id) {
  const size_t hash = id.find('#');
  if (hash == absl::string_view::npos) return {id, ""};
  return {id.substr(0, hash), absl::StrCat(".", id.substr(hash + 1))};
}

// Temporary files of disk `id`: ".<image>.e<epoch>.part|ckpt[.<N>]".
std::vector<std::pair<std::string, int64_t>> TempFiles(int dir_fd,
                                                       absl::string_view id) {
  std::vector<std::pair<std::string, int64_t>> out;
  // Not a structured binding: C++17 lambdas cannot capture one (clang).
  const std::pair<absl::string_view, std::string> split = SplitDiskId(id);
  const std::string& suffix = split.second;
  const std::string prefix = absl::StrCat(".", split.first, ".e");
  ForEachEntry(dir_fd, [&](std::string_view entry, unsigned char) {
    const absl::string_view name(entry.data(), entry.size());
    if (!absl::StartsWith(name, prefix)) return;
    absl::string_view rest = name.substr(prefix.size());
    if (!suffix.empty() && !absl::ConsumeSuffix(&rest, suffix)) return;
    std::vector<absl::string_view> parts = absl::StrSplit(rest, '.');
    int64_t epoch = 0;
    if (parts.size() == 2 && (parts[1] == "part" || parts[1] == "ckpt") &&
        absl::SimpleAtoi(parts[0], &epoch)) {
      out.emplace_back(std::string(name), epoch);
    }
  });
  return out;
}

// The data disks of `image_id` that have any file: ids "<image>#<N>", from
// names "[.]<image>.<anything>.<N>".
std::vector<std::string> DataDiskIds(int dir_fd, absl::string_view image_id) {
  std::vector<std::string> out;
  const std::string prefix = absl::StrCat(image_id, ".");
  ForEachEntry(dir_fd, [&](std::string_view entry, unsigned char) {
    absl::string_view name(entry.data(), entry.size());
    absl::ConsumePrefix(&name, ".");
    if (!absl::ConsumePrefix(&name, prefix)) return;
    const int disk = DataDiskOfName(name);
    if (disk == 0) return;
    std::string id = DiskId(image_id, disk);
    if (std::find(out.begin(), out.end(), id) == out.end()) {
      out.push_back(std::move(id));
    }
  });
  return out;
}

}  // namespace

std::string DiskId(absl::string_view image_id, int disk) {
  if (disk == 0) return std::string(image_id);
  return absl::StrCat(image_id, "#", disk);
}

int DataDiskOfName(absl::string_view name) {
  const size_t dot = name.rfind('.');
  if (dot == absl::string_view::npos) return 0;
  const absl::string_view digits = name.substr(dot + 1);
  if (digits.empty() || digits.size() > 2 || digits[0] == '0' ||
      !std::all_of(digits.begin(), digits.end(), absl::ascii_isdigit)) {
    return 0;
  }
  int disk = 0;
  if (!absl::SimpleAtoi(digits, &disk) || disk >= kMaxDisks) return 0;
  return disk;
}

std::string DataName(absl::string_view id) {
  const auto [base, suffix] = SplitDiskId(id);
  return absl::StrCat(base, ".img", suffix);
}
std::string MetaName(absl::string_view id) {
  const auto [base, suffix] = SplitDiskId(id);
  return absl::StrCat(base, ".meta", suffix);
}
std::string PartName(absl::string_view id, int64_t epoch) {
  const auto [base, suffix] = SplitDiskId(id);
  return absl::StrCat(".", base, ".e", epoch, ".part", suffix);
}
std::string CkptName(absl::string_view id, int64_t epoch) {
  const auto [base, suffix] = SplitDiskId(id);
  return absl::StrCat(".", base, ".e", epoch, ".ckpt", suffix);
}

std::string ImageFailureName(absl::string_view image_id) {
  return absl::StrCat(".", image_id, ".failure");
}
std::string TaskFailureName(absl::string_view task_id) {
  return absl::StrCat(".task-", task_id, ".failure");
}

void WriteFailure(Files& files, int dir_fd, const std::string& name,
                  absl::string_view code, absl::string_view message) {
  WriteSmallFile(files, dir_fd, name, absl::StrCat(code, "\n", message))
      .IgnoreError();
}

std::pair<std::string, std::string> ReadFailure(int dir_fd,
                                                const std::string& name) {
  absl::StatusOr<std::string> text = ReadSmallFile(dir_fd, name);
  if (!text.ok()) return {};
  std::pair<std::string, std::string> out =
      absl::StrSplit(*text, absl::MaxSplits('\n', 1));
  return out;
}

absl::Status CheckRootIdentity(const std::string& root,
                               const std::string& identity,
                               const std::string& legacy) {
  UniqueFd dir(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return Errno(errno, absl::StrCat("--data-root ", root));
  absl::StatusOr<std::string> found = ReadSmallFile(dir.get(), kMarker);
  if (found.ok() && *found == identity + "\n") return absl::OkStatus();
  if (found.ok() && (legacy.empty() || *found != legacy + "\n")) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--data-root ", root, " belongs to database \"",
        absl::StripSuffix(*found, "\n"), "\", not to this one (\"", identity,
        "\"): refusing to share or delete another deployment's data "
        "(docs/operations.md, the filesystem backend)"));
  }
  if (!found.ok() && !absl::IsNotFound(found.status())) return found.status();
  absl::Status s =
      WriteSmallFile(PosixFiles(), dir.get(), kMarker, identity + "\n");
  if (s.ok() && ::fsync(dir.get()) != 0) return Errno(errno, root);
  return s;
}

absl::StatusOr<UniqueFd> OpenRegionDir(const std::string& root,
                                       absl::string_view region_id) {
  if (region_id.empty() || region_id == "." || region_id == ".." ||
      absl::StrContains(region_id, '/') || absl::StrContains(region_id, '\0')) {
    return absl::InvalidArgumentError(absl::StrCat("region ", region_id));
  }
  UniqueFd dir(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return Errno(errno, root);
  const std::string name(region_id);
  if (::mkdirat(dir.get(), name.c_str(), 0755) == 0) {
    ::fsync(dir.get());
  } else if (errno != EEXIST) {
    return Errno(errno, name);
  }
  UniqueFd region(::openat(dir.get(), name.c_str(),
                           O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!region.valid()) return Errno(errno, name);
  return region;
}

absl::StatusOr<ImageMeta> ReadMeta(int dir_fd, absl::string_view image_id) {
  absl::StatusOr<std::string> text = ReadSmallFile(dir_fd, MetaName(image_id));
  if (!text.ok()) return text.status();
  ImageMeta meta;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(line, absl::MaxSplits('=', 1));
    if (kv.first == "format") meta.format = std::string(kv.second);
    if (kv.first == "digest") meta.digest = std::string(kv.second);
    if (kv.first == "image_digest") {
      meta.image_digest = std::string(kv.second);
    }
    if (kv.first == "disks" && (!absl::SimpleAtoi(kv.second, &meta.disks) ||
                                meta.disks < 1 || meta.disks > kMaxDisks)) {
      return absl::DataLossError("bad disk count in meta");
    }
    if (kv.first == "size" && !absl::SimpleAtoi(kv.second, &meta.size)) {
      return absl::DataLossError("bad size in meta");
    }
  }
  if (meta.format.empty() || meta.digest.size() != 64) {
    return absl::DataLossError(absl::StrCat("bad meta of ", image_id));
  }
  return meta;
}

absl::Status Publish(Files& files, int dir_fd, absl::string_view image_id,
                     const std::string& part, const ImageMeta& meta) {
  if (int rc = files.RenameAt(dir_fd, part, DataName(image_id)); rc < 0) {
    return Errno(-rc, "rename data");
  }
  std::string text = absl::StrCat("format=", meta.format, "\nsize=", meta.size,
                                  "\ndigest=", meta.digest, "\n");
  if (meta.disks > 1) {
    absl::StrAppend(&text, "disks=", meta.disks,
                    "\nimage_digest=", meta.image_digest, "\n");
  }
  absl::Status s = WriteSmallFile(files, dir_fd, MetaName(image_id), text);
  if (!s.ok()) return s;
  if (int rc = files.Sync(dir_fd); rc < 0) return Errno(-rc, "sync dir");
  return absl::OkStatus();
}

void AdoptEarlierAttempt(Files& files, int dir_fd, absl::string_view image_id,
                         int64_t epoch) {
  int64_t best = -1;
  for (const auto& [name, e] : TempFiles(dir_fd, image_id)) {
    if (e != epoch && absl::EndsWith(name, ".part")) best = std::max(best, e);
  }
  if (best < 0) return;
  if (::faccessat(dir_fd, PartName(image_id, epoch).c_str(), F_OK,
                  AT_SYMLINK_NOFOLLOW) == 0) {
    return;  // this epoch already has its own attempt
  }
  files.RenameAt(dir_fd, PartName(image_id, best), PartName(image_id, epoch));
  files.RenameAt(dir_fd, CkptName(image_id, best), CkptName(image_id, epoch));
}

absl::Status RemoveImageFiles(Files& files, int dir_fd,
                              absl::string_view image_id, bool with_data) {
  std::vector<std::string> names;
  // The system disk's .meta first: without it the image has no data.
  if (with_data) names.push_back(MetaName(image_id));
  std::vector<std::string> disks = DataDiskIds(dir_fd, image_id);
  disks.insert(disks.begin(), std::string(image_id));
  for (const std::string& disk : disks) {
    for (const auto& entry : TempFiles(dir_fd, disk)) {
      names.push_back(entry.first);
    }
    if (!with_data) continue;
    if (disk != image_id) names.push_back(MetaName(disk));
    names.push_back(DataName(disk));
  }
  if (with_data) names.push_back(ImageFailureName(image_id));
  for (const std::string& name : names) {
    int rc = files.UnlinkAt(dir_fd, name);
    if (rc < 0 && rc != -ENOENT)
      return Errno(-rc, absl::StrCat("unlink ", name));
  }
  if (int rc = files.Sync(dir_fd); rc < 0) return Errno(-rc, "sync dir");
  return absl::OkStatus();
}

}  // namespace ecsimage::backend::filesystem
