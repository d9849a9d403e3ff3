// gRPC adapter of ecs.image.v1.ImageService: every RPC is one call of the
// shared CallHandler around the ImageDomain method of the same name, its
// body parsed by the handler after authentication (raw_service.h).
#ifndef ECSIMAGE_SERVICE_GRPC_IMAGE_SERVICE_IMPL_H_
#define ECSIMAGE_SERVICE_GRPC_IMAGE_SERVICE_IMPL_H_

#include <grpcpp/grpcpp.h>

#include <memory>

#include "service/grpc/call_handler.h"

namespace ecsimage::grpcapi {

// Three kinds of methods (BENCHMARKS.md has the figures):
// - writes are Async: the handler queues the write and returns, the store
//   finishes the call after the commit, so no thread waits for an fsync
//   and writes share commits;
// - DescribeRegions, short and never behind long reads, is Inline: it runs
//   on the gRPC thread that received it;
// - the other reads may take milliseconds on a big database and are Sync:
//   they run on the synchronous server's threads, so they never hold up
//   gRPC's own.
std::unique_ptr<grpc::Service> NewImageService(CallHandler& calls);

}  // namespace ecsimage::grpcapi

#endif  // ECSIMAGE_SERVICE_GRPC_IMAGE_SERVICE_IMPL_H_
