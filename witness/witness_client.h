// The client side of tlog-witness add-checkpoint (https://c2sp.org/tlog-witness): one POST, its
// status, Content-Type and body, whatever the status (a 409's body is the witness's size).
#ifndef MECAI_WITNESS_WITNESS_CLIENT_H_
#define MECAI_WITNESS_WITNESS_CLIENT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace mecai {
namespace witness {

struct WitnessAnswer {
  int status = 0;
  std::string content_type;
  std::string body;
};

// Bytes of an answer at most (a few cosignature lines, or a size).
inline constexpr size_t kMaxWitnessAnswerBytes = 16 << 10;

// POSTs `body` to `url` with libcurl: no redirects, no proxy, http and https only (https verified
// against `ca_file`, or the system's CA store when empty), the whole exchange within `timeout`.
// DEADLINE_EXCEEDED after the timeout, UNAVAILABLE when the witness cannot be reached,
// RESOURCE_EXHAUSTED for an answer beyond kMaxWitnessAnswerBytes, INVALID_ARGUMENT for a URL
// that is not http(s). Thread-safe.
absl::StatusOr<WitnessAnswer> PostToWitness(const std::string& url, const std::string& body,
                                            absl::Duration timeout,
                                            const std::string& ca_file = "");

}  // namespace witness
}  // namespace mecai

#endif  // MECAI_WITNESS_WITNESS_CLIENT_H_
