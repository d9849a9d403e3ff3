// A grpc::Service assembled from a protobuf ServiceDescriptor whose every
// method receives its request as raw bytes (grpc::ByteBuffer) and answers
// raw bytes. gRPC never parses the body itself, so a body that is not a
// valid message reaches CallHandler, which authenticates first and then
// answers InvalidParameter on "body" with the usual details (api.md §4);
// gRPC's own parser would answer UNIMPLEMENTED on a callback method and a
// bare INTERNAL on a synchronous one.
//
// Each method runs as one of CallHandler's kinds (Sync, Inline, Async: see
// call_handler.h); the service adapters (image_service_impl.cc, ...) are
// tables naming the kind and the domain method of each RPC. The service's
// name and method paths come from the descriptor, so reflection, health and
// the generated stubs see the same service as before.
#ifndef ECSIMAGE_SERVICE_GRPC_RAW_SERVICE_H_
#define ECSIMAGE_SERVICE_GRPC_RAW_SERVICE_H_

#include <google/protobuf/descriptor.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/service_type.h>

#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace ecsimage::grpcapi {

// One method of a RawService. Exactly one of `sync` and `callback` is set;
// `path` is the full gRPC method name, "/pkg.Service/Method", and lives as
// long as the service.
struct RawMethod {
  std::string name;  // the method's name in the service, "DeleteImage"
  const google::protobuf::Descriptor* request_type = nullptr;
  const google::protobuf::Descriptor* response_type = nullptr;
  // Runs on the synchronous server's threads.
  std::function<grpc::Status(std::string_view path, grpc::ServerContext*,
                             const grpc::ByteBuffer& request,
                             grpc::ByteBuffer* response)>
      sync;
  // A callback-API method.
  std::function<grpc::ServerUnaryReactor*(
      std::string_view path, grpc::CallbackServerContext*,
      const grpc::ByteBuffer& request, grpc::ByteBuffer* response)>
      callback;
};

class RawService final : public grpc::Service {
 public:
  // Registers every method of `service`, in the descriptor's order, with
  // the entry of `methods` of the same name. A method without an entry, an
  // entry for no method or twice for one, a request or response type other
  // than the descriptor's, or a streaming method is a programming error:
  // the process aborts with a message naming it, at start.
  RawService(const google::protobuf::ServiceDescriptor& service,
             std::vector<RawMethod> methods);

  // "/pkg.Service/Method" of every registered method, in order.
  const std::deque<std::string>& paths() const { return paths_; }

 private:
  // grpc::internal::RpcMethod keeps the name's pointer: the strings live
  // here, never moved (a deque does not move its elements on push_back).
  std::deque<std::string> paths_;
  std::vector<RawMethod> methods_;
};

// The descriptor of a service of the generated pool by full name
// ("ecs.image.v1.ImageService"); aborts when it is not linked in.
const google::protobuf::ServiceDescriptor& ServiceNamed(std::string_view name);

}  // namespace ecsimage::grpcapi

#endif  // ECSIMAGE_SERVICE_GRPC_RAW_SERVICE_H_
