// A hook that sees every finished call: metrics implement it, the server
// calls it from the shared handler wrapper (after logging).
#ifndef ECSIMAGE_SERVICE_GRPC_CALL_OBSERVER_H_
#define ECSIMAGE_SERVICE_GRPC_CALL_OBSERVER_H_

#include <grpcpp/grpcpp.h>

#include <string_view>

namespace ecsimage::grpcapi {

class CallObserver {
 public:
  virtual ~CallObserver() = default;
  // `method` is "/ecs.image.v1.ImageService/DeleteImage"; `ecs_code` is the
  // ECS code of a failure ("" on success); thread-safe, must not block.
  virtual void OnCallDone(std::string_view method, grpc::StatusCode code,
                          std::string_view ecs_code,
                          double latency_seconds) = 0;
};

}  // namespace ecsimage::grpcapi

#endif  // ECSIMAGE_SERVICE_GRPC_CALL_OBSERVER_H_
