// Loads a binary's configuration: one protobuf message in text format per binary. Parse errors name
// the file, line and column; semantic validation is each service's own Validate*Config function.
#ifndef MECAI_COMMON_BASE_CONFIG_LOADER_H_
#define MECAI_COMMON_BASE_CONFIG_LOADER_H_

#include <string>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"

namespace mecai {

// Parses `path` (protobuf text format) into `message`. Unknown fields are errors.
absl::Status LoadTextProtoFile(const std::string& path, google::protobuf::Message* message);

template <typename Config>
absl::StatusOr<Config> LoadConfig(const std::string& path) {
  Config config;
  absl::Status status = LoadTextProtoFile(path, &config);
  if (!status.ok()) return status;
  return config;
}

// Collects "field: problem" sentences and turns them into one INVALID_ARGUMENT status.
class ConfigErrors {
 public:
  explicit ConfigErrors(std::string source) : source_(std::move(source)) {}
  // Records a problem unless `ok`.
  void Require(bool ok, const std::string& field, const std::string& problem) {
    if (!ok) Add(field, problem);
  }
  void Add(const std::string& field, const std::string& problem);
  absl::Status ToStatus() const;

 private:
  std::string source_;
  std::string errors_;
};

// Validates "host:port" with a numeric port (0 allowed when `allow_port_zero`).
bool IsValidHostPort(const std::string& address, bool allow_port_zero);

}  // namespace mecai

#endif  // MECAI_COMMON_BASE_CONFIG_LOADER_H_
