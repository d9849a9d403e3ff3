// gRPC adapter of ecs.image.v1.ImageService: every RPC is one call of the
// shared CallHandler around the ImageDomain method of the same name.
#ifndef ECSIMAGE_SERVICE_GRPC_IMAGE_SERVICE_IMPL_H_
#define ECSIMAGE_SERVICE_GRPC_IMAGE_SERVICE_IMPL_H_

#include <grpcpp/grpcpp.h>

#include "ecs/image/v1/image_service.grpc.pb.h"
#include "service/grpc/call_handler.h"

namespace ecsimage::grpcapi {

namespace v1 = ::ecs::image::v1;

// Three kinds of methods (BENCHMARKS.md has the figures):
// - writes are callback-API methods: the handler queues the write and
//   returns, the store finishes the call after the commit (CallHandler::
//   RunAsync), so no thread waits for an fsync and writes share commits;
// - DescribeRegions, short and never behind long reads, runs on the gRPC
//   thread that received it (CallHandler::RunInline);
// - the other reads may take milliseconds on a big database and run on the
//   synchronous server's threads, so they never hold up gRPC's own.
using ImageServiceBase = v1::ImageService::WithCallbackMethod_CancelCopyImage<
    v1::ImageService::WithCallbackMethod_DeleteImage<
        v1::ImageService::WithCallbackMethod_CreateImage<
            v1::ImageService::WithCallbackMethod_CopyImage<
                v1::ImageService::WithCallbackMethod_ModifyImageAttribute<
                    v1::ImageService::
                        WithCallbackMethod_ModifyImageSharePermission<
                            v1::ImageService::WithCallbackMethod_ImportImage<
                                v1::ImageService::WithCallbackMethod_ExportImage<
                                    v1::ImageService::
                                        WithCallbackMethod_CancelTask<
                                            v1::ImageService::
                                                WithCallbackMethod_DescribeRegions<
                                                    v1::ImageService::
                                                        Service>>>>>>>>>>;

class ImageServiceImpl final : public ImageServiceBase {
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
  grpc::ServerUnaryReactor* CreateImage(
      grpc::CallbackServerContext* context,
      const v1::CreateImageRequest* request,
      v1::CreateImageResponse* response) override;
  grpc::ServerUnaryReactor* CopyImage(grpc::CallbackServerContext* context,
                                      const v1::CopyImageRequest* request,
                                      v1::CopyImageResponse* response) override;
  grpc::ServerUnaryReactor* ModifyImageAttribute(
      grpc::CallbackServerContext* context,
      const v1::ModifyImageAttributeRequest* request,
      v1::ModifyImageAttributeResponse* response) override;
  grpc::ServerUnaryReactor* ModifyImageSharePermission(
      grpc::CallbackServerContext* context,
      const v1::ModifyImageSharePermissionRequest* request,
      v1::ModifyImageSharePermissionResponse* response) override;
  grpc::ServerUnaryReactor* ImportImage(
      grpc::CallbackServerContext* context,
      const v1::ImportImageRequest* request,
      v1::ImportImageResponse* response) override;
  grpc::ServerUnaryReactor* ExportImage(
      grpc::CallbackServerContext* context,
      const v1::ExportImageRequest* request,
      v1::ExportImageResponse* response) override;
  grpc::ServerUnaryReactor* CancelTask(
      grpc::CallbackServerContext* context,
      const v1::CancelTaskRequest* request,
      v1::CancelTaskResponse* response) override;

  grpc::Status DescribeImages(grpc::ServerContext* context,
                              const v1::DescribeImagesRequest* request,
                              v1::DescribeImagesResponse* response) override;
  grpc::Status DescribeImageSharePermission(
      grpc::ServerContext* context,
      const v1::DescribeImageSharePermissionRequest* request,
      v1::DescribeImageSharePermissionResponse* response) override;
  grpc::Status DescribeTasks(grpc::ServerContext* context,
                             const v1::DescribeTasksRequest* request,
                             v1::DescribeTasksResponse* response) override;

  grpc::ServerUnaryReactor* DescribeRegions(
      grpc::CallbackServerContext* context,
      const v1::DescribeRegionsRequest* request,
      v1::DescribeRegionsResponse* response) override;

 private:
  CallHandler& calls_;
};

}  // namespace ecsimage::grpcapi

#endif  // ECSIMAGE_SERVICE_GRPC_IMAGE_SERVICE_IMPL_H_
