// The sequencer's side of mecai.v1.SequencerService (docs/ARCHITECTURE.md §14 "Stateless fronts and
// one sequencer"): records the decisions of the VA's front coordinators in this coordinator's
// record store, each at its own log index with the signer's VD, and finds the record of an
// identical VR. Only the identities in CoordinatorConfig.front_identities may call it; a front's
// decision is written as a record exactly as the coordinator's own are (coordinator/
// local_decision_log.h), and nothing is recorded while the log guard holds appends back.
#ifndef MECAI_COORDINATOR_SEQUENCER_SERVICE_H_
#define MECAI_COORDINATOR_SEQUENCER_SERVICE_H_

#include <functional>
#include <string>
#include <vector>

#include "coordinator/coordinator_metrics.h"
#include "coordinator/local_decision_log.h"
#include "coordinator/log_guard.h"
#include "coordinator/logged_vd_proofs.h"
#include "coordinator/worker_pool.h"
#include "grpcpp/grpcpp.h"
#include "proto/mecai/v1/sequencer.grpc.pb.h"

namespace mecai {

// Thread-safe. Every dependency must outlive it.
class SequencerServiceImpl final : public v1::SequencerService::CallbackService {
 public:
  // `front_identities`: the client identities allowed to call. `log_guard`, `proofs` and
  // `metrics` may be null (no guard; VDs signed one by one; nothing counted). Calls are worked on
  // by `worker_threads` threads, at most `max_queued` waiting; one beyond is refused at once
  // (RESOURCE_EXHAUSTED).
  SequencerServiceImpl(LocalDecisionLog& log, std::vector<std::string> front_identities,
                       const LogGuard* log_guard, LoggedVdProofs* proofs,
                       CoordinatorMetrics* metrics, int worker_threads, size_t max_queued);

  grpc::ServerUnaryReactor* RecordDecision(grpc::CallbackServerContext* context,
                                           const v1::RecordDecisionRequest* request,
                                           v1::RecordDecisionResponse* response) override;
  grpc::ServerUnaryReactor* RecordDecisions(grpc::CallbackServerContext* context,
                                            const v1::RecordDecisionsRequest* request,
                                            v1::RecordDecisionsResponse* response) override;
  grpc::ServerUnaryReactor* FindRecord(grpc::CallbackServerContext* context,
                                       const v1::FindRecordRequest* request,
                                       v1::FindRecordResponse* response) override;

 private:
  // PERMISSION_DENIED unless the caller is a front.
  grpc::Status Authorize(const grpc::CallbackServerContext& context) const;
  // Calls `done` with `record`, for a logged VD once a checkpoint proves it (by `deadline`).
  void WhenComplete(v1::QuorumRecord record, absl::Time deadline,
                    std::function<void(absl::StatusOr<v1::QuorumRecord>)> done);
  // Records one decision of a front, on a worker thread: `done` gets the status RecordDecision
  // ends with and, when OK, its answer. A decision whose VR's deadline (sign_by_unix_milliseconds)
  // passed before it was signed is refused by the log's own rule
  // (LocalDecisionLog::RecordValidatedAsync) and counted as the front's coordinator counts it.
  using RecordOneDone = std::function<void(grpc::Status, v1::RecordDecisionResponse)>;
  void RecordOne(const grpc::CallbackServerContext& context,
                 const v1::RecordDecisionRequest& request, absl::Time deadline, RecordOneDone done);
  // Counts `refused` as a VR ended by its deadline (vouch_refused_total{reason=
  // "deadline_exceeded"}, as Coordinator counts its own) when it is DEADLINE_EXCEEDED and the VR's
  // deadline `sign_by` has passed.
  void CountIfVrExpired(const absl::Status& refused, absl::Time sign_by) const;
  // The decisions of one RecordDecisions call (sequencer_service.cc).
  struct Batch;
  // Runs `work` on a worker thread, or finishes `reactor` RESOURCE_EXHAUSTED when the queue is
  // full.
  void Schedule(grpc::ServerUnaryReactor* reactor, std::function<void()> work);

  LocalDecisionLog& log_;
  const std::vector<std::string> front_identities_;
  const LogGuard* const log_guard_;
  LoggedVdProofs* const proofs_;
  CoordinatorMetrics* const metrics_;
  // Last: its threads stop before the members they use are destroyed.
  WorkerPool workers_;
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_SEQUENCER_SERVICE_H_
