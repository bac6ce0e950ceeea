#include "tests/support/coordinator_calls.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/base/status.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/evidence/vouching_request.h"
#include "common/rpc/grpc_channel.h"
#include "proto/mecai/v1/audit.grpc.pb.h"
#include "proto/mecai/v1/vouching.grpc.pb.h"

namespace mecai {

absl::StatusOr<std::string> SignedRequestFromFiles(const std::string& certificate_file,
                                                   const std::string& key_file,
                                                   const std::string& hostname, uint32_t port,
                                                   const std::string& trust_list,
                                                   absl::Time timestamp) {
  ASSIGN_OR_RETURN(std::vector<std::string> chain, LoadPemCertificatesAsDer(certificate_file));
  ASSIGN_OR_RETURN(EvpPkeyPtr key, LoadPemPrivateKey(key_file));
  ASSIGN_OR_RETURN(std::unique_ptr<InMemorySigningKey> signing_key,
                   InMemorySigningKey::Create(std::move(key)));
  v1::VouchingRequestBody body;
  body.set_hostname(hostname);
  body.set_port(port);
  body.set_trust_list(trust_list);
  body.set_timestamp_unix_seconds(absl::ToUnixSeconds(timestamp));
  body.set_nonce(absl::StrCat("nonce-", absl::ToUnixNanos(absl::Now())));
  return BuildVouchingRequest(std::move(body), chain, *signing_key);
}

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

absl::StatusOr<std::string> CallGetEvidence(grpc::Channel& coordinator, const std::string& sha256) {
  auto stub = v1::AuditService::NewStub(
      std::shared_ptr<grpc::Channel>(&coordinator, [](grpc::Channel*) {}));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::GetEvidenceRequest request;
  request.set_sha256(sha256);
  v1::GetEvidenceResponse response;
  grpc::Status status = stub->GetEvidence(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status, "GetEvidence");
  return response.der();
}

}  // namespace mecai
