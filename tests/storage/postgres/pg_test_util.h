// Helpers for PostgresStore's own tests: the server from
// ECSIMAGE_TEST_PG_URI (skip without it, fail under CI=true), a fresh
// database per test, and a raw connection to play another client.
#ifndef ECSIMAGE_TESTS_STORAGE_POSTGRES_PG_TEST_UTIL_H_
#define ECSIMAGE_TESTS_STORAGE_POSTGRES_PG_TEST_UTIL_H_

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/postgres/pg_conn.h"
#include "storage/postgres/postgres_store.h"

namespace ecsimage::storage::pg::testing {

inline std::string ServerUri() {
  const char* uri = std::getenv("ECSIMAGE_TEST_PG_URI");
  return uri == nullptr ? "" : uri;
}

inline bool UnderCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

// In SetUp: no server configured is a skip locally and a failure in CI.
#define ECS_REQUIRE_PG_SERVER()                                              \
  do {                                                                       \
    if (::ecsimage::storage::pg::testing::ServerUri().empty()) {             \
      if (::ecsimage::storage::pg::testing::UnderCi()) {                     \
        FAIL() << "ECSIMAGE_TEST_PG_URI is not set (required with CI=true)"; \
      }                                                                      \
      GTEST_SKIP() << "ECSIMAGE_TEST_PG_URI is not set";                     \
    }                                                                        \
  } while (0)

#define ECS_PG_CONCAT_INNER_(a, b) a##b
#define ECS_PG_CONCAT_(a, b) ECS_PG_CONCAT_INNER_(a, b)
#define ASSERT_OK_AND_ASSIGN_PG(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_PG_IMPL_(ECS_PG_CONCAT_(ecs_pg_or_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_PG_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  ASSERT_TRUE(tmp.ok()) << tmp.status();              \
  lhs = std::move(tmp).value()

// A fresh, empty database per test, dropped afterwards.
class PgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ECS_REQUIRE_PG_SERVER();
    static std::atomic<int> counter{0};
    db_name_ = absl::StrCat("ecsimage_pgtest_", getpid(), "_", counter++);
    absl::Status created = CreatePostgresDatabase(ServerUri(), db_name_, "");
    ASSERT_TRUE(created.ok()) << created;
    uri_ = PostgresUriWithDatabase(ServerUri(), db_name_);
  }
  void TearDown() override {
    if (db_name_.empty()) return;
    CloseStore();
    DropPostgresDatabase(ServerUri(), db_name_).IgnoreError();
  }
  virtual void CloseStore() {}

  // A raw connection to the test's database (another client).
  std::unique_ptr<PgConn> Raw() {
    absl::StatusOr<std::string> conninfo = WithConnectionDefaults(
        uri_ + (uri_.find('?') == std::string::npos ? "?" : "&") +
        "application_name=pgtest");
    EXPECT_TRUE(conninfo.ok()) << conninfo.status();
    absl::StatusOr<std::unique_ptr<PgConn>> conn = PgConn::Connect(*conninfo);
    EXPECT_TRUE(conn.ok()) << conn.status();
    return conn.ok() ? *std::move(conn) : nullptr;
  }

  PostgresStoreOptions Options() const {
    PostgresStoreOptions options;
    options.uri = uri_;
    return options;
  }

  std::string db_name_;
  std::string uri_;
};

}  // namespace ecsimage::storage::pg::testing

#endif  // ECSIMAGE_TESTS_STORAGE_POSTGRES_PG_TEST_UTIL_H_
