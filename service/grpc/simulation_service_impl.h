// gRPC adapter of ecs.image.v1.SimulationControl: every RPC is one call of the
// shared CallHandler around the ImageDomain method of the same name.
#ifndef ECSIMAGE_SERVICE_GRPC_SIMULATION_SERVICE_IMPL_H_
#define ECSIMAGE_SERVICE_GRPC_SIMULATION_SERVICE_IMPL_H_

#include <grpcpp/grpcpp.h>

#include <memory>

#include "service/grpc/call_handler.h"

namespace ecsimage::grpcapi {

std::unique_ptr<grpc::Service> NewSimulationService(CallHandler& calls);

}  // namespace ecsimage::grpcapi

#endif  // ECSIMAGE_SERVICE_GRPC_SIMULATION_SERVICE_IMPL_H_
