#include "tests/support/coordinator_calls.h"

#include <chrono>

#include "common/grpc_channel.h"
#include "proto/mecai/v1/audit.grpc.pb.h"
#include "proto/mecai/v1/vouching.grpc.pb.h"

namespace mecai {

absl::StatusOr<v1::VouchResponse> CallVouch(grpc::Channel& coordinator,
                                            const std::string& serialized_request) {
  auto stub = v1::VouchingService::NewStub(
      std::shared_ptr<grpc::Channel>(&coordinator, [](grpc::Channel*) {}));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  v1::VouchRequest request;
  request.set_vouching_request(serialized_request);
  v1::VouchResponse response;
  grpc::Status status = stub->Vouch(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status, "Vouch");
  return response;
}

absl::StatusOr<v1::QuorumRecord> CallGetRecord(grpc::Channel& coordinator, uint64_t log_index) {
  auto stub = v1::AuditService::NewStub(
      std::shared_ptr<grpc::Channel>(&coordinator, [](grpc::Channel*) {}));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::GetRecordRequest request;
  request.set_log_index(log_index);
  v1::GetRecordResponse response;
  grpc::Status status = stub->GetRecord(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status, "GetRecord");
  return response.record();
}

}  // namespace mecai
