#include "service/grpc/simulation_service_impl.h"

namespace ecsimage::grpcapi {

grpc::Status SimulationServiceImpl::AdvanceTask(
    grpc::ServerContext* context, const v1::AdvanceTaskRequest* request,
    v1::TaskStateResponse* response) {
  return calls_.Run(context, "/ecs.image.v1.SimulationControl/AdvanceTask",
                    *request, response, &domain::ImageDomain::AdvanceTask);
}

grpc::Status SimulationServiceImpl::FailTask(grpc::ServerContext* context,
                                             const v1::FailTaskRequest* request,
                                             v1::TaskStateResponse* response) {
  return calls_.Run(context, "/ecs.image.v1.SimulationControl/FailTask",
                    *request, response, &domain::ImageDomain::FailTask);
}

}  // namespace ecsimage::grpcapi
