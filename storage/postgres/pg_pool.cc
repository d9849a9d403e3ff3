#include "storage/postgres/pg_pool.h"

#include <utility>

namespace ecsimage::storage::pg {

PgPool::PgPool(std::string conninfo, int size,
               std::function<void(const std::string&)> on_prepare)
    : conninfo_(std::move(conninfo)),
      size_(size < 1 ? 1 : size),
      on_prepare_(std::move(on_prepare)) {}

PgPool::Lease::~Lease() {
  if (pool_ != nullptr && conn_ != nullptr) pool_->Release(std::move(conn_));
}

absl::StatusOr<std::unique_ptr<PgConn>> PgPool::ConnectFresh() {
  absl::StatusOr<std::unique_ptr<PgConn>> conn = PgConn::Connect(conninfo_);
  if (conn.ok() && on_prepare_) (*conn)->set_on_prepare(on_prepare_);
  return conn;
}

absl::StatusOr<PgPool::Lease> PgPool::Acquire() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return !idle_.empty() || busy_ + static_cast<int>(idle_.size()) < size_;
    });
    ++busy_;
    if (!idle_.empty()) {
      std::unique_ptr<PgConn> conn = std::move(idle_.back());
      idle_.pop_back();
      Lease lease(this, std::move(conn));
      lease.reused_ = true;
      return lease;
    }
  }
  // A free slot without a connection: connect outside the lock.
  absl::StatusOr<std::unique_ptr<PgConn>> conn = ConnectFresh();
  if (!conn.ok()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      --busy_;
    }
    cv_.notify_one();
    return conn.status();
  }
  return Lease(this, *std::move(conn));
}

void PgPool::Release(std::unique_ptr<PgConn> conn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    --busy_;
    // A lost connection frees its slot; the next Acquire connects anew.
    if (!conn->broken()) idle_.push_back(std::move(conn));
  }
  cv_.notify_one();
}

int PgPool::idle() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(idle_.size());
}

int PgPool::busy() const {
  std::lock_guard<std::mutex> lock(mu_);
  return busy_;
}

}  // namespace ecsimage::storage::pg
