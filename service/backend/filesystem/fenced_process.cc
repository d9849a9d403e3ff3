#include "service/backend/filesystem/fenced_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "service/backend/filesystem/unique_fd.h"

namespace ecsimage::backend::filesystem {
namespace {

constexpr size_t kStderrKept = 4096;
constexpr int kPollMs = 100;
// Descriptors are first moved up here, clear of 0..2 and the 3.. targets.
constexpr int kParkedFdFloor = 256;

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// argv[0] as an absolute path, looked up on PATH here (not in the child,
// where only async-signal-safe calls may run). Empty when not found.
std::string ResolveProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(
           path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin", ':')) {
    if (dir.empty()) continue;
    std::string candidate = absl::StrCat(dir, "/", name);
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// The child, between fork and exec: async-signal-safe calls only.
[[noreturn]] void ExecChild(const char* program, char* const* argv,
                            const int* fds, int nfds, int out_w, int err_w,
                            const FencedLimits& limits, pid_t parent) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);  // the parent died already
  int parked[16];
  for (int i = 0; i < nfds; ++i) {
    parked[i] = ::fcntl(fds[i], F_DUPFD, kParkedFdFloor);
    if (parked[i] < 0) ::_exit(127);
  }
  const int out = ::fcntl(out_w, F_DUPFD, kParkedFdFloor);
  const int err = ::fcntl(err_w, F_DUPFD, kParkedFdFloor);
  const int null = ::open("/dev/null", O_RDONLY);
  if (out < 0 || err < 0 || null < 0) ::_exit(127);
  if (::dup2(null, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) {
    ::_exit(127);
  }
  for (int i = 0; i < nfds; ++i) {
    if (::dup2(parked[i], 3 + i) < 0) ::_exit(127);
  }
  if (::syscall(SYS_close_range, 3 + nfds, ~0U, 0) != 0) {
    for (int fd = 3 + nfds; fd < 65536; ++fd) ::close(fd);
  }
  struct rlimit none = {0, 0};
  ::setrlimit(RLIMIT_CORE, &none);
  if (limits.address_space_bytes > 0) {
    const auto bytes = static_cast<rlim_t>(limits.address_space_bytes);
    struct rlimit as = {bytes, bytes};
    ::setrlimit(RLIMIT_AS, &as);
  }
  if (limits.cpu_seconds > 0) {
    // SIGXCPU at the soft limit, SIGKILL a little later.
    const auto seconds = static_cast<rlim_t>(limits.cpu_seconds);
    struct rlimit cpu = {seconds, seconds + 5};
    ::setrlimit(RLIMIT_CPU, &cpu);
  }
  sigset_t all;
  ::sigemptyset(&all);
  ::sigprocmask(SIG_SETMASK, &all, nullptr);
  ::execv(program, argv);
  ::_exit(127);
}

}  // namespace

absl::StatusOr<FencedRun> RunFenced(
    const std::vector<std::string>& argv, const std::vector<int>& fds,
    const FencedLimits& limits, const std::atomic<bool>* stop,
    const std::function<void(absl::string_view)>& on_stdout) {
  if (argv.empty() || fds.size() > 16) {
    return absl::InvalidArgumentError("RunFenced: bad argv or descriptors");
  }
  FencedRun run;
  const std::string program = ResolveProgram(argv[0]);
  if (program.empty()) {
    run.exit_code = 127;
    run.stderr_text = absl::StrCat(argv[0], ": not found on PATH");
    return run;
  }
  std::vector<std::string> args = argv;
  std::vector<char*> cargs;
  for (std::string& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);

  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  UniqueFd err_r(err_pipe[0]), err_w(err_pipe[1]);

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    ExecChild(program.c_str(), cargs.data(), fds.data(),
              static_cast<int>(fds.size()), out_w.get(), err_w.get(), limits,
              parent);
  }
  out_w.Reset();
  err_w.Reset();

  const int64_t deadline = limits.wall_ms > 0 ? SteadyMs() + limits.wall_ms : 0;
  bool killed = false;
  char buf[4096];
  while (out_r.valid() || err_r.valid()) {
    if (!killed && stop != nullptr && stop->load()) {
      ::kill(pid, SIGKILL);
      killed = true;
      run.end = FencedRun::End::kStopped;
    }
    if (!killed && deadline > 0 && SteadyMs() >= deadline) {
      ::kill(pid, SIGKILL);
      killed = true;
      run.end = FencedRun::End::kWallLimit;
    }
    struct pollfd pfds[2];
    int n = 0;
    if (out_r.valid()) pfds[n++] = {out_r.get(), POLLIN, 0};
    if (err_r.valid()) pfds[n++] = {err_r.get(), POLLIN, 0};
    if (::poll(pfds, n, kPollMs) < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      if (pfds[i].revents == 0) continue;
      const ssize_t got = ::read(pfds[i].fd, buf, sizeof(buf));
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      const bool is_out = pfds[i].fd == out_r.get();
      if (got <= 0) {
        (is_out ? out_r : err_r).Reset();
        continue;
      }
      const absl::string_view text(buf, static_cast<size_t>(got));
      if (is_out) {
        if (on_stdout) on_stdout(text);
      } else if (run.stderr_text.size() < kStderrKept) {
        const absl::string_view kept =
            text.substr(0, kStderrKept - run.stderr_text.size());
        run.stderr_text.append(kept.data(), kept.size());
      }
    }
  }
  // Both pipes closed: the child is exiting (or closed them and runs on,
  // still under `stop` and the wall-clock limit).
  int status = 0;
  while (true) {
    const pid_t got = ::waitpid(pid, &status, killed ? 0 : WNOHANG);
    if (got == pid) break;
    if (got < 0 && errno != EINTR) {
      return absl::InternalError(
          absl::StrCat("waitpid: ", std::strerror(errno)));
    }
    if (got == 0) {
      const bool stopped = stop != nullptr && stop->load();
      if (stopped || (deadline > 0 && SteadyMs() >= deadline)) {
        ::kill(pid, SIGKILL);
        killed = true;
        run.end =
            stopped ? FencedRun::End::kStopped : FencedRun::End::kWallLimit;
      } else {
        ::poll(nullptr, 0, 10);
      }
    }
  }
  if (killed) return run;
  if (WIFEXITED(status)) {
    run.end = FencedRun::End::kExited;
    run.exit_code = WEXITSTATUS(status);
  } else {
    run.end = FencedRun::End::kSignalled;
    run.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  }
  return run;
}

}  // namespace ecsimage::backend::filesystem
