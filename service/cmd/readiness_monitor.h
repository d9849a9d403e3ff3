// Keeps the server's readiness ("" and the API services) equal to the
// store's CheckReady, asked about once a second: a database outage turns
// readiness NOT_SERVING (balancers stop sending calls here) and its end
// turns it back, without a restart. Liveness is never touched.
#ifndef ECSIMAGE_SERVICE_CMD_READINESS_MONITOR_H_
#define ECSIMAGE_SERVICE_CMD_READINESS_MONITOR_H_

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "service/grpc/server.h"
#include "storage/image_store.h"

namespace ecsimage::cmd {

class ReadinessMonitor {
 public:
  ReadinessMonitor(storage::Store& store, grpcapi::Server& server,
                   std::chrono::milliseconds period);
  ~ReadinessMonitor() { Stop(); }

  // Asks the store once and sets readiness; returns whether it is ready.
  bool CheckOnce();
  void Stop();

 private:
  void Loop();

  storage::Store& store_;
  grpcapi::Server& server_;
  const std::chrono::milliseconds period_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  bool ready_ = true;  // last answer; used by the monitor thread only
  std::thread thread_;
};

}  // namespace ecsimage::cmd

#endif  // ECSIMAGE_SERVICE_CMD_READINESS_MONITOR_H_
