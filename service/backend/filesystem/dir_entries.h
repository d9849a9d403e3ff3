// The entries of an open directory, read in one readdir pass (the
// directory's descriptor stays the caller's).
#ifndef ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_DIR_ENTRIES_H_
#define ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_DIR_ENTRIES_H_

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <string_view>

namespace ecsimage::backend::filesystem {

// Calls fn(name, d_type) for each entry but "." and "..", from the start of
// the directory whatever its descriptor's position.
template <typename Fn>
void ForEachEntry(int dir_fd, Fn&& fn) {
  const int dup = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return;
  DIR* dir = ::fdopendir(dup);
  if (dir == nullptr) {
    ::close(dup);
    return;
  }
  ::rewinddir(dir);
  while (struct dirent* e = ::readdir(dir)) {
    const std::string_view name = e->d_name;
    if (name != "." && name != "..") fn(name, e->d_type);
  }
  ::closedir(dir);
}

}  // namespace ecsimage::backend::filesystem

#endif  // ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_DIR_ENTRIES_H_
