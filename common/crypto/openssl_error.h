// Converts the OpenSSL thread error queue into absl::Status, once, at the edge (CONTRIBUTING.md
// rule 5): clear the queue before a call (ClearOpenSslErrors), drain it into the Status after.
#ifndef MECAI_COMMON_CRYPTO_OPENSSL_ERROR_H_
#define MECAI_COMMON_CRYPTO_OPENSSL_ERROR_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mecai {

// Empties this thread's OpenSSL error queue.
void ClearOpenSslErrors();

// Returns a Status with `code`, "`what`: <drained OpenSSL errors>"; empties the queue.
absl::Status OpenSslError(absl::string_view what,
                          absl::StatusCode code = absl::StatusCode::kInternal);

}  // namespace mecai

#endif  // MECAI_COMMON_CRYPTO_OPENSSL_ERROR_H_
