// Client channels to other services of the cluster, over mutual TLS (trust rule 7).
#ifndef MECAI_COMMON_RPC_GRPC_CHANNEL_H_
#define MECAI_COMMON_RPC_GRPC_CHANNEL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/rpc/grpc_status.h"  // FromGrpcStatus, for the callers of a channel's stubs.
#include "grpcpp/grpcpp.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {

class ConfigErrors;

// Validates a PeerConfig; plaintext only when `plaintext_allowed`.
void ValidatePeerConfig(const v1::PeerConfig& peer, bool plaintext_allowed,
                        const std::string& field, ConfigErrors* errors);

// A channel to `peer.address`. Reads the TLS files now; connects lazily. A `peer.tls` without
// certificate_file and private_key_file presents no client certificate (server-authenticated TLS,
// for the coordinator's public endpoint); ValidatePeerConfig still requires them for the
// services' own peers.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const v1::PeerConfig& peer,
                                                           uint32_t max_receive_bytes = 4 << 20);

// Waits until `channel` is connected (for TLS peers: the mutual TLS handshake succeeded) or
// `deadline` passes; UNAVAILABLE "<what> is unreachable ..." otherwise.
absl::Status WaitUntilConnected(grpc::Channel& channel, absl::Time deadline,
                                const std::string& what);

}  // namespace mecai

#endif  // MECAI_COMMON_RPC_GRPC_CHANNEL_H_
