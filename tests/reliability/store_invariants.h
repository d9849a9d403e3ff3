// The storage invariants the reliability tests check on a database file
// after faults, crashes and power cuts: integrity, foreign keys, counters
// equal to recounts, every custom image with its disks.
#ifndef ECSIMAGE_TESTS_RELIABILITY_STORE_INVARIANTS_H_
#define ECSIMAGE_TESTS_RELIABILITY_STORE_INVARIANTS_H_

#include <string>
#include <vector>

namespace ecsimage::reliability {

// Runs one SQL query on its own connection (through the default VFS) and
// returns the first column of every row; a failure is a test failure.
std::vector<std::string> Query(const std::string& path, const std::string& sql);

// Offending rows of the storage invariants ("what: row"); empty when all
// hold.
std::vector<std::string> Violations(const std::string& path);

}  // namespace ecsimage::reliability

#endif  // ECSIMAGE_TESTS_RELIABILITY_STORE_INVARIANTS_H_
