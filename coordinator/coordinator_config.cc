#include "coordinator/coordinator_config.h"

#include <arpa/inet.h>

#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/config_loader.h"
#include "common/evidence/quorum_policy.h"
#include "common/net/address_policy.h"
#include "common/revocation/revocation.h"
#include "common/rpc/grpc_channel.h"
#include "common/rpc/grpc_server.h"
#include "common/transparency/cosignature.h"
#include "coordinator/probe_stream_client.h"

namespace mecai {

static_assert(kMaxProbeTimeoutMilliseconds <= ProbeStreamClient::kMaxStreamedProbeSeconds * 1000,
              "a probe timeout the config allows would keep probes off the probe streams");

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
  if (config.has_store_backup()) {
    v1::StoreBackupConfig& backup = *config.mutable_store_backup();
    if (backup.interval_seconds() == 0) backup.set_interval_seconds(3600);
    if (backup.kept() == 0) backup.set_kept(24);
  }
  if (config.approval_timeout_milliseconds() == 0) config.set_approval_timeout_milliseconds(5000);
  if (config.startup_connect_timeout_milliseconds() == 0) {
    config.set_startup_connect_timeout_milliseconds(10000);
  }
  if (config.decision_reuse_seconds() == 0) config.set_decision_reuse_seconds(600);
  if (config.max_vouch_in_flight() == 0) config.set_max_vouch_in_flight(2000);
  if (config.max_vouch_deadline_milliseconds() == 0) {
    config.set_max_vouch_deadline_milliseconds(60000);
  }
  if (config.vouch_worker_threads() == 0) config.set_vouch_worker_threads(8);
  if (config.has_sequencer() && config.sequencer_timeout_milliseconds() == 0) {
    config.set_sequencer_timeout_milliseconds(15000);
  }
  if (config.has_public_listen()) {
    v1::PublicListenConfig* endpoint = config.mutable_public_listen();
    if (endpoint->max_in_flight() == 0) endpoint->set_max_in_flight(16);
    if (endpoint->max_queued() == 0) endpoint->set_max_queued(64);
    if (endpoint->queue_timeout_milliseconds() == 0) endpoint->set_queue_timeout_milliseconds(5000);
    if (endpoint->max_in_flight_per_address() == 0) endpoint->set_max_in_flight_per_address(4);
    if (endpoint->request_timeout_milliseconds() == 0) {
      endpoint->set_request_timeout_milliseconds(10000);
    }
    if (endpoint->handshake_timeout_milliseconds() == 0) {
      endpoint->set_handshake_timeout_milliseconds(5000);
    }
    if (endpoint->max_connections() == 0) endpoint->set_max_connections(128);
    if (endpoint->max_connections_per_address() == 0) endpoint->set_max_connections_per_address(8);
    if (!endpoint->has_handshakes_per_second_per_address()) {
      endpoint->set_handshakes_per_second_per_address(10);
    }
    if (!endpoint->has_handshake_burst_per_address()) endpoint->set_handshake_burst_per_address(20);
    if (endpoint->idle_timeout_seconds() == 0) endpoint->set_idle_timeout_seconds(10);
  }
  return config;
}

namespace {

// The port of a "host:port" that IsValidHostPort accepted.
std::string PortOf(const std::string& host_port) {
  return host_port.substr(host_port.rfind(':') + 1);
}

// "ip:port" with a numeric IPv4 address or a bracketed IPv6 one, what HttpServer binds.
bool IsNumericHostPort(const std::string& address) {
  if (!IsValidHostPort(address, /*allow_port_zero=*/true)) return false;
  std::string host = address.substr(0, address.rfind(':'));
  unsigned char bytes[sizeof(in6_addr)];
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    return inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), bytes) == 1;
  }
  return inet_pton(AF_INET, host.c_str(), bytes) == 1;
}

// docs/PROTOCOL.md "The public endpoint": what the endpoint needs, and limits within bounds.
void ValidatePublicListen(const v1::CoordinatorConfig& config, ConfigErrors* errors) {
  const v1::PublicListenConfig& endpoint = config.public_listen();
  const std::string field = "public_listen";
  errors->Require(!endpoint.address().empty() || !endpoint.http_address().empty(),
                  field + ".address",
                  "public_listen needs address (gRPC) or http_address (HTTPS POST), or both");
  // A bound port is one listener's only: the public ones share none with the internal ones.
  std::vector<std::pair<std::string, std::string>> bound = {
      {"listen.address", config.listen().address()},
      {"listen.metrics_address", config.listen().metrics_address()},
      {"listen.health_address", config.listen().health_address()}};
  for (const auto& [name, value, numeric] :
       {std::tuple<std::string, std::string, bool>{"address", endpoint.address(), false},
        {"http_address", endpoint.http_address(), true}}) {
    if (value.empty()) continue;
    const bool valid =
        numeric ? IsNumericHostPort(value) : IsValidHostPort(value, /*allow_port_zero=*/true);
    if (!valid) {
      errors->Add(field + "." + name,
                  numeric ? "must be a numeric ip:port, [ipv6]:port for IPv6 (port 0 picks a free "
                            "one)"
                          : "must be host:port (port 0 picks a free one)");
      continue;
    }
    if (PortOf(value) != "0") {
      for (const auto& [other_name, other] : bound) {
        errors->Require(value != other, field + "." + name, "must differ from " + other_name);
      }
    }
    bound.push_back({field + "." + name, value});
  }
  errors->Require(!endpoint.certificate_file().empty(), field + ".certificate_file",
                  "required (the certificate the endpoint presents)");
  errors->Require(!endpoint.private_key_file().empty(), field + ".private_key_file", "required");
  errors->Require(endpoint.max_in_flight() >= 1 && endpoint.max_in_flight() <= 1024,
                  field + ".max_in_flight", "must be between 1 and 1024");
  errors->Require(endpoint.max_queued() <= 10000, field + ".max_queued", "must be at most 10000");
  errors->Require(endpoint.queue_timeout_milliseconds() <= 60000,
                  field + ".queue_timeout_milliseconds", "must be at most 60000");
  errors->Require(endpoint.max_in_flight_per_address() >= 1 &&
                      endpoint.max_in_flight_per_address() <= endpoint.max_in_flight(),
                  field + ".max_in_flight_per_address", "must be between 1 and max_in_flight");
  errors->Require(endpoint.request_timeout_milliseconds() >= 1000 &&
                      endpoint.request_timeout_milliseconds() <= 60000,
                  field + ".request_timeout_milliseconds", "must be between 1000 and 60000");
  errors->Require(endpoint.handshake_timeout_milliseconds() >= 1000 &&
                      endpoint.handshake_timeout_milliseconds() <= 60000,
                  field + ".handshake_timeout_milliseconds", "must be between 1000 and 60000");
  errors->Require(endpoint.max_connections() >= 1 && endpoint.max_connections() <= 4096,
                  field + ".max_connections", "must be between 1 and 4096");
  errors->Require(endpoint.max_connections_per_address() >= 1 &&
                      endpoint.max_connections_per_address() <= endpoint.max_connections(),
                  field + ".max_connections_per_address", "must be between 1 and max_connections");
  errors->Require(endpoint.idle_timeout_seconds() >= 1 && endpoint.idle_timeout_seconds() <= 300,
                  field + ".idle_timeout_seconds", "must be between 1 and 300");
  errors->Require(endpoint.handshakes_per_second_per_address() <= 10000,
                  field + ".handshakes_per_second_per_address",
                  "must be between 0 (no rate limit) and 10000");
  errors->Require(endpoint.handshake_burst_per_address() >= 1 &&
                      endpoint.handshake_burst_per_address() <= 10000,
                  field + ".handshake_burst_per_address", "must be between 1 and 10000");
}

// A coordinator with store_path: the VA's sequencer (docs/ARCHITECTURE.md §14), alone or with
// front coordinators.
void ValidateSequencerConfig(const v1::CoordinatorConfig& config, ConfigErrors* errors) {
  errors->Require(!config.log_shard_id().empty(), "log_shard_id", "required");
  errors->Require(!config.store_path().empty(), "store_path",
                  "required (or sequencer, for a front)");
  ValidatePeerConfig(config.signer(), /*plaintext_allowed=*/false, "signer", errors);
  const std::set<std::string> allowed(config.listen().tls().allowed_client_identities().begin(),
                                      config.listen().tls().allowed_client_identities().end());
  for (int i = 0; i < config.front_identities_size(); ++i) {
    errors->Require(allowed.count(config.front_identities(i)) > 0,
                    absl::StrCat("front_identities[", i, "]"),
                    "must also be in listen.tls.allowed_client_identities");
  }
  errors->Require(config.front_identities().empty() ||
                      !config.listen().insecure_plaintext_for_local_development(),
                  "front_identities", "needs mutual TLS on listen: fronts are named by identity");
  errors->Require(config.sequencer_timeout_milliseconds() == 0, "sequencer_timeout_milliseconds",
                  "only for a front coordinator (sequencer)");
}

// A front coordinator (docs/ARCHITECTURE.md §14): everything that belongs to the log is the
// sequencer's.
void ValidateFrontConfig(const v1::CoordinatorConfig& config, ConfigErrors* errors) {
  ValidatePeerConfig(config.sequencer(), /*plaintext_allowed=*/false, "sequencer", errors);
  errors->Require(config.sequencer_timeout_milliseconds() >= 1000 &&
                      config.sequencer_timeout_milliseconds() <= 120000,
                  "sequencer_timeout_milliseconds", "must be between 1000 and 120000");
  const char* const kTheSequencers = "must be absent on a front: the sequencer's";
  const std::vector<std::pair<bool, const char*>> log_fields = {
      {!config.store_path().empty(), "store_path"},
      {!config.log_shard_id().empty(), "log_shard_id"},
      {config.has_signer(), "signer"},
      {config.signer_replica_addresses_size() > 0, "signer_replica_addresses"},
      {config.has_store_backup(), "store_backup"},
      {config.witnesses_size() > 0, "witnesses"},
      {config.batch_interval_milliseconds() > 0, "batch_interval_milliseconds"},
      {config.admin_identities_size() > 0, "admin_identities"},
      {config.trust_list_maintainer_key_files_size() > 0, "trust_list_maintainer_key_files"},
      {config.front_identities_size() > 0, "front_identities"},
  };
  for (const auto& [present, field] : log_fields) errors->Require(!present, field, kTheSequencers);
}

}  // namespace

absl::Status ValidateCoordinatorConfig(const v1::CoordinatorConfig& config,
                                       const std::string& source) {
  ConfigErrors errors(source);
  ValidateListenConfig(config.listen(), /*plaintext_allowed=*/true, "listen", &errors);
  if (config.has_sequencer()) {
    ValidateFrontConfig(config, &errors);
  } else {
    ValidateSequencerConfig(config, &errors);
  }
  errors.Require(config.trust_lists_size() > 0, "trust_lists", "at least one is required");
  const std::vector<v1::Perspective> perspectives =
      ValidateAgentEndpoints(config.agents(), /*check_peer=*/true, &errors);
  for (int i = 0; i < config.signer_replica_addresses_size(); ++i) {
    errors.Require(IsValidHostPort(config.signer_replica_addresses(i), /*allow_port_zero=*/false),
                   absl::StrCat("signer_replica_addresses[", i, "]"), "must be host:port");
  }
  ValidateQuorumPolicy(config.policy(), perspectives, "policy", &errors);
  errors.Require(config.freshness_window_seconds() <= 3600, "freshness_window_seconds",
                 "must be at most 3600");
  errors.Require(config.probe_timeout_milliseconds() <= kMaxProbeTimeoutMilliseconds,
                 "probe_timeout_milliseconds",
                 absl::StrCat("must be at most ", kMaxProbeTimeoutMilliseconds));
  errors.Require(config.signer_timeout_milliseconds() <= 60000, "signer_timeout_milliseconds",
                 "must be at most 60000");
  errors.Require(config.max_chain_length() <= 20, "max_chain_length", "must be at most 20");
  errors.Require(config.max_request_bytes() <= (1 << 20), "max_request_bytes",
                 "must be at most 1048576");
  errors.Require(config.rate_limit_window_seconds() <= 7 * 24 * 3600, "rate_limit_window_seconds",
                 "must be at most 604800 (7 days)");
  errors.Require(config.batch_interval_milliseconds() <= 10000, "batch_interval_milliseconds",
                 "at most 10000: a VR waits this long for the checkpoint proving its VD");
  errors.Require(config.checkpoint_interval_seconds() <= 3600, "checkpoint_interval_seconds",
                 "must be at most 3600 (the signer holds every VD since its last checkpoint)");
  if (config.has_store_backup()) {
    const v1::StoreBackupConfig& backup = config.store_backup();
    errors.Require(!backup.directory().empty(), "store_backup.directory", "required");
    const std::string store = absl::StrCat(config.store_path(), "/");
    errors.Require(backup.directory() != config.store_path() &&
                       !absl::StartsWith(absl::StrCat(backup.directory(), "/"), store),
                   "store_backup.directory", "must not be inside store_path");
    errors.Require(backup.interval_seconds() >= 60 && backup.interval_seconds() <= 86400,
                   "store_backup.interval_seconds", "must be between 60 and 86400");
    errors.Require(backup.kept() >= 1 && backup.kept() <= 1000, "store_backup.kept",
                   "must be between 1 and 1000");
  }
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
  // A reused VD is handed out up to this long after it was signed; clients accept a VD for a day
  // by default (docs/PROTOCOL.md "Decision reuse").
  errors.Require(config.decision_reuse_seconds() <= 3600, "decision_reuse_seconds",
                 "must be at most 3600");
  errors.Require(config.max_vouch_in_flight() >= 1 && config.max_vouch_in_flight() <= 100000,
                 "max_vouch_in_flight", "must be between 1 and 100000");
  errors.Require(config.max_vouch_deadline_milliseconds() >= 1000 &&
                     config.max_vouch_deadline_milliseconds() <= 600000,
                 "max_vouch_deadline_milliseconds", "must be between 1000 and 600000");
  errors.Require(config.vouch_worker_threads() >= 1 && config.vouch_worker_threads() <= 256,
                 "vouch_worker_threads", "must be between 1 and 256");
  if (config.has_public_listen()) ValidatePublicListen(config, &errors);
  // Witnesses (docs/PUBLIC_LOG.md "Witnesses").
  std::set<std::string> witness_names;
  for (int i = 0; i < config.witnesses_size(); ++i) {
    const v1::WitnessEndpoint& witness = config.witnesses(i);
    const std::string field = absl::StrCat("witnesses[", i, "]");
    errors.Require(
        absl::StartsWith(witness.url(), "http://") || absl::StartsWith(witness.url(), "https://"),
        field + ".url", "must be an http:// or https:// URL");
    absl::StatusOr<NoteVerifierKey> key = ParseCosignerVkey(witness.vkey());
    errors.Require(
        key.ok(), field + ".vkey",
        absl::StrCat("must be a witness's cosigner vkey (type 0x04): ", key.status().message()));
    errors.Require(!key.ok() || witness_names.insert(key->name).second, field + ".vkey",
                   "names a witness already listed");
    errors.Require(witness.timeout_milliseconds() == 0 || (witness.timeout_milliseconds() >= 100 &&
                                                           witness.timeout_milliseconds() <= 60000),
                   field + ".timeout_milliseconds", "must be between 100 and 60000");
  }
  return errors.ToStatus();
}

}  // namespace mecai
