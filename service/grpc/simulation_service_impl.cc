#include "service/grpc/simulation_service_impl.h"

#include <vector>

#include "ecs/image/v1/image_service.grpc.pb.h"
#include "service/grpc/raw_service.h"

namespace ecsimage::grpcapi {

std::unique_ptr<grpc::Service> NewSimulationService(CallHandler& calls) {
  using D = domain::ImageDomain;
  return std::make_unique<RawService>(
      ServiceNamed(::ecs::image::v1::SimulationControl::service_full_name()),
      std::vector<RawMethod>{
          calls.Sync("AdvanceTask", &D::AdvanceTask),
          calls.Sync("FailTask", &D::FailTask),
      });
}

}  // namespace ecsimage::grpcapi
