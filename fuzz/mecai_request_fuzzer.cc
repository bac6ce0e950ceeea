// Fuzzes the decoders of the ClientHello's mecai_vouching and mecai_vouching_request extension
// bodies (docs/TLS_EXTENSION.md §2; common/tls_extension/mecai_extension.h), which a stapling
// server runs on every handshake. The input is the extension body. A body that decodes must encode
// back to exactly itself (the codec is strict), and both decoders agree on every non-empty body.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/tls_extension/mecai_extension.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<mecai::MecaiRequest> request = mecai::DecodeMecaiRequest(body);
  absl::StatusOr<mecai::MecaiRequest> separate = mecai::DecodeVouchingRequest(body);
  if (separate.ok() != (request.ok() && !body.empty())) {
    std::fprintf(stderr, "mecai_vouching and mecai_vouching_request disagree on a body\n");
    std::abort();
  }
  if (!request.ok()) return 0;
  absl::StatusOr<std::string> encoded = mecai::EncodeMecaiRequest(*request);
  if (!encoded.ok() || *encoded != body) {
    std::fprintf(stderr, "a decoded MecaiVouchingRequest does not encode back to its body\n");
    std::abort();
  }
  return 0;
}
