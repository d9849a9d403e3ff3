// The single writer thread: owns the write connection and runs every write
// transaction, several callers' changes per commit (group commit).
#ifndef ECSIMAGE_STORAGE_SQLITE_SQLITE_WRITER_H_
#define ECSIMAGE_STORAGE_SQLITE_SQLITE_WRITER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "storage/image_store.h"
#include "storage/sqlite/sqlite_db.h"
#include "storage/sqlite/sqlite_txn.h"

namespace ecsimage::storage {

struct WriterOptions {
  // Off: one transaction (and one fsync) per write.
  bool group_commit = true;
  // Most writes per transaction.
  int max_batch_size = 128;
  // How long the writer waits for a batch to fill once one write is queued;
  // zero takes whatever is queued at once.
  absl::Duration max_batch_wait = absl::ZeroDuration();
  // Test hooks: called by RunInWriteTransaction after queueing its write;
  // by the first Shutdown once new writes are refused; and from SQLite's commit
  // hook on the writer thread (returning true turns that COMMIT into a
  // failure).
  std::function<void()> on_queued;
  std::function<void()> on_shutdown_started;
  std::function<bool()> commit_hook;
};

struct WriterStats {
  uint64_t commits = 0;  // transactions that committed
  uint64_t failed_commits = 0;
  uint64_t writes = 0;       // callbacks run
  uint64_t queue_depth = 0;  // writes waiting for the writer right now
  // CPU time of the writer thread inside its batches (run, commit, answer
  // or hand over), and of the completer thread calling async callbacks.
  uint64_t writer_cpu_ns = 0;
  uint64_t completer_cpu_ns = 0;
};

class Writer {
 public:
  // Starts the writer thread, which owns `conn` from now on.
  Writer(std::unique_ptr<Connection> conn, WriterOptions options);
  // Shutdown().
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Queues `fn` and blocks until the transaction holding it has committed
  // or it was rolled back (see Store::RunInWriteTransaction).
  absl::Status Run(const std::function<absl::Status(WriteTxn&)>& fn,
                   const WriteOptions& options);
  // Queues `fn` and returns at once; `done` gets the same answer Run would
  // give, on the completer thread, after the commit (see
  // Store::RunInWriteTransactionAsync).
  void RunAsync(std::function<absl::Status(WriteTxn&)> fn, WriteOptions options,
                std::function<void(absl::Status)> done);

  // Refuses new writes (kUnavailable), lets the batch in progress finish,
  // answers writes still queued kUnavailable "shutting down", and joins the
  // thread. Idempotent.
  void Shutdown();

  // From now on every write, queued or new, is answered `why` (which must
  // not be OK) and nothing more is written: the database was found corrupt.
  // The first refusal stays. Idempotent.
  void Refuse(absl::Status why);
  // OK, or the refusal.
  absl::Status refused() const;

  WriterStats stats() const;

 private:
  struct Request {
    const std::function<absl::Status(WriteTxn&)>* fn;
    const WriteOptions* options;
    absl::Status result;
    bool done = false;
    std::condition_variable cv;
    // RunAsync: the request owns its callback and options, and is answered
    // through on_done (then deleted) instead of cv.
    std::function<absl::Status(WriteTxn&)> owned_fn;
    WriteOptions owned_options;
    std::function<void(absl::Status)> on_done;
  };
  // Answers `r`: wakes a Run caller, or calls and deletes an async request.
  // Needs mu_ held for Run callers only; async ones are answered unlocked.
  void Answer(Request* r);

  void Loop();
  // Queues answered async requests for CompleteLoop; empties `answered`.
  void HandOver(std::vector<Request*>* answered);
  // The completer thread: calls async requests' callbacks, in commit order.
  void CompleteLoop();
  void RunBatch(const std::vector<Request*>& batch);
  // Runs one callback inside its own savepoint; true if the transaction is
  // still usable afterwards. Sets r->result (OK = pending commit).
  bool RunOne(Request* r);
  // SAVEPOINT, RELEASE or ROLLBACK TO of one write, from the statement cache.
  absl::Status Savepoint(const std::string& sql);
  static int CommitHook(void* self);

  std::unique_ptr<Connection> conn_;
  SqliteTxn txn_;
  const WriterOptions options_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::deque<Request*> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status refused_ ABSL_GUARDED_BY(mu_);

  std::mutex done_mu_;
  std::condition_variable done_cv_;
  std::vector<Request*> done_queue_ ABSL_GUARDED_BY(done_mu_);
  bool done_stopping_ ABSL_GUARDED_BY(done_mu_) = false;

  std::mutex shutdown_mu_;  // serialises Shutdown callers around join()
  std::thread completer_;
  std::thread thread_;

  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> failed_commits_{0};
  std::atomic<uint64_t> writes_{0};
  std::atomic<uint64_t> writer_cpu_ns_{0};
  std::atomic<uint64_t> completer_cpu_ns_{0};
};

}  // namespace ecsimage::storage

#endif  // ECSIMAGE_STORAGE_SQLITE_SQLITE_WRITER_H_
