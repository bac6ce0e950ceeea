// Whole-file reads and crash-safe writes.
#ifndef MECAI_COMMON_BASE_FILES_H_
#define MECAI_COMMON_BASE_FILES_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mecai {

// Reads a whole file; NOT_FOUND / PERMISSION_DENIED name the path. Refuses files over `max_bytes`.
absl::StatusOr<std::string> ReadFile(const std::string& path, size_t max_bytes = 64 << 20);

// Writes `contents` to a temporary file beside `path`, fsyncs it and renames it over `path`, so a
// crash leaves either the old or the new file. `mode` is the new file's permission bits.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents,
                                 int mode = 0644);

}  // namespace mecai

#endif  // MECAI_COMMON_BASE_FILES_H_
