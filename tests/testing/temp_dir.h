// A directory of its own for one test (under ::testing::TempDir(), which
// honours TEST_TMPDIR and TMPDIR), removed with everything in it afterwards.
#ifndef ECSIMAGE_TESTS_TESTING_TEMP_DIR_H_
#define ECSIMAGE_TESTS_TESTING_TEMP_DIR_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace ecsimage::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "ecsimage") {
    std::string pattern = ::testing::TempDir() + prefix + "_XXXXXX";
    if (::mkdtemp(pattern.data()) != nullptr) {
      path_ = pattern;
    } else {
      ADD_FAILURE() << "mkdtemp failed for " << pattern;
    }
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // "" if it could not be made (the test has failed already).
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace ecsimage::testing

#endif  // ECSIMAGE_TESTS_TESTING_TEMP_DIR_H_
