// The probe itself (DESIGN §1, probe_agent/): validate a ProbeTask, resolve the hostname with the
// agent's own resolver, connect to every resolved address the policy allows, record what each
// served, and sign the resulting Observation with the agent key (trust rule 1: the signature is
// over the serialized ObservationBody, which travels as `tbs`).
#ifndef MECAI_PROBE_AGENT_PROBER_H_
#define MECAI_PROBE_AGENT_PROBER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/address_policy.h"
#include "common/clock.h"
#include "common/signature.h"
#include "probe_agent/resolver.h"
#include "probe_agent/tls_fetcher.h"
#include "proto/mecai/v1/probe.pb.h"

namespace mecai {
namespace probe_agent {

// Bounds of one probe (trust rule 8). The defaults are ProbeAgentConfig's.
struct ProberLimits {
  // The whole resolution, A and AAAA together.
  absl::Duration resolution_timeout = absl::Milliseconds(5000);
  // Per address.
  absl::Duration connect_timeout = absl::Milliseconds(3000);
  absl::Duration handshake_timeout = absl::Milliseconds(5000);
  // Addresses beyond this many are not connected to; each is reported PROBE_OVERLOADED, so the
  // probe as a whole is not PROBE_OK: an Observation never claims addresses it did not check.
  int max_addresses_per_probe = 16;
  // Kept free before the coordinator's deadline for signing and answering: the smaller of this and
  // a tenth of the time left when the probe starts.
  absl::Duration deadline_reserve = absl::Milliseconds(200);
};

// Written into ObservationBody.agent_software.
inline constexpr char kAgentSoftware[] = "mecai-probe-agent/2 (epoll, OpenSSL 3, c-ares)";

// OK for a syntactically valid hostname: a literal IP address in canonical text (RFC 5952 for
// IPv6), or at most 253 characters of dot-separated LDH labels (RFC 1123 §2.1, RFC 5890 §2.3.1) of
// 1..63 lower-case letters, digits and inner hyphens, where "--" in positions 3-4 only appears in
// A-labels ("xn--") and the last label is not all-numeric (RFC 3696 §2). No trailing dot.
absl::Status ValidateHostname(const std::string& hostname);

// OK for a ProbeTask the agent may act on: a valid hostname, port 1..65535, a 32-byte
// vouching_request_sha256 and a nonce of 16..64 bytes. INVALID_ARGUMENT naming the field otherwise.
absl::Status ValidateProbeTask(const v1::ProbeTask& task);

// The outcome of a whole perspective from its per-address outcomes (ObservationBody.outcome):
//   no addresses                    -> PROBE_RESOLUTION_FAILED
//   every address PROBE_OK          -> PROBE_OK
//   every address forbidden         -> PROBE_FORBIDDEN_ADDRESS
//   otherwise                       -> the outcome of the first address that is not PROBE_OK
v1::ProbeOutcome OverallOutcome(const std::vector<v1::AddressObservation>& addresses);

// Thread-safe: all state is constant after construction, and the injected resolver, fetcher,
// signing key and clock are thread-safe. They must outlive the Prober.
class Prober {
 public:
  Prober(v1::Perspective perspective, Resolver& resolver, TlsFetcher& fetcher, AddressPolicy policy,
         SigningKey& signing_key, Clock& clock, ProberLimits limits);

  // Probes `task` and returns the signed Observation. Failures at the target (NXDOMAIN, refused
  // connections, failed handshakes, forbidden addresses) are outcomes inside the Observation.
  // Errors: INVALID_ARGUMENT for a task that fails ValidateProbeTask; INTERNAL (or the resolver's
  // own fault code) when the agent itself fails, e.g. it cannot sign.
  // `deadline` is the coordinator's (its gRPC deadline): resolution and every connection end by
  // then, less ProberLimits::deadline_reserve, whatever the configured timeouts allow; addresses
  // not done by then are reported with error_class DEADLINE_EXCEEDED.
  absl::StatusOr<v1::SignedObservation> Probe(const v1::ProbeTask& task,
                                              absl::Time deadline = absl::InfiniteFuture()) const;

 private:
  // Probes each address concurrently through TlsFetcher::FetchAsync (on the TLS engine's event
  // loops; at most max_addresses_per_probe) and waits for all of them.
  std::vector<v1::AddressObservation> ProbeAddresses(const std::vector<std::string>& addresses,
                                                     const v1::ProbeTask& task,
                                                     absl::Time deadline) const;

  const v1::Perspective perspective_;
  Resolver& resolver_;
  TlsFetcher& fetcher_;
  const AddressPolicy policy_;
  SigningKey& signing_key_;
  Clock& clock_;
  const ProberLimits limits_;
};

}  // namespace probe_agent
}  // namespace mecai

#endif  // MECAI_PROBE_AGENT_PROBER_H_
