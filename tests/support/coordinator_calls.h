// The two coordinator calls the cross-service tests make over and over: a Vouch and an audit
// GetRecord, each with a deadline, a gRPC failure turned into a Status naming the call.
#ifndef MECAI_TESTS_SUPPORT_COORDINATOR_CALLS_H_
#define MECAI_TESTS_SUPPORT_COORDINATOR_CALLS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "proto/mecai/v1/record.pb.h"
#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {

// VouchingService.Vouch of `serialized_request` (a serialized VouchingRequest), 60 s deadline.
absl::StatusOr<v1::VouchResponse> CallVouch(grpc::Channel& coordinator,
                                            const std::string& serialized_request);

// AuditService.GetRecord of `log_index`, 30 s deadline.
absl::StatusOr<v1::QuorumRecord> CallGetRecord(grpc::Channel& coordinator, uint64_t log_index);

}  // namespace mecai

#endif  // MECAI_TESTS_SUPPORT_COORDINATOR_CALLS_H_
