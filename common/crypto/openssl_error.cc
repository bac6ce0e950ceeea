#include "common/crypto/openssl_error.h"

#include <openssl/err.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace mecai {

void ClearOpenSslErrors() { ERR_clear_error(); }

absl::Status OpenSslError(absl::string_view what, absl::StatusCode code) {
  std::string detail;
  unsigned long error;  // NOLINT(runtime/int): OpenSSL's type.
  while ((error = ERR_get_error()) != 0) {
    char buffer[256];
    ERR_error_string_n(error, buffer, sizeof(buffer));
    if (!detail.empty()) detail += "; ";
    detail += buffer;
  }
  if (detail.empty()) return absl::Status(code, std::string(what));
  return absl::Status(code, absl::StrCat(what, ": ", detail));
}

}  // namespace mecai
