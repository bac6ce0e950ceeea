// The probe itself (ARCHITECTURE.md §1, probe_agent/): validate a ProbeTask, resolve the hostname
// with the agent's own resolver, connect to every resolved address the policy allows, record what
// each served, and sign the resulting Observation with the agent key (trust rule 1: the signature
// is over the serialized ObservationBody, which travels as `tbs`).
#ifndef MECAI_PROBE_AGENT_PROBER_H_
#define MECAI_PROBE_AGENT_PROBER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/base/clock.h"
#include "common/crypto/signature.h"
#include "common/net/address_policy.h"
#include "probe_agent/resolver.h"
#include "probe_agent/tls_engine.h"
#include "probe_agent/tls_fetcher.h"
#include "probe_agent/worker_pool.h"
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
  // Threads resolving names (each runs one c-ares resolution to completion at a time), and the
  // most resolutions that may wait for one; beyond that a probe is refused RESOURCE_EXHAUSTED.
  int resolution_threads = 8;
  size_t max_queued_resolutions = 4096;
  // Threads signing Observations (a PKCS#11 key signs in as many token sessions at once), so that
  // no TLS event loop waits for a signature. Its queue has the bound of the resolution queue.
  int signing_threads = 4;
};

// Receives the result of one probe, exactly once, as Prober::Probe would return it; a cancelled
// probe ends CANCELLED. Runs on a resolution thread, a TLS event-loop thread, or the caller's
// thread (for a task that fails validation or is refused): it must not block.
using ProbeCallback = std::function<void(absl::StatusOr<v1::SignedObservation>)>;

// Written into ObservationBody.agent_software.
inline constexpr char kAgentSoftware[] = "mecai-probe-agent/2 (epoll, OpenSSL 3, c-ares)";

// OK for a ProbeTask.hostname the agent may probe: ValidateHostname (common/net/dns_name.h) with
// hostname_rules::kProbeTask, the coordinator's VR rule plus a literal IP address in canonical text
// (RFC 5952 for IPv6), which the agent connects to without resolving. INVALID_ARGUMENT otherwise,
// "ProbeTask.hostname "<name>": " and the rule that failed.
absl::Status ValidateProbeTaskHostname(absl::string_view hostname);

// OK for a ProbeTask the agent may act on: a valid hostname, port 1..65535, a 32-byte
// vouching_request_sha256, a nonce of 16..64 bytes, and certificate_key_types each a key type the
// agent can ask a server for (OfferSelecting, common/crypto/certificate_key_type.h), none twice.
// INVALID_ARGUMENT naming the field otherwise.
absl::Status ValidateProbeTask(const v1::ProbeTask& task);

// The outcome of a whole perspective from its per-address outcomes (ObservationBody.outcome):
//   no addresses                    -> PROBE_RESOLUTION_FAILED
//   every address PROBE_OK          -> PROBE_OK
//   every address forbidden         -> PROBE_FORBIDDEN_ADDRESS
//   otherwise                       -> the outcome of the first address that is not PROBE_OK
v1::ProbeOutcome OverallOutcome(const std::vector<v1::AddressObservation>& addresses);

// Thread-safe: the configuration is constant after construction, the resolution pool and the
// in-flight count are thread-safe, and the injected resolver, fetcher, signing key and clock are
// thread-safe. They must outlive the Prober. A probe holds no thread while it waits: resolution
// runs on the Prober's bounded pool of resolution threads (c-ares), connections on the fetcher's
// event loops, signing on a small pool of signing threads, and each stage's completion starts the
// next.
class Prober {
 public:
  Prober(v1::Perspective perspective, Resolver& resolver, TlsFetcher& fetcher, AddressPolicy policy,
         SigningKey& signing_key, Clock& clock, ProberLimits limits);
  // Waits until every probe started has called back.
  ~Prober();
  Prober(const Prober&) = delete;
  Prober& operator=(const Prober&) = delete;

  // Probe without blocking: validates `task` and queues its resolution, then returns; `done`
  // receives what Probe would return. Also RESOURCE_EXHAUSTED when max_queued_resolutions wait
  // already. Once `cancellation` (may be null) is set, the probe stops at its next stage, and
  // AbandonCancelled() ends its open connections at once; it then ends CANCELLED.
  void ProbeAsync(const v1::ProbeTask& task, absl::Time deadline,
                  std::shared_ptr<const Cancellation> cancellation, ProbeCallback done) const;

  // Ends the open connections of cancelled probes now (TlsFetcher::AbandonCancelled).
  void AbandonCancelled() const;

  // Probes `task` and returns the signed Observation, waiting for ProbeAsync. Failures at the
  // target (NXDOMAIN, refused connections, failed handshakes, forbidden addresses) are outcomes
  // inside the Observation. Errors: INVALID_ARGUMENT for a task that fails ValidateProbeTask;
  // INTERNAL (or the resolver's own fault code) when the agent itself fails, e.g. it cannot sign.
  // `deadline` is the coordinator's (its gRPC deadline): resolution and every connection end by
  // then, less ProberLimits::deadline_reserve, whatever the configured timeouts allow; addresses
  // not done by then are reported with error_class DEADLINE_EXCEEDED.
  absl::StatusOr<v1::SignedObservation> Probe(const v1::ProbeTask& task,
                                              absl::Time deadline = absl::InfiniteFuture()) const;

 private:
  struct Call;

  // The stages of ProbeAsync, each started by the completion of the one before.
  void OnResolved(const std::shared_ptr<Call>& call, absl::StatusOr<Resolution> resolved) const;
  // Starts one TlsFetcher::FetchAsync per allowed address (at most max_addresses_per_probe) and
  // key type of the task (docs/PROTOCOL.md "Key-typed handshakes"; one with the default offer
  // when the task names none); the last completion continues with AddressesDone.
  void ProbeAddresses(const std::shared_ptr<Call>& call,
                      const std::vector<std::string>& addresses) const;
  void AddressesDone(const std::shared_ptr<Call>& call) const;
  void SignAndComplete(const std::shared_ptr<Call>& call) const;
  // Hands `result` to the call's callback and counts the probe as finished.
  void Complete(const std::shared_ptr<Call>& call,
                absl::StatusOr<v1::SignedObservation> result) const;

  const v1::Perspective perspective_;
  Resolver& resolver_;
  TlsFetcher& fetcher_;
  const AddressPolicy policy_;
  SigningKey& signing_key_;
  Clock& clock_;
  const ProberLimits limits_;
  const std::unique_ptr<WorkerPool> resolution_pool_;
  const std::unique_ptr<WorkerPool> signing_pool_;
  mutable absl::Mutex in_flight_mutex_;
  mutable int in_flight_ ABSL_GUARDED_BY(in_flight_mutex_) = 0;
};

}  // namespace probe_agent
}  // namespace mecai

#endif  // MECAI_PROBE_AGENT_PROBER_H_
