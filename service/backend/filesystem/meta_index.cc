#include "service/backend/filesystem/meta_index.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "service/backend/filesystem/dir_entries.h"
#include "service/backend/filesystem/unique_fd.h"

namespace ecsimage::backend::filesystem {
namespace {

uint64_t KeyOf(std::string_view region_id, std::string_view image_id) {
  std::string key;
  key.reserve(region_id.size() + 1 + image_id.size());
  key.append(region_id).push_back('/');
  key.append(image_id);
  return std::hash<std::string>()(key);
}

class MetaIndex : public ImageDataIndex {
 public:
  explicit MetaIndex(std::vector<uint64_t> keys) : keys_(std::move(keys)) {}
  bool Has(std::string_view region_id,
           std::string_view image_id) const override {
    return std::binary_search(keys_.begin(), keys_.end(),
                              KeyOf(region_id, image_id));
  }

 private:
  std::vector<uint64_t> keys_;  // sorted
};

}  // namespace

std::unique_ptr<ImageDataIndex> IndexImageMetas(const std::string& data_root) {
  std::vector<uint64_t> keys;
  UniqueFd root(::open(data_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return std::make_unique<MetaIndex>(std::move(keys));
  std::vector<std::string> regions;
  ForEachEntry(root.get(), [&](std::string_view name, unsigned char) {
    if (name[0] != '.') regions.emplace_back(name);
  });
  constexpr std::string_view kMeta = ".meta";
  for (const std::string& region : regions) {
    UniqueFd dir(::openat(root.get(), region.c_str(),
                          O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir.valid()) continue;
    ForEachEntry(dir.get(), [&](std::string_view name, unsigned char type) {
      // A regular <image>.meta: not a temporary (leading '.'), not of an
      // unknown type (those are asked about one by one). A data disk's
      // <image>.meta.<N> does not end in .meta.
      if (type != DT_REG || name.size() <= kMeta.size() || name[0] == '.' ||
          name.substr(name.size() - kMeta.size()) != kMeta) {
        return;
      }
      const std::string_view id = name.substr(0, name.size() - kMeta.size());
      if (id.find('.') != std::string_view::npos) return;
      keys.push_back(KeyOf(region, id));
    });
  }
  std::sort(keys.begin(), keys.end());
  return std::make_unique<MetaIndex>(std::move(keys));
}

}  // namespace ecsimage::backend::filesystem
