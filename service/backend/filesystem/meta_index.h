// The filesystem backend's ImageDataIndex: one readdir pass over every
// region directory of the data root, keeping a 64-bit hash of each
// "<region>/<image>" whose .meta is a regular file (8 bytes an image: 8 MB
// for a million), so that the start-up check makes one lstat per image
// only for those the pass did not see.
#ifndef ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_META_INDEX_H_
#define ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_META_INDEX_H_

#include <memory>
#include <string>

#include "service/backend/backend.h"

namespace ecsimage::backend::filesystem {

std::unique_ptr<ImageDataIndex> IndexImageMetas(const std::string& data_root);

}  // namespace ecsimage::backend::filesystem

#endif  // ECSIMAGE_SERVICE_BACKEND_FILESYSTEM_META_INDEX_H_
