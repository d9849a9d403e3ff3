// A SQLite VFS for tests that wraps the default one and fails writes or
// syncs on demand, so that a real SqliteStore meets disk-full and I/O errors
// at chosen moments.
//
// SqliteStoreOptions cannot name a VFS, so Install() registers the shim as
// the process's default VFS: every connection opened afterwards goes
// through it (connections opened before keep the old default).
//
// Thread-safe: the switches are atomics read on SQLite's threads.
#ifndef ECSIMAGE_TESTS_RELIABILITY_FAULT_VFS_H_
#define ECSIMAGE_TESTS_RELIABILITY_FAULT_VFS_H_

#include <cstdint>

namespace ecsimage::reliability {

// Which files a fault applies to.
enum class FaultTarget {
  kWal,     // the write-ahead log (commits)
  kMainDb,  // the database file (checkpoints)
  kAny,
};

// What a failed xWrite returns.
enum class WriteFault {
  kIoError,  // SQLITE_IOERR_WRITE, as on EIO
  kFull,     // SQLITE_FULL, as on ENOSPC
};

class FaultVfs {
 public:
  // Registers the shim as the default VFS (once per process) and returns it
  // with every fault off.
  static FaultVfs& Install();

  // Every xWrite on `target` fails with `fault` while on.
  void FailWrites(bool on, FaultTarget target = FaultTarget::kWal,
                  WriteFault fault = WriteFault::kIoError);
  // Every n-th xWrite on the WAL fails with `fault` (n = 0: off); the count
  // starts at the call.
  void FailEveryNthWalWrite(int n, WriteFault fault = WriteFault::kIoError);
  // Every xSync on `target` fails with SQLITE_IOERR_FSYNC while on.
  void FailSyncs(bool on, FaultTarget target = FaultTarget::kWal);
  // All faults off.
  void Reset();

  // Faults injected since the process started.
  int64_t faults_injected() const;
  // xWrite / xSync calls seen on the WAL since the process started.
  int64_t wal_writes() const;
  int64_t wal_syncs() const;

 private:
  FaultVfs() = default;
};

}  // namespace ecsimage::reliability

#endif  // ECSIMAGE_TESTS_RELIABILITY_FAULT_VFS_H_
