#include "service/backend/filesystem/image_format.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "service/backend/filesystem/failure_codes.h"

namespace ecsimage::backend::filesystem {
namespace {

constexpr absl::string_view kQcowMagic("QFI\xfb", 4);
constexpr absl::string_view kVhdCookie = "conectix";
constexpr absl::string_view kVhdxSignature = "vhdxfile";
// QCOW2 v3 incompatible feature bit 2: an external data file.
constexpr uint64_t kExternalDataFile = uint64_t{1} << 2;

uint64_t BigEndian(absl::string_view bytes, size_t offset, size_t width) {
  uint64_t value = 0;
  for (size_t i = 0; i < width; ++i) {
    value = (value << 8) | static_cast<unsigned char>(bytes[offset + i]);
  }
  return value;
}

DetectedFormat Refused(absl::string_view code, std::string message) {
  DetectedFormat out;
  out.failure_code = std::string(code);
  out.failure_message = std::move(message);
  return out;
}

DetectedFormat Qcow2(absl::string_view header) {
  if (header.size() < 72) {
    return Refused(kFailInvalidFormat, "QCOW2 header is truncated");
  }
  const uint64_t version = BigEndian(header, 4, 4);
  if (version != 2 && version != 3) {
    return Refused(kFailInvalidFormat,
                   absl::StrCat("QCOW2 version ", version, " is not 2 or 3"));
  }
  if (BigEndian(header, 8, 8) != 0 || BigEndian(header, 16, 4) != 0) {
    return Refused(kFailBackingFile,
                   "a QCOW2 image with a backing file is refused");
  }
  if (version == 3) {
    if (header.size() < 104) {
      return Refused(kFailInvalidFormat, "QCOW2 v3 header is truncated");
    }
    if ((BigEndian(header, 72, 8) & kExternalDataFile) != 0) {
      return Refused(kFailBackingFile,
                     "a QCOW2 image with an external data file is refused");
    }
  }
  const uint64_t size = BigEndian(header, 24, 8);
  if (size == 0 || size > (uint64_t{1} << 50)) {
    return Refused(kFailInvalidFormat, absl::StrCat("QCOW2 virtual size ", size,
                                                    " is out of range"));
  }
  DetectedFormat out;
  out.format = "QCOW2";
  out.virtual_size = static_cast<int64_t>(size);
  return out;
}

}  // namespace

DetectedFormat DetectFormat(absl::string_view header, absl::string_view tail,
                            int64_t file_size) {
  if (file_size <= 0) return Refused(kFailInvalidFormat, "the object is empty");
  if (header.substr(0, 4) == kQcowMagic) return Qcow2(header);
  if (header.substr(0, 8) == kVhdxSignature ||
      header.substr(0, 8) == kVhdCookie ||
      (tail.size() == 512 && tail.substr(0, 8) == kVhdCookie)) {
    return Refused(kFailUnsupportedFormat,
                   "VHD/VHDX images are not supported: convert to RAW or "
                   "QCOW2");
  }
  DetectedFormat out;
  out.format = "RAW";
  out.virtual_size = file_size;
  return out;
}

DetectedFormat DetectFormatOfFd(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return Refused(kFailIo, absl::StrCat("stat: ", std::strerror(errno)));
  }
  std::string header(512, '\0');
  ssize_t n = ::pread(fd, header.data(), header.size(), 0);
  if (n < 0)
    return Refused(kFailIo, absl::StrCat("read: ", std::strerror(errno)));
  header.resize(static_cast<size_t>(n));
  std::string tail;
  if (st.st_size >= 512) {
    tail.assign(512, '\0');
    n = ::pread(fd, tail.data(), tail.size(), st.st_size - 512);
    if (n != 512) tail.clear();
  }
  return DetectFormat(header, tail, st.st_size);
}

std::string FormatMismatchMessage(absl::string_view found,
                                  absl::string_view wanted) {
  return absl::StrCat("the object's content is ", found, ", not ", wanted,
                      " as its Format says");
}

}  // namespace ecsimage::backend::filesystem
