// Fuzzes the decoder of the ClientHello's mecai_feedback extension body (docs/TLS_EXTENSION.md;
// common/tls_extension/mecai_extension.h), which a stapling server runs on every handshake that
// carries it. The input is the extension body. A body that decodes must encode back to exactly
// itself.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/tls_extension/mecai_extension.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::vector<mecai::FeedbackEntry>> entries = mecai::DecodeFeedback(body);
  if (!entries.ok()) return 0;
  for (const mecai::FeedbackEntry& entry : *entries) {
    if (mecai::FeedbackReasonName(entry.reason) == nullptr) std::abort();
  }
  absl::StatusOr<std::string> encoded = mecai::EncodeFeedback(*entries);
  if (!encoded.ok() || *encoded != body) {
    std::fprintf(stderr, "a decoded MecaiFeedback does not encode back to its body\n");
    std::abort();
  }
  return 0;
}
