// Regions, accounts, tokens, seeding, images and the live-image counters.
#include <string>
#include <vector>

#include "tests/storage/storage_test_util.h"

namespace ecsimage::storage::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::Optional;

using ImageStoreTest = StoreTest;

TEST_F(ImageStoreTest, RegionsAndAccounts) {
  EXPECT_OK(store().RunInReadTransaction([](ReadTxn& txn) {
    EXPECT_THAT(txn.RegionExists(kHangzhou), IsOkAndHolds(true));
    EXPECT_THAT(txn.RegionExists("mars-1"), IsOkAndHolds(false));
    auto regions = txn.ListRegions();
    EXPECT_TRUE(regions.ok());
    EXPECT_TRUE(regions.ok() && regions->size() == 2);
    if (regions.ok() && regions->size() == 2) {
      EXPECT_EQ((*regions)[0].region_id, kHangzhou);
      EXPECT_EQ((*regions)[0].local_name, "Hangzhou");
      EXPECT_EQ((*regions)[0].endpoint, "ecs.hz");
      EXPECT_EQ((*regions)[1].region_id, kShanghai);
    }
    EXPECT_THAT(txn.AccountExists(kAlice), IsOkAndHolds(true));
    EXPECT_THAT(txn.AccountExists("9999999999999999"), IsOkAndHolds(false));
    return absl::OkStatus();
  }));
}

TEST_F(ImageStoreTest, IntegrityCheckPassesOnAHealthyStoreAndWritesGoOn) {
  ASSERT_OK(store().RunInWriteTransaction([](WriteTxn& txn) {
    ImageRow image = CustomImage(kAlice, kHangzhou, "m-integrity1");
    return txn.InsertImage(image);
  }));
  EXPECT_OK(store().CheckIntegrity());
  EXPECT_OK(store().CheckReady());
  EXPECT_OK(store().RunInWriteTransaction([](WriteTxn& txn) {
    ImageRow image = CustomImage(kAlice, kHangzhou, "m-integrity2");
    return txn.InsertImage(image);
  }));
}

TEST_F(ImageStoreTest, ReplicaSettingsAreInsertedReadAndOverwritten) {
  ASSERT_OK(store().RunInWriteTransaction([](WriteTxn& txn) -> absl::Status {
    auto none = txn.GetReplicaSetting("simulation_control");
    EXPECT_TRUE(none.ok() && !none->has_value());
    return txn.PutReplicaSetting("simulation_control", "false", 1000);
  }));
  ASSERT_OK(store().RunInWriteTransaction([](WriteTxn& txn) -> absl::Status {
    auto got = txn.GetReplicaSetting("simulation_control");
    EXPECT_TRUE(got.ok() && got->has_value());
    if (got.ok() && got->has_value()) {
      EXPECT_EQ((*got)->value, "false");
      EXPECT_EQ((*got)->confirmed_at_ms, 1000);
    }
    EXPECT_TRUE(txn.GetReplicaSetting("other").ok());
    return txn.PutReplicaSetting("simulation_control", "true", 2500);
  }));
  ASSERT_OK(store().RunInWriteTransaction([](WriteTxn& txn) -> absl::Status {
    auto got = txn.GetReplicaSetting("simulation_control");
    EXPECT_TRUE(got.ok() && got->has_value());
    if (got.ok() && got->has_value()) {
      EXPECT_EQ((*got)->value, "true");
      EXPECT_EQ((*got)->confirmed_at_ms, 2500);
    }
    auto other = txn.GetReplicaSetting("other");
    EXPECT_TRUE(other.ok() && !other->has_value());
    return absl::OkStatus();
  }));
}

TEST_F(ImageStoreTest, TokenHashMapsToItsAccount) {
  EXPECT_THAT(store().AccountForTokenHash(std::string(32, '2')),
              IsOkAndHolds(Optional(std::string(kBob))));
  EXPECT_THAT(store().AccountForTokenHash(std::string(32, '9')),
              IsOkAndHolds(Eq(std::nullopt)));
}

TEST_F(ImageStoreTest, CreateAccountIsAllOrNothing) {
  // Same token hash as Alice's: the account row must not stay behind.
  EXPECT_THAT(store().CreateAccount({"1000000000000009", "dup", 5},
                                    std::string(32, '1')),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_OK(store().RunInReadTransaction([](ReadTxn& txn) {
    EXPECT_THAT(txn.AccountExists("1000000000000009"), IsOkAndHolds(false));
    return absl::OkStatus();
  }));
  EXPECT_THAT(store().CreateAccount({kAlice, "again", 5}, std::string(32, 'z')),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr(kAlice)));
}

TEST_F(ImageStoreTest, TokenCreatedByAnotherStoreIsSeenAtOnce) {
  // Another process (the `account create` CLI) on the same file.
  ASSERT_OK_AND_ASSIGN(auto cli, OpenAnother());
  ASSERT_OK(
      cli->CreateAccount({"1000000000000042", "cli", 9}, std::string(32, 'c')));
  EXPECT_THAT(store().AccountForTokenHash(std::string(32, 'c')),
              IsOkAndHolds(Optional(std::string("1000000000000042"))));
}

TEST_F(ImageStoreTest, SeedIfEmptySeedsOnlyOnce) {
  // SetUp seeded the regions already: nothing is added.
  ASSERT_OK(store().SeedIfEmpty({{"cn-beijing", "Beijing", "ecs.bj"}},
                                {SystemImage("cn-beijing", "ubuntu")}));
  EXPECT_OK(store().RunInReadTransaction([](ReadTxn& txn) {
    EXPECT_THAT(txn.RegionExists("cn-beijing"), IsOkAndHolds(false));
    return absl::OkStatus();
  }));

  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto fresh_db,
                       ::ecsimage::testing::TestDatabase::Create(dir.path()));
  ASSERT_OK_AND_ASSIGN(auto fresh, fresh_db->Open());
  // The same system image id may exist in several regions.
  ASSERT_OK(fresh->SeedIfEmpty(
      {{kHangzhou, "Hangzhou", "a"}, {kShanghai, "Shanghai", "b"}},
      {SystemImage(kHangzhou, "ubuntu_22"),
       SystemImage(kShanghai, "ubuntu_22")}));
  EXPECT_OK(fresh->RunInReadTransaction([](ReadTxn& txn) {
    auto hz = txn.GetImage(kHangzhou, "ubuntu_22");
    auto sh = txn.GetImage(kShanghai, "ubuntu_22");
    EXPECT_TRUE(hz.ok() && hz->has_value() && (*hz)->is_system &&
                (*hz)->owner_account_id.empty());
    EXPECT_TRUE(sh.ok() && sh->has_value());
    if (hz.ok() && sh.ok() && hz->has_value() && sh->has_value()) {
      EXPECT_NE((*hz)->rowid, (*sh)->rowid);
    }
    return absl::OkStatus();
  }));
}

TEST_F(ImageStoreTest, FinishedCustomImagesArePagedByRowid) {
  // SetUp seeded no image; a system image, a deleted one and unfinished
  // ones are never listed.
  ASSERT_OK(Insert(SystemImage(kHangzhou, "ubuntu")).status());
  ASSERT_OK_AND_ASSIGN(int64_t a,
                       Insert(CustomImage(kAlice, kHangzhou, "m-a")));
  ASSERT_OK(
      Insert(CustomImage(kAlice, kHangzhou, "m-w", "", "Waiting")).status());
  ASSERT_OK(
      Insert(CustomImage(kBob, kShanghai, "m-c", "", "Creating")).status());
  ASSERT_OK(
      Insert(CustomImage(kBob, kShanghai, "m-u", "", "UnAvailable")).status());
  ASSERT_OK(
      Insert(CustomImage(kBob, kShanghai, "m-f", "", "CreateFailed")).status());
  ASSERT_OK_AND_ASSIGN(
      int64_t d, Insert(CustomImage(kBob, kShanghai, "m-d", "", "Deprecated")));
  ImageRow gone = CustomImage(kCarol, kHangzhou, "m-x");
  gone.deleted_at_ms = 5;
  ASSERT_OK(Insert(gone).status());
  ASSERT_OK_AND_ASSIGN(int64_t e,
                       Insert(CustomImage(kCarol, kHangzhou, "m-e")));

  auto list = [&](int64_t after, int64_t limit) {
    return ReadWith(store(), [&](ReadTxn& txn) {
      return txn.ListFinishedCustomImages(after, limit);
    });
  };
  ASSERT_OK_AND_ASSIGN(auto first, list(0, 2));
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].rowid, a);
  EXPECT_EQ(first[0].image_id, "m-a");
  EXPECT_EQ(first[0].region_id, kHangzhou);
  EXPECT_EQ(first[0].status, "Available");
  EXPECT_EQ(first[1].rowid, d);
  EXPECT_EQ(first[1].image_id, "m-d");
  EXPECT_EQ(first[1].region_id, kShanghai);
  EXPECT_EQ(first[1].status, "Deprecated");
  ASSERT_OK_AND_ASSIGN(auto rest, list(d, 2));
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].rowid, e);
  EXPECT_EQ(rest[0].image_id, "m-e");
  ASSERT_OK_AND_ASSIGN(auto none, list(e, 2));
  EXPECT_TRUE(none.empty());
}

TEST_F(ImageStoreTest, InsertedImageReadsBackWithEveryColumn) {
  ImageRow image = CustomImage(kAlice, kHangzhou, "m-1", "web", "Creating");
  image.description = "the web tier";
  image.progress = 12;
  image.size_gib = 80;
  image.architecture = "arm64";
  image.os_type = "windows";
  image.platform = "Windows Server 2022";
  image.is_copied = true;
  image.is_public = true;
  image.created_at_ms = 1234567;
  image.creating_remaining_ms = 4000;
  image.disks = {{"/dev/xvda", "system", "s-a", 80},
                 {"/dev/xvdb", "data", "s-b", 200}};
  ASSERT_OK_AND_ASSIGN(int64_t rowid, Insert(image));
  EXPECT_GT(rowid, 0);

  ASSERT_OK_AND_ASSIGN(ImageRow got, Get(rowid));
  EXPECT_EQ(got.rowid, rowid);
  EXPECT_EQ(got.image_id, "m-1");
  EXPECT_EQ(got.region_id, kHangzhou);
  EXPECT_EQ(got.owner_account_id, kAlice);
  EXPECT_FALSE(got.is_system);
  EXPECT_EQ(got.name, "web");
  EXPECT_EQ(got.description, "the web tier");
  EXPECT_EQ(got.status, "Creating");
  EXPECT_EQ(got.progress, 12);
  EXPECT_EQ(got.size_gib, 80);
  EXPECT_EQ(got.architecture, "arm64");
  EXPECT_EQ(got.os_type, "windows");
  EXPECT_EQ(got.platform, "Windows Server 2022");
  EXPECT_TRUE(got.is_copied);
  EXPECT_TRUE(got.is_public);
  EXPECT_EQ(got.created_at_ms, 1234567);
  EXPECT_EQ(got.deleted_at_ms, std::nullopt);
  EXPECT_EQ(got.creating_remaining_ms, 4000);
  EXPECT_EQ(got.live_instance_count, 0);
  ASSERT_EQ(got.disks.size(), 2u);
  EXPECT_EQ(got.disks[1].device, "/dev/xvdb");
  EXPECT_EQ(got.disks[1].type, "data");
  EXPECT_EQ(got.disks[1].snapshot_id, "s-b");
  EXPECT_EQ(got.disks[1].size_gib, 200);

  EXPECT_OK(store().RunInReadTransaction([&](ReadTxn& txn) {
    auto by_id = txn.GetImage(kHangzhou, "m-1");
    EXPECT_TRUE(by_id.ok() && by_id->has_value() && (*by_id)->rowid == rowid);
    EXPECT_THAT(txn.GetImage(kShanghai, "m-1"), IsOkAndHolds(Eq(std::nullopt)));
    EXPECT_THAT(txn.GetImageByRowid(rowid + 100),
                IsOkAndHolds(Eq(std::nullopt)));
    return absl::OkStatus();
  }));
}

TEST_F(ImageStoreTest, DuplicateIdInRegionIsAlreadyExists) {
  ASSERT_OK(Insert(CustomImage(kAlice, kHangzhou, "m-1")).status());
  EXPECT_THAT(Insert(CustomImage(kBob, kHangzhou, "m-1")),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("m-1")));
}

TEST_F(ImageStoreTest, LiveNamesAreUniquePerAccountAndRegion) {
  ASSERT_OK_AND_ASSIGN(int64_t first,
                       Insert(CustomImage(kAlice, kHangzhou, "m-1", "web")));
  EXPECT_THAT(Insert(CustomImage(kAlice, kHangzhou, "m-2", "web")),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("web")));
  // Other account, other region, unnamed: fine.
  EXPECT_OK(Insert(CustomImage(kBob, kHangzhou, "m-3", "web")).status());
  EXPECT_OK(Insert(CustomImage(kAlice, kShanghai, "m-4", "web")).status());
  EXPECT_OK(Insert(CustomImage(kAlice, kHangzhou, "m-5", "")).status());
  EXPECT_OK(Insert(CustomImage(kAlice, kHangzhou, "m-6", "")).status());
  // Renaming onto a live name is refused too.
  ASSERT_OK_AND_ASSIGN(int64_t other,
                       Insert(CustomImage(kAlice, kHangzhou, "m-7", "api")));
  ASSERT_OK_AND_ASSIGN(ImageRow renamed, Get(other));
  renamed.name = "web";
  EXPECT_THAT(Update(renamed), StatusIs(absl::StatusCode::kAlreadyExists));
  // A tombstone frees its name.
  ASSERT_OK_AND_ASSIGN(ImageRow web, Get(first));
  web.deleted_at_ms = 99;
  ASSERT_OK(Update(web));
  EXPECT_OK(Insert(CustomImage(kAlice, kHangzhou, "m-8", "web")).status());
}

TEST_F(ImageStoreTest, FindLiveImageByName) {
  ASSERT_OK_AND_ASSIGN(int64_t rowid,
                       Insert(CustomImage(kAlice, kHangzhou, "m-1", "web")));
  EXPECT_OK(store().RunInReadTransaction([&](ReadTxn& txn) {
    auto found = txn.FindLiveImageByName(kAlice, kHangzhou, "web");
    EXPECT_TRUE(found.ok() && found->has_value() && (*found)->rowid == rowid);
    EXPECT_THAT(txn.FindLiveImageByName(kBob, kHangzhou, "web"),
                IsOkAndHolds(Eq(std::nullopt)));
    EXPECT_THAT(txn.FindLiveImageByName(kAlice, kShanghai, "web"),
                IsOkAndHolds(Eq(std::nullopt)));
    EXPECT_THAT(txn.FindLiveImageByName(kAlice, kHangzhou, ""),
                IsOkAndHolds(Eq(std::nullopt)));
    return absl::OkStatus();
  }));
  ASSERT_OK_AND_ASSIGN(ImageRow image, Get(rowid));
  image.deleted_at_ms = 5;
  ASSERT_OK(Update(image));
  EXPECT_OK(store().RunInReadTransaction([&](ReadTxn& txn) {
    EXPECT_THAT(txn.FindLiveImageByName(kAlice, kHangzhou, "web"),
                IsOkAndHolds(Eq(std::nullopt)));
    return absl::OkStatus();
  }));
}

TEST_F(ImageStoreTest, UpdateImageWritesMutableColumnsOnly) {
  ASSERT_OK_AND_ASSIGN(
      int64_t rowid,
      Insert(CustomImage(kAlice, kHangzhou, "m-1", "a", "Creating")));
  ASSERT_OK_AND_ASSIGN(ImageRow image, Get(rowid));
  image.name = "b";
  image.description = "changed";
  image.status = "Available";
  image.progress = 100;
  image.is_public = true;
  image.creating_remaining_ms = 0;
  image.deleted_at_ms = 42;
  image.size_gib = 100;  // an import found its disk larger
  // Identity columns and disks are not written.
  image.image_id = "m-other";
  image.disks.clear();
  ASSERT_OK(Update(image));
  ASSERT_OK_AND_ASSIGN(ImageRow got, Get(rowid));
  EXPECT_EQ(got.name, "b");
  EXPECT_EQ(got.description, "changed");
  EXPECT_EQ(got.status, "Available");
  EXPECT_EQ(got.progress, 100);
  EXPECT_TRUE(got.is_public);
  EXPECT_EQ(got.creating_remaining_ms, 0);
  EXPECT_THAT(got.deleted_at_ms, Optional(42));
  EXPECT_EQ(got.image_id, "m-1");
  EXPECT_EQ(got.size_gib, 100);
  EXPECT_EQ(got.disks.size(), 1u);
}

TEST_F(ImageStoreTest, SetDiskSizeChangesOneDiskOnly) {
  ImageRow image = CustomImage(kAlice, kHangzhou, "m-disks");
  image.disks = {{"/dev/xvda", "system", "s-a", 40},
                 {"/dev/xvdb", "data", "s-b", 5}};
  ASSERT_OK_AND_ASSIGN(int64_t rowid, Insert(image));
  ASSERT_OK(store().RunInWriteTransaction(
      [&](WriteTxn& txn) { return txn.SetDiskSize(rowid, 1, 64); }));
  ASSERT_OK_AND_ASSIGN(ImageRow got, Get(rowid));
  ASSERT_EQ(got.disks.size(), 2u);
  EXPECT_EQ(got.disks[0].size_gib, 40);
  EXPECT_EQ(got.disks[1].size_gib, 64);
  EXPECT_EQ(got.disks[1].snapshot_id, "s-b");
  EXPECT_THAT(store().RunInWriteTransaction(
                  [&](WriteTxn& txn) { return txn.SetDiskSize(rowid, 2, 1); }),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store().RunInWriteTransaction(
                  [&](WriteTxn& txn) { return txn.SetDiskSize(99999, 0, 1); }),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ImageStoreTest, UpdateOfUnknownRowIsInternal) {
  ImageRow ghost = CustomImage(kAlice, kHangzhou, "m-ghost");
  ghost.rowid = 12345;
  EXPECT_THAT(Update(ghost),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("12345")));
}

TEST_F(ImageStoreTest, InvalidStatusIsRefusedByTheSchema) {
  // SQLite says "CHECK constraint failed", PostgreSQL "violates check
  // constraint": either way the schema, not the code, refused it.
  EXPECT_THAT(Insert(CustomImage(kAlice, kHangzhou, "m-1", "", "Bogus")),
              StatusIs(absl::StatusCode::kInternal,
                       ::testing::AnyOf(HasSubstr("CHECK constraint"),
                                        HasSubstr("check constraint"))));
}

TEST_F(ImageStoreTest, LiveCountersFollowInsertsStatusChangesAndTombstones) {
  EXPECT_THAT(CountLive(kAlice, kHangzhou), IsOkAndHolds(0));
  std::vector<int64_t> rows;
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK_AND_ASSIGN(
        int64_t rowid,
        Insert(CustomImage(kAlice, kHangzhou, absl::StrCat("m-", i))));
    rows.push_back(rowid);
  }
  ASSERT_OK(Insert(CustomImage(kAlice, kShanghai, "m-sh")).status());
  ASSERT_OK(Insert(CustomImage(kBob, kHangzhou, "m-bob")).status());
  ASSERT_OK(Insert(SystemImage(kHangzhou, "ubuntu")).status());
  EXPECT_THAT(CountLive(kAlice, kHangzhou), IsOkAndHolds(5));
  EXPECT_THAT(CountLive(kAlice, kShanghai), IsOkAndHolds(1));
  EXPECT_THAT(CountLive(kBob, kHangzhou), IsOkAndHolds(1));
  EXPECT_THAT(CountLive(kCarol, kHangzhou), IsOkAndHolds(0));

  // Status changes move an image between statuses, not out of the count.
  ASSERT_OK_AND_ASSIGN(ImageRow image, Get(rows[0]));
  image.status = "Deprecated";
  ASSERT_OK(Update(image));
  EXPECT_THAT(CountLive(kAlice, kHangzhou), IsOkAndHolds(5));
  // A tombstone leaves the count, once.
  image.deleted_at_ms = 10;
  ASSERT_OK(Update(image));
  ASSERT_OK(Update(image));
  EXPECT_THAT(CountLive(kAlice, kHangzhou), IsOkAndHolds(4));
  // Status change of a tombstone changes nothing.
  image.status = "Available";
  ASSERT_OK(Update(image));
  EXPECT_THAT(CountLive(kAlice, kHangzhou), IsOkAndHolds(4));

  // The per-status totals DescribeImages uses agree with the rows.
  ImageQuery query;
  query.caller_account_id = kAlice;
  query.region_id = kHangzhou;
  query.include_system = false;
  query.include_others = false;
  query.statuses = {"Available"};
  ASSERT_OK_AND_ASSIGN(ImagePage page, List(query));
  EXPECT_EQ(page.total_count, 4);
  ASSERT_OK_AND_ASSIGN(ImageRow second, Get(rows[1]));
  second.status = "CreateFailed";
  ASSERT_OK(Update(second));
  ASSERT_OK_AND_ASSIGN(page, List(query));
  EXPECT_EQ(page.total_count, 3);
  query.statuses = {"CreateFailed", "Available"};
  ASSERT_OK_AND_ASSIGN(page, List(query));
  EXPECT_EQ(page.total_count, 4);
}

TEST_F(ImageStoreTest, FailedWriteLeavesCountersUntouched) {
  absl::Status status = store().RunInWriteTransaction([](WriteTxn& txn) {
    ImageRow image = CustomImage(kAlice, kHangzhou, "m-1");
    absl::Status inserted = txn.InsertImage(image);
    if (!inserted.ok()) return inserted;
    return absl::AbortedError("changed my mind");
  });
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(CountLive(kAlice, kHangzhou), IsOkAndHolds(0));
}

TEST_F(ImageStoreTest, CreatingImagesExcludeCopiesImportsTombstonesAndDone) {
  auto creating = [](const std::string& id, int64_t remaining) {
    ImageRow image = CustomImage(kAlice, kHangzhou, id, "", "Creating");
    image.creating_remaining_ms = remaining;
    return image;
  };
  ASSERT_OK_AND_ASSIGN(int64_t wanted1, Insert(creating("m-1", 500)));
  ASSERT_OK(Insert(creating("m-done", 0)).status());
  ImageRow copy = creating("m-copy", 500);
  copy.is_copied = true;
  ASSERT_OK(Insert(copy).status());
  ASSERT_OK_AND_ASSIGN(int64_t imported, Insert(creating("m-import", 500)));
  IoTaskRow task;
  task.task_id = "t-1";
  task.account_id = kAlice;
  task.region_id = kHangzhou;
  task.image_rowid = imported;
  task.action = "ImportImage";
  task.status = "Processing";
  ASSERT_OK(store().RunInWriteTransaction(
      [&](WriteTxn& txn) { return txn.InsertIoTask(task); }));
  ImageRow dead = creating("m-dead", 500);
  dead.deleted_at_ms = 1;
  ASSERT_OK(Insert(dead).status());
  ImageRow available = creating("m-avail", 500);
  available.status = "Available";
  ASSERT_OK(Insert(available).status());
  ASSERT_OK_AND_ASSIGN(int64_t wanted2, Insert(creating("m-2", 1)));

  ASSERT_OK_AND_ASSIGN(auto rows, ReadWith(store(), [](ReadTxn& txn) {
                         return txn.ListCreatingImages(10, "", 0);
                       }));
  std::vector<int64_t> ids;
  for (const ImageRow& r : rows) ids.push_back(r.rowid);
  EXPECT_THAT(ids, ElementsAre(wanted1, wanted2));
  EXPECT_EQ(rows[0].disks.size(), 1u);
  ASSERT_OK_AND_ASSIGN(rows, ReadWith(store(), [](ReadTxn& txn) {
                         return txn.ListCreatingImages(1, "", 0);
                       }));
  EXPECT_EQ(rows.size(), 1u);
}

}  // namespace
}  // namespace ecsimage::storage::testing
