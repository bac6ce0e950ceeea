// A front coordinator's decision log (docs/ARCHITECTURE.md §14 "Stateless fronts and one
// sequencer"): each decision is recorded, and its VD signed, by the VA's sequencer over mutual TLS
// (mecai.v1.SequencerService). Revocation responses are named by hash; the bytes of one are sent
// only when the sequencer's store does not hold it yet (evidence_needed), so a CRL crosses to the
// sequencer once, not with every VR it covers.
#ifndef MECAI_COORDINATOR_SEQUENCER_CLIENT_H_
#define MECAI_COORDINATOR_SEQUENCER_CLIENT_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"
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
  // On gRPC's callback client API: no thread waits for the sequencer.
  void RecordAsync(v1::RecordDecisionRequest decision, RecordDone done) override;
  // UNAVAILABLE at once when the sequencer cannot be reached: the VR is then not probed.
  absl::StatusOr<std::optional<v1::QuorumRecord>> FindByRequestDigest(
      const std::string& sha256) override;

 private:
  // One RecordAsync from its first call to `done`.
  struct Recording;
  // Sends `recording`'s request (again, after evidence_needed) and handles the answer.
  void Send(std::shared_ptr<Recording> recording);

  const std::unique_ptr<v1::SequencerService::StubInterface> stub_;
  const std::string address_;
  const absl::Duration timeout_;
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_SEQUENCER_CLIENT_H_
