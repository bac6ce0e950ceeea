#include "common/rpc/grpc_channel.h"

#include "absl/strings/str_cat.h"
#include "common/base/config_loader.h"
#include "common/base/files.h"
#include "common/base/status.h"

namespace mecai {

void ValidatePeerConfig(const v1::PeerConfig& peer, bool plaintext_allowed,
                        const std::string& field, ConfigErrors* errors) {
  errors->Require(IsValidHostPort(peer.address(), /*allow_port_zero=*/false), field + ".address",
                  "must be host:port");
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
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(static_cast<int>(max_receive_bytes));
  if (peer.insecure_plaintext_for_local_development()) {
    return grpc::CreateCustomChannel(peer.address(), grpc::InsecureChannelCredentials(), arguments);
  }
  grpc::SslCredentialsOptions options;
  ASSIGN_OR_RETURN(options.pem_root_certs, ReadFile(peer.tls().server_ca_file()));
  // Without a certificate and key the client presents none: server-authenticated TLS, what the
  // coordinator's public endpoint serves (docs/PROTOCOL.md "The public endpoint").
  if (!peer.tls().certificate_file().empty() || !peer.tls().private_key_file().empty()) {
    ASSIGN_OR_RETURN(options.pem_private_key, ReadFile(peer.tls().private_key_file()));
    ASSIGN_OR_RETURN(options.pem_cert_chain, ReadFile(peer.tls().certificate_file()));
  }
  arguments.SetSslTargetNameOverride(peer.tls().server_identity());
  return grpc::CreateCustomChannel(peer.address(), grpc::SslCredentials(options), arguments);
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
