// The probe agent's configuration (ProbeAgentConfig, proto/mecai/v1/config.proto): validation at
// start, so a bad config stops the process with a message naming each bad field (ARCHITECTURE.md
// §10), and the defaults of unset fields.
#ifndef MECAI_PROBE_AGENT_AGENT_CONFIG_H_
#define MECAI_PROBE_AGENT_AGENT_CONFIG_H_

#include <string>

#include "absl/status/status.h"
#include "probe_agent/prober.h"
#include "probe_agent/tls_engine.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {
namespace probe_agent {

// Defaults of the fields a config may leave unset (0).
inline constexpr uint32_t kDefaultConnectTimeoutMilliseconds = 3000;
inline constexpr uint32_t kDefaultHandshakeTimeoutMilliseconds = 5000;
inline constexpr uint32_t kDefaultResolverTimeoutMilliseconds = 5000;
inline constexpr uint32_t kDefaultMaxAddressesPerProbe = 16;
inline constexpr uint32_t kDefaultMaxInFlightProbes = 64;
inline constexpr uint32_t kDefaultMaxInFlightPerTargetAddress = 32;
inline constexpr uint32_t kDefaultMaxInFlightConnections = 4096;
inline constexpr uint32_t kDefaultMaxQueuedPerTargetAddress = 1024;
inline constexpr uint32_t kDefaultResolverTries = 2;
inline constexpr uint32_t kDefaultResolutionThreads = 8;
// Twice the VR freshness window (300 s): a VR is accepted from 300 s before to 300 s after its
// timestamp.
inline constexpr uint32_t kDefaultProbedVrMemorySeconds = 600;
inline constexpr uint32_t kDefaultMaxRememberedVrs = 100000;
inline constexpr char kDefaultTlsGroups[] = "X25519:P-256:P-384:P-521:X448";
inline constexpr char kDefaultTlsLibrary[] = "gnutls";

// Upper bounds (trust rule 8).
inline constexpr uint32_t kMaxTimeoutMilliseconds = 60000;
inline constexpr uint32_t kMaxAddressesPerProbeLimit = 64;
inline constexpr uint32_t kMaxInFlightProbesLimit = 4096;
inline constexpr uint32_t kMaxInFlightConnectionsLimit = 65536;
inline constexpr uint32_t kMaxQueuedPerTargetAddressLimit = 65536;
inline constexpr uint32_t kMaxEventLoopThreads = 256;
inline constexpr uint32_t kMaxResolverTries = 5;
inline constexpr uint32_t kMaxResolutionThreads = 256;
inline constexpr uint32_t kMinProbedVrMemorySeconds = 60;
inline constexpr uint32_t kMaxProbedVrMemorySeconds = 86400;
inline constexpr uint32_t kMaxRememberedVrsLimit = 10000000;

// INVALID_ARGUMENT "invalid config <source>: field: problem; ..." listing every problem, or OK.
// Checks: listen (mutual TLS, or plaintext for local development), perspective id and region,
// exactly one of signing_key_file and signing_key_pkcs11 (with its module, token and key labels
// and one PIN source; rsa_pss refused), resolver nameservers ("ip" or "ip:port") and timeout, the
// per-address timeouts (at most 60000 ms; 0 means the default), allowed_special_address_ranges
// (CIDR), max_addresses_per_probe (at most 64), max_in_flight_probes (at most 4096), the TLS
// versions
// ("TLSv1.2"/"TLSv1.3", min <= max) and groups (a list OpenSSL accepts), the connection limits,
// event_loop_threads (at most 256), resolver_tries (at most 5), resolution_threads (at most 256),
// probed_vr_memory_seconds (60..86400), max_remembered_vrs (max_in_flight_probes..10000000),
// and that the resolver names its nameservers or sets use_system_resolver (not both). Files and
// tokens are not opened here; LoadAgentSigningKey (agent_key.h) reports a bad one by name.
absl::Status ValidateProbeAgentConfig(const v1::ProbeAgentConfig& config,
                                      const std::string& source);

// `config` with every unset (0) limit replaced by its default: connect 3000 ms, handshake
// 5000 ms, resolver 5000 ms, 16 addresses per probe, 64 probes in flight, 8 resolution threads,
// probed VRs remembered 600 s, at most 100000 of them.
// listen.max_threads keeps StartServer's default: the Probe handler holds no thread.
v1::ProbeAgentConfig WithDefaults(v1::ProbeAgentConfig config);

// The Prober's limits from a config that went through WithDefaults.
ProberLimits ProberLimitsFromConfig(const v1::ProbeAgentConfig& config);

// The TLS engine's options from a validated config that went through WithDefaults.
TlsEngineOptions TlsEngineOptionsFromConfig(const v1::ProbeAgentConfig& config);

}  // namespace probe_agent
}  // namespace mecai

#endif  // MECAI_PROBE_AGENT_AGENT_CONFIG_H_
