#include "coordinator/logged_vd_proofs.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"

namespace mecai {

bool LoggedVdProofs::NeedsProof(const v1::VouchResponse& response) {
  return response.has_vouching_data() && !response.vouching_data().has_signature() &&
         !response.vouching_data().has_log_proof();
}

absl::StatusOr<v1::VouchResponse> LoggedVdProofs::Prove(v1::VouchResponse response,
                                                        const v1::SignedCheckpoint& checkpoint,
                                                        uint64_t tree_size) const {
  if (checkpoint.note().empty() || !checkpoint.has_log_key_endorsement()) {
    return absl::FailedPreconditionError(
        "the signer's checkpoint carries no note or log key endorsement: it is not set for "
        "logged VDs (SignerConfig.logged_vouching_data)");
  }
  const uint64_t index = response.log_index();
  ASSIGN_OR_RETURN(std::string record, store_.GetRecordBytes(index));
  ASSIGN_OR_RETURN(std::vector<std::string> path, store_.InclusionProof(index, tree_size));
  v1::VouchingData* vd = response.mutable_vouching_data();
  v1::LogProof* proof = vd->mutable_log_proof();
  proof->set_record_sha256(Sha256(record));
  for (std::string& node : path) proof->add_inclusion_proof(std::move(node));
  proof->set_checkpoint_note(checkpoint.note());
  *proof->mutable_log_key_endorsement() = checkpoint.log_key_endorsement();
  vd->clear_va_certificate_chain_der();
  for (const std::string& der : checkpoint.va_certificate_chain_der()) {
    vd->add_va_certificate_chain_der(der);
  }
  return response;
}

void LoggedVdProofs::WhenProven(v1::VouchResponse response, absl::Time deadline, Done done) {
  v1::SignedCheckpoint checkpoint;
  uint64_t size = 0;
  const uint64_t index = response.log_index();
  {
    absl::MutexLock lock(&mutex_);
    if (index >= latest_size_) {
      waiting_.emplace(index, Waiter{std::move(response), deadline, std::move(done)});
      return;
    }
    checkpoint = latest_;
    size = latest_size_;
  }
  done(Prove(std::move(response), checkpoint, size));
}

void LoggedVdProofs::CheckpointStored(const v1::SignedCheckpoint& checkpoint, uint64_t tree_size) {
  std::vector<Waiter> proven;
  {
    absl::MutexLock lock(&mutex_);
    if (tree_size <= latest_size_) return;
    latest_ = checkpoint;
    latest_size_ = tree_size;
    auto end = waiting_.lower_bound(tree_size);
    for (auto it = waiting_.begin(); it != end; ++it) proven.push_back(std::move(it->second));
    waiting_.erase(waiting_.begin(), end);
  }
  for (Waiter& waiter : proven) {
    waiter.done(Prove(std::move(waiter.response), checkpoint, tree_size));
  }
}

void LoggedVdProofs::ExpireOverdue(absl::Time now) {
  std::vector<Waiter> overdue;
  {
    absl::MutexLock lock(&mutex_);
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if (it->second.deadline <= now) {
        overdue.push_back(std::move(it->second));
        it = waiting_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (Waiter& waiter : overdue) {
    waiter.done(absl::UnavailableError(absl::StrCat(
        "the decision is recorded at log index ", waiter.response.log_index(),
        " but no checkpoint proves its VD yet (the signer has signed none since); the same VR "
        "sent again is answered from that record")));
  }
}

size_t LoggedVdProofs::Waiting() const {
  absl::MutexLock lock(&mutex_);
  return waiting_.size();
}

}  // namespace mecai
