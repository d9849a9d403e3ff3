#include "tests/reliability/power_cut_journal.h"

#include <algorithm>
#include <utility>

namespace ecsimage::reliability {

void PowerCutJournal::AddExisting(const std::string& path,
                                  std::string content) {
  File& f = files_[path];
  f.durable = std::move(content);
  f.pending.clear();
}

void PowerCutJournal::Create(const std::string& path) {
  ++operations_;
  File& f = files_[path];
  std::optional<std::string> now = AllKept(f);
  if (now.has_value()) return;  // opening an existing file creates nothing
  ++directory_operations_;
  f.pending.push_back({Op::kCreate, 0, {}});
}

void PowerCutJournal::Write(const std::string& path, int64_t offset,
                            const char* data, int64_t n) {
  ++operations_;
  files_[path].pending.push_back(
      {Op::kWrite, offset, std::string(data, static_cast<size_t>(n))});
}

void PowerCutJournal::Truncate(const std::string& path, int64_t size) {
  ++operations_;
  files_[path].pending.push_back({Op::kTruncate, size, {}});
}

void PowerCutJournal::Delete(const std::string& path, bool dir_synced) {
  ++operations_;
  ++directory_operations_;
  File& f = files_[path];
  if (dir_synced) {
    f.durable.reset();
    f.pending.clear();
    return;
  }
  f.pending.push_back({Op::kDelete, 0, {}});
}

void PowerCutJournal::Sync(const std::string& path) {
  ++operations_;
  auto it = files_.find(path);
  if (it == files_.end()) return;
  it->second.durable = AllKept(it->second);
  it->second.pending.clear();
}

bool PowerCutJournal::Watches(const std::string& path) const {
  return files_.count(path) > 0;
}

std::optional<std::string> PowerCutJournal::Current(
    const std::string& path) const {
  auto it = files_.find(path);
  if (it == files_.end()) return std::nullopt;
  return AllKept(it->second);
}

void PowerCutJournal::ApplyWrite(std::string* content, int64_t offset,
                                 const std::string& data, int64_t from,
                                 int64_t to) {
  // Bytes [from, to) of `data`, written at offset + from.
  const size_t end = static_cast<size_t>(offset + to);
  if (content->size() < end) content->resize(end, '\0');
  std::copy(data.begin() + from, data.begin() + to,
            content->begin() + offset + from);
}

std::optional<std::string> PowerCutJournal::AllKept(const File& file) {
  std::optional<std::string> content = file.durable;
  for (const Op& op : file.pending) {
    switch (op.kind) {
      case Op::kCreate:
        if (!content.has_value()) content.emplace();
        break;
      case Op::kDelete:
        content.reset();
        break;
      case Op::kTruncate:
        if (content.has_value()) content->resize(op.offset, '\0');
        break;
      case Op::kWrite:
        if (!content.has_value()) content.emplace();
        ApplyWrite(&*content, op.offset, op.data, 0,
                   static_cast<int64_t>(op.data.size()));
        break;
    }
  }
  return content;
}

std::map<std::string, std::string> PowerCutJournal::Cut(
    PowerCutCounts* counts) {
  std::map<std::string, std::string> out;
  std::uniform_int_distribution<int> three(0, 2);
  std::bernoulli_distribution half(0.5);
  for (const auto& [path, file] : files_) {
    std::optional<std::string> content = file.durable;
    // Whether the file's directory entry exists after the cut; a write to
    // a file whose entry is lost is lost with it.
    bool entry = content.has_value();
    for (const Op& op : file.pending) {
      switch (op.kind) {
        case Op::kCreate:
        case Op::kDelete: {
          const bool kept = half(rng_);
          (kept ? counts->other_kept : counts->other_lost)++;
          if (!kept) break;
          if (op.kind == Op::kCreate) {
            entry = true;
            if (!content.has_value()) content.emplace();
          } else {
            entry = false;
            content.reset();
          }
          break;
        }
        case Op::kTruncate: {
          const bool kept = half(rng_);
          (kept ? counts->other_kept : counts->other_lost)++;
          if (kept && content.has_value()) content->resize(op.offset, '\0');
          break;
        }
        case Op::kWrite: {
          const int fate = three(rng_);
          const int64_t n = static_cast<int64_t>(op.data.size());
          if (fate == 1) {
            counts->writes_lost++;
            break;
          }
          if (!content.has_value()) content.emplace();
          if (fate == 0) {
            counts->writes_kept++;
            ApplyWrite(&*content, op.offset, op.data, 0, n);
            break;
          }
          counts->writes_torn++;
          // Sector by sector of the file: [from, to) within the data.
          int64_t from = 0;
          while (from < n) {
            const int64_t sector_end =
                ((op.offset + from) / kPowerCutSectorSize + 1) *
                kPowerCutSectorSize;
            const int64_t to = std::min(n, sector_end - op.offset);
            if (half(rng_)) ApplyWrite(&*content, op.offset, op.data, from, to);
            from = to;
          }
          break;
        }
      }
    }
    if (entry && content.has_value()) out[path] = *std::move(content);
  }
  return out;
}

}  // namespace ecsimage::reliability
