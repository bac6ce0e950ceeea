#include "coordinator/coordinator_config.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "common/base/config_loader.h"
#include "common/evidence/quorum_policy.h"
#include "common/net/address_policy.h"
#include "common/revocation/revocation.h"
#include "common/rpc/grpc_channel.h"
#include "common/rpc/grpc_server.h"

namespace mecai {

v1::CoordinatorConfig WithCoordinatorDefaults(v1::CoordinatorConfig config) {
  *config.mutable_policy() = WithPolicyDefaults(config.policy());
  if (config.freshness_window_seconds() == 0) config.set_freshness_window_seconds(300);
  if (config.probe_timeout_milliseconds() == 0) config.set_probe_timeout_milliseconds(10000);
  if (config.signer_timeout_milliseconds() == 0) config.set_signer_timeout_milliseconds(5000);
  if (config.max_chain_length() == 0) config.set_max_chain_length(10);
  if (config.max_request_bytes() == 0) config.set_max_request_bytes(65536);
  if (config.max_probe_rounds_per_hostname() == 0) config.set_max_probe_rounds_per_hostname(10);
  if (config.rate_limit_window_seconds() == 0) config.set_rate_limit_window_seconds(3600);
  v1::RevocationConfig* revocation = config.mutable_revocation();
  if (revocation->fetch_timeout_milliseconds() == 0)
    revocation->set_fetch_timeout_milliseconds(5000);
  if (revocation->max_crl_bytes() == 0) revocation->set_max_crl_bytes(64 << 20);
  if (revocation->max_ocsp_response_bytes() == 0) revocation->set_max_ocsp_response_bytes(64 << 10);
  if (revocation->max_cache_entries() == 0) revocation->set_max_cache_entries(10000);
  if (revocation->max_cache_age_seconds() == 0) revocation->set_max_cache_age_seconds(3600);
  if (revocation->evidence_max_age_seconds() == 0) {
    revocation->set_evidence_max_age_seconds(
        absl::ToInt64Seconds(kDefaultRevocationEvidenceMaxAge));
  }
  if (config.trust_list_reload_seconds() == 0) config.set_trust_list_reload_seconds(10);
  if (config.checkpoint_interval_seconds() == 0) config.set_checkpoint_interval_seconds(60);
  if (config.approval_timeout_milliseconds() == 0) config.set_approval_timeout_milliseconds(5000);
  if (config.startup_connect_timeout_milliseconds() == 0) {
    config.set_startup_connect_timeout_milliseconds(10000);
  }
  return config;
}

absl::Status ValidateCoordinatorConfig(const v1::CoordinatorConfig& config,
                                       const std::string& source) {
  ConfigErrors errors(source);
  ValidateListenConfig(config.listen(), /*plaintext_allowed=*/true, "listen", &errors);
  errors.Require(!config.log_shard_id().empty(), "log_shard_id", "required");
  errors.Require(!config.store_path().empty(), "store_path", "required");
  errors.Require(config.trust_lists_size() > 0, "trust_lists", "at least one is required");
  const std::vector<v1::Perspective> perspectives =
      ValidateAgentEndpoints(config.agents(), /*check_peer=*/true, &errors);
  ValidatePeerConfig(config.signer(), /*plaintext_allowed=*/false, "signer", &errors);
  for (int i = 0; i < config.signer_replica_addresses_size(); ++i) {
    errors.Require(IsValidHostPort(config.signer_replica_addresses(i), /*allow_port_zero=*/false),
                   absl::StrCat("signer_replica_addresses[", i, "]"), "must be host:port");
  }
  ValidateQuorumPolicy(config.policy(), perspectives, "policy", &errors);
  errors.Require(config.freshness_window_seconds() <= 3600, "freshness_window_seconds",
                 "must be at most 3600");
  errors.Require(config.probe_timeout_milliseconds() <= 120000, "probe_timeout_milliseconds",
                 "must be at most 120000");
  errors.Require(config.signer_timeout_milliseconds() <= 60000, "signer_timeout_milliseconds",
                 "must be at most 60000");
  errors.Require(config.max_chain_length() <= 20, "max_chain_length", "must be at most 20");
  errors.Require(config.max_request_bytes() <= (1 << 20), "max_request_bytes",
                 "must be at most 1048576");
  errors.Require(config.rate_limit_window_seconds() <= 7 * 24 * 3600, "rate_limit_window_seconds",
                 "must be at most 604800 (7 days)");
  errors.Require(config.checkpoint_interval_seconds() <= 3600, "checkpoint_interval_seconds",
                 "must be at most 3600 (the signer holds every VD since its last checkpoint)");
  errors.Require(config.revocation().fetch_timeout_milliseconds() <= 60000,
                 "revocation.fetch_timeout_milliseconds", "must be at most 60000");
  errors.Require(config.revocation().max_crl_bytes() <= (1ull << 30), "revocation.max_crl_bytes",
                 "must be at most 1 GiB");
  errors.Require(config.revocation().max_ocsp_response_bytes() <= (1 << 20),
                 "revocation.max_ocsp_response_bytes", "must be at most 1 MiB");
  errors.Require(config.revocation().max_cache_age_seconds() <= 24 * 3600,
                 "revocation.max_cache_age_seconds", "must be at most 86400 (1 day)");
  errors.Require(
      config.revocation().evidence_max_age_seconds() >= kMinimumRevocationEvidenceMaxAgeSeconds &&
          config.revocation().evidence_max_age_seconds() <= kMaximumRevocationEvidenceMaxAgeSeconds,
      "revocation.evidence_max_age_seconds",
      absl::StrCat("must be between ", kMinimumRevocationEvidenceMaxAgeSeconds, " and ",
                   kMaximumRevocationEvidenceMaxAgeSeconds, " (10 days)"));
  {
    std::vector<std::string> ranges(config.revocation().allowed_special_address_ranges().begin(),
                                    config.revocation().allowed_special_address_ranges().end());
    absl::StatusOr<AddressPolicy> policy = AddressPolicy::Create(ranges);
    errors.Require(policy.ok(), "revocation.allowed_special_address_ranges",
                   std::string(policy.status().message()));
  }
  // ARCHITECTURE.md §7: a trust list that requires issuance approval needs the service to ask.
  bool approval_required = false;
  for (const v1::TrustListConfig& trust_list : config.trust_lists()) {
    approval_required = approval_required || trust_list.require_issuance_approval();
  }
  if (config.has_approval_service()) {
    ValidatePeerConfig(config.approval_service(), /*plaintext_allowed=*/true, "approval_service",
                       &errors);
  } else {
    errors.Require(!approval_required, "approval_service",
                   "required because a trust list has require_issuance_approval");
  }
  errors.Require(config.approval_timeout_milliseconds() <= 60000, "approval_timeout_milliseconds",
                 "must be at most 60000");
  errors.Require(config.startup_connect_timeout_milliseconds() <= 300000,
                 "startup_connect_timeout_milliseconds", "must be at most 300000");
  // Administrators submit only changes a trust-list maintainer signed, and the
  // coordinator verifies them with the maintainers' keys before relaying them.
  errors.Require(
      config.admin_identities().empty() || !config.trust_list_maintainer_key_files().empty(),
      "trust_list_maintainer_key_files",
      "required because admin_identities is set (trust-list changes are accepted only "
      "signed by a maintainer key)");
  for (int i = 0; i < config.trust_list_maintainer_key_files_size(); ++i) {
    errors.Require(!config.trust_list_maintainer_key_files(i).empty(),
                   absl::StrCat("trust_list_maintainer_key_files[", i, "]"), "must not be empty");
  }
  return errors.ToStatus();
}

}  // namespace mecai
