#include "service/ecs_http/bounded_task_queue.h"

#include <utility>

namespace ecsimage::ecs_http {

BoundedTaskQueue::BoundedTaskQueue(size_t threads, size_t max_queued)
    : max_queued_(max_queued > 0 ? max_queued : 1) {
  for (size_t i = 0; i < (threads > 0 ? threads : 1); ++i) {
    threads_.emplace_back([this] { Work(); });
  }
}

BoundedTaskQueue::~BoundedTaskQueue() { shutdown(); }

void BoundedTaskQueue::enqueue(std::function<void()> fn) {
  std::unique_lock<std::mutex> lock(mu_);
  has_room_.wait(lock,
                 [this] { return stopping_ || jobs_.size() < max_queued_; });
  if (stopping_) return;
  jobs_.push_back(std::move(fn));
  has_job_.notify_one();
}

void BoundedTaskQueue::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  has_job_.notify_all();
  has_room_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

size_t BoundedTaskQueue::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return jobs_.size();
}

void BoundedTaskQueue::Work() {
  while (true) {
    std::function<void()> fn;
    {
      std::unique_lock<std::mutex> lock(mu_);
      has_job_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, nothing left
      fn = std::move(jobs_.front());
      jobs_.pop_front();
    }
    has_room_.notify_one();
    fn();
  }
}

}  // namespace ecsimage::ecs_http
