// The one conversion between absl::Status and grpc::Status (CONTRIBUTING.md rule 2: converted at
// the edge, once). absl::StatusCode and grpc::StatusCode number the same canonical codes
// (google.rpc.Code), so a code converts one to one.
#ifndef MECAI_COMMON_RPC_GRPC_STATUS_H_
#define MECAI_COMMON_RPC_GRPC_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace mecai {

// What a service handler returns for `status`: the same code and message; OK for OK.
grpc::Status ToGrpcStatus(const absl::Status& status);

// Converts a failed gRPC call to a Status naming the peer ("probe agent eu-1 at host:port: ...");
// the same code, the message prefixed with `what`. OK for OK.
absl::Status FromGrpcStatus(const grpc::Status& status, const std::string& what);

}  // namespace mecai

#endif  // MECAI_COMMON_RPC_GRPC_STATUS_H_
