// A front coordinator's decision log (docs/ARCHITECTURE.md §14 "Stateless fronts and one
// sequencer"): each decision is recorded, and its VD signed, by the VA's sequencer over mutual TLS
// (mecai.v1.SequencerService). Revocation responses are named by hash; the bytes of one are sent
// only when the sequencer's store does not hold it yet (evidence_needed), so a CRL crosses to the
// sequencer once, not with every VR it covers.
#ifndef MECAI_COORDINATOR_SEQUENCER_CLIENT_H_
#define MECAI_COORDINATOR_SEQUENCER_CLIENT_H_

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "coordinator/call_limit.h"
#include "coordinator/decision_log.h"
#include "proto/mecai/v1/sequencer.grpc.pb.h"

namespace mecai {

// Thread-safe (the stub is).
class SequencerClient final : public DecisionLog {
 public:
  // `timeout` bounds each call (CoordinatorConfig.sequencer_timeout_milliseconds); `address` names
  // the sequencer in errors.
  SequencerClient(std::unique_ptr<v1::SequencerService::StubInterface> stub, std::string address,
                  absl::Duration timeout);

  // A sequencer that cannot be reached is waited for until the timeout (it may be restarting);
  // one that does not answer by then is DEADLINE_EXCEEDED, and a call cut off by its end
  // UNAVAILABLE, with a message that says the decision may or may not have been recorded. Both
  // calls of an evidence_needed exchange share the one timeout.
  absl::StatusOr<RecordedDecision> Record(const v1::RecordDecisionRequest& decision) override;
  // On gRPC's callback client API: no thread waits for the sequencer. At most kMaxCallsInFlight
  // calls are out at once; the decisions that arrive meanwhile wait and go together in the next
  // RecordDecisions call (up to kMaxDecisionsPerCall), so that under load the cost of a call is
  // shared by many decisions, and without load a decision is sent at once.
  // `sign_by` (the VR's deadline) goes with the decision (sign_by_unix_milliseconds), in a
  // RecordDecisions call as in a RecordDecision call: the sequencer neither signs nor records a
  // decision whose VR's deadline, or whose call's (sequencer_timeout_milliseconds), passes before
  // its turn to be signed, and answers it DEADLINE_EXCEEDED.
  void RecordAsync(v1::RecordDecisionRequest decision, absl::Time sign_by,
                   RecordDone done) override;
  // UNAVAILABLE at once when the sequencer cannot be reached: the VR is then not probed. At most
  // kMaxFindCallsInFlight FindRecord calls are out at once (the sequencer's queue is shared by
  // every front); the others wait their turn.
  absl::StatusOr<std::optional<v1::QuorumRecord>> FindByRequestDigest(
      const std::string& sha256) override;
  void FindByRequestDigestAsync(const std::string& sha256, FindDone done) override;

 private:
  static constexpr int kMaxCallsInFlight = 2;
  static constexpr size_t kMaxDecisionsPerCall = 64;
  static constexpr size_t kMaxFindCallsInFlight = 16;

  // One RecordAsync from its first call to `done`.
  struct Recording;
  struct BatchCall;
  struct SingleCall;
  // Up to kMaxDecisionsPerCall waiting decisions, counted as a call in flight when any.
  std::vector<std::shared_ptr<Recording>> TakeBatch() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Sends `recordings` in one RecordDecisions call; the next batch follows its answer.
  void SendBatch(std::vector<std::shared_ptr<Recording>> recordings) ABSL_LOCKS_EXCLUDED(mutex_);
  // Sends `recording` alone (again, with the evidence the sequencer asked for).
  void SendOne(std::shared_ptr<Recording> recording);
  // The answer for one decision: `done`, or once more with the evidence asked for.
  void HandleAnswer(std::shared_ptr<Recording> recording, const grpc::Status& status,
                    v1::RecordDecisionResponse response);

  const std::unique_ptr<v1::SequencerService::StubInterface> stub_;
  const std::string address_;
  const absl::Duration timeout_;

  absl::Mutex mutex_;
  std::deque<std::shared_ptr<Recording>> waiting_ ABSL_GUARDED_BY(mutex_);
  int calls_in_flight_ ABSL_GUARDED_BY(mutex_) = 0;
  CallLimit find_calls_{kMaxFindCallsInFlight};
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_SEQUENCER_CLIENT_H_
