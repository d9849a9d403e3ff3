#include "service/grpc/instance_service_impl.h"

#include <vector>

#include "ecs/image/v1/image_service.grpc.pb.h"
#include "service/grpc/raw_service.h"

namespace ecsimage::grpcapi {

std::unique_ptr<grpc::Service> NewInstanceService(CallHandler& calls) {
  using D = domain::ImageDomain;
  return std::make_unique<RawService>(
      ServiceNamed(::ecs::image::v1::InstanceService::service_full_name()),
      std::vector<RawMethod>{
          calls.Async("RunInstances", &D::RunInstancesAsync),
          calls.Async("DeleteInstance", &D::DeleteInstanceAsync),
          calls.Sync("DescribeInstances", &D::DescribeInstances),
      });
}

}  // namespace ecsimage::grpcapi
