// RawService (service/grpc/raw_service.h) registers every method of a
// service descriptor, in order, and refuses at start a table that misses a
// method, names one twice or one that does not exist, or binds other
// message types: a new RPC cannot be left without its handler.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ecs/image/v1/image_service.grpc.pb.h"
#include "service/grpc/raw_service.h"

namespace ecsimage::grpcapi {
namespace {

namespace v1 = ::ecs::image::v1;

RawMethod Bound(const google::protobuf::MethodDescriptor& m) {
  RawMethod r;
  r.name = m.name();
  r.request_type = m.input_type();
  r.response_type = m.output_type();
  r.sync = [](std::string_view, grpc::ServerContext*, const grpc::ByteBuffer&,
              grpc::ByteBuffer*) { return grpc::Status::OK; };
  return r;
}

std::vector<RawMethod> AllOf(const google::protobuf::ServiceDescriptor& s) {
  std::vector<RawMethod> out;
  for (int i = 0; i < s.method_count(); ++i) out.push_back(Bound(*s.method(i)));
  return out;
}

const google::protobuf::ServiceDescriptor& Instances() {
  return ServiceNamed(v1::InstanceService::service_full_name());
}

TEST(RawServiceTest, RegistersEveryMethodInDescriptorOrder) {
  RawService service(Instances(), AllOf(Instances()));
  std::vector<std::string> paths(service.paths().begin(),
                                 service.paths().end());
  EXPECT_EQ(paths, (std::vector<std::string>{
                       "/ecs.image.v1.InstanceService/RunInstances",
                       "/ecs.image.v1.InstanceService/DeleteInstance",
                       "/ecs.image.v1.InstanceService/DescribeInstances"}));
  EXPECT_TRUE(service.has_synchronous_methods());
  EXPECT_FALSE(service.has_async_methods());
}

TEST(RawServiceDeathTest, MissingMethodAbortsNamingIt) {
  std::vector<RawMethod> methods = AllOf(Instances());
  methods.pop_back();
  EXPECT_DEATH(RawService(Instances(), methods),
               "method not bound: ecs.image.v1.InstanceService."
               "DescribeInstances");
}

TEST(RawServiceDeathTest, UnknownOrDoubleOrMistypedBindingAborts) {
  std::vector<RawMethod> extra = AllOf(Instances());
  extra.push_back(extra[0]);
  extra.back().name = "NoSuchMethod";
  EXPECT_DEATH(RawService(Instances(), extra),
               "bound method is not in the service: NoSuchMethod");

  std::vector<RawMethod> twice = AllOf(Instances());
  twice.push_back(twice[0]);
  EXPECT_DEATH(RawService(Instances(), twice), "method bound twice");

  std::vector<RawMethod> mistyped = AllOf(Instances());
  mistyped[0].request_type = v1::DeleteImageRequest::descriptor();
  EXPECT_DEATH(RawService(Instances(), mistyped),
               "bound with other message types");
}

}  // namespace
}  // namespace ecsimage::grpcapi
