#include "probe_agent/probe_service.h"

#include <string>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace mecai {
namespace probe_agent {
namespace {

// absl::StatusCode values are gRPC's (absl/status/status.h), so the code converts one to one.
grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

}  // namespace

absl::Time DeadlineOf(const grpc::ServerContext& context) {
  const std::chrono::system_clock::time_point deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

ProbeServiceImpl::ProbeServiceImpl(const Prober& prober, uint32_t max_in_flight_probes,
                                   AgentMetrics* metrics)
    : prober_(prober), max_in_flight_probes_(max_in_flight_probes), metrics_(metrics) {}

grpc::Status ProbeServiceImpl::Probe(grpc::ServerContext* context, const v1::ProbeRequest* request,
                                     v1::ProbeResponse* response) {
  if (!request->has_task()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "ProbeRequest.task is missing");
  }
  const absl::Time started = absl::Now();
  const uint32_t running_before = in_flight_.fetch_add(1);
  if (metrics_ != nullptr) metrics_->SetInFlight(running_before + 1);
  absl::Cleanup release = [this] {
    const uint32_t running = in_flight_.fetch_sub(1) - 1;
    if (metrics_ != nullptr) metrics_->SetInFlight(running);
  };
  if (running_before >= max_in_flight_probes_) {
    if (metrics_ != nullptr) metrics_->RecordProbe("refused", 0);
    MECAI_LOG(Warning) << "refused a probe of " << request->task().hostname() << ": "
                       << max_in_flight_probes_ << " probes already in flight";
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrCat("the probe agent is at its limit of ", max_in_flight_probes_,
                                     " probes in flight; retry later"));
  }
  absl::StatusOr<v1::SignedObservation> observation =
      prober_.Probe(request->task(), DeadlineOf(*context));
  if (metrics_ != nullptr) {
    v1::ObservationBody body;
    std::string outcome = "error";
    if (observation.ok() && body.ParseFromString(observation->tbs())) {
      outcome = v1::ProbeOutcome_Name(body.outcome());
    }
    metrics_->RecordProbe(outcome, absl::ToDoubleSeconds(absl::Now() - started));
  }
  if (!observation.ok()) {
    if (observation.status().code() != absl::StatusCode::kInvalidArgument) {
      MECAI_LOG(Error) << "probe of " << request->task().hostname()
                       << " failed: " << observation.status();
    }
    return ToGrpcStatus(observation.status());
  }
  *response->mutable_observation() = std::move(*observation);
  return grpc::Status::OK;
}

}  // namespace probe_agent
}  // namespace mecai
