#include "service/grpc/instance_service_impl.h"

namespace ecsimage::grpcapi {

grpc::ServerUnaryReactor* InstanceServiceImpl::RunInstances(
    grpc::CallbackServerContext* context,
    const v1::RunInstancesRequest* request,
    v1::RunInstancesResponse* response) {
  return calls_.RunAsync(context, "/ecs.image.v1.InstanceService/RunInstances",
                         *request, response,
                         &domain::ImageDomain::RunInstancesAsync);
}

grpc::ServerUnaryReactor* InstanceServiceImpl::DeleteInstance(
    grpc::CallbackServerContext* context,
    const v1::DeleteInstanceRequest* request,
    v1::DeleteInstanceResponse* response) {
  return calls_.RunAsync(
      context, "/ecs.image.v1.InstanceService/DeleteInstance", *request,
      response, &domain::ImageDomain::DeleteInstanceAsync);
}

grpc::Status InstanceServiceImpl::DescribeInstances(
    grpc::ServerContext* context, const v1::DescribeInstancesRequest* request,
    v1::DescribeInstancesResponse* response) {
  return calls_.Run(context, "/ecs.image.v1.InstanceService/DescribeInstances",
                    *request, response,
                    &domain::ImageDomain::DescribeInstances);
}

}  // namespace ecsimage::grpcapi
