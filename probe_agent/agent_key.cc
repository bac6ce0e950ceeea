#include "probe_agent/agent_key.h"

#include <openssl/evp.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/status.h"
#include "common/crypto/pem.h"
#include "common/pkcs11/pkcs11_key.h"

namespace mecai {
namespace probe_agent {
namespace {

absl::StatusOr<AgentSigningKey> LoadKeyFile(const std::string& path) {
  const std::string field = absl::StrCat("signing_key_file ", path);
  absl::StatusOr<EvpPkeyPtr> key = LoadPemPrivateKey(path);
  if (!key.ok()) return Annotate(key.status(), field);
  absl::StatusOr<v1::SignatureAlgorithm> algorithm = AlgorithmForKey(key->get());
  if (!algorithm.ok() || (*algorithm != v1::ED25519 && *algorithm != v1::ECDSA_P256_SHA256)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": the agent key must be an Ed25519 (or EC P-256) key"));
  }
  AgentSigningKey loaded;
  // The same EVP_PKEY, shared: only its public half is ever used through public_key.
  if (EVP_PKEY_up_ref(key->get()) != 1) return absl::InternalError("EVP_PKEY_up_ref failed");
  loaded.public_key = EvpPkeyPtr(key->get());
  ASSIGN_OR_RETURN(std::unique_ptr<InMemorySigningKey> in_memory,
                   InMemorySigningKey::Create(std::move(*key)));
  loaded.key = std::move(in_memory);
  loaded.description = field;
  return loaded;
}

absl::StatusOr<AgentSigningKey> LoadKeyFromToken(const v1::Pkcs11Config& config) {
  absl::StatusOr<std::unique_ptr<Pkcs11SigningKey>> key =
      Pkcs11SigningKey::Open(config, {v1::ED25519});
  if (!key.ok()) return Annotate(key.status(), "signing_key_pkcs11");
  AgentSigningKey loaded;
  ASSIGN_OR_RETURN(loaded.public_key, (*key)->PublicKey());
  loaded.description = (*key)->Description();
  loaded.key = std::move(*key);
  return loaded;
}

}  // namespace

absl::StatusOr<AgentSigningKey> LoadAgentSigningKey(const v1::ProbeAgentConfig& config) {
  if (config.has_signing_key_pkcs11()) return LoadKeyFromToken(config.signing_key_pkcs11());
  return LoadKeyFile(config.signing_key_file());
}

}  // namespace probe_agent
}  // namespace mecai
