// Hostile input never crashes the parsing pieces and always gets an ECS
// answer: random query strings, parameter names with dots and indexes,
// Authorization headers and timestamps (seeded, reproducible).
#include <random>
#include <string>

#include "ecs/image/v1/image_service.pb.h"
#include "gtest/gtest.h"
#include "service/domain/errors.h"
#include "service/ecs_http/flatten.h"
#include "service/ecs_http/signature_verifier.h"
#include "service/ecs_http/url_codec.h"

namespace ecsimage::ecs_http {
namespace {

std::string RandomText(std::mt19937& rng, size_t max_len) {
  static constexpr char kAlphabet[] =
      "aA1.=&%+_-~ /:;,\"'\\\x01\xff"
      "DiskDeviceMapping.AddAccount.Tag.Size.Key.0123456789";
  std::uniform_int_distribution<size_t> len(0, max_len);
  std::uniform_int_distribution<size_t> pick(0, sizeof(kAlphabet) - 2);
  std::string out;
  for (size_t n = len(rng); n > 0; --n) out.push_back(kAlphabet[pick(rng)]);
  return out;
}

TEST(HostileInputTest, ParsersNeverCrashAndRefuseWithCatalogCodes) {
  std::mt19937 rng(12);
  for (int i = 0; i < 3000; ++i) {
    const std::string text = RandomText(rng, 80);
    absl::StatusOr<ParamList> params = DecodeParams(text);
    ParamMap map;
    if (params.ok()) {
      for (auto& [k, v] : *params) map.emplace(k, v);
    }
    for (const char* msg :
         {"CreateImageRequest", "ModifyImageSharePermissionRequest",
          "CopyImageRequest", "DescribeImagesRequest"}) {
      std::unique_ptr<google::protobuf::Message> m;
      if (std::string(msg) == "CreateImageRequest") {
        m = std::make_unique<::ecs::image::v1::CreateImageRequest>();
      } else if (std::string(msg) == "CopyImageRequest") {
        m = std::make_unique<::ecs::image::v1::CopyImageRequest>();
      } else if (std::string(msg) == "DescribeImagesRequest") {
        m = std::make_unique<::ecs::image::v1::DescribeImagesRequest>();
      } else {
        m = std::make_unique<
            ::ecs::image::v1::ModifyImageSharePermissionRequest>();
      }
      absl::Status s = FillRequest(map, m.get());
      if (!s.ok()) {
        auto payload = domain::PayloadOf(s);
        ASSERT_TRUE(payload.has_value()) << s;
        EXPECT_EQ(payload->ecs_code(), "InvalidParameter");
      }
    }
    int64_t ms = 0;
    ParseAcsTimestamp(text, &ms);
  }
}

TEST(HostileInputTest, DeepIndexesAndGapsAreRefused) {
  ::ecs::image::v1::CreateImageRequest req;
  EXPECT_FALSE(FillRequest({{"DiskDeviceMapping.101.Size", "1"}}, &req).ok());
  EXPECT_FALSE(FillRequest({{"DiskDeviceMapping.1", "1"}}, &req).ok());
  EXPECT_FALSE(FillRequest({{"DiskDeviceMapping.1.Size.X", "1"}}, &req).ok());
  EXPECT_FALSE(FillRequest({{"DiskDeviceMapping.01.Size", "1"}}, &req).ok());
  EXPECT_FALSE(FillRequest({{"DiskDeviceMapping.2.Size", "1"}}, &req).ok());
  EXPECT_FALSE(FillRequest({{"DiskDeviceMapping.1.Nope", "1"}}, &req).ok());
  EXPECT_FALSE(FillRequest({{"Size", "99999999999"}}, &req).ok());
  EXPECT_FALSE(FillRequest({{"ImageName.1", "x"}}, &req).ok());
  // Values must be UTF-8, as over gRPC; names in errors stay printable.
  absl::Status bad = FillRequest({{"Description", "a\xff"}}, &req);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(domain::PayloadOf(bad)->ecs_code(), "InvalidParameter");
  EXPECT_TRUE(FillRequest({{"Description", "caf\xc3\xa9"}}, &req).ok());
  absl::Status named = FillRequest({{"N\xff\x01", "1"}}, &req);
  EXPECT_EQ(named.message(), "The specified parameter \"N??\" is not valid.");
  EXPECT_FALSE(IsUtf8("\xc0\xaf"));      // overlong
  EXPECT_FALSE(IsUtf8("\xed\xa0\x80"));  // surrogate
  EXPECT_FALSE(IsUtf8("\xe2\x82"));      // truncated
  EXPECT_TRUE(IsUtf8("\xf0\x9f\x98\x80"));
  ::ecs::image::v1::CreateImageRequest ok;
  ASSERT_TRUE(FillRequest({{"DiskDeviceMapping.1.Size", "20"},
                           {"DiskDeviceMapping.2.Size", "30"},
                           {"DiskDeviceMapping.2.Type", "data"}},
                          &ok)
                  .ok());
  ASSERT_EQ(ok.disk_device_mapping_size(), 2);
  EXPECT_EQ(ok.disk_device_mapping(1).size(), 30);
  EXPECT_EQ(ok.disk_device_mapping(1).type(), "data");
}

}  // namespace
}  // namespace ecsimage::ecs_http
