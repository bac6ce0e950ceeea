// Tests of the coordinator's configuration checks: a bad config stops the coordinator at start with
// a message naming the field (ARCHITECTURE.md §10); plaintext is allowed for local development
// except towards the signer (trust rule 7); the public endpoint and decision reuse are bounded
// (docs/PROTOCOL.md "The public endpoint", "Decision reuse").
#include "coordinator/coordinator_config.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSource[] = "/etc/mecai/coordinator.textproto";

void AddAgent(v1::CoordinatorConfig* config, const std::string& id, const std::string& region) {
  v1::AgentEndpoint* agent = config->add_agents();
  agent->mutable_perspective()->set_id(id);
  agent->mutable_perspective()->set_region(region);
  agent->set_public_key_file("/etc/mecai/agents/" + id + ".pub");
  v1::PeerConfig* peer = agent->mutable_peer();
  peer->set_address(id + ".agents.mecai.internal:7444");
  peer->mutable_tls()->set_certificate_file("/etc/mecai/coordinator-client.pem");
  peer->mutable_tls()->set_private_key_file("/etc/mecai/coordinator-client.key");
  peer->mutable_tls()->set_server_ca_file("/etc/mecai/internal-ca.pem");
  peer->mutable_tls()->set_server_identity(id + ".agents.mecai.internal");
}

// A complete config, before defaults.
v1::CoordinatorConfig ValidConfig() {
  v1::CoordinatorConfig config;
  v1::ListenConfig* listen = config.mutable_listen();
  listen->set_address("0.0.0.0:7443");
  listen->mutable_tls()->set_certificate_file("/etc/mecai/coordinator.pem");
  listen->mutable_tls()->set_private_key_file("/etc/mecai/coordinator.key");
  listen->mutable_tls()->set_client_ca_file("/etc/mecai/stapler-ca.pem");
  listen->mutable_tls()->add_allowed_client_identities("stapler.example.test");
  config.set_log_shard_id("shard-eu-1");
  config.set_store_path("/var/lib/mecai/coordinator");
  v1::TrustListConfig* trust_list = config.add_trust_lists();
  trust_list->set_name("mozilla");
  trust_list->set_pem_file("/etc/ssl/certs/ca-certificates.crt");
  AddAgent(&config, "eu-west-1a", "eu-west");
  AddAgent(&config, "us-east-1a", "us-east");
  AddAgent(&config, "ap-south-1a", "ap-south");
  v1::PeerConfig* signer = config.mutable_signer();
  signer->set_address("signer.mecai.internal:7445");
  signer->mutable_tls()->set_certificate_file("/etc/mecai/coordinator-client.pem");
  signer->mutable_tls()->set_private_key_file("/etc/mecai/coordinator-client.key");
  signer->mutable_tls()->set_server_ca_file("/etc/mecai/internal-ca.pem");
  signer->mutable_tls()->set_server_identity("signer.mecai.internal");
  return config;
}

absl::Status Validate(const v1::CoordinatorConfig& config) {
  return ValidateCoordinatorConfig(WithCoordinatorDefaults(config), kSource);
}

// INVALID_ARGUMENT naming the config file and containing "<field>: <problem>".
MATCHER_P(IsInvalidField, field_and_problem,
          std::string("is INVALID_ARGUMENT naming ") + field_and_problem) {
  if (arg.code() != absl::StatusCode::kInvalidArgument) {
    *result_listener << "whose status is " << arg;
    return false;
  }
  const std::string message(arg.message());
  if (message.find(std::string("invalid config ") + kSource) == std::string::npos ||
      message.find(field_and_problem) == std::string::npos) {
    *result_listener << "whose message is " << message;
    return false;
  }
  return true;
}

TEST(CoordinatorConfigTest, ValidConfigPasses) {
  const absl::Status status = Validate(ValidConfig());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(CoordinatorConfigTest, DefaultsFillTheDocumentedValues) {
  v1::CoordinatorConfig config = WithCoordinatorDefaults(ValidConfig());
  EXPECT_EQ(config.freshness_window_seconds(), 300u);
  EXPECT_EQ(config.probe_timeout_milliseconds(), 10000u);
  EXPECT_EQ(config.signer_timeout_milliseconds(), 5000u);
  EXPECT_EQ(config.max_chain_length(), 10u);
  EXPECT_EQ(config.max_request_bytes(), 65536u);
  EXPECT_EQ(config.policy().min_perspectives(), 3u);
  EXPECT_EQ(config.policy().min_regions(), 2u);
  EXPECT_EQ(config.policy().max_unreachable(), 0u);
  EXPECT_EQ(config.revocation().max_cache_age_seconds(), 3600u);
  EXPECT_EQ(config.max_probe_rounds_per_hostname(), 10u);
  EXPECT_EQ(config.rate_limit_window_seconds(), 3600u);
  EXPECT_EQ(config.decision_reuse_seconds(), 600u);
  EXPECT_FALSE(config.disable_decision_reuse());
  // No public endpoint unless configured.
  EXPECT_FALSE(config.has_public_listen());
}

TEST(CoordinatorConfigTest, DefaultsKeepExplicitValues) {
  v1::CoordinatorConfig config = ValidConfig();
  config.set_freshness_window_seconds(60);
  config.set_probe_timeout_milliseconds(2500);
  config.set_max_chain_length(4);
  config = WithCoordinatorDefaults(config);
  EXPECT_EQ(config.freshness_window_seconds(), 60u);
  EXPECT_EQ(config.probe_timeout_milliseconds(), 2500u);
  EXPECT_EQ(config.max_chain_length(), 4u);
}

TEST(CoordinatorConfigTest, AllowsPlaintextListenAndAgentsForLocalDevelopment) {
  v1::CoordinatorConfig config = ValidConfig();
  config.mutable_listen()->clear_tls();
  config.mutable_listen()->set_insecure_plaintext_for_local_development(true);
  config.mutable_agents(0)->mutable_peer()->clear_tls();
  config.mutable_agents(0)->mutable_peer()->set_insecure_plaintext_for_local_development(true);
  const absl::Status status = Validate(config);
  EXPECT_TRUE(status.ok()) << status;
}

TEST(CoordinatorConfigTest, TheBatchIntervalIsAtMostTenSeconds) {
  v1::CoordinatorConfig config = ValidConfig();
  config.set_batch_interval_milliseconds(10000);
  EXPECT_TRUE(Validate(config).ok());
  config.set_batch_interval_milliseconds(10001);
  EXPECT_THAT(Validate(config), IsInvalidField("batch_interval_milliseconds: at most 10000"));
}

TEST(CoordinatorConfigTest, RefusesPlaintextTowardsTheSigner) {
  v1::CoordinatorConfig config = ValidConfig();
  config.mutable_signer()->set_insecure_plaintext_for_local_development(true);
  EXPECT_THAT(Validate(config),
              IsInvalidField("signer.insecure_plaintext_for_local_development: plaintext is never "
                             "allowed for this peer (trust rule 7)"));
  config.mutable_signer()->clear_tls();
  EXPECT_THAT(Validate(config), IsInvalidField("signer.insecure_plaintext_for_local_development"));
}

TEST(CoordinatorConfigTest, RefusesABadListenAddress) {
  for (const std::string address :
       {"", "localhost", "localhost:", ":7443", "localhost:65536", "localhost:port"}) {
    v1::CoordinatorConfig config = ValidConfig();
    config.mutable_listen()->set_address(address);
    EXPECT_THAT(Validate(config), IsInvalidField("listen.address: must be host:port"))
        << "address '" << address << "'";
  }
}

TEST(CoordinatorConfigTest, RefusesPortZeroForPeers) {
  v1::CoordinatorConfig config = ValidConfig();
  config.mutable_signer()->set_address("signer.mecai.internal:0");
  config.mutable_agents(2)->mutable_peer()->set_address("ap-south-1a.agents.mecai.internal:0");
  EXPECT_THAT(Validate(config), AllOf(IsInvalidField("signer.address: must be host:port"),
                                      IsInvalidField("agents[2].peer.address: must be host:port")));
}

// One required field cleared, and the field the error must name.
struct MissingField {
  std::string field;
  void (*clear)(v1::CoordinatorConfig*);
};

TEST(CoordinatorConfigTest, EachMissingRequiredFieldIsNamed) {
  const MissingField cases[] = {
      {"listen.tls.certificate_file",
       [](v1::CoordinatorConfig* c) {
         c->mutable_listen()->mutable_tls()->clear_certificate_file();
       }},
      {"listen.tls.allowed_client_identities",
       [](v1::CoordinatorConfig* c) {
         c->mutable_listen()->mutable_tls()->clear_allowed_client_identities();
       }},
      {"log_shard_id", [](v1::CoordinatorConfig* c) { c->clear_log_shard_id(); }},
      {"store_path", [](v1::CoordinatorConfig* c) { c->clear_store_path(); }},
      {"trust_lists", [](v1::CoordinatorConfig* c) { c->clear_trust_lists(); }},
      {"agents[0].perspective.id",
       [](v1::CoordinatorConfig* c) { c->mutable_agents(0)->mutable_perspective()->clear_id(); }},
      {"agents[1].perspective.region",
       [](v1::CoordinatorConfig* c) {
         c->mutable_agents(1)->mutable_perspective()->clear_region();
       }},
      {"agents[2].public_key_file",
       [](v1::CoordinatorConfig* c) { c->mutable_agents(2)->clear_public_key_file(); }},
      {"agents[1].peer.address",
       [](v1::CoordinatorConfig* c) { c->mutable_agents(1)->mutable_peer()->clear_address(); }},
      {"agents[0].peer.tls.server_identity",
       [](v1::CoordinatorConfig* c) {
         c->mutable_agents(0)->mutable_peer()->mutable_tls()->clear_server_identity();
       }},
      {"signer.address", [](v1::CoordinatorConfig* c) { c->mutable_signer()->clear_address(); }},
      {"signer.tls.certificate_file",
       [](v1::CoordinatorConfig* c) {
         c->mutable_signer()->mutable_tls()->clear_certificate_file();
       }},
      {"signer.tls.private_key_file",
       [](v1::CoordinatorConfig* c) {
         c->mutable_signer()->mutable_tls()->clear_private_key_file();
       }},
      {"signer.tls.server_ca_file",
       [](v1::CoordinatorConfig* c) {
         c->mutable_signer()->mutable_tls()->clear_server_ca_file();
       }},
      {"signer.tls.server_identity",
       [](v1::CoordinatorConfig* c) {
         c->mutable_signer()->mutable_tls()->clear_server_identity();
       }},
  };
  for (const MissingField& missing : cases) {
    v1::CoordinatorConfig config = ValidConfig();
    missing.clear(&config);
    const absl::Status status = Validate(config);
    EXPECT_THAT(status, IsInvalidField(missing.field + ": ")) << "clearing " << missing.field;
    EXPECT_THAT(std::string(status.message()), Not(HasSubstr("; ")))
        << "clearing " << missing.field;
  }
}

// The policy rules themselves are ValidateQuorumPolicyTest's
// (common/evidence/quorum_policy_test.cc); here, that the coordinator applies them to its own
// agents and reports them under `policy`.
TEST(CoordinatorConfigTest, ChecksThePolicyAgainstItsAgentsUnderPolicy) {
  v1::CoordinatorConfig config = ValidConfig();
  config.mutable_agents()->RemoveLast();
  EXPECT_THAT(Validate(config), IsInvalidField("policy: 2 agents with max_unreachable 0 cannot "
                                               "meet min_perspectives 3"));
  config = ValidConfig();
  config.mutable_policy()->set_min_regions(1);
  EXPECT_THAT(Validate(config),
              IsInvalidField("policy.min_regions: must be at least 2 (trust rule 3)"));
}

TEST(CoordinatorConfigTest, RefusesADuplicateAgentId) {
  v1::CoordinatorConfig config = ValidConfig();
  AddAgent(&config, "us-east-1a", "us-west");
  EXPECT_THAT(Validate(config),
              IsInvalidField("agents[3].perspective.id: duplicate id 'us-east-1a'"));
}

TEST(CoordinatorConfigTest, RefusesLimitsAboveTheirMaximum) {
  v1::CoordinatorConfig config = ValidConfig();
  config.set_freshness_window_seconds(3601);
  config.set_probe_timeout_milliseconds(120001);
  config.set_signer_timeout_milliseconds(60001);
  config.set_max_chain_length(21);
  config.set_max_request_bytes((1 << 20) + 1);
  config.mutable_revocation()->set_max_cache_age_seconds(86401);
  EXPECT_THAT(Validate(config),
              AllOf(IsInvalidField("freshness_window_seconds: must be at most 3600"),
                    IsInvalidField("probe_timeout_milliseconds: must be at most 120000"),
                    IsInvalidField("signer_timeout_milliseconds: must be at most 60000"),
                    IsInvalidField("max_chain_length: must be at most 20"),
                    IsInvalidField("max_request_bytes: must be at most 1048576"),
                    IsInvalidField("revocation.max_cache_age_seconds: must be at most 86400")));
  config.set_freshness_window_seconds(3600);
  config.set_probe_timeout_milliseconds(120000);
  config.set_signer_timeout_milliseconds(60000);
  config.set_max_chain_length(20);
  config.set_max_request_bytes(1 << 20);
  config.mutable_revocation()->set_max_cache_age_seconds(86400);
  const absl::Status status = Validate(config);
  EXPECT_TRUE(status.ok()) << status;
}

// ARCHITECTURE.md §7: a trust list that requires issuance approval needs an approval service to
// ask.
TEST(CoordinatorConfigTest, RequiringApprovalWithoutAnApprovalServiceIsOneLineNamingTheField) {
  v1::CoordinatorConfig config = ValidConfig();
  config.mutable_trust_lists(0)->set_require_issuance_approval(true);
  const absl::Status status = Validate(config);
  EXPECT_THAT(status, IsInvalidField("approval_service: required because a trust list has "
                                     "require_issuance_approval"));
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr("\n")));
}

TEST(CoordinatorConfigTest, AcceptsApprovalWithAnApprovalServiceAndChecksIt) {
  v1::CoordinatorConfig config = ValidConfig();
  config.mutable_trust_lists(0)->set_require_issuance_approval(true);
  v1::PeerConfig* approval = config.mutable_approval_service();
  approval->set_address("approval.ca.internal:7446");
  approval->mutable_tls()->set_certificate_file("/etc/mecai/coordinator-client.pem");
  approval->mutable_tls()->set_private_key_file("/etc/mecai/coordinator-client.key");
  approval->mutable_tls()->set_server_ca_file("/etc/mecai/internal-ca.pem");
  approval->mutable_tls()->set_server_identity("approval.ca.internal");
  const absl::Status status = Validate(config);
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(WithCoordinatorDefaults(config).approval_timeout_milliseconds(), 5000u);

  approval->mutable_tls()->clear_server_identity();
  EXPECT_THAT(Validate(config), IsInvalidField("approval_service.tls.server_identity: required"));
  approval->mutable_tls()->set_server_identity("approval.ca.internal");
  approval->set_address("approval.ca.internal");
  EXPECT_THAT(Validate(config), IsInvalidField("approval_service.address: must be host:port"));
  approval->set_address("approval.ca.internal:7446");
  config.set_approval_timeout_milliseconds(60001);
  EXPECT_THAT(Validate(config),
              IsInvalidField("approval_timeout_milliseconds: must be at most 60000"));
}

// The coordinator fetches again rather than present evidence the signer would not rely on.
TEST(CoordinatorConfigTest, RevocationEvidenceMaxAgeDefaultsToADayAndIsBounded) {
  v1::CoordinatorConfig config = ValidConfig();
  EXPECT_EQ(WithCoordinatorDefaults(config).revocation().evidence_max_age_seconds(), 86400u);
  config.mutable_revocation()->set_evidence_max_age_seconds(59);
  EXPECT_THAT(Validate(config), IsInvalidField("revocation.evidence_max_age_seconds: must be "
                                               "between 60 and 864000 (10 days)"));
  config.mutable_revocation()->set_evidence_max_age_seconds(864001);
  EXPECT_THAT(Validate(config), IsInvalidField("revocation.evidence_max_age_seconds: must be "
                                               "between 60 and 864000 (10 days)"));
  config.mutable_revocation()->set_evidence_max_age_seconds(3600);
  const absl::Status status = Validate(config);
  EXPECT_TRUE(status.ok()) << status;
}

// Administrators submit only maintainer-signed changes, which the coordinator
// verifies with the maintainers' keys.
TEST(CoordinatorConfigTest, AdministrationNeedsTheMaintainerKeysInOneLine) {
  v1::CoordinatorConfig config = ValidConfig();
  config.add_admin_identities("admin");
  const absl::Status status = Validate(config);
  EXPECT_THAT(status, IsInvalidField("trust_list_maintainer_key_files: required because "
                                     "admin_identities is set"));
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr("\n")));
  config.add_trust_list_maintainer_key_files("/etc/mecai/trust-list-maintainer.pub");
  EXPECT_TRUE(Validate(config).ok());
  config.clear_admin_identities();
  EXPECT_TRUE(Validate(config).ok());
}

// A public endpoint with every field its defaults do not fill.
v1::CoordinatorConfig WithPublicListen() {
  v1::CoordinatorConfig config = ValidConfig();
  v1::PublicListenConfig* endpoint = config.mutable_public_listen();
  endpoint->set_address("0.0.0.0:443");
  endpoint->set_http_address("0.0.0.0:8444");
  endpoint->set_certificate_file("/etc/mecai/public/tls.crt");
  endpoint->set_private_key_file("/etc/mecai/public/tls.key");
  return config;
}

TEST(CoordinatorConfigTest, APublicEndpointGetsItsDocumentedDefaults) {
  const absl::Status status = Validate(WithPublicListen());
  EXPECT_TRUE(status.ok()) << status;
  const v1::PublicListenConfig endpoint =
      WithCoordinatorDefaults(WithPublicListen()).public_listen();
  EXPECT_EQ(endpoint.max_in_flight(), 16u);
  EXPECT_EQ(endpoint.max_queued(), 64u);
  EXPECT_EQ(endpoint.queue_timeout_milliseconds(), 5000u);
  EXPECT_EQ(endpoint.max_in_flight_per_address(), 4u);
  EXPECT_EQ(endpoint.request_timeout_milliseconds(), 10000u);
  EXPECT_EQ(endpoint.handshake_timeout_milliseconds(), 5000u);
  EXPECT_EQ(endpoint.max_connections(), 128u);
  EXPECT_EQ(endpoint.max_connections_per_address(), 8u);
  EXPECT_EQ(endpoint.idle_timeout_seconds(), 10u);
  EXPECT_EQ(endpoint.handshakes_per_second_per_address(), 10u);
  EXPECT_EQ(endpoint.handshake_burst_per_address(), 20u);
  // 0 handshakes a second is no rate limit, and stays so.
  v1::CoordinatorConfig no_rate_limit = WithPublicListen();
  no_rate_limit.mutable_public_listen()->set_handshakes_per_second_per_address(0);
  EXPECT_TRUE(Validate(no_rate_limit).ok());
  EXPECT_EQ(
      WithCoordinatorDefaults(no_rate_limit).public_listen().handshakes_per_second_per_address(),
      0u);
  // Either binding alone will do.
  v1::CoordinatorConfig only_grpc = WithPublicListen();
  only_grpc.mutable_public_listen()->clear_http_address();
  EXPECT_TRUE(Validate(only_grpc).ok());
  v1::CoordinatorConfig only_http = WithPublicListen();
  only_http.mutable_public_listen()->clear_address();
  EXPECT_TRUE(Validate(only_http).ok());
}

TEST(CoordinatorConfigTest, EachBadPublicEndpointFieldIsNamed) {
  const MissingField cases[] = {
      {"public_listen.address: public_listen needs address (gRPC) or http_address",
       [](v1::CoordinatorConfig* c) {
         c->mutable_public_listen()->clear_address();
         c->mutable_public_listen()->clear_http_address();
       }},
      {"public_listen.address: must be host:port",
       [](v1::CoordinatorConfig* c) { c->mutable_public_listen()->set_address("443"); }},
      {"public_listen.http_address: must be a numeric ip:port",
       [](v1::CoordinatorConfig* c) {
         c->mutable_public_listen()->set_http_address("vs.example.test:8444");
       }},
      {"public_listen.address: must differ from listen.address",
       [](v1::CoordinatorConfig* c) { c->mutable_public_listen()->set_address("0.0.0.0:7443"); }},
      {"public_listen.http_address: must differ from public_listen.address",
       [](v1::CoordinatorConfig* c) {
         c->mutable_public_listen()->set_http_address("0.0.0.0:443");
       }},
      {"public_listen.certificate_file: required",
       [](v1::CoordinatorConfig* c) { c->mutable_public_listen()->clear_certificate_file(); }},
      {"public_listen.private_key_file: required",
       [](v1::CoordinatorConfig* c) { c->mutable_public_listen()->clear_private_key_file(); }},
      {"public_listen.max_in_flight: must be between 1 and 1024",
       [](v1::CoordinatorConfig* c) { c->mutable_public_listen()->set_max_in_flight(1025); }},
      {"public_listen.max_queued: must be at most 10000",
       [](v1::CoordinatorConfig* c) { c->mutable_public_listen()->set_max_queued(10001); }},
      {"public_listen.queue_timeout_milliseconds: must be at most 60000",
       [](v1::CoordinatorConfig* c) {
         c->mutable_public_listen()->set_queue_timeout_milliseconds(60001);
       }},
      {"public_listen.max_in_flight_per_address: must be between 1 and max_in_flight",
       [](v1::CoordinatorConfig* c) {
         c->mutable_public_listen()->set_max_in_flight_per_address(17);
       }},
      {"public_listen.request_timeout_milliseconds: must be between 1000 and 60000",
       [](v1::CoordinatorConfig* c) {
         c->mutable_public_listen()->set_request_timeout_milliseconds(999);
       }},
      {"public_listen.handshake_timeout_milliseconds: must be between 1000 and 60000",
       [](v1::CoordinatorConfig* c) {
         c->mutable_public_listen()->set_handshake_timeout_milliseconds(60001);
       }},
      {"public_listen.max_connections: must be between 1 and 4096",
       [](v1::CoordinatorConfig* c) { c->mutable_public_listen()->set_max_connections(4097); }},
      {"public_listen.max_connections_per_address: must be between 1 and max_connections",
       [](v1::CoordinatorConfig* c) {
         c->mutable_public_listen()->set_max_connections_per_address(129);
       }},
      {"public_listen.idle_timeout_seconds: must be between 1 and 300",
       [](v1::CoordinatorConfig* c) { c->mutable_public_listen()->set_idle_timeout_seconds(301); }},
      {"public_listen.handshakes_per_second_per_address: must be between 0 (no rate limit) and "
       "10000",
       [](v1::CoordinatorConfig* c) {
         c->mutable_public_listen()->set_handshakes_per_second_per_address(10001);
       }},
      {"public_listen.handshake_burst_per_address: must be between 1 and 10000",
       [](v1::CoordinatorConfig* c) {
         c->mutable_public_listen()->set_handshake_burst_per_address(0);
       }},
      {"public_listen.handshake_burst_per_address: must be between 1 and 10000",
       [](v1::CoordinatorConfig* c) {
         c->mutable_public_listen()->set_handshake_burst_per_address(10001);
       }},
  };
  for (const MissingField& bad : cases) {
    v1::CoordinatorConfig config = WithPublicListen();
    bad.clear(&config);
    const absl::Status status = Validate(config);
    EXPECT_THAT(status, IsInvalidField(bad.field)) << bad.field;
    EXPECT_THAT(std::string(status.message()), Not(HasSubstr("; "))) << bad.field;
  }
  // Port 0 (a free port each) may repeat; an IPv6 literal in brackets is numeric.
  v1::CoordinatorConfig config = WithPublicListen();
  config.mutable_public_listen()->set_address("127.0.0.1:0");
  config.mutable_public_listen()->set_http_address("[::1]:0");
  const absl::Status status = Validate(config);
  EXPECT_TRUE(status.ok()) << status;
}

// A reused VD is handed out for at most an hour after it was signed (docs/PROTOCOL.md "Decision
// reuse").
TEST(CoordinatorConfigTest, DecisionReuseIsBoundedToAnHour) {
  v1::CoordinatorConfig config = ValidConfig();
  config.set_decision_reuse_seconds(3601);
  EXPECT_THAT(Validate(config), IsInvalidField("decision_reuse_seconds: must be at most 3600"));
  config.set_decision_reuse_seconds(3600);
  EXPECT_TRUE(Validate(config).ok());
}

}  // namespace
}  // namespace mecai

namespace mecai {
namespace {

TEST(CoordinatorConfigTest, StoreBackupsHaveDefaultsAndBounds) {
  v1::CoordinatorConfig config = ValidConfig();
  config.mutable_store_backup()->set_directory("/var/backups/mecai");
  config = WithCoordinatorDefaults(config);
  EXPECT_EQ(config.store_backup().interval_seconds(), 3600u);
  EXPECT_EQ(config.store_backup().kept(), 24u);
  EXPECT_TRUE(Validate(config).ok()) << Validate(config);

  v1::CoordinatorConfig inside = config;
  inside.mutable_store_backup()->set_directory("/var/lib/mecai/coordinator/backups");
  inside.mutable_store_backup()->set_interval_seconds(59);
  inside.mutable_store_backup()->set_kept(1001);
  const std::string message(Validate(inside).message());
  EXPECT_THAT(message, HasSubstr("store_backup.directory: must not be inside store_path"));
  EXPECT_THAT(message, HasSubstr("store_backup.interval_seconds: must be between 60 and 86400"));
  EXPECT_THAT(message, HasSubstr("store_backup.kept: must be between 1 and 1000"));

  v1::CoordinatorConfig no_directory = ValidConfig();
  no_directory.mutable_store_backup()->set_interval_seconds(600);
  EXPECT_THAT(std::string(Validate(WithCoordinatorDefaults(no_directory)).message()),
              HasSubstr("store_backup.directory: required"));
}

}  // namespace
}  // namespace mecai

namespace mecai {
namespace {

// VRs in flight, their deadline and the worker threads (ARCHITECTURE.md §13): documented defaults,
// each bounded.
TEST(CoordinatorConfigTest, VrsInFlightHaveDefaultsAndBounds) {
  v1::CoordinatorConfig config = WithCoordinatorDefaults(ValidConfig());
  EXPECT_EQ(config.max_vouch_in_flight(), 2000u);
  EXPECT_EQ(config.max_vouch_deadline_milliseconds(), 60000u);
  EXPECT_EQ(config.vouch_worker_threads(), 8u);
  EXPECT_TRUE(Validate(config).ok());
  config.set_max_vouch_in_flight(100001);
  EXPECT_THAT(Validate(config),
              IsInvalidField("max_vouch_in_flight: must be between 1 and 100000"));
  config.set_max_vouch_in_flight(1);
  config.set_max_vouch_deadline_milliseconds(999);
  EXPECT_THAT(Validate(config), IsInvalidField("max_vouch_deadline_milliseconds: must be between "
                                               "1000 and 600000"));
  config.set_max_vouch_deadline_milliseconds(600000);
  config.set_vouch_worker_threads(257);
  EXPECT_THAT(Validate(config), IsInvalidField("vouch_worker_threads: must be between 1 and 256"));
  config.set_vouch_worker_threads(256);
  EXPECT_TRUE(Validate(config).ok());
}

}  // namespace
}  // namespace mecai

namespace mecai {
namespace {

// ValidConfig turned into a front (docs/ARCHITECTURE.md §14): the sequencer instead of the log.
v1::CoordinatorConfig ValidFront() {
  v1::CoordinatorConfig config = ValidConfig();
  v1::PeerConfig sequencer = config.signer();
  sequencer.set_address("coordinator-sequencer.mecai.internal:7443");
  sequencer.mutable_tls()->set_server_identity("coordinator.mecai.internal");
  *config.mutable_sequencer() = sequencer;
  config.clear_signer();
  config.clear_store_path();
  config.clear_log_shard_id();
  return config;
}

TEST(CoordinatorConfigTest, AFrontNeedsTheSequencerAndNothingOfTheLog) {
  EXPECT_TRUE(Validate(ValidFront()).ok()) << Validate(ValidFront());
  EXPECT_EQ(WithCoordinatorDefaults(ValidFront()).sequencer_timeout_milliseconds(), 15000u);
  // Each field that belongs to the sequencer is refused on a front, naming it.
  const std::vector<std::pair<std::string, std::function<void(v1::CoordinatorConfig*)>>>
      log_fields = {
          {"store_path", [](v1::CoordinatorConfig* c) { c->set_store_path("/var/lib/mecai"); }},
          {"log_shard_id", [](v1::CoordinatorConfig* c) { c->set_log_shard_id("shard-eu-1"); }},
          {"signer",
           [](v1::CoordinatorConfig* c) { *c->mutable_signer() = ValidConfig().signer(); }},
          {"store_backup",
           [](v1::CoordinatorConfig* c) { c->mutable_store_backup()->set_directory("/b"); }},
          {"batch_interval_milliseconds",
           [](v1::CoordinatorConfig* c) { c->set_batch_interval_milliseconds(500); }},
          {"admin_identities", [](v1::CoordinatorConfig* c) { c->add_admin_identities("admin"); }},
          {"front_identities", [](v1::CoordinatorConfig* c) { c->add_front_identities("front"); }},
      };
  for (const auto& [field, set] : log_fields) {
    v1::CoordinatorConfig config = ValidFront();
    set(&config);
    EXPECT_THAT(Validate(config),
                IsInvalidField(field + ": must be absent on a front: the sequencer's"))
        << field;
  }
  v1::CoordinatorConfig plaintext = ValidFront();
  plaintext.mutable_sequencer()->set_insecure_plaintext_for_local_development(true);
  EXPECT_THAT(Validate(plaintext), IsInvalidField("sequencer"));
  v1::CoordinatorConfig slow = ValidFront();
  slow.set_sequencer_timeout_milliseconds(120001);
  EXPECT_THAT(Validate(slow),
              IsInvalidField("sequencer_timeout_milliseconds: must be between 1000 and 120000"));
}

TEST(CoordinatorConfigTest, TheSequencersFrontsMustBeAllowedOnItsListener) {
  v1::CoordinatorConfig config = ValidConfig();
  config.add_front_identities("coordinator.mecai.internal");
  EXPECT_THAT(Validate(config), IsInvalidField("front_identities[0]: must also be in "
                                               "listen.tls.allowed_client_identities"));
  config.mutable_listen()->mutable_tls()->add_allowed_client_identities(
      "coordinator.mecai.internal");
  EXPECT_TRUE(Validate(config).ok()) << Validate(config);
  config.set_sequencer_timeout_milliseconds(5000);
  EXPECT_THAT(Validate(config), IsInvalidField("sequencer_timeout_milliseconds: only for a front"));
  // Neither a store nor a sequencer: the message says both ways out.
  v1::CoordinatorConfig neither = ValidConfig();
  neither.clear_store_path();
  EXPECT_THAT(Validate(neither),
              IsInvalidField("store_path: required (or sequencer, for a front)"));
}

}  // namespace
}  // namespace mecai
