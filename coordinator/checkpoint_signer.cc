#include "coordinator/checkpoint_signer.h"

#include <algorithm>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/base/logging.h"
#include "common/base/status.h"
#include "common/rpc/grpc_status.h"

namespace mecai {
namespace {

// SignCheckpoint calls for one SignLatest at most: enough for a tree covering the signer's whole
// allowance of VDs since its last checkpoint (65536) in requests of kRecordBytesPerRequest.
constexpr int kMaxSignerCalls = 4096;

}  // namespace

absl::StatusOr<v1::SignedCheckpoint> CheckpointSigner::SignLatest(Freshness freshness) {
  absl::MutexLock lock(&mutex_);
  uint64_t tree_size = store_.TreeSize();
  Step step;
  step.tree_size = tree_size;
  absl::StatusOr<v1::SignedCheckpoint> latest = store_.GetLatestCheckpoint();
  if (latest.ok()) {
    v1::CheckpointBody body;
    if (body.ParseFromString(latest->tbs())) {
      if (body.tree_size() == tree_size && freshness == kStoredWhenCurrent) return latest;
      step.previous_size = body.tree_size();
    }
  }
  // The indices, ascending, whose records the signer asked for and no signed checkpoint covers.
  std::vector<uint64_t> needed;
  // The VDs this call appended to the log, and whether a request may cover part of the records.
  std::set<std::string> recorded_late;
  bool split = true;
  for (int call = 0; call < kMaxSignerCalls; ++call) {
    if (step.previous_size > step.tree_size) {
      return absl::FailedPreconditionError(
          absl::StrCat("the signer has signed a checkpoint of ", step.previous_size,
                       " leaves; this log has only ", step.tree_size));
    }
    ASSIGN_OR_RETURN(v1::SignCheckpointRequest request, RequestFor(step));
    ASSIGN_OR_RETURN(v1::SignCheckpointResponse response, CallSigner(request));
    if (response.has_checkpoint()) {
      RETURN_IF_ERROR(store_.PutCheckpoint(response.checkpoint(), step.tree_size));
      if (on_stored_) on_stored_(response.checkpoint());
      if (step.tree_size == tree_size) return response.checkpoint();
      needed.erase(needed.begin(), std::lower_bound(needed.begin(), needed.end(), step.tree_size));
      ASSIGN_OR_RETURN(step, StepWithRecords(step.tree_size, tree_size, needed, split));
    } else if (response.previous_tree_size_mismatch()) {
      // Prove consistency from the signer's own last tree instead.
      needed.clear();
      step = Step{response.signer_tree_size(), tree_size, {}};
    } else if (response.records_needed_size() > 0) {
      const size_t known = needed.size();
      for (uint64_t index : response.records_needed()) {
        if (index < step.previous_size || index >= step.tree_size) {
          return absl::UnavailableError(
              absl::StrCat("signer: it asked for record ", index, " outside the tree"));
        }
        needed.push_back(index);
      }
      std::sort(needed.begin(), needed.end());
      needed.erase(std::unique(needed.begin(), needed.end()), needed.end());
      if (needed.size() == known) {
        return absl::UnavailableError("signer: it asked again for records it was given");
      }
      ASSIGN_OR_RETURN(step, StepWithRecords(step.previous_size, tree_size, needed, split));
    } else if (response.unrecorded_vouching_data_size() > 0) {
      // VDs whose answer never reached this coordinator (or its predecessor): the log takes each
      // now, in a record of its own, and the checkpoint covers those records too.
      for (const v1::VouchingData& vd : response.unrecorded_vouching_data()) {
        if (!recorded_late.insert(vd.statement()).second) {
          return absl::UnavailableError("signer: it names a VD again that the log took");
        }
        ASSIGN_OR_RETURN(uint64_t index, RecordUnrecorded(vd));
        needed.push_back(index);
      }
      std::sort(needed.begin(), needed.end());
      tree_size = store_.TreeSize();
      // The records carrying those VDs go in one request with the rest: no split between a VD's
      // index and its record.
      split = false;
      ASSIGN_OR_RETURN(step, StepWithRecords(step.previous_size, tree_size, needed, split));
    } else {
      return absl::UnavailableError("signer: it answered without a checkpoint or a reason");
    }
  }
  return absl::UnavailableError(
      absl::StrCat("signer: no checkpoint after ", kMaxSignerCalls, " calls"));
}

absl::StatusOr<CheckpointSigner::Step> CheckpointSigner::StepWithRecords(
    uint64_t previous_size, uint64_t tree_size, const std::vector<uint64_t>& needed,
    bool split) const {
  Step step{previous_size, tree_size, {}};
  size_t bytes = 0;
  for (uint64_t index : needed) {
    ASSIGN_OR_RETURN(std::string record, store_.GetRecordBytes(index));
    if (split && !step.records.empty() && bytes + record.size() > kRecordBytesPerRequest) {
      // Sign the tree just before this record first.
      step.tree_size = index;
      break;
    }
    bytes += record.size();
    step.records.emplace_back(index, std::move(record));
  }
  return step;
}

absl::StatusOr<uint64_t> CheckpointSigner::RecordUnrecorded(const v1::VouchingData& vd) {
  v1::VouchingStatement statement;
  if (!statement.ParseFromString(vd.statement()) || statement.log_shard_id() != store_.shard_id()) {
    return absl::UnavailableError("signer: it names an unrecorded VD of another shard");
  }
  ASSIGN_OR_RETURN(v1::QuorumRecord record, store_.Append([&](uint64_t log_index) {
    v1::QuorumRecord late;
    late.set_log_index(log_index);
    late.set_log_shard_id(store_.shard_id());
    late.set_decided_at_unix_milliseconds(clock_.NowUnixMilliseconds());
    late.mutable_refusal()->set_explanation(absl::StrCat(
        "a VD the signer signed at log index ", statement.log_index(), " for ",
        statement.hostname(), ":", statement.port(),
        " whose answer never reached the coordinator; the record at that index says why"));
    *late.mutable_unrecorded_vouching_data() = vd;
    return absl::StatusOr<v1::QuorumRecord>(std::move(late));
  }));
  MECAI_LOG(Warning) << "recorded at log index " << record.log_index()
                     << " a VD the signer signed at log index " << statement.log_index()
                     << " whose answer was lost";
  return record.log_index();
}

absl::StatusOr<v1::SignCheckpointRequest> CheckpointSigner::RequestFor(const Step& step) const {
  v1::SignCheckpointRequest request;
  v1::CheckpointBody* checkpoint = request.mutable_checkpoint();
  checkpoint->set_log_shard_id(store_.shard_id());
  checkpoint->set_tree_size(step.tree_size);
  ASSIGN_OR_RETURN(*checkpoint->mutable_root_hash(), store_.RootHash(step.tree_size));
  checkpoint->set_timestamp_unix_milliseconds(clock_.NowUnixMilliseconds());
  if (step.previous_size > 0) {
    ASSIGN_OR_RETURN(std::vector<std::string> proof,
                     store_.ConsistencyProof(step.previous_size, step.tree_size));
    request.set_previous_tree_size(step.previous_size);
    for (std::string& node : proof) request.add_consistency_proof(std::move(node));
  }
  for (const auto& [index, bytes] : step.records) {
    v1::RecordAtIndex* record = request.add_vouched_records();
    record->set_log_index(index);
    record->set_record(bytes);
    ASSIGN_OR_RETURN(std::vector<std::string> proof, store_.InclusionProof(index, step.tree_size));
    for (std::string& node : proof) record->add_inclusion_proof(std::move(node));
  }
  return request;
}

absl::StatusOr<v1::SignCheckpointResponse> CheckpointSigner::CallSigner(
    const v1::SignCheckpointRequest& request) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + signer_timeout_));
  context.set_wait_for_ready(true);  // As for VDs: a restarting signer is waited for.
  v1::SignCheckpointResponse response;
  grpc::Status status = signer_.SignCheckpoint(&context, request, &response);
  if (status.ok()) return response;
  return status.error_code() == grpc::StatusCode::FAILED_PRECONDITION
             ? absl::FailedPreconditionError(absl::StrCat("signer: ", status.error_message()))
             : absl::UnavailableError(absl::StrCat("signer: ", status.error_message()));
}

}  // namespace mecai
