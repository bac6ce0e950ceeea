// What the cross-service tests do over and over: build a fresh VR from a certificate and key file,
// and call the coordinator's Vouch and audit GetRecord, each with a deadline, a gRPC failure
// turned into a Status naming the call.
#ifndef MECAI_TESTS_SUPPORT_COORDINATOR_CALLS_H_
#define MECAI_TESTS_SUPPORT_COORDINATOR_CALLS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "proto/mecai/v1/record.pb.h"
#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {

// A serialized single-form VR for hostname:port in `trust_list` at `timestamp`, with a unique
// nonce, carrying the PEM chain of `certificate_file` and signed with the PEM key of `key_file`.
absl::StatusOr<std::string> SignedRequestFromFiles(const std::string& certificate_file,
                                                   const std::string& key_file,
                                                   const std::string& hostname, uint32_t port,
                                                   const std::string& trust_list,
                                                   absl::Time timestamp);

// VouchingService.Vouch of `serialized_request` (a serialized VouchingRequest), 60 s deadline.
absl::StatusOr<v1::VouchResponse> CallVouch(grpc::Channel& coordinator,
                                            const std::string& serialized_request);

// AuditService.GetRecord of `log_index`, 30 s deadline.
absl::StatusOr<v1::QuorumRecord> CallGetRecord(grpc::Channel& coordinator, uint64_t log_index);

// AuditService.GetEvidence: the revocation response a record names by `sha256`.
absl::StatusOr<std::string> CallGetEvidence(grpc::Channel& coordinator, const std::string& sha256);

}  // namespace mecai

#endif  // MECAI_TESTS_SUPPORT_COORDINATOR_CALLS_H_
