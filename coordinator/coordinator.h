// The Vouching Server's decision procedure (MECAI proposal "VS behaviour"; ARCHITECTURE.md §1
// coordinator): check the VR, probe from every perspective, apply the quorum policy, record the
// decision durably, and obtain the VD from the signer.
#ifndef MECAI_COORDINATOR_COORDINATOR_H_
#define MECAI_COORDINATOR_COORDINATOR_H_

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
#include "coordinator/decision_reuse.h"
#include "coordinator/log_guard.h"
#include "coordinator/probe_fanout.h"
#include "coordinator/rate_limiter.h"
#include "coordinator/record_store.h"
#include "coordinator/revocation_checker.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/signer.grpc.pb.h"
#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {

// Thread-safe. Every dependency must outlive it.
class Coordinator {
 public:
  // `config` must have passed ValidateCoordinatorConfig.
  // `metrics` may be null. `approval` checks VRs of trust lists that require issuance approval
  // (ARCHITECTURE.md §7); null refuses every such VR. `log_guard`, when given, must allow appends
  // before any VR is decided (coordinator/log_guard.h).
  Coordinator(const v1::CoordinatorConfig& config, const TrustLists& trust_lists,
              const ProbeFanout& fanout, RecordStore& store,
              v1::SignerService::StubInterface& signer, RevocationChecker& revocation,
              const Clock& clock, CoordinatorMetrics* metrics = nullptr,
              const ApprovalChecker* approval = nullptr, const LogGuard* log_guard = nullptr);

  // Handles one VR. Domain refusals are in the response (trust rule 2); an error status means a
  // fault of the system (the store or the signer failed), and says whether a record was written.
  // One decision per VR at a time: an identical VR that arrives while an earlier call is deciding
  // it is answered ABORTED, never probed a second time (agents probe a VR once); sent again once
  // that decision is recorded, it is answered from the record. A VR of the hostname, port, trust
  // list and certificates of a decision issued within decision_reuse_seconds is answered with that
  // decision's VD once it passed its own checks (docs/PROTOCOL.md "Decision reuse").
  absl::StatusOr<v1::VouchResponse> Vouch(const std::string& serialized_request);

 private:
  // Marks the VR whose SHA-256 is `digest` as being decided; false when it already is.
  bool BeginDeciding(const std::string& digest);
  void EndDeciding(const std::string& digest);

  // Answers an identical earlier VR from its record instead of probing again (trust rule 8).
  absl::StatusOr<v1::VouchResponse> AnswerFromRecord(uint64_t log_index);
  // The decision procedure (ARCHITECTURE.md §11, steps 3 to 11), as named steps:
  // CheckBeforeProbing, then an issued decision to reuse (DecisionReuse), then DecideAfterChecks:
  // CheckProbeRateLimit, CheckApproval, ProbeAll, RecordAndSign, Respond. A step that ends the
  // decision early returns the answer (or a fault); std::nullopt carries on to the next step.
  absl::StatusOr<v1::VouchResponse> Decide(const std::string& serialized_request);

  // One VR on its way through the steps, what each step found (coordinator.cc).
  struct Deciding;
  // What RecordAndSign wrote.
  struct Recorded;
  // One attempt to have the signer sign at one log index.
  struct SigningAttempt;

  // The checks of ARCHITECTURE.md §3 before any probe: the VR's envelope, an earlier record of the
  // same VR (answered from it), hostname, usage, trust list and chain, then revocation. A refusal
  // here is answered without a record and costs the hostname nothing.
  absl::StatusOr<std::optional<v1::VouchResponse>> CheckBeforeProbing(Deciding& vr);
  // The steps after the checks, for a VR no earlier decision answers: the probe budget, approval,
  // probing, the record and the VD.
  absl::StatusOr<v1::VouchResponse> DecideAfterChecks(Deciding& vr);
  // The RATE_LIMITED refusal when `hostname` has used up its probe rounds (trust rule 8), else
  // std::nullopt (and one round is taken). Asked only for a VR that passed every check before
  // probing, so VRs that cannot be issued (a self-signed certificate, a bad signature) never spend
  // a hostname's rounds.
  std::optional<v1::Refusal> CheckProbeRateLimit(const std::string& hostname);
  // The revocation status of every vouched certificate (OCSP and CRL; unknown refuses), while the
  // VR is accepted; collects the evidence the signer re-checks.
  void CheckRevocation(Deciding& vr);
  // Out-of-band approval (ARCHITECTURE.md §7) for trust lists that require it: a refusal is
  // recorded and answered; no answer from the approval service is a fault.
  absl::StatusOr<std::optional<v1::VouchResponse>> CheckApproval(Deciding& vr);
  // Probes from every perspective with a fresh nonce and applies the quorum policy.
  void ProbeAll(Deciding& vr);
  // Records the decision durably (trust rule 4), with the signer's VD when the quorum issues.
  absl::StatusOr<Recorded> RecordAndSign(const Deciding& vr);
  // Appends the decision record, abandoning each log index the signer already gave to another VD
  // (FAILED_PRECONDITION) and trying the next, LogIndexAttempts times at most. `signer_fault` is
  // the signer's fault in the last attempt.
  absl::StatusOr<v1::QuorumRecord> AppendAtAnUntakenIndex(const Deciding& vr,
                                                          absl::Status* signer_fault);
  // The record of the decision at `log_index`: refused as the quorum decided, or what the signer
  // answered.
  absl::StatusOr<v1::QuorumRecord> DecisionRecordAt(const Deciding& vr, uint64_t log_index,
                                                    SigningAttempt* signing);
  // Asks the signer for the VD at `log_index` and completes `record` with its answer. ABORTED when
  // the signer already gave that index away (`signing->index_taken`); an unreachable signer is
  // recorded as SIGNER_REFUSED and reported in `signing->signer_fault`.
  absl::StatusOr<v1::QuorumRecord> AskSigner(const Deciding& vr, uint64_t log_index,
                                             v1::QuorumRecord record, SigningAttempt* signing);
  // The answer from the recorded decision, or the signer's fault.
  absl::StatusOr<v1::VouchResponse> Respond(const Deciding& vr, const Recorded& recorded);
  // Records a refusal decided before probing (no perspectives) and answers with it.
  absl::StatusOr<v1::VouchResponse> RecordRefusalBeforeProbing(
      const std::string& serialized_request, const VerifiedVouchingRequest& request,
      const v1::Refusal& refusal, const std::vector<v1::RevocationEvidence>& revocation_evidence,
      const v1::ApprovalCheck& approval);

  const v1::CoordinatorConfig config_;
  const VouchingRequestLimits limits_;
  HostnameRateLimiter rate_limiter_;
  // Null when decision reuse is off (disable_decision_reuse).
  const std::unique_ptr<DecisionReuse> reuse_;
  const TrustLists& trust_lists_;
  const ProbeFanout& fanout_;
  RecordStore& store_;
  v1::SignerService::StubInterface& signer_;
  RevocationChecker& revocation_;
  const Clock& clock_;
  CoordinatorMetrics* const metrics_;
  const ApprovalChecker* const approval_;
  const LogGuard* const log_guard_;

  absl::Mutex deciding_mutex_;
  // SHA-256 of each VR a Vouch call is deciding now.
  std::set<std::string> deciding_ ABSL_GUARDED_BY(deciding_mutex_);
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_COORDINATOR_H_
