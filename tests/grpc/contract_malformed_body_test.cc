// Request bodies that are not valid protobuf: every RPC of ImageService,
// InstanceService and SimulationControl (enumerated from the service
// descriptors, so a new RPC is covered without a new line here) answers a
// truncated message, a string field that is not UTF-8 and an invalid wire
// type with InvalidParameter on "body" (400, INVALID_ARGUMENT, BadRequest,
// ErrorInfo, RequestInfo, x-acs-request-id), after authentication: without
// a valid token it is InvalidToken (UNAUTHENTICATED). Never UNIMPLEMENTED,
// never a detail-less INTERNAL (api.md §4).
//
// The bodies are hand-made bytes sent with grpc::GenericStub, which sends
// them as they are.
#include <google/protobuf/descriptor.h>
#include <grpcpp/generic/generic_stub.h>

#include <future>
#include <string>
#include <vector>

#include "tests/grpc/contract_helpers.h"

namespace ecsimage::testing::contract {
namespace {

using google::protobuf::FieldDescriptor;

constexpr char kMsgInvalidToken[] = "The bearer token is missing or not valid.";

// The three services of the contract, by full name (api.md §1).
const std::vector<std::string>& ServiceNames() {
  static const std::vector<std::string> kNames = {
      v1::ImageService::service_full_name(),
      v1::InstanceService::service_full_name(),
      v1::SimulationControl::service_full_name()};
  return kNames;
}

struct Method {
  std::string path;  // "/pkg.Service/Method"
  const google::protobuf::Descriptor* request;
};

std::vector<Method> AllMethods() {
  std::vector<Method> out;
  for (const std::string& name : ServiceNames()) {
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
            name);
    EXPECT_NE(service, nullptr) << name;
    if (service == nullptr) continue;
    EXPECT_GT(service->method_count(), 0) << name;
    for (int i = 0; i < service->method_count(); ++i) {
      out.push_back({"/" + name + "/" + service->method(i)->name(),
                     service->method(i)->input_type()});
    }
  }
  return out;
}

// Wire format by hand (protobuf encoding: tag = field << 3 | wire type).
std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}
std::string Tag(int field, int wire_type) {
  return Varint(static_cast<uint64_t>(field) << 3 | wire_type);
}
std::string LengthDelimited(int field, const std::string& bytes) {
  return Tag(field, 2) + Varint(bytes.size()) + bytes;
}

// The first `string` field (singular or repeated) of `message`, or null.
const FieldDescriptor* FirstStringField(
    const google::protobuf::Descriptor& message) {
  for (int i = 0; i < message.field_count(); ++i) {
    if (message.field(i)->type() == FieldDescriptor::TYPE_STRING) {
      return message.field(i);
    }
  }
  return nullptr;
}

struct Body {
  std::string what;
  std::string bytes;
};

// The malformed bodies for a request of type `message`.
std::vector<Body> MalformedBodies(const google::protobuf::Descriptor& message) {
  std::vector<Body> out;
  const FieldDescriptor* text = FirstStringField(message);
  const int field = text != nullptr ? text->number() : 1;
  // A well-formed field, then one whose length runs past the end.
  const std::string good = LengthDelimited(field, "cn-hangzhou");
  out.push_back({"truncated length-delimited field",
                 good + Tag(field, 2) + Varint(20) + "cn-hang"});
  out.push_back({"truncated varint", good + Tag(field, 0) + "\x80\x80"});
  out.push_back({"truncated tag", good + "\x80"});
  if (text != nullptr) {
    out.push_back({"invalid UTF-8 in string field " + text->name(),
                   LengthDelimited(field, std::string("m-\xc3\x28\xff", 5))});
    out.push_back({"overlong UTF-8 in string field " + text->name(),
                   LengthDelimited(field, std::string("\xc0\xaf", 2))});
  }
  out.push_back({"wire type 7", good + Tag(field, 7) + "\x01"});
  out.push_back({"wire type 6", Tag(field, 6) + "\x01"});
  out.push_back({"end group without start", good + Tag(field, 4)});
  out.push_back({"field number 0", Tag(0, 0) + "\x01"});
  return out;
}

class MalformedBodyTest : public ContractTest {
 protected:
  // Sends `body` as it is to `path` with `token` ("" = no authorization).
  Decoded Send(const std::string& path, const std::string& body,
               const std::string& token) {
    grpc::GenericStub stub(server_->channel());
    auto ctx = AuthContext(token);
    grpc::Slice slice(body);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    std::promise<grpc::Status> done;
    stub.UnaryCall(ctx.get(), path, grpc::StubOptions(), &request, &response,
                   [&done](grpc::Status s) { done.set_value(std::move(s)); });
    grpc::Status status = done.get_future().get();
    return Decode(status, *ctx);
  }

  void ExpectInvalidToken(const Decoded& d) {
    ExpectEcsError(d, grpc::StatusCode::UNAUTHENTICATED, "InvalidToken", 401,
                   kMsgInvalidToken, Detail::kNone);
  }
};

TEST_F(MalformedBodyTest, EveryMethodIsEnumerated) {
  std::vector<Method> methods = AllMethods();
  // 13 + 3 + 2 today; a new RPC only raises the count.
  EXPECT_GE(methods.size(), 18u);
}

TEST_F(MalformedBodyTest, MalformedBodyIsInvalidParameterOnBody) {
  int checked = 0;
  for (const Method& m : AllMethods()) {
    for (const Body& body : MalformedBodies(*m.request)) {
      SCOPED_TRACE(m.path + ": " + body.what);
      Decoded d = Send(m.path, body.bytes, alice_.token);
      ExpectInvalidParameter(d, "body");
      EXPECT_EQ(MetaOf(d, "parameter"), "body");
      ++checked;
    }
  }
  EXPECT_GE(checked, 18 * 7);
  // Still serving, and the malformed writes changed nothing.
  v1::DescribeRegionsResponse regions;
  ASSERT_CALL_OK(TryDescribeRegions(alice_, &regions));
  v1::DescribeImagesRequest req;
  req.set_region_id(kRegion);
  req.set_status(kAllStatuses);
  req.set_image_owner_alias("self");
  v1::DescribeImagesResponse images;
  ASSERT_CALL_OK(TryDescribeImages(alice_, req, &images));
  EXPECT_EQ(images.total_count(), 0);
}

TEST_F(MalformedBodyTest, AuthenticationIsDecidedFirst) {
  for (const Method& m : AllMethods()) {
    for (const Body& body : MalformedBodies(*m.request)) {
      SCOPED_TRACE(m.path + ": " + body.what);
      ExpectInvalidToken(Send(m.path, body.bytes, ""));
      ExpectInvalidToken(Send(m.path, body.bytes, alice_.token + "x"));
    }
  }
}

// The control: a well-formed body through the same raw path is parsed and
// reaches the domain (whatever it answers, it is not a body error).
TEST_F(MalformedBodyTest, WellFormedRawBodyReachesTheDomain) {
  for (const Method& m : AllMethods()) {
    SCOPED_TRACE(m.path);
    const FieldDescriptor* text = FirstStringField(*m.request);
    std::vector<std::string> bodies = {""};
    if (text != nullptr) {
      bodies.push_back(LengthDelimited(text->number(), "cn-hangzhou"));
      // Valid multi-byte UTF-8 is a string like any other.
      bodies.push_back(
          LengthDelimited(text->number(), "\xe6\x9d\xad\xe5\xb7\x9e"));
    }
    // An unknown field is skipped, as protobuf defines it.
    bodies.push_back(LengthDelimited(999, "anything"));
    for (const std::string& body : bodies) {
      Decoded d = Send(m.path, body, alice_.token);
      EXPECT_NE(d.code, grpc::StatusCode::UNIMPLEMENTED) << Describe(d);
      EXPECT_NE(d.code, grpc::StatusCode::INTERNAL) << Describe(d);
      EXPECT_TRUE(IsRequestIdShape(d.trailer_request_id));
      if (d.code != grpc::StatusCode::OK) {
        EXPECT_TRUE(d.has_error_info) << Describe(d);
        EXPECT_NE(MetaOf(d, "parameter"), "body") << Describe(d);
      }
    }
  }
  Decoded d =
      Send("/ecs.image.v1.ImageService/DescribeRegions", "", alice_.token);
  EXPECT_CALL_OK(d);
}

// A known field sent with another valid wire type is an unknown field
// (protobuf's rule): the request is read without it and gets the answer of
// a request without that field, not a body error.
TEST_F(MalformedBodyTest, MismatchedValidWireTypeIsAnUnknownField) {
  Decoded d =
      Send("/ecs.image.v1.ImageService/DeleteImage",
           Tag(1, 0) + Varint(7) + LengthDelimited(2, "m-x"), alice_.token);
  ExpectMissingParameter(d, "RegionId");
}

// The same bodies through a real stub's channel, without a token at all on
// a write and a read, are still InvalidToken (not INTERNAL or UNIMPLEMENTED,
// as before the raw methods).
TEST_F(MalformedBodyTest, NoTokenOnWriteAndReadIsUnauthenticated) {
  const std::string truncated = Tag(1, 2) + Varint(9) + "cn";
  ExpectInvalidToken(
      Send("/ecs.image.v1.ImageService/DeleteImage", truncated, ""));
  ExpectInvalidToken(
      Send("/ecs.image.v1.ImageService/DescribeImages", truncated, ""));
}

// A method that does not exist is still UNIMPLEMENTED (gRPC's own answer).
TEST_F(MalformedBodyTest, UnknownMethodIsUnimplemented) {
  Decoded d = Send("/ecs.image.v1.ImageService/NoSuchMethod", "", alice_.token);
  EXPECT_EQ(d.code, grpc::StatusCode::UNIMPLEMENTED);
}

}  // namespace
}  // namespace ecsimage::testing::contract
