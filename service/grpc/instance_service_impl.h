// gRPC adapter of ecs.image.v1.InstanceService: every RPC is one call of the
// shared CallHandler around the ImageDomain method of the same name; writes
// are callback-API methods, as in ImageServiceImpl.
#ifndef ECSIMAGE_SERVICE_GRPC_INSTANCE_SERVICE_IMPL_H_
#define ECSIMAGE_SERVICE_GRPC_INSTANCE_SERVICE_IMPL_H_

#include <grpcpp/grpcpp.h>

#include "ecs/image/v1/image_service.grpc.pb.h"
#include "service/grpc/call_handler.h"

namespace ecsimage::grpcapi {

namespace v1 = ::ecs::image::v1;

class InstanceServiceImpl final
    : public v1::InstanceService::WithCallbackMethod_RunInstances<
          v1::InstanceService::WithCallbackMethod_DeleteInstance<
              v1::InstanceService::Service>> {
 public:
  explicit InstanceServiceImpl(CallHandler& calls) : calls_(calls) {}

  grpc::ServerUnaryReactor* RunInstances(
      grpc::CallbackServerContext* context,
      const v1::RunInstancesRequest* request,
      v1::RunInstancesResponse* response) override;
  grpc::ServerUnaryReactor* DeleteInstance(
      grpc::CallbackServerContext* context,
      const v1::DeleteInstanceRequest* request,
      v1::DeleteInstanceResponse* response) override;
  grpc::Status DescribeInstances(
      grpc::ServerContext* context, const v1::DescribeInstancesRequest* request,
      v1::DescribeInstancesResponse* response) override;

 private:
  CallHandler& calls_;
};

}  // namespace ecsimage::grpcapi

#endif  // ECSIMAGE_SERVICE_GRPC_INSTANCE_SERVICE_IMPL_H_
