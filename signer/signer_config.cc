#include "signer/signer_config.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/base/config_loader.h"
#include "common/evidence/quorum_policy.h"
#include "common/pkcs11/pkcs11_key.h"
#include "common/revocation/revocation.h"
#include "common/rpc/grpc_server.h"
#include "common/transparency/note_key.h"

namespace mecai {
namespace {

// POSIX.1-2017 §8.1 portable environment variable names: [A-Za-z_][A-Za-z0-9_]*.
bool IsEnvironmentVariableName(const std::string& name) {
  if (name.empty() || absl::ascii_isdigit(static_cast<unsigned char>(name.front()))) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

}  // namespace

v1::SignerConfig WithSignerDefaults(v1::SignerConfig config) {
  *config.mutable_policy() = WithPolicyDefaults(config.policy());
  if (config.pkcs11().session_pool_size() == 0) {
    config.mutable_pkcs11()->set_session_pool_size(kDefaultSessionPoolSize);
  }
  if (config.freshness_window_seconds() == 0) config.set_freshness_window_seconds(300);
  if (config.observation_max_age_seconds() == 0) config.set_observation_max_age_seconds(120);
  if (config.trust_list_reload_seconds() == 0) config.set_trust_list_reload_seconds(10);
  if (config.approval_record_max_age_seconds() == 0) {
    config.set_approval_record_max_age_seconds(300);
  }
  if (config.revocation_evidence_max_age_seconds() == 0) {
    config.set_revocation_evidence_max_age_seconds(
        absl::ToInt64Seconds(kDefaultRevocationEvidenceMaxAge));
  }
  // Evidence by content hash (ARCHITECTURE.md §8).
  if (config.evidence_cache_bytes() == 0)
    config.set_evidence_cache_bytes(kDefaultEvidenceCacheBytes);
  if (config.max_evidence_upload_bytes() == 0) {
    config.set_max_evidence_upload_bytes(kDefaultMaxEvidenceUploadBytes);
  }
  if (config.evidence_upload_timeout_seconds() == 0) config.set_evidence_upload_timeout_seconds(30);
  return config;
}

absl::Status ValidateSignerConfig(const v1::SignerConfig& config, const std::string& source) {
  ConfigErrors errors(source);
  ValidateListenConfig(config.listen(), /*plaintext_allowed=*/false, "listen", &errors);
  errors.Require(!config.va_id().empty(), "va_id", "required");
  errors.Require(!config.pkcs11().module_path().empty(), "pkcs11.module_path", "required");
  errors.Require(!config.pkcs11().token_label().empty(), "pkcs11.token_label", "required");
  // The PIN comes from exactly one place (common/pkcs11/pkcs11_pin.h ReadPin).
  const bool pin_from_file = !config.pkcs11().pin_file().empty();
  const bool pin_from_environment = !config.pkcs11().pin_environment_variable().empty();
  errors.Require(pin_from_file || pin_from_environment, "pkcs11.pin_file",
                 "required unless pkcs11.pin_environment_variable is set");
  errors.Require(!(pin_from_file && pin_from_environment), "pkcs11.pin_environment_variable",
                 "must not be set together with pkcs11.pin_file; set exactly one");
  errors.Require(!pin_from_environment ||
                     IsEnvironmentVariableName(config.pkcs11().pin_environment_variable()),
                 "pkcs11.pin_environment_variable",
                 "must be a name of letters, digits and '_', not starting with a digit");
  errors.Require(config.pkcs11().session_pool_size() <= kMaximumSessionPoolSize,
                 "pkcs11.session_pool_size",
                 absl::StrCat("must be at most ", kMaximumSessionPoolSize));
  errors.Require(!config.pkcs11().key_label().empty(), "pkcs11.key_label", "required");
  // docs/VOUCHING_DATA.md "Keys": checkpoints and VDs are signed by different keys.
  errors.Require(!config.log_key_label().empty(), "log_key_label",
                 "required: the key that signs log checkpoints (never VDs)");
  errors.Require(
      config.log_key_label().empty() || config.log_key_label() != config.pkcs11().key_label(),
      "log_key_label", "must differ from pkcs11.key_label, the VA key that signs VDs");
  if (!config.log_origin_prefix().empty()) {
    const std::string& prefix = config.log_origin_prefix();
    const absl::Status name = CheckNoteKeyName(prefix);
    errors.Require(name.ok(), "log_origin_prefix", std::string(name.message()));
    errors.Require(prefix.find("://") == std::string::npos && prefix.back() != '/',
                   "log_origin_prefix",
                   "must be a scheme-less URL prefix without a trailing '/' (c2sp.org/tlog-tiles)");
  }
  errors.Require(!config.logged_vouching_data() || !config.log_origin_prefix().empty(),
                 "logged_vouching_data",
                 "requires log_origin_prefix: logged VDs are proven by checkpoint notes "
                 "(docs/VOUCHING_DATA.md \"Logged VDs\")");
  errors.Require(!config.log_state_file().empty(), "log_state_file",
                 "required: where the signer remembers the last checkpoint it signed");
  errors.Require(!config.va_certificate_chain_file().empty(), "va_certificate_chain_file",
                 "required");
  errors.Require(!config.ca_certificate_file().empty(), "ca_certificate_file", "required");
  errors.Require(config.trust_lists_size() > 0, "trust_lists", "at least one is required");
  const std::vector<v1::Perspective> perspectives =
      ValidateAgentEndpoints(config.agents(), /*check_peer=*/false, &errors);
  ValidateQuorumPolicy(config.policy(), perspectives, "policy", &errors);
  errors.Require(config.freshness_window_seconds() <= 3600, "freshness_window_seconds",
                 "must be at most 3600");
  errors.Require(config.observation_max_age_seconds() <= 3600, "observation_max_age_seconds",
                 "must be at most 3600");
  // ARCHITECTURE.md §7: the signer checks approval records itself, with the approval service's key.
  bool approval_required = false;
  for (const v1::TrustListConfig& trust_list : config.trust_lists()) {
    approval_required = approval_required || trust_list.require_issuance_approval();
  }
  errors.Require(!approval_required || !config.approval_public_key_file().empty(),
                 "approval_public_key_file",
                 "required because a trust list has require_issuance_approval");
  errors.Require(config.approval_record_max_age_seconds() <= 3600,
                 "approval_record_max_age_seconds", "must be at most 3600");
  errors.Require(
      config.revocation_evidence_max_age_seconds() >= kMinimumRevocationEvidenceMaxAgeSeconds &&
          config.revocation_evidence_max_age_seconds() <= kMaximumRevocationEvidenceMaxAgeSeconds,
      "revocation_evidence_max_age_seconds",
      absl::StrCat("must be between ", kMinimumRevocationEvidenceMaxAgeSeconds, " and ",
                   kMaximumRevocationEvidenceMaxAgeSeconds, " (10 days)"));
  // The signer changes a trust list only on a maintainer's signed change, and keeps
  // every change it applied so that a restart does not forget it.
  const bool has_maintainers = config.trust_list_maintainer_key_files_size() > 0;
  errors.Require(has_maintainers || config.trust_list_changes_file().empty(),
                 "trust_list_maintainer_key_files",
                 "required because trust_list_changes_file is set (the signer applies only "
                 "trust-list changes signed by a maintainer key)");
  errors.Require(!has_maintainers || !config.trust_list_changes_file().empty(),
                 "trust_list_changes_file",
                 "required because trust_list_maintainer_key_files is set (applied trust-list "
                 "changes must survive a restart)");
  // Every upload must fit in the cache, and the cache in a signer's memory.
  errors.Require(config.max_evidence_upload_bytes() >= kMinimumMaxEvidenceUploadBytes &&
                     config.max_evidence_upload_bytes() <= config.evidence_cache_bytes(),
                 "max_evidence_upload_bytes",
                 absl::StrCat("must be between ", kMinimumMaxEvidenceUploadBytes,
                              " and evidence_cache_bytes (", config.evidence_cache_bytes(), ")"));
  errors.Require(config.evidence_cache_bytes() <= kMaximumEvidenceCacheBytes,
                 "evidence_cache_bytes",
                 absl::StrCat("must be at most ", kMaximumEvidenceCacheBytes, " (16 GiB)"));
  errors.Require(config.evidence_upload_timeout_seconds() >= 1 &&
                     config.evidence_upload_timeout_seconds() <= 600,
                 "evidence_upload_timeout_seconds", "must be between 1 and 600");
  for (int i = 0; i < config.trust_list_maintainer_key_files_size(); ++i) {
    errors.Require(!config.trust_list_maintainer_key_files(i).empty(),
                   absl::StrCat("trust_list_maintainer_key_files[", i, "]"), "must not be empty");
  }
  return errors.ToStatus();
}

}  // namespace mecai
