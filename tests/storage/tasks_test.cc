// Copies, import/export tasks, shares, instances and client tokens.
#include <string>
#include <vector>

#include "tests/storage/storage_test_util.h"

namespace ecsimage::storage::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::Eq;
using ::testing::HasSubstr;

class TasksTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    ASSERT_OK_AND_ASSIGN(source_,
                         Insert(CustomImage(kAlice, kHangzhou, "m-s")));
  }

  // A destination image plus its copy task in one write.
  absl::StatusOr<CopyTaskRow> StartCopy(const std::string& dest_id,
                                        const std::string& dest_region,
                                        const std::string& phase,
                                        int64_t source = 0,
                                        const std::string& account = kAlice) {
    return WriteWith(
        store(), [&](WriteTxn& txn) -> absl::StatusOr<CopyTaskRow> {
          ImageRow dest =
              CustomImage(account, dest_region, dest_id, "", "Waiting");
          dest.is_copied = true;
          absl::Status status = txn.InsertImage(dest);
          if (!status.ok()) return status;
          CopyTaskRow copy;
          copy.account_id = account;
          copy.source_image_rowid = source != 0 ? source : source_;
          copy.dest_image_rowid = dest.rowid;
          copy.phase = phase;
          copy.total_mib = 40960;
          copy.encrypted = true;
          copy.kms_key_id = "key-1";
          copy.support_cancel = false;
          copy.created_at_ms = 100;
          copy.phase_changed_at_ms = 100;
          status = txn.InsertCopy(copy);
          if (!status.ok()) return status;
          return copy;
        });
  }

  absl::StatusOr<IoTaskRow> StartTask(const std::string& task_id,
                                      int64_t image_rowid,
                                      const std::string& action,
                                      const std::string& status,
                                      const std::string& account = kAlice,
                                      const std::string& region = kHangzhou) {
    return WriteWith(store(), [&](WriteTxn& txn) -> absl::StatusOr<IoTaskRow> {
      IoTaskRow task;
      task.task_id = task_id;
      task.account_id = account;
      task.region_id = region;
      task.image_rowid = image_rowid;
      task.action = action;
      task.status = status;
      task.total_mib = 1024;
      task.support_cancel = true;
      task.oss_bucket = "bucket";
      task.oss_object = "path/" + task_id;
      task.created_at_ms = 50;
      absl::Status s = txn.InsertIoTask(task);
      if (!s.ok()) return s;
      return task;
    });
  }

  absl::StatusOr<InstanceRow> Run(const std::string& instance_id,
                                  int64_t image_rowid,
                                  const std::string& account = kAlice,
                                  const std::string& region = kHangzhou) {
    return WriteWith(store(),
                     [&](WriteTxn& txn) -> absl::StatusOr<InstanceRow> {
                       InstanceRow instance;
                       instance.instance_id = instance_id;
                       instance.account_id = account;
                       instance.region_id = region;
                       instance.image_rowid = image_rowid;
                       instance.created_at_ms = 70;
                       absl::Status s = txn.InsertInstance(instance);
                       if (!s.ok()) return s;
                       return instance;
                     });
  }

  int64_t source_ = 0;
};

TEST_F(TasksTest, CopyReadsBackWithFilledFields) {
  ASSERT_OK_AND_ASSIGN(CopyTaskRow inserted,
                       StartCopy("m-d", kShanghai, "QUEUED"));
  EXPECT_GT(inserted.rowid, 0);
  EXPECT_EQ(inserted.source_image_id, "m-s");
  EXPECT_EQ(inserted.dest_image_id, "m-d");
  EXPECT_EQ(inserted.source_region_id, kHangzhou);
  EXPECT_EQ(inserted.dest_region_id, kShanghai);

  ASSERT_OK_AND_ASSIGN(auto got, ReadWith(store(), [&](ReadTxn& txn) {
                         return txn.GetCopyByDest(inserted.dest_image_rowid);
                       }));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->rowid, inserted.rowid);
  EXPECT_EQ(got->account_id, kAlice);
  EXPECT_EQ(got->source_image_rowid, source_);
  EXPECT_EQ(got->phase, "QUEUED");
  EXPECT_EQ(got->total_mib, 40960);
  EXPECT_TRUE(got->encrypted);
  EXPECT_EQ(got->kms_key_id, "key-1");
  EXPECT_FALSE(got->support_cancel);
  EXPECT_EQ(got->created_at_ms, 100);
  EXPECT_EQ(got->source_image_id, "m-s");
  EXPECT_EQ(got->dest_image_id, "m-d");

  EXPECT_THAT(
      ReadWith(store(),
               [&](ReadTxn& txn) { return txn.GetCopyByDest(source_); }),
      IsOkAndHolds(Eq(std::nullopt)));
}

TEST_F(TasksTest, ImageIsDestinationOfOneCopyOnly) {
  ASSERT_OK_AND_ASSIGN(CopyTaskRow copy, StartCopy("m-d", kShanghai, "QUEUED"));
  absl::Status status = store().RunInWriteTransaction([&](WriteTxn& txn) {
    CopyTaskRow again = copy;
    return txn.InsertCopy(again);
  });
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST_F(TasksTest, UpdateCopyAndActiveLookups) {
  ASSERT_OK_AND_ASSIGN(CopyTaskRow copy, StartCopy("m-d", kShanghai, "QUEUED"));
  auto active = [&] {
    return ReadWith(store(), [&](ReadTxn& txn) {
      return txn.GetActiveCopyBySource(source_);
    });
  };
  ASSERT_OK_AND_ASSIGN(auto found, active());
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->rowid, copy.rowid);

  copy.phase = "TRANSFERRING";
  copy.progress = 40;
  copy.transferred_mib = 16384;
  copy.phase_changed_at_ms = 300;
  ASSERT_OK(store().RunInWriteTransaction(
      [&](WriteTxn& txn) { return txn.UpdateCopy(copy); }));
  ASSERT_OK_AND_ASSIGN(found, active());
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->phase, "TRANSFERRING");
  EXPECT_EQ(found->progress, 40);
  EXPECT_EQ(found->transferred_mib, 16384);
  EXPECT_EQ(found->phase_changed_at_ms, 300);

  copy.phase = "SUCCEEDED";
  copy.progress = 100;
  ASSERT_OK(store().RunInWriteTransaction(
      [&](WriteTxn& txn) { return txn.UpdateCopy(copy); }));
  EXPECT_THAT(active(), IsOkAndHolds(Eq(std::nullopt)));
}

TEST_F(TasksTest, CopyProgressNeverGoesBackwards) {
  ASSERT_OK_AND_ASSIGN(CopyTaskRow copy,
                       StartCopy("m-d", kShanghai, "TRANSFERRING"));
  copy.progress = 50;
  ASSERT_OK(store().RunInWriteTransaction(
      [&](WriteTxn& txn) { return txn.UpdateCopy(copy); }));
  copy.progress = 49;
  EXPECT_THAT(store().RunInWriteTransaction(
                  [&](WriteTxn& txn) { return txn.UpdateCopy(copy); }),
              StatusIs(absl::StatusCode::kInternal,
                       HasSubstr("copy progress must not decrease")));
}

TEST_F(TasksTest, RunningCopiesAreCountedPerAccountAndDestinationRegion) {
  for (const char* phase :
       {"QUEUED", "PREPARING", "TRANSFERRING", "REGISTERING", "SUCCEEDED",
        "FAILED", "CANCELLING", "CANCELLED"}) {
    ASSERT_OK(StartCopy(absl::StrCat("m-", phase), kShanghai, phase).status());
  }
  ASSERT_OK(StartCopy("m-hz", kHangzhou, "TRANSFERRING").status());
  ASSERT_OK_AND_ASSIGN(int64_t bob_source,
                       Insert(CustomImage(kBob, kHangzhou, "m-bs")));
  ASSERT_OK(
      StartCopy("m-bob", kShanghai, "PREPARING", bob_source, kBob).status());
  EXPECT_OK(store().RunInReadTransaction([](ReadTxn& txn) {
    EXPECT_THAT(txn.CountRunningCopies(kAlice, kShanghai), IsOkAndHolds(3));
    EXPECT_THAT(txn.CountRunningCopies(kAlice, kHangzhou), IsOkAndHolds(1));
    EXPECT_THAT(txn.CountRunningCopies(kBob, kShanghai), IsOkAndHolds(1));
    EXPECT_THAT(txn.CountRunningCopies(kCarol, kShanghai), IsOkAndHolds(0));
    return absl::OkStatus();
  }));
}

TEST_F(TasksTest, ActiveCopiesAreNonTerminalOldestFirst) {
  std::vector<std::string> expected;
  for (const char* phase :
       {"QUEUED", "SUCCEEDED", "PREPARING", "FAILED", "TRANSFERRING",
        "CANCELLED", "REGISTERING", "CANCELLING"}) {
    std::string id = absl::StrCat("m-", phase);
    ASSERT_OK(StartCopy(id, kShanghai, phase).status());
    std::string p = phase;
    if (p != "SUCCEEDED" && p != "FAILED" && p != "CANCELLED") {
      expected.push_back(id);
    }
  }
  ASSERT_OK_AND_ASSIGN(auto copies, ReadWith(store(), [](ReadTxn& txn) {
                         return txn.ListActiveCopies(100, "", 0);
                       }));
  std::vector<std::string> got;
  for (const auto& c : copies) got.push_back(c.dest_image_id);
  EXPECT_EQ(got, expected);
  ASSERT_OK_AND_ASSIGN(copies, ReadWith(store(), [](ReadTxn& txn) {
                         return txn.ListActiveCopies(2, "", 0);
                       }));
  ASSERT_EQ(copies.size(), 2u);
  EXPECT_EQ(copies[1].dest_image_id, "m-PREPARING");
}

TEST_F(TasksTest, IoTaskReadsBackAndUpdates) {
  ASSERT_OK_AND_ASSIGN(IoTaskRow task,
                       StartTask("t-1", source_, "ExportImage", "Waiting"));
  EXPECT_GT(task.rowid, 0);
  EXPECT_EQ(task.image_id, "m-s");
  ASSERT_OK_AND_ASSIGN(auto got, ReadWith(store(), [](ReadTxn& txn) {
                         return txn.GetIoTask("t-1");
                       }));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->account_id, kAlice);
  EXPECT_EQ(got->region_id, kHangzhou);
  EXPECT_EQ(got->image_rowid, source_);
  EXPECT_EQ(got->image_id, "m-s");
  EXPECT_EQ(got->action, "ExportImage");
  EXPECT_EQ(got->status, "Waiting");
  EXPECT_EQ(got->total_mib, 1024);
  EXPECT_TRUE(got->support_cancel);
  EXPECT_EQ(got->oss_bucket, "bucket");
  EXPECT_EQ(got->oss_object, "path/t-1");
  EXPECT_EQ(got->created_at_ms, 50);
  EXPECT_EQ(got->finished_at_ms, std::nullopt);

  task.status = "Finished";
  task.progress = 100;
  task.transferred_mib = 1024;
  task.finished_at_ms = 99;
  ASSERT_OK(store().RunInWriteTransaction(
      [&](WriteTxn& txn) { return txn.UpdateIoTask(task); }));
  ASSERT_OK_AND_ASSIGN(got, ReadWith(store(), [](ReadTxn& txn) {
                         return txn.GetIoTask("t-1");
                       }));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->status, "Finished");
  EXPECT_EQ(got->progress, 100);
  EXPECT_EQ(got->transferred_mib, 1024);
  EXPECT_EQ(got->finished_at_ms, 99);
  EXPECT_THAT(
      ReadWith(store(), [](ReadTxn& txn) { return txn.GetIoTask("t-none"); }),
      IsOkAndHolds(Eq(std::nullopt)));
  EXPECT_THAT(StartTask("t-1", source_, "ExportImage", "Waiting"),
              StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST_F(TasksTest, ExportFormatIsKeptAndEmptyByDefault) {
  ASSERT_OK(StartTask("t-raw", source_, "ExportImage", "Waiting").status());
  ASSERT_OK(store().RunInWriteTransaction([&](WriteTxn& txn) {
    IoTaskRow task;
    task.task_id = "t-qcow2";
    task.account_id = kAlice;
    task.region_id = kHangzhou;
    task.image_rowid = source_;
    task.action = "ExportImage";
    task.status = "Waiting";
    task.oss_bucket = "bucket";
    task.image_format = "QCOW2";
    task.created_at_ms = 60;
    return txn.InsertIoTask(task);
  }));
  ASSERT_OK_AND_ASSIGN(auto qcow2, ReadWith(store(), [](ReadTxn& txn) {
                         return txn.GetIoTask("t-qcow2");
                       }));
  ASSERT_TRUE(qcow2.has_value());
  EXPECT_EQ(qcow2->image_format, "QCOW2");
  ASSERT_OK_AND_ASSIGN(auto raw, ReadWith(store(), [](ReadTxn& txn) {
                         return txn.GetIoTask("t-raw");
                       }));
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(raw->image_format, "");
  // The schema allows only the formats an export writes.
  EXPECT_FALSE(store()
                   .RunInWriteTransaction([&](WriteTxn& txn) {
                     IoTaskRow task = *raw;
                     task.task_id = "t-vhd";
                     task.image_format = "VHD";
                     return txn.InsertIoTask(task);
                   })
                   .ok());
}

TEST_F(TasksTest, ImportDataDisksAreKeptByteForByte) {
  // What the domain encodes; the store keeps any text as given (tabs,
  // newlines, backslashes, UTF-8), and "" when there is none.
  const std::string disks =
      "RAW\tbucket-a\tdisks/data\\x09one.raw\nQCOW2\tb\t\xc3\xa9\\n";
  ASSERT_OK(store().RunInWriteTransaction([&](WriteTxn& txn) {
    IoTaskRow task;
    task.task_id = "t-disks";
    task.account_id = kAlice;
    task.region_id = kHangzhou;
    task.image_rowid = source_;
    task.action = "ImportImage";
    task.status = "Waiting";
    task.oss_bucket = "bucket";
    task.oss_object = "system.raw";
    task.data_disks = disks;
    task.created_at_ms = 60;
    return txn.InsertIoTask(task);
  }));
  ASSERT_OK(StartTask("t-one", source_, "ImportImage", "Waiting").status());
  ASSERT_OK_AND_ASSIGN(auto got, ReadWith(store(), [](ReadTxn& txn) {
                         return txn.GetIoTask("t-disks");
                       }));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->data_disks, disks);
  ASSERT_OK_AND_ASSIGN(auto one, ReadWith(store(), [](ReadTxn& txn) {
                         return txn.GetIoTask("t-one");
                       }));
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->data_disks, "");
}

TEST_F(TasksTest, ActiveIoTasks) {
  ASSERT_OK(StartTask("t-old", source_, "ExportImage", "Finished").status());
  ASSERT_OK(StartTask("t-exp", source_, "ExportImage", "Processing").status());
  ASSERT_OK_AND_ASSIGN(
      int64_t other,
      Insert(CustomImage(kAlice, kHangzhou, "m-i", "", "Waiting")));
  ASSERT_OK(StartTask("t-imp", other, "ImportImage", "Waiting").status());
  ASSERT_OK(StartTask("t-can", other, "ExportImage", "Cancelled").status());
  EXPECT_OK(store().RunInReadTransaction([&](ReadTxn& txn) {
    auto exp = txn.GetActiveIoTask(source_, "ExportImage");
    EXPECT_TRUE(exp.ok() && exp->has_value() && (*exp)->task_id == "t-exp");
    EXPECT_THAT(txn.GetActiveIoTask(source_, "ImportImage"),
                IsOkAndHolds(Eq(std::nullopt)));
    EXPECT_THAT(txn.GetActiveIoTask(other, "ExportImage"),
                IsOkAndHolds(Eq(std::nullopt)));
    auto all = txn.ListActiveIoTasks(10, "", 0);
    EXPECT_TRUE(all.ok());
    if (all.ok()) {
      std::vector<std::string> ids;
      for (const auto& t : *all) ids.push_back(t.task_id);
      EXPECT_THAT(ids, ElementsAre("t-exp", "t-imp"));
    }
    return absl::OkStatus();
  }));
}

TEST_F(TasksTest, ListIoTasksFiltersPagesAndCounts) {
  ASSERT_OK_AND_ASSIGN(int64_t bob_image,
                       Insert(CustomImage(kBob, kHangzhou, "m-b")));
  ASSERT_OK_AND_ASSIGN(int64_t sh_image,
                       Insert(CustomImage(kAlice, kShanghai, "m-sh")));
  ASSERT_OK(StartTask("t-1", source_, "ExportImage", "Finished").status());
  ASSERT_OK(StartTask("t-2", source_, "ImportImage", "Processing").status());
  ASSERT_OK(StartTask("t-3", source_, "ExportImage", "Processing").status());
  ASSERT_OK(StartTask("t-4", source_, "ExportImage", "Failed").status());
  ASSERT_OK(
      StartTask("t-bob", bob_image, "ExportImage", "Waiting", kBob).status());
  ASSERT_OK(
      StartTask("t-sh", sh_image, "ExportImage", "Waiting", kAlice, kShanghai)
          .status());
  auto list = [&](IoTaskQuery q) {
    q.account_id = kAlice;
    q.region_id = kHangzhou;
    return ReadWith(store(), [&](ReadTxn& txn) { return txn.ListIoTasks(q); });
  };
  auto ids = [](const std::vector<IoTaskRow>& rows) {
    std::vector<std::string> out;
    for (const auto& r : rows) out.push_back(r.task_id);
    return out;
  };
  IoTaskQuery q;
  ASSERT_OK_AND_ASSIGN(auto page, list(q));
  EXPECT_EQ(page.first, 4);
  EXPECT_THAT(ids(page.second), ElementsAre("t-4", "t-3", "t-2", "t-1"));
  q.limit = 2;
  q.offset = 1;
  ASSERT_OK_AND_ASSIGN(page, list(q));
  EXPECT_EQ(page.first, 4);
  EXPECT_THAT(ids(page.second), ElementsAre("t-3", "t-2"));
  q = IoTaskQuery();
  q.action = "ExportImage";
  ASSERT_OK_AND_ASSIGN(page, list(q));
  EXPECT_EQ(page.first, 3);
  q.status = "Processing";
  ASSERT_OK_AND_ASSIGN(page, list(q));
  EXPECT_THAT(ids(page.second), ElementsAre("t-3"));
  q = IoTaskQuery();
  q.task_ids = {"t-1", "t-bob", "t-sh", "t-2"};
  ASSERT_OK_AND_ASSIGN(page, list(q));
  EXPECT_EQ(page.first, 2);
  EXPECT_THAT(ids(page.second), ElementsAre("t-2", "t-1"));
}

TEST_F(TasksTest, SharesAreIdempotentAndListedOldestFirst) {
  auto add = [&](const std::string& account, int64_t now) {
    return store().RunInWriteTransaction(
        [&](WriteTxn& txn) { return txn.AddShare(source_, account, now); });
  };
  ASSERT_OK(add(kCarol, 10));
  ASSERT_OK(add(kBob, 10));    // same time: insertion order decides
  ASSERT_OK(add(kCarol, 20));  // already shared: no-op, keeps time 10
  EXPECT_OK(store().RunInReadTransaction([&](ReadTxn& txn) {
    EXPECT_THAT(txn.CountShares(source_), IsOkAndHolds(2));
    EXPECT_THAT(txn.HasShare(source_, kBob), IsOkAndHolds(true));
    EXPECT_THAT(txn.HasShare(source_, kAlice), IsOkAndHolds(false));
    auto shares = txn.ListShares(source_, 0, 10);
    EXPECT_TRUE(shares.ok());
    EXPECT_TRUE(shares.ok() && shares->size() == 2);
    if (shares.ok() && shares->size() == 2) {
      EXPECT_EQ((*shares)[0].account_id, kCarol);
      EXPECT_EQ((*shares)[0].created_at_ms, 10);
      EXPECT_EQ((*shares)[1].account_id, kBob);
    }
    auto second = txn.ListShares(source_, 1, 10);
    EXPECT_TRUE(second.ok() && second->size() == 1 &&
                (*second)[0].account_id == kBob);
    return absl::OkStatus();
  }));
  ASSERT_OK(store().RunInWriteTransaction([&](WriteTxn& txn) {
    absl::Status s = txn.RemoveShare(source_, kCarol);
    if (!s.ok()) return s;
    return txn.RemoveShare(source_, kCarol);  // absent: no-op
  }));
  EXPECT_OK(store().RunInReadTransaction([&](ReadTxn& txn) {
    EXPECT_THAT(txn.CountShares(source_), IsOkAndHolds(1));
    EXPECT_THAT(txn.HasShare(source_, kCarol), IsOkAndHolds(false));
    return absl::OkStatus();
  }));
}

TEST_F(TasksTest, InstancesReferenceImagesUntilReleased) {
  ASSERT_OK_AND_ASSIGN(InstanceRow first, Run("i-1", source_, kAlice));
  EXPECT_GT(first.rowid, 0);
  EXPECT_EQ(first.image_id, "m-s");
  ASSERT_OK(Run("i-2", source_, kBob).status());
  ASSERT_OK(Run("i-3", source_, kCarol).status());
  EXPECT_THAT(Run("i-1", source_), StatusIs(absl::StatusCode::kAlreadyExists));

  ASSERT_OK_AND_ASSIGN(ImageRow image, Get(source_));
  EXPECT_EQ(image.live_instance_count, 3);
  ASSERT_OK_AND_ASSIGN(auto refs, ReadWith(store(), [&](ReadTxn& txn) {
                         return txn.ListInstanceRefs(source_, 2);
                       }));
  EXPECT_EQ(refs.first, 3);
  ASSERT_EQ(refs.second.size(), 2u);
  EXPECT_EQ(refs.second[0].instance_id, "i-1");
  EXPECT_EQ(refs.second[0].account_id, kAlice);
  EXPECT_EQ(refs.second[1].account_id, kBob);

  ASSERT_OK_AND_ASSIGN(auto live, ReadWith(store(), [](ReadTxn& txn) {
                         return txn.GetLiveInstance("i-1");
                       }));
  ASSERT_TRUE(live.has_value());
  EXPECT_EQ(live->account_id, kAlice);
  EXPECT_EQ(live->region_id, kHangzhou);
  EXPECT_EQ(live->image_rowid, source_);
  EXPECT_EQ(live->image_id, "m-s");
  EXPECT_EQ(live->created_at_ms, 70);

  // Releasing twice is harmless; the reference ends once.
  for (int i = 0; i < 2; ++i) {
    ASSERT_OK(store().RunInWriteTransaction(
        [&](WriteTxn& txn) { return txn.ReleaseInstance(first.rowid, 80); }));
  }
  EXPECT_THAT(ReadWith(store(),
                       [](ReadTxn& txn) { return txn.GetLiveInstance("i-1"); }),
              IsOkAndHolds(Eq(std::nullopt)));
  ASSERT_OK_AND_ASSIGN(image, Get(source_));
  EXPECT_EQ(image.live_instance_count, 2);
  ASSERT_OK_AND_ASSIGN(refs, ReadWith(store(), [&](ReadTxn& txn) {
                         return txn.ListInstanceRefs(source_, 10);
                       }));
  EXPECT_EQ(refs.first, 2);
  EXPECT_EQ(refs.second.size(), 2u);

  EXPECT_THAT(store().RunInWriteTransaction(
                  [](WriteTxn& txn) { return txn.ReleaseInstance(999, 1); }),
              StatusIs(absl::StatusCode::kInternal));
}

TEST_F(TasksTest, ListInstancesOfAnAccountNewestFirst) {
  ASSERT_OK_AND_ASSIGN(int64_t other,
                       Insert(CustomImage(kAlice, kHangzhou, "m-o")));
  ASSERT_OK(Run("i-1", source_).status());
  ASSERT_OK(Run("i-2", other).status());
  ASSERT_OK_AND_ASSIGN(InstanceRow third, Run("i-3", source_));
  ASSERT_OK(Run("i-4", source_, kBob).status());
  ASSERT_OK_AND_ASSIGN(int64_t sh,
                       Insert(CustomImage(kAlice, kShanghai, "m-sh")));
  ASSERT_OK(Run("i-5", sh, kAlice, kShanghai).status());
  ASSERT_OK(store().RunInWriteTransaction(
      [&](WriteTxn& txn) { return txn.ReleaseInstance(third.rowid, 9); }));
  ASSERT_OK(Run("i-6", source_).status());

  auto list = [&](std::optional<int64_t> image, int64_t offset, int64_t limit) {
    return ReadWith(store(), [&](ReadTxn& txn) {
      return txn.ListInstances(kAlice, kHangzhou, image, offset, limit);
    });
  };
  auto ids = [](const std::vector<InstanceRow>& rows) {
    std::vector<std::string> out;
    for (const auto& r : rows) out.push_back(r.instance_id);
    return out;
  };
  ASSERT_OK_AND_ASSIGN(auto page, list(std::nullopt, 0, 10));
  EXPECT_EQ(page.first, 3);
  EXPECT_THAT(ids(page.second), ElementsAre("i-6", "i-2", "i-1"));
  EXPECT_EQ(page.second[1].image_id, "m-o");
  ASSERT_OK_AND_ASSIGN(page, list(source_, 0, 10));
  EXPECT_EQ(page.first, 2);
  EXPECT_THAT(ids(page.second), ElementsAre("i-6", "i-1"));
  ASSERT_OK_AND_ASSIGN(page, list(std::nullopt, 1, 1));
  EXPECT_EQ(page.first, 3);
  EXPECT_THAT(ids(page.second), ElementsAre("i-2"));
}

TEST_F(TasksTest, ClientTokensArePutReadAndPruned) {
  const std::string binary_fingerprint("\x00\x01\xff", 3);
  ASSERT_OK(store().RunInWriteTransaction([&](WriteTxn& txn) {
    absl::Status s = txn.PutClientToken(kAlice, "CreateImage", "tok-1",
                                        {binary_fingerprint, "m-1", 100});
    if (!s.ok()) return s;
    s = txn.PutClientToken(kAlice, "CopyImage", "tok-1", {"f2", "m-2", 200});
    if (!s.ok()) return s;
    return txn.PutClientToken(kBob, "CreateImage", "tok-1", {"f3", "m-3", 300});
  }));
  EXPECT_OK(store().RunInReadTransaction([&](ReadTxn& txn) {
    auto row = txn.GetClientToken(kAlice, "CreateImage", "tok-1");
    EXPECT_TRUE(row.ok() && row->has_value());
    if (row.ok() && row->has_value()) {
      EXPECT_EQ((*row)->params_fingerprint, binary_fingerprint);
      EXPECT_EQ((*row)->response, "m-1");
      EXPECT_EQ((*row)->created_at_ms, 100);
    }
    EXPECT_THAT(txn.GetClientToken(kAlice, "CreateImage", "tok-2"),
                IsOkAndHolds(Eq(std::nullopt)));
    EXPECT_THAT(txn.GetClientToken(kCarol, "CreateImage", "tok-1"),
                IsOkAndHolds(Eq(std::nullopt)));
    return absl::OkStatus();
  }));
  ASSERT_OK(store().PruneClientTokens(200));
  EXPECT_OK(store().RunInReadTransaction([&](ReadTxn& txn) {
    EXPECT_THAT(txn.GetClientToken(kAlice, "CreateImage", "tok-1"),
                IsOkAndHolds(Eq(std::nullopt)));
    auto kept = txn.GetClientToken(kAlice, "CopyImage", "tok-1");
    EXPECT_TRUE(kept.ok() && kept->has_value());
    auto bob = txn.GetClientToken(kBob, "CreateImage", "tok-1");
    EXPECT_TRUE(bob.ok() && bob->has_value());
    return absl::OkStatus();
  }));
}

}  // namespace
}  // namespace ecsimage::storage::testing

namespace ecsimage::storage::testing {
namespace {

// Task leases (scale-out.md §4): the storage side of "one engine at a time".
class LeaseTest : public TasksTest {
 protected:
  absl::StatusOr<WriteTxn::LeaseClaim> Claim(const std::string& owner,
                                             int64_t now_ms,
                                             int64_t limit = 100) {
    return WriteWith(store(), [&](WriteTxn& txn) {
      return txn.ClaimTaskLeases(owner, now_ms, kLeaseMs, limit);
    });
  }
  absl::StatusOr<std::vector<CopyTaskRow>> Leased(const std::string& owner,
                                                  int64_t now_ms) {
    return ReadWith(store(), [&](ReadTxn& txn) {
      return txn.ListActiveCopies(100, owner, now_ms);
    });
  }
  std::vector<std::string> LeasedIds(const std::string& owner, int64_t now_ms) {
    std::vector<std::string> ids;
    auto copies = Leased(owner, now_ms);
    EXPECT_TRUE(copies.ok()) << copies.status();
    if (copies.ok()) {
      for (const CopyTaskRow& c : *copies) ids.push_back(c.dest_image_id);
    }
    return ids;
  }

  static constexpr int64_t kLeaseMs = 10000;
};

TEST_F(LeaseTest, AFreeTaskGoesToTheFirstClaimantOnly) {
  ASSERT_OK(StartCopy("m-d1", kShanghai, "TRANSFERRING").status());
  ASSERT_OK(StartCopy("m-d2", kShanghai, "SUCCEEDED").status());  // terminal
  ASSERT_OK_AND_ASSIGN(auto a, Claim("replica-a", 1000));
  EXPECT_EQ(a.claimed, 1);
  EXPECT_EQ(a.taken_over, 0);
  EXPECT_EQ(a.held, 1);
  ASSERT_OK_AND_ASSIGN(auto b, Claim("replica-b", 1000));
  EXPECT_EQ(b.claimed, 0);
  EXPECT_EQ(b.held, 0);
  EXPECT_THAT(LeasedIds("replica-a", 1000), ElementsAre("m-d1"));
  EXPECT_THAT(LeasedIds("replica-b", 1000), ::testing::IsEmpty());
  ASSERT_OK_AND_ASSIGN(auto copies, Leased("replica-a", 1000));
  ASSERT_EQ(copies.size(), 1u);
  EXPECT_EQ(copies[0].lease_owner, "replica-a");
  EXPECT_EQ(copies[0].lease_epoch, 1);
}

TEST_F(LeaseTest, AnExpiredLeaseIsTakenOverWithANewEpoch) {
  ASSERT_OK(StartCopy("m-d1", kShanghai, "TRANSFERRING").status());
  ASSERT_OK(Claim("replica-a", 1000).status());
  // Still A's just before expiry; B's at expiry (1000 + kLeaseMs).
  ASSERT_OK_AND_ASSIGN(auto early, Claim("replica-b", 1000 + kLeaseMs - 1));
  EXPECT_EQ(early.claimed, 0);
  ASSERT_OK_AND_ASSIGN(auto late, Claim("replica-b", 1000 + kLeaseMs));
  EXPECT_EQ(late.claimed, 1);
  EXPECT_EQ(late.taken_over, 1);
  EXPECT_THAT(LeasedIds("replica-a", 1000 + kLeaseMs), ::testing::IsEmpty());
  ASSERT_OK_AND_ASSIGN(auto copies, Leased("replica-b", 1000 + kLeaseMs));
  ASSERT_EQ(copies.size(), 1u);
  EXPECT_EQ(copies[0].lease_epoch, 2);
}

TEST_F(LeaseTest, AnOwnerRenewsPastHalfItsTermWithoutANewEpoch) {
  ASSERT_OK(StartCopy("m-d1", kShanghai, "TRANSFERRING").status());
  ASSERT_OK(Claim("replica-a", 1000).status());
  ASSERT_OK_AND_ASSIGN(auto soon, Claim("replica-a", 1000 + kLeaseMs / 2 - 1));
  EXPECT_EQ(soon.claimed, 0);  // more than half the term left: no write
  EXPECT_EQ(soon.held, 1);
  ASSERT_OK_AND_ASSIGN(auto renewed, Claim("replica-a", 1000 + kLeaseMs / 2));
  EXPECT_EQ(renewed.claimed, 1);
  EXPECT_EQ(renewed.taken_over, 0);
  // Renewed until 1000 + kLeaseMs / 2 + kLeaseMs: B cannot take it at the
  // first term's end.
  ASSERT_OK_AND_ASSIGN(auto b, Claim("replica-b", 1000 + kLeaseMs));
  EXPECT_EQ(b.claimed, 0);
  ASSERT_OK_AND_ASSIGN(auto copies, Leased("replica-a", 1000 + kLeaseMs));
  ASSERT_EQ(copies.size(), 1u);
  EXPECT_EQ(copies[0].lease_epoch, 1);
}

TEST_F(LeaseTest, ReleasedLeasesAreTakenAtOnce) {
  ASSERT_OK(StartCopy("m-d1", kShanghai, "TRANSFERRING").status());
  ASSERT_OK_AND_ASSIGN(CopyTaskRow source_copy,
                       StartCopy("m-d2", kShanghai, "QUEUED"));
  ASSERT_OK(
      StartTask("t-1", source_copy.dest_image_rowid, "ExportImage", "Waiting")
          .status());
  ASSERT_OK_AND_ASSIGN(auto a, Claim("replica-a", 1000));
  EXPECT_EQ(a.held, 3);  // two copies and the export
  ASSERT_OK(store().RunInWriteTransaction(
      [](WriteTxn& txn) { return txn.ReleaseTaskLeases("replica-a"); }));
  ASSERT_OK_AND_ASSIGN(auto b, Claim("replica-b", 1001));
  EXPECT_EQ(b.claimed, 3);
  EXPECT_EQ(b.held, 3);
  EXPECT_THAT(LeasedIds("replica-b", 1001), ElementsAre("m-d1", "m-d2"));
  ASSERT_OK_AND_ASSIGN(auto tasks, ReadWith(store(), [](ReadTxn& txn) {
                         return txn.ListActiveIoTasks(10, "replica-b", 1001);
                       }));
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].lease_owner, "replica-b");
}

TEST_F(LeaseTest, CreatingImagesAreLeasedToo) {
  ImageRow creating = CustomImage(kAlice, kHangzhou, "m-c", "", "Creating");
  creating.creating_remaining_ms = 5000;
  ASSERT_OK(Insert(creating).status());
  ASSERT_OK_AND_ASSIGN(auto a, Claim("replica-a", 1000));
  EXPECT_EQ(a.held, 1);
  ASSERT_OK_AND_ASSIGN(auto mine, ReadWith(store(), [](ReadTxn& txn) {
                         return txn.ListCreatingImages(10, "replica-a", 1000);
                       }));
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0].image_id, "m-c");
  ASSERT_OK_AND_ASSIGN(auto theirs, ReadWith(store(), [](ReadTxn& txn) {
                         return txn.ListCreatingImages(10, "replica-b", 1000);
                       }));
  EXPECT_TRUE(theirs.empty());
}

TEST_F(LeaseTest, ClaimsStopAtTheLimitPerKind) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(StartCopy("m-d" + std::to_string(i), kShanghai, "TRANSFERRING")
                  .status());
  }
  ASSERT_OK_AND_ASSIGN(auto a, Claim("replica-a", 1000, /*limit=*/2));
  EXPECT_EQ(a.claimed, 2);
  ASSERT_OK_AND_ASSIGN(auto b, Claim("replica-b", 1000, /*limit=*/2));
  EXPECT_EQ(b.claimed, 1);
  EXPECT_THAT(LeasedIds("replica-b", 1000), ElementsAre("m-d2"));
}

TEST_F(LeaseTest, PhaseMovesAreCountedOncePerChange) {
  ASSERT_OK_AND_ASSIGN(CopyTaskRow copy, StartCopy("m-d", kShanghai, "QUEUED"));
  EXPECT_EQ(copy.phase_moves, 0);
  auto move = [&](const std::string& phase, int32_t progress) {
    copy.phase = phase;
    copy.progress = progress;
    return store().RunInWriteTransaction(
        [&](WriteTxn& txn) { return txn.UpdateCopy(copy); });
  };
  ASSERT_OK(move("PREPARING", 0));
  ASSERT_OK(move("TRANSFERRING", 1));
  ASSERT_OK(move("TRANSFERRING", 50));  // progress only: not a move
  ASSERT_OK(move("REGISTERING", 100));
  ASSERT_OK_AND_ASSIGN(auto got, ReadWith(store(), [&](ReadTxn& txn) {
                         return txn.GetCopyByDest(copy.dest_image_rowid);
                       }));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->phase_moves, 3);

  ASSERT_OK_AND_ASSIGN(IoTaskRow task,
                       StartTask("t-1", source_, "ExportImage", "Waiting"));
  task.status = "Processing";
  ASSERT_OK(store().RunInWriteTransaction(
      [&](WriteTxn& txn) { return txn.UpdateIoTask(task); }));
  task.progress = 40;
  ASSERT_OK(store().RunInWriteTransaction(
      [&](WriteTxn& txn) { return txn.UpdateIoTask(task); }));
  ASSERT_OK_AND_ASSIGN(auto stored, ReadWith(store(), [](ReadTxn& txn) {
                         return txn.GetIoTask("t-1");
                       }));
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->phase_moves, 1);
}

}  // namespace
// GetImageBlockers (one round trip on PostgreSQL) answers what the reads
// it stands for answer one by one, inside a write transaction as
// DeleteImage runs it.
TEST_F(TasksTest, ImageBlockersEqualTheReadsOneByOne) {
  ASSERT_OK_AND_ASSIGN(CopyTaskRow copy,
                       StartCopy("m-d", kShanghai, "TRANSFERRING"));
  ASSERT_OK(StartTask("t-imp", source_, "ImportImage", "Processing").status());
  ASSERT_OK(StartTask("t-exp", source_, "ExportImage", "Waiting").status());
  ASSERT_OK(store().RunInWriteTransaction(
      [&](WriteTxn& txn) { return txn.AddShare(source_, kBob, 5); }));
  ASSERT_OK(Run("i-1", source_, kAlice).status());
  ASSERT_OK(Run("i-2", source_, kBob).status());
  ASSERT_OK_AND_ASSIGN(int64_t bare,
                       Insert(CustomImage(kAlice, kHangzhou, "m-bare")));

  for (int64_t rowid : {source_, copy.dest_image_rowid, bare}) {
    ASSERT_OK(store().RunInWriteTransaction([&](WriteTxn& txn) -> absl::Status {
      auto all = txn.GetImageBlockers(rowid, 1);
      EXPECT_TRUE(all.ok()) << all.status();
      if (!all.ok()) return all.status();
      auto import = txn.GetActiveIoTask(rowid, "ImportImage");
      auto dest = txn.GetCopyByDest(rowid);
      auto source = txn.GetActiveCopyBySource(rowid);
      auto export_task = txn.GetActiveIoTask(rowid, "ExportImage");
      auto shares = txn.CountShares(rowid);
      auto refs = txn.ListInstanceRefs(rowid, 1);
      EXPECT_TRUE(import.ok() && dest.ok() && source.ok() && export_task.ok() &&
                  shares.ok() && refs.ok());
      auto task_id = [](const std::optional<IoTaskRow>& t) {
        return t.has_value() ? t->task_id : "";
      };
      auto copy_rowid = [](const std::optional<CopyTaskRow>& c) {
        return c.has_value() ? c->rowid : int64_t{0};
      };
      EXPECT_EQ(task_id(all->import_task), task_id(*import)) << rowid;
      EXPECT_EQ(copy_rowid(all->copy_as_dest), copy_rowid(*dest)) << rowid;
      EXPECT_EQ(copy_rowid(all->active_copy_as_source), copy_rowid(*source))
          << rowid;
      EXPECT_EQ(task_id(all->export_task), task_id(*export_task)) << rowid;
      EXPECT_EQ(all->shares, *shares) << rowid;
      EXPECT_EQ(all->instances.first, refs->first) << rowid;
      EXPECT_EQ(all->instances.second.size(), refs->second.size()) << rowid;
      if (rowid == source_) {
        EXPECT_EQ(task_id(all->import_task), "t-imp");
        EXPECT_EQ(task_id(all->export_task), "t-exp");
        EXPECT_EQ(copy_rowid(all->active_copy_as_source), copy.rowid);
        EXPECT_FALSE(all->copy_as_dest.has_value());
        EXPECT_EQ(all->shares, 1);
        EXPECT_EQ(all->instances.first, 2);
        EXPECT_EQ(all->instances.second.size(), 1u);
        if (all->instances.second.size() == 1) {
          EXPECT_EQ(all->instances.second[0].instance_id, "i-1");
        }
      } else if (rowid == copy.dest_image_rowid) {
        EXPECT_EQ(copy_rowid(all->copy_as_dest), copy.rowid);
        EXPECT_EQ(all->copy_as_dest->phase, "TRANSFERRING");
      } else {
        EXPECT_FALSE(all->import_task.has_value() ||
                     all->copy_as_dest.has_value() ||
                     all->active_copy_as_source.has_value() ||
                     all->export_task.has_value());
        EXPECT_EQ(all->shares, 0);
        EXPECT_EQ(all->instances.first, 0);
      }
      return absl::OkStatus();
    }));
  }
}

}  // namespace ecsimage::storage::testing
