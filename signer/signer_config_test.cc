// Tests of the signer's configuration checks: a bad config stops the signer at start with a message
// naming the field (ARCHITECTURE.md §10), and plaintext is never allowed for the signer (trust rule
// 7).
#include "signer/signer_config.h"

#include <string>

#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSource[] = "/etc/mecai/signer.textproto";

void AddAgent(v1::SignerConfig* config, const std::string& id, const std::string& region) {
  v1::AgentEndpoint* agent = config->add_agents();
  agent->mutable_perspective()->set_id(id);
  agent->mutable_perspective()->set_region(region);
  agent->set_public_key_file("/etc/mecai/agents/" + id + ".pub");
}

// A complete config, before defaults.
v1::SignerConfig ValidConfig() {
  v1::SignerConfig config;
  v1::ListenConfig* listen = config.mutable_listen();
  listen->set_address("0.0.0.0:7443");
  listen->mutable_tls()->set_certificate_file("/etc/mecai/signer.pem");
  listen->mutable_tls()->set_private_key_file("/etc/mecai/signer.key");
  listen->mutable_tls()->set_client_ca_file("/etc/mecai/internal-ca.pem");
  listen->mutable_tls()->add_allowed_client_identities("coordinator.mecai.internal");
  config.set_va_id("va.example.test");
  config.mutable_pkcs11()->set_module_path("/usr/lib/softhsm/libsofthsm2.so");
  config.mutable_pkcs11()->set_token_label("mecai-va");
  config.mutable_pkcs11()->set_pin_file("/etc/mecai/va.pin");
  config.mutable_pkcs11()->set_key_label("va-key");
  config.set_log_key_label("va-log-key");
  config.set_log_state_file("/var/lib/mecai/signer-log-state.pb");
  config.set_va_certificate_chain_file("/etc/mecai/va-chain.pem");
  config.set_ca_certificate_file("/etc/mecai/ca.pem");
  v1::TrustListConfig* trust_list = config.add_trust_lists();
  trust_list->set_name("mozilla");
  trust_list->set_pem_file("/etc/ssl/certs/ca-certificates.crt");
  AddAgent(&config, "eu-west-1a", "eu-west");
  AddAgent(&config, "us-east-1a", "us-east");
  AddAgent(&config, "ap-south-1a", "ap-south");
  return config;
}

absl::Status Validate(const v1::SignerConfig& config) {
  return ValidateSignerConfig(WithSignerDefaults(config), kSource);
}

// INVALID_ARGUMENT naming the config file and "<field>: <problem>".
::testing::Matcher<absl::Status> InvalidField(const std::string& field_and_problem) {
  return StatusIs(
      absl::StatusCode::kInvalidArgument,
      AllOf(HasSubstr(std::string("invalid config ") + kSource), HasSubstr(field_and_problem)));
}

TEST(SignerConfigTest, ValidConfigPasses) { EXPECT_TRUE(Validate(ValidConfig()).ok()); }

TEST(SignerConfigTest, DefaultsFillTheDocumentedValues) {
  v1::SignerConfig config = WithSignerDefaults(ValidConfig());
  EXPECT_EQ(config.freshness_window_seconds(), 300u);
  EXPECT_EQ(config.observation_max_age_seconds(), 120u);
  EXPECT_EQ(config.policy().min_perspectives(), 3u);
  EXPECT_EQ(config.policy().min_regions(), 2u);
  EXPECT_EQ(config.policy().max_unreachable(), 0u);
}

TEST(SignerConfigTest, DefaultsKeepExplicitValues) {
  v1::SignerConfig config = ValidConfig();
  config.set_freshness_window_seconds(60);
  config.set_observation_max_age_seconds(30);
  config.mutable_policy()->set_min_perspectives(4);
  config = WithSignerDefaults(config);
  EXPECT_EQ(config.freshness_window_seconds(), 60u);
  EXPECT_EQ(config.observation_max_age_seconds(), 30u);
  EXPECT_EQ(config.policy().min_perspectives(), 4u);
}

TEST(SignerConfigTest, RefusesPlaintextForTheSigner) {
  v1::SignerConfig config = ValidConfig();
  config.mutable_listen()->set_insecure_plaintext_for_local_development(true);
  EXPECT_THAT(Validate(config),
              InvalidField("listen.insecure_plaintext_for_local_development: plaintext is never "
                           "allowed for this service (trust rule 7)"));
}

TEST(SignerConfigTest, RefusesPlaintextEvenWithoutTls) {
  v1::SignerConfig config = ValidConfig();
  config.mutable_listen()->clear_tls();
  config.mutable_listen()->set_insecure_plaintext_for_local_development(true);
  EXPECT_THAT(Validate(config), InvalidField("listen.insecure_plaintext_for_local_development"));
}

TEST(SignerConfigTest, RefusesABadListenAddress) {
  for (const std::string address :
       {"", "localhost", "localhost:", ":7443", "localhost:65536", "localhost:port", "[::1:7443"}) {
    v1::SignerConfig config = ValidConfig();
    config.mutable_listen()->set_address(address);
    EXPECT_THAT(Validate(config), InvalidField("listen.address: must be host:port"))
        << "address '" << address << "'";
  }
}

TEST(SignerConfigTest, AcceptsPortZeroAndBracketedIpv6) {
  for (const std::string address : {"127.0.0.1:0", "[::1]:7443", "signer.mecai.internal:7443"}) {
    v1::SignerConfig config = ValidConfig();
    config.mutable_listen()->set_address(address);
    EXPECT_TRUE(Validate(config).ok()) << "address '" << address << "': " << Validate(config);
  }
}

// One required field cleared, and the field the error must name.
struct MissingField {
  std::string field;
  void (*clear)(v1::SignerConfig*);
};

TEST(SignerConfigTest, TheLogKeyMustNotBeTheVaKey) {
  v1::SignerConfig config = ValidConfig();
  config.set_log_key_label(config.pkcs11().key_label());
  EXPECT_THAT(Validate(config), InvalidField("log_key_label: must differ from pkcs11.key_label"));
}

TEST(SignerConfigTest, TheLogOriginPrefixIsAKeyNameAndASchemelessUrlPrefix) {
  v1::SignerConfig config = ValidConfig();
  config.set_log_origin_prefix("log.va.example/mecai");
  EXPECT_TRUE(Validate(config).ok());
  for (const char* bad : {"log.va.example/mecai/", "https://log.va.example", "log va", "log+va"}) {
    config.set_log_origin_prefix(bad);
    EXPECT_THAT(Validate(config), InvalidField("log_origin_prefix: ")) << bad;
  }
}

TEST(SignerConfigTest, LoggedVdsNeedCheckpointNotes) {
  v1::SignerConfig config = ValidConfig();
  config.set_logged_vouching_data(true);
  EXPECT_THAT(Validate(config), InvalidField("logged_vouching_data: requires log_origin_prefix"));
  config.set_log_origin_prefix("log.va.example/mecai");
  EXPECT_TRUE(Validate(config).ok());
}

TEST(SignerConfigTest, EachMissingRequiredFieldIsNamed) {
  const MissingField cases[] = {
      {"listen.tls.certificate_file",
       [](v1::SignerConfig* c) { c->mutable_listen()->mutable_tls()->clear_certificate_file(); }},
      {"listen.tls.private_key_file",
       [](v1::SignerConfig* c) { c->mutable_listen()->mutable_tls()->clear_private_key_file(); }},
      {"listen.tls.client_ca_file",
       [](v1::SignerConfig* c) { c->mutable_listen()->mutable_tls()->clear_client_ca_file(); }},
      {"listen.tls.allowed_client_identities",
       [](v1::SignerConfig* c) {
         c->mutable_listen()->mutable_tls()->clear_allowed_client_identities();
       }},
      {"va_id", [](v1::SignerConfig* c) { c->clear_va_id(); }},
      {"pkcs11.module_path", [](v1::SignerConfig* c) { c->mutable_pkcs11()->clear_module_path(); }},
      {"pkcs11.token_label", [](v1::SignerConfig* c) { c->mutable_pkcs11()->clear_token_label(); }},
      // The PIN may come from pin_environment_variable instead; with neither, pin_file is named.
      {"pkcs11.pin_file", [](v1::SignerConfig* c) { c->mutable_pkcs11()->clear_pin_file(); }},
      {"pkcs11.key_label", [](v1::SignerConfig* c) { c->mutable_pkcs11()->clear_key_label(); }},
      {"va_certificate_chain_file",
       [](v1::SignerConfig* c) { c->clear_va_certificate_chain_file(); }},
      {"ca_certificate_file", [](v1::SignerConfig* c) { c->clear_ca_certificate_file(); }},
      {"log_key_label", [](v1::SignerConfig* c) { c->clear_log_key_label(); }},
      {"log_state_file", [](v1::SignerConfig* c) { c->clear_log_state_file(); }},
      {"trust_lists", [](v1::SignerConfig* c) { c->clear_trust_lists(); }},
      {"agents[1].perspective.id",
       [](v1::SignerConfig* c) { c->mutable_agents(1)->mutable_perspective()->clear_id(); }},
      {"agents[2].perspective.region",
       [](v1::SignerConfig* c) { c->mutable_agents(2)->mutable_perspective()->clear_region(); }},
      {"agents[0].public_key_file",
       [](v1::SignerConfig* c) { c->mutable_agents(0)->clear_public_key_file(); }},
  };
  for (const MissingField& missing : cases) {
    v1::SignerConfig config = ValidConfig();
    missing.clear(&config);
    const absl::Status status = Validate(config);
    EXPECT_THAT(status, InvalidField(missing.field + ": ")) << "clearing " << missing.field;
    // Only the cleared field is reported (trust_lists and the policy are unaffected by it).
    EXPECT_THAT(std::string(status.message()), Not(HasSubstr("; ")))
        << "clearing " << missing.field;
  }
}

TEST(SignerConfigTest, ReportsEveryOffendingFieldAtOnce) {
  v1::SignerConfig config = ValidConfig();
  config.clear_va_id();
  config.mutable_pkcs11()->clear_pin_file();
  EXPECT_THAT(Validate(config), AllOf(InvalidField("va_id: required"),
                                      InvalidField("pkcs11.pin_file: required unless "
                                                   "pkcs11.pin_environment_variable is set")));
}

TEST(SignerConfigTest, PinMayComeFromTheEnvironmentInstead) {
  v1::SignerConfig config = ValidConfig();
  config.mutable_pkcs11()->clear_pin_file();
  config.mutable_pkcs11()->set_pin_environment_variable("MECAI_VA_PIN");
  EXPECT_TRUE(Validate(config).ok()) << Validate(config);
}

TEST(SignerConfigTest, RefusesBothPinSources) {
  v1::SignerConfig config = ValidConfig();
  config.mutable_pkcs11()->set_pin_environment_variable("MECAI_VA_PIN");
  EXPECT_THAT(Validate(config),
              InvalidField("pkcs11.pin_environment_variable: must not be set together with "
                           "pkcs11.pin_file; set exactly one"));
}

TEST(SignerConfigTest, RefusesAPinVariableThatIsNoName) {
  for (const std::string name : {"1PIN", "VA-PIN", "VA PIN", "PIN=1234"}) {
    v1::SignerConfig config = ValidConfig();
    config.mutable_pkcs11()->clear_pin_file();
    config.mutable_pkcs11()->set_pin_environment_variable(name);
    EXPECT_THAT(Validate(config), InvalidField("pkcs11.pin_environment_variable: must be a name"))
        << "name '" << name << "'";
  }
}

TEST(SignerConfigTest, SessionPoolDefaultsToFourAndIsAtMost64) {
  EXPECT_EQ(WithSignerDefaults(ValidConfig()).pkcs11().session_pool_size(), 4u);
  v1::SignerConfig config = ValidConfig();
  config.mutable_pkcs11()->set_session_pool_size(64);
  EXPECT_EQ(WithSignerDefaults(config).pkcs11().session_pool_size(), 64u);
  EXPECT_TRUE(Validate(config).ok());
  config.mutable_pkcs11()->set_session_pool_size(65);
  EXPECT_THAT(Validate(config), InvalidField("pkcs11.session_pool_size: must be at most 64"));
}

// The policy rules themselves are ValidateQuorumPolicyTest's
// (common/evidence/quorum_policy_test.cc); here, that the signer applies them to its own enrolled
// agents and reports them under `policy`.
TEST(SignerConfigTest, ChecksThePolicyAgainstItsAgentsUnderPolicy) {
  v1::SignerConfig config = ValidConfig();
  config.mutable_agents()->RemoveLast();
  EXPECT_THAT(Validate(config), InvalidField("policy: 2 agents with max_unreachable 0 cannot "
                                             "meet min_perspectives 3"));
  config = ValidConfig();
  config.mutable_policy()->set_min_regions(1);
  EXPECT_THAT(Validate(config),
              InvalidField("policy.min_regions: must be at least 2 (trust rule 3)"));
}

TEST(SignerConfigTest, RefusesADuplicateAgentId) {
  v1::SignerConfig config = ValidConfig();
  AddAgent(&config, "us-east-1a", "us-west");
  EXPECT_THAT(Validate(config),
              InvalidField("agents[3].perspective.id: duplicate id 'us-east-1a'"));
}

TEST(SignerConfigTest, RefusesWindowsLongerThanAnHour) {
  v1::SignerConfig config = ValidConfig();
  config.set_freshness_window_seconds(3601);
  config.set_observation_max_age_seconds(3601);
  EXPECT_THAT(Validate(config),
              AllOf(InvalidField("freshness_window_seconds: must be at most 3600"),
                    InvalidField("observation_max_age_seconds: must be at most "
                                 "3600")));
  config.set_freshness_window_seconds(3600);
  config.set_observation_max_age_seconds(3600);
  EXPECT_TRUE(Validate(config).ok());
}

// ARCHITECTURE.md §7: the signer checks approval records itself, so it needs the approval service's
// key.
TEST(SignerConfigTest, RequiringApprovalNeedsTheApprovalServicesKey) {
  v1::SignerConfig config = ValidConfig();
  config.mutable_trust_lists(0)->set_require_issuance_approval(true);
  EXPECT_THAT(Validate(config),
              InvalidField("approval_public_key_file: required because a trust list has "
                           "require_issuance_approval"));
  config.set_approval_public_key_file("/etc/mecai/approval-records.pub");
  EXPECT_TRUE(Validate(config).ok());
  EXPECT_EQ(WithSignerDefaults(config).approval_record_max_age_seconds(), 300u);
  config.set_approval_record_max_age_seconds(3601);
  EXPECT_THAT(Validate(config), InvalidField("approval_record_max_age_seconds: must be at most "
                                             "3600"));
}

// The oldest revocation evidence the signer relies on (common/revocation/revocation.h): a day by
// default, from a minute to the 10 days a CRL or OCSP response may be valid at most.
TEST(SignerConfigTest, RevocationEvidenceMaxAgeDefaultsToADayAndIsBounded) {
  v1::SignerConfig config = ValidConfig();
  EXPECT_EQ(WithSignerDefaults(config).revocation_evidence_max_age_seconds(), 86400u);
  config.set_revocation_evidence_max_age_seconds(59);
  EXPECT_THAT(Validate(config), InvalidField("revocation_evidence_max_age_seconds: must be between "
                                             "60 and 864000 (10 days)"));
  config.set_revocation_evidence_max_age_seconds(864001);
  EXPECT_THAT(Validate(config), InvalidField("revocation_evidence_max_age_seconds: must be between "
                                             "60 and 864000 (10 days)"));
  for (uint32_t seconds : {60u, 3600u, 864000u}) {
    config.set_revocation_evidence_max_age_seconds(seconds);
    EXPECT_TRUE(Validate(config).ok()) << seconds;
    EXPECT_EQ(WithSignerDefaults(config).revocation_evidence_max_age_seconds(), seconds);
  }
}

// Evidence by content hash (ARCHITECTURE.md §8): the cache, the upload limit and its deadline.
TEST(SignerConfigTest, EvidenceCacheLimitsHaveDefaultsAndAreBounded) {
  const v1::SignerConfig defaults = WithSignerDefaults(ValidConfig());
  EXPECT_EQ(defaults.evidence_cache_bytes(), 256u << 20);
  EXPECT_EQ(defaults.max_evidence_upload_bytes(), 32u << 20);
  EXPECT_EQ(defaults.evidence_upload_timeout_seconds(), 30u);
  EXPECT_TRUE(Validate(ValidConfig()).ok());

  v1::SignerConfig config = ValidConfig();
  config.set_evidence_cache_bytes(16 << 20);
  EXPECT_THAT(Validate(config), InvalidField("max_evidence_upload_bytes: must be between 65536 and "
                                             "evidence_cache_bytes (16777216)"));
  config.set_max_evidence_upload_bytes(16 << 20);
  EXPECT_TRUE(Validate(config).ok());
  config.set_max_evidence_upload_bytes(1000);
  EXPECT_THAT(Validate(config), InvalidField("max_evidence_upload_bytes: must be between 65536"));
  config = ValidConfig();
  config.set_evidence_cache_bytes((uint64_t{16} << 30) + 1);
  EXPECT_THAT(Validate(config),
              InvalidField("evidence_cache_bytes: must be at most 17179869184 (16 GiB)"));
  config = ValidConfig();
  config.set_evidence_upload_timeout_seconds(601);
  EXPECT_THAT(Validate(config),
              InvalidField("evidence_upload_timeout_seconds: must be between 1 and 600"));
}

// The signer applies only maintainer-signed trust-list changes, and keeps them.
TEST(SignerConfigTest, TrustListChangesNeedMaintainerKeysAndAFileToKeepThem) {
  v1::SignerConfig config = ValidConfig();
  // Neither: the trust lists are exactly their bundles, every change refused.
  EXPECT_TRUE(Validate(config).ok());
  config.set_trust_list_changes_file("/var/lib/mecai/trust-list-changes.pb");
  absl::Status status = Validate(config);
  EXPECT_THAT(status, InvalidField("trust_list_maintainer_key_files: required because "
                                   "trust_list_changes_file is set"));
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr("\n")));
  config.add_trust_list_maintainer_key_files("/etc/mecai/trust-list-maintainer.pub");
  EXPECT_TRUE(Validate(config).ok());
  config.clear_trust_list_changes_file();
  EXPECT_THAT(Validate(config), InvalidField("trust_list_changes_file: required because "
                                             "trust_list_maintainer_key_files is set"));
  config.set_trust_list_changes_file("/var/lib/mecai/trust-list-changes.pb");
  config.add_trust_list_maintainer_key_files("");
  EXPECT_THAT(Validate(config),
              InvalidField("trust_list_maintainer_key_files[1]: must not be empty"));
}

}  // namespace
}  // namespace mecai
