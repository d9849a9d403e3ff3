// gRPC adapter of ecs.image.v1.SimulationControl: every RPC is one call of the
// shared CallHandler around the ImageDomain method of the same name.
#ifndef ECSIMAGE_SERVICE_GRPC_SIMULATION_SERVICE_IMPL_H_
#define ECSIMAGE_SERVICE_GRPC_SIMULATION_SERVICE_IMPL_H_

#include <grpcpp/grpcpp.h>

#include "ecs/image/v1/image_service.grpc.pb.h"
#include "service/grpc/call_handler.h"

namespace ecsimage::grpcapi {

namespace v1 = ::ecs::image::v1;

class SimulationServiceImpl final : public v1::SimulationControl::Service {
 public:
  explicit SimulationServiceImpl(CallHandler& calls) : calls_(calls) {}

  grpc::Status AdvanceTask(grpc::ServerContext* context,
                           const v1::AdvanceTaskRequest* request,
                           v1::TaskStateResponse* response) override;
  grpc::Status FailTask(grpc::ServerContext* context,
                        const v1::FailTaskRequest* request,
                        v1::TaskStateResponse* response) override;

 private:
  CallHandler& calls_;
};

}  // namespace ecsimage::grpcapi

#endif  // ECSIMAGE_SERVICE_GRPC_SIMULATION_SERVICE_IMPL_H_
