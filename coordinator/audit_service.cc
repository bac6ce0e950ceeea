#include "coordinator/audit_service.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/rpc/grpc_status.h"
#include "proto/mecai/v1/signer.pb.h"

namespace mecai {

grpc::Status AuditServiceImpl::CheckShard(const std::string& shard) const {
  if (shard.empty() || shard == store_.shard_id()) return grpc::Status::OK;
  return grpc::Status(
      grpc::StatusCode::NOT_FOUND,
      absl::StrCat("this coordinator serves shard '", store_.shard_id(), "', not '", shard, "'"));
}

grpc::Status AuditServiceImpl::GetRecord(grpc::ServerContext* /*context*/,
                                         const v1::GetRecordRequest* request,
                                         v1::GetRecordResponse* response) {
  grpc::Status shard = CheckShard(request->log_shard_id());
  if (!shard.ok()) return shard;
  auto record = store_.GetRecord(request->log_index());
  if (!record.ok()) return ToGrpcStatus(record.status());
  *response->mutable_record() = std::move(*record);
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::ListRecords(grpc::ServerContext* /*context*/,
                                           const v1::ListRecordsRequest* request,
                                           v1::ListRecordsResponse* response) {
  std::string next_page_token;
  auto records = store_.ListRecords(request->hostname(), request->since_unix_milliseconds(),
                                    request->page_size(), request->page_token(), &next_page_token);
  if (!records.ok()) return ToGrpcStatus(records.status());
  for (auto& record : *records) *response->add_records() = std::move(record);
  response->set_next_page_token(next_page_token);
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::GetCheckpoint(grpc::ServerContext* /*context*/,
                                             const v1::GetCheckpointRequest* request,
                                             v1::GetCheckpointResponse* response) {
  grpc::Status shard = CheckShard(request->log_shard_id());
  if (!shard.ok()) return shard;
  absl::MutexLock lock(&checkpoint_mutex_);
  const uint64_t tree_size = store_.TreeSize();
  auto latest = store_.GetLatestCheckpoint();
  if (latest.ok()) {
    v1::CheckpointBody body;
    if (body.ParseFromString(latest->tbs()) && body.tree_size() == tree_size) {
      *response->mutable_checkpoint() = std::move(*latest);
      return grpc::Status::OK;
    }
  }
  auto root = store_.RootHash(tree_size);
  if (!root.ok()) return ToGrpcStatus(root.status());
  // The signer signs only a tree proven to extend the last one it signed: prove it from the last
  // checkpoint this store holds, or from the size the signer names (docs/SECURITY.md T7).
  uint64_t previous_size = 0;
  if (latest.ok()) {
    v1::CheckpointBody previous;
    if (previous.ParseFromString(latest->tbs())) previous_size = previous.tree_size();
  }
  v1::SignCheckpointResponse signed_checkpoint;
  for (int attempt = 0; attempt < 2; ++attempt) {
    v1::SignCheckpointRequest sign;
    sign.mutable_checkpoint()->set_log_shard_id(store_.shard_id());
    sign.mutable_checkpoint()->set_tree_size(tree_size);
    sign.mutable_checkpoint()->set_root_hash(*root);
    sign.mutable_checkpoint()->set_timestamp_unix_milliseconds(clock_.NowUnixMilliseconds());
    if (previous_size > tree_size) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          absl::StrCat("the signer has signed a checkpoint of ", previous_size,
                                       " leaves; this log has only ", tree_size));
    }
    if (previous_size > 0) {
      auto proof = store_.ConsistencyProof(previous_size, tree_size);
      if (!proof.ok()) return ToGrpcStatus(proof.status());
      sign.set_previous_tree_size(previous_size);
      for (std::string& node : *proof) sign.add_consistency_proof(std::move(node));
    }
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + signer_timeout_));
    signed_checkpoint.Clear();
    grpc::Status status = signer_.SignCheckpoint(&context, sign, &signed_checkpoint);
    if (!status.ok()) {
      return grpc::Status(status.error_code() == grpc::StatusCode::FAILED_PRECONDITION
                              ? grpc::StatusCode::FAILED_PRECONDITION
                              : grpc::StatusCode::UNAVAILABLE,
                          absl::StrCat("signer: ", status.error_message()));
    }
    if (!signed_checkpoint.previous_tree_size_mismatch()) break;
    previous_size = signed_checkpoint.signer_tree_size();
  }
  if (!signed_checkpoint.has_checkpoint()) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "signer: it did not sign the checkpoint after a second consistency proof");
  }
  absl::Status stored = store_.PutCheckpoint(signed_checkpoint.checkpoint(), tree_size);
  if (!stored.ok()) return ToGrpcStatus(stored);
  *response->mutable_checkpoint() = signed_checkpoint.checkpoint();
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::GetInclusionProof(grpc::ServerContext* /*context*/,
                                                 const v1::GetInclusionProofRequest* request,
                                                 v1::GetInclusionProofResponse* response) {
  grpc::Status shard = CheckShard(request->log_shard_id());
  if (!shard.ok()) return shard;
  auto proof = store_.InclusionProof(request->log_index(), request->tree_size());
  if (!proof.ok()) return ToGrpcStatus(proof.status());
  auto leaf = store_.GetLeafHash(request->log_index());
  if (!leaf.ok()) return ToGrpcStatus(leaf.status());
  for (auto& node : *proof) response->add_audit_path(std::move(node));
  response->set_leaf_hash(*leaf);
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::GetConsistencyProof(grpc::ServerContext* /*context*/,
                                                   const v1::GetConsistencyProofRequest* request,
                                                   v1::GetConsistencyProofResponse* response) {
  grpc::Status shard = CheckShard(request->log_shard_id());
  if (!shard.ok()) return shard;
  auto proof = store_.ConsistencyProof(request->first_tree_size(), request->second_tree_size());
  if (!proof.ok()) return ToGrpcStatus(proof.status());
  for (auto& node : *proof) response->add_proof(std::move(node));
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::ListShards(grpc::ServerContext* /*context*/,
                                          const v1::ListShardsRequest* /*request*/,
                                          v1::ListShardsResponse* response) {
  v1::ShardInfo* shard = response->add_shards();
  shard->set_log_shard_id(store_.shard_id());
  shard->set_tree_size(store_.TreeSize());
  return grpc::Status::OK;
}

}  // namespace mecai
