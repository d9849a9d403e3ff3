// A test fixture with a fresh directory under /tmp, open as dir_ (for the
// *at() calls of the filesystem backend), removed after the test.
#ifndef ECSIMAGE_TESTS_BACKEND_TEMP_DIR_TEST_H_
#define ECSIMAGE_TESTS_BACKEND_TEMP_DIR_TEST_H_

#include <fcntl.h>
#include <stdlib.h>

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"
#include "service/backend/filesystem/unique_fd.h"

namespace ecsimage::backend::filesystem {

class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ecsimage_backend_XXXXXX";
    root_ = mkdtemp(tmpl);
    dir_ = UniqueFd(open(root_.c_str(), O_RDONLY | O_DIRECTORY));
    ASSERT_TRUE(dir_.valid());
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + root_ + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }

  std::string root_;
  UniqueFd dir_;
};

}  // namespace ecsimage::backend::filesystem

#endif  // ECSIMAGE_TESTS_BACKEND_TEMP_DIR_TEST_H_
