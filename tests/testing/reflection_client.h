// A tiny client of grpc.reflection.v1alpha (the version Debian's gRPC
// serves), for tests that check what grpcurl would see. Header-only: its
// generated header exists only for the grpc_test target (see
// tests/CMakeLists.txt).
#ifndef ECSIMAGE_TESTS_TESTING_REFLECTION_CLIENT_H_
#define ECSIMAGE_TESTS_TESTING_REFLECTION_CLIENT_H_

#include <google/protobuf/descriptor.pb.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "src/proto/grpc/reflection/v1alpha/reflection.grpc.pb.h"

namespace ecsimage::testing {

namespace reflection = ::grpc::reflection::v1alpha;

// One request on a fresh reflection stream.
inline reflection::ServerReflectionResponse Reflect(
    const std::shared_ptr<grpc::Channel>& channel,
    const reflection::ServerReflectionRequest& request) {
  auto stub = reflection::ServerReflection::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(30));
  auto stream = stub->ServerReflectionInfo(&context);
  reflection::ServerReflectionResponse response;
  EXPECT_TRUE(stream->Write(request));
  EXPECT_TRUE(stream->WritesDone());
  EXPECT_TRUE(stream->Read(&response));
  reflection::ServerReflectionResponse extra;
  while (stream->Read(&extra)) {
  }
  grpc::Status status = stream->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response;
}

inline std::vector<std::string> ListServices(
    const std::shared_ptr<grpc::Channel>& channel) {
  reflection::ServerReflectionRequest request;
  request.set_list_services("");
  const reflection::ServerReflectionResponse response =
      Reflect(channel, request);
  std::vector<std::string> names;
  for (const auto& s : response.list_services_response().service()) {
    names.push_back(s.name());
  }
  return names;
}

// The names of the files of a file_descriptor_response.
inline std::vector<std::string> FileNames(
    const reflection::ServerReflectionResponse& response) {
  std::vector<std::string> names;
  for (const std::string& bytes :
       response.file_descriptor_response().file_descriptor_proto()) {
    google::protobuf::FileDescriptorProto file;
    EXPECT_TRUE(file.ParseFromString(bytes));
    names.push_back(file.name());
  }
  return names;
}

// The files the server returns for file_containing_symbol `symbol`.
inline std::vector<std::string> FilesContainingSymbol(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& symbol) {
  reflection::ServerReflectionRequest request;
  request.set_file_containing_symbol(symbol);
  reflection::ServerReflectionResponse response = Reflect(channel, request);
  EXPECT_FALSE(response.has_error_response())
      << symbol << ": " << response.error_response().error_message();
  return FileNames(response);
}

}  // namespace ecsimage::testing

#endif  // ECSIMAGE_TESTS_TESTING_REFLECTION_CLIENT_H_
