// Obtains signed checkpoints of the shard's Merkle log from the signer (docs/SECURITY.md T7): it
// proves each new tree consistent with the last one the signer signed (RFC 9162 §2.1.4) and hands
// over, with inclusion proofs (RFC 9162 §2.1.3), the records of the VDs the signer signed since,
// which the signer demands before it signs a tree covering them. Used by the AuditService and by
// the coordinator's periodic checkpoint.
#ifndef MECAI_COORDINATOR_CHECKPOINT_SIGNER_H_
#define MECAI_COORDINATOR_CHECKPOINT_SIGNER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/base/clock.h"
#include "coordinator/record_store.h"
#include "proto/mecai/v1/signer.grpc.pb.h"

namespace mecai {

// Thread-safe: one signing at a time.
class CheckpointSigner {
 public:
  // Bytes of records one SignCheckpoint request carries at most, below the signer's default
  // message limit (ListenConfig.max_receive_message_bytes, 1 MiB); a larger set is split over
  // checkpoints of intermediate trees. A single larger record is sent alone.
  static constexpr size_t kRecordBytesPerRequest = 768 << 10;

  CheckpointSigner(RecordStore& store, v1::SignerService::StubInterface& signer, const Clock& clock,
                   absl::Duration signer_timeout)
      : store_(store), signer_(signer), clock_(clock), signer_timeout_(signer_timeout) {}

  // The checkpoint of the whole current tree: the stored one when it is of that size, else a new
  // one signed and stored. VDs the signer signed that the log does not hold (their answer never
  // reached the coordinator) are appended first. UNAVAILABLE when the signer cannot be reached or
  // does not sign; FAILED_PRECONDITION when the signer refuses (this log does not extend what it
  // signed, or does not hold a VD it signed at that VD's index).
  //
  // With kAskTheSignerAgain the signer is asked even when the store holds a checkpoint of the
  // whole tree: its answer then confirms that this log extends the last checkpoint it signed
  // (coordinator/log_guard.h).
  enum Freshness { kStoredWhenCurrent, kAskTheSignerAgain };
  absl::StatusOr<v1::SignedCheckpoint> SignLatest(Freshness freshness = kStoredWhenCurrent);

  // Called with every checkpoint stored here, under the signing lock, and must return at once
  // (coordinator/witness_collector.h). Set before the first SignLatest.
  void set_on_stored(std::function<void(const v1::SignedCheckpoint&)> on_stored) {
    on_stored_ = std::move(on_stored);
  }

 private:
  // What one SignCheckpoint call asks for.
  struct Step {
    uint64_t previous_size = 0;
    uint64_t tree_size = 0;
    // The records (index and stored bytes) that go with the request, with proofs in tree_size.
    std::vector<std::pair<uint64_t, std::string>> records;
  };
  // The request for `step`.
  absl::StatusOr<v1::SignCheckpointRequest> RequestFor(const Step& step) const;
  // The step to `tree_size` with the records of `needed` (ascending); with `split`, a smaller tree
  // when they do not fit one request.
  absl::StatusOr<Step> StepWithRecords(uint64_t previous_size, uint64_t tree_size,
                                       const std::vector<uint64_t>& needed, bool split) const;
  // Appends a record carrying `vd`, a VD the signer signed whose own record does not carry it;
  // returns its index.
  absl::StatusOr<uint64_t> RecordUnrecorded(const v1::VouchingData& vd);
  absl::StatusOr<v1::SignCheckpointResponse> CallSigner(const v1::SignCheckpointRequest& request);

  RecordStore& store_;
  v1::SignerService::StubInterface& signer_;
  const Clock& clock_;
  const absl::Duration signer_timeout_;
  absl::Mutex mutex_;  // One signing at a time.
  std::function<void(const v1::SignedCheckpoint&)> on_stored_;
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_CHECKPOINT_SIGNER_H_
