// Collects witnesses' cosignatures of the shard's checkpoint notes (docs/PUBLIC_LOG.md
// "Witnesses", https://c2sp.org/tlog-witness): once a checkpoint with a note is stored, each
// configured witness is sent the note with a consistency proof from the size it last cosigned
// (learnt from its 409 answer, text/x.tlog.size), each cosignature it returns is verified with its
// vkey (https://c2sp.org/tlog-cosignature cosignature/v1), and the note is stored again with the
// verified cosignature lines appended, so that the log server serves the cosigned note.
//
// It runs on a thread of its own: signing a checkpoint never waits for a witness. Witnesses are
// asked in parallel, each within its timeout; a witness that is down or refuses costs only its own
// cosignature. When checkpoints come faster than witnesses answer, only the newest is collected.
#ifndef MECAI_COORDINATOR_WITNESS_COLLECTOR_H_
#define MECAI_COORDINATOR_WITNESS_COLLECTOR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>  // NOLINT(build/c++11): the collecting thread.
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/transparency/note_key.h"
#include "coordinator/record_store.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/registry.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/signer.pb.h"

namespace mecai {

// Thread-safe. Stops (and joins its thread) on destruction.
class WitnessCollector {
 public:
  // INVALID_ARGUMENT for a witness whose vkey is not a cosigner vkey (type 0x04), whose URL is not
  // http(s), or two witnesses of one name. `registry` may be null (no metrics).
  static absl::StatusOr<std::unique_ptr<WitnessCollector>> Create(
      const std::vector<v1::WitnessEndpoint>& witnesses, RecordStore& store,
      prometheus::Registry* registry);
  ~WitnessCollector();

  // Called after `checkpoint` was stored; returns at once. Checkpoints without a note are ignored.
  void CheckpointStored(const v1::SignedCheckpoint& checkpoint) ABSL_LOCKS_EXCLUDED(mutex_);

  // Calls `collected` with each checkpoint after its round, with the cosignatures that came in
  // (none when every witness failed), and its tree size, on the collecting thread (logged VDs
  // staple that note, coordinator/logged_vd_proofs.h). REQUIRES: before the first
  // CheckpointStored.
  void OnCollected(std::function<void(const v1::SignedCheckpoint&, uint64_t tree_size)> collected) {
    on_collected_ = std::move(collected);
  }

  // Blocks until every checkpoint handed to CheckpointStored so far was collected (tests).
  void WaitUntilIdle() ABSL_LOCKS_EXCLUDED(mutex_);

 private:
  struct Witness {
    NoteVerifierKey key;
    std::string url;
    absl::Duration timeout;
    std::string ca_file;
    // The size it last cosigned, as far as this process knows (0 at start: its 409 says).
    uint64_t known_size = 0;
  };
  // The cosignature line(s) of `witness` for `note` of a tree of `tree_size`, verified; "" when
  // it gives none. Records the outcome in the metric.
  std::string Collect(Witness& witness, const std::string& note, const std::string& text,
                      uint64_t tree_size);
  void Record(const Witness& witness, const char* result);
  void Run();

  WitnessCollector(std::vector<Witness> witnesses, RecordStore& store,
                   prometheus::Family<prometheus::Counter>* cosignatures);

  // Each Witness is touched only by the collecting thread (one task per witness at a time).
  std::vector<Witness> witnesses_;
  RecordStore& store_;
  prometheus::Family<prometheus::Counter>* const cosignatures_;
  std::function<void(const v1::SignedCheckpoint&, uint64_t)> on_collected_;

  absl::Mutex mutex_;
  std::optional<v1::SignedCheckpoint> pending_ ABSL_GUARDED_BY(mutex_);
  bool busy_ ABSL_GUARDED_BY(mutex_) = false;
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::thread thread_;
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_WITNESS_COLLECTOR_H_
