// Anything unexpected (a broken invariant, a corrupt row) answers ECS
// InternalError with its frozen message and standard details (api.md §4):
// no SQL and no internal text reaches the client, and nothing is half-done.
#include "tests/grpc/contract_helpers.h"

namespace ecsimage::testing::contract {
namespace {

constexpr char kMsgInternal[] =
    "The request processing has failed due to some unknown error.";

class InternalErrorTest : public ContractTest {
 protected:
  // Writes to the server's database behind its back, as disk corruption or
  // a foreign tool would (the statement in each store's dialect).
  void Corrupt(const std::string& sqlite_sql, const std::string& pg_sql) {
    absl::Status written =
        server_->database().ExecBehindTheBack(sqlite_sql, pg_sql);
    ASSERT_TRUE(written.ok()) << written;
  }

  v1::CreateImageRequest CreateRequest() {
    v1::CreateImageRequest req;
    req.set_region_id(kRegion);
    req.set_image_name("remembered");
    req.set_client_token("token-internal");
    return req;
  }
};

TEST_F(InternalErrorTest, CorruptStoredResponseIsInternalErrorWithoutItsCause) {
  v1::CreateImageResponse first;
  ASSERT_CALL_OK(TryCreateImage(alice_, CreateRequest(), &first));
  Corrupt(
      "UPDATE client_tokens SET response = x'ffffffff' "
      "WHERE token = 'token-internal'",
      "UPDATE client_tokens SET response = '\\xffffffff'::bytea "
      "WHERE token = 'token-internal'");

  Decoded d = TryCreateImage(alice_, CreateRequest());
  EXPECT_ECS_ERROR(d, grpc::StatusCode::INTERNAL, "InternalError", 500,
                   kMsgInternal, Detail::kNone);
  // Only code, httpStatus and requestId: the cause ("stored client token
  // response is corrupt") is logged with the RequestId, never sent.
  for (const auto& [key, value] : d.error_info.metadata()) {
    EXPECT_TRUE(key == "code" || key == "httpStatus" || key == "requestId")
        << key << "=" << value;
    EXPECT_EQ(value.find("corrupt"), std::string::npos) << key;
  }
  EXPECT_EQ(d.message.find("token"), std::string::npos);
  // Nothing half-done: still exactly the one image of the first call.
  std::vector<v1::Image> images = ListImages(alice_, kRegion, "self");
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].image_id(), first.image_id());
}

}  // namespace
}  // namespace ecsimage::testing::contract
