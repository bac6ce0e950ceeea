#include "common/rpc/grpc_channel.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/base/config_loader.h"
#include "common/base/status.h"
#include "common/rpc/tls_credentials.h"

namespace mecai {
namespace {

// Calls go to every connected address of the target in turn (gRPC's round_robin policy); the
// channel never takes a service config from DNS.
constexpr char kServiceConfig[] = R"({"loadBalancingConfig": [{"round_robin": {}}]})";
// After a failed connection attempt the next one comes within seconds, so a peer that comes back
// is used again soon (gRPC connection backoff, capped here).
constexpr int kInitialReconnectBackoffMilliseconds = 1000;
constexpr int kMaxReconnectBackoffMilliseconds = 10 * 1000;

constexpr absl::string_view kDnsScheme = "dns:///";
constexpr absl::string_view kIpv4Scheme = "ipv4:";
constexpr absl::string_view kIpv6Scheme = "ipv6:";

grpc::ChannelArguments InternalChannelArguments(uint32_t max_receive_bytes) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(static_cast<int>(max_receive_bytes));
  arguments.SetServiceConfigJSON(kServiceConfig);
  arguments.SetInt(GRPC_ARG_SERVICE_CONFIG_DISABLE_RESOLUTION, 1);
  // Each channel's connections are its own, so that its state is its peer's (a shared subchannel
  // would be shared by channels with other credentials' files too).
  arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  arguments.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMilliseconds);
  arguments.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMilliseconds);
  arguments.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  arguments.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, kInitialReconnectBackoffMilliseconds);
  arguments.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, kInitialReconnectBackoffMilliseconds);
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectBackoffMilliseconds);
  return arguments;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ChannelTargetHostPorts(const std::string& target) {
  std::vector<std::string> host_ports;
  absl::string_view rest = target;
  if (absl::ConsumePrefix(&rest, kDnsScheme)) {
    host_ports.emplace_back(rest);
  } else if (absl::ConsumePrefix(&rest, kIpv4Scheme) || absl::ConsumePrefix(&rest, kIpv6Scheme)) {
    host_ports = absl::StrSplit(rest, ',');
  } else {
    host_ports.push_back(target);
  }
  for (const std::string& host_port : host_ports) {
    if (!IsValidHostPort(host_port, /*allow_port_zero=*/false)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", target, "' is not host:port, dns:///host:port or ipv4:/ipv6:host:port,..."));
    }
  }
  return host_ports;
}

bool IsValidChannelTarget(const std::string& target) { return ChannelTargetHostPorts(target).ok(); }

void ValidatePeerConfig(const v1::PeerConfig& peer, bool plaintext_allowed,
                        const std::string& field, ConfigErrors* errors) {
  errors->Require(IsValidChannelTarget(peer.address()), field + ".address",
                  "must be host:port, dns:///host:port or ipv4:host:port,...");
  if (peer.insecure_plaintext_for_local_development()) {
    errors->Require(plaintext_allowed, field + ".insecure_plaintext_for_local_development",
                    "plaintext is never allowed for this peer (trust rule 7)");
    return;
  }
  errors->Require(!peer.tls().certificate_file().empty(), field + ".tls.certificate_file",
                  "required (or set insecure_plaintext_for_local_development)");
  errors->Require(!peer.tls().private_key_file().empty(), field + ".tls.private_key_file",
                  "required");
  errors->Require(!peer.tls().server_ca_file().empty(), field + ".tls.server_ca_file", "required");
  errors->Require(!peer.tls().server_identity().empty(), field + ".tls.server_identity",
                  "required");
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const v1::PeerConfig& peer,
                                                           uint32_t max_receive_bytes) {
  grpc::ChannelArguments arguments = InternalChannelArguments(max_receive_bytes);
  if (peer.insecure_plaintext_for_local_development()) {
    return grpc::CreateCustomChannel(peer.address(), grpc::InsecureChannelCredentials(), arguments);
  }
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> credentials,
                   ReloadingChannelCredentials(peer.tls()));
  arguments.SetSslTargetNameOverride(peer.tls().server_identity());
  return grpc::CreateCustomChannel(peer.address(), credentials, arguments);
}

absl::Status WaitUntilConnected(grpc::Channel& channel, absl::Time deadline,
                                const std::string& what) {
  if (channel.WaitForConnected(absl::ToChronoTime(deadline))) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(
      what,
      " is unreachable: no connection (with mutual TLS, if configured) before the startup "
      "deadline; is it running, and do its address, CA and identity match the config?"));
}

}  // namespace mecai
