// Client channels to other services of the cluster, over mutual TLS (trust rule 7). Every channel
// is made here, alike (docs/ARCHITECTURE.md "Peers and load"): its target may name several
// replicas (dns:///name:port, every address a headless Service resolves to, or a fixed ipv4:/ipv6:
// list), calls are spread round robin over the connected ones, idle connections are kept alive
// with HTTP/2 PINGs (RFC 9113 §6.7) so that cloud load balancers and NATs do not drop them
// silently, a lost connection is retried within seconds, and the TLS files are followed
// (common/rpc/tls_credentials.h).
#ifndef MECAI_COMMON_RPC_GRPC_CHANNEL_H_
#define MECAI_COMMON_RPC_GRPC_CHANNEL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/rpc/grpc_status.h"  // FromGrpcStatus, for the callers of a channel's stubs.
#include "grpcpp/grpcpp.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {

class ConfigErrors;

// An idle connection is pinged this often, and dropped when a PING is not answered within
// kKeepaliveTimeout. Below every common cloud L4 idle timeout (350 s and more) and above the
// servers' minimum PING interval (kMinPingIntervalMilliseconds in grpc_server.cc).
inline constexpr int kKeepaliveTimeMilliseconds = 60 * 1000;
inline constexpr int kKeepaliveTimeoutMilliseconds = 20 * 1000;

// Internal servers (grpc_server.cc) tell each connection to go away after this long (jittered by
// gRPC), so that clients re-resolve their target and spread over replicas added since
// (docs/ARCHITECTURE.md "Peers and load"), and give the calls still running on it the grace to
// finish. A call or stream that ends within the grace of its connection's GOAWAY is never cut.
inline constexpr int kMaxConnectionAgeSeconds = 5 * 60;
inline constexpr int kMaxConnectionAgeGraceSeconds = 3 * 60;

// True when `target` is host:port, dns:///host:port, or ipv4:/ipv6: followed by a comma-separated
// list of host:port (IPv6 hosts in brackets).
bool IsValidChannelTarget(const std::string& target);

// The host:port entries `target` names: one for host:port and dns:///host:port, each of an
// ipv4:/ipv6: list. INVALID_ARGUMENT when !IsValidChannelTarget(target).
absl::StatusOr<std::vector<std::string>> ChannelTargetHostPorts(const std::string& target);

// Validates a PeerConfig; plaintext only when `plaintext_allowed`.
void ValidatePeerConfig(const v1::PeerConfig& peer, bool plaintext_allowed,
                        const std::string& field, ConfigErrors* errors);

// A channel to `peer.address`. Reads and checks the TLS files now (errors as
// ReloadingChannelCredentials's); connects lazily. A `peer.tls` without certificate_file and
// private_key_file presents no client certificate (server-authenticated TLS, for the
// coordinator's public endpoint); ValidatePeerConfig still requires them for the services' own
// peers.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const v1::PeerConfig& peer,
                                                           uint32_t max_receive_bytes = 4 << 20);

// Waits until `channel` is connected (for TLS peers: the mutual TLS handshake succeeded) or
// `deadline` passes; UNAVAILABLE "<what> is unreachable ..." otherwise.
absl::Status WaitUntilConnected(grpc::Channel& channel, absl::Time deadline,
                                const std::string& what);

}  // namespace mecai

#endif  // MECAI_COMMON_RPC_GRPC_CHANNEL_H_
