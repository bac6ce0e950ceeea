#include "common/pkcs11/pkcs11_pin.h"

#include <stdlib.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "common/base/status.h"

namespace mecai {

absl::StatusOr<std::string> ReadPinFile(const std::string& path) {
  absl::StatusOr<std::string> contents = ReadFile(path, 4096);
  if (!contents.ok()) return Annotate(contents.status(), "cannot read the PIN file");
  std::string pin = std::move(contents).value();
  while (!pin.empty() && (pin.back() == '\n' || pin.back() == '\r')) pin.pop_back();
  if (pin.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("the PIN file ", path, " is empty"));
  }
  return pin;
}

absl::StatusOr<std::string> ReadPin(const v1::Pkcs11Config& config) {
  const bool from_file = !config.pin_file().empty();
  const bool from_environment = !config.pin_environment_variable().empty();
  if (from_file && from_environment) {
    return absl::InvalidArgumentError(
        "pkcs11.pin_file and pkcs11.pin_environment_variable are both set; set exactly one");
  }
  if (!from_file && !from_environment) {
    return absl::InvalidArgumentError(
        "neither pkcs11.pin_file nor pkcs11.pin_environment_variable is set; set exactly one");
  }
  if (from_file) return ReadPinFile(config.pin_file());

  const std::string& name = config.pin_environment_variable();
  // getenv only reads; nothing in the signer calls setenv once it serves.
  const char* value = getenv(name.c_str());
  if (value == nullptr) {
    return absl::NotFoundError(absl::StrCat("the PIN environment variable ", name,
                                            " (pkcs11.pin_environment_variable) is not set"));
  }
  std::string pin(value);
  while (!pin.empty() && (pin.back() == '\n' || pin.back() == '\r')) pin.pop_back();
  if (pin.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("the PIN environment variable ", name,
                                                   " (pkcs11.pin_environment_variable) is empty"));
  }
  return pin;
}

}  // namespace mecai
