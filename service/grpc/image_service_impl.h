// gRPC adapter of ecs.image.v1.ImageService: every RPC is one call of the
// shared CallHandler around the ImageDomain method of the same name.
#ifndef ECSIMAGE_SERVICE_GRPC_IMAGE_SERVICE_IMPL_H_
#define ECSIMAGE_SERVICE_GRPC_IMAGE_SERVICE_IMPL_H_

#include <grpcpp/grpcpp.h>

#include "ecs/image/v1/image_service.grpc.pb.h"
#include "service/grpc/call_handler.h"

namespace ecsimage::grpcapi {

namespace v1 = ::ecs::image::v1;

// CancelCopyImage and DeleteImage, the headline writes, are callback-API
// methods: the handler returns once the write is queued and the store
// finishes the call after the commit, so no thread waits for an fsync
// (BENCHMARKS.md: 1.7x the calls/s of the synchronous handler). The other
// RPCs are synchronous.
class ImageServiceImpl final
    : public v1::ImageService::WithCallbackMethod_CancelCopyImage<
          v1::ImageService::WithCallbackMethod_DeleteImage<
              v1::ImageService::Service>> {
 public:
  explicit ImageServiceImpl(CallHandler& calls) : calls_(calls) {}

  grpc::ServerUnaryReactor* CancelCopyImage(
      grpc::CallbackServerContext* context,
      const v1::CancelCopyImageRequest* request,
      v1::CancelCopyImageResponse* response) override;
  grpc::ServerUnaryReactor* DeleteImage(
      grpc::CallbackServerContext* context,
      const v1::DeleteImageRequest* request,
      v1::DeleteImageResponse* response) override;
  grpc::Status CreateImage(grpc::ServerContext* context,
                           const v1::CreateImageRequest* request,
                           v1::CreateImageResponse* response) override;
  grpc::Status CopyImage(grpc::ServerContext* context,
                         const v1::CopyImageRequest* request,
                         v1::CopyImageResponse* response) override;
  grpc::Status DescribeImages(grpc::ServerContext* context,
                              const v1::DescribeImagesRequest* request,
                              v1::DescribeImagesResponse* response) override;
  grpc::Status ModifyImageAttribute(
      grpc::ServerContext* context,
      const v1::ModifyImageAttributeRequest* request,
      v1::ModifyImageAttributeResponse* response) override;
  grpc::Status ModifyImageSharePermission(
      grpc::ServerContext* context,
      const v1::ModifyImageSharePermissionRequest* request,
      v1::ModifyImageSharePermissionResponse* response) override;
  grpc::Status DescribeImageSharePermission(
      grpc::ServerContext* context,
      const v1::DescribeImageSharePermissionRequest* request,
      v1::DescribeImageSharePermissionResponse* response) override;
  grpc::Status ImportImage(grpc::ServerContext* context,
                           const v1::ImportImageRequest* request,
                           v1::ImportImageResponse* response) override;
  grpc::Status ExportImage(grpc::ServerContext* context,
                           const v1::ExportImageRequest* request,
                           v1::ExportImageResponse* response) override;
  grpc::Status DescribeTasks(grpc::ServerContext* context,
                             const v1::DescribeTasksRequest* request,
                             v1::DescribeTasksResponse* response) override;
  grpc::Status CancelTask(grpc::ServerContext* context,
                          const v1::CancelTaskRequest* request,
                          v1::CancelTaskResponse* response) override;
  grpc::Status DescribeRegions(grpc::ServerContext* context,
                               const v1::DescribeRegionsRequest* request,
                               v1::DescribeRegionsResponse* response) override;

 private:
  CallHandler& calls_;
};

}  // namespace ecsimage::grpcapi

#endif  // ECSIMAGE_SERVICE_GRPC_IMAGE_SERVICE_IMPL_H_
