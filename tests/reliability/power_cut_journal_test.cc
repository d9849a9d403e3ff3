// The power-cut model alone (power_cut_journal.h): syncs make content
// durable, unsynced writes are kept, lost or torn at 512-byte sectors and
// never change bytes they did not write, new directory entries may vanish,
// and a seed gives the same files every time.
#include "tests/reliability/power_cut_journal.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

namespace ecsimage::reliability {
namespace {

constexpr char kDb[] = "/d/db";
constexpr char kWal[] = "/d/db-wal";

TEST(PowerCutJournalTest, SyncedWritesSurviveEveryCut) {
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    PowerCutJournal j(seed);
    j.AddExisting(kDb, std::string(1024, 'a'));
    const std::string x(700, 'x');
    j.Write(kDb, 100, x.data(), 700);
    j.Truncate(kDb, 900);
    j.Sync(kDb);
    PowerCutCounts counts;
    std::map<std::string, std::string> files = j.Cut(&counts);
    std::string want = std::string(100, 'a') + x + std::string(100, 'a');
    ASSERT_EQ(files.at(kDb), want) << "seed " << seed;
    EXPECT_EQ(counts.writes_kept + counts.writes_lost + counts.writes_torn, 0);
  }
}

TEST(PowerCutJournalTest, UnsyncedWritesAreKeptLostOrTornAtSectors) {
  std::set<std::string> seen;
  PowerCutCounts total;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    PowerCutJournal j(seed);
    j.AddExisting(kDb, std::string(4096, 'a'));
    const std::string x(2048, 'x');
    j.Write(kDb, 256, x.data(), static_cast<int64_t>(x.size()));
    PowerCutCounts counts;
    const std::string got = j.Cut(&counts).at(kDb);
    ASSERT_EQ(got.size(), 4096u);
    // Outside the write: untouched.
    EXPECT_EQ(got.substr(0, 256), std::string(256, 'a'));
    EXPECT_EQ(got.substr(2304), std::string(4096 - 2304, 'a'));
    // Inside: each piece between sector boundaries is all old or all new.
    for (int from = 256; from < 2304;) {
      const int to = std::min(2304, (from / 512 + 1) * 512);
      const std::string piece = got.substr(from, to - from);
      EXPECT_TRUE(piece == std::string(to - from, 'a') ||
                  piece == std::string(to - from, 'x'))
          << "seed " << seed << " bytes " << from;
      from = to;
    }
    seen.insert(got);
    total.writes_kept += counts.writes_kept;
    total.writes_lost += counts.writes_lost;
    total.writes_torn += counts.writes_torn;
  }
  EXPECT_GT(total.writes_kept, 0);
  EXPECT_GT(total.writes_lost, 0);
  EXPECT_GT(total.writes_torn, 0);
  EXPECT_GT(seen.size(), 5u);  // torn in several ways
}

TEST(PowerCutJournalTest, TheSeedDecides) {
  auto run = [](uint64_t seed) {
    PowerCutJournal j(seed);
    j.AddExisting(kDb, std::string(8192, 'a'));
    for (int i = 0; i < 20; ++i) {
      const std::string x(300, static_cast<char>('b' + i));
      j.Write(kDb, i * 377, x.data(), 300);
    }
    PowerCutCounts counts;
    return j.Cut(&counts);
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST(PowerCutJournalTest, NewFileNeedsASyncToSurvive) {
  int vanished = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    PowerCutJournal j(seed);
    j.Create(kWal);
    j.Write(kWal, 0, "hello", 5);
    PowerCutCounts counts;
    if (j.Cut(&counts).count(kWal) == 0) ++vanished;

    PowerCutJournal synced(seed);
    synced.Create(kWal);
    synced.Write(kWal, 0, "hello", 5);
    synced.Sync(kWal);
    EXPECT_EQ(synced.Cut(&counts).at(kWal), "hello");
  }
  EXPECT_GT(vanished, 0);
  EXPECT_LT(vanished, 40);
}

TEST(PowerCutJournalTest, DeleteWithDirectorySyncIsDurable) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    PowerCutJournal j(seed);
    j.AddExisting(kWal, "frames");
    j.Delete(kWal, /*dir_synced=*/true);
    PowerCutCounts counts;
    EXPECT_EQ(j.Cut(&counts).count(kWal), 0u);
  }
  int back = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    PowerCutJournal j(seed);
    j.AddExisting(kWal, "frames");
    j.Delete(kWal, /*dir_synced=*/false);
    PowerCutCounts counts;
    auto files = j.Cut(&counts);
    if (files.count(kWal) > 0) {
      EXPECT_EQ(files.at(kWal), "frames");
      ++back;
    }
  }
  EXPECT_GT(back, 0);
}

}  // namespace
}  // namespace ecsimage::reliability
