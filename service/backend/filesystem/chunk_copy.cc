#include "service/backend/filesystem/chunk_copy.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "service/backend/filesystem/chunk_io.h"
#include "service/backend/filesystem/unique_fd.h"

namespace ecsimage::backend::filesystem {
namespace {

using Digest = std::string;  // 32 raw bytes

Digest Sha256(const void* data, size_t size) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data, size, out, &len, EVP_sha256(), nullptr);
  return Digest(reinterpret_cast<char*>(out), len);
}

// The digest of `size` zero bytes (cached: two sizes per image at most).
Digest ZeroDigest(int64_t size) {
  static std::mutex mu;
  static auto* cache = new std::map<int64_t, Digest>();
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache->find(size);
  if (it != cache->end()) return it->second;
  std::vector<char> zeros(static_cast<size_t>(size), 0);
  return cache->emplace(size, Sha256(zeros.data(), zeros.size())).first->second;
}

int64_t ChunkCount(int64_t size) {
  return (size + kChunkBytes - 1) / kChunkBytes;
}
int64_t ChunkLen(int64_t size, int64_t index) {
  return std::min(kChunkBytes, size - index * kChunkBytes);
}

std::string ImageDigest(const std::vector<Digest>& chunks) {
  std::string all;
  all.reserve(chunks.size() * 32);
  for (const Digest& d : chunks) all += d;
  Digest d = Sha256(all.data(), all.size());
  return HexDigest(reinterpret_cast<const unsigned char*>(d.data()));
}

bool AllZero(const char* p, size_t n) {
  return n == 0 || (p[0] == 0 && std::memcmp(p, p + 1, n - 1) == 0);
}

// Reads chunk `index` of `src` into `buf`; sets *zero when it is a hole or
// all zeros (a hole is not read).
absl::Status ReadChunkData(SourceReader& src, int64_t size, int64_t index,
                           char* buf, bool* zero) {
  const int64_t off = index * kChunkBytes;
  const int64_t len = ChunkLen(size, index);
  off_t data = ::lseek(src.fd(), off, SEEK_DATA);
  if ((data < 0 && errno == ENXIO) || (data >= 0 && data >= off + len)) {
    *zero = true;
    return absl::OkStatus();
  }
  if (absl::Status s = src.ReadExact(buf, len, off); !s.ok()) return s;
  *zero = AllZero(buf, static_cast<size_t>(len));
  return absl::OkStatus();
}

// Reads chunk `index` and returns its digest.
absl::StatusOr<Digest> ReadChunk(SourceReader& src, int64_t size, int64_t index,
                                 char* buf, bool* zero) {
  if (absl::Status s = ReadChunkData(src, size, index, buf, zero); !s.ok()) {
    return s;
  }
  const int64_t len = ChunkLen(size, index);
  return *zero ? ZeroDigest(len) : Sha256(buf, static_cast<size_t>(len));
}

// The digests the checkpoint file recorded, in order from chunk 0.
std::vector<Digest> ReadCheckpoint(int dir_fd, const std::string& name) {
  std::vector<Digest> kept;
  UniqueFd fd(
      ::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return kept;
  std::string text;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) text.append(buf, n);
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
    int64_t index = 0;
    if (f.size() != 2 || f[1].size() != 64 || !absl::SimpleAtoi(f[0], &index) ||
        index != static_cast<int64_t>(kept.size())) {
      break;  // a torn last line ends what was made durable
    }
    Digest d;
    for (size_t i = 0; i < 64; i += 2) {
      int v = 0;
      if (!absl::SimpleHexAtoi(f[1].substr(i, 2), &v)) return kept;
      d.push_back(static_cast<char>(v));
    }
    kept.push_back(std::move(d));
  }
  return kept;
}

}  // namespace

std::string HexDigest(const unsigned char* digest32) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 32; ++i) {
    out.push_back(kHex[digest32[i] >> 4]);
    out.push_back(kHex[digest32[i] & 15]);
  }
  return out;
}

std::string ImageDigestOfDisks(const std::vector<std::string>& hex_digests) {
  if (hex_digests.size() == 1) return hex_digests.front();
  std::vector<Digest> disks;
  for (const std::string& hex : hex_digests) {
    disks.push_back(absl::HexStringToBytes(hex));
  }
  return ImageDigest(disks);
}

std::string BlankImageDigest(int64_t size) {
  std::vector<Digest> chunks;
  for (int64_t i = 0; i < ChunkCount(size); ++i) {
    chunks.push_back(ZeroDigest(ChunkLen(size, i)));
  }
  return ImageDigest(chunks);
}

absl::StatusOr<std::string> DigestOfFile(int fd, int64_t size) {
  AlignedBuffer buf(static_cast<size_t>(std::min(size, kChunkBytes)));
  SourceReader src(fd);
  std::vector<Digest> chunks;
  for (int64_t i = 0; i < ChunkCount(size); ++i) {
    bool zero = false;
    absl::StatusOr<Digest> d = ReadChunk(src, size, i, buf.data(), &zero);
    if (!d.ok()) return d.status();
    chunks.push_back(*std::move(d));
  }
  return ImageDigest(chunks);
}

absl::StatusOr<std::string> CopyChunks(Files& files, int src_fd, int64_t size,
                                       const ChunkCopyTarget& target,
                                       const ChunkCopyControl& control) {
  std::vector<Digest> digests =
      ReadCheckpoint(target.ckpt_dir_fd, target.checkpoint);
  const int fd_or =
      files.OpenAt(target.dir_fd, target.part, O_RDWR | O_CREAT, 0644);
  if (fd_or < 0) return ErrnoError(-fd_or, "create data file");
  UniqueFd part(fd_or);
  // Two buffers: the next chunk is read (and hashed) into one while the
  // previous one is written from the other.
  const size_t buf_size = static_cast<size_t>(std::min(size, kChunkBytes));
  AlignedBuffer bufs[2] = {AlignedBuffer(buf_size), AlignedBuffer(buf_size)};

  // Keep only checkpointed chunks that still read back as recorded.
  size_t kept = 0;
  {
    SourceReader kept_reader(part.get());
    while (kept < digests.size() &&
           kept < static_cast<size_t>(ChunkCount(size))) {
      bool zero = false;
      absl::StatusOr<Digest> d =
          ReadChunk(kept_reader, size, kept, bufs[0].data(), &zero);
      if (!d.ok() || *d != digests[kept]) break;
      ++kept;
    }
  }
  digests.resize(kept);
  int64_t offset = static_cast<int64_t>(kept) * kChunkBytes;
  // Drop whatever was written after the checkpoint, then extend sparsely.
  if (int rc = files.Truncate(part.get(), std::min(offset, size)); rc < 0) {
    return ErrnoError(-rc, "truncate");
  }
  if (int rc = files.Truncate(part.get(), size); rc < 0) {
    return ErrnoError(-rc, "truncate");
  }
  if (control.resumed_bytes != nullptr) {
    *control.resumed_bytes = std::min(offset, size);
  }
  // The checkpoint is rewritten with exactly the kept chunks.
  const int ckpt_or = files.OpenAt(target.ckpt_dir_fd, target.checkpoint,
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (ckpt_or < 0) return ErrnoError(-ckpt_or, "create checkpoint");
  UniqueFd ckpt(ckpt_or);
  std::string pending;
  int64_t ckpt_bytes = 0;
  for (size_t i = 0; i < digests.size(); ++i) {
    pending += absl::StrCat(
        i, " ",
        HexDigest(reinterpret_cast<const unsigned char*>(digests[i].data())),
        "\n");
  }

  SourceReader src(src_fd);
  ChunkWriter writer(files, part.get(), target.dir_fd, target.part);
  // The write in flight, from bufs[writing_buf]; -errno or 0.
  std::future<int> writing;
  int writing_buf = 1;
  auto wait_write = [&]() -> absl::Status {
    if (!writing.valid()) return absl::OkStatus();
    const int rc = writing.get();
    return rc < 0 ? ErrnoError(-rc, "write data") : absl::OkStatus();
  };

  // Waits for the write in flight, then makes everything written durable:
  // data first, then the digests of the chunks it holds.
  auto flush = [&]() -> absl::Status {
    if (absl::Status s = wait_write(); !s.ok()) return s;
    if (int rc = files.Sync(part.get()); rc < 0) {
      return ErrnoError(-rc, "sync data");
    }
    if (!pending.empty()) {
      int rc = PWriteAll(files, ckpt.get(), pending.data(), pending.size(),
                         ckpt_bytes);
      if (rc < 0) return ErrnoError(-rc, "write checkpoint");
      ckpt_bytes += static_cast<int64_t>(pending.size());
      pending.clear();
      if (int rc2 = files.Sync(ckpt.get()); rc2 < 0) {
        return ErrnoError(-rc2, "sync checkpoint");
      }
    }
    if (control.done_bytes != nullptr) {
      control.done_bytes->store(control.base_bytes + std::min(offset, size));
    }
    return absl::OkStatus();
  };
  if (absl::Status s = flush(); !s.ok()) return s;
  // The two files' directory entries: without them a checkpoint survives a
  // power cut only by the file system's courtesy.
  for (int dir : {target.dir_fd, target.ckpt_dir_fd}) {
    if (int rc = files.Sync(dir); rc < 0) return ErrnoError(-rc, "sync dir");
  }

  const auto start = std::chrono::steady_clock::now();
  int64_t moved = 0;
  for (int64_t i = static_cast<int64_t>(kept); i < ChunkCount(size); ++i) {
    if (control.stop != nullptr && control.stop->load()) {
      wait_write().IgnoreError();
      return absl::CancelledError("stopped");
    }
    // Never the buffer the write in flight reads.
    char* buf = bufs[1 - writing_buf].data();
    bool zero = false;
    if (absl::Status rs = ReadChunkData(src, size, i, buf, &zero); !rs.ok()) {
      wait_write().IgnoreError();
      return rs;
    }
    const int64_t len = ChunkLen(size, i);
    Digest d;
    if (zero) {
      d = ZeroDigest(len);
    } else {
      if (absl::Status s = wait_write(); !s.ok()) return s;
      writing_buf = 1 - writing_buf;
      // The chunk is hashed here while it is written (both only read it).
      writing = std::async(std::launch::async, [&writer, buf, len, i] {
        return writer.Write(buf, len, i * kChunkBytes);
      });
      d = Sha256(buf, static_cast<size_t>(len));
    }
    pending += absl::StrCat(
        i, " ", HexDigest(reinterpret_cast<const unsigned char*>(d.data())),
        "\n");
    digests.push_back(std::move(d));
    offset = (i + 1) * kChunkBytes;
    moved += len;
    if (control.moved_bytes != nullptr) {
      control.moved_bytes->store(control.base_bytes + std::min(offset, size));
    }
    if ((i + 1) % kCheckpointChunks == 0) {
      if (absl::Status s = flush(); !s.ok()) return s;
    }
    // The bandwidth cap: never ahead of bytes/rate since the start.
    while (control.bandwidth_bytes_per_s > 0) {
      const auto due =
          start + std::chrono::microseconds(moved * 1000000 /
                                            control.bandwidth_bytes_per_s);
      if (std::chrono::steady_clock::now() >= due ||
          (control.stop != nullptr && control.stop->load())) {
        break;
      }
      std::this_thread::sleep_for(std::min<std::chrono::microseconds>(
          std::chrono::duration_cast<std::chrono::microseconds>(
              due - std::chrono::steady_clock::now()),
          std::chrono::milliseconds(50)));
    }
  }
  if (absl::Status s = flush(); !s.ok()) return s;
  return ImageDigest(digests);
}

}  // namespace ecsimage::backend::filesystem
