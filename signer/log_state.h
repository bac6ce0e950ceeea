// The signer's own memory of each log shard (docs/SECURITY.md T7): the last checkpoint it signed
// and the VD log indices it has signed since. The signer signs a checkpoint only for a tree that
// provably extends the last one it signed (RFC 9162 §2.1.4 consistency proof), and a VD only at a
// log index that no signed checkpoint covers yet and that no other VD took.
#ifndef MECAI_SIGNER_LOG_STATE_H_
#define MECAI_SIGNER_LOG_STATE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "proto/mecai/v1/signer.pb.h"

namespace mecai {

// Thread-safe.
class SignerLogState {
 public:
  // Indices handed out below the high-water mark but not (yet) signed, kept so that VDs signed
  // slightly out of order are accepted; beyond this many the oldest is forgotten, which only
  // refuses (fails closed).
  static constexpr size_t kMaxOpenIndices = 4096;

  // Reads `path` (a serialized SignerLogState); a missing file is an empty state, a file that does
  // not parse is DATA_LOSS (the signer must not start and forget what it signed).
  static absl::StatusOr<std::unique_ptr<SignerLogState>> Open(const std::string& path);

  // Claims `log_index` of `shard` for one VD. FAILED_PRECONDITION when a signed checkpoint of the
  // shard already covers the index (it holds another record), or another VD took it.
  absl::Status ClaimVouchingIndex(const std::string& shard, uint64_t log_index);

  // Checks that the tree (`tree_size`, `root_hash`) extends the last checkpoint of `shard` the
  // signer signed, with `consistency_proof` from `previous_tree_size`, and on success records it
  // durably (the file is written before this returns). The first checkpoint of a shard needs no
  // proof. FAILED_PRECONDITION for a tree smaller than the last, a different root at the same
  // size, or a proof that does not verify; ABORTED (with *signer_tree_size set) when
  // previous_tree_size is not the signer's last size.
  absl::Status AdvanceCheckpoint(const std::string& shard, uint64_t tree_size,
                                 const std::string& root_hash, int64_t timestamp_unix_milliseconds,
                                 uint64_t previous_tree_size,
                                 const std::vector<std::string>& consistency_proof,
                                 uint64_t* signer_tree_size);

  // The last signed tree size of `shard` (0 for none).
  uint64_t TreeSize(const std::string& shard) const;

 private:
  struct Shard {
    v1::SignerShardState durable;
    // One past the highest index claimed; every index below it is taken unless in `open`.
    uint64_t next_index = 0;
    std::set<uint64_t> open;
  };

  explicit SignerLogState(std::string path) : path_(std::move(path)) {}
  absl::Status PersistLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  const std::string path_;
  mutable absl::Mutex mutex_;
  std::map<std::string, Shard> shards_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace mecai

#endif  // MECAI_SIGNER_LOG_STATE_H_
