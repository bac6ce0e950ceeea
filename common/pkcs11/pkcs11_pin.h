// The user PIN of a PKCS#11 token, read from the file or environment variable its config names.
#ifndef MECAI_COMMON_PKCS11_PKCS11_PIN_H_
#define MECAI_COMMON_PKCS11_PKCS11_PIN_H_

#include <string>

#include "absl/status/statusor.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {

// The user PIN stored in `path`: the file's bytes without trailing CR/LF. NOT_FOUND /
// PERMISSION_DENIED name the file; an empty PIN is INVALID_ARGUMENT. The PIN itself never appears
// in a message.
absl::StatusOr<std::string> ReadPinFile(const std::string& path);

// The user PIN from whichever of config.pin_file() and config.pin_environment_variable() is set
// (trailing CR/LF removed from either). INVALID_ARGUMENT naming both fields when both or neither
// are set; NOT_FOUND naming the variable when it is not in the environment; INVALID_ARGUMENT when
// the PIN is empty; the errors of ReadPinFile for a file. The PIN never appears in a message or a
// log line.
absl::StatusOr<std::string> ReadPin(const v1::Pkcs11Config& config);

}  // namespace mecai

#endif  // MECAI_COMMON_PKCS11_PKCS11_PIN_H_
