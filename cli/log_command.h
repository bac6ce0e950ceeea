// `mecai log vkey`: the verifier key (vkey, https://c2sp.org/signed-note) with which anyone
// verifies a shard's public checkpoints (docs/PUBLIC_LOG.md).
#ifndef MECAI_CLI_LOG_COMMAND_H_
#define MECAI_CLI_LOG_COMMAND_H_

#include <string>

#include "absl/status/statusor.h"

namespace mecai {

// The vkey of the Ed25519 public key in PEM file `public_key_file` (SubjectPublicKeyInfo) under
// the key name `origin`. INVALID_ARGUMENT for another key type or a name that cannot be a key
// name; the file's errors otherwise.
absl::StatusOr<std::string> LogVkey(const std::string& public_key_file, const std::string& origin);

// The origin of shard `shard` of the signer whose configuration is `signer_config_file`:
// log_origin_prefix "/" shard. FAILED_PRECONDITION when the signer has no log_origin_prefix.
absl::StatusOr<std::string> SignerLogOrigin(const std::string& signer_config_file,
                                            const std::string& shard);

// argv[1] is "log"; returns the process exit code.
int LogCommand(int argc, char** argv);

}  // namespace mecai

#endif  // MECAI_CLI_LOG_COMMAND_H_
