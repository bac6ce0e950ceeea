#include "cli/flags.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace mecai {

const std::set<std::string> kConnectionFlags = {"tls-ca", "tls-cert", "tls-key", "tls-server-name"};
const std::set<std::string> kConnectionBooleanFlags = {"plaintext"};
const char kConnectionFlagsHelp[] =
    "  connection: --tls-ca F --tls-cert F --tls-key F --tls-server-name NAME (mutual TLS),\n"
    "              or --plaintext (local development only)\n";

absl::StatusOr<Flags> Flags::Parse(int argc, char** argv, int first,
                                   const std::set<std::string>& valued,
                                   const std::set<std::string>& boolean) {
  Flags flags;
  for (int i = first; i < argc; ++i) {
    std::string argument = argv[i];
    if (argument.rfind("--", 0) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", argument, "'"));
    }
    std::string name = argument.substr(2);
    std::string value;
    bool has_inline_value = false;
    size_t equals = name.find('=');
    if (equals != std::string::npos) {
      value = name.substr(equals + 1);
      name = name.substr(0, equals);
      has_inline_value = true;
    }
    if (boolean.count(name) != 0) {
      if (has_inline_value) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
      }
      flags.values_[name].push_back("true");
      continue;
    }
    if (valued.count(name) == 0) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    if (!has_inline_value) {
      if (i + 1 >= argc)
        return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      value = argv[++i];
    }
    flags.values_[name].push_back(value);
  }
  return flags;
}

std::string Flags::Get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second.back();
}

std::vector<std::string> Flags::GetAll(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>() : it->second;
}

absl::StatusOr<std::string> Flags::Require(const std::string& name) const {
  if (!Has(name)) return absl::InvalidArgumentError(absl::StrCat("--", name, " is required"));
  return Get(name);
}

absl::StatusOr<uint32_t> Flags::GetPort(const std::string& name, uint32_t fallback) const {
  if (!Has(name)) return fallback;
  uint32_t port = 0;
  if (!absl::SimpleAtoi(Get(name), &port) || port == 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("--", name, " must be a port, 1..65535"));
  }
  return port;
}

absl::StatusOr<v1::PeerConfig> PeerFromFlags(const Flags& flags, const std::string& address) {
  v1::PeerConfig peer;
  peer.set_address(address);
  if (flags.Has("plaintext")) {
    peer.set_insecure_plaintext_for_local_development(true);
    return peer;
  }
  for (const char* name : {"tls-ca", "tls-cert", "tls-key", "tls-server-name"}) {
    if (!flags.Has(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, " is required for mutual TLS (or pass --plaintext)"));
    }
  }
  peer.mutable_tls()->set_server_ca_file(flags.Get("tls-ca"));
  peer.mutable_tls()->set_certificate_file(flags.Get("tls-cert"));
  peer.mutable_tls()->set_private_key_file(flags.Get("tls-key"));
  peer.mutable_tls()->set_server_identity(flags.Get("tls-server-name"));
  return peer;
}

absl::StatusOr<v1::PeerConfig> PublicPeerFromFlags(const Flags& flags, const std::string& address) {
  if (flags.Has("plaintext") || (flags.Has("tls-cert") && flags.Has("tls-key"))) {
    return PeerFromFlags(flags, address);
  }
  if (flags.Has("tls-cert") || flags.Has("tls-key")) {
    return absl::InvalidArgumentError(
        "--tls-cert and --tls-key go together (or give neither to present no client certificate)");
  }
  if (!flags.Has("tls-ca")) {
    return absl::InvalidArgumentError(
        "--tls-ca is required: the CA that issued the Vouching Server's certificate");
  }
  v1::PeerConfig peer;
  peer.set_address(address);
  peer.mutable_tls()->set_server_ca_file(flags.Get("tls-ca"));
  const size_t colon = address.rfind(':');
  std::string host = colon == std::string::npos ? address : address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  peer.mutable_tls()->set_server_identity(flags.Get("tls-server-name", host));
  return peer;
}

}  // namespace mecai
