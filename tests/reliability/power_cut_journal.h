// The model of a power cut behind FaultVfs's power-cut mode: for every
// watched file, its durable content (what the disk holds after the last
// sync) and the operations since, which a cut may keep or lose.
//
// At the cut each unsynced operation meets one fate, drawn in order from a
// seeded generator (the same log and seed give the same files):
//   write     kept whole, lost whole, or torn: each 512-byte sector of the
//             file it touches (SectorSize) kept or lost on its own; bytes
//             outside the written range are never changed (the VFS reports
//             SQLITE_IOCAP_POWERSAFE_OVERWRITE and nothing else)
//   truncate  kept or lost
//   create    the new directory entry kept or lost (a file whose entry is
//             lost is gone, whatever was written to it)
//   delete    kept or lost (without the directory sync SQLite may ask for)
// A sync makes the file's content and its directory entry durable, as the
// unix VFS does: its first sync of a new journal or WAL also syncs the
// directory. Files that exist when watching starts are durable as they are.
//
// Not thread-safe: FaultVfs holds its lock around every call.
#ifndef ECSIMAGE_TESTS_RELIABILITY_POWER_CUT_JOURNAL_H_
#define ECSIMAGE_TESTS_RELIABILITY_POWER_CUT_JOURNAL_H_

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace ecsimage::reliability {

inline constexpr int kPowerCutSectorSize = 512;

// What a cut did to the unsynced operations, summed over files.
struct PowerCutCounts {
  int64_t writes_kept = 0;
  int64_t writes_lost = 0;
  int64_t writes_torn = 0;
  int64_t other_kept = 0;  // truncates, creates, deletes
  int64_t other_lost = 0;
};

class PowerCutJournal {
 public:
  explicit PowerCutJournal(uint64_t seed) : rng_(seed) {}

  // A file that exists now with `content`: durable as it is.
  void AddExisting(const std::string& path, std::string content);
  // A file created now (no durable directory entry yet). Creating a watched
  // file that exists is a no-op.
  void Create(const std::string& path);
  void Write(const std::string& path, int64_t offset, const char* data,
             int64_t n);
  void Truncate(const std::string& path, int64_t size);
  // `dir_synced`: SQLite asked for the directory to be synced.
  void Delete(const std::string& path, bool dir_synced);
  // Everything written to `path` so far is durable, and its entry.
  void Sync(const std::string& path);

  bool Watches(const std::string& path) const;
  // Operations recorded (writes, truncates, syncs, creates, deletes).
  int64_t operations() const { return operations_; }
  // Of them, creates and deletes.
  int64_t directory_operations() const { return directory_operations_; }

  // The files as the cut leaves them: path -> content, absent files
  // missing. Draws the fates; call once.
  std::map<std::string, std::string> Cut(PowerCutCounts* counts);

  // The content of `path` now, as the running process sees it (tests).
  std::optional<std::string> Current(const std::string& path) const;

 private:
  struct Op {
    enum Kind { kWrite, kTruncate, kCreate, kDelete } kind;
    int64_t offset = 0;  // write: offset; truncate: size
    std::string data;    // write
  };
  struct File {
    std::optional<std::string> durable;  // nullopt: no durable entry
    std::vector<Op> pending;
  };

  static void ApplyWrite(std::string* content, int64_t offset,
                         const std::string& data, int64_t from, int64_t to);
  // `file` with every pending operation kept.
  static std::optional<std::string> AllKept(const File& file);

  std::mt19937_64 rng_;
  std::map<std::string, File> files_;
  int64_t operations_ = 0;
  int64_t directory_operations_ = 0;
};

}  // namespace ecsimage::reliability

#endif  // ECSIMAGE_TESTS_RELIABILITY_POWER_CUT_JOURNAL_H_
