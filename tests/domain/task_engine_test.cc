// TaskEngine on a real SQLite file: the running-copy limit, phase timing,
// monotonic progress, cancellation, restarts, imports/exports and created
// images; and the shared moves of copy_moves.h.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "service/domain/copy_moves.h"
#include "service/domain/copy_phases.h"
#include "service/domain/image_domain.h"
#include "tests/domain/task_test_env.h"

namespace ecsimage::domain {
namespace {

using ::ecsimage::testing::EcsCode;
using ::ecsimage::testing::MetaOf;
using ::ecsimage::testing::TaskTestEnv;

constexpr char kHangzhou[] = "cn-hangzhou";
constexpr char kShanghai[] = "cn-shanghai";
constexpr char kBeijing[] = "cn-beijing";

class TaskEngineTest : public ::testing::Test {
 protected:
  void Tick(TaskEngine& engine) {
    absl::Status status = engine.Tick();
    ASSERT_TRUE(status.ok()) << status;
  }
  // Advances the clock by `ms` and ticks.
  void Step(TaskEngine& engine, int64_t ms) {
    env_.clock().AdvanceMs(ms);
    Tick(engine);
  }
  std::string PhaseOf(const storage::CopyTaskRow& copy) {
    return env_.CopyInto(copy.dest_image_rowid).phase;
  }

  TaskTestEnv env_;
};

TEST_F(TaskEngineTest, FirstTickOnlyRecordsTheTime) {
  storage::CopyTaskRow copy =
      env_.PutCopy(env_.alice(), kHangzhou, kShanghai, 1024);
  TaskEngine engine(env_.store(), env_.clock(), env_.options());
  env_.clock().AdvanceMs(60000);
  Tick(engine);
  EXPECT_EQ(PhaseOf(copy), "QUEUED");
  Step(engine, 1);
  EXPECT_EQ(PhaseOf(copy), "PREPARING");
  storage::ImageRow dest = env_.ImageAt(copy.dest_image_rowid);
  EXPECT_EQ(dest.status, "Creating");
  EXPECT_EQ(dest.progress, 0);
}

TEST_F(TaskEngineTest, AtMostFiveCopiesRunPerAccountAndRegion) {
  std::vector<storage::CopyTaskRow> copies;
  // The first copy is the smallest, so it finishes first.
  for (int i = 0; i < 6; ++i) {
    copies.push_back(env_.PutCopy(env_.alice(), kHangzhou, kShanghai,
                                  1024 * (i == 0 ? 1 : 20)));
    env_.clock().AdvanceMs(1);
  }
  // Neither another account nor another destination region shares the limit.
  storage::CopyTaskRow bobs =
      env_.PutCopy(env_.bob(), kHangzhou, kShanghai, 1024 * 20);
  storage::CopyTaskRow elsewhere =
      env_.PutCopy(env_.alice(), kHangzhou, kBeijing, 1024 * 20);

  TaskEngine engine(env_.store(), env_.clock(), env_.options());
  Tick(engine);
  Step(engine, 1);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(PhaseOf(copies[i]), "PREPARING") << i;
  EXPECT_EQ(PhaseOf(copies[5]), "QUEUED");
  EXPECT_EQ(env_.ImageAt(copies[5].dest_image_rowid).status, "Waiting");
  EXPECT_EQ(PhaseOf(bobs), "PREPARING");
  EXPECT_EQ(PhaseOf(elsewhere), "PREPARING");

  // The first copy needs 2 s + 1 s + 2 s; the sixth waits until then.
  int ticks = 0;
  while (PhaseOf(copies[0]) != "SUCCEEDED") {
    EXPECT_EQ(PhaseOf(copies[5]), "QUEUED") << "after " << ticks << " ticks";
    Step(engine, 250);
    ASSERT_LT(++ticks, 100);
  }
  EXPECT_EQ(ticks, 20);  // 5000 ms / 250 ms
  // Freed in the same tick.
  EXPECT_EQ(PhaseOf(copies[5]), "PREPARING");
  EXPECT_EQ(env_.ImageAt(copies[5].dest_image_rowid).status, "Creating");
  for (int i = 1; i < 5; ++i) EXPECT_EQ(PhaseOf(copies[i]), "TRANSFERRING");
}

TEST_F(TaskEngineTest, PhasesChangeAtTheirSimulatedTimesEvenWithCoarseTicks) {
  storage::CopyTaskRow copy =
      env_.PutCopy(env_.alice(), kHangzhou, kShanghai, 2048);
  TaskEngine engine(env_.store(), env_.clock(), env_.options());
  Tick(engine);
  Step(engine, 10);
  const int64_t started = env_.clock().NowMs();
  EXPECT_EQ(env_.CopyInto(copy.dest_image_rowid).phase_changed_at_ms, started);

  // One tick long after everything: prepare 2 s, transfer 2 GiB at 1 GiB/s,
  // register 2 s, each change stamped when it happened.
  Step(engine, 3000);
  storage::CopyTaskRow now = env_.CopyInto(copy.dest_image_rowid);
  EXPECT_EQ(now.phase, "TRANSFERRING");
  EXPECT_EQ(now.phase_changed_at_ms, started + 2000);
  EXPECT_EQ(now.transferred_mib, 1024);
  EXPECT_EQ(now.progress, 50);
  EXPECT_EQ(env_.ImageAt(copy.dest_image_rowid).progress, 50);

  Step(engine, 60000);
  now = env_.CopyInto(copy.dest_image_rowid);
  EXPECT_EQ(now.phase, "SUCCEEDED");
  EXPECT_EQ(now.phase_changed_at_ms, started + 6000);
  EXPECT_EQ(now.progress, 100);
  EXPECT_EQ(now.transferred_mib, 2048);
  storage::ImageRow dest = env_.ImageAt(copy.dest_image_rowid);
  EXPECT_EQ(dest.status, "Available");
  EXPECT_EQ(dest.progress, 100);
  EXPECT_FALSE(dest.deleted_at_ms.has_value());
}

TEST_F(TaskEngineTest, ProgressNeverGoesBackwardsAndTheImageMirrorsIt) {
  storage::CopyTaskRow copy =
      env_.PutCopy(env_.alice(), kHangzhou, kShanghai, 10 * 1024);
  TaskEngine engine(env_.store(), env_.clock(), env_.options());
  Tick(engine);
  int32_t last = 0;
  std::vector<std::string> phases_seen;
  for (int i = 0; i < 60; ++i) {
    Step(engine, 333);
    storage::CopyTaskRow now = env_.CopyInto(copy.dest_image_rowid);
    storage::ImageRow dest = env_.ImageAt(copy.dest_image_rowid);
    EXPECT_GE(now.progress, last);
    last = now.progress;
    EXPECT_EQ(dest.progress, now.progress);
    auto phase = ParsePhase(now.phase);
    ASSERT_TRUE(phase.has_value());
    EXPECT_EQ(dest.status, DestinationStatus(*phase));
    if (*phase == CopyPhase::kTransferring) {
      EXPECT_GE(now.progress, 1);
      EXPECT_LE(now.progress, 99);
    }
    if (phases_seen.empty() || phases_seen.back() != now.phase) {
      phases_seen.push_back(now.phase);
    }
  }
  EXPECT_EQ(phases_seen,
            (std::vector<std::string>{"PREPARING", "TRANSFERRING",
                                      "REGISTERING", "SUCCEEDED"}));
  EXPECT_EQ(last, 100);
}

TEST_F(TaskEngineTest, CancellingFinishesAndTombstonesTheCopy) {
  storage::CopyTaskRow copy =
      env_.PutCopy(env_.alice(), kHangzhou, kShanghai, 100 * 1024);
  TaskEngine engine(env_.store(), env_.clock(), env_.options());
  Tick(engine);
  Step(engine, 1);
  Step(engine, 5000);
  storage::CopyTaskRow now = env_.CopyInto(copy.dest_image_rowid);
  ASSERT_EQ(now.phase, "TRANSFERRING");
  const int32_t progress = now.progress;
  const int64_t live = env_.LiveImages(env_.alice(), kShanghai);

  // What CancelCopyImage does.
  const int64_t cancelled_at = env_.clock().NowMs();
  env_.Write([&](storage::WriteTxn& txn) {
    return ApplyCopyPhase(txn, now, CopyPhase::kCancelling, cancelled_at);
  });
  storage::ImageRow dest = env_.ImageAt(copy.dest_image_rowid);
  EXPECT_EQ(dest.status, "UnAvailable");
  EXPECT_FALSE(dest.deleted_at_ms.has_value());

  Step(engine, 999);
  now = env_.CopyInto(copy.dest_image_rowid);
  EXPECT_EQ(now.phase, "CANCELLING");
  EXPECT_EQ(now.progress, progress);  // no data moves any more

  Step(engine, 1);
  now = env_.CopyInto(copy.dest_image_rowid);
  EXPECT_EQ(now.phase, "CANCELLED");
  EXPECT_EQ(now.progress, progress);
  dest = env_.ImageAt(copy.dest_image_rowid);
  ASSERT_TRUE(dest.deleted_at_ms.has_value());
  EXPECT_EQ(*dest.deleted_at_ms, cancelled_at + kCopyCancellingMs);
  EXPECT_EQ(env_.LiveImages(env_.alice(), kShanghai), live - 1);
  // The source stays untouched.
  storage::ImageRow source = env_.Image(kHangzhou, copy.source_image_id);
  EXPECT_EQ(source.status, "Available");
  EXPECT_FALSE(source.deleted_at_ms.has_value());
}

TEST_F(TaskEngineTest, RestartResumesFromTheStoredState) {
  storage::CopyTaskRow big =
      env_.PutCopy(env_.alice(), kHangzhou, kShanghai, 10 * 1024);
  storage::CopyTaskRow small =
      env_.PutCopy(env_.alice(), kHangzhou, kBeijing, 1024);
  {
    TaskEngine engine(env_.store(), env_.clock(), env_.options());
    Tick(engine);
    Step(engine, 1);
    Step(engine, 4500);  // big: 2.5 s of transfer = 25%
  }
  storage::CopyTaskRow before = env_.CopyInto(big.dest_image_rowid);
  ASSERT_EQ(before.phase, "TRANSFERRING");
  ASSERT_EQ(before.progress, 25);
  ASSERT_EQ(env_.CopyInto(small.dest_image_rowid).phase, "REGISTERING");

  env_.Reopen();
  TaskEngine engine(env_.store(), env_.clock(), env_.options());
  // Downtime is not work done.
  env_.clock().AdvanceMs(3600 * 1000);
  Tick(engine);
  storage::CopyTaskRow after = env_.CopyInto(big.dest_image_rowid);
  EXPECT_EQ(after.phase, "TRANSFERRING");
  EXPECT_EQ(after.progress, 25);
  EXPECT_EQ(after.transferred_mib, before.transferred_mib);

  Step(engine, 1000);
  after = env_.CopyInto(big.dest_image_rowid);
  EXPECT_EQ(after.transferred_mib, before.transferred_mib + 1024);
  EXPECT_EQ(after.progress, 35);
  // REGISTERING timing comes from the stored phase change, which lies more
  // than 2 s back: it finishes at the first real tick.
  EXPECT_EQ(env_.CopyInto(small.dest_image_rowid).phase, "SUCCEEDED");

  Step(engine, 60000);
  EXPECT_EQ(env_.CopyInto(big.dest_image_rowid).phase, "SUCCEEDED");
  EXPECT_EQ(env_.ImageAt(big.dest_image_rowid).status, "Available");
}

TEST_F(TaskEngineTest, PreparingTimeSurvivesARestart) {
  storage::CopyTaskRow copy =
      env_.PutCopy(env_.alice(), kHangzhou, kShanghai, 1024);
  int64_t started = 0;
  {
    TaskEngine engine(env_.store(), env_.clock(), env_.options());
    Tick(engine);
    Step(engine, 1);
    started = env_.clock().NowMs();
  }
  env_.Reopen();
  TaskEngine engine(env_.store(), env_.clock(), env_.options());
  env_.clock().AdvanceMs(1500);
  Tick(engine);  // records only
  Step(engine, 400);
  EXPECT_EQ(PhaseOf(copy), "PREPARING");
  Step(engine, 100);
  storage::CopyTaskRow now = env_.CopyInto(copy.dest_image_rowid);
  EXPECT_EQ(now.phase, "TRANSFERRING");
  EXPECT_EQ(now.phase_changed_at_ms, started + kCopyPrepareMs);
}

TEST_F(TaskEngineTest, ImportsAndExportsFinishAtTheTransferRate) {
  v1::ImportImageRequest import_req;
  import_req.set_region_id(kHangzhou);
  import_req.set_oss_bucket("bucket");
  import_req.set_oss_object("disk.qcow2");
  import_req.set_size(1);
  v1::ImportImageResponse imported;
  ASSERT_TRUE(
      env_.domain().ImportImage(env_.alice(), import_req, &imported).ok());

  storage::ImageRow source =
      env_.PutImage(env_.alice(), kHangzhou, "Available", /*size_gib=*/2);
  v1::ExportImageRequest export_req;
  export_req.set_region_id(kHangzhou);
  export_req.set_image_id(source.image_id);
  export_req.set_oss_bucket("bucket");
  v1::ExportImageResponse exported;
  ASSERT_TRUE(
      env_.domain().ExportImage(env_.alice(), export_req, &exported).ok());

  TaskEngine engine(env_.store(), env_.clock(), env_.options());
  Tick(engine);
  EXPECT_EQ(env_.Task(imported.task_id()).status, "Waiting");
  EXPECT_EQ(env_.Image(kHangzhou, imported.image_id()).status, "Waiting");

  Step(engine, 500);
  storage::IoTaskRow import_task = env_.Task(imported.task_id());
  EXPECT_EQ(import_task.status, "Processing");
  EXPECT_EQ(import_task.progress, 50);
  storage::ImageRow image = env_.Image(kHangzhou, imported.image_id());
  EXPECT_EQ(image.status, "Creating");
  EXPECT_EQ(image.progress, 50);
  EXPECT_EQ(env_.Task(exported.task_id()).progress, 25);

  Step(engine, 500);
  import_task = env_.Task(imported.task_id());
  EXPECT_EQ(import_task.status, "Finished");
  EXPECT_EQ(import_task.progress, 100);
  ASSERT_TRUE(import_task.finished_at_ms.has_value());
  image = env_.Image(kHangzhou, imported.image_id());
  EXPECT_EQ(image.status, "Available");
  EXPECT_EQ(image.progress, 100);
  EXPECT_EQ(env_.Task(exported.task_id()).status, "Processing");

  Step(engine, 1000);
  EXPECT_EQ(env_.Task(exported.task_id()).status, "Finished");
  storage::ImageRow after = env_.Image(kHangzhou, source.image_id);
  EXPECT_EQ(after.status, "Available");
  EXPECT_EQ(after.progress, 100);
}

TEST_F(TaskEngineTest, CreatedImagesBecomeAvailableWhenTheirWorkEnds) {
  storage::ImageRow image =
      env_.PutImage(env_.alice(), kHangzhou, "Creating", /*size_gib=*/20,
                    /*creating_remaining_ms=*/2000);
  TaskEngine engine(env_.store(), env_.clock(), env_.options());
  Tick(engine);
  Step(engine, 500);
  storage::ImageRow now = env_.ImageAt(image.rowid);
  EXPECT_EQ(now.status, "Creating");
  EXPECT_EQ(now.creating_remaining_ms, 1500);
  EXPECT_EQ(now.progress, 25);
  Step(engine, 1000);
  now = env_.ImageAt(image.rowid);
  EXPECT_EQ(now.progress, 75);
  Step(engine, 600);
  now = env_.ImageAt(image.rowid);
  EXPECT_EQ(now.status, "Available");
  EXPECT_EQ(now.progress, 100);
  EXPECT_EQ(now.creating_remaining_ms, 0);
}

TEST_F(TaskEngineTest, ApplyCopyPhaseCancelsAQueuedCopyAtOnce) {
  storage::CopyTaskRow copy =
      env_.PutCopy(env_.alice(), kHangzhou, kShanghai, 1024);
  const int64_t live = env_.LiveImages(env_.alice(), kShanghai);
  const int64_t now_ms = env_.clock().NowMs() + 5;
  env_.Write([&](storage::WriteTxn& txn) {
    return ApplyCopyPhase(txn, copy, CopyPhase::kCancelled, now_ms);
  });
  EXPECT_EQ(copy.phase, "CANCELLED");
  storage::CopyTaskRow stored = env_.CopyInto(copy.dest_image_rowid);
  EXPECT_EQ(stored.phase, "CANCELLED");
  EXPECT_EQ(stored.phase_changed_at_ms, now_ms);
  storage::ImageRow dest = env_.ImageAt(copy.dest_image_rowid);
  ASSERT_TRUE(dest.deleted_at_ms.has_value());
  EXPECT_EQ(*dest.deleted_at_ms, now_ms);
  EXPECT_EQ(env_.LiveImages(env_.alice(), kShanghai), live - 1);
}

TEST_F(TaskEngineTest, ApplyCopyPhaseRefusesIllegalMovesWithoutWriting) {
  storage::CopyTaskRow copy =
      env_.PutCopy(env_.alice(), kHangzhou, kShanghai, 1024);
  absl::Status refused =
      env_.store().RunInWriteTransaction([&](storage::WriteTxn& txn) {
        return ApplyCopyPhase(txn, copy, CopyPhase::kSucceeded, 1);
      });
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(EcsCode(refused), "InvalidTransition");
  EXPECT_EQ(MetaOf(refused, "from"), "QUEUED");
  EXPECT_EQ(MetaOf(refused, "to"), "SUCCEEDED");
  EXPECT_EQ(MetaOf(refused, "imageId"), copy.dest_image_id);
  EXPECT_EQ(env_.CopyInto(copy.dest_image_rowid).phase, "QUEUED");
  EXPECT_EQ(env_.ImageAt(copy.dest_image_rowid).status, "Waiting");
}

TEST_F(TaskEngineTest, RemainingTimeFollowsTheStoredState) {
  const DomainOptions& options = env_.options();  // 1024 MiB/s
  storage::CopyTaskRow copy;
  copy.total_mib = 4096;
  copy.phase = "QUEUED";
  EXPECT_EQ(CopyRemainingMs(copy, options),
            kCopyPrepareMs + 4000 + kCopyRegisterMs);
  copy.phase = "TRANSFERRING";
  copy.transferred_mib = 1024;
  EXPECT_EQ(CopyRemainingMs(copy, options), 3000 + kCopyRegisterMs);
  copy.phase = "REGISTERING";
  EXPECT_EQ(CopyRemainingMs(copy, options), kCopyRegisterMs);
  copy.phase = "CANCELLING";
  EXPECT_EQ(CopyRemainingMs(copy, options), kCopyCancellingMs);
  for (const char* done : {"SUCCEEDED", "FAILED", "CANCELLED"}) {
    copy.phase = done;
    EXPECT_EQ(CopyRemainingMs(copy, options), 0) << done;
  }

  storage::IoTaskRow task;
  task.total_mib = 2048;
  task.transferred_mib = 512;
  task.status = "Processing";
  EXPECT_EQ(IoTaskRemainingMs(task, options), 1500);
  task.status = "Waiting";
  task.transferred_mib = 0;
  EXPECT_EQ(IoTaskRemainingMs(task, options), 2000);
  for (const char* done : {"Finished", "Failed", "Cancelled"}) {
    task.status = done;
    EXPECT_EQ(IoTaskRemainingMs(task, options), 0) << done;
  }
}

}  // namespace
}  // namespace ecsimage::domain

namespace ecsimage::domain {
namespace {

// Several engines on one database, as one per replica (scale-out.md §4).
class TaskLeaseEngineTest : public TaskEngineTest {
 protected:
  static constexpr int64_t kLeaseMs = 10000;
  TaskLeaseOptions Lease(const std::string& owner) {
    return TaskLeaseOptions{owner, kLeaseMs};
  }
};

TEST_F(TaskLeaseEngineTest, OnlyTheLeaseHolderAdvancesATask) {
  storage::CopyTaskRow copy =
      env_.PutCopy(env_.alice(), kHangzhou, kShanghai, 1024);
  TaskEngine a(env_.store(), env_.clock(), env_.options(), Lease("a"));
  TaskEngine b(env_.store(), env_.clock(), env_.options(), Lease("b"));
  Tick(a);  // first ticks record the time and take the free lease
  Tick(b);
  EXPECT_EQ(a.leases_held(), 1);
  EXPECT_EQ(b.leases_held(), 0);
  // Both tick through the whole copy; it moves once per phase.
  for (int i = 0; i < 40; ++i) {
    env_.clock().AdvanceMs(500);
    Tick(b);
    Tick(a);
  }
  storage::CopyTaskRow done = env_.CopyInto(copy.dest_image_rowid);
  EXPECT_EQ(done.phase, "SUCCEEDED");
  // QUEUED -> PREPARING -> TRANSFERRING -> REGISTERING -> SUCCEEDED.
  EXPECT_EQ(done.phase_moves, 4);
  EXPECT_EQ(done.lease_owner, "a");
  EXPECT_EQ(done.lease_epoch, 1);
  EXPECT_EQ(b.takeovers(), 0);
}

TEST_F(TaskLeaseEngineTest, ADeadEnginesTaskIsTakenOverWithinTwoLeaseTerms) {
  storage::CopyTaskRow copy =
      env_.PutCopy(env_.alice(), kHangzhou, kShanghai, 100 * 1024);
  TaskEngine a(env_.store(), env_.clock(), env_.options(), Lease("a"));
  TaskEngine b(env_.store(), env_.clock(), env_.options(), Lease("b"));
  Tick(a);
  Tick(b);
  Step(a, 1000);
  ASSERT_EQ(PhaseOf(copy), "PREPARING");
  // `a` dies (stops ticking); `b` ticks every second.
  int64_t waited_ms = 0;
  while (b.leases_held() == 0 && waited_ms <= 2 * kLeaseMs) {
    Step(b, 1000);
    waited_ms += 1000;
  }
  EXPECT_EQ(b.leases_held(), 1);
  EXPECT_EQ(b.takeovers(), 1);
  EXPECT_LE(waited_ms, 2 * kLeaseMs);
  const int32_t before = env_.CopyInto(copy.dest_image_rowid).progress;
  Step(b, 5000);
  storage::CopyTaskRow moved = env_.CopyInto(copy.dest_image_rowid);
  EXPECT_EQ(moved.lease_owner, "b");
  EXPECT_EQ(moved.lease_epoch, 2);
  EXPECT_GT(moved.progress, before);
  // `a` comes back (a paused process): it cannot advance the copy.
  const storage::CopyTaskRow at_return = moved;
  Step(a, 1);
  EXPECT_EQ(a.leases_held(), 0);
  storage::CopyTaskRow after = env_.CopyInto(copy.dest_image_rowid);
  EXPECT_EQ(after.progress, at_return.progress);
  EXPECT_EQ(after.transferred_mib, at_return.transferred_mib);
  EXPECT_EQ(after.lease_owner, "b");
}

TEST_F(TaskLeaseEngineTest, ReleasedLeasesAreTakenAtTheNextTick) {
  storage::CopyTaskRow copy =
      env_.PutCopy(env_.alice(), kHangzhou, kShanghai, 1024);
  TaskEngine a(env_.store(), env_.clock(), env_.options(), Lease("a"));
  TaskEngine b(env_.store(), env_.clock(), env_.options(), Lease("b"));
  Tick(a);
  Tick(b);
  ASSERT_EQ(a.leases_held(), 1);
  ASSERT_TRUE(a.ReleaseLeases().ok());  // SIGTERM
  EXPECT_EQ(a.leases_held(), 0);
  Step(b, 1);
  EXPECT_EQ(b.leases_held(), 1);
  EXPECT_EQ(env_.CopyInto(copy.dest_image_rowid).lease_owner, "b");
}

}  // namespace
}  // namespace ecsimage::domain
