#include "service/grpc/image_service_impl.h"

#include <vector>

#include "ecs/image/v1/image_service.grpc.pb.h"
#include "service/grpc/raw_service.h"

namespace ecsimage::grpcapi {

std::unique_ptr<grpc::Service> NewImageService(CallHandler& calls) {
  using D = domain::ImageDomain;
  return std::make_unique<RawService>(
      ServiceNamed(::ecs::image::v1::ImageService::service_full_name()),
      std::vector<RawMethod>{
          calls.Async("CancelCopyImage", &D::CancelCopyImageAsync),
          calls.Async("DeleteImage", &D::DeleteImageAsync),
          calls.Async("CreateImage", &D::CreateImageAsync),
          calls.Async("CopyImage", &D::CopyImageAsync),
          calls.Sync("DescribeImages", &D::DescribeImages),
          calls.Async("ModifyImageAttribute", &D::ModifyImageAttributeAsync),
          calls.Async("ModifyImageSharePermission",
                      &D::ModifyImageSharePermissionAsync),
          calls.Sync("DescribeImageSharePermission",
                     &D::DescribeImageSharePermission),
          calls.Async("ImportImage", &D::ImportImageAsync),
          calls.Async("ExportImage", &D::ExportImageAsync),
          calls.Sync("DescribeTasks", &D::DescribeTasks),
          calls.Async("CancelTask", &D::CancelTaskAsync),
          calls.Inline("DescribeRegions", &D::DescribeRegions),
      });
}

}  // namespace ecsimage::grpcapi
