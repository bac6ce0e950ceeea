// Command-line flags of the `mecai` subcommands: "--name value" or "--name=value"; a flag may be
// repeated; boolean flags take no value. Unknown flags are errors.
#ifndef MECAI_CLI_FLAGS_H_
#define MECAI_CLI_FLAGS_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {

// Not thread-safe.
class Flags {
 public:
  // Parses argv[first..argc). `valued` and `boolean` list the accepted flag names (without "--").
  static absl::StatusOr<Flags> Parse(int argc, char** argv, int first,
                                     const std::set<std::string>& valued,
                                     const std::set<std::string>& boolean);

  bool Has(const std::string& name) const { return values_.count(name) != 0; }
  // The last value given, or `fallback`.
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  std::vector<std::string> GetAll(const std::string& name) const;
  // INVALID_ARGUMENT "--name is required" when absent.
  absl::StatusOr<std::string> Require(const std::string& name) const;
  absl::StatusOr<uint32_t> GetPort(const std::string& name, uint32_t fallback) const;

 private:
  std::map<std::string, std::vector<std::string>> values_;
};

// The flags that describe how to reach a cluster service, shared by every client subcommand.
extern const std::set<std::string> kConnectionFlags;
extern const std::set<std::string> kConnectionBooleanFlags;
extern const char kConnectionFlagsHelp[];

// A PeerConfig from --tls-ca/--tls-cert/--tls-key/--tls-server-name or --plaintext.
absl::StatusOr<v1::PeerConfig> PeerFromFlags(const Flags& flags, const std::string& address);

// The same for the coordinator's public endpoint (docs/PROTOCOL.md "The public endpoint"): without
// --tls-cert and --tls-key no client certificate is presented (server-authenticated TLS, only
// --tls-ca needed; --tls-server-name defaults to the host of `address`); with both, mutual TLS as
// PeerFromFlags.
absl::StatusOr<v1::PeerConfig> PublicPeerFromFlags(const Flags& flags, const std::string& address);

}  // namespace mecai

#endif  // MECAI_CLI_FLAGS_H_
