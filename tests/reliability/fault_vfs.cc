#include "tests/reliability/fault_vfs.h"

#include <sqlite3.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ecsimage::reliability {
namespace {

// The switches. Plain atomics: SQLite calls the shim from any thread.
std::atomic<bool> g_fail_writes{false};
std::atomic<int> g_write_target{static_cast<int>(FaultTarget::kWal)};
std::atomic<int> g_write_fault{static_cast<int>(WriteFault::kIoError)};
std::atomic<int> g_every_nth{0};
std::atomic<int64_t> g_nth_counter{0};
std::atomic<bool> g_fail_syncs{false};
std::atomic<int> g_sync_target{static_cast<int>(FaultTarget::kWal)};
std::atomic<int64_t> g_faults{0};
std::atomic<int64_t> g_wal_writes{0};
std::atomic<int64_t> g_wal_syncs{0};

sqlite3_vfs* g_real = nullptr;
sqlite3_vfs g_shim;

// The power-cut model. `g_watching` spares the lock when it is off.
struct PowerCut {
  std::string dir;  // with a trailing '/'
  PowerCutOptions options;
  std::unique_ptr<PowerCutJournal> journal;
  bool cut = false;
  std::map<std::string, std::string> image;  // the files the cut left
  PowerCutCounts counts;
  int64_t db_file_writes = 0;
};
std::mutex g_power_mu;
PowerCut g_power;  // guarded by g_power_mu
std::atomic<bool> g_watching{false};
std::atomic<bool> g_power_cut{false};
std::atomic<bool> g_restore_at_open{false};
std::atomic<bool> g_restored{false};
PowerCutCounts g_last_counts;  // guarded by g_power_mu

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Whether `path` is a watched file (g_power_mu held).
bool WatchedLocked(const char* path) {
  if (path == nullptr || g_power.journal == nullptr) return false;
  std::string p(path);
  return p.compare(0, g_power.dir.size(), g_power.dir) == 0 &&
         p.find('/', g_power.dir.size()) == std::string::npos &&
         !EndsWith(p, "-shm");
}

void CutLocked() {
  if (g_power.cut || g_power.journal == nullptr) return;
  g_power.cut = true;
  g_power_cut.store(true);
  g_power.image = g_power.journal->Cut(&g_power.counts);
}

// Counts one watched operation; true when it is to be recorded, false when
// the power is (or has just been) cut (g_power_mu held).
bool NextOperationLocked() {
  if (g_power.cut) return false;
  const int64_t at = g_power.options.cut_at_operation;
  const int64_t after_dir = g_power.options.cut_after_directory_operations;
  if ((at > 0 && g_power.journal->operations() + 1 >= at) ||
      (after_dir > 0 && g_power.journal->directory_operations() >= after_dir)) {
    CutLocked();
    return false;
  }
  return true;
}

// Writes the files the cut left (see FaultVfs::RestoreAfterPowerCut) and
// stops watching (g_power_mu held).
PowerCutCounts RestoreLocked(const std::string& into_dir) {
  namespace fs = std::filesystem;
  CutLocked();
  const bool in_place = into_dir.empty();
  if (in_place) {
    std::vector<std::string> present;
    for (const fs::directory_entry& e : fs::directory_iterator(g_power.dir)) {
      present.push_back(e.path().string());
    }
    for (const std::string& path : present) {
      if (EndsWith(path, "-shm") ||
          (WatchedLocked(path.c_str()) && g_power.image.count(path) == 0)) {
        std::error_code ec;
        fs::remove(path, ec);
      }
    }
  }
  for (const auto& [path, content] : g_power.image) {
    const std::string target =
        in_place ? path
                 : (fs::path(into_dir) / fs::path(path).filename()).string();
    std::ofstream out(target, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!out) std::abort();
  }
  PowerCutCounts counts = g_power.counts;
  g_last_counts = counts;
  g_restore_at_open.store(false);
  g_restored.store(true);
  g_watching.store(false);
  g_power = PowerCut();
  return counts;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in),
                     std::istreambuf_iterator<char>());
}

// The shim's file: our header, then the real VFS's file in the same
// allocation (szOsFile covers both).
struct ShimFile {
  sqlite3_file base;
  sqlite3_file* real;
  bool is_wal;
  bool is_main_db;
  const char* path;  // SQLite keeps it unchanged until xClose; may be null
};

ShimFile* Shim(sqlite3_file* f) { return reinterpret_cast<ShimFile*>(f); }
sqlite3_file* Real(sqlite3_file* f) { return Shim(f)->real; }
const sqlite3_io_methods* RealMethods(sqlite3_file* f) {
  return Real(f)->pMethods;
}

bool Targets(const ShimFile* f, FaultTarget target) {
  switch (target) {
    case FaultTarget::kWal:
      return f->is_wal;
    case FaultTarget::kMainDb:
      return f->is_main_db;
    case FaultTarget::kAny:
      return f->is_wal || f->is_main_db;
  }
  return false;
}

int ShimClose(sqlite3_file* f) {
  int rc = SQLITE_OK;
  if (RealMethods(f) != nullptr) rc = RealMethods(f)->xClose(Real(f));
  return rc;
}

int ShimRead(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  return RealMethods(f)->xRead(Real(f), buf, n, off);
}

int ShimWrite(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  ShimFile* s = Shim(f);
  if (s->is_wal) g_wal_writes.fetch_add(1);
  bool fail = g_fail_writes.load() &&
              Targets(s, static_cast<FaultTarget>(g_write_target.load()));
  if (!fail && s->is_wal) {
    const int nth = g_every_nth.load();
    if (nth > 0 && (g_nth_counter.fetch_add(1) + 1) % nth == 0) fail = true;
  }
  if (fail) {
    g_faults.fetch_add(1);
    return static_cast<WriteFault>(g_write_fault.load()) == WriteFault::kFull
               ? SQLITE_FULL
               : SQLITE_IOERR_WRITE;
  }
  if (g_watching.load()) {
    std::lock_guard<std::mutex> lock(g_power_mu);
    if (WatchedLocked(s->path) && NextOperationLocked()) {
      g_power.journal->Write(s->path, off, static_cast<const char*>(buf), n);
      if (s->is_main_db) g_power.db_file_writes++;
    }
  }
  return RealMethods(f)->xWrite(Real(f), buf, n, off);
}

int ShimTruncate(sqlite3_file* f, sqlite3_int64 size) {
  if (g_watching.load()) {
    std::lock_guard<std::mutex> lock(g_power_mu);
    if (WatchedLocked(Shim(f)->path) && NextOperationLocked()) {
      g_power.journal->Truncate(Shim(f)->path, size);
    }
  }
  return RealMethods(f)->xTruncate(Real(f), size);
}

int ShimSync(sqlite3_file* f, int flags) {
  ShimFile* s = Shim(f);
  if (s->is_wal) g_wal_syncs.fetch_add(1);
  if (g_fail_syncs.load() &&
      Targets(s, static_cast<FaultTarget>(g_sync_target.load()))) {
    g_faults.fetch_add(1);
    return SQLITE_IOERR_FSYNC;
  }
  if (g_watching.load()) {
    std::lock_guard<std::mutex> lock(g_power_mu);
    if (WatchedLocked(s->path)) {
      // The model decides what is durable; the real fsync is not needed.
      if (NextOperationLocked() && !g_power.options.ignore_syncs) {
        g_power.journal->Sync(s->path);
      }
      return SQLITE_OK;
    }
  }
  return RealMethods(f)->xSync(Real(f), flags);
}

int ShimFileSize(sqlite3_file* f, sqlite3_int64* size) {
  return RealMethods(f)->xFileSize(Real(f), size);
}
int ShimLock(sqlite3_file* f, int level) {
  return RealMethods(f)->xLock(Real(f), level);
}
int ShimUnlock(sqlite3_file* f, int level) {
  return RealMethods(f)->xUnlock(Real(f), level);
}
int ShimCheckReservedLock(sqlite3_file* f, int* out) {
  return RealMethods(f)->xCheckReservedLock(Real(f), out);
}
int ShimFileControl(sqlite3_file* f, int op, void* arg) {
  return RealMethods(f)->xFileControl(Real(f), op, arg);
}
// What the power-cut model honours (power_cut_journal.h), in every mode.
int ShimSectorSize(sqlite3_file*) { return kPowerCutSectorSize; }
int ShimDeviceCharacteristics(sqlite3_file*) {
  return SQLITE_IOCAP_POWERSAFE_OVERWRITE;
}
int ShimShmMap(sqlite3_file* f, int page, int size, int extend,
               void volatile** out) {
  if (RealMethods(f)->iVersion < 2) return SQLITE_IOERR_SHMMAP;
  return RealMethods(f)->xShmMap(Real(f), page, size, extend, out);
}
int ShimShmLock(sqlite3_file* f, int offset, int n, int flags) {
  if (RealMethods(f)->iVersion < 2) return SQLITE_IOERR_SHMLOCK;
  return RealMethods(f)->xShmLock(Real(f), offset, n, flags);
}
void ShimShmBarrier(sqlite3_file* f) {
  if (RealMethods(f)->iVersion >= 2) RealMethods(f)->xShmBarrier(Real(f));
}
int ShimShmUnmap(sqlite3_file* f, int del) {
  if (RealMethods(f)->iVersion < 2) return SQLITE_OK;
  return RealMethods(f)->xShmUnmap(Real(f), del);
}
int ShimFetch(sqlite3_file* f, sqlite3_int64 off, int n, void** out) {
  if (RealMethods(f)->iVersion < 3) {
    *out = nullptr;
    return SQLITE_OK;
  }
  return RealMethods(f)->xFetch(Real(f), off, n, out);
}
int ShimUnfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
  if (RealMethods(f)->iVersion < 3) return SQLITE_OK;
  return RealMethods(f)->xUnfetch(Real(f), off, p);
}

const sqlite3_io_methods kShimMethods = {
    3,
    ShimClose,
    ShimRead,
    ShimWrite,
    ShimTruncate,
    ShimSync,
    ShimFileSize,
    ShimLock,
    ShimUnlock,
    ShimCheckReservedLock,
    ShimFileControl,
    ShimSectorSize,
    ShimDeviceCharacteristics,
    ShimShmMap,
    ShimShmLock,
    ShimShmBarrier,
    ShimShmUnmap,
    ShimFetch,
    ShimUnfetch,
};

int ShimOpen(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags,
             int* out_flags) {
  ShimFile* s = Shim(file);
  s->base.pMethods = nullptr;
  s->real = reinterpret_cast<sqlite3_file*>(s + 1);
  s->is_wal = (flags & SQLITE_OPEN_WAL) != 0;
  s->is_main_db = (flags & SQLITE_OPEN_MAIN_DB) != 0;
  s->path = name;
  bool watched = false;
  bool existed = false;
  if (g_watching.load()) {
    std::lock_guard<std::mutex> lock(g_power_mu);
    watched = WatchedLocked(name);
    if (watched && g_restore_at_open.load()) {
      RestoreLocked("");  // the reboot: the disk as the cut left it
      watched = false;
    }
  }
  if (watched) {
    int exists = 0;
    g_real->xAccess(g_real, name, SQLITE_ACCESS_EXISTS, &exists);
    existed = exists != 0;
  }
  int rc = g_real->xOpen(g_real, name, s->real, flags, out_flags);
  if (watched && rc == SQLITE_OK) {
    std::lock_guard<std::mutex> lock(g_power_mu);
    if (WatchedLocked(name)) {
      if (existed && !g_power.journal->Watches(name)) {
        g_power.journal->AddExisting(name, ReadWholeFile(name));
      } else if (!existed && NextOperationLocked()) {
        g_power.journal->Create(name);
      }
    }
  }
  // The real file's methods decide whether xClose must run; ours always
  // forward, so install them only when the real open left methods behind.
  if (s->real->pMethods != nullptr) s->base.pMethods = &kShimMethods;
  return rc;
}

int ShimDelete(sqlite3_vfs*, const char* name, int sync_dir) {
  if (g_watching.load()) {
    std::lock_guard<std::mutex> lock(g_power_mu);
    if (WatchedLocked(name) && NextOperationLocked()) {
      g_power.journal->Delete(name, sync_dir != 0);
    }
  }
  return g_real->xDelete(g_real, name, sync_dir);
}
int ShimAccess(sqlite3_vfs*, const char* name, int flags, int* out) {
  return g_real->xAccess(g_real, name, flags, out);
}
int ShimFullPathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return g_real->xFullPathname(g_real, name, n, out);
}
void* ShimDlOpen(sqlite3_vfs*, const char* name) {
  return g_real->xDlOpen(g_real, name);
}
void ShimDlError(sqlite3_vfs*, int n, char* msg) {
  g_real->xDlError(g_real, n, msg);
}
void (*ShimDlSym(sqlite3_vfs*, void* handle, const char* sym))(void) {
  return g_real->xDlSym(g_real, handle, sym);
}
void ShimDlClose(sqlite3_vfs*, void* handle) {
  g_real->xDlClose(g_real, handle);
}
int ShimRandomness(sqlite3_vfs*, int n, char* out) {
  return g_real->xRandomness(g_real, n, out);
}
int ShimSleep(sqlite3_vfs*, int us) { return g_real->xSleep(g_real, us); }
int ShimCurrentTime(sqlite3_vfs*, double* out) {
  return g_real->xCurrentTime(g_real, out);
}
int ShimGetLastError(sqlite3_vfs*, int n, char* out) {
  return g_real->xGetLastError ? g_real->xGetLastError(g_real, n, out) : 0;
}
int ShimCurrentTimeInt64(sqlite3_vfs*, sqlite3_int64* out) {
  return g_real->xCurrentTimeInt64(g_real, out);
}
int ShimSetSystemCall(sqlite3_vfs*, const char* name, sqlite3_syscall_ptr ptr) {
  return g_real->xSetSystemCall(g_real, name, ptr);
}
sqlite3_syscall_ptr ShimGetSystemCall(sqlite3_vfs*, const char* name) {
  return g_real->xGetSystemCall(g_real, name);
}
const char* ShimNextSystemCall(sqlite3_vfs*, const char* name) {
  return g_real->xNextSystemCall(g_real, name);
}

}  // namespace

FaultVfs& FaultVfs::Install() {
  static FaultVfs* vfs = [] {
    sqlite3_initialize();
    g_real = sqlite3_vfs_find(nullptr);
    if (g_real == nullptr || g_real->iVersion < 3) std::abort();
    std::memset(&g_shim, 0, sizeof(g_shim));
    g_shim.iVersion = 3;
    g_shim.szOsFile = static_cast<int>(sizeof(ShimFile)) + g_real->szOsFile;
    g_shim.mxPathname = g_real->mxPathname;
    g_shim.zName = "ecsimage_fault";
    g_shim.xOpen = ShimOpen;
    g_shim.xDelete = ShimDelete;
    g_shim.xAccess = ShimAccess;
    g_shim.xFullPathname = ShimFullPathname;
    g_shim.xDlOpen = ShimDlOpen;
    g_shim.xDlError = ShimDlError;
    g_shim.xDlSym = ShimDlSym;
    g_shim.xDlClose = ShimDlClose;
    g_shim.xRandomness = ShimRandomness;
    g_shim.xSleep = ShimSleep;
    g_shim.xCurrentTime = ShimCurrentTime;
    g_shim.xGetLastError = ShimGetLastError;
    g_shim.xCurrentTimeInt64 = ShimCurrentTimeInt64;
    g_shim.xSetSystemCall = ShimSetSystemCall;
    g_shim.xGetSystemCall = ShimGetSystemCall;
    g_shim.xNextSystemCall = ShimNextSystemCall;
    if (sqlite3_vfs_register(&g_shim, /*makeDflt=*/1) != SQLITE_OK) {
      std::abort();
    }
    return new FaultVfs();
  }();
  vfs->Reset();
  return *vfs;
}

void FaultVfs::FailWrites(bool on, FaultTarget target, WriteFault fault) {
  g_write_target.store(static_cast<int>(target));
  g_write_fault.store(static_cast<int>(fault));
  g_fail_writes.store(on);
}

void FaultVfs::FailEveryNthWalWrite(int n, WriteFault fault) {
  g_write_fault.store(static_cast<int>(fault));
  g_nth_counter.store(0);
  g_every_nth.store(n);
}

void FaultVfs::FailSyncs(bool on, FaultTarget target) {
  g_sync_target.store(static_cast<int>(target));
  g_fail_syncs.store(on);
}

void FaultVfs::Reset() {
  g_fail_writes.store(false);
  g_every_nth.store(0);
  g_fail_syncs.store(false);
}

void FaultVfs::WatchForPowerCut(const std::string& dir,
                                const PowerCutOptions& options) {
  namespace fs = std::filesystem;
  std::lock_guard<std::mutex> lock(g_power_mu);
  g_power = PowerCut();
  g_power.dir = fs::weakly_canonical(dir).string() + "/";
  g_power.options = options;
  g_power.journal = std::make_unique<PowerCutJournal>(options.seed);
  for (const fs::directory_entry& e : fs::directory_iterator(g_power.dir)) {
    const std::string path = e.path().string();
    if (e.is_regular_file() && WatchedLocked(path.c_str())) {
      g_power.journal->AddExisting(path, ReadWholeFile(path));
    }
  }
  g_power_cut.store(false);
  g_restored.store(false);
  g_watching.store(true);
}

void FaultVfs::CutPower() {
  std::lock_guard<std::mutex> lock(g_power_mu);
  CutLocked();
}

void FaultVfs::SetPowerCutAt(int64_t operation) {
  std::lock_guard<std::mutex> lock(g_power_mu);
  g_power.options.cut_at_operation = operation;
}

bool FaultVfs::power_cut() const { return g_power_cut.load(); }

int64_t FaultVfs::power_cut_operations() const {
  std::lock_guard<std::mutex> lock(g_power_mu);
  return g_power.journal == nullptr ? 0 : g_power.journal->operations();
}

int64_t FaultVfs::power_cut_db_file_writes() const {
  std::lock_guard<std::mutex> lock(g_power_mu);
  return g_power.db_file_writes;
}

int64_t FaultVfs::power_cut_directory_operations() const {
  std::lock_guard<std::mutex> lock(g_power_mu);
  return g_power.journal == nullptr ? 0
                                    : g_power.journal->directory_operations();
}

PowerCutCounts FaultVfs::RestoreAfterPowerCut(const std::string& into_dir) {
  std::lock_guard<std::mutex> lock(g_power_mu);
  return RestoreLocked(into_dir);
}

void FaultVfs::RestoreAtNextOpen() {
  std::lock_guard<std::mutex> lock(g_power_mu);
  CutLocked();
  g_restored.store(false);
  g_restore_at_open.store(true);
}

bool FaultVfs::restored() const { return g_restored.load(); }

PowerCutCounts FaultVfs::last_cut_counts() const {
  std::lock_guard<std::mutex> lock(g_power_mu);
  return g_last_counts;
}

int64_t FaultVfs::faults_injected() const { return g_faults.load(); }
int64_t FaultVfs::wal_writes() const { return g_wal_writes.load(); }
int64_t FaultVfs::wal_syncs() const { return g_wal_syncs.load(); }

}  // namespace ecsimage::reliability
