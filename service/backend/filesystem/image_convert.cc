#include "service/backend/filesystem/image_convert.h"

#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "service/backend/filesystem/fenced_process.h"

namespace ecsimage::backend::filesystem {
namespace {

constexpr int64_t kGib = int64_t{1} << 30;
constexpr int kSrcChildFd = 3;
constexpr int kDstChildFd = 4;

// A qemu block spec of the child's descriptor `fd` in `format`: the driver
// named, a QCOW2 never reaching a backing file.
std::string BlockSpec(int fd, const std::string& format) {
  const std::string file = absl::StrCat(
      "{\"driver\":\"file\",\"filename\":\"/proc/self/fd/", fd, "\"}");
  if (format == "QCOW2") {
    return absl::StrCat(
        "json:{\"driver\":\"qcow2\",\"backing\":null,\"file\":", file, "}");
  }
  return absl::StrCat("json:{\"driver\":\"raw\",\"file\":", file, "}");
}

FencedLimits LimitsFor(const ConvertJob& job) {
  const int64_t gib = std::max<int64_t>(1, (job.src_size + kGib - 1) / kGib);
  FencedLimits limits;
  limits.address_space_bytes = job.limits.address_space_bytes;
  limits.cpu_seconds =
      job.limits.cpu_seconds_base + job.limits.cpu_seconds_per_gib * gib;
  limits.wall_ms = job.limits.wall_ms_base + job.limits.wall_ms_per_gib * gib;
  return limits;
}

// qemu-img's last stderr line, for the task's FailureMessage.
std::string LastLine(const std::string& text) {
  absl::string_view t = absl::StripTrailingAsciiWhitespace(text);
  const size_t nl = t.rfind('\n');
  return std::string(nl == absl::string_view::npos ? t : t.substr(nl + 1));
}

// Turns one run's end into a status; `step` is "convert" or "compare".
absl::Status Ended(const FencedRun& run, absl::string_view step,
                   const FencedLimits& limits) {
  switch (run.end) {
    case FencedRun::End::kStopped:
      return absl::CancelledError(absl::StrCat("qemu-img ", step, " stopped"));
    case FencedRun::End::kWallLimit:
      return absl::DeadlineExceededError(
          absl::StrCat("qemu-img ", step, " ran past its ",
                       limits.wall_ms / 1000, " s limit"));
    case FencedRun::End::kSignalled:
      if (run.signal == SIGXCPU) {
        return absl::DeadlineExceededError(
            absl::StrCat("qemu-img ", step, " ran past its ",
                         limits.cpu_seconds, " CPU seconds"));
      }
      if (run.signal == SIGKILL) {  // the CPU hard limit, or the OOM killer
        return absl::DeadlineExceededError(absl::StrCat(
            "qemu-img ", step, " was killed (past its ", limits.cpu_seconds,
            " CPU seconds, or out of memory)"));
      }
      return absl::InternalError(absl::StrCat("qemu-img ", step,
                                              " died of signal ", run.signal,
                                              ": ", LastLine(run.stderr_text)));
    case FencedRun::End::kExited:
      break;
  }
  if (run.exit_code == 0) return absl::OkStatus();
  if (run.exit_code == 127) {
    return absl::UnavailableError(
        absl::StrCat("qemu-img cannot run (Debian package qemu-utils): ",
                     LastLine(run.stderr_text)));
  }
  if (absl::StrContains(run.stderr_text, "No space left on device")) {
    return absl::ResourceExhaustedError(
        absl::StrCat("qemu-img ", step, ": ", LastLine(run.stderr_text)));
  }
  if (step == "compare" && run.exit_code == 1) {
    return absl::DataLossError(
        absl::StrCat("the converted file differs from the image: ",
                     LastLine(run.stderr_text)));
  }
  return absl::InternalError(absl::StrCat("qemu-img ", step, " exited ",
                                          run.exit_code, ": ",
                                          LastLine(run.stderr_text)));
}

// Reads "(12.34/100%)" progress from qemu-img -p into done_bytes.
class ProgressReader {
 public:
  explicit ProgressReader(const ConvertJob& job) : job_(job) {}
  void Feed(absl::string_view text) {
    pending_.append(text.data(), text.size());
    size_t end;
    while ((end = pending_.find("/100%)")) != std::string::npos) {
      const size_t start = pending_.rfind('(', end);
      if (start != std::string::npos && job_.done_bytes != nullptr) {
        const double percent =
            std::strtod(pending_.c_str() + start + 1, nullptr);
        const auto done =
            job_.base_bytes +
            static_cast<int64_t>(static_cast<double>(job_.src_size) *
                                 std::clamp(percent, 0.0, 100.0) / 100.0);
        if (done > job_.done_bytes->load()) job_.done_bytes->store(done);
      }
      pending_.erase(0, end + 6);
    }
    if (pending_.size() > 256) pending_.erase(0, pending_.size() - 64);
  }

 private:
  const ConvertJob& job_;
  std::string pending_;
};

}  // namespace

absl::Status ConvertImage(const ConvertJob& job) {
  const FencedLimits limits = LimitsFor(job);
  const std::vector<int> fds = {job.src_fd, job.dst_fd};
  ProgressReader progress(job);
  absl::StatusOr<FencedRun> convert =
      RunFenced({job.qemu_img, "convert", "-p", "-O",
                 absl::AsciiStrToLower(job.dst_format),
                 BlockSpec(kSrcChildFd, job.src_format),
                 absl::StrCat("/proc/self/fd/", kDstChildFd)},
                fds, limits, job.stop,
                [&progress](absl::string_view text) { progress.Feed(text); });
  if (!convert.ok()) return convert.status();
  if (absl::Status s = Ended(*convert, "convert", limits); !s.ok()) return s;
  // Read both back: the export is verified (data-plane.md §2).
  // "Content mismatch at offset N!" comes on stdout.
  std::string said;
  absl::StatusOr<FencedRun> compare = RunFenced(
      {job.qemu_img, "compare", BlockSpec(kSrcChildFd, job.src_format),
       BlockSpec(kDstChildFd, job.dst_format)},
      fds, limits, job.stop, [&said](absl::string_view text) {
        if (said.size() < 1024) said.append(text.data(), text.size());
      });
  if (!compare.ok()) return compare.status();
  compare->stderr_text.append(said);
  return Ended(*compare, "compare", limits);
}

}  // namespace ecsimage::backend::filesystem
