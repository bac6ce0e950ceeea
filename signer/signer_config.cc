#include "signer/signer_config.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "common/config_loader.h"
#include "common/grpc_server.h"
#include "common/quorum_policy.h"

namespace mecai {

v1::SignerConfig WithSignerDefaults(v1::SignerConfig config) {
  *config.mutable_policy() = WithPolicyDefaults(config.policy());
  if (config.freshness_window_seconds() == 0) config.set_freshness_window_seconds(300);
  if (config.observation_max_age_seconds() == 0) config.set_observation_max_age_seconds(120);
  return config;
}

absl::Status ValidateSignerConfig(const v1::SignerConfig& config, const std::string& source) {
  ConfigErrors errors(source);
  ValidateListenConfig(config.listen(), /*plaintext_allowed=*/false, "listen", &errors);
  errors.Require(!config.va_id().empty(), "va_id", "required");
  errors.Require(!config.pkcs11().module_path().empty(), "pkcs11.module_path", "required");
  errors.Require(!config.pkcs11().token_label().empty(), "pkcs11.token_label", "required");
  errors.Require(!config.pkcs11().pin_file().empty(), "pkcs11.pin_file", "required");
  errors.Require(!config.pkcs11().key_label().empty(), "pkcs11.key_label", "required");
  errors.Require(!config.va_certificate_chain_file().empty(), "va_certificate_chain_file",
                 "required");
  errors.Require(config.trust_lists_size() > 0, "trust_lists", "at least one is required");
  const std::vector<v1::Perspective> perspectives =
      ValidateAgentEndpoints(config.agents(), /*check_peer=*/false, &errors);
  ValidateQuorumPolicy(config.policy(), perspectives, "policy", &errors);
  errors.Require(config.freshness_window_seconds() <= 3600, "freshness_window_seconds",
                 "must be at most 3600");
  errors.Require(config.observation_max_age_seconds() <= 3600, "observation_max_age_seconds",
                 "must be at most 3600");
  return errors.ToStatus();
}

}  // namespace mecai
