// The ECS HTTP listener's worker pool: cpp-httplib's TaskQueue with a bound
// on queued connections (0.11's own ThreadPool queues without limit). When
// `max_queued` connections wait, the accept thread waits in enqueue(), so
// further connections stay in the kernel's listen backlog (cpp-httplib's
// 5) and then are refused by the kernel: memory stays bounded under a flood.
// Include only where httplib.h may be included (its pkg-config defines).
#ifndef ECSIMAGE_SERVICE_ECS_HTTP_BOUNDED_TASK_QUEUE_H_
#define ECSIMAGE_SERVICE_ECS_HTTP_BOUNDED_TASK_QUEUE_H_

#include <httplib.h>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ecsimage::ecs_http {

class BoundedTaskQueue final : public httplib::TaskQueue {
 public:
  BoundedTaskQueue(size_t threads, size_t max_queued);
  ~BoundedTaskQueue() override;

  // Waits while `max_queued` jobs wait (not counting running ones).
  void enqueue(std::function<void()> fn) override;
  // Runs what is queued, then stops the workers. Idempotent.
  void shutdown() override;

  size_t queued() const;

 private:
  void Work();

  const size_t max_queued_;
  mutable std::mutex mu_;
  std::condition_variable has_job_;
  std::condition_variable has_room_;
  std::deque<std::function<void()>> jobs_;  // guarded by mu_
  bool stopping_ = false;                   // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace ecsimage::ecs_http

#endif  // ECSIMAGE_SERVICE_ECS_HTTP_BOUNDED_TASK_QUEUE_H_
