// mecai.v1.AuditService: the quorum history for auditors (trust rule 5, ARCHITECTURE.md §8).
// Records, signed checkpoints of the shard's Merkle log, and RFC 9162 inclusion and consistency
// proofs.
#ifndef MECAI_COORDINATOR_AUDIT_SERVICE_H_
#define MECAI_COORDINATOR_AUDIT_SERVICE_H_

#include "coordinator/checkpoint_signer.h"
#include "coordinator/log_guard.h"
#include "coordinator/record_store.h"
#include "proto/mecai/v1/audit.grpc.pb.h"

namespace mecai {

// Thread-safe.
class AuditServiceImpl final : public v1::AuditService::Service {
 public:
  // `log_guard`, when given, stops every answer once the log rolls back or forks what the signer
  // signed (coordinator/log_guard.h).
  AuditServiceImpl(RecordStore& store, CheckpointSigner& checkpoints, LogGuard* log_guard = nullptr)
      : store_(store), checkpoints_(checkpoints), log_guard_(log_guard) {}

  grpc::Status GetRecord(grpc::ServerContext* context, const v1::GetRecordRequest* request,
                         v1::GetRecordResponse* response) override;
  grpc::Status ListRecords(grpc::ServerContext* context, const v1::ListRecordsRequest* request,
                           v1::ListRecordsResponse* response) override;
  // Returns a checkpoint of the current tree, signed by the VA key through the signer; a new one
  // is signed when the tree has grown since the last.
  grpc::Status GetCheckpoint(grpc::ServerContext* context, const v1::GetCheckpointRequest* request,
                             v1::GetCheckpointResponse* response) override;
  grpc::Status GetInclusionProof(grpc::ServerContext* context,
                                 const v1::GetInclusionProofRequest* request,
                                 v1::GetInclusionProofResponse* response) override;
  grpc::Status GetConsistencyProof(grpc::ServerContext* context,
                                   const v1::GetConsistencyProofRequest* request,
                                   v1::GetConsistencyProofResponse* response) override;
  grpc::Status ListShards(grpc::ServerContext* context, const v1::ListShardsRequest* request,
                          v1::ListShardsResponse* response) override;
  // The revocation response a record names by hash (RecordStore::GetEvidence).
  grpc::Status GetEvidence(grpc::ServerContext* context, const v1::GetEvidenceRequest* request,
                           v1::GetEvidenceResponse* response) override;

 private:
  // NOT_FOUND unless `shard` is empty or this coordinator's shard; FAILED_PRECONDITION once the
  // log guard found the log rolled back or forked.
  grpc::Status CheckShard(const std::string& shard) const;

  RecordStore& store_;
  CheckpointSigner& checkpoints_;
  LogGuard* const log_guard_;
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_AUDIT_SERVICE_H_
