// Rollouts and rollbacks run old and new binaries on one database
// (scale-out.md §2): a migration may only add. queries/schema_N.sql holds
// every SQL text a binary at schema version N prepares in the conformance
// and contract suites (captured with ECSIMAGE_TEST_CAPTURE_PG_SQL, see
// queries/README.md); each must still prepare on a database migrated to
// this binary's latest version.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/postgres/postgres_store.h"
#include "tests/storage/postgres/pg_test_util.h"

namespace ecsimage::storage::pg::testing {
namespace {

struct QueryFile {
  std::string name;
  std::vector<std::string> statements;
};

std::vector<QueryFile> LoadQueryFiles() {
  std::vector<QueryFile> files;
  for (const auto& entry :
       std::filesystem::directory_iterator(ECSIMAGE_PG_QUERIES_DIR)) {
    if (entry.path().extension() != ".sql") continue;
    QueryFile file{entry.path().filename().string(), {}};
    std::ifstream in(entry.path());
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) file.statements.push_back(line);
    }
    files.push_back(std::move(file));
  }
  return files;
}

// PREPARE infers parameter types from the text, as the store's own
// prepare (which passes them) does not need; a parameter the text never
// uses cannot be inferred. The store binds text for $1 in every statement.
std::string Prepare(const std::string& name, const std::string& statement) {
  const bool uses_first = statement.find("$1") != std::string::npos;
  return absl::StrCat("PREPARE ", name, uses_first ? "" : "(text)", " AS ",
                      statement);
}

// The statements of `file` that no longer prepare on the database at `uri`.
std::vector<std::string> Broken(const std::string& uri, const QueryFile& file) {
  // All at once on one connection first; one by one only to name the
  // broken ones.
  std::string script;
  for (size_t i = 0; i < file.statements.size(); ++i) {
    absl::StrAppend(&script, Prepare(absl::StrCat("q", i), file.statements[i]),
                    ";\n");
  }
  if (ExecPostgresForTest(uri, script).ok()) return {};
  std::vector<std::string> broken;
  for (size_t i = 0; i < file.statements.size(); ++i) {
    absl::Status s = ExecPostgresForTest(uri, Prepare("q", file.statements[i]));
    if (!s.ok()) {
      broken.push_back(absl::StrCat(file.name, ":", i + 1, ": ", s.message()));
    }
  }
  return broken;
}

using BinaryQueriesTest = PgTest;

TEST_F(BinaryQueriesTest, EveryEarlierBinarysQueriesPrepareOnTheLatestSchema) {
  ASSERT_TRUE(MigratePostgres(uri_).ok());
  const std::vector<QueryFile> files = LoadQueryFiles();
  ASSERT_FALSE(files.empty()) << "no queries/schema_N.sql";
  for (const QueryFile& file : files) {
    // A capture holds a whole binary's statements, not a handful.
    EXPECT_GE(file.statements.size(), 50u) << file.name;
    EXPECT_THAT(Broken(uri_, file), ::testing::IsEmpty()) << file.name;
  }
}

TEST_F(BinaryQueriesTest, ADroppedColumnBreaksThem) {
  // The check can fail: a removal (what a release may not ship) is found.
  ASSERT_TRUE(MigratePostgres(uri_).ok());
  ASSERT_TRUE(
      ExecPostgresForTest(uri_, "ALTER TABLE images DROP COLUMN description")
          .ok());
  const std::vector<QueryFile> files = LoadQueryFiles();
  ASSERT_FALSE(files.empty());
  for (const QueryFile& file : files) {
    std::vector<std::string> broken = Broken(uri_, file);
    EXPECT_FALSE(broken.empty()) << file.name;
    for (const std::string& b : broken) {
      EXPECT_THAT(b, ::testing::HasSubstr("description"));
    }
  }
}

}  // namespace
}  // namespace ecsimage::storage::pg::testing
