// Where a coordinator's decisions are recorded (docs/ARCHITECTURE.md §14 "Stateless fronts and one
// sequencer"): in its own record store, where the signer signs each VD at its log index
// (LocalDecisionLog: a coordinator alone, or the VA's sequencer), or by the VA's sequencer over
// mutual TLS (SequencerClient: a front coordinator, which keeps no state).
#ifndef MECAI_COORDINATOR_DECISION_LOG_H_
#define MECAI_COORDINATOR_DECISION_LOG_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/mecai/v1/record.pb.h"
#include "proto/mecai/v1/sequencer.pb.h"

namespace mecai {

// What recording one decision wrote.
struct RecordedDecision {
  // The record as stored at its log index; for a logged VD whose proof the log adds, as proven.
  v1::QuorumRecord record;
  // Not OK when the signer could not be reached: the record says refused (SIGNER_REFUSED) and the
  // VR's caller is told of the fault.
  absl::Status signer_fault;
};

// Thread-safe.
class DecisionLog {
 public:
  virtual ~DecisionLog() = default;

  // Records `decision` (RecordDecisionRequest: a QuorumRecord without its index, shard and time;
  // ISSUED asks the signer, REFUSED is recorded as is) durably, in bounded time (trust rule 4),
  // and returns what was stored. An error means no answer about the record: it may or may not
  // have been written (the VR sent again is answered from it if it was).
  virtual absl::StatusOr<RecordedDecision> Record(const v1::RecordDecisionRequest& decision) = 0;

  // Records `decision` as Record does and calls `done` once with the result, from whichever
  // thread has it; `done` must not block. By default Record runs on the calling thread; the logs
  // of this repository hold no thread while they wait (docs/ARCHITECTURE.md §13). `sign_by` is the
  // VR's deadline: a log that makes its VRs wait for their turn to be signed answers a decision
  // that reaches it, or whose turn comes, after it DEADLINE_EXCEEDED, and records nothing (its
  // caller has gone); a front's log sends it to the sequencer, which does the same (§14).
  using RecordDone = std::function<void(absl::StatusOr<RecordedDecision>)>;
  virtual void RecordAsync(v1::RecordDecisionRequest decision, absl::Time sign_by,
                           RecordDone done) {
    done(Record(decision));
  }

  // The latest record of the VR whose SHA-256 is `sha256`, or std::nullopt.
  virtual absl::StatusOr<std::optional<v1::QuorumRecord>> FindByRequestDigest(
      const std::string& sha256) = 0;

  // FindByRequestDigest, calling `done` once from whichever thread has the answer; `done` must not
  // block. By default on the calling thread; a log reached over the network holds no thread while
  // it waits.
  using FindDone = std::function<void(absl::StatusOr<std::optional<v1::QuorumRecord>>)>;
  virtual void FindByRequestDigestAsync(const std::string& sha256, FindDone done) {
    done(FindByRequestDigest(sha256));
  }
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_DECISION_LOG_H_
