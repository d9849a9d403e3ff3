#include "service/backend/filesystem/work.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

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

// Export key of disk `disk`: <prefix><image>_system.<raw|qcow2>, or
// _data<N> for data disk N.
std::string ExportKey(const WorkOrder& work, const std::string& format,
                      int disk) {
  return ExportObjectKey(work.oss_object, work.image_id, format, disk);
}

// An export's checkpoint of disk `disk`, beside the image's data.
std::string ExportCkptName(const WorkOrder& work, int disk) {
  return absl::StrCat(".export-", work.key.substr(5), ".ckpt",
                      disk == 0 ? "" : absl::StrCat(".", disk));
}

// The part file an export writes `name` through.
std::string ExportPartName(const WorkOrder& work, const std::string& name) {
  return absl::StrCat(".", name, ".e", work.lease_epoch, ".part");
}

// The system disk's .meta of an image of `disks` disks: it counts them and
// holds the image digest over their digests (`data_digests`: disks 1..N-1).
ImageMeta SystemMeta(ImageMeta meta,
                     const std::vector<std::string>& data_digests) {
  meta.disks = 1 + static_cast<int>(data_digests.size());
  if (meta.disks > 1) {
    std::vector<std::string> all{meta.digest};
    all.insert(all.end(), data_digests.begin(), data_digests.end());
    meta.image_digest = ImageDigestOfDisks(all);
  }
  return meta;
}

// One blank sparse RAW disk, published under `disk_id`.
absl::StatusOr<ImageMeta> CreateBlankDisk(
    WorkContext& ctx, int dir_fd, const std::string& disk_id, int64_t epoch,
    int64_t size, const std::vector<std::string>* data_digests) {
  const std::string part = PartName(disk_id, epoch);
  int fd = ctx.files.OpenAt(dir_fd, part, O_WRONLY | O_CREAT, 0644);
  if (fd < 0) return absl::InternalError(std::strerror(-fd));
  UniqueFd owned(fd);
  if (int rc = ctx.files.Truncate(fd, size); rc < 0) {
    if (rc == -ENOSPC) {
      return absl::ResourceExhaustedError(std::strerror(-rc));
    }
    return absl::InternalError(std::strerror(-rc));
  }
  if (int rc = ctx.files.Sync(fd); rc < 0) {
    return absl::InternalError(std::strerror(-rc));
  }
  ImageMeta meta;
  meta.format = "RAW";
  meta.size = size;
  meta.digest = BlankImageDigest(size);
  if (data_digests != nullptr) meta = SystemMeta(meta, *data_digests);
  if (absl::Status s = Publish(ctx.files, dir_fd, disk_id, part, meta);
      !s.ok()) {
    return s;
  }
  return meta;
}

// CreateImage: one blank disk per mapping; the data disks first, the system
// disk (whose .meta says the image has data) last.
WorkResult RunCreate(const WorkOrder& work, WorkContext& ctx) {
  absl::StatusOr<UniqueFd> dir =
      OpenRegionDir(ctx.options.data_root, work.region_id);
  if (!dir.ok()) return Fail(kFailIo, std::string(dir.status().message()));
  std::vector<int64_t> sizes_gib = work.disk_sizes_gib;
  if (sizes_gib.empty()) sizes_gib.push_back(work.size_gib);
  int64_t total = 0;
  for (int64_t gib : sizes_gib) total += gib * kGib;
  ctx.total_bytes.store(total);
  std::vector<std::string> data_digests;
  for (size_t disk = 1; disk < sizes_gib.size(); ++disk) {
    absl::StatusOr<ImageMeta> meta = CreateBlankDisk(
        ctx, dir->get(), DiskId(work.image_id, static_cast<int>(disk)),
        work.lease_epoch, sizes_gib[disk] * kGib, nullptr);
    if (!meta.ok()) {
      return Fail(
          absl::IsResourceExhausted(meta.status()) ? kFailDiskFull : kFailIo,
          std::string(meta.status().message()));
    }
    data_digests.push_back(meta->digest);
  }
  absl::StatusOr<ImageMeta> meta =
      CreateBlankDisk(ctx, dir->get(), work.image_id, work.lease_epoch,
                      sizes_gib.front() * kGib, &data_digests);
  if (!meta.ok()) {
    return Fail(
        absl::IsResourceExhausted(meta.status()) ? kFailDiskFull : kFailIo,
        std::string(meta.status().message()));
  }
  // What an earlier attempt left (its part files, once the file system made
  // their entries durable before a crash), as a copy's publish does.
  RemoveImageFiles(ctx.files, dir->get(), work.image_id, /*with_data=*/false)
      .IgnoreError();
  ctx.done_bytes.store(total);
  WorkResult r;
  r.digest = meta->ImageDigest();
  return r;
}

// CopyChunks under the task's stop flag, progress counters and bandwidth
// cap, counting `base` bytes of earlier disks; logs how much an earlier
// attempt left that was kept.
absl::StatusOr<std::string> ChunkCopy(const WorkOrder& work, WorkContext& ctx,
                                      int src_fd, int64_t size, int64_t base,
                                      const ChunkCopyTarget& target) {
  ChunkCopyControl control;
  control.stop = &ctx.stop;
  control.done_bytes = &ctx.done_bytes;
  control.moved_bytes = &ctx.moved_bytes;
  control.base_bytes = base;
  control.bandwidth_bytes_per_s = ctx.options.bandwidth_bytes_per_s;
  int64_t resumed = 0;
  control.resumed_bytes = &resumed;
  absl::StatusOr<std::string> digest =
      CopyChunks(ctx.files, src_fd, size, target, control);
  LogResumed(work, resumed);
  return digest;
}

// One disk a copy or an import writes into the image.
struct DiskWrite {
  int disk = 0;
  int src_fd = -1;
  int64_t size = 0;
  std::string format;
  std::string expected_digest;  // "" when not known (an import)
  int64_t base = 0;             // bytes of the work's earlier disks
  // The system disk: the digests of the data disks, published before it.
  const std::vector<std::string>* data_digests = nullptr;
};

// Copies one disk into the image's data in `work.region_id`, or keeps it
// when an earlier attempt published it already (a data disk, resumed).
// Returns the disk's digest (the image digest for the system disk).
WorkResult CopyIntoImage(const WorkOrder& work, WorkContext& ctx,
                         const DiskWrite& write) {
  absl::StatusOr<UniqueFd> dir =
      OpenRegionDir(ctx.options.data_root, work.region_id);
  if (!dir.ok()) return Fail(kFailIo, std::string(dir.status().message()));
  const std::string disk_id = DiskId(work.image_id, write.disk);
  if (write.disk > 0) {
    absl::StatusOr<ImageMeta> kept = ReadMeta(dir->get(), disk_id);
    if (kept.ok() && kept->size == write.size &&
        (write.expected_digest.empty() ||
         kept->digest == write.expected_digest)) {
      ctx.done_bytes.store(write.base + write.size);
      WorkResult r;
      r.digest = kept->digest;
      return r;
    }
  }
  AdoptEarlierAttempt(ctx.files, dir->get(), disk_id, work.lease_epoch);
  ChunkCopyTarget target;
  target.dir_fd = dir->get();
  target.part = PartName(disk_id, work.lease_epoch);
  target.ckpt_dir_fd = dir->get();
  target.checkpoint = CkptName(disk_id, work.lease_epoch);
  absl::StatusOr<std::string> digest =
      ChunkCopy(work, ctx, write.src_fd, write.size, write.base, target);
  if (!digest.ok()) return FromCopyError(digest.status());
  if (!write.expected_digest.empty() && *digest != write.expected_digest) {
    return Fail(
        kFailChecksum,
        absl::StrCat(write.disk == 0 ? std::string("image")
                                     : absl::StrCat("data disk ", write.disk),
                     " digest ", *digest, " differs from the source's ",
                     write.expected_digest));
  }
  ImageMeta meta;
  meta.format = write.format;
  meta.size = write.size;
  meta.digest = *digest;
  if (write.data_digests != nullptr) {
    meta = SystemMeta(meta, *write.data_digests);
  }
  if (absl::Status s =
          Publish(ctx.files, dir->get(), disk_id, target.part, meta);
      !s.ok()) {
    return Fail(kFailIo, std::string(s.message()));
  }
  // This attempt's checkpoint and anything an earlier one left (a crash
  // between an earlier publish and its clean-up).
  RemoveImageFiles(ctx.files, dir->get(), disk_id, /*with_data=*/false)
      .IgnoreError();
  WorkResult r;
  r.digest = write.disk == 0 ? meta.ImageDigest() : *digest;
  return r;
}

// The bytes of one disk a copy, an import or an export reads: its format,
// size and digest ("" when not known: an import's object).
struct SourceDisk {
  ImageMeta meta;
  UniqueFd fd;
};

// Opens every disk of `image_id` under `dir_fd` (its system disk's .meta
// counts them), the system disk first. False, with `*failure` set to
// ImageDataMissing (recorded on the image), when any is missing.
bool OpenImageDisks(WorkContext& ctx, int dir_fd, const std::string& image_id,
                    std::vector<SourceDisk>* disks, WorkResult* failure) {
  absl::StatusOr<ImageMeta> system = ReadMeta(dir_fd, image_id);
  if (!system.ok()) {
    *failure = SourceDataMissing(
        ctx, dir_fd, image_id,
        absl::StrCat("image ", image_id,
                     " has no data: ", system.status().message()));
    return false;
  }
  for (int disk = 0; disk < system->disks; ++disk) {
    const std::string id = DiskId(image_id, disk);
    absl::StatusOr<ImageMeta> meta = disk == 0 ? system : ReadMeta(dir_fd, id);
    UniqueFd fd(::openat(dir_fd, DataName(id).c_str(),
                         O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!meta.ok() || !fd.valid()) {
      *failure = SourceDataMissing(
          ctx, dir_fd, image_id,
          absl::StrCat("image ", image_id, " has no data file ", DataName(id)));
      return false;
    }
    disks->push_back(SourceDisk{*std::move(meta), std::move(fd)});
  }
  return true;
}

// Writes every disk into the image, the data disks first and the system
// disk last; the first that does not end kDone ends the work.
WorkResult WriteDisks(const WorkOrder& work, WorkContext& ctx,
                      std::vector<SourceDisk>& sources) {
  int64_t total = 0;
  for (const SourceDisk& s : sources) total += s.meta.size;
  ctx.total_bytes.store(total);
  auto write_of = [&](size_t i, int64_t base) {
    const ImageMeta& meta = sources[i].meta;
    return DiskWrite{static_cast<int>(i), sources[i].fd.get(), meta.size,
                     meta.format,         meta.digest,         base};
  };
  std::vector<std::string> data_digests;
  int64_t base = sources.front().meta.size;
  for (size_t i = 1; i < sources.size(); ++i) {
    WorkResult r = CopyIntoImage(work, ctx, write_of(i, base));
    if (r.state != Observation::State::kDone) return r;
    data_digests.push_back(r.digest);
    base += sources[i].meta.size;
  }
  DiskWrite system = write_of(0, 0);
  system.data_digests = &data_digests;
  return CopyIntoImage(work, ctx, system);
}

WorkResult RunImport(const WorkOrder& work, WorkContext& ctx) {
  std::vector<ImportDisk> disks{
      {work.oss_bucket, work.oss_object, work.format}};
  disks.insert(disks.end(), work.data_disks.begin(), work.data_disks.end());
  std::vector<SourceDisk> sources;
  std::vector<int64_t> sizes_gib;
  for (size_t i = 0; i < disks.size(); ++i) {
    const ImportDisk& disk = disks[i];
    // Whose object a failure names, when there is more than one.
    const std::string which =
        disks.size() == 1 ? ""
                          : absl::StrCat("DiskDeviceMapping.", i + 1, ": ");
    absl::StatusOr<UniqueFd> bucket =
        OpenBucket(ctx.options.oss_root, disk.oss_bucket);
    if (!bucket.ok()) {
      return OssFailure(
          absl::Status(bucket.status().code(),
                       absl::StrCat(which, bucket.status().message())),
          true);
    }
    absl::StatusOr<UniqueFd> object =
        OpenObjectForRead(bucket->get(), disk.oss_object);
    if (!object.ok()) {
      return OssFailure(
          absl::Status(object.status().code(),
                       absl::StrCat(which, object.status().message())),
          false);
    }
    DetectedFormat format = DetectFormatOfFd(object->get());
    if (format.format.empty()) {
      return Fail(format.failure_code,
                  absl::StrCat(which, format.failure_message));
    }
    // DiskDeviceMapping.N.Format, checked at the call; the object may have
    // changed since.
    if (!disk.format.empty() && disk.format != format.format) {
      return Fail(kFailInvalidFormat,
                  absl::StrCat(which, FormatMismatchMessage(format.format,
                                                            disk.format)));
    }
    struct stat st;
    if (::fstat(object->get(), &st) != 0) return Fail(kFailIo, "stat");
    sizes_gib.push_back((format.virtual_size + kGib - 1) / kGib);
    SourceDisk source;
    source.fd = *std::move(object);
    source.meta.size = st.st_size;
    source.meta.format = format.format;
    sources.push_back(std::move(source));
  }
  WorkResult r = WriteDisks(work, ctx, sources);
  r.size_gib = sizes_gib.front();
  r.disk_sizes_gib = std::move(sizes_gib);
  return r;
}

WorkResult RunCopy(const WorkOrder& work, WorkContext& ctx) {
  absl::StatusOr<UniqueFd> src_dir =
      OpenRegionDir(ctx.options.data_root, work.source_region_id);
  if (!src_dir.ok())
    return Fail(kFailIo, std::string(src_dir.status().message()));
  std::vector<SourceDisk> sources;
  WorkResult failure;
  if (!OpenImageDisks(ctx, src_dir->get(), work.source_image_id, &sources,
                      &failure)) {
    return failure;
  }
  return WriteDisks(work, ctx, sources);
}

// ExportImage in another format than the stored one: qemu-img converts
// into the part file and compares the result with the disk; then the part
// is synced and renamed into place. Not resumable: a restarted conversion
// starts over (its part file is truncated).
WorkResult ConvertInto(const WorkOrder& work, WorkContext& ctx, int src_fd,
                       const ImageMeta& meta, const std::string& format,
                       int64_t base, int parent_fd, const std::string& name) {
  const std::string part = ExportPartName(work, name);
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
  job.base_bytes = base;
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
  ctx.done_bytes.store(base + meta.size);
  WorkResult r;
  r.digest = meta.digest;
  return r;
}

// Whether `name` under `parent_fd` already holds the disk's bytes (an
// export that restarted after writing it).
bool AlreadyExported(int parent_fd, const std::string& name,
                     const ImageMeta& meta) {
  UniqueFd fd(::openat(parent_fd, name.c_str(),
                       O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st;
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
      st.st_size != meta.size) {
    return false;
  }
  absl::StatusOr<std::string> digest = DigestOfFile(fd.get(), meta.size);
  return digest.ok() && *digest == meta.digest;
}

// Exports one disk (`meta`, read from `src_fd`) to `key` in the bucket.
WorkResult ExportDisk(const WorkOrder& work, WorkContext& ctx, int data_dir_fd,
                      int bucket_fd, int disk, int src_fd,
                      const ImageMeta& meta, const std::string& format,
                      int64_t base) {
  std::string name;
  absl::StatusOr<UniqueFd> parent =
      OpenObjectParent(bucket_fd, ExportKey(work, format, disk), &name);
  if (!parent.ok()) return OssFailure(parent.status(), false);
  AdoptEarlierAttempt(ctx.files, parent->get(), name, work.lease_epoch);
  if (format != meta.format) {
    return ConvertInto(work, ctx, src_fd, meta, format, base, parent->get(),
                       name);
  }
  const std::string checkpoint = ExportCkptName(work, disk);
  if (::faccessat(data_dir_fd, checkpoint.c_str(), F_OK, AT_SYMLINK_NOFOLLOW) !=
          0 &&
      AlreadyExported(parent->get(), name, meta)) {
    ctx.done_bytes.store(base + meta.size);
    WorkResult r;
    r.digest = meta.digest;
    return r;
  }
  ChunkCopyTarget target;
  target.dir_fd = parent->get();
  target.part = ExportPartName(work, name);
  target.ckpt_dir_fd = data_dir_fd;
  target.checkpoint = checkpoint;
  absl::StatusOr<std::string> digest =
      ChunkCopy(work, ctx, src_fd, meta.size, base, target);
  if (!digest.ok()) return FromCopyError(digest.status());
  if (*digest != meta.digest) {
    ctx.files.UnlinkAt(parent->get(), target.part);
    return Fail(kFailChecksum, absl::StrCat("the exported bytes of ", name,
                                            " differ from the image's"));
  }
  if (int rc = ctx.files.RenameAt(parent->get(), target.part, name); rc < 0) {
    return Fail(kFailIo, std::strerror(-rc));
  }
  ctx.files.Sync(parent->get());
  ctx.files.UnlinkAt(data_dir_fd, target.checkpoint);
  WorkResult r;
  r.digest = *digest;
  return r;
}

WorkResult RunExport(const WorkOrder& work, WorkContext& ctx) {
  absl::StatusOr<UniqueFd> dir =
      OpenRegionDir(ctx.options.data_root, work.region_id);
  if (!dir.ok()) return Fail(kFailIo, std::string(dir.status().message()));
  std::vector<SourceDisk> disks;
  WorkResult failure;
  if (!OpenImageDisks(ctx, dir->get(), work.image_id, &disks, &failure)) {
    return failure;
  }
  int64_t total = 0;
  for (const SourceDisk& disk : disks) total += disk.meta.size;
  absl::StatusOr<UniqueFd> bucket =
      OpenBucket(ctx.options.oss_root, work.oss_bucket);
  if (!bucket.ok()) return OssFailure(bucket.status(), true);
  ctx.total_bytes.store(total);
  const ImageMeta& system = disks.front().meta;
  const std::string format = ExportFormat(work, system.format);
  int64_t base = 0;
  for (size_t disk = 0; disk < disks.size(); ++disk) {
    WorkResult r =
        ExportDisk(work, ctx, dir->get(), bucket->get(), static_cast<int>(disk),
                   disks[disk].fd.get(), disks[disk].meta, format, base);
    if (r.state != Observation::State::kDone) return r;
    base += disks[disk].meta.size;
  }
  WorkResult r;
  r.digest = system.ImageDigest();
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
  // A failure frees what it wrote (an image's data disks published
  // before the failure too; an export keeps the objects of the disks it
  // finished); the source is never touched.
  if (r.state == Observation::State::kFailed) {
    CleanUpWork(work, ctx.files, ctx.options,
                /*with_data=*/work.kind != WorkKind::kExport);
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
  absl::StatusOr<ImageMeta> meta = ReadMeta(dir->get(), work.image_id);
  const int disks = meta.ok() ? meta->disks : 1;
  for (int disk = 0; disk < disks; ++disk) {
    files.UnlinkAt(dir->get(), ExportCkptName(work, disk));
  }
  absl::StatusOr<UniqueFd> bucket =
      OpenBucket(options.oss_root, work.oss_bucket);
  if (!bucket.ok()) return;
  const std::string format =
      ExportFormat(work, meta.ok() ? meta->format : "RAW");
  for (int disk = 0; disk < disks; ++disk) {
    std::string name;
    absl::StatusOr<UniqueFd> parent =
        OpenObjectParent(bucket->get(), ExportKey(work, format, disk), &name);
    if (!parent.ok()) continue;
    files.UnlinkAt(parent->get(), ExportPartName(work, name));
    if (with_data) files.UnlinkAt(parent->get(), name);
    files.Sync(parent->get());
  }
}

}  // namespace ecsimage::backend::filesystem
