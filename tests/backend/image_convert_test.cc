// ConvertImage and the fenced child it runs (image_convert.h,
// fenced_process.h), with stand-ins for qemu-img written as shell scripts:
// what the child inherits, how its end maps to a status, progress, stop
// and the wall-clock limit. The real qemu-img runs in backend_seam_test.
#include "service/backend/filesystem/image_convert.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "service/backend/filesystem/fenced_process.h"
#include "tests/backend/temp_dir_test.h"

namespace ecsimage::backend::filesystem {
namespace {

class ImageConvertTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    src_ = UniqueFd(open((root_ + "/src").c_str(), O_RDWR | O_CREAT, 0644));
    dst_ = UniqueFd(open((root_ + "/dst").c_str(), O_RDWR | O_CREAT, 0644));
    ASSERT_TRUE(src_.valid() && dst_.valid());
    ASSERT_EQ(ftruncate(src_.get(), 1 << 20), 0);
  }

  // A stand-in for qemu-img: `body` runs for both "convert" and "compare"
  // ($1 tells which).
  std::string Script(const std::string& body) {
    const std::string path = root_ + "/qemu-img-" + std::to_string(++n_);
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    EXPECT_EQ(chmod(path.c_str(), 0755), 0);
    return path;
  }

  ConvertJob Job(const std::string& qemu_img) {
    ConvertJob job;
    job.qemu_img = qemu_img;
    job.src_fd = src_.get();
    job.src_format = "RAW";
    job.src_size = 1 << 20;
    job.dst_fd = dst_.get();
    job.dst_format = "QCOW2";
    job.stop = &stop_;
    job.done_bytes = &done_;
    return job;
  }

  UniqueFd src_, dst_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> done_{0};
  int n_ = 0;
};

TEST_F(ImageConvertTest, ArgumentsNameFormatsAndTheGivenDescriptorsOnly) {
  const std::string log = root_ + "/args";
  ASSERT_EQ(setenv("ECSIMAGE_TEST_ARGS", log.c_str(), 1), 0);
  EXPECT_TRUE(
      ConvertImage(Job(Script("echo \"$@\" >> \"$ECSIMAGE_TEST_ARGS\""))).ok());
  std::string convert, compare;
  std::ifstream in(log);
  std::getline(in, convert);
  std::getline(in, compare);
  EXPECT_EQ(convert,
            "convert -p -O qcow2 json:{\"driver\":\"raw\",\"file\":{\"driver\":"
            "\"file\",\"filename\":\"/proc/self/fd/3\"}} /proc/self/fd/4");
  EXPECT_EQ(compare,
            "compare json:{\"driver\":\"raw\",\"file\":{\"driver\":\"file\","
            "\"filename\":\"/proc/self/fd/3\"}} json:{\"driver\":\"qcow2\","
            "\"backing\":null,\"file\":{\"driver\":\"file\",\"filename\":\"/"
            "proc/self/fd/4\"}}");
}

TEST_F(ImageConvertTest, TheChildGetsItsFilesAsThreeAndFourAndNothingElse) {
  // A descriptor of the server without O_CLOEXEC is not inherited; 3 and 4
  // are the source and the destination.
  // Far from 3, 4 and the shell's own script descriptor (10).
  const int opened = open(root_.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(opened, 0);
  const int leaked = fcntl(opened, F_DUPFD, 100);
  close(opened);
  ASSERT_GE(leaked, 100);
  ASSERT_EQ(setenv("ECSIMAGE_TEST_LEAKED", std::to_string(leaked).c_str(), 1),
            0);
  const std::string script = Script(
      "[ -e /proc/self/fd/$ECSIMAGE_TEST_LEAKED ] && exit 9\n"
      "[ \"$(readlink /proc/self/fd/3)\" = \"$ECSIMAGE_TEST_ROOT/src\" ] || "
      "exit 8\n"
      "[ \"$(readlink /proc/self/fd/4)\" = \"$ECSIMAGE_TEST_ROOT/dst\" ] || "
      "exit 7\n"
      "[ \"$(readlink /proc/self/fd/0)\" = /dev/null ] || exit 6\n"
      "exit 0");
  ASSERT_EQ(setenv("ECSIMAGE_TEST_ROOT", root_.c_str(), 1), 0);
  absl::Status s = ConvertImage(Job(script));
  close(leaked);
  EXPECT_TRUE(s.ok()) << s;
}

TEST_F(ImageConvertTest, EndsMapToStatuses) {
  EXPECT_TRUE(absl::IsUnavailable(ConvertImage(Job(root_ + "/none"))));
  absl::Status full = ConvertImage(Job(Script(
      "echo 'qemu-img: error while writing: No space left on device' >&2; "
      "exit 1")));
  EXPECT_TRUE(absl::IsResourceExhausted(full)) << full;
  EXPECT_NE(full.message().find("No space left"), std::string::npos) << full;
  absl::Status differ = ConvertImage(Job(
      Script("[ \"$1\" = compare ] && { echo 'Content mismatch at offset 0!'; "
             "exit 1; }; exit 0")));
  EXPECT_TRUE(absl::IsDataLoss(differ)) << differ;
  EXPECT_NE(differ.message().find("Content mismatch"), std::string::npos)
      << differ;
  absl::Status broken =
      ConvertImage(Job(Script("echo 'qemu-img: Unknown driver' >&2; exit 1")));
  EXPECT_TRUE(absl::IsInternal(broken)) << broken;
  EXPECT_NE(broken.message().find("Unknown driver"), std::string::npos)
      << broken;
  absl::Status killed = ConvertImage(Job(Script("kill -SEGV $$")));
  EXPECT_TRUE(absl::IsInternal(killed)) << killed;
  EXPECT_NE(killed.message().find("signal 11"), std::string::npos) << killed;
}

TEST_F(ImageConvertTest, ProgressComesFromTheOutputAndStopKillsAtOnce) {
  // Half way, the stand-in waits on a FIFO nobody writes: only a kill ends
  // it. The test stops it once the progress arrived.
  const std::string fifo = root_ + "/never";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  ASSERT_EQ(setenv("ECSIMAGE_TEST_FIFO", fifo.c_str(), 1), 0);
  const std::string script = Script(
      "printf '    (0.00/100%%)\\r    (25.00/100%%)\\r    (50.00/100%%)\\r'; "
      "read x < \"$ECSIMAGE_TEST_FIFO\"");
  std::atomic<bool> returned{false};  // a test that fails does not hang
  std::thread stopper([this, &returned] {
    while (done_.load() < (1 << 19) && !returned.load()) {
      std::this_thread::yield();
    }
    stop_.store(true);
  });
  ConvertJob job = Job(script);
  job.limits.wall_ms_base = 60'000;  // if the progress never came
  absl::Status s = ConvertImage(job);
  returned.store(true);
  stopper.join();
  EXPECT_TRUE(absl::IsCancelled(s)) << s;
  EXPECT_EQ(done_.load(), 1 << 19);
}

TEST_F(ImageConvertTest, TheWallClockLimitKillsAStuckChild) {
  const std::string fifo = root_ + "/never";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  ASSERT_EQ(setenv("ECSIMAGE_TEST_FIFO", fifo.c_str(), 1), 0);
  ConvertJob job = Job(Script("read x < \"$ECSIMAGE_TEST_FIFO\""));
  job.limits.wall_ms_base = 200;
  job.limits.wall_ms_per_gib = 0;
  absl::Status s = ConvertImage(job);
  EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
}

TEST_F(ImageConvertTest, TheChildRunsUnderTheMemoryAndCpuLimits) {
  const std::string out = root_ + "/limits";
  ASSERT_EQ(setenv("ECSIMAGE_TEST_LIMITS", out.c_str(), 1), 0);
  FencedLimits limits;
  limits.address_space_bytes = int64_t{1} << 30;
  limits.cpu_seconds = 77;
  absl::StatusOr<FencedRun> run = RunFenced(
      {"/bin/sh", "-c",
       "{ ulimit -v; ulimit -t; ulimit -c; } > \"$ECSIMAGE_TEST_LIMITS\""},
      {}, limits, nullptr, nullptr);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->end, FencedRun::End::kExited);
  EXPECT_EQ(run->exit_code, 0) << run->stderr_text;
  std::ifstream in(out);
  std::string as, cpu, core;
  std::getline(in, as);
  std::getline(in, cpu);
  std::getline(in, core);
  EXPECT_EQ(as, "1048576");  // KiB
  EXPECT_EQ(cpu, "77");
  EXPECT_EQ(core, "0");
}

}  // namespace
}  // namespace ecsimage::backend::filesystem
