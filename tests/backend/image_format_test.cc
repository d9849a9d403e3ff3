// Format recognition by content: RAW, QCOW2 header checks, VHD refused.
#include "service/backend/filesystem/image_format.h"

#include <cstdint>
#include <string>

#include "gtest/gtest.h"
#include "service/backend/filesystem/failure_codes.h"

namespace ecsimage::backend::filesystem {
namespace {

void PutBe(std::string& s, size_t off, uint64_t v, int width) {
  for (int i = width - 1; i >= 0; --i) {
    s[off + i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

std::string Qcow2Header(int version, uint64_t size) {
  std::string h(512, '\0');
  h.replace(0, 4, std::string("QFI\xfb", 4));
  PutBe(h, 4, version, 4);
  PutBe(h, 24, size, 8);
  PutBe(h, 100, version == 3 ? 104 : 72, 4);
  return h;
}

TEST(ImageFormatTest, RawIsTheRest) {
  DetectedFormat f = DetectFormat("\x7f", "", 1);
  EXPECT_EQ(f.format, "RAW");
  EXPECT_EQ(f.virtual_size, 1);
}

TEST(ImageFormatTest, EmptyIsRefused) {
  EXPECT_EQ(DetectFormat("", "", 0).failure_code, kFailInvalidFormat);
}

TEST(ImageFormatTest, Qcow2VirtualSize) {
  for (int version : {2, 3}) {
    DetectedFormat f =
        DetectFormat(Qcow2Header(version, uint64_t{5} << 30), "", 4096);
    EXPECT_EQ(f.format, "QCOW2") << version;
    EXPECT_EQ(f.virtual_size, int64_t{5} << 30);
  }
}

TEST(ImageFormatTest, Qcow2BadVersionOrSizeOrTruncated) {
  EXPECT_EQ(DetectFormat(Qcow2Header(4, 1 << 20), "", 4096).failure_code,
            kFailInvalidFormat);
  EXPECT_EQ(DetectFormat(Qcow2Header(3, 0), "", 4096).failure_code,
            kFailInvalidFormat);
  EXPECT_EQ(
      DetectFormat(Qcow2Header(3, 1 << 20).substr(0, 40), "", 40).failure_code,
      kFailInvalidFormat);
}

TEST(ImageFormatTest, BackingFileAndExternalDataRefused) {
  std::string backed = Qcow2Header(3, 1 << 20);
  PutBe(backed, 8, 512, 8);  // backing_file_offset
  PutBe(backed, 16, 10, 4);  // backing_file_size
  EXPECT_EQ(DetectFormat(backed, "", 4096).failure_code, kFailBackingFile);
  std::string external = Qcow2Header(3, 1 << 20);
  PutBe(external, 72, 4, 8);  // incompatible feature: external data file
  EXPECT_EQ(DetectFormat(external, "", 4096).failure_code, kFailBackingFile);
}

TEST(ImageFormatTest, VhdRefusedAsUnsupported) {
  std::string footer(512, '\0');
  footer.replace(0, 8, "conectix");
  EXPECT_EQ(DetectFormat(std::string(512, '\0'), footer, 4096).failure_code,
            kFailUnsupportedFormat);
  EXPECT_EQ(
      DetectFormat("vhdxfile" + std::string(504, '\0'), "", 4096).failure_code,
      kFailUnsupportedFormat);
}

}  // namespace
}  // namespace ecsimage::backend::filesystem
