// The listener's worker pool keeps at most `max_queued` jobs waiting: the
// accept thread waits instead of queueing more.
#include "service/ecs_http/bounded_task_queue.h"

#include <atomic>
#include <future>
#include <thread>

#include "gtest/gtest.h"

namespace ecsimage::ecs_http {
namespace {

TEST(BoundedTaskQueueTest, RunsJobsAndWaitsWhenFull) {
  BoundedTaskQueue queue(/*threads=*/1, /*max_queued=*/1);
  std::promise<void> started, release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> done{0};
  queue.enqueue([&] {
    started.set_value();
    released.wait();
    ++done;
  });
  started.get_future().wait();     // the worker is busy
  queue.enqueue([&] { ++done; });  // waits in the queue
  EXPECT_EQ(queue.queued(), 1u);
  std::atomic<bool> third_in{false};
  std::thread acceptor([&] {
    queue.enqueue([&] { ++done; });  // full: waits for room
    third_in = true;
  });
  EXPECT_FALSE(third_in.load());  // can only become true after the release
  release.set_value();
  acceptor.join();
  EXPECT_TRUE(third_in.load());
  queue.shutdown();  // runs what is queued, then stops
  EXPECT_EQ(done.load(), 3);
}

TEST(BoundedTaskQueueTest, ShutdownUnblocksAWaitingEnqueue) {
  BoundedTaskQueue queue(1, 1);
  std::promise<void> started, release;
  std::shared_future<void> released = release.get_future().share();
  queue.enqueue([&] {
    started.set_value();
    released.wait();
  });
  started.get_future().wait();
  queue.enqueue([] {});
  std::thread acceptor([&] { queue.enqueue([] {}); });
  std::thread stopper([&] { queue.shutdown(); });
  release.set_value();
  acceptor.join();
  stopper.join();
  SUCCEED();
}

}  // namespace
}  // namespace ecsimage::ecs_http
