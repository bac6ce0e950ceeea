// The wire format of the MECAI TLS extensions (ARCHITECTURE.md §5; docs/TLS_EXTENSION.md is the
// specification). Both the stapling server and the client use this codec; it does no I/O and
// touches no OpenSSL object. Vectors are encoded as in RFC 8446 §3.4: a big-endian length prefix of
// the width the ceiling needs, followed by the elements.
//
//   ClientHello, extension mecai_vouching (default code point 65280):
//     empty                                  -- what clients send; "send every VD you hold"
//                                               unless mecai_vouching_request narrows it
//     MecaiVouchingRequest                   -- the form of clients before
//                                               mecai_vouching_request; read by our server only
//
//   ClientHello, extension mecai_vouching_request (default code point 65283), beside
//   mecai_vouching; stock servers ignore it (RFC 8446 §4.2: unknown extensions are ignored):
//     struct {
//         opaque trust_list<0..255>;
//         VaId candidate_vas<2..2^16-1>;     -- at least one VA id
//     } MecaiVouchingRequest;
//     opaque VaId<1..255>;
//
//   Server (TLS 1.2 ServerHello, TLS 1.3 end-entity CertificateEntry), the shape of RFC 6962
//   §3.3's SignedCertificateTimestampList:
//     opaque SerializedVouchingData<1..2^16-1>;
//     struct { SerializedVouchingData vouching_data_list<1..2^16-1>; } VouchingDataList;
//
//   ClientHello, extension mecai_feedback (default code point 65282; 65281 is
//   renegotiation_info, RFC 5746):
//     enum { no_vouching_data(1), invalid_vouching_data(2), (255) } FeedbackReason;
//     struct { VaId va_id; FeedbackReason reason; } FeedbackEntry;
//     struct { FeedbackEntry entries<4..2^16-1>; } MecaiFeedback;
//
// Decoders are strict: every length must fit, nothing may trail, limits below apply. They return
// INVALID_ARGUMENT with the first violation and never read outside the input.
#ifndef MECAI_COMMON_TLS_EXTENSION_MECAI_EXTENSION_H_
#define MECAI_COMMON_TLS_EXTENSION_MECAI_EXTENSION_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mecai {

// Private-use code points (RFC 8446 §4.2: 65280–65535 are reserved for private use) until IANA
// assigns them; all are configurable. 65281 is renegotiation_info (RFC 5746).
inline constexpr uint16_t kDefaultMecaiExtensionType = 65280;
inline constexpr uint16_t kDefaultMecaiFeedbackExtensionType = 65282;
inline constexpr uint16_t kDefaultMecaiRequestExtensionType = 65283;

// Limits a decoder enforces (an encoder refuses to exceed them).
inline constexpr size_t kMaxCandidateVas = 16;
inline constexpr size_t kMaxVouchingDataPerList = 16;
inline constexpr size_t kMaxFeedbackEntries = 16;
inline constexpr size_t kMaxVaIdBytes = 255;
inline constexpr size_t kMaxTrustListBytes = 255;
// An extension body is at most 2^16-1 bytes (RFC 8446 §4.2 extension_data<0..2^16-1>).
inline constexpr size_t kMaxExtensionBytes = 65535;

// What the client asks for in its ClientHello.
struct MecaiRequest {
  // The trust-list context (ARCHITECTURE.md §6); empty: any.
  std::string trust_list;
  // The candidate VA ids; empty only in the "send everything" form (an empty extension).
  std::vector<std::string> candidate_vas;

  bool AsksForEverything() const { return candidate_vas.empty(); }
};

// The body of mecai_vouching. An empty request encodes as the empty body, and the empty body
// decodes as the empty request; any other body is a MecaiVouchingRequest. INVALID_ARGUMENT for a
// trust list without candidates, over the limits, a VA id or trust list that is not printable
// ASCII (0x21..0x7e), or a repeated id.
absl::StatusOr<std::string> EncodeMecaiRequest(const MecaiRequest& request);
absl::StatusOr<MecaiRequest> DecodeMecaiRequest(absl::string_view body);

// The body of mecai_vouching_request: always a MecaiVouchingRequest naming at least one candidate
// VA. The same rules as above, and INVALID_ARGUMENT for the empty request or the empty body (a
// client that asks for everything sends no mecai_vouching_request).
absl::StatusOr<std::string> EncodeVouchingRequest(const MecaiRequest& request);
absl::StatusOr<MecaiRequest> DecodeVouchingRequest(absl::string_view body);

// Encodes as many of `serialized_vds` (in order) as fit in one extension body and the per-list
// limit; empty elements are skipped. Returns "" when none fits (the server then omits the
// extension).
std::string EncodeVouchingDataList(const std::vector<std::string>& serialized_vds);
// The elements of a VouchingDataList (not yet parsed as VouchingData).
absl::StatusOr<std::vector<std::string>> DecodeVouchingDataList(absl::string_view body);

enum class FeedbackReason : uint8_t {
  // The client asked the VA and the server sent no VD from it.
  kNoVouchingData = 1,
  // The server sent a VD naming the VA and it failed verification.
  kInvalidVouchingData = 2,
};
// "no_vouching_data", "invalid_vouching_data" (bounded metric label values).
const char* FeedbackReasonName(FeedbackReason reason);

struct FeedbackEntry {
  std::string va_id;
  FeedbackReason reason = FeedbackReason::kNoVouchingData;

  bool operator==(const FeedbackEntry& other) const {
    return va_id == other.va_id && reason == other.reason;
  }
};

// INVALID_ARGUMENT when empty, over kMaxFeedbackEntries, or with an invalid VA id or reason.
absl::StatusOr<std::string> EncodeFeedback(const std::vector<FeedbackEntry>& entries);
absl::StatusOr<std::vector<FeedbackEntry>> DecodeFeedback(absl::string_view body);

}  // namespace mecai

#endif  // MECAI_COMMON_TLS_EXTENSION_MECAI_EXTENSION_H_
