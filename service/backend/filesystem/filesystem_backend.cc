#include "service/backend/filesystem/filesystem_backend.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "service/backend/filesystem/data_layout.h"
#include "service/backend/filesystem/failure_codes.h"
#include "service/backend/filesystem/input_checks.h"
#include "service/backend/filesystem/meta_index.h"
#include "service/backend/filesystem/orphan_collector.h"
#include "service/backend/filesystem/unique_fd.h"
#include "service/backend/filesystem/work.h"
#include "util/absl_compat.h"

namespace ecsimage::backend::filesystem {
namespace {

using State = Observation::State;

// One JSON line on stderr per failed work item, for operators (the owner
// sees the task Failed).
void LogFailure(const WorkOrder& order, const WorkResult& r) {
  std::string line = absl::StrCat(
      "{\"level\":\"warning\",\"msg\":\"backend work failed\",\"work\":\"",
      absl::CHexEscape(order.key), "\",\"failureCode\":\"",
      absl::CHexEscape(r.failure_code), "\",\"failureMessage\":\"",
      absl::CHexEscape(r.failure_message), "\"}\n");
  std::fwrite(line.data(), 1, line.size(), stderr);
}

struct Job {
  explicit Job(WorkOrder o) : order(std::move(o)) {}
  const WorkOrder order;
  std::atomic<bool> stop{false};
  // Set with `stop`: remove what the work wrote once it stopped (a cancel,
  // or a task this replica no longer holds).
  std::atomic<bool> clean_up{false};
  std::atomic<bool> with_data{false};
  std::atomic<int64_t> done_bytes{0};
  std::atomic<int64_t> total_bytes{0};
  std::atomic<int64_t> moved_bytes{0};  // written, durable or not
  std::atomic<bool> finished{false};
  // When the bytes started moving and how many were already there (a
  // resumed copy), for the measured rate.
  std::atomic<int64_t> started_us{0};
  std::atomic<int64_t> done_at_start{-1};
  WorkResult result;  // read after `finished`
  std::thread thread;
};

class FilesystemBackend : public Backend {
 public:
  explicit FilesystemBackend(FilesystemOptions options)
      : options_(std::move(options)),
        files_(options_.files != nullptr ? *options_.files : PosixFiles()) {}

  ~FilesystemBackend() override {
    std::map<std::string, std::shared_ptr<Job>> jobs;
    {
      std::lock_guard<std::mutex> lock(mu_);
      jobs.swap(jobs_);
      for (auto& [key, job] : jobs) job->stop.store(true);  // keep checkpoints
    }
    slots_cv_.notify_all();
    for (auto& [key, job] : jobs) {
      if (job->thread.joinable()) job->thread.join();
    }
  }

  std::string_view name() const override { return "filesystem"; }
  int64_t PrepareMs() const override { return 0; }
  int64_t RegisterMs() const override { return 0; }

  Observation Observe(const WorkOrder& work,
                      const WorkProgress& at) const override {
    Observation obs;
    obs.done = at.done;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(work.key);
    if (it == jobs_.end()) return obs;
    Job& job = *it->second;
    StartRate(job);
    const int64_t total = job.total_bytes.load();
    const int64_t done = job.done_bytes.load();
    if (total > 0) {
      // In the engine's units; never 100% before the work is done.
      const int64_t scaled = static_cast<int64_t>(
          static_cast<long double>(at.total) * done / total);
      obs.done = std::clamp<int64_t>(scaled, at.done,
                                     std::max<int64_t>(at.done, at.total - 1));
    }
    if (!job.finished.load()) return obs;
    const WorkResult& r = job.result;
    if (work.cancel || job.clean_up.load()) {
      if (r.state != State::kDone || job.clean_up.load()) {
        obs.state = State::kCancelled;
        obs.at_ms = at.now_ms;
      }
      return obs;
    }
    if (r.state == State::kCancelled) return obs;  // stopped: resumes
    if (r.state == State::kDone && work.kind == WorkKind::kCopy &&
        PausedBeforeRegistering()) {
      return obs;
    }
    obs.state = r.state;
    obs.at_ms = at.now_ms;
    obs.failure_code = r.failure_code;
    obs.failure_message = r.failure_message;
    obs.digest = r.digest;
    obs.size_gib = r.size_gib;
    obs.disk_sizes_gib = r.disk_sizes_gib;
    obs.source_data_missing = r.source_data_missing;
    if (r.state == State::kDone) obs.done = at.total;
    return obs;
  }

  void Reconcile(const std::vector<WorkOrder>& held) override {
    std::vector<std::shared_ptr<Job>> finished;
    {
      std::lock_guard<std::mutex> lock(mu_);
      std::set<std::string> keys;
      for (const WorkOrder& order : held) {
        keys.insert(order.key);
        auto it = jobs_.find(order.key);
        if (it != jobs_.end()) {
          Job& job = *it->second;
          if (order.cancel && !job.clean_up.load()) {
            job.with_data.store(true);
            job.clean_up.store(true);
            job.stop.store(true);
            if (job.finished.load()) StartCleanUp(it->second);
          } else if (!order.cancel && job.finished.load() &&
                     job.result.state == State::kCancelled) {
            finished.push_back(it->second);  // stopped: start it again
            jobs_.erase(it);
            StartJob(order);
          }
          continue;
        }
        if (order.cancel) {
          // Nothing running here (e.g. after a restart): clean up at once.
          auto job = std::make_shared<Job>(order);
          job->with_data.store(true);
          job->clean_up.store(true);
          job->stop.store(true);
          job->result.state = State::kCancelled;
          jobs_[order.key] = job;
          StartCleanUp(job);
          continue;
        }
        StartJob(order);
      }
      for (auto it = jobs_.begin(); it != jobs_.end();) {
        Job& job = *it->second;
        if (keys.count(it->first) > 0) {
          ++it;
          continue;
        }
        if (job.finished.load()) {
          finished.push_back(it->second);
          it = jobs_.erase(it);
          continue;
        }
        // No longer ours (cancelled, or its lease went elsewhere): stop and
        // remove what this attempt wrote.
        job.clean_up.store(true);
        job.stop.store(true);
        ++it;
      }
    }
    slots_cv_.notify_all();
    for (auto& job : finished) {
      if (job->thread.joinable()) job->thread.join();
    }
  }

  std::optional<int64_t> RemainingMs(std::string_view work_key) const override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(std::string(work_key));
    if (it == jobs_.end() || it->second->finished.load()) return std::nullopt;
    Job& job = *it->second;
    StartRate(job);
    const int64_t total = job.total_bytes.load();
    const int64_t done = job.moved_bytes.load();
    const int64_t base = job.done_at_start.load();
    const int64_t elapsed_us = NowUs() - job.started_us.load();
    if (total <= 0 || base < 0 || done <= base || elapsed_us <= 0) {
      return std::nullopt;
    }
    const long double rate = static_cast<long double>(done - base) / elapsed_us;
    return static_cast<int64_t>((total - done) / rate / 1000);
  }

  DataDetails ImageDetails(std::string_view region_id,
                           std::string_view image_id) const override {
    DataDetails out;
    absl::StatusOr<UniqueFd> dir =
        OpenRegionDir(options_.data_root, std::string(region_id));
    if (!dir.ok()) return out;
    const std::string id(image_id);
    if (absl::StatusOr<ImageMeta> meta = ReadMeta(dir->get(), id); meta.ok()) {
      out.image_digest = meta->ImageDigest();
    }
    std::tie(out.failure_code, out.failure_message) =
        ReadFailure(dir->get(), ImageFailureName(id));
    return out;
  }

  DataDetails TaskDetails(std::string_view region_id,
                          std::string_view task_id) const override {
    DataDetails out;
    absl::StatusOr<UniqueFd> dir =
        OpenRegionDir(options_.data_root, std::string(region_id));
    if (!dir.ok()) return out;
    std::tie(out.failure_code, out.failure_message) =
        ReadFailure(dir->get(), TaskFailureName(std::string(task_id)));
    return out;
  }

  InputProblem CheckImportSource(std::string_view bucket,
                                 std::string_view object,
                                 std::string_view format) const override {
    return CheckImportObject(options_.oss_root, AV(bucket), AV(object),
                             AV(format));
  }
  InputProblem CheckExportTarget(std::string_view bucket,
                                 std::string_view prefix,
                                 std::string_view image_id) const override {
    return CheckExportPrefix(options_.oss_root, AV(bucket), AV(prefix),
                             AV(image_id));
  }

  int CollectOrphans(DataOwners& owners, int64_t grace_ms) override {
    const int64_t now_us = NowUs();
    if (last_sweep_us_ >= 0 && now_us - last_sweep_us_ < grace_ms * 500) {
      return 0;
    }
    last_sweep_us_ = now_us;
    return CollectOrphanFiles(files_, options_.data_root, owners, grace_ms,
                              static_cast<int64_t>(::time(nullptr)));
  }

  bool HasImageData(std::string_view region_id,
                    std::string_view image_id) const override {
    // An image has data exactly when its .meta exists (data_layout.h).
    const std::string meta =
        absl::StrCat(options_.data_root, "/", AV(region_id), "/",
                     MetaName(std::string(image_id)));
    struct stat st;
    return ::lstat(meta.c_str(), &st) == 0 && S_ISREG(st.st_mode);
  }

  std::unique_ptr<ImageDataIndex> IndexImageData() const override {
    return IndexImageMetas(options_.data_root);
  }

  void NoteDataMissing(std::string_view region_id,
                       std::string_view image_id) override {
    absl::StatusOr<UniqueFd> dir =
        OpenRegionDir(options_.data_root, std::string(region_id));
    if (!dir.ok()) return;
    WriteFailure(files_, dir->get(), ImageFailureName(std::string(image_id)),
                 kFailDataMissing,
                 absl::StrCat("image ", AV(image_id), " has no data under ",
                              options_.data_root, "/", AV(region_id),
                              " (found by the background data check)"));
  }

  absl::Status DeleteImageData(std::string_view region_id,
                               std::string_view image_id) override {
    absl::StatusOr<UniqueFd> dir =
        OpenRegionDir(options_.data_root, std::string(region_id));
    if (!dir.ok()) return dir.status();
    return RemoveImageFiles(files_, dir->get(), std::string(image_id),
                            /*with_data=*/true);
  }

 private:
  // Under mu_.
  void StartJob(const WorkOrder& order) {
    auto job = std::make_shared<Job>(order);
    jobs_[order.key] = job;
    job->thread = std::thread([this, job] { Run(*job); });
  }

  // Under mu_: a finished job that must still remove its data.
  void StartCleanUp(const std::shared_ptr<Job>& job) {
    if (job->thread.joinable()) job->thread.detach();
    job->finished.store(false);
    job->thread = std::thread([this, job] {
      CleanUpWork(job->order, files_, options_, job->with_data.load());
      job->finished.store(true);
    });
  }

  // The measured rate counts from the first sample after the first bytes
  // were written (a resumed copy's kept bytes are not counted).
  static void StartRate(Job& job) {
    if (job.done_at_start.load() >= 0) return;
    const int64_t done = job.moved_bytes.load();
    if (done <= 0) return;
    job.started_us.store(NowUs());
    job.done_at_start.store(done);
  }

  static int64_t NowUs() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  // The test hook of FilesystemOptions::pause_before_registering_file.
  bool PausedBeforeRegistering() const {
    const std::string& file = options_.pause_before_registering_file;
    return !file.empty() && ::access(file.c_str(), F_OK) == 0;
  }

  // Kept beside the data so that the owner sees it after a restart.
  void RecordFailure(const WorkOrder& order, const WorkResult& r) {
    absl::StatusOr<UniqueFd> dir =
        OpenRegionDir(options_.data_root, order.region_id);
    if (!dir.ok()) return;
    const std::string name = order.kind == WorkKind::kExport
                                 ? TaskFailureName(order.key.substr(5))
                                 : ImageFailureName(order.image_id);
    WriteFailure(files_, dir->get(), name, r.failure_code, r.failure_message);
  }

  void Run(Job& job) {
    {
      std::unique_lock<std::mutex> lock(slots_mu_);
      slots_cv_.wait(lock, [&] {
        return running_ < options_.max_concurrent_tasks || job.stop.load();
      });
      if (!job.stop.load()) ++running_;
    }
    const bool took_slot = !job.stop.load();
    WorkResult result;
    if (took_slot) {
      WorkContext ctx{files_,         options_,        job.stop,
                      job.done_bytes, job.total_bytes, job.moved_bytes};
      result = RunWork(job.order, ctx);
      {
        std::lock_guard<std::mutex> lock(slots_mu_);
        --running_;
      }
      slots_cv_.notify_all();
    } else {
      result.state = State::kCancelled;
    }
    if (job.clean_up.load()) {
      CleanUpWork(job.order, files_, options_, job.with_data.load());
    }
    if (result.state == State::kFailed) {
      LogFailure(job.order, result);
      RecordFailure(job.order, result);
    }
    job.result = std::move(result);
    job.finished.store(true);
  }

  const FilesystemOptions options_;
  Files& files_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;  // guarded by mu_
  std::mutex slots_mu_;
  std::condition_variable slots_cv_;
  int running_ = 0;  // guarded by slots_mu_
  // The engine's thread only.
  int64_t last_sweep_us_ = -1;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> NewFilesystemBackend(
    FilesystemOptions options) {
  if (options.data_root.empty() || options.oss_root.empty()) {
    return absl::InvalidArgumentError(
        "--backend=filesystem needs --data-root and --oss-root");
  }
  UniqueFd oss(
      ::open(options.oss_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!oss.valid()) {
    return absl::FailedPreconditionError(
        absl::StrCat("--oss-root ", options.oss_root, " is not a directory"));
  }
  if (absl::Status s =
          CheckRootIdentity(options.data_root, options.database_identity,
                            options.legacy_identity);
      !s.ok()) {
    return s;
  }
  options.max_concurrent_tasks = std::max(1, options.max_concurrent_tasks);
  return std::unique_ptr<Backend>(new FilesystemBackend(std::move(options)));
}

}  // namespace ecsimage::backend::filesystem
