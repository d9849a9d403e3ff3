// A SQLite VFS for tests that wraps the default one and fails writes or
// syncs on demand, so that a real SqliteStore meets disk-full and I/O errors
// at chosen moments.
//
// SqliteStoreOptions cannot name a VFS, so Install() registers the shim as
// the process's default VFS: every connection opened afterwards goes
// through it (connections opened before keep the old default).
//
// It also simulates a power cut (WatchForPowerCut): writes, truncates and
// directory entries of the watched files that were not synced by the cut
// are kept, lost or torn at 512-byte sectors (power_cut_journal.h), and the
// -shm file is discarded. While watching, a sync is the model's only: the
// real fsync is skipped, the files the cut leaves are written out by
// RestoreAfterPowerCut.
//
// Whatever the mode, the shim reports 512-byte sectors and
// SQLITE_IOCAP_POWERSAFE_OVERWRITE only: no atomic writes, no safe append,
// no sequential order, which the power-cut model does not honour.
//
// Thread-safe: the switches are atomics read on SQLite's threads, the
// power-cut journal has its lock.
#ifndef ECSIMAGE_TESTS_RELIABILITY_FAULT_VFS_H_
#define ECSIMAGE_TESTS_RELIABILITY_FAULT_VFS_H_

#include <cstdint>
#include <string>

#include "tests/reliability/power_cut_journal.h"

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

struct PowerCutOptions {
  uint64_t seed = 1;
  // The cut happens on this operation (write, truncate, sync, create or
  // delete of a watched file; it is lost); 0: only at CutPower().
  int64_t cut_at_operation = 0;
  // Also (or instead, with cut_at_operation 0): the cut happens on the
  // operation after the n-th create or delete of a watched file, e.g. just
  // after the WAL is deleted (n = 1) or created again (n = 2).
  int64_t cut_after_directory_operations = 0;
  // A server that skipped fsync: syncs succeed and make nothing durable.
  bool ignore_syncs = false;
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
  // All faults off (a power-cut watch is left as it is).
  void Reset();

  // Starts the power-cut model for the files in `dir` (not -shm): the ones
  // there now are durable as they are. Replaces an earlier watch.
  void WatchForPowerCut(const std::string& dir, const PowerCutOptions& options);
  // Cuts the power now unless it is cut already. From then on nothing
  // becomes durable; the process keeps running on its page cache.
  void CutPower();
  // Moves the cut to watched operation `operation` of this watch (0: only
  // at CutPower()).
  void SetPowerCutAt(int64_t operation);
  bool power_cut() const;
  // Watched operations recorded so far in this watch, and how many of them
  // were writes to the database file (checkpoints).
  int64_t power_cut_operations() const;
  int64_t power_cut_db_file_writes() const;
  // Creates and deletes of watched files recorded in this watch.
  int64_t power_cut_directory_operations() const;
  // Writes the watched files as the cut left them into `into_dir` (same
  // names), and stops watching. Into the watched directory itself (""),
  // which only once the process that used the files has closed them
  // ("died"): the files the cut lost and the -shm are removed there. Cuts
  // first if the power is still on.
  PowerCutCounts RestoreAfterPowerCut(const std::string& into_dir = "");
  // The reboot: cuts now if the power is still on; the next open of a
  // watched file (the restarted process opening its database, after the
  // old one closed everything) first finds the files as the cut left them
  // (RestoreAfterPowerCut in place). Counts of the cut, once restored.
  void RestoreAtNextOpen();
  bool restored() const;
  PowerCutCounts last_cut_counts() const;

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
