// The agent's Observation-signing key (ARCHITECTURE.md §1: every Observation is signed by the
// agent's own key; trust rule 1): a PEM file, or an Ed25519 key pair inside a PKCS#11 token whose
// private half never enters this process.
#ifndef MECAI_PROBE_AGENT_AGENT_KEY_H_
#define MECAI_PROBE_AGENT_AGENT_KEY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/crypto/openssl_types.h"
#include "common/crypto/signature.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {
namespace probe_agent {

struct AgentSigningKey {
  // Thread-safe.
  std::unique_ptr<SigningKey> key;
  // What a coordinator enrols for this agent (AgentEndpoint.public_key_file).
  EvpPkeyPtr public_key;
  // "signing_key_file /etc/mecai/agent.key" or "key 'agent' in token 'agent-token'", for logs.
  std::string description;
};

// The key of a validated config (ValidateProbeAgentConfig):
//   * signing_key_file: a PEM Ed25519 (RFC 8032) or EC P-256 private key;
//   * signing_key_pkcs11: the Ed25519 key pair labelled key_label in the token token_label of
//     module_path, logged in with the PIN of pin_file or pin_environment_variable. Each signature
//     is made in the token with CKM_EDDSA and verified with the public key before it is used
//     (common/pkcs11/pkcs11_key.h).
// Errors are one line naming the field: "signing_key_pkcs11: login to token 'agent-token' failed:
// wrong PIN (CKR_PIN_INCORRECT)", "signing_key_pkcs11: no private key labelled ...", and
// FAILED_PRECONDITION "signing_key_pkcs11: key 'k' in token 't' is EC P-256 (ECDSA_P256_SHA256);
// this key must be ED25519". The PIN never appears in a message.
absl::StatusOr<AgentSigningKey> LoadAgentSigningKey(const v1::ProbeAgentConfig& config);

}  // namespace probe_agent
}  // namespace mecai

#endif  // MECAI_PROBE_AGENT_AGENT_KEY_H_
