// A PostgreSQL database is backed up with pg_dump (BackupTo refuses and
// says so): a plain dump restored with psql into an empty database gives a
// store with every row, the trigger-kept counters, working identity
// sequences and working triggers (scale-out.md §5).
#include <cstdlib>
#include <filesystem>
#include <string>

#include "tests/storage/postgres/pg_test_util.h"
#include "tests/testing/temp_dir.h"

namespace ecsimage::storage::pg::testing {
namespace {

std::string Tool(const std::string& name) {
  const std::string pinned = "/usr/lib/postgresql/15/bin/" + name;
  return std::filesystem::exists(pinned) ? pinned : name;
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

class DumpRestoreTest : public PgTest {
 protected:
  void TearDown() override {
    store_.reset();
    restored_.reset();
    if (!restored_db_.empty()) {
      DropPostgresDatabase(ServerUri(), restored_db_).IgnoreError();
    }
    PgTest::TearDown();
  }
  std::unique_ptr<PostgresStore> store_;
  std::unique_ptr<PostgresStore> restored_;
  std::string restored_db_;
  ::ecsimage::testing::TempDir dir_;
};

ImageRow Image(const std::string& owner, const std::string& id) {
  ImageRow image;
  image.image_id = id;
  image.region_id = "r";
  image.owner_account_id = owner;
  image.name = id;
  image.status = "Available";
  image.progress = 100;
  image.disks = {{"/dev/xvda", "system", "s-" + id, 5}};
  return image;
}

TEST_F(DumpRestoreTest, PlainDumpRestoresAWorkingStore) {
  absl::StatusOr<std::unique_ptr<PostgresStore>> opened =
      PostgresStore::Open(Options());
  ASSERT_TRUE(opened.ok()) << opened.status();
  store_ = *std::move(opened);
  const std::string alice = "1000000000000001", bob = "1000000000000002";
  ASSERT_TRUE(store_->SeedIfEmpty({{"r", "R", "e"}}, {}).ok());
  ASSERT_TRUE(
      store_->CreateAccount({alice, "a", 1}, std::string(32, 'a')).ok());
  ASSERT_TRUE(store_->CreateAccount({bob, "b", 1}, std::string(32, 'b')).ok());
  int64_t rowid = 0;
  ASSERT_TRUE(store_
                  ->RunInWriteTransaction([&](WriteTxn& txn) {
                    ImageRow image = Image(alice, "m-1");
                    absl::Status s = txn.InsertImage(image);
                    if (!s.ok()) return s;
                    rowid = image.rowid;
                    s = txn.AddShare(image.rowid, bob, 3);
                    if (!s.ok()) return s;
                    InstanceRow instance;
                    instance.instance_id = "i-1";
                    instance.account_id = bob;
                    instance.region_id = "r";
                    instance.image_rowid = image.rowid;
                    s = txn.InsertInstance(instance);
                    if (!s.ok()) return s;
                    return txn.PutClientToken(
                        alice, "CreateImage", "t",
                        {"fp", std::string("\0\xff", 2), 4});
                  })
                  .ok());

  const std::string dump = dir_.File("dump.sql");
  const std::string pg_dump = Tool("pg_dump") + " --no-owner -d " +
                              ShellQuote(uri_) + " -f " + ShellQuote(dump);
  ASSERT_EQ(std::system(pg_dump.c_str()), 0) << pg_dump;
  restored_db_ = db_name_ + "_restored";
  ASSERT_TRUE(CreatePostgresDatabase(ServerUri(), restored_db_, "").ok());
  const std::string restored_uri =
      PostgresUriWithDatabase(ServerUri(), restored_db_);
  const std::string psql = Tool("psql") + " -q -v ON_ERROR_STOP=1 -d " +
                           ShellQuote(restored_uri) + " -f " +
                           ShellQuote(dump) + " >/dev/null";
  ASSERT_EQ(std::system(psql.c_str()), 0) << psql;

  PostgresStoreOptions options;
  options.uri = restored_uri;
  options.migrate = false;  // the dump carries schema_meta at the latest
  opened = PostgresStore::Open(options);
  ASSERT_TRUE(opened.ok()) << opened.status();
  restored_ = *std::move(opened);

  absl::StatusOr<std::optional<std::string>> account =
      restored_->AccountForTokenHash(std::string(32, 'b'));
  ASSERT_TRUE(account.ok());
  EXPECT_EQ(account->value_or(""), bob);
  ASSERT_TRUE(restored_
                  ->RunInReadTransaction([&](ReadTxn& txn) -> absl::Status {
                    auto image = txn.GetImage("r", "m-1");
                    EXPECT_TRUE(image.ok() && image->has_value());
                    if (!image.ok() || !image->has_value()) {
                      return absl::OkStatus();
                    }
                    EXPECT_EQ((*image)->rowid, rowid);
                    EXPECT_EQ((*image)->live_instance_count, 1);
                    EXPECT_EQ((*image)->disks.size(), 1u);
                    EXPECT_EQ(*txn.CountLiveImages(alice, "r"), 1);
                    ImageQuery q;
                    q.caller_account_id = bob;
                    q.region_id = "r";
                    auto page = txn.ListImages(q);
                    EXPECT_TRUE(page.ok());
                    if (page.ok()) EXPECT_EQ(page->total_count, 1);
                    auto token = txn.GetClientToken(alice, "CreateImage", "t");
                    EXPECT_TRUE(token.ok() && token->has_value());
                    if (token.ok() && token->has_value()) {
                      EXPECT_EQ((*token)->response, std::string("\0\xff", 2));
                    }
                    return absl::OkStatus();
                  })
                  .ok());
  // Sequences and triggers came along: new rows get new ids and count.
  ImageRow next = Image(alice, "m-2");
  ASSERT_TRUE(restored_
                  ->RunInWriteTransaction(
                      [&](WriteTxn& txn) { return txn.InsertImage(next); })
                  .ok());
  EXPECT_GT(next.rowid, rowid);
  ASSERT_TRUE(restored_
                  ->RunInReadTransaction([&](ReadTxn& txn) -> absl::Status {
                    EXPECT_EQ(*txn.CountLiveImages(alice, "r"), 2);
                    return absl::OkStatus();
                  })
                  .ok());
}

}  // namespace
}  // namespace ecsimage::storage::pg::testing
