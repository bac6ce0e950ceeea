// Client-side verification of Vouching Data (ARCHITECTURE.md §4; MECAI proposal "Client behaviour":
// "A client receiving VD will verify that it was indeed created by one of the candidate VAs the
// client has asked for, by validating the signatures against the respective CA certificates that
// are built into the client").
#ifndef MECAI_CLIENT_VD_VERIFIER_H_
#define MECAI_CLIENT_VD_VERIFIER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/va_list.h"
#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {

// The default oldest VD a client accepts (docs/VOUCHING_DATA.md "Maximum age"): four times the
// stapler's default refresh interval of 6 h (StaplerConfig.refresh_interval_ms), so a server
// whose stapler misses up to three refreshes keeps a VD clients accept, while a VD for a
// certificate revoked since stays usable for at most a day.
inline constexpr absl::Duration kDefaultMaxVdAge = absl::Hours(24);

struct VdExpectation {
  // The name the client connected to.
  std::string hostname;
  // The TCP port the client connected to (1..65535); 0 leaves the statement's port unchecked, for
  // callers that verify a VD file outside a connection.
  uint32_t port = 0;
  // The DER leaf certificate of this handshake.
  std::string certificate_der;
  // VA ids the client asked for; empty accepts any VA of the list.
  std::vector<std::string> candidate_vas;
  absl::Time now;
  // Oldest acceptable VD (operator-set); issued_at may be at most 5 minutes in the future.
  absl::Duration max_age = kDefaultMaxVdAge;
  // Accept only a VD whose statement says issuance was approved out of band (ARCHITECTURE.md §7,
  // VouchingStatement.issuance_approved_out_of_band), for clients that demand it.
  bool require_out_of_band_approval = false;
};

// The name a client verifies VDs for, by the one hostname rule every VR's hostname passed
// (common/net/dns_name.h, hostname_rules::kVouchingRequest): lower-cased (RFC 4343), and one
// trailing dot dropped, since "www.example.com." (an absolute name, RFC 1034 §3.1) is the same
// host. A name no VR can carry (an IP literal, a wildcard, an R-LDH label such as "ab--cd", an
// all-numeric top-level label…) is INVALID_ARGUMENT with the rule's reason.
absl::StatusOr<std::string> CanonicalClientHostname(absl::string_view hostname);

// Verifies, in order: the hostname asked for (CanonicalClientHostname), the VA chain builds to the
// CA certificate of a listed (candidate) VA that pins the VA certificate's key
// (VaListEntry.va_spki_sha256), the VA certificate carries id-kp-OCSPSigning (both
// client/va_chain.h), the signature over the statement verifies, the statement names that VA, the
// hostname and, when expected.port is set, the port, a vouched hash equal to the handshake
// certificate's, the age, and, when asked, out-of-band approval. The statement's
// issuance_approved_out_of_band is returned either way. Returns the statement, or PERMISSION_DENIED
// / INVALID_ARGUMENT with the failed check.
//
// The outcome of each chain-to-CA validation is remembered in `vas.verified_va_cache()`
// (client/verified_va_cache.h) while the validated path is valid, so a VD whose chain was seen
// before costs one signature verification and the statement checks, and a VD whose signature
// verified before under that chain costs one SHA-256 and the statement checks. Every result, and
// every rejection message, is the same as without the cache; the time is checked on every call.
absl::StatusOr<v1::VouchingStatement> VerifyVouchingData(const v1::VouchingData& vd,
                                                         const VaList& vas,
                                                         const VdExpectation& expected);

}  // namespace mecai

#endif  // MECAI_CLIENT_VD_VERIFIER_H_
