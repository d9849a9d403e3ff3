// The store a test runs on. Every conformance test (tests/storage/ and the
// gRPC contract tests) is the same code run once per store: ctest starts
// each conformance binary once with ECSIMAGE_TEST_STORE=sqlite (the
// default) and once with ECSIMAGE_TEST_STORE=postgres, as gRPC's end2end
// tests run every test over every transport fixture.
//
// PostgreSQL: ECSIMAGE_TEST_PG_URI names a server (scripts/pg_server.sh
// starts a throwaway one); each TestDatabase is a fresh database cloned from
// a template migrated once per process, and dropped afterwards. Without the
// URI the test fails (it never skips): CI must not go green on SQLite alone.
#ifndef ECSIMAGE_TESTS_TESTING_TEST_STORE_H_
#define ECSIMAGE_TESTS_TESTING_TEST_STORE_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/image_store.h"

namespace ecsimage::testing {

enum class StoreKind { kSqlite, kPostgres };

// From ECSIMAGE_TEST_STORE: "sqlite" (or unset) or "postgres".
StoreKind TestStoreKind();
const char* StoreKindName(StoreKind kind);

// One empty, migrated database for one test (no regions, no accounts),
// removed with the object.
class TestDatabase {
 public:
  // A new database of TestStoreKind(); a SQLite file goes into `dir`.
  static absl::StatusOr<std::unique_ptr<TestDatabase>> Create(
      const std::string& dir);
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  StoreKind kind() const { return kind_; }
  // What `--db` takes: the SQLite path or the PostgreSQL URI.
  const std::string& locator() const { return locator_; }

  // A store on this database, as a server (or another process, such as the
  // operator CLI) would open it. Any number may be open at once.
  absl::StatusOr<std::unique_ptr<storage::Store>> Open() const;

  // Writes behind the stores' backs, as disk corruption or a foreign tool
  // would: `sqlite_sql` on SQLite, `postgres_sql` on PostgreSQL.
  absl::Status ExecBehindTheBack(const std::string& sqlite_sql,
                                 const std::string& postgres_sql) const;

 private:
  TestDatabase(StoreKind kind, std::string locator, std::string pg_server,
               std::string pg_name);

  const StoreKind kind_;
  const std::string locator_;
  const std::string pg_server_;  // PostgreSQL: the server URI
  const std::string pg_name_;    // PostgreSQL: the database name
};

}  // namespace ecsimage::testing

#endif  // ECSIMAGE_TESTS_TESTING_TEST_STORE_H_
