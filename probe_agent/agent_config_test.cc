#include "probe_agent/agent_config.h"

#include <string>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace mecai {
namespace probe_agent {
namespace {

using ::testing::HasSubstr;

v1::ProbeAgentConfig Parse(const std::string& text) {
  v1::ProbeAgentConfig config;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &config)) << text;
  return config;
}

constexpr char kMinimal[] = R"pb(
  listen { address: "127.0.0.1:0" insecure_plaintext_for_local_development: true }
  perspective { id: "eu-west-1a" region: "eu-west-1" }
  signing_key_file: "/etc/mecai/agent.key"
  resolver { nameservers: "192.0.2.53" }
)pb";

TEST(ValidateProbeAgentConfigTest, MinimalConfigIsValid) {
  EXPECT_TRUE(ValidateProbeAgentConfig(Parse(kMinimal), "agent.textproto").ok());
}

TEST(ValidateProbeAgentConfigTest, FullConfigIsValid) {
  const v1::ProbeAgentConfig config = Parse(R"pb(
    listen {
      address: "0.0.0.0:7443"
      tls {
        certificate_file: "agent.pem"
        private_key_file: "agent.key"
        client_ca_file: "ca.pem"
        allowed_client_identities: "coordinator"
      }
      max_threads: 100
    }
    perspective { id: "eu-west-1a" region: "eu-west-1" }
    signing_key_file: "observation.key"
    resolver {
      nameservers: "192.0.2.53"
      nameservers: "[2001:db8::53]:5353"
      timeout_milliseconds: 60000
    }
    connect_timeout_milliseconds: 1000
    handshake_timeout_milliseconds: 2000
    allowed_special_address_ranges: "127.0.0.0/8"
    allowed_special_address_ranges: "::1/128"
    max_addresses_per_probe: 64
    max_in_flight_probes: 96
  )pb");
  absl::Status status = ValidateProbeAgentConfig(config, "agent.textproto");
  EXPECT_TRUE(status.ok()) << status;
}

TEST(ValidateProbeAgentConfigTest, EveryProblemIsNamed) {
  const v1::ProbeAgentConfig config = Parse(R"pb(
    listen { address: "no-port" }
    perspective {}
    resolver { nameservers: "dns.example" timeout_milliseconds: 60001 }
    connect_timeout_milliseconds: 70000
    handshake_timeout_milliseconds: 90000
    allowed_special_address_ranges: "127.0.0.1/8"
    max_addresses_per_probe: 65
    max_in_flight_probes: 5000
  )pb");
  absl::Status status = ValidateProbeAgentConfig(config, "bad.textproto");
  ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  const std::string message(status.message());
  EXPECT_THAT(message, HasSubstr("invalid config bad.textproto: "));
  for (const char* field :
       {"listen.address: ", "listen.tls.certificate_file: ", "perspective.id: required",
        "perspective.region: required",
        "signing_key_file: required (PEM Ed25519 or EC P-256 private key), or signing_key_pkcs11",
        "resolver.nameservers[0]: nameserver 'dns.example' is not an IP address",
        "resolver.timeout_milliseconds: 60001 is more than 60000 ms",
        "connect_timeout_milliseconds: 70000 is more than 60000 ms",
        "handshake_timeout_milliseconds: 90000 is more than 60000 ms",
        "allowed_special_address_ranges[0]: '127.0.0.1/8' is not a CIDR range",
        "max_addresses_per_probe: 65 is more than 64",
        "max_in_flight_probes: 5000 is more than 4096"}) {
    EXPECT_THAT(message, HasSubstr(field));
  }
}

TEST(ValidateProbeAgentConfigTest, InFlightProbesMayExceedServerThreads) {
  // The Probe handler holds no gRPC thread (callback API), so the limits are independent.
  v1::ProbeAgentConfig config = Parse(kMinimal);
  config.mutable_listen()->set_max_threads(4);
  config.set_max_in_flight_probes(2000);
  EXPECT_TRUE(ValidateProbeAgentConfig(config, "agent.textproto").ok());
  config.set_resolution_threads(300);
  absl::Status status = ValidateProbeAgentConfig(config, "agent.textproto");
  EXPECT_THAT(std::string(status.message()), HasSubstr("resolution_threads: 300 is more than 256"));
}

constexpr char kPkcs11Key[] = R"pb(
  listen { address: "127.0.0.1:0" insecure_plaintext_for_local_development: true }
  perspective { id: "eu-west-1a" region: "eu-west-1" }
  signing_key_pkcs11 {
    module_path: "/usr/lib/softhsm/libsofthsm2.so"
    token_label: "agent-token"
    key_label: "observation-key"
    pin_file: "/etc/mecai/agent-token.pin"
  }
  resolver { nameservers: "192.0.2.53" }
)pb";

TEST(ValidateProbeAgentConfigTest, KeyInAPkcs11TokenIsValid) {
  v1::ProbeAgentConfig config = Parse(kPkcs11Key);
  EXPECT_TRUE(ValidateProbeAgentConfig(config, "agent.textproto").ok());
  config.mutable_signing_key_pkcs11()->clear_pin_file();
  config.mutable_signing_key_pkcs11()->set_pin_environment_variable("MECAI_AGENT_PIN");
  EXPECT_TRUE(ValidateProbeAgentConfig(config, "agent.textproto").ok());
}

TEST(ValidateProbeAgentConfigTest, Pkcs11KeyProblemsAreNamed) {
  struct Row {
    const char* change;  // Text-format fields merged into kPkcs11Key.
    const char* expected;
  };
  const Row rows[] = {
      {R"pb(signing_key_file: "agent.key")pb",
       "signing_key_file: set together with signing_key_pkcs11; choose one"},
      {R"pb(signing_key_pkcs11 { module_path: "" })pb", "signing_key_pkcs11.module_path: required"},
      {R"pb(signing_key_pkcs11 { token_label: "" })pb", "signing_key_pkcs11.token_label: required"},
      {R"pb(signing_key_pkcs11 { key_label: "" })pb", "signing_key_pkcs11.key_label: required"},
      {R"pb(signing_key_pkcs11 { pin_file: "" })pb",
       "signing_key_pkcs11.pin_file: set exactly one of pin_file and pin_environment_variable"},
      {R"pb(signing_key_pkcs11 { pin_environment_variable: "PIN" })pb",
       "signing_key_pkcs11.pin_file: set exactly one of pin_file and pin_environment_variable"},
      {R"pb(signing_key_pkcs11 { rsa_pss: true })pb",
       "signing_key_pkcs11.rsa_pss: does not apply: the agent's key is Ed25519"},
      {R"pb(signing_key_pkcs11 { session_pool_size: 65 })pb",
       "signing_key_pkcs11.session_pool_size: 65 is more than 64"},
  };
  for (const Row& row : rows) {
    v1::ProbeAgentConfig config = Parse(kPkcs11Key);
    ASSERT_TRUE(google::protobuf::TextFormat::MergeFromString(row.change, &config)) << row.change;
    absl::Status status = ValidateProbeAgentConfig(config, "agent.textproto");
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << row.change;
    EXPECT_THAT(std::string(status.message()), HasSubstr(row.expected)) << row.change;
  }
}

TEST(WithDefaultsTest, FillsUnsetLimits) {
  const v1::ProbeAgentConfig config = WithDefaults(Parse(kMinimal));
  EXPECT_EQ(config.connect_timeout_milliseconds(), 3000u);
  EXPECT_EQ(config.handshake_timeout_milliseconds(), 5000u);
  EXPECT_EQ(config.resolver().timeout_milliseconds(), 5000u);
  EXPECT_EQ(config.max_addresses_per_probe(), 16u);
  EXPECT_EQ(config.max_in_flight_probes(), 64u);
  EXPECT_EQ(config.listen().max_threads(), 0u);  // StartServer's default.
  EXPECT_EQ(config.resolution_threads(), 8u);
  // Twice the 300 s VR freshness window: a VR is accepted before and after its timestamp.
  EXPECT_EQ(config.probed_vr_memory_seconds(), 600u);
  EXPECT_EQ(config.max_remembered_vrs(), 100000u);
  EXPECT_TRUE(ValidateProbeAgentConfig(config, "defaults").ok());

  const ProberLimits limits = ProberLimitsFromConfig(config);
  EXPECT_EQ(limits.connect_timeout, absl::Milliseconds(3000));
  EXPECT_EQ(limits.handshake_timeout, absl::Milliseconds(5000));
  EXPECT_EQ(limits.resolution_timeout, absl::Milliseconds(5000));
  EXPECT_EQ(limits.max_addresses_per_probe, 16);
  EXPECT_EQ(limits.resolution_threads, 8);
  EXPECT_EQ(limits.max_queued_resolutions, 64u);
  EXPECT_EQ(limits.signing_threads, 4);
}

TEST(ValidateProbeAgentConfigTest, ResolverIsTheAgentsOwnUnlessSystemIsChosen) {
  v1::ProbeAgentConfig config = Parse(kMinimal);
  config.mutable_resolver()->clear_nameservers();
  absl::Status status = ValidateProbeAgentConfig(config, "agent.textproto");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("resolver.nameservers: required: name this agent's own nameservers, or "
                        "set use_system_resolver"));
  config.set_use_system_resolver(true);
  EXPECT_TRUE(ValidateProbeAgentConfig(config, "agent.textproto").ok());
  config.mutable_resolver()->add_nameservers("192.0.2.53");
  status = ValidateProbeAgentConfig(config, "agent.textproto");
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("use_system_resolver: set together with resolver.nameservers"));
}

TEST(ValidateProbeAgentConfigTest, TlsVersionsGroupsAndEngineLimits) {
  v1::ProbeAgentConfig config = Parse(kMinimal);
  config.set_tls_min_version("TLSv1.3");
  config.set_tls_max_version("TLSv1.3");
  config.set_tls_groups("X25519:P-256");
  EXPECT_TRUE(ValidateProbeAgentConfig(config, "agent.textproto").ok());

  config.set_tls_min_version("TLSv1.1");
  config.set_tls_groups("X25519:NoSuchGroup");
  config.set_event_loop_threads(257);
  config.set_resolver_tries(6);
  config.set_max_in_flight_connections(70000);
  absl::Status status = ValidateProbeAgentConfig(config, "agent.textproto");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  for (const char* field :
       {"tls_min_version: TLS version 'TLSv1.1' is neither", "event_loop_threads: 257 is more",
        "resolver_tries: 6 is more than 5", "max_in_flight_connections: 70000 is more"}) {
    EXPECT_THAT(std::string(status.message()), HasSubstr(field));
  }
  config.set_tls_min_version("TLSv1.2");
  status = ValidateProbeAgentConfig(config, "agent.textproto");
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("tls_groups: TLS groups 'X25519:NoSuchGroup'"));

  config = Parse(kMinimal);
  config.set_tls_min_version("TLSv1.3");
  config.set_tls_max_version("TLSv1.2");
  status = ValidateProbeAgentConfig(config, "agent.textproto");
  EXPECT_THAT(std::string(status.message()), HasSubstr("tls_min_version: is above"));
}

TEST(WithDefaultsTest, EngineDefaults) {
  const v1::ProbeAgentConfig config = WithDefaults(Parse(kMinimal));
  EXPECT_EQ(config.tls_min_version(), "TLSv1.2");
  EXPECT_EQ(config.tls_max_version(), "TLSv1.3");
  EXPECT_EQ(config.tls_groups(), "X25519:P-256:P-384:P-521:X448");
  EXPECT_EQ(config.max_in_flight_per_target_address(), 32u);
  EXPECT_EQ(config.max_in_flight_connections(), 4096u);
  EXPECT_EQ(config.max_queued_per_target_address(), 1024u);
  EXPECT_EQ(config.resolver_tries(), 2u);
  EXPECT_EQ(config.tls_library(), "gnutls");
  const TlsEngineOptions options = TlsEngineOptionsFromConfig(config);
  EXPECT_EQ(options.library, TlsLibrary::kGnuTls);
  EXPECT_EQ(options.tls.min_version, 0x0303);
  EXPECT_EQ(options.tls.max_version, 0x0304);
  EXPECT_EQ(options.event_loop_threads, 0);
  EXPECT_EQ(options.max_in_flight_per_target_address, 32);
  EXPECT_EQ(options.max_queued_per_target_address, 1024);
}

TEST(ValidateProbeAgentConfigTest, TheTlsLibraryIsOpenSslOrGnuTls) {
  v1::ProbeAgentConfig config = Parse(kMinimal);
  config.set_tls_library("gnutls");
  EXPECT_TRUE(ValidateProbeAgentConfig(config, "agent.textproto").ok());
  EXPECT_EQ(TlsEngineOptionsFromConfig(WithDefaults(config)).library, TlsLibrary::kGnuTls);
  config.set_tls_library("openssl");
  EXPECT_TRUE(ValidateProbeAgentConfig(config, "agent.textproto").ok());
  EXPECT_EQ(TlsEngineOptionsFromConfig(WithDefaults(config)).library, TlsLibrary::kOpenSsl);

  config.set_tls_library("GnuTLS");
  absl::Status status = ValidateProbeAgentConfig(config, "agent.textproto");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("tls_library: TLS library 'GnuTLS' is neither \"openssl\" nor \"gnutls\""));

  // Each library checks the groups it is given.
  config.set_tls_library("gnutls");
  config.set_tls_groups("X25519:NoSuchGroup");
  status = ValidateProbeAgentConfig(config, "agent.textproto");
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("tls_groups: TLS groups 'X25519:NoSuchGroup': GnuTLS has no group"));
  config.set_tls_library("openssl");
  status = ValidateProbeAgentConfig(config, "agent.textproto");
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("tls_groups: TLS groups 'X25519:NoSuchGroup' are not a list OpenSSL"));
}

TEST(ValidateProbeAgentConfigTest, TheWaitingQueuePerAddressIsBounded) {
  v1::ProbeAgentConfig config = Parse(kMinimal);
  config.set_max_queued_per_target_address(65537);
  const absl::Status status = ValidateProbeAgentConfig(config, "agent.textproto");
  EXPECT_THAT(std::string(status.message()),
              ::testing::HasSubstr("max_queued_per_target_address: 65537 is more than 65536"));
}

TEST(ValidateProbeAgentConfigTest, TheMemoryOfProbedVrsIsBounded) {
  v1::ProbeAgentConfig config = Parse(kMinimal);
  config.set_probed_vr_memory_seconds(60);
  config.set_max_remembered_vrs(64);  // max_in_flight_probes' default.
  EXPECT_TRUE(ValidateProbeAgentConfig(config, "agent.textproto").ok());
  config.set_probed_vr_memory_seconds(86400);
  config.set_max_remembered_vrs(10000000);
  EXPECT_TRUE(ValidateProbeAgentConfig(config, "agent.textproto").ok());

  config.set_probed_vr_memory_seconds(59);
  config.set_max_remembered_vrs(63);
  absl::Status status = ValidateProbeAgentConfig(config, "agent.textproto");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("probed_vr_memory_seconds: 59 is outside 60..86400 (0 uses the default, "
                        "600: twice the VR freshness window)"));
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("max_remembered_vrs: 63 is outside 64 (max_in_flight_probes)..10000000 "
                        "(0 uses the default, 100000)"));

  config.set_probed_vr_memory_seconds(86401);
  config.set_max_in_flight_probes(200);
  config.set_max_remembered_vrs(100);
  status = ValidateProbeAgentConfig(config, "agent.textproto");
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("probed_vr_memory_seconds: 86401 is outside"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("max_remembered_vrs: 100 is outside 200"));
}

TEST(WithDefaultsTest, RemembersAtLeastAsManyVrsAsMayBeInFlight) {
  v1::ProbeAgentConfig config = Parse(kMinimal);
  config.set_max_in_flight_probes(4096);
  EXPECT_EQ(WithDefaults(config).max_remembered_vrs(), 100000u);
  config.set_max_remembered_vrs(5000);
  config.set_probed_vr_memory_seconds(120);
  config = WithDefaults(config);
  EXPECT_EQ(config.max_remembered_vrs(), 5000u);
  EXPECT_EQ(config.probed_vr_memory_seconds(), 120u);
}

TEST(WithDefaultsTest, KeepsSetValues) {
  v1::ProbeAgentConfig config = Parse(kMinimal);
  config.set_connect_timeout_milliseconds(100);
  config.set_handshake_timeout_milliseconds(200);
  config.mutable_resolver()->set_timeout_milliseconds(300);
  config.set_max_addresses_per_probe(2);
  config.set_max_in_flight_probes(3);
  config.mutable_listen()->set_max_threads(50);
  config = WithDefaults(config);
  EXPECT_EQ(config.connect_timeout_milliseconds(), 100u);
  EXPECT_EQ(config.handshake_timeout_milliseconds(), 200u);
  EXPECT_EQ(config.resolver().timeout_milliseconds(), 300u);
  EXPECT_EQ(config.max_addresses_per_probe(), 2u);
  EXPECT_EQ(config.max_in_flight_probes(), 3u);
  EXPECT_EQ(config.listen().max_threads(), 50u);
}

}  // namespace
}  // namespace probe_agent
}  // namespace mecai
