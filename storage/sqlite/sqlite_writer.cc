// Group commit. The writer takes every queued write (up to the batch size),
// opens one BEGIN IMMEDIATE transaction and runs each callback inside its
// own SAVEPOINT, so a callback that fails (or whose caller gave up) rolls
// back exactly its own changes. One COMMIT then makes the batch durable and
// only after it returns are the callers answered. If SQLite abandons the
// transaction midway (e.g. SQLITE_FULL rolls it back by itself), the writes
// already run in it fail and the rest of the batch continues in a new one.
#include "storage/sqlite/sqlite_writer.h"

#include <sqlite3.h>
#include <time.h>

#include <exception>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "util/status_macros.h"

namespace ecsimage::storage {
namespace {

bool Abandoned(const WriteOptions& options) {
  return options.abandoned && options.abandoned();
}

// CPU time the calling thread has used (not time blocked in fsync or waits).
uint64_t ThreadCpuNs() {
  timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

Writer::Writer(std::unique_ptr<Connection> conn, WriterOptions options)
    : conn_(std::move(conn)), txn_(*conn_), options_(std::move(options)) {
  if (options_.commit_hook) {
    sqlite3_commit_hook(conn_->handle(), &Writer::CommitHook, this);
  }
  completer_ = std::thread([this] { CompleteLoop(); });
  thread_ = std::thread([this] { Loop(); });
}

Writer::~Writer() { Shutdown(); }

int Writer::CommitHook(void* self) {
  return static_cast<Writer*>(self)->options_.commit_hook() ? 1 : 0;
}

WriterStats Writer::stats() const {
  WriterStats s;
  s.commits = commits_.load(std::memory_order_relaxed);
  s.failed_commits = failed_commits_.load(std::memory_order_relaxed);
  s.writes = writes_.load(std::memory_order_relaxed);
  s.writer_cpu_ns = writer_cpu_ns_.load(std::memory_order_relaxed);
  s.completer_cpu_ns = completer_cpu_ns_.load(std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(mu_);
  s.queue_depth = queue_.size();
  return s;
}

absl::Status Writer::Run(const std::function<absl::Status(WriteTxn&)>& fn,
                         const WriteOptions& options) {
  if (std::this_thread::get_id() == thread_.get_id()) {
    return absl::InternalError(
        "RunInWriteTransaction called from inside a write transaction");
  }
  Request r;
  r.fn = &fn;
  r.options = &options;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return absl::UnavailableError("store is shutting down");
    if (!refused_.ok()) return refused_;
    queue_.push_back(&r);
  }
  work_cv_.notify_one();
  if (options_.on_queued) options_.on_queued();
  std::unique_lock<std::mutex> lock(mu_);
  r.cv.wait(lock, [&r] { return r.done; });
  return std::move(r.result);
}

void Writer::RunAsync(std::function<absl::Status(WriteTxn&)> fn,
                      WriteOptions options,
                      std::function<void(absl::Status)> done) {
  auto* r = new Request;
  r->owned_fn = std::move(fn);
  r->owned_options = std::move(options);
  r->fn = &r->owned_fn;
  r->options = &r->owned_options;
  r->on_done = std::move(done);
  absl::Status refusal;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      refusal = absl::UnavailableError("store is shutting down");
    } else if (!refused_.ok()) {
      refusal = refused_;
    } else {
      queue_.push_back(r);
      r = nullptr;
    }
  }
  if (r != nullptr) {
    std::function<void(absl::Status)> on_done = std::move(r->on_done);
    delete r;
    on_done(std::move(refusal));
    return;
  }
  work_cv_.notify_one();
  if (options_.on_queued) options_.on_queued();
}

void Writer::Answer(Request* r) {
  if (r->on_done) {
    std::function<void(absl::Status)> on_done = std::move(r->on_done);
    absl::Status result = std::move(r->result);
    delete r;
    on_done(std::move(result));
    return;
  }
  r->done = true;
  r->cv.notify_one();
}

void Writer::Refuse(absl::Status why) {
  std::lock_guard<std::mutex> lock(mu_);
  if (refused_.ok()) refused_ = std::move(why);
}

absl::Status Writer::refused() const {
  std::lock_guard<std::mutex> lock(mu_);
  return refused_;
}

void Writer::Shutdown() {
  std::lock_guard<std::mutex> shutdown_lock(shutdown_mu_);
  bool first = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    first = !stopping_;
    stopping_ = true;
  }
  work_cv_.notify_all();
  if (first && options_.on_shutdown_started) options_.on_shutdown_started();
  if (thread_.joinable()) thread_.join();
  // The writer handed over every async request it answered; the completer
  // finishes them and stops.
  {
    std::lock_guard<std::mutex> lock(done_mu_);
    done_stopping_ = true;
  }
  done_cv_.notify_all();
  if (completer_.joinable()) completer_.join();
}

void Writer::HandOver(std::vector<Request*>* answered) {
  if (answered->empty()) return;
  {
    std::lock_guard<std::mutex> lock(done_mu_);
    done_queue_.insert(done_queue_.end(), answered->begin(), answered->end());
  }
  answered->clear();
  done_cv_.notify_one();
}

void Writer::CompleteLoop() {
  std::vector<Request*> batch;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(done_mu_);
      done_cv_.wait(lock,
                    [this] { return done_stopping_ || !done_queue_.empty(); });
      if (done_queue_.empty()) return;  // stopping, nothing left
      batch.swap(done_queue_);
    }
    const uint64_t cpu0 = ThreadCpuNs();
    for (Request* r : batch) Answer(r);
    completer_cpu_ns_.fetch_add(ThreadCpuNs() - cpu0,
                                std::memory_order_relaxed);
    batch.clear();
  }
}

void Writer::Loop() {
  const size_t max_batch =
      options_.group_commit
          ? static_cast<size_t>(std::max(options_.max_batch_size, 1))
          : 1;
  std::vector<Request*> batch;
  while (true) {
    absl::Status refusal;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) break;
      if (options_.max_batch_wait > absl::ZeroDuration() &&
          queue_.size() < max_batch) {
        work_cv_.wait_for(
            lock, absl::ToChronoNanoseconds(options_.max_batch_wait),
            [&] { return stopping_ || queue_.size() >= max_batch; });
        if (stopping_) break;
      }
      while (!queue_.empty() && batch.size() < max_batch) {
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
      refusal = refused_;
    }
    const uint64_t cpu0 = ThreadCpuNs();
    if (refusal.ok()) {
      RunBatch(batch);
    } else {
      // Queued before the refusal: nothing of them runs.
      for (Request* r : batch) r->result = refusal;
    }
    // Run callers are answered under the lock (a woken caller destroys its
    // Request, so nothing may touch one after it is answered); async ones
    // are handed to the completer thread, so that their callbacks (which
    // finish RPCs, and may queue new writes) never hold up the next batch.
    std::vector<Request*> async;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (Request* r : batch) {
        if (r->on_done) {
          async.push_back(r);
        } else {
          Answer(r);
        }
      }
    }
    HandOver(&async);
    writer_cpu_ns_.fetch_add(ThreadCpuNs() - cpu0, std::memory_order_relaxed);
    batch.clear();
  }
  std::vector<Request*> async;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (Request* r : queue_) {
      r->result = absl::UnavailableError("store is shutting down");
      if (r->on_done) {
        async.push_back(r);
      } else {
        Answer(r);
      }
    }
    queue_.clear();
  }
  HandOver(&async);
}

absl::Status Writer::Savepoint(const std::string& sql) {
  // Prepared once: sqlite3_exec would parse the text for every write.
  ASSIGN_OR_RETURN(Stmt q, conn_->Prepare(sql));
  return q.Run();
}

bool Writer::RunOne(Request* r) {
  const WriteOptions& options = *r->options;
  if (Abandoned(options)) {
    r->result =
        absl::DeadlineExceededError("the caller gave up before its write ran");
    return true;
  }
  absl::Status status = Savepoint("SAVEPOINT write");
  if (!status.ok()) {
    r->result = std::move(status);
    return false;
  }
  writes_.fetch_add(1, std::memory_order_relaxed);
  try {
    status = (*r->fn)(txn_);
  } catch (const std::exception& e) {
    status = absl::InternalError(
        absl::StrCat("write transaction threw: ", e.what()));
  } catch (...) {
    status = absl::InternalError("write transaction threw");
  }
  if (status.ok() && Abandoned(options)) {
    status = absl::DeadlineExceededError(
        "the caller gave up before its write committed");
  }
  if (!conn_->InTransaction()) {
    // SQLite rolled the whole transaction back by itself.
    r->result =
        status.ok()
            ? absl::UnavailableError("transaction was rolled back by SQLite")
            : std::move(status);
    return false;
  }
  if (status.ok()) {
    absl::Status released = Savepoint("RELEASE write");
    r->result = released;
    return released.ok();
  }
  r->result = std::move(status);
  return Savepoint("ROLLBACK TO write").ok() && Savepoint("RELEASE write").ok();
}

void Writer::RunBatch(const std::vector<Request*>& batch) {
  size_t next = 0;
  while (next < batch.size()) {
    absl::Status begin = conn_->Exec("BEGIN IMMEDIATE");
    if (!begin.ok()) {
      for (; next < batch.size(); ++next) batch[next]->result = begin;
      return;
    }
    std::vector<Request*> pending;  // OK so far, waiting for COMMIT
    bool usable = true;
    while (usable && next < batch.size()) {
      Request* r = batch[next++];
      usable = RunOne(r);
      if (usable && r->result.ok()) pending.push_back(r);
    }
    absl::Status outcome;
    if (usable) {
      outcome = conn_->Exec("COMMIT");
      if (!outcome.ok()) {
        outcome = IsCorruptionCode(conn_->last_error_code())
                      ? absl::InternalError(outcome.message())
                      : absl::UnavailableError(
                            absl::StrCat("commit failed: ", outcome.message()));
      }
    } else {
      outcome = absl::UnavailableError(
          "the transaction of this write failed; nothing was written");
    }
    if (conn_->InTransaction()) conn_->Exec("ROLLBACK").IgnoreError();
    if (outcome.ok()) {
      commits_.fetch_add(1, std::memory_order_relaxed);
    } else {
      failed_commits_.fetch_add(1, std::memory_order_relaxed);
      for (Request* r : pending) r->result = outcome;
    }
  }
}

}  // namespace ecsimage::storage
