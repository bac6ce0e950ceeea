// Logged VDs on the coordinator's side (docs/VOUCHING_DATA.md "Logged VDs"): a VR whose statement
// the signer approved waits here, holding no thread, until a checkpoint covering its record is
// stored; its VD is then completed with the entry's inclusion proof, the checkpoint note and the
// VA key's endorsement of the log key. The coordinator asks for a checkpoint every
// CoordinatorConfig.batch_interval_milliseconds, so one HSM signature proves every VD of a batch.
#ifndef MECAI_COORDINATOR_LOGGED_VD_PROOFS_H_
#define MECAI_COORDINATOR_LOGGED_VD_PROOFS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "coordinator/record_store.h"
#include "proto/mecai/v1/signer.pb.h"
#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {

// Thread-safe.
class LoggedVdProofs {
 public:
  using Done = std::function<void(absl::StatusOr<v1::VouchResponse>)>;

  // `store` must outlive this.
  explicit LoggedVdProofs(const RecordStore& store) : store_(store) {}

  // Whether `response` carries a VD that is neither signed nor proven yet: an approved statement.
  static bool NeedsProof(const v1::VouchResponse& response);

  // Completes `response` (NeedsProof; its log_index the record of the decision) with the proof of
  // its VD and calls `done` with it: at once when the newest stored checkpoint covers the record,
  // otherwise from the first CheckpointStored that does. At `deadline` (checked by
  // ExpireOverdue) `done` gets UNAVAILABLE instead, naming the record: the VR asked again is
  // answered from that record. `done` never runs under this object's lock.
  void WhenProven(v1::VouchResponse response, absl::Time deadline, Done done);

  // Called with every checkpoint stored: proves every waiting VD whose record it covers.
  void CheckpointStored(const v1::SignedCheckpoint& checkpoint, uint64_t tree_size);

  // Fails the waiters whose deadline is at or before `now`.
  void ExpireOverdue(absl::Time now);

  // VRs waiting for a checkpoint.
  size_t Waiting() const;

  // `response` with the proof of its VD in the tree of `checkpoint` (of `tree_size` leaves).
  // FAILED_PRECONDITION when the checkpoint carries no note or endorsement (its signer is not set
  // for logged VDs).
  absl::StatusOr<v1::VouchResponse> Prove(v1::VouchResponse response,
                                          const v1::SignedCheckpoint& checkpoint,
                                          uint64_t tree_size) const;

 private:
  struct Waiter {
    v1::VouchResponse response;
    absl::Time deadline;
    Done done;
  };

  const RecordStore& store_;
  mutable absl::Mutex mutex_;
  // By log index; several VRs may wait for one record (answered from it).
  std::multimap<uint64_t, Waiter> waiting_ ABSL_GUARDED_BY(mutex_);
  // The newest checkpoint stored, and its tree size (0: none yet).
  v1::SignedCheckpoint latest_ ABSL_GUARDED_BY(mutex_);
  uint64_t latest_size_ ABSL_GUARDED_BY(mutex_) = 0;
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_LOGGED_VD_PROOFS_H_
