// ListImages (DescribeImages): visibility sets, filters, order, paging,
// tombstones, filled fields, and a randomized comparison with a brute-force
// model of the same rules.
#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tests/storage/storage_test_util.h"

namespace ecsimage::storage::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::IsEmpty;

const std::vector<std::string> kAllStatuses = {"Waiting",      "Creating",
                                               "Available",    "UnAvailable",
                                               "CreateFailed", "Deprecated"};

ImageQuery Query(const std::string& caller, const std::string& region) {
  ImageQuery query;
  query.caller_account_id = caller;
  query.region_id = region;
  query.statuses = kAllStatuses;
  query.limit = 100;
  return query;
}

std::vector<std::string> Ids(const ImagePage& page) {
  std::vector<std::string> ids;
  for (const auto& entry : page.entries) {
    ids.push_back(entry.image.image_id + "/" + entry.owner_alias);
  }
  return ids;
}

class ListImagesTest : public StoreTest {
 protected:
  absl::Status Mutate(int64_t rowid,
                      const std::function<void(ImageRow&)>& change) {
    absl::StatusOr<ImageRow> image = Get(rowid);
    if (!image.ok()) return image.status();
    change(*image);
    return Update(*image);
  }
  absl::Status Share(int64_t rowid, const std::string& account) {
    return store().RunInWriteTransaction(
        [&](WriteTxn& txn) { return txn.AddShare(rowid, account, 1); });
  }
  absl::Status Unshare(int64_t rowid, const std::string& account) {
    return store().RunInWriteTransaction(
        [&](WriteTxn& txn) { return txn.RemoveShare(rowid, account); });
  }
  absl::Status RunInstance(int64_t rowid, const std::string& instance_id) {
    return store().RunInWriteTransaction([&](WriteTxn& txn) {
      InstanceRow instance;
      instance.instance_id = instance_id;
      instance.account_id = kCarol;
      instance.region_id = kHangzhou;
      instance.image_rowid = rowid;
      return txn.InsertInstance(instance);
    });
  }
};

TEST_F(ListImagesTest, VisibilitySetsAndAliases) {
  ASSERT_OK(Insert(SystemImage(kHangzhou, "sys-hz")).status());
  ASSERT_OK(Insert(SystemImage(kShanghai, "sys-sh")).status());
  ASSERT_OK(Insert(CustomImage(kAlice, kHangzhou, "a-own")).status());
  ASSERT_OK(Insert(CustomImage(kAlice, kShanghai, "a-sh")).status());
  ASSERT_OK_AND_ASSIGN(int64_t a_public,
                       Insert(CustomImage(kAlice, kHangzhou, "a-public")));
  ASSERT_OK(Mutate(a_public, [](ImageRow& i) { i.is_public = true; }));
  ASSERT_OK(Insert(CustomImage(kBob, kHangzhou, "b-private")).status());
  ASSERT_OK_AND_ASSIGN(int64_t b_shared,
                       Insert(CustomImage(kBob, kHangzhou, "b-shared")));
  ASSERT_OK(Share(b_shared, kAlice));
  ASSERT_OK_AND_ASSIGN(int64_t b_public,
                       Insert(CustomImage(kBob, kHangzhou, "b-public")));
  ASSERT_OK(Mutate(b_public, [](ImageRow& i) { i.is_public = true; }));
  // Shared and public: listed once.
  ASSERT_OK_AND_ASSIGN(int64_t b_both,
                       Insert(CustomImage(kBob, kHangzhou, "b-both")));
  ASSERT_OK(Share(b_both, kAlice));
  ASSERT_OK(Mutate(b_both, [](ImageRow& i) { i.is_public = true; }));
  ASSERT_OK_AND_ASSIGN(int64_t c_shared_other,
                       Insert(CustomImage(kCarol, kHangzhou, "c-to-bob")));
  ASSERT_OK(Share(c_shared_other, kBob));
  // Tombstones of every kind.
  for (const char* id : {"a-dead", "b-dead-public", "b-dead-shared"}) {
    const std::string owner = id[0] == 'a' ? kAlice : kBob;
    ASSERT_OK_AND_ASSIGN(int64_t rowid,
                         Insert(CustomImage(owner, kHangzhou, id)));
    ASSERT_OK(Share(rowid, kAlice));
    ASSERT_OK(Mutate(rowid, [](ImageRow& i) {
      i.is_public = true;
      i.deleted_at_ms = 5;
    }));
  }
  ASSERT_OK_AND_ASSIGN(ImagePage page, List(Query(kAlice, kHangzhou)));
  EXPECT_THAT(Ids(page),
              ElementsAre("b-both/others", "b-public/others", "b-shared/others",
                          "a-public/self", "a-own/self", "sys-hz/system"));
  EXPECT_EQ(page.total_count, 6);

  ImageQuery self = Query(kAlice, kHangzhou);
  self.include_system = self.include_others = false;
  ASSERT_OK_AND_ASSIGN(page, List(self));
  EXPECT_THAT(Ids(page), ElementsAre("a-public/self", "a-own/self"));
  EXPECT_EQ(page.total_count, 2);

  ImageQuery system = Query(kAlice, kHangzhou);
  system.include_self = system.include_others = false;
  ASSERT_OK_AND_ASSIGN(page, List(system));
  EXPECT_THAT(Ids(page), ElementsAre("sys-hz/system"));
  EXPECT_EQ(page.total_count, 1);

  ImageQuery others = Query(kAlice, kHangzhou);
  others.include_self = others.include_system = false;
  ASSERT_OK_AND_ASSIGN(page, List(others));
  EXPECT_THAT(Ids(page), ElementsAre("b-both/others", "b-public/others",
                                     "b-shared/others"));
  EXPECT_EQ(page.total_count, 3);

  // Bob sees Alice's public image and Carol's share, not his own as others.
  ASSERT_OK_AND_ASSIGN(page, List(Query(kBob, kHangzhou)));
  EXPECT_THAT(Ids(page),
              ElementsAre("c-to-bob/others", "b-both/self", "b-public/self",
                          "b-shared/self", "b-private/self", "a-public/others",
                          "sys-hz/system"));
  EXPECT_EQ(page.total_count, 7);

  ASSERT_OK_AND_ASSIGN(page, List(Query(kAlice, kShanghai)));
  EXPECT_THAT(Ids(page), ElementsAre("a-sh/self", "sys-sh/system"));
}

TEST_F(ListImagesTest, DescribingADeletedImageGivesAnEmptyPage) {
  ASSERT_OK_AND_ASSIGN(int64_t rowid,
                       Insert(CustomImage(kAlice, kHangzhou, "m-gone")));
  ASSERT_OK(Mutate(rowid, [](ImageRow& i) { i.deleted_at_ms = 1; }));
  ImageQuery query = Query(kAlice, kHangzhou);
  query.image_ids = {"m-gone"};
  ASSERT_OK_AND_ASSIGN(ImagePage page, List(query));
  EXPECT_THAT(page.entries, IsEmpty());
  EXPECT_EQ(page.total_count, 0);
}

TEST_F(ListImagesTest, Filters) {
  ASSERT_OK_AND_ASSIGN(
      int64_t avail, Insert(CustomImage(kAlice, kHangzhou, "m-avail", "web")));
  ASSERT_OK(Insert(CustomImage(kAlice, kHangzhou, "m-wait", "api", "Waiting"))
                .status());
  ImageRow copied = CustomImage(kAlice, kHangzhou, "m-copy", "", "Creating");
  copied.is_copied = true;
  ASSERT_OK(Insert(copied).status());
  ASSERT_OK(Insert(SystemImage(kHangzhou, "sys-used")).status());
  ASSERT_OK(RunInstance(avail, "i-1"));
  ASSERT_OK_AND_ASSIGN(
      ImageRow sys,
      ReadWith(store(), [](ReadTxn& txn) -> absl::StatusOr<ImageRow> {
        auto image = txn.GetImage(kHangzhou, "sys-used");
        if (!image.ok()) return image.status();
        return **image;
      }));
  ASSERT_OK(RunInstance(sys.rowid, "i-2"));

  auto list = [&](const std::function<void(ImageQuery&)>& set) {
    ImageQuery query = Query(kAlice, kHangzhou);
    set(query);
    return List(query);
  };
  ASSERT_OK_AND_ASSIGN(ImagePage page, list([](ImageQuery& q) {
                         q.statuses = {"Waiting", "Creating"};
                       }));
  EXPECT_THAT(Ids(page), ElementsAre("m-copy/self", "m-wait/self"));
  EXPECT_EQ(page.total_count, 2);

  ASSERT_OK_AND_ASSIGN(page,
                       list([](ImageQuery& q) { q.statuses = {"Available"}; }));
  EXPECT_THAT(Ids(page), ElementsAre("sys-used/system", "m-avail/self"));

  ASSERT_OK_AND_ASSIGN(page, list([](ImageQuery& q) {
                         q.image_ids = {"m-wait", "sys-used", "m-none"};
                       }));
  EXPECT_THAT(Ids(page), ElementsAre("sys-used/system", "m-wait/self"));
  EXPECT_EQ(page.total_count, 2);

  ASSERT_OK_AND_ASSIGN(page, list([](ImageQuery& q) { q.name = "api"; }));
  EXPECT_THAT(Ids(page), ElementsAre("m-wait/self"));
  EXPECT_EQ(page.total_count, 1);

  ASSERT_OK_AND_ASSIGN(page, list([](ImageQuery& q) { q.is_copied = true; }));
  EXPECT_THAT(Ids(page), ElementsAre("m-copy/self"));
  ASSERT_OK_AND_ASSIGN(page, list([](ImageQuery& q) { q.is_copied = false; }));
  EXPECT_EQ(page.total_count, 3);

  ASSERT_OK_AND_ASSIGN(page, list([](ImageQuery& q) { q.in_use = true; }));
  EXPECT_THAT(Ids(page), ElementsAre("sys-used/system", "m-avail/self"));
  EXPECT_EQ(page.total_count, 2);
  ASSERT_OK_AND_ASSIGN(page, list([](ImageQuery& q) { q.in_use = false; }));
  EXPECT_THAT(Ids(page), ElementsAre("m-copy/self", "m-wait/self"));
  EXPECT_EQ(page.total_count, 2);

  // Filters AND together.
  ASSERT_OK_AND_ASSIGN(page, list([](ImageQuery& q) {
                         q.in_use = true;
                         q.statuses = {"Available"};
                         q.include_system = false;
                       }));
  EXPECT_THAT(Ids(page), ElementsAre("m-avail/self"));
  EXPECT_EQ(page.total_count, 1);
}

TEST_F(ListImagesTest, NewestFirstWithOffsetAndLimit) {
  std::vector<std::string> newest_first;
  for (int i = 0; i < 25; ++i) {
    std::string id = absl::StrCat("m-", 100 + i);
    // Mixed statuses: paging merges the per-status index walks.
    ASSERT_OK(Insert(CustomImage(kAlice, kHangzhou, id, "",
                                 i % 3 == 0 ? "Creating" : "Available"))
                  .status());
    newest_first.insert(newest_first.begin(), id + "/self");
  }
  ImageQuery query = Query(kAlice, kHangzhou);
  query.statuses = {"Available", "Creating"};
  query.limit = 10;
  for (int offset : {0, 10, 20}) {
    query.offset = offset;
    ASSERT_OK_AND_ASSIGN(ImagePage page, List(query));
    EXPECT_EQ(page.total_count, 25);
    std::vector<std::string> expected(
        newest_first.begin() + offset,
        newest_first.begin() + std::min(offset + 10, 25));
    EXPECT_THAT(Ids(page), ElementsAreArray(expected)) << offset;
  }
  query.offset = 25;
  ASSERT_OK_AND_ASSIGN(ImagePage past_end, List(query));
  EXPECT_EQ(past_end.total_count, 25);
  EXPECT_THAT(past_end.entries, IsEmpty());
}

TEST_F(ListImagesTest, EntriesCarryDisksInstancesAndCopy) {
  ASSERT_OK_AND_ASSIGN(int64_t source,
                       Insert(CustomImage(kAlice, kHangzhou, "m-src")));
  ASSERT_OK(RunInstance(source, "i-1"));
  ASSERT_OK(RunInstance(source, "i-2"));
  ASSERT_OK(store().RunInWriteTransaction([&](WriteTxn& txn) {
    ImageRow dest = CustomImage(kAlice, kHangzhou, "m-dst", "", "Creating");
    dest.is_copied = true;
    absl::Status s = txn.InsertImage(dest);
    if (!s.ok()) return s;
    CopyTaskRow copy;
    copy.account_id = kAlice;
    copy.source_image_rowid = source;
    copy.dest_image_rowid = dest.rowid;
    copy.phase = "TRANSFERRING";
    copy.progress = 30;
    return txn.InsertCopy(copy);
  }));
  ASSERT_OK_AND_ASSIGN(ImagePage page, List(Query(kAlice, kHangzhou)));
  ASSERT_EQ(page.entries.size(), 2u);
  const auto& dst = page.entries[0];
  EXPECT_EQ(dst.image.image_id, "m-dst");
  ASSERT_TRUE(dst.copy.has_value());
  EXPECT_EQ(dst.copy->phase, "TRANSFERRING");
  EXPECT_EQ(dst.copy->progress, 30);
  EXPECT_EQ(dst.copy->source_image_id, "m-src");
  const auto& src = page.entries[1];
  EXPECT_EQ(src.image.image_id, "m-src");
  EXPECT_FALSE(src.copy.has_value());
  EXPECT_EQ(src.image.live_instance_count, 2);
  ASSERT_EQ(src.image.disks.size(), 1u);
  EXPECT_EQ(src.image.disks[0].snapshot_id, "s-m-src");
}

// Brute force over a model kept by the test, against the store, for many
// random states and queries.
struct ModelImage {
  int64_t rowid = 0;
  std::string image_id;
  std::string region;
  std::string owner;  // "" = system
  std::string name;
  std::string status;
  bool is_public = false;
  bool is_copied = false;
  bool deleted = false;
  int instances = 0;
  std::set<std::string> shared_to;
};

TEST_F(ListImagesTest, MatchesBruteForceModel) {
  std::mt19937 rng(20240101);
  auto pick = [&](const auto& v) { return v[rng() % v.size()]; };
  const std::vector<std::string> accounts = {kAlice, kBob, kCarol};
  const std::vector<std::string> regions = {kHangzhou, kShanghai};
  const std::vector<std::string> names = {"", "", "web", "api", "db"};
  std::vector<ModelImage> model;
  int instance_seq = 0;

  for (int step = 0; step < 400; ++step) {
    const int op = rng() % 10;
    if (op < 4 || model.empty()) {
      ModelImage m;
      m.image_id = absl::StrCat("m-", step);
      m.region = pick(regions);
      m.owner = rng() % 8 == 0 ? "" : pick(accounts);
      // Names stay unique among live images of an owner and region.
      m.name = m.owner.empty() ? m.image_id : pick(names);
      for (const ModelImage& o : model) {
        if (!o.deleted && o.owner == m.owner && o.region == m.region &&
            o.name == m.name) {
          m.name = "";
        }
      }
      m.status = pick(kAllStatuses);
      m.is_copied = !m.owner.empty() && rng() % 5 == 0;
      ImageRow row =
          m.owner.empty()
              ? SystemImage(m.region, m.image_id)
              : CustomImage(m.owner, m.region, m.image_id, m.name, m.status);
      row.name = m.name;
      row.status = m.status;
      row.is_copied = m.is_copied;
      ASSERT_OK_AND_ASSIGN(m.rowid, Insert(row));
      model.push_back(m);
      continue;
    }
    ModelImage& m = model[rng() % model.size()];
    if (m.owner.empty()) continue;
    switch (op) {
      case 4:
        m.status = pick(kAllStatuses);
        break;
      case 5:
        m.is_public = !m.is_public;
        break;
      case 6:
        if (rng() % 3 == 0) m.deleted = true;
        break;
      case 7: {
        // Shares come and go (also of deleted or public images): the
        // counters behind TotalCount follow each change.
        const std::string to = pick(accounts);
        if (to == m.owner) continue;
        if (m.shared_to.count(to) > 0) {
          ASSERT_OK(Unshare(m.rowid, to));
          m.shared_to.erase(to);
        } else {
          ASSERT_OK(Share(m.rowid, to));
          m.shared_to.insert(to);
        }
        continue;
      }
      default:
        ASSERT_OK(RunInstance(m.rowid, absl::StrCat("i-", ++instance_seq)));
        ++m.instances;
        continue;
    }
    ASSERT_OK(Mutate(m.rowid, [&](ImageRow& row) {
      row.status = m.status;
      row.is_public = m.is_public;
      if (m.deleted && !row.deleted_at_ms.has_value()) row.deleted_at_ms = step;
    }));
  }

  int checked_nonempty = 0;
  for (int round = 0; round < 300; ++round) {
    ImageQuery q;
    q.caller_account_id = pick(accounts);
    q.region_id = pick(regions);
    for (const std::string& s : kAllStatuses) {
      if (rng() % 2 == 0) q.statuses.push_back(s);
    }
    if (q.statuses.empty()) q.statuses.push_back("Available");
    do {
      q.include_self = rng() % 2 == 0;
      q.include_system = rng() % 2 == 0;
      q.include_others = rng() % 2 == 0;
    } while (!q.include_self && !q.include_system && !q.include_others);
    if (rng() % 6 == 0) q.in_use = rng() % 2 == 0;
    if (rng() % 6 == 0) q.is_copied = rng() % 2 == 0;
    if (rng() % 8 == 0) q.name = pick(names);
    if (rng() % 8 == 0) {
      for (int i = 0; i < 4; ++i) q.image_ids.push_back(pick(model).image_id);
    }
    q.offset = rng() % 3 == 0 ? rng() % 20 : 0;
    q.limit = 1 + rng() % 30;

    std::vector<std::string> expected;  // newest first
    for (auto it = model.rbegin(); it != model.rend(); ++it) {
      const ModelImage& m = *it;
      if (m.deleted || m.region != q.region_id) continue;
      if (std::find(q.statuses.begin(), q.statuses.end(), m.status) ==
          q.statuses.end()) {
        continue;
      }
      std::string alias;
      if (m.owner == q.caller_account_id) {
        if (q.include_self) alias = "self";
      } else if (m.owner.empty()) {
        if (q.include_system) alias = "system";
      } else if (m.is_public || m.shared_to.count(q.caller_account_id) > 0) {
        if (q.include_others) alias = "others";
      }
      if (alias.empty()) continue;
      if (q.in_use.has_value() && *q.in_use != (m.instances > 0)) continue;
      if (q.is_copied.has_value() && *q.is_copied != m.is_copied) continue;
      if (!q.name.empty() && q.name != m.name) continue;
      if (!q.image_ids.empty() &&
          std::find(q.image_ids.begin(), q.image_ids.end(), m.image_id) ==
              q.image_ids.end()) {
        continue;
      }
      expected.push_back(m.image_id + "/" + alias);
    }
    const int64_t total = static_cast<int64_t>(expected.size());
    const size_t begin = std::min<size_t>(q.offset, expected.size());
    const size_t end = std::min<size_t>(q.offset + q.limit, expected.size());
    std::vector<std::string> page_ids(expected.begin() + begin,
                                      expected.begin() + end);

    ASSERT_OK_AND_ASSIGN(ImagePage page, List(q));
    ASSERT_EQ(page.total_count, total) << "round " << round;
    ASSERT_THAT(Ids(page), ElementsAreArray(page_ids)) << "round " << round;
    for (const auto& entry : page.entries) {
      auto m = std::find_if(model.begin(), model.end(), [&](const auto& x) {
        return x.rowid == entry.image.rowid;
      });
      ASSERT_NE(m, model.end());
      EXPECT_EQ(entry.image.live_instance_count, m->instances);
    }
    if (!page_ids.empty()) ++checked_nonempty;
  }
  // The random queries were not all trivially empty.
  EXPECT_GT(checked_nonempty, 150);
}

}  // namespace
}  // namespace ecsimage::storage::testing
