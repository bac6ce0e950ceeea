#include "signer/log_state.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/transparency/merkle.h"

namespace mecai {

absl::StatusOr<std::unique_ptr<SignerLogState>> SignerLogState::Open(const std::string& path) {
  std::unique_ptr<SignerLogState> state(new SignerLogState(path));
  absl::StatusOr<std::string> bytes = ReadFile(path);
  if (!bytes.ok()) {
    if (bytes.status().code() == absl::StatusCode::kNotFound) return state;
    return bytes.status();
  }
  v1::SignerLogState stored;
  if (!stored.ParseFromString(*bytes)) {
    return absl::DataLossError(absl::StrCat(
        path,
        " is not a SignerLogState; the signer will not start without its memory of what it "
        "signed (restore the file from a backup)"));
  }
  absl::MutexLock lock(&state->mutex_);
  for (const v1::SignerShardState& shard : stored.shards()) {
    const bool has_checkpoint = shard.root_hash().size() == kMerkleHashBytes;
    if (shard.log_shard_id().empty() ||
        (!has_checkpoint && (shard.tree_size() != 0 || !shard.root_hash().empty()))) {
      return absl::DataLossError(absl::StrCat(path, ": a shard entry is incomplete"));
    }
    Shard& loaded = state->shards_[shard.log_shard_id()];
    loaded.durable = shard;
    // After a restart nothing below the last signed tree or the last recorded floor is signed.
    loaded.next_index = std::max(shard.tree_size(), shard.vouched_index_floor());
  }
  return state;
}

absl::Status SignerLogState::PersistLocked() {
  v1::SignerLogState stored;
  for (const auto& [id, shard] : shards_) {
    v1::SignerShardState* entry = stored.add_shards();
    *entry = shard.durable;
    entry->set_vouched_index_floor(std::max(shard.next_index, shard.durable.tree_size()));
  }
  return WriteFileAtomically(path_, stored.SerializeAsString(), 0600);
}

absl::Status SignerLogState::ClaimVouchingIndex(const std::string& shard, uint64_t log_index) {
  absl::MutexLock lock(&mutex_);
  Shard& state = shards_[shard];
  if (log_index < state.durable.tree_size()) {
    return absl::FailedPreconditionError(
        absl::StrCat("log index ", log_index, " of shard '", shard,
                     "' is inside the tree the signer last signed (", state.durable.tree_size(),
                     " leaves): it holds another record"));
  }
  if (log_index >= state.next_index) {
    for (uint64_t skipped = std::max(state.next_index, state.durable.tree_size());
         skipped < log_index && state.open.size() < kMaxOpenIndices + 1; ++skipped) {
      state.open.insert(skipped);
    }
    while (state.open.size() > kMaxOpenIndices) state.open.erase(state.open.begin());
    state.next_index = log_index + 1;
    return absl::OkStatus();
  }
  if (state.open.erase(log_index) == 1) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat("log index ", log_index, " of shard '", shard,
                                                    "' was already given to another VD"));
}

absl::Status SignerLogState::AdvanceCheckpoint(const std::string& shard, uint64_t tree_size,
                                               const std::string& root_hash,
                                               int64_t timestamp_unix_milliseconds,
                                               uint64_t previous_tree_size,
                                               const std::vector<std::string>& consistency_proof,
                                               uint64_t* signer_tree_size) {
  absl::MutexLock lock(&mutex_);
  auto found = shards_.find(shard);
  const bool known =
      found != shards_.end() && found->second.durable.root_hash().size() == kMerkleHashBytes;
  if (known) {
    const v1::SignerShardState& last = found->second.durable;
    *signer_tree_size = last.tree_size();
    if (tree_size < last.tree_size()) {
      return absl::FailedPreconditionError(
          absl::StrCat("shard '", shard, "' has a signed checkpoint of ", last.tree_size(),
                       " leaves; the signer does not sign the smaller tree of ", tree_size));
    }
    if (previous_tree_size != last.tree_size()) {
      return absl::AbortedError(absl::StrCat("the signer's last checkpoint of shard '", shard,
                                             "' has ", last.tree_size(), " leaves, not ",
                                             previous_tree_size));
    }
    absl::Status consistent = VerifyConsistency(last.tree_size(), tree_size, last.root_hash(),
                                                root_hash, consistency_proof);
    if (!consistent.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("the tree of ", tree_size, " leaves (root ", ShortHex(root_hash),
                       ") is not proven to extend the signed tree of ", last.tree_size(),
                       " leaves (root ", ShortHex(last.root_hash()), "): ", consistent.message()));
    }
  } else if (previous_tree_size != 0 || !consistency_proof.empty()) {
    *signer_tree_size = 0;
    return absl::AbortedError(
        absl::StrCat("the signer has signed no checkpoint of shard '", shard, "' yet"));
  }
  Shard& state = shards_[shard];
  const v1::SignerShardState before = state.durable;
  state.durable.set_log_shard_id(shard);
  state.durable.set_tree_size(tree_size);
  state.durable.set_root_hash(root_hash);
  state.durable.set_timestamp_unix_milliseconds(timestamp_unix_milliseconds);
  absl::Status persisted = PersistLocked();
  if (!persisted.ok()) {
    state.durable = before;
    return Annotate(persisted, "cannot record the checkpoint before signing it");
  }
  state.open.erase(state.open.begin(), state.open.lower_bound(tree_size));
  state.next_index = std::max(state.next_index, tree_size);
  *signer_tree_size = tree_size;
  return absl::OkStatus();
}

uint64_t SignerLogState::TreeSize(const std::string& shard) const {
  absl::MutexLock lock(&mutex_);
  auto found = shards_.find(shard);
  return found == shards_.end() ? 0 : found->second.durable.tree_size();
}

}  // namespace mecai
