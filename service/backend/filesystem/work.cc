#include "service/backend/filesystem/work.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "service/backend/filesystem/chunk_copy.h"
#include "service/backend/filesystem/data_layout.h"
#include "service/backend/filesystem/failure_codes.h"
#include "service/backend/filesystem/image_convert.h"
#include "service/backend/filesystem/image_format.h"
#include "service/backend/filesystem/input_checks.h"
#include "service/backend/filesystem/oss_paths.h"

namespace ecsimage::backend::filesystem {
namespace {

constexpr int64_t kGib = int64_t{1} << 30;

WorkResult Fail(absl::string_view code, std::string message) {
  WorkResult r;
  r.state = Observation::State::kFailed;
  r.failure_code = std::string(code);
  r.failure_message = std::move(message);
  return r;
}

// One JSON line on stderr when work resumed from a checkpoint.
void LogResumed(const WorkOrder& work, int64_t resumed_bytes) {
  if (resumed_bytes <= 0) return;
  std::string line = absl::StrCat(
      "{\"level\":\"info\",\"msg\":\"backend work resumed\",\"work\":\"",
      absl::CHexEscape(work.key), "\",\"resumedBytes\":", resumed_bytes, "}\n");
  std::fwrite(line.data(), 1, line.size(), stderr);
}

// The image `image_id` read by `work` has no data: the failure is recorded
// on that image too (DescribeImages shows it), and the engine turns the
// image UnAvailable.
WorkResult SourceDataMissing(WorkContext& ctx, int dir_fd,
                             const std::string& image_id, std::string message) {
  WriteFailure(ctx.files, dir_fd, ImageFailureName(image_id), kFailDataMissing,
               message);
  WorkResult r = Fail(kFailDataMissing, std::move(message));
  r.source_data_missing = true;
  return r;
}

// A failed copy step: stopped, out of space, or an I/O error.
WorkResult FromCopyError(const absl::Status& s) {
  if (absl::IsCancelled(s)) {
    WorkResult r;
    r.state = Observation::State::kCancelled;
    return r;
  }
  if (absl::IsResourceExhausted(s)) {
    return Fail(kFailDiskFull, std::string(s.message()));
  }
  return Fail(kFailIo, std::string(s.message()));
}

WorkResult OssFailure(const absl::Status& s, bool bucket) {
  if (absl::IsNotFound(s)) {
    return Fail(bucket ? kFailBucketNotFound : kFailObjectNotFound,
                std::string(s.message()));
  }
  if (absl::IsInvalidArgument(s)) {
    return Fail(bucket ? kFailInvalidBucket : kFailInvalidObject,
                std::string(s.message()));
  }
  return Fail(kFailIo, std::string(s.message()));
}

// The format an export writes: the one asked for, or the stored one.
std::string ExportFormat(const WorkOrder& work, const std::string& stored) {
  return work.format.empty() ? stored : work.format;
}

// Export key: <prefix><image>_system.<raw|qcow2>.
std::string ExportKey(const WorkOrder& work, const std::string& format) {
  return ExportObjectKey(work.oss_object, work.image_id, format);
}

WorkResult RunCreate(const WorkOrder& work, WorkContext& ctx) {
  absl::StatusOr<UniqueFd> dir =
      OpenRegionDir(ctx.options.data_root, work.region_id);
  if (!dir.ok()) return Fail(kFailIo, std::string(dir.status().message()));
  const int64_t size = work.size_gib * kGib;
  ctx.total_bytes.store(size);
  const std::string part = PartName(work.image_id, work.lease_epoch);
  int fd = ctx.files.OpenAt(dir->get(), part, O_WRONLY | O_CREAT, 0644);
  if (fd < 0) return Fail(kFailIo, std::strerror(-fd));
  UniqueFd owned(fd);
  if (int rc = ctx.files.Truncate(fd, size); rc < 0) {
    return Fail(rc == -ENOSPC ? kFailDiskFull : kFailIo, std::strerror(-rc));
  }
  if (int rc = ctx.files.Sync(fd); rc < 0)
    return Fail(kFailIo, std::strerror(-rc));
  ImageMeta meta{"RAW", size, BlankImageDigest(size)};
  if (absl::Status s =
          Publish(ctx.files, dir->get(), work.image_id, part, meta);
      !s.ok()) {
    return Fail(kFailIo, std::string(s.message()));
  }
  // What an earlier attempt left (its part file, once the file system made
  // its entry durable before a crash), as a copy's publish does.
  RemoveImageFiles(ctx.files, dir->get(), work.image_id, /*with_data=*/false)
      .IgnoreError();
  ctx.done_bytes.store(size);
  WorkResult r;
  r.digest = meta.digest;
  return r;
}

// CopyChunks under the task's stop flag, progress counters and bandwidth
// cap; logs how much an earlier attempt left that was kept.
absl::StatusOr<std::string> ChunkCopy(const WorkOrder& work, WorkContext& ctx,
                                      int src_fd, int64_t size,
                                      const ChunkCopyTarget& target) {
  ChunkCopyControl control;
  control.stop = &ctx.stop;
  control.done_bytes = &ctx.done_bytes;
  control.moved_bytes = &ctx.moved_bytes;
  control.bandwidth_bytes_per_s = ctx.options.bandwidth_bytes_per_s;
  int64_t resumed = 0;
  control.resumed_bytes = &resumed;
  absl::StatusOr<std::string> digest =
      CopyChunks(ctx.files, src_fd, size, target, control);
  LogResumed(work, resumed);
  return digest;
}

// Copies `src_fd` (`size` bytes) into the image's data in `region_id`.
WorkResult CopyIntoImage(const WorkOrder& work, WorkContext& ctx, int src_fd,
                         int64_t size, const std::string& format,
                         const std::string& expected_digest) {
  absl::StatusOr<UniqueFd> dir =
      OpenRegionDir(ctx.options.data_root, work.region_id);
  if (!dir.ok()) return Fail(kFailIo, std::string(dir.status().message()));
  AdoptEarlierAttempt(ctx.files, dir->get(), work.image_id, work.lease_epoch);
  ChunkCopyTarget target;
  target.dir_fd = dir->get();
  target.part = PartName(work.image_id, work.lease_epoch);
  target.ckpt_dir_fd = dir->get();
  target.checkpoint = CkptName(work.image_id, work.lease_epoch);
  absl::StatusOr<std::string> digest =
      ChunkCopy(work, ctx, src_fd, size, target);
  if (!digest.ok()) return FromCopyError(digest.status());
  if (!expected_digest.empty() && *digest != expected_digest) {
    return Fail(kFailChecksum, absl::StrCat("image digest ", *digest,
                                            " differs from the "
                                            "source's ",
                                            expected_digest));
  }
  ImageMeta meta{format, size, *digest};
  if (absl::Status s =
          Publish(ctx.files, dir->get(), work.image_id, target.part, meta);
      !s.ok()) {
    return Fail(kFailIo, std::string(s.message()));
  }
  // This attempt's checkpoint and anything an earlier one left (a crash
  // between an earlier publish and its clean-up).
  RemoveImageFiles(ctx.files, dir->get(), work.image_id, /*with_data=*/false)
      .IgnoreError();
  WorkResult r;
  r.digest = *digest;
  return r;
}

WorkResult RunImport(const WorkOrder& work, WorkContext& ctx) {
  absl::StatusOr<UniqueFd> bucket =
      OpenBucket(ctx.options.oss_root, work.oss_bucket);
  if (!bucket.ok()) return OssFailure(bucket.status(), true);
  absl::StatusOr<UniqueFd> object =
      OpenObjectForRead(bucket->get(), work.oss_object);
  if (!object.ok()) return OssFailure(object.status(), false);
  DetectedFormat format = DetectFormatOfFd(object->get());
  if (format.format.empty()) {
    return Fail(format.failure_code, format.failure_message);
  }
  // DiskDeviceMapping.1.Format, checked at the call; the object may have
  // changed since.
  if (!work.format.empty() && work.format != format.format) {
    return Fail(kFailInvalidFormat,
                FormatMismatchMessage(format.format, work.format));
  }
  struct stat st;
  if (::fstat(object->get(), &st) != 0) return Fail(kFailIo, "stat");
  ctx.total_bytes.store(st.st_size);
  WorkResult r =
      CopyIntoImage(work, ctx, object->get(), st.st_size, format.format, "");
  r.size_gib = (format.virtual_size + kGib - 1) / kGib;
  return r;
}

WorkResult RunCopy(const WorkOrder& work, WorkContext& ctx) {
  absl::StatusOr<UniqueFd> src_dir =
      OpenRegionDir(ctx.options.data_root, work.source_region_id);
  if (!src_dir.ok())
    return Fail(kFailIo, std::string(src_dir.status().message()));
  absl::StatusOr<ImageMeta> meta =
      ReadMeta(src_dir->get(), work.source_image_id);
  if (!meta.ok()) {
    return SourceDataMissing(
        ctx, src_dir->get(), work.source_image_id,
        absl::StrCat("image ", work.source_image_id,
                     " has no data: ", meta.status().message()));
  }
  UniqueFd src(::openat(src_dir->get(), DataName(work.source_image_id).c_str(),
                        O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!src.valid()) {
    return SourceDataMissing(
        ctx, src_dir->get(), work.source_image_id,
        absl::StrCat("image ", work.source_image_id, " has no data file"));
  }
  ctx.total_bytes.store(meta->size);
  return CopyIntoImage(work, ctx, src.get(), meta->size, meta->format,
                       meta->digest);
}

// ExportImage in another format than the stored one: qemu-img converts
// into the part file and compares the result with the image; then the part
// is synced and renamed into place. Not resumable: a restarted conversion
// starts over (its part file is truncated).
WorkResult ConvertInto(const WorkOrder& work, WorkContext& ctx, int src_fd,
                       const ImageMeta& meta, const std::string& format,
                       int parent_fd, const std::string& name) {
  const std::string part =
      absl::StrCat(".", name, ".e", work.lease_epoch, ".part");
  int fd = ctx.files.OpenAt(parent_fd, part, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    return Fail(fd == -ENOSPC ? kFailDiskFull : kFailIo, std::strerror(-fd));
  }
  UniqueFd dst(fd);
  ConvertJob job;
  job.qemu_img = ctx.options.qemu_img;
  job.src_fd = src_fd;
  job.src_format = meta.format;
  job.src_size = meta.size;
  job.dst_fd = dst.get();
  job.dst_format = format;
  job.stop = &ctx.stop;
  job.done_bytes = &ctx.done_bytes;
  absl::Status s = ConvertImage(job);
  if (s.ok()) {
    if (int rc = ctx.files.Sync(dst.get()); rc < 0) {
      s = absl::InternalError(std::strerror(-rc));
    }
  }
  if (s.ok()) {
    if (int rc = ctx.files.RenameAt(parent_fd, part, name); rc < 0) {
      s = absl::InternalError(std::strerror(-rc));
    }
  }
  if (!s.ok()) {
    ctx.files.UnlinkAt(parent_fd, part);
    if (absl::IsCancelled(s)) return FromCopyError(s);
    if (absl::IsResourceExhausted(s)) {
      return Fail(kFailDiskFull, std::string(s.message()));
    }
    if (absl::IsDataLoss(s)) {
      return Fail(kFailChecksum, std::string(s.message()));
    }
    return Fail(kFailConversion, std::string(s.message()));
  }
  ctx.files.Sync(parent_fd);
  ctx.done_bytes.store(meta.size);
  WorkResult r;
  r.digest = meta.digest;
  return r;
}

WorkResult RunExport(const WorkOrder& work, WorkContext& ctx) {
  absl::StatusOr<UniqueFd> dir =
      OpenRegionDir(ctx.options.data_root, work.region_id);
  if (!dir.ok()) return Fail(kFailIo, std::string(dir.status().message()));
  absl::StatusOr<ImageMeta> meta = ReadMeta(dir->get(), work.image_id);
  if (!meta.ok()) {
    return SourceDataMissing(
        ctx, dir->get(), work.image_id,
        absl::StrCat("image ", work.image_id,
                     " has no data: ", meta.status().message()));
  }
  UniqueFd src(::openat(dir->get(), DataName(work.image_id).c_str(),
                        O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!src.valid()) {
    return SourceDataMissing(
        ctx, dir->get(), work.image_id,
        absl::StrCat("image ", work.image_id, " has no data file"));
  }
  absl::StatusOr<UniqueFd> bucket =
      OpenBucket(ctx.options.oss_root, work.oss_bucket);
  if (!bucket.ok()) return OssFailure(bucket.status(), true);
  std::string name;
  const std::string format = ExportFormat(work, meta->format);
  const std::string key = ExportKey(work, format);
  absl::StatusOr<UniqueFd> parent = OpenObjectParent(bucket->get(), key, &name);
  if (!parent.ok()) return OssFailure(parent.status(), false);
  ctx.total_bytes.store(meta->size);
  AdoptEarlierAttempt(ctx.files, parent->get(), name, work.lease_epoch);
  if (format != meta->format) {
    return ConvertInto(work, ctx, src.get(), *meta, format, parent->get(),
                       name);
  }
  ChunkCopyTarget target;
  target.dir_fd = parent->get();
  target.part = absl::StrCat(".", name, ".e", work.lease_epoch, ".part");
  target.ckpt_dir_fd = dir->get();
  target.checkpoint = absl::StrCat(".export-", work.key.substr(5), ".ckpt");
  absl::StatusOr<std::string> digest =
      ChunkCopy(work, ctx, src.get(), meta->size, target);
  if (!digest.ok()) return FromCopyError(digest.status());
  if (*digest != meta->digest) {
    ctx.files.UnlinkAt(parent->get(), target.part);
    return Fail(kFailChecksum, "the exported bytes differ from the image's");
  }
  if (int rc = ctx.files.RenameAt(parent->get(), target.part, name); rc < 0) {
    return Fail(kFailIo, std::strerror(-rc));
  }
  ctx.files.Sync(parent->get());
  ctx.files.UnlinkAt(dir->get(), target.checkpoint);
  WorkResult r;
  r.digest = *digest;
  return r;
}

}  // namespace

WorkResult RunWork(const WorkOrder& work, WorkContext& ctx) {
  WorkResult r;
  switch (work.kind) {
    case WorkKind::kCreate:
      r = RunCreate(work, ctx);
      break;
    case WorkKind::kImport:
      r = RunImport(work, ctx);
      break;
    case WorkKind::kCopy:
      r = RunCopy(work, ctx);
      break;
    case WorkKind::kExport:
      r = RunExport(work, ctx);
      break;
  }
  // A failure frees what it wrote; the source is never touched.
  if (r.state == Observation::State::kFailed) {
    CleanUpWork(work, ctx.files, ctx.options, /*with_data=*/false);
  }
  return r;
}

void CleanUpWork(const WorkOrder& work, Files& files,
                 const FilesystemOptions& options, bool with_data) {
  absl::StatusOr<UniqueFd> dir =
      OpenRegionDir(options.data_root, work.region_id);
  if (!dir.ok()) return;
  if (work.kind != WorkKind::kExport) {
    RemoveImageFiles(files, dir->get(), work.image_id, with_data).IgnoreError();
    return;
  }
  files.UnlinkAt(dir->get(),
                 absl::StrCat(".export-", work.key.substr(5), ".ckpt"));
  absl::StatusOr<UniqueFd> bucket =
      OpenBucket(options.oss_root, work.oss_bucket);
  if (!bucket.ok()) return;
  absl::StatusOr<ImageMeta> meta = ReadMeta(dir->get(), work.image_id);
  const std::string format =
      ExportFormat(work, meta.ok() ? meta->format : "RAW");
  std::string name;
  absl::StatusOr<UniqueFd> parent =
      OpenObjectParent(bucket->get(), ExportKey(work, format), &name);
  if (!parent.ok()) return;
  files.UnlinkAt(parent->get(),
                 absl::StrCat(".", name, ".e", work.lease_epoch, ".part"));
  if (with_data) files.UnlinkAt(parent->get(), name);
  files.Sync(parent->get());
}

}  // namespace ecsimage::backend::filesystem
