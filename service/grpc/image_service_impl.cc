#include "service/grpc/image_service_impl.h"

namespace ecsimage::grpcapi {

grpc::ServerUnaryReactor* ImageServiceImpl::CancelCopyImage(
    grpc::CallbackServerContext* context,
    const v1::CancelCopyImageRequest* request,
    v1::CancelCopyImageResponse* response) {
  return calls_.RunAsync(context, "/ecs.image.v1.ImageService/CancelCopyImage",
                         *request, response,
                         &domain::ImageDomain::CancelCopyImageAsync);
}

grpc::ServerUnaryReactor* ImageServiceImpl::DeleteImage(
    grpc::CallbackServerContext* context, const v1::DeleteImageRequest* request,
    v1::DeleteImageResponse* response) {
  return calls_.RunAsync(context, "/ecs.image.v1.ImageService/DeleteImage",
                         *request, response,
                         &domain::ImageDomain::DeleteImageAsync);
}

grpc::ServerUnaryReactor* ImageServiceImpl::CreateImage(
    grpc::CallbackServerContext* context, const v1::CreateImageRequest* request,
    v1::CreateImageResponse* response) {
  return calls_.RunAsync(context, "/ecs.image.v1.ImageService/CreateImage",
                         *request, response,
                         &domain::ImageDomain::CreateImageAsync);
}

grpc::ServerUnaryReactor* ImageServiceImpl::CopyImage(
    grpc::CallbackServerContext* context, const v1::CopyImageRequest* request,
    v1::CopyImageResponse* response) {
  return calls_.RunAsync(context, "/ecs.image.v1.ImageService/CopyImage",
                         *request, response,
                         &domain::ImageDomain::CopyImageAsync);
}

grpc::ServerUnaryReactor* ImageServiceImpl::ModifyImageAttribute(
    grpc::CallbackServerContext* context,
    const v1::ModifyImageAttributeRequest* request,
    v1::ModifyImageAttributeResponse* response) {
  return calls_.RunAsync(
      context, "/ecs.image.v1.ImageService/ModifyImageAttribute", *request,
      response, &domain::ImageDomain::ModifyImageAttributeAsync);
}

grpc::ServerUnaryReactor* ImageServiceImpl::ModifyImageSharePermission(
    grpc::CallbackServerContext* context,
    const v1::ModifyImageSharePermissionRequest* request,
    v1::ModifyImageSharePermissionResponse* response) {
  return calls_.RunAsync(
      context, "/ecs.image.v1.ImageService/ModifyImageSharePermission",
      *request, response,
      &domain::ImageDomain::ModifyImageSharePermissionAsync);
}

grpc::ServerUnaryReactor* ImageServiceImpl::ImportImage(
    grpc::CallbackServerContext* context, const v1::ImportImageRequest* request,
    v1::ImportImageResponse* response) {
  return calls_.RunAsync(context, "/ecs.image.v1.ImageService/ImportImage",
                         *request, response,
                         &domain::ImageDomain::ImportImageAsync);
}

grpc::ServerUnaryReactor* ImageServiceImpl::ExportImage(
    grpc::CallbackServerContext* context, const v1::ExportImageRequest* request,
    v1::ExportImageResponse* response) {
  return calls_.RunAsync(context, "/ecs.image.v1.ImageService/ExportImage",
                         *request, response,
                         &domain::ImageDomain::ExportImageAsync);
}

grpc::ServerUnaryReactor* ImageServiceImpl::CancelTask(
    grpc::CallbackServerContext* context, const v1::CancelTaskRequest* request,
    v1::CancelTaskResponse* response) {
  return calls_.RunAsync(context, "/ecs.image.v1.ImageService/CancelTask",
                         *request, response,
                         &domain::ImageDomain::CancelTaskAsync);
}

grpc::Status ImageServiceImpl::DescribeImages(
    grpc::ServerContext* context, const v1::DescribeImagesRequest* request,
    v1::DescribeImagesResponse* response) {
  return calls_.Run(context, "/ecs.image.v1.ImageService/DescribeImages",
                    *request, response, &domain::ImageDomain::DescribeImages);
}

grpc::Status ImageServiceImpl::DescribeImageSharePermission(
    grpc::ServerContext* context,
    const v1::DescribeImageSharePermissionRequest* request,
    v1::DescribeImageSharePermissionResponse* response) {
  return calls_.Run(
      context, "/ecs.image.v1.ImageService/DescribeImageSharePermission",
      *request, response, &domain::ImageDomain::DescribeImageSharePermission);
}

grpc::Status ImageServiceImpl::DescribeTasks(
    grpc::ServerContext* context, const v1::DescribeTasksRequest* request,
    v1::DescribeTasksResponse* response) {
  return calls_.Run(context, "/ecs.image.v1.ImageService/DescribeTasks",
                    *request, response, &domain::ImageDomain::DescribeTasks);
}

grpc::ServerUnaryReactor* ImageServiceImpl::DescribeRegions(
    grpc::CallbackServerContext* context,
    const v1::DescribeRegionsRequest* request,
    v1::DescribeRegionsResponse* response) {
  return calls_.RunInline(context, "/ecs.image.v1.ImageService/DescribeRegions",
                          *request, response,
                          &domain::ImageDomain::DescribeRegions);
}

}  // namespace ecsimage::grpcapi
