#include "coordinator/audit_service.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/rpc/grpc_status.h"

namespace mecai {

grpc::Status AuditServiceImpl::CheckShard(const std::string& shard) const {
  if (log_guard_ != nullptr) {
    const absl::Status serving = log_guard_->AllowsReads();
    if (!serving.ok()) return ToGrpcStatus(serving);
  }
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
  grpc::Status serving = CheckShard("");
  if (!serving.ok()) return serving;
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
  // A checkpoint asked for before the signer confirmed the log is the occasion to confirm it.
  if (log_guard_ != nullptr) log_guard_->Confirm();
  grpc::Status shard = CheckShard(request->log_shard_id());
  if (!shard.ok()) return shard;
  absl::StatusOr<v1::SignedCheckpoint> checkpoint = checkpoints_.SignLatest();
  if (!checkpoint.ok()) return ToGrpcStatus(checkpoint.status());
  *response->mutable_checkpoint() = *std::move(checkpoint);
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
  grpc::Status serving = CheckShard("");
  if (!serving.ok()) return serving;
  v1::ShardInfo* shard = response->add_shards();
  shard->set_log_shard_id(store_.shard_id());
  shard->set_tree_size(store_.TreeSize());
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::GetEvidence(grpc::ServerContext* /*context*/,
                                           const v1::GetEvidenceRequest* request,
                                           v1::GetEvidenceResponse* response) {
  grpc::Status serving = CheckShard("");
  if (!serving.ok()) return serving;
  absl::StatusOr<std::string> der = store_.GetEvidence(request->sha256());
  if (!der.ok()) return ToGrpcStatus(der.status());
  response->set_der(*std::move(der));
  return grpc::Status::OK;
}

}  // namespace mecai
