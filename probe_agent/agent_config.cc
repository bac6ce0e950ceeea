#include "probe_agent/agent_config.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/base/config_loader.h"
#include "common/net/ip_address.h"
#include "common/pkcs11/pkcs11_key.h"
#include "common/rpc/grpc_server.h"
#include "probe_agent/resolver.h"
#include "probe_agent/tls_handshake.h"

namespace mecai {
namespace probe_agent {
namespace {

void RequireTimeout(uint32_t milliseconds, const std::string& field, ConfigErrors* errors) {
  errors->Require(milliseconds <= kMaxTimeoutMilliseconds, field,
                  absl::StrCat(milliseconds, " is more than ", kMaxTimeoutMilliseconds,
                               " ms (0 uses the default)"));
}

// Exactly one of signing_key_file and signing_key_pkcs11; the token's fields. Whether the token,
// the PIN and the key are right is known only when the key is opened (agent_key.h).
void ValidateSigningKey(const v1::ProbeAgentConfig& config, ConfigErrors* errors) {
  const bool from_file = !config.signing_key_file().empty();
  if (!config.has_signing_key_pkcs11()) {
    errors->Require(from_file, "signing_key_file",
                    "required (PEM Ed25519 or EC P-256 private key), or signing_key_pkcs11");
    return;
  }
  errors->Require(!from_file, "signing_key_file",
                  "set together with signing_key_pkcs11; choose one");
  const v1::Pkcs11Config& pkcs11 = config.signing_key_pkcs11();
  errors->Require(!pkcs11.module_path().empty(), "signing_key_pkcs11.module_path",
                  "required (e.g. /usr/lib/softhsm/libsofthsm2.so)");
  errors->Require(!pkcs11.token_label().empty(), "signing_key_pkcs11.token_label", "required");
  errors->Require(!pkcs11.key_label().empty(), "signing_key_pkcs11.key_label", "required");
  errors->Require(pkcs11.pin_file().empty() != pkcs11.pin_environment_variable().empty(),
                  "signing_key_pkcs11.pin_file",
                  "set exactly one of pin_file and pin_environment_variable");
  errors->Require(!pkcs11.rsa_pss(), "signing_key_pkcs11.rsa_pss",
                  "does not apply: the agent's key is Ed25519");
  errors->Require(
      pkcs11.session_pool_size() <= kMaximumSessionPoolSize, "signing_key_pkcs11.session_pool_size",
      absl::StrCat(pkcs11.session_pool_size(), " is more than ", kMaximumSessionPoolSize));
}

}  // namespace

absl::Status ValidateProbeAgentConfig(const v1::ProbeAgentConfig& config,
                                      const std::string& source) {
  ConfigErrors errors(source);
  ValidateListenConfig(config.listen(), /*plaintext_allowed=*/true, "listen", &errors);
  errors.Require(!config.perspective().id().empty(), "perspective.id",
                 "required (e.g. \"eu-west-1a\")");
  errors.Require(!config.perspective().region().empty(), "perspective.region",
                 "required (e.g. \"eu-west-1\")");
  ValidateSigningKey(config, &errors);
  for (int i = 0; i < config.resolver().nameservers_size(); ++i) {
    absl::StatusOr<Nameserver> nameserver = ParseNameserver(config.resolver().nameservers(i));
    if (!nameserver.ok()) {
      errors.Add(absl::StrCat("resolver.nameservers[", i, "]"),
                 std::string(nameserver.status().message()));
    }
  }
  RequireTimeout(config.resolver().timeout_milliseconds(), "resolver.timeout_milliseconds",
                 &errors);
  RequireTimeout(config.connect_timeout_milliseconds(), "connect_timeout_milliseconds", &errors);
  RequireTimeout(config.handshake_timeout_milliseconds(), "handshake_timeout_milliseconds",
                 &errors);
  for (int i = 0; i < config.allowed_special_address_ranges_size(); ++i) {
    absl::StatusOr<IpPrefix> range = ParseIpPrefix(config.allowed_special_address_ranges(i));
    if (!range.ok()) {
      errors.Add(absl::StrCat("allowed_special_address_ranges[", i, "]"),
                 std::string(range.status().message()));
    }
  }
  errors.Require(
      config.max_addresses_per_probe() <= kMaxAddressesPerProbeLimit, "max_addresses_per_probe",
      absl::StrCat(config.max_addresses_per_probe(), " is more than ", kMaxAddressesPerProbeLimit,
                   " (0 uses the default, ", kDefaultMaxAddressesPerProbe, ")"));
  errors.Require(
      config.max_in_flight_probes() <= kMaxInFlightProbesLimit, "max_in_flight_probes",
      absl::StrCat(config.max_in_flight_probes(), " is more than ", kMaxInFlightProbesLimit,
                   " (0 uses the default, ", kDefaultMaxInFlightProbes, ")"));
  if (config.resolver().nameservers().empty()) {
    errors.Require(config.use_system_resolver(), "resolver.nameservers",
                   "required: name this agent's own nameservers, or set use_system_resolver to "
                   "use the system's resolv.conf (ARCHITECTURE.md §1)");
  } else {
    errors.Require(!config.use_system_resolver(), "use_system_resolver",
                   "set together with resolver.nameservers; choose one");
  }
  errors.Require(config.resolver_tries() <= kMaxResolverTries, "resolver_tries",
                 absl::StrCat(config.resolver_tries(), " is more than ", kMaxResolverTries));
  absl::StatusOr<TlsLibrary> library =
      ParseTlsLibrary(config.tls_library().empty() ? kDefaultTlsLibrary : config.tls_library());
  if (!library.ok()) errors.Add("tls_library", std::string(library.status().message()));
  absl::StatusOr<int> min_version =
      ParseTlsVersion(config.tls_min_version().empty() ? "TLSv1.2" : config.tls_min_version());
  absl::StatusOr<int> max_version =
      ParseTlsVersion(config.tls_max_version().empty() ? "TLSv1.3" : config.tls_max_version());
  if (!min_version.ok()) errors.Add("tls_min_version", std::string(min_version.status().message()));
  if (!max_version.ok()) errors.Add("tls_max_version", std::string(max_version.status().message()));
  if (min_version.ok() && max_version.ok()) {
    errors.Require(*min_version <= *max_version, "tls_min_version", "is above tls_max_version");
    TlsClientOptions tls;
    tls.min_version = *min_version;
    tls.max_version = *max_version;
    if (!config.tls_groups().empty()) tls.groups = config.tls_groups();
    if (library.ok()) {
      absl::StatusOr<std::unique_ptr<TlsClient>> client = CreateTlsClient(*library, tls);
      if (!client.ok() && *min_version <= *max_version) {
        errors.Add("tls_groups", std::string(client.status().message()));
      }
    }
  }
  errors.Require(config.max_in_flight_connections() <= kMaxInFlightConnectionsLimit,
                 "max_in_flight_connections",
                 absl::StrCat(config.max_in_flight_connections(), " is more than ",
                              kMaxInFlightConnectionsLimit));
  errors.Require(config.max_in_flight_per_target_address() <= kMaxInFlightConnectionsLimit,
                 "max_in_flight_per_target_address",
                 absl::StrCat(config.max_in_flight_per_target_address(), " is more than ",
                              kMaxInFlightConnectionsLimit));
  errors.Require(config.max_queued_per_target_address() <= kMaxQueuedPerTargetAddressLimit,
                 "max_queued_per_target_address",
                 absl::StrCat(config.max_queued_per_target_address(), " is more than ",
                              kMaxQueuedPerTargetAddressLimit));
  errors.Require(config.event_loop_threads() <= kMaxEventLoopThreads, "event_loop_threads",
                 absl::StrCat(config.event_loop_threads(), " is more than ", kMaxEventLoopThreads,
                              " (0: one per core)"));
  errors.Require(
      config.resolution_threads() <= kMaxResolutionThreads, "resolution_threads",
      absl::StrCat(config.resolution_threads(), " is more than ", kMaxResolutionThreads));
  const uint32_t memory_seconds = config.probed_vr_memory_seconds();
  errors.Require(memory_seconds == 0 || (memory_seconds >= kMinProbedVrMemorySeconds &&
                                         memory_seconds <= kMaxProbedVrMemorySeconds),
                 "probed_vr_memory_seconds",
                 absl::StrCat(memory_seconds, " is outside ", kMinProbedVrMemorySeconds, "..",
                              kMaxProbedVrMemorySeconds, " (0 uses the default, ",
                              kDefaultProbedVrMemorySeconds, ": twice the VR freshness window)"));
  const uint32_t in_flight = config.max_in_flight_probes() != 0 ? config.max_in_flight_probes()
                                                                : kDefaultMaxInFlightProbes;
  const uint32_t remembered = config.max_remembered_vrs();
  errors.Require(
      remembered == 0 || (remembered >= in_flight && remembered <= kMaxRememberedVrsLimit),
      "max_remembered_vrs",
      absl::StrCat(remembered, " is outside ", in_flight, " (max_in_flight_probes)..",
                   kMaxRememberedVrsLimit, " (0 uses the default, ", kDefaultMaxRememberedVrs,
                   ")"));
  return errors.ToStatus();
}

v1::ProbeAgentConfig WithDefaults(v1::ProbeAgentConfig config) {
  if (config.connect_timeout_milliseconds() == 0) {
    config.set_connect_timeout_milliseconds(kDefaultConnectTimeoutMilliseconds);
  }
  if (config.handshake_timeout_milliseconds() == 0) {
    config.set_handshake_timeout_milliseconds(kDefaultHandshakeTimeoutMilliseconds);
  }
  if (config.resolver().timeout_milliseconds() == 0) {
    config.mutable_resolver()->set_timeout_milliseconds(kDefaultResolverTimeoutMilliseconds);
  }
  if (config.max_addresses_per_probe() == 0) {
    config.set_max_addresses_per_probe(kDefaultMaxAddressesPerProbe);
  }
  if (config.max_in_flight_probes() == 0) {
    config.set_max_in_flight_probes(kDefaultMaxInFlightProbes);
  }
  if (config.tls_min_version().empty()) config.set_tls_min_version("TLSv1.2");
  if (config.tls_max_version().empty()) config.set_tls_max_version("TLSv1.3");
  if (config.tls_groups().empty()) config.set_tls_groups(kDefaultTlsGroups);
  if (config.tls_library().empty()) config.set_tls_library(kDefaultTlsLibrary);
  if (config.max_in_flight_per_target_address() == 0) {
    config.set_max_in_flight_per_target_address(kDefaultMaxInFlightPerTargetAddress);
  }
  if (config.max_in_flight_connections() == 0) {
    config.set_max_in_flight_connections(kDefaultMaxInFlightConnections);
  }
  if (config.max_queued_per_target_address() == 0) {
    config.set_max_queued_per_target_address(kDefaultMaxQueuedPerTargetAddress);
  }
  if (config.resolver_tries() == 0) config.set_resolver_tries(kDefaultResolverTries);
  if (config.resolution_threads() == 0) config.set_resolution_threads(kDefaultResolutionThreads);
  if (config.probed_vr_memory_seconds() == 0) {
    config.set_probed_vr_memory_seconds(kDefaultProbedVrMemorySeconds);
  }
  if (config.max_remembered_vrs() == 0) {
    config.set_max_remembered_vrs(
        std::max(kDefaultMaxRememberedVrs, config.max_in_flight_probes()));
  }
  return config;
}

ProberLimits ProberLimitsFromConfig(const v1::ProbeAgentConfig& config) {
  ProberLimits limits;
  limits.resolution_timeout = absl::Milliseconds(config.resolver().timeout_milliseconds());
  limits.connect_timeout = absl::Milliseconds(config.connect_timeout_milliseconds());
  limits.handshake_timeout = absl::Milliseconds(config.handshake_timeout_milliseconds());
  limits.max_addresses_per_probe = static_cast<int>(config.max_addresses_per_probe());
  limits.resolution_threads = static_cast<int>(config.resolution_threads());
  // The service admits no more probes than this, so a full queue means the agent is overloaded.
  limits.max_queued_resolutions = config.max_in_flight_probes();
  // As many signers as the token has sessions (Pkcs11Config.session_pool_size).
  const uint32_t sessions = config.signing_key_pkcs11().session_pool_size();
  limits.signing_threads = static_cast<int>(sessions != 0 ? sessions : kDefaultSessionPoolSize);
  return limits;
}

TlsEngineOptions TlsEngineOptionsFromConfig(const v1::ProbeAgentConfig& config) {
  TlsEngineOptions options;
  options.tls.min_version = ParseTlsVersion(config.tls_min_version()).value_or(TLS1_2_VERSION);
  options.tls.max_version = ParseTlsVersion(config.tls_max_version()).value_or(TLS1_3_VERSION);
  options.tls.groups = config.tls_groups();
  options.library = ParseTlsLibrary(config.tls_library()).value_or(TlsEngineOptions().library);
  options.event_loop_threads = static_cast<int>(config.event_loop_threads());
  options.max_in_flight_connections = static_cast<int>(config.max_in_flight_connections());
  options.max_in_flight_per_target_address =
      static_cast<int>(config.max_in_flight_per_target_address());
  options.max_queued_per_target_address = static_cast<int>(config.max_queued_per_target_address());
  return options;
}

}  // namespace probe_agent
}  // namespace mecai
