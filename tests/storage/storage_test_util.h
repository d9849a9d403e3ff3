// Helpers for the storage tests: status matchers, a per-test temporary
// directory, a latch (C++17 has none), row builders and a store fixture.
#ifndef ECSIMAGE_TESTS_STORAGE_STORAGE_TEST_UTIL_H_
#define ECSIMAGE_TESTS_STORAGE_STORAGE_TEST_UTIL_H_

#include <stdlib.h>

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/image_store.h"
#include "storage/sqlite/sqlite_store.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_store.h"

namespace ecsimage::storage::testing {

// EXPECT_THAT(status_or_statusor, StatusIs(absl::StatusCode::kNotFound)).
MATCHER_P(StatusIs, code,
          absl::StrCat("has status code ", absl::StatusCodeToString(code))) {
  absl::Status status;
  if constexpr (std::is_same_v<std::decay_t<arg_type>, absl::Status>) {
    status = arg;
  } else {
    status = arg.status();
  }
  *result_listener << "status is " << status;
  return status.code() == code;
}

MATCHER_P2(StatusIs, code, message_matcher,
           absl::StrCat("has status code ", absl::StatusCodeToString(code))) {
  absl::Status status;
  if constexpr (std::is_same_v<std::decay_t<arg_type>, absl::Status>) {
    status = arg;
  } else {
    status = arg.status();
  }
  *result_listener << "status is " << status;
  return status.code() == code &&
         ::testing::ExplainMatchResult(
             message_matcher, std::string(status.message()), result_listener);
}

// EXPECT_THAT(status_or, IsOkAndHolds(matcher)).
MATCHER_P(IsOkAndHolds, matcher, "is OK and holds a matching value") {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(matcher, *arg, result_listener);
}

#define ECS_TEST_CONCAT_INNER_(a, b) a##b
#define ECS_TEST_CONCAT_(a, b) ECS_TEST_CONCAT_INNER_(a, b)

#define ASSERT_OK(expr)                                     \
  do {                                                      \
    const ::absl::Status ecs_test_status_ = (expr);         \
    ASSERT_TRUE(ecs_test_status_.ok()) << ecs_test_status_; \
  } while (0)

#define EXPECT_OK(expr)                                     \
  do {                                                      \
    const ::absl::Status ecs_test_status_ = (expr);         \
    EXPECT_TRUE(ecs_test_status_.ok()) << ecs_test_status_; \
  } while (0)

#define ASSERT_OK_AND_ASSIGN(lhs, expr)                                     \
  ASSERT_OK_AND_ASSIGN_IMPL_(ECS_TEST_CONCAT_(ecs_test_or_, __LINE__), lhs, \
                             expr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  ASSERT_TRUE(tmp.ok()) << tmp.status();           \
  lhs = std::move(tmp).value()

using ::ecsimage::testing::TempDir;

// std::latch for C++17.
class Latch {
 public:
  explicit Latch(int64_t count) : count_(count) {}
  void CountDown() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--count_ <= 0) cv_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return count_ <= 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t count_;
};

// Runs `fn` (returning StatusOr<T>) in a read transaction.
template <typename Fn>
auto ReadWith(Store& store, Fn fn) -> std::invoke_result_t<Fn, ReadTxn&> {
  using Result = std::invoke_result_t<Fn, ReadTxn&>;
  std::optional<Result> out;
  absl::Status status = store.RunInReadTransaction([&](ReadTxn& txn) {
    out.emplace(fn(txn));
    return out->status();
  });
  if (!out.has_value() || !status.ok()) return Result(status);
  return *std::move(out);
}

// Runs `fn` (returning StatusOr<T>) in a write transaction.
template <typename Fn>
auto WriteWith(Store& store, Fn fn) -> std::invoke_result_t<Fn, WriteTxn&> {
  using Result = std::invoke_result_t<Fn, WriteTxn&>;
  std::optional<Result> out;
  absl::Status status = store.RunInWriteTransaction([&](WriteTxn& txn) {
    out.emplace(fn(txn));
    return out->status();
  });
  if (!out.has_value() || !status.ok()) return Result(status);
  return *std::move(out);
}

inline constexpr char kAlice[] = "1000000000000001";
inline constexpr char kBob[] = "1000000000000002";
inline constexpr char kCarol[] = "1000000000000003";
inline constexpr char kHangzhou[] = "cn-hangzhou";
inline constexpr char kShanghai[] = "cn-shanghai";

inline ImageRow CustomImage(const std::string& owner, const std::string& region,
                            const std::string& image_id,
                            const std::string& name = "",
                            const std::string& status = "Available") {
  ImageRow image;
  image.image_id = image_id;
  image.region_id = region;
  image.owner_account_id = owner;
  image.name = name;
  image.description = "test image";
  image.status = status;
  image.progress = status == "Available" ? 100 : 0;
  image.size_gib = 40;
  image.architecture = "x86_64";
  image.os_type = "linux";
  image.platform = "Ubuntu";
  image.created_at_ms = 1000;
  image.disks = {{"/dev/xvda", "system", "s-" + image_id, 40}};
  return image;
}

inline ImageRow SystemImage(const std::string& region,
                            const std::string& image_id) {
  ImageRow image = CustomImage("", region, image_id, "", "Available");
  image.is_system = true;
  image.name = image_id;
  return image;
}

// Regions and three accounts, as every store test starts with them.
inline absl::Status SeedTestData(Store& store) {
  absl::Status s = store.SeedIfEmpty(
      {{kHangzhou, "Hangzhou", "ecs.hz"}, {kShanghai, "Shanghai", "ecs.sh"}},
      {});
  for (const char* account : {kAlice, kBob, kCarol}) {
    if (!s.ok()) return s;
    s = store.CreateAccount({account, account, 1},
                            std::string(32, account[15]));
  }
  return s;
}

// Row helpers shared by both fixtures below; `store_` is the store under
// test.
template <typename StoreT>
class StoreTestBase : public ::testing::Test {
 protected:
  StoreT& store() { return *store_; }

  absl::StatusOr<int64_t> Insert(ImageRow image) {
    return WriteWith(*store_, [&](WriteTxn& txn) -> absl::StatusOr<int64_t> {
      absl::Status status = txn.InsertImage(image);
      if (!status.ok()) return status;
      return image.rowid;
    });
  }

  absl::StatusOr<ImageRow> Get(int64_t rowid) {
    return ReadWith(*store_, [&](ReadTxn& txn) -> absl::StatusOr<ImageRow> {
      absl::StatusOr<std::optional<ImageRow>> image =
          txn.GetImageByRowid(rowid);
      if (!image.ok()) return image.status();
      if (!image->has_value()) return absl::NotFoundError("no such image");
      return **image;
    });
  }

  absl::Status Update(const ImageRow& image) {
    return store_->RunInWriteTransaction(
        [&](WriteTxn& txn) { return txn.UpdateImage(image); });
  }

  absl::StatusOr<int64_t> CountLive(const std::string& account,
                                    const std::string& region) {
    return ReadWith(*store_, [&](ReadTxn& txn) {
      return txn.CountLiveImages(account, region);
    });
  }

  absl::StatusOr<ImagePage> List(const ImageQuery& query) {
    return ReadWith(*store_,
                    [&](ReadTxn& txn) { return txn.ListImages(query); });
  }

  std::unique_ptr<StoreT> store_;
};

// The conformance fixture: a fresh database of the store under test
// (ecsimage::testing::TestStoreKind()) with regions and three accounts.
class StoreTest : public StoreTestBase<Store> {
 protected:
  void SetUp() override {
    auto db = ::ecsimage::testing::TestDatabase::Create(dir_.path());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    ASSERT_OK_AND_ASSIGN(store_, db_->Open());
    ASSERT_OK(SeedTestData(*store_));
  }

  // Another store on the same database, as another process (the operator
  // CLI, another replica) would open it.
  absl::StatusOr<std::unique_ptr<Store>> OpenAnother() { return db_->Open(); }

  TempDir dir_;
  std::unique_ptr<::ecsimage::testing::TestDatabase> db_;
};

// SQLite's own tests (group commit, backup, pragmas, query plans): a fresh
// SQLite file with regions and three accounts.
class SqliteStoreTest : public StoreTestBase<SqliteStore> {
 protected:
  void SetUp() override {
    path_ = dir_.File("ecsimage.db");
    ASSERT_OK(OpenStore(DefaultOptions()));
    ASSERT_OK(SeedTestData(*store_));
  }

  SqliteStoreOptions DefaultOptions() const {
    SqliteStoreOptions options;
    options.path = path_;
    options.create_if_missing = true;
    return options;
  }

  absl::Status OpenStore(const SqliteStoreOptions& options) {
    store_.reset();
    absl::StatusOr<std::unique_ptr<SqliteStore>> store =
        SqliteStore::Open(options);
    if (!store.ok()) return store.status();
    store_ = *std::move(store);
    return absl::OkStatus();
  }

  absl::Status Reopen() {
    SqliteStoreOptions options = DefaultOptions();
    options.create_if_missing = false;
    return OpenStore(options);
  }

  TempDir dir_;
  std::string path_;
};

}  // namespace ecsimage::storage::testing

#endif  // ECSIMAGE_TESTS_STORAGE_STORAGE_TEST_UTIL_H_
