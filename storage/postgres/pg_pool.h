// A fixed-size pool of PostgreSQL connections, connected lazily. A lost
// connection is dropped when given back, and its slot connects anew on the
// next Acquire (so a server restart heals without restarting ecsimage).
#ifndef ECSIMAGE_STORAGE_POSTGRES_PG_POOL_H_
#define ECSIMAGE_STORAGE_POSTGRES_PG_POOL_H_

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "storage/postgres/pg_conn.h"

namespace ecsimage::storage::pg {

class PgPool {
 public:
  // `conninfo` already has the connection defaults (WithConnectionDefaults).
  PgPool(std::string conninfo, int size,
         std::function<void(const std::string&)> on_prepare);

  // A connection for the holder's exclusive use until the lease ends.
  class Lease {
   public:
    Lease(PgPool* pool, std::unique_ptr<PgConn> conn)
        : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) = default;
    Lease& operator=(Lease&& other) = delete;
    ~Lease();
    PgConn& operator*() { return *conn_; }
    PgConn* operator->() { return conn_.get(); }
    // True if the connection had served before this lease (it may have been
    // lost while idle).
    bool reused() const { return reused_; }

   private:
    friend class PgPool;
    PgPool* pool_;
    std::unique_ptr<PgConn> conn_;
    bool reused_ = false;
  };

  // Waits for a free slot; connects if the slot has no connection.
  // kUnavailable if connecting fails.
  absl::StatusOr<Lease> Acquire();

  // A new connection outside the pool (commit-outcome checks).
  absl::StatusOr<std::unique_ptr<PgConn>> ConnectFresh();

  int idle() const;
  int busy() const;

 private:
  void Release(std::unique_ptr<PgConn> conn);

  const std::string conninfo_;
  const int size_;
  const std::function<void(const std::string&)> on_prepare_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<PgConn>> idle_ ABSL_GUARDED_BY(mu_);
  int busy_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ecsimage::storage::pg

#endif  // ECSIMAGE_STORAGE_POSTGRES_PG_POOL_H_
