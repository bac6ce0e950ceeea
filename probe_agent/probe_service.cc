#include "probe_agent/probe_service.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/logging.h"
#include "common/crypto/hashing.h"
#include "common/crypto/signed_object.h"
#include "common/rpc/grpc_status.h"

namespace mecai {
namespace probe_agent {
// One Probe call. gRPC calls OnCancel (at most once, before OnDone) when the client cancels or the
// deadline passes, and OnDone after Finish, which the probe's completion calls exactly once.
class ProbeServiceImpl::ProbeReactor final : public grpc::ServerUnaryReactor {
 public:
  explicit ProbeReactor(const Prober& prober)
      : prober_(prober), cancellation_(std::make_shared<Cancellation>()) {}

  std::shared_ptr<const Cancellation> cancellation() const { return cancellation_; }

  void OnCancel() override {
    cancellation_->Cancel();
    prober_.AbandonCancelled();
  }

  void OnDone() override { delete this; }

 private:
  const Prober& prober_;
  const std::shared_ptr<Cancellation> cancellation_;
};

absl::Time DeadlineOf(const grpc::ServerContextBase& context) {
  const std::chrono::system_clock::time_point deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

ProbeServiceImpl::ProbeServiceImpl(const Prober& prober, ProbedRequests& probed,
                                   uint32_t max_in_flight_probes, AgentMetrics* metrics)
    : prober_(prober),
      probed_(probed),
      max_in_flight_probes_(max_in_flight_probes),
      metrics_(metrics) {}

void ProbeServiceImpl::Release(const absl::StatusOr<v1::SignedObservation>& observation,
                               absl::Time started) {
  if (metrics_ != nullptr) {
    v1::ObservationBody body;
    std::string outcome = "error";
    if (observation.ok() && body.ParseFromString(observation->tbs())) {
      outcome = v1::ProbeOutcome_Name(body.outcome());
    } else if (observation.status().code() == absl::StatusCode::kCancelled) {
      outcome = "cancelled";
    }
    metrics_->RecordProbe(outcome, absl::ToDoubleSeconds(absl::Now() - started));
  }
  in_flight_.fetch_sub(1);
  if (metrics_ != nullptr) metrics_->ChangeInFlight(-1);
}

void ProbeServiceImpl::StartProbe(const v1::ProbeTask& task, absl::Time deadline,
                                  std::shared_ptr<const Cancellation> cancellation,
                                  ProbeDone done) {
  // A malformed task is refused before it is remembered.
  absl::Status valid = ValidateProbeTask(task);
  if (!valid.ok()) {
    if (metrics_ != nullptr) metrics_->RecordProbe("error", 0);
    return done(valid);
  }
  const uint32_t running_before = in_flight_.fetch_add(1);
  if (running_before >= max_in_flight_probes_) {
    in_flight_.fetch_sub(1);
    if (metrics_ != nullptr) metrics_->RecordProbe("refused", 0);
    MECAI_LOG(Warning) << "refused a probe of " << task.hostname() << ": " << max_in_flight_probes_
                       << " probes already in flight";
    return done(absl::ResourceExhaustedError(absl::StrCat("the probe agent is at its limit of ",
                                                          max_in_flight_probes_,
                                                          " probes in flight; retry later")));
  }
  // At most one Observation per VR: the same VR again is refused, whatever its nonce.
  const std::string& vouching_request_sha256 = task.vouching_request_sha256();
  absl::Status claimed = probed_.Claim(vouching_request_sha256);
  if (metrics_ != nullptr) metrics_->SetRememberedVrs(probed_.size());
  if (!claimed.ok()) {
    in_flight_.fetch_sub(1);
    if (metrics_ != nullptr) {
      metrics_->RecordRepeatedVrRefusal(
          claimed.code() == absl::StatusCode::kAlreadyExists ? "already_probed" : "memory_full");
    }
    ScopedLogContext log_context("vr_id", HexEncode(vouching_request_sha256).substr(0, 16));
    MECAI_LOG_EVENT(Warning, "repeated_vr_refused")
        << "refused a probe of " << task.hostname() << ": " << claimed.message();
    return done(claimed);
  }
  if (metrics_ != nullptr) metrics_->ChangeInFlight(+1);
  const absl::Time started = absl::Now();
  prober_.ProbeAsync(
      task, deadline, std::move(cancellation),
      [this, started, hostname = task.hostname(), vouching_request_sha256,
       done = std::move(done)](absl::StatusOr<v1::SignedObservation> observation) {
        // Nothing was signed: the VR may be probed again.
        if (!observation.ok()) {
          probed_.Release(vouching_request_sha256);
          if (metrics_ != nullptr) metrics_->SetRememberedVrs(probed_.size());
        }
        Release(observation, started);
        if (!observation.ok()) {
          const absl::StatusCode code = observation.status().code();
          if (code != absl::StatusCode::kInvalidArgument && code != absl::StatusCode::kCancelled &&
              code != absl::StatusCode::kResourceExhausted) {
            MECAI_LOG(Error) << "probe of " << hostname << " failed: " << observation.status();
          }
        }
        done(std::move(observation));
      });
}

grpc::ServerUnaryReactor* ProbeServiceImpl::Probe(grpc::CallbackServerContext* context,
                                                  const v1::ProbeRequest* request,
                                                  v1::ProbeResponse* response) {
  auto* reactor = new ProbeReactor(prober_);
  if (!request->has_task()) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "ProbeRequest.task is missing"));
    return reactor;
  }
  // Bytes no coordinator writes (docs/SECURITY.md "Bad input against every service").
  if (absl::Status mistyped = RefuseMistypedFields(*request, "a ProbeRequest"); !mistyped.ok()) {
    reactor->Finish(ToGrpcStatus(mistyped));
    return reactor;
  }
  StartProbe(request->task(), DeadlineOf(*context), reactor->cancellation(),
             [reactor, response](absl::StatusOr<v1::SignedObservation> observation) {
               if (!observation.ok()) return reactor->Finish(ToGrpcStatus(observation.status()));
               *response->mutable_observation() = std::move(*observation);
               reactor->Finish(grpc::Status::OK);
             });
  return reactor;
}

}  // namespace probe_agent
}  // namespace mecai
