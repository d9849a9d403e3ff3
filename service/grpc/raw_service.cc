#include "service/grpc/raw_service.h"

#include <grpcpp/impl/codegen/server_callback_handlers.h>
#include <grpcpp/impl/rpc_service_method.h>
#include <grpcpp/support/method_handler.h>

#include <cstdlib>
#include <iostream>
#include <utility>

namespace ecsimage::grpcapi {
namespace {

[[noreturn]] void Die(std::string_view what, std::string_view name) {
  std::cerr << "RawService: " << what << ": " << name << std::endl;
  std::abort();
}

}  // namespace

RawService::RawService(const google::protobuf::ServiceDescriptor& service,
                       std::vector<RawMethod> methods)
    : methods_(std::move(methods)) {
  std::vector<bool> used(methods_.size(), false);
  for (int i = 0; i < service.method_count(); ++i) {
    const google::protobuf::MethodDescriptor& m = *service.method(i);
    if (m.client_streaming() || m.server_streaming()) {
      Die("streaming methods are not supported", m.full_name());
    }
    size_t found = methods_.size();
    for (size_t j = 0; j < methods_.size(); ++j) {
      if (methods_[j].name != m.name()) continue;
      if (found != methods_.size()) Die("method bound twice", m.full_name());
      found = j;
    }
    if (found == methods_.size()) Die("method not bound", m.full_name());
    used[found] = true;
    const RawMethod& bound = methods_[found];
    if (bound.request_type != m.input_type() ||
        bound.response_type != m.output_type()) {
      Die("bound with other message types", m.full_name());
    }
    if ((bound.sync == nullptr) == (bound.callback == nullptr)) {
      Die("needs exactly one of sync and callback", m.full_name());
    }

    paths_.push_back("/" + service.full_name() + "/" + m.name());
    const std::string& path = paths_.back();
    if (bound.sync != nullptr) {
      // RpcMethodHandler with ByteBuffer as both types: gRPC hands the
      // body over unparsed (SerializationTraits<ByteBuffer> never fails).
      auto fn = bound.sync;
      AddMethod(new grpc::internal::RpcServiceMethod(
          path.c_str(), grpc::internal::RpcMethod::NORMAL_RPC,
          new grpc::internal::RpcMethodHandler<RawService, grpc::ByteBuffer,
                                               grpc::ByteBuffer>(
              [fn, &path](RawService*, grpc::ServerContext* context,
                          const grpc::ByteBuffer* request,
                          grpc::ByteBuffer* response) {
                return fn(path, context, *request, response);
              },
              this)));
    } else {
      auto fn = bound.callback;
      AddMethod(new grpc::internal::RpcServiceMethod(
          path.c_str(), grpc::internal::RpcMethod::NORMAL_RPC, nullptr));
      MarkMethodRawCallback(
          i, new grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer,
                                                      grpc::ByteBuffer>(
                 [fn, &path](grpc::CallbackServerContext* context,
                             const grpc::ByteBuffer* request,
                             grpc::ByteBuffer* response) {
                   return fn(path, context, *request, response);
                 }));
    }
  }
  for (size_t j = 0; j < methods_.size(); ++j) {
    if (!used[j]) Die("bound method is not in the service", methods_[j].name);
  }
}

const google::protobuf::ServiceDescriptor& ServiceNamed(std::string_view name) {
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          std::string(name));
  if (service == nullptr) Die("service not linked in", name);
  return *service;
}

}  // namespace ecsimage::grpcapi
