#include "probe_agent/prober.h"

#include <algorithm>
#include <chrono>  // NOLINT(build/c++11): steady time for durations.
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/base/logging.h"
#include "common/base/status.h"
#include "common/crypto/certificate_key_type.h"
#include "common/crypto/hashing.h"
#include "common/crypto/signed_object.h"
#include "common/evidence/enrolled_agents.h"
#include "common/net/dns_name.h"
#include "common/net/ip_address.h"
#include "probe_agent/worker_pool.h"

namespace mecai {
namespace probe_agent {
namespace {

constexpr size_t kHashLength = 32;  // SHA-256.

// Literal IP hosts get no SNI: RFC 6066 §3, "Literal IPv4 and IPv6 addresses are not permitted in
// HostName".
std::string ServerNameFor(const std::string& hostname) {
  return ParseIpAddress(hostname).ok() ? "" : hostname;
}

uint32_t MillisecondsSince(std::chrono::steady_clock::time_point start) {
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  return static_cast<uint32_t>(std::max<int64_t>(0, elapsed.count()));
}

}  // namespace

absl::Status ValidateProbeTaskHostname(absl::string_view hostname) {
  absl::Status valid = ValidateHostname(hostname, hostname_rules::kProbeTask);
  if (valid.ok()) return valid;
  // "ProbeTask.hostname "…": …": the field, then the rule's own message.
  return absl::InvalidArgumentError(absl::StrCat("ProbeTask.", valid.message()));
}

absl::Status ValidateProbeTask(const v1::ProbeTask& task) {
  RETURN_IF_ERROR(ValidateProbeTaskHostname(task.hostname()));
  if (task.port() == 0 || task.port() > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("ProbeTask.port ", task.port(), " is outside 1..65535"));
  }
  if (task.vouching_request_sha256().size() != kHashLength) {
    return absl::InvalidArgumentError(absl::StrCat("ProbeTask.vouching_request_sha256 must be ",
                                                   kHashLength, " bytes (SHA-256), not ",
                                                   task.vouching_request_sha256().size()));
  }
  if (task.nonce().size() < kMinProbeNonceBytes || task.nonce().size() > kMaxProbeNonceBytes) {
    return absl::InvalidArgumentError(absl::StrCat("ProbeTask.nonce must be ", kMinProbeNonceBytes,
                                                   "..", kMaxProbeNonceBytes, " bytes, not ",
                                                   task.nonce().size()));
  }
  // docs/PROTOCOL.md "Key-typed handshakes": only key types the one rule has an offer for.
  for (int i = 0; i < task.certificate_key_types_size(); ++i) {
    const v1::CertificateKeyType key_type = task.certificate_key_types(i);
    absl::Status known = OfferSelecting(key_type).status();
    if (!known.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("ProbeTask.certificate_key_types[", i, "]: ", known.message()));
    }
    for (int j = 0; j < i; ++j) {
      if (task.certificate_key_types(j) == key_type) {
        return absl::InvalidArgumentError(absl::StrCat("ProbeTask.certificate_key_types names ",
                                                       KeyTypeName(key_type), " twice"));
      }
    }
  }
  return absl::OkStatus();
}

v1::ProbeOutcome OverallOutcome(const std::vector<v1::AddressObservation>& addresses) {
  if (addresses.empty()) return v1::PROBE_RESOLUTION_FAILED;
  const auto has = [&addresses](v1::ProbeOutcome outcome) {
    return
        [outcome](const v1::AddressObservation& address) { return address.outcome() == outcome; };
  };
  if (std::all_of(addresses.begin(), addresses.end(), has(v1::PROBE_OK))) return v1::PROBE_OK;
  if (std::all_of(addresses.begin(), addresses.end(), has(v1::PROBE_FORBIDDEN_ADDRESS))) {
    return v1::PROBE_FORBIDDEN_ADDRESS;
  }
  const auto first_failure =
      std::find_if_not(addresses.begin(), addresses.end(), has(v1::PROBE_OK));
  return first_failure->outcome();
}

// One probe on its way through resolution, connections and signing. Shared by the callbacks of
// its stages, which run on a resolution worker and on the TLS engine's loops.
struct Prober::Call {
  v1::ProbeTask task;
  v1::ObservationBody body;
  absl::Time work_deadline = absl::InfiniteFuture();
  absl::Duration resolution_timeout;
  std::shared_ptr<const Cancellation> cancellation;
  ProbeCallback done;

  absl::Mutex mutex;
  std::vector<v1::AddressObservation> results ABSL_GUARDED_BY(mutex);
  size_t outstanding ABSL_GUARDED_BY(mutex) = 0;

  bool cancelled() const { return cancellation != nullptr && cancellation->cancelled(); }
};

Prober::Prober(v1::Perspective perspective, Resolver& resolver, TlsFetcher& fetcher,
               AddressPolicy policy, SigningKey& signing_key, Clock& clock, ProberLimits limits)
    : perspective_(std::move(perspective)),
      resolver_(resolver),
      fetcher_(fetcher),
      policy_(std::move(policy)),
      signing_key_(signing_key),
      clock_(clock),
      limits_(limits),
      resolution_pool_(std::make_unique<WorkerPool>(
          "the DNS resolution queue", limits.resolution_threads, limits.max_queued_resolutions)),
      signing_pool_(std::make_unique<WorkerPool>(
          "the Observation signing queue", limits.signing_threads, limits.max_queued_resolutions)) {
}

Prober::~Prober() {
  absl::MutexLock lock(&in_flight_mutex_);
  in_flight_mutex_.Await(absl::Condition(
      +[](int* in_flight) { return *in_flight == 0; }, &in_flight_));
}

void Prober::Complete(const std::shared_ptr<Call>& call,
                      absl::StatusOr<v1::SignedObservation> result) const {
  ProbeCallback done = std::move(call->done);
  done(std::move(result));
  absl::MutexLock lock(&in_flight_mutex_);
  --in_flight_;
}

void Prober::ProbeAsync(const v1::ProbeTask& task, absl::Time deadline,
                        std::shared_ptr<const Cancellation> cancellation,
                        ProbeCallback done) const {
  absl::Status valid = ValidateProbeTask(task);
  if (!valid.ok()) {
    done(valid);
    return;
  }
  auto call = std::make_shared<Call>();
  call->task = task;
  call->cancellation = std::move(cancellation);
  call->done = std::move(done);
  v1::ObservationBody& body = call->body;
  *body.mutable_perspective() = perspective_;
  body.set_hostname(task.hostname());
  body.set_port(task.port());
  body.set_vouching_request_sha256(task.vouching_request_sha256());
  body.set_nonce(task.nonce());
  *body.mutable_certificate_key_types() = task.certificate_key_types();
  body.set_agent_software(kAgentSoftware);
  body.set_started_at_unix_milliseconds(clock_.NowUnixMilliseconds());

  // The work ends before the coordinator's deadline, leaving time to sign and answer.
  call->resolution_timeout = limits_.resolution_timeout;
  if (deadline != absl::InfiniteFuture()) {
    const absl::Time now = absl::Now();
    const absl::Duration left = std::max(absl::ZeroDuration(), deadline - now);
    call->work_deadline = deadline - std::min(limits_.deadline_reserve, left / 10);
    body.set_deadline_unix_milliseconds(absl::ToUnixMillis(deadline));
    call->resolution_timeout =
        std::clamp(call->work_deadline - now, absl::Milliseconds(1), call->resolution_timeout);
  }
  {
    absl::MutexLock lock(&in_flight_mutex_);
    ++in_flight_;
  }
  const auto queued_at = std::chrono::steady_clock::now();
  absl::Status submitted = resolution_pool_->Submit([this, call, queued_at] {
    if (call->cancelled()) {
      Complete(call, absl::CancelledError("the probe was cancelled"));
      return;
    }
    // Time spent queued is taken from the resolution's share of the deadline, so a probe that
    // waited for a resolver thread cannot resolve past its deadline.
    const absl::Duration timeout =
        std::min(call->resolution_timeout, call->work_deadline - absl::Now());
    if (timeout <= absl::ZeroDuration()) {
      Complete(call, absl::DeadlineExceededError(
                         "the deadline passed while the probe waited for a resolver thread"));
      return;
    }
    // The time queued counts: it is part of how long the agent took to know the addresses.
    absl::StatusOr<Resolution> resolved =
        resolver_.ResolveWithOutcomes(call->task.hostname(), timeout);
    call->body.set_resolution_milliseconds(MillisecondsSince(queued_at));
    OnResolved(call, std::move(resolved));
  });
  if (!submitted.ok()) {
    MECAI_LOG(Warning) << "refused a probe of " << task.hostname() << ": " << submitted.message();
    Complete(call, submitted);
  }
}

void Prober::OnResolved(const std::shared_ptr<Call>& call,
                        absl::StatusOr<Resolution> resolved) const {
  const v1::ProbeTask& task = call->task;
  v1::ObservationBody& body = call->body;
  if (!resolved.ok()) {
    Complete(call, Annotate(resolved.status(), absl::StrCat("resolving ", task.hostname())));
    return;
  }
  body.set_a_resolution(resolved->a_outcome);
  body.set_aaaa_resolution(resolved->aaaa_outcome);
  if (!resolved->failure.ok() || resolved->addresses.empty()) {
    body.set_outcome(v1::PROBE_RESOLUTION_FAILED);
    body.set_resolution_error(
        resolved->failure.ok()
            ? absl::StrCat("the resolver returned no address for ", task.hostname())
            : std::string(resolved->failure.message()));
    SignAndComplete(call);
    return;
  }
  for (const std::string& address : resolved->addresses) body.add_resolved_addresses(address);
  ProbeAddresses(call, resolved->addresses);
}

void Prober::ProbeAddresses(const std::shared_ptr<Call>& call,
                            const std::vector<std::string>& addresses) const {
  const v1::ProbeTask& task = call->task;
  // One handshake per address and key type, address by address (ObservationBody.addresses); one
  // with the default offer when the task names no key type.
  std::vector<v1::CertificateKeyType> key_types;
  for (int i = 0; i < task.certificate_key_types_size(); ++i) {
    key_types.push_back(task.certificate_key_types(i));
  }
  if (key_types.empty()) key_types.push_back(v1::CERTIFICATE_KEY_TYPE_UNSPECIFIED);
  std::vector<v1::AddressObservation> results(addresses.size() * key_types.size());
  std::vector<size_t> to_fetch;
  for (size_t i = 0; i < addresses.size(); ++i) {
    const std::string& address = addresses[i];
    v1::AddressObservation result;
    result.set_address(address);
    bool fetch = false;
    if (static_cast<int>(i) >= limits_.max_addresses_per_probe) {
      result.set_outcome(v1::PROBE_OVERLOADED);
      result.set_error_class(v1::OVERLOADED);
      result.set_error(absl::StrCat("not probed: ", task.hostname(), " has ", addresses.size(),
                                    " addresses, more than this agent's ",
                                    "max_addresses_per_probe (", limits_.max_addresses_per_probe,
                                    ")"));
    } else if (absl::Status allowed = policy_.CheckAllowed(address); !allowed.ok()) {
      // Trust rule 6: the policy sees exactly the address the fetcher will connect to.
      result.set_outcome(v1::PROBE_FORBIDDEN_ADDRESS);
      result.set_error_class(v1::FORBIDDEN);
      result.set_error(std::string(allowed.message()));
    } else {
      fetch = true;
    }
    for (size_t k = 0; k < key_types.size(); ++k) {
      const size_t index = i * key_types.size() + k;
      results[index] = result;
      results[index].set_requested_key_type(key_types[k]);
      if (fetch) to_fetch.push_back(index);
    }
  }
  {
    absl::MutexLock lock(&call->mutex);
    call->results = std::move(results);
    // One more than the fetches: the loop below holds the last count, so the probe cannot finish
    // while fetches are still being started.
    call->outstanding = to_fetch.size() + 1;
  }
  const std::string server_name = ServerNameFor(task.hostname());
  for (size_t index : to_fetch) {
    FetchRequest request;
    request.address = addresses[index / key_types.size()];
    request.port = task.port();
    request.sni = server_name;
    request.key_type = key_types[index % key_types.size()];
    request.connect_timeout = limits_.connect_timeout;
    request.handshake_timeout = limits_.handshake_timeout;
    request.deadline = call->work_deadline;
    request.cancellation = call->cancellation;
    fetcher_.FetchAsync(
        std::move(request), [this, call, index](v1::AddressObservation observation) {
          bool last = false;
          {
            absl::MutexLock lock(&call->mutex);
            // What was asked is the prober's to record, whatever the fetcher reports.
            observation.set_address(call->results[index].address());
            observation.set_requested_key_type(call->results[index].requested_key_type());
            call->results[index] = std::move(observation);
            last = --call->outstanding == 0;
          }
          if (last) AddressesDone(call);
        });
  }
  bool last = false;
  {
    absl::MutexLock lock(&call->mutex);
    last = --call->outstanding == 0;
  }
  if (last) AddressesDone(call);
}

void Prober::AddressesDone(const std::shared_ptr<Call>& call) const {
  if (call->cancelled()) {
    Complete(call, absl::CancelledError("the probe was cancelled"));
    return;
  }
  std::vector<v1::AddressObservation> addresses;
  {
    absl::MutexLock lock(&call->mutex);
    addresses = std::move(call->results);
  }
  call->body.set_outcome(OverallOutcome(addresses));
  for (v1::AddressObservation& address : addresses) {
    *call->body.add_addresses() = std::move(address);
  }
  // Off the event loop that completed the last address: a token's C_Sign may take milliseconds
  // (a network HSM), and the loop's other connections must not wait for it.
  absl::Status submitted = signing_pool_->Submit([this, call] { SignAndComplete(call); });
  if (!submitted.ok()) Complete(call, submitted);
}

// Runs on a signing thread, or on the resolution thread when no address was probed.
void Prober::SignAndComplete(const std::shared_ptr<Call>& call) const {
  v1::ObservationBody& body = call->body;
  body.set_finished_at_unix_milliseconds(clock_.NowUnixMilliseconds());
  v1::SignedObservation signed_observation;
  if (!body.SerializeToString(signed_observation.mutable_tbs())) {
    Complete(call, absl::InternalError("cannot serialize the ObservationBody"));
    return;
  }
  absl::StatusOr<v1::Signature> signature =
      SignObject(signing_key_, SignedObject::kObservation, signed_observation.tbs());
  if (!signature.ok()) {
    Complete(call, absl::InternalError(absl::StrCat("cannot sign the Observation: ",
                                                    signature.status().message())));
    return;
  }
  *signed_observation.mutable_signature() = std::move(*signature);
  // The same vr_id as the coordinator's lines about this VR (deploy/README.md "Logs").
  ScopedLogContext log_context("vr_id", HexEncode(body.vouching_request_sha256()).substr(0, 16));
  MECAI_LOG(Info) << "probed " << body.hostname() << " port " << body.port() << " for VR "
                  << ShortHex(body.vouching_request_sha256()) << ": "
                  << v1::ProbeOutcome_Name(body.outcome()) << ", " << body.resolved_addresses_size()
                  << " address(es), "
                  << (body.finished_at_unix_milliseconds() - body.started_at_unix_milliseconds())
                  << " ms";
  Complete(call, std::move(signed_observation));
}

absl::StatusOr<v1::SignedObservation> Prober::Probe(const v1::ProbeTask& task,
                                                    absl::Time deadline) const {
  // Shared with the callback, which may still be unlocking when this thread returns.
  struct Waiter {
    absl::Mutex mutex;
    bool finished ABSL_GUARDED_BY(mutex) = false;
    absl::StatusOr<v1::SignedObservation> result ABSL_GUARDED_BY(mutex);
  };
  auto waiter = std::make_shared<Waiter>();
  ProbeAsync(task, deadline, nullptr, [waiter](absl::StatusOr<v1::SignedObservation> result) {
    absl::MutexLock lock(&waiter->mutex);
    waiter->result = std::move(result);
    waiter->finished = true;
  });
  absl::MutexLock lock(&waiter->mutex);
  waiter->mutex.Await(absl::Condition(&waiter->finished));
  return std::move(waiter->result);
}

void Prober::AbandonCancelled() const { fetcher_.AbandonCancelled(); }

}  // namespace probe_agent
}  // namespace mecai
