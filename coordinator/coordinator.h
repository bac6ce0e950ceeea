// The Vouching Server's decision procedure (MECAI proposal "VS behaviour"; ARCHITECTURE.md §1
// coordinator): check the VR, probe from every perspective, apply the quorum policy, record the
// decision durably, and obtain the VD from the signer.
#ifndef MECAI_COORDINATOR_COORDINATOR_H_
#define MECAI_COORDINATOR_COORDINATOR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/base/clock.h"
#include "common/evidence/trust_lists.h"
#include "common/evidence/vouching_request.h"
#include "coordinator/approval_checker.h"
#include "coordinator/coordinator_metrics.h"
#include "coordinator/decision_log.h"
#include "coordinator/decision_reuse.h"
#include "coordinator/log_guard.h"
#include "coordinator/logged_vd_proofs.h"
#include "coordinator/probe_fanout.h"
#include "coordinator/rate_limiter.h"
#include "coordinator/revocation_checker.h"
#include "coordinator/worker_pool.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {

// Thread-safe. Every dependency must outlive it. No thread waits on a VR's probe round: each VR's
// blocking steps run on a bounded pool of worker threads, its probe round on gRPC's callback API
// (ARCHITECTURE.md §13).
class Coordinator {
 public:
  // `config` must have passed ValidateCoordinatorConfig.
  // `metrics` may be null. `approval` checks VRs of trust lists that require issuance approval
  // (ARCHITECTURE.md §7); null refuses every such VR. `log_guard`, when given, must allow appends
  // before any VR is decided (coordinator/log_guard.h).
  // `log` records each decision, with the signer's VD when the quorum issues: the coordinator's
  // own store, or the VA's sequencer (coordinator/decision_log.h).
  Coordinator(const v1::CoordinatorConfig& config, const TrustLists& trust_lists,
              const ProbeFanout& fanout, DecisionLog& log, RevocationChecker& revocation,
              const Clock& clock, CoordinatorMetrics* metrics = nullptr,
              const ApprovalChecker* approval = nullptr, const LogGuard* log_guard = nullptr);

  // Handles one VR. Domain refusals are in the response (trust rule 2); an error status means a
  // fault of the system (the store or the signer failed), and says whether a record was written.
  // One decision per VR at a time: an identical VR that arrives while an earlier call is deciding
  // it is answered ABORTED, never probed a second time (agents probe a VR once); sent again once
  // that decision is recorded, it is answered from the record. A VR of the hostname, port, trust
  // list and certificates of a decision issued within decision_reuse_seconds is answered with that
  // decision's VD once it passed its own checks (docs/PROTOCOL.md "Decision reuse").
  //
  // `done` is called exactly once, with what Vouch returns, on a worker thread, a gRPC thread or,
  // for a VR refused at once, the calling thread; it must not block. A VR beyond
  // max_vouch_in_flight is refused at once (RESOURCE_EXHAUSTED); one whose `deadline` (capped at
  // max_vouch_deadline_milliseconds) passes before it is decided ends with DEADLINE_EXCEEDED,
  // nothing recorded.
  using VouchDone = std::function<void(absl::StatusOr<v1::VouchResponse>)>;
  void VouchAsync(std::string serialized_request, absl::Time deadline, VouchDone done);
  // VouchAsync with max_vouch_deadline_milliseconds, waiting for the answer. Not on a worker
  // thread.
  absl::StatusOr<v1::VouchResponse> Vouch(const std::string& serialized_request);

  // Logged VDs (docs/VOUCHING_DATA.md "Logged VDs"): a VD whose statement the signer approved is
  // answered once `proofs` completes it with its log proof. REQUIRES: called before any VR;
  // `proofs` outlives this.
  void UseLoggedVds(LoggedVdProofs* proofs) { proofs_ = proofs; }

  // Waits for the VRs in flight to end (each ends by its deadline).
  ~Coordinator();

 private:
  // One VR from VouchAsync to its answer (coordinator.cc); owned by its steps, one at a time.
  struct Operation;
  // Runs `step` of `op` on a worker thread with the VR's log context.
  void RunStep(Operation* op, std::function<void()> step);
  // The steps of VouchAsync: the VR's envelope and the log's earlier record of the same VR (on a
  // front, asked of the sequencer without holding a thread); the certificates; the revocation
  // check of each vouched certificate, which holds no thread while the CA's servers answer;
  // decision reuse; the probe budget, approval and the start of the probe round; the quorum
  // decision, the record and the answer.
  void StartDeciding(Operation* op);
  void AfterEarlierRecord(Operation* op, absl::StatusOr<std::optional<v1::QuorumRecord>> earlier);
  void CheckRevocationAsync(Operation* op, size_t path_index);
  void AfterRevocation(Operation* op);
  void CheckAndProbe(Operation* op);
  void StartProbeRound(Operation* op);
  void DecideOnAnswers(Operation* op, std::vector<PerspectiveAnswer> answers);
  // Records `decision` (the log holds no thread while it works), then runs `then` with what was
  // stored on a worker thread.
  void RecordThen(Operation* op, v1::RecordDecisionRequest decision,
                  std::function<void(absl::StatusOr<RecordedDecision>)> then);
  // The decision's record is written (or could not be): the VR's answer.
  void AfterRecorded(Operation* op, absl::StatusOr<RecordedDecision> recorded);
  // True (and `op` finished with DEADLINE_EXCEEDED) when its deadline has passed.
  bool Expired(Operation* op);
  // Answers `op`, releases what it holds, counts it, and deletes it; a logged VD first waits for
  // its proof.
  void Finish(Operation* op, absl::StatusOr<v1::VouchResponse> response);
  void FinishProven(Operation* op, absl::StatusOr<v1::VouchResponse> response);
  void RecordDecisionMetrics(const absl::StatusOr<v1::VouchResponse>& response, absl::Time started);

  // Marks the VR whose SHA-256 is `digest` as being decided; false when it already is.
  bool BeginDeciding(const std::string& digest);
  void EndDeciding(const std::string& digest);

  // Answers an identical earlier VR from its record instead of probing again (trust rule 8).
  static v1::VouchResponse AnswerFromRecord(const v1::QuorumRecord& record);
  // The decision procedure (ARCHITECTURE.md §11, steps 3 to 11), as named steps run by
  // StartDeciding, CheckAndProbe and DecideOnAnswers: the checks of ARCHITECTURE.md §3 (a refusal
  // there is answered without a record and costs the hostname nothing), then an issued decision
  // to reuse (DecisionReuse), then CheckProbeRateLimit, CheckApprovalAsync, the probe round,
  // DecisionToRecord and the log's RecordAsync, Respond. A step that ends the decision early
  // returns the answer (or a fault); std::nullopt carries on to the next step.

  // One VR on its way through the steps, what each step found (coordinator.cc).
  struct Deciding;
  // The RATE_LIMITED refusal when `hostname` has used up its probe rounds (trust rule 8), else
  // std::nullopt (and one round is taken). Asked only for a VR that passed every check before
  // probing, so VRs that cannot be issued (a self-signed certificate, a bad signature) never spend
  // a hostname's rounds.
  std::optional<v1::Refusal> CheckProbeRateLimit(const std::string& hostname);
  // Out-of-band approval (ARCHITECTURE.md §7) for trust lists that require it, asked without
  // holding a thread; then AfterApproval: a refusal is recorded and answered, an approval goes on
  // to the probe round, and no answer from the approval service is a fault.
  void CheckApprovalAsync(Operation* op);
  void AfterApproval(Operation* op, ApprovalCheckOutcome outcome);
  // The ProbeTask for `vr`, with a fresh nonce (kept in `vr`).
  v1::ProbeTask ProbeTaskFor(Deciding& vr) const;
  // Applies the quorum policy to a probe round's answers.
  void ApplyQuorum(Deciding& vr, std::vector<PerspectiveAnswer> answers) const;
  // The decision to record (trust rule 4): ISSUED when the quorum issues (the log then asks the
  // signer for the VD), else REFUSED as the quorum decided.
  static v1::RecordDecisionRequest DecisionToRecord(const Deciding& vr);
  // The answer from the recorded decision, or the signer's fault.
  absl::StatusOr<v1::VouchResponse> Respond(const Deciding& vr, const RecordedDecision& recorded);

  const v1::CoordinatorConfig config_;
  const VouchingRequestLimits limits_;
  HostnameRateLimiter rate_limiter_;
  // Null when decision reuse is off (disable_decision_reuse).
  const std::unique_ptr<DecisionReuse> reuse_;
  const TrustLists& trust_lists_;
  const ProbeFanout& fanout_;
  DecisionLog& log_;
  RevocationChecker& revocation_;
  const Clock& clock_;
  CoordinatorMetrics* const metrics_;
  const ApprovalChecker* const approval_;
  const LogGuard* const log_guard_;
  LoggedVdProofs* proofs_ = nullptr;

  absl::Mutex deciding_mutex_;
  // SHA-256 of each VR a Vouch call is deciding now.
  std::set<std::string> deciding_ ABSL_GUARDED_BY(deciding_mutex_);

  // VRs admitted and not yet answered (max_vouch_in_flight).
  absl::Mutex in_flight_mutex_;
  uint32_t in_flight_ ABSL_GUARDED_BY(in_flight_mutex_) = 0;
  // VRs whose record the log is writing (RecordThen), whose answer it has not yet handed back.
  uint32_t recording_ ABSL_GUARDED_BY(in_flight_mutex_) = 0;

  // Last: its threads stop before the members they use are destroyed.
  WorkerPool workers_;
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_COORDINATOR_H_
