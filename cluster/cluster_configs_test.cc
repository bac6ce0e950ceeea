// The configs a local cluster writes (cluster/cluster_configs.h) pass each service's own start-time
// validation, with its defaults applied as its main() applies them: a config the cluster builds
// never stops a service at start.
#include "cluster/cluster_configs.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "approval/approval_config.h"
#include "coordinator/coordinator_config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "probe_agent/agent_config.h"
#include "signer/signer_config.h"

namespace mecai {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Only names: nothing here reads or writes files.
constexpr char kWorkdir[] = "/var/tmp/mecai-cluster";
constexpr char kModulePath[] = "/usr/lib/softhsm/libsofthsm2.so";

std::vector<v1::AgentEndpoint> ThreeAgents() {
  const char* const regions[] = {"eu-west", "us-east", "ap-south"};
  std::vector<v1::AgentEndpoint> agents;
  for (int i = 0; i < 3; ++i) {
    agents.push_back(ClusterAgentEndpoint(kWorkdir, absl::StrCat("agent-", i + 1), regions[i],
                                          /*placement=*/nullptr, 4100 + i));
  }
  return agents;
}

absl::Status ValidateCoordinator(const v1::CoordinatorConfig& config) {
  return ValidateCoordinatorConfig(WithCoordinatorDefaults(config), "coordinator.textproto");
}

absl::Status ValidateSigner(const v1::SignerConfig& config) {
  return ValidateSignerConfig(WithSignerDefaults(config), "signer.textproto");
}

TEST(ClusterConfigsTest, CoordinatorConfigPassesTheCoordinatorsValidation) {
  ClusterCoordinatorInputs inputs;
  inputs.agents = ThreeAgents();
  inputs.signer_ports = {4001};
  const v1::CoordinatorConfig config = ClusterCoordinatorConfig(kWorkdir, inputs);
  EXPECT_TRUE(ValidateCoordinator(config).ok()) << ValidateCoordinator(config);
  EXPECT_EQ(config.signer().address(), "127.0.0.1:4001");
  EXPECT_EQ(config.signer().tls().server_identity(), "signer");
  EXPECT_EQ(config.signer().tls().certificate_file(),
            absl::StrCat(kWorkdir, "/internal/coordinator.pem"));
  EXPECT_EQ(config.signer_replica_addresses_size(), 0);
  ASSERT_EQ(config.trust_lists_size(), 1);
  EXPECT_EQ(config.trust_lists(0).name(), kClusterTrustList);
  EXPECT_FALSE(config.has_approval_service());
  EXPECT_EQ(config.max_probe_rounds_per_hostname(), 0u);  // The coordinator's default.
  ASSERT_EQ(config.agents_size(), 3);
  EXPECT_EQ(config.agents(2).peer().address(), "127.0.0.1:4102");
  EXPECT_EQ(config.agents(2).public_key_file(),
            absl::StrCat(kWorkdir, "/agents/agent-3-observation.pub"));
  // The public endpoint, both bindings, with the coordinator's certificate; decision reuse on.
  EXPECT_EQ(config.public_listen().address(), "127.0.0.1:0");
  EXPECT_EQ(config.public_listen().http_address(), "127.0.0.1:0");
  EXPECT_EQ(config.public_listen().certificate_file(),
            absl::StrCat(kWorkdir, "/internal/coordinator.pem"));
  EXPECT_FALSE(config.disable_decision_reuse());

  // The validation is not vacuous: without its signer the same config is refused.
  v1::CoordinatorConfig without_signer = config;
  without_signer.clear_signer();
  EXPECT_THAT(ValidateCoordinator(without_signer).message(), HasSubstr("signer"));
}

TEST(ClusterConfigsTest, CoordinatorConfigWithApprovalAndTwoSignerReplicasPasses) {
  ClusterCoordinatorInputs inputs;
  inputs.agents = ThreeAgents();
  inputs.signer_ports = {4001, 4002};
  inputs.approval_port = 4200;
  inputs.max_probe_rounds_per_hostname = 1000;
  const v1::CoordinatorConfig config = ClusterCoordinatorConfig(kWorkdir, inputs);
  EXPECT_TRUE(ValidateCoordinator(config).ok()) << ValidateCoordinator(config);
  EXPECT_EQ(config.signer().address(), "127.0.0.1:4001");
  EXPECT_THAT(config.signer_replica_addresses(),
              ::testing::ElementsAre("127.0.0.1:4001", "127.0.0.1:4002"));
  ASSERT_EQ(config.trust_lists_size(), 2);
  EXPECT_EQ(config.trust_lists(1).name(), kClusterApprovalTrustList);
  EXPECT_TRUE(config.trust_lists(1).require_issuance_approval());
  EXPECT_EQ(config.approval_service().address(), "127.0.0.1:4200");
  EXPECT_EQ(config.max_probe_rounds_per_hostname(), 1000u);
}

TEST(ClusterConfigsTest, ThePublicEndpointsLimitsAndDecisionReuseCanBeChosen) {
  ClusterCoordinatorInputs inputs;
  inputs.agents = ThreeAgents();
  inputs.signer_ports = {4001};
  inputs.decision_reuse = false;
  inputs.public_endpoint_limits.set_request_timeout_milliseconds(2000);
  inputs.public_endpoint_limits.set_max_in_flight_per_address(2);
  const v1::CoordinatorConfig config = ClusterCoordinatorConfig(kWorkdir, inputs);
  EXPECT_TRUE(ValidateCoordinator(config).ok()) << ValidateCoordinator(config);
  EXPECT_TRUE(config.disable_decision_reuse());
  EXPECT_EQ(config.public_listen().request_timeout_milliseconds(), 2000u);
  EXPECT_EQ(config.public_listen().max_in_flight_per_address(), 2u);
  EXPECT_EQ(config.public_listen().http_address(), "127.0.0.1:0");
}

TEST(ClusterConfigsTest, SignerConfigsPassTheSignersValidation) {
  for (bool with_approval : {false, true}) {
    const v1::SignerConfig signer =
        ClusterSignerConfig(kWorkdir, kModulePath, ThreeAgents(), with_approval);
    EXPECT_TRUE(ValidateSigner(signer).ok()) << ValidateSigner(signer);
    EXPECT_EQ(signer.pkcs11().token_label(), kClusterTokenLabel);
    EXPECT_EQ(signer.pkcs11().key_label(), kClusterVaKeyLabel);
    EXPECT_EQ(signer.log_key_label(), kClusterLogKeyLabel);
    EXPECT_EQ(signer.trust_lists_size(), with_approval ? 2 : 1);
    EXPECT_EQ(signer.approval_public_key_file().empty(), !with_approval);
    ASSERT_EQ(signer.agents_size(), 3);
    EXPECT_FALSE(signer.agents(0).has_peer());  // The signer never calls the agents.

    const v1::SignerConfig second = ClusterSecondSignerConfig(kWorkdir, signer);
    EXPECT_TRUE(ValidateSigner(second).ok()) << ValidateSigner(second);
    EXPECT_NE(second.listen().port_file(), signer.listen().port_file());
    EXPECT_NE(second.log_state_file(), signer.log_state_file());
    EXPECT_NE(second.trust_list_changes_file(), signer.trust_list_changes_file());
    EXPECT_EQ(second.pkcs11().SerializeAsString(), signer.pkcs11().SerializeAsString());
  }
  // The signer refuses what it would refuse from an operator.
  v1::SignerConfig without_log_key =
      ClusterSignerConfig(kWorkdir, kModulePath, ThreeAgents(), false);
  without_log_key.clear_log_key_label();
  EXPECT_THAT(ValidateSigner(without_log_key).message(), HasSubstr("log_key_label"));
}

TEST(ClusterConfigsTest, AgentConfigsPassTheAgentsValidation) {
  const v1::ProbeAgentConfig loopback =
      ClusterAgentConfig(kWorkdir, "agent-1", "eu-west", /*placement=*/nullptr, 5353);
  EXPECT_TRUE(probe_agent::ValidateProbeAgentConfig(loopback, "agent-1.textproto").ok())
      << probe_agent::ValidateProbeAgentConfig(loopback, "agent-1.textproto");
  EXPECT_EQ(loopback.listen().address(), "127.0.0.1:0");
  EXPECT_THAT(loopback.resolver().nameservers(), ::testing::ElementsAre("127.0.0.1:5353"));
  EXPECT_THAT(loopback.allowed_special_address_ranges(), ::testing::ElementsAre("127.0.0.0/8"));
  EXPECT_EQ(loopback.listen().tls().certificate_file(),
            absl::StrCat(kWorkdir, "/internal/agent-1.pem"));

  AgentPlacement placement;
  placement.network_namespace = "mecai-us-east";
  placement.address = "10.201.0.2";
  placement.nameserver = "10.201.0.1";
  placement.allowed_range = "10.200.0.0/16";
  const v1::ProbeAgentConfig placed =
      ClusterAgentConfig(kWorkdir, "agent-2", "us-east", &placement, 5353);
  EXPECT_TRUE(probe_agent::ValidateProbeAgentConfig(placed, "agent-2.textproto").ok())
      << probe_agent::ValidateProbeAgentConfig(placed, "agent-2.textproto");
  EXPECT_EQ(placed.listen().address(), "10.201.0.2:0");
  EXPECT_THAT(placed.resolver().nameservers(), ::testing::ElementsAre("10.201.0.1"));
  const v1::AgentEndpoint endpoint =
      ClusterAgentEndpoint(kWorkdir, "agent-2", "us-east", &placement, 4101);
  EXPECT_EQ(endpoint.peer().address(), "10.201.0.2:4101");
  EXPECT_EQ(endpoint.peer().tls().server_identity(), "agent-2");
}

TEST(ClusterConfigsTest, ApprovalConfigPassesTheApprovalServicesValidation) {
  const v1::ApprovalConfig config =
      ClusterApprovalConfig(kWorkdir, "http://127.0.0.1:8080/rdap/", "http://127.0.0.1:8081/call");
  const absl::Status valid =
      ValidateApprovalConfig(WithApprovalDefaults(config), "approval.textproto");
  EXPECT_TRUE(valid.ok()) << valid;
  EXPECT_EQ(config.rdap_base_urls().at("test"), "http://127.0.0.1:8080/rdap/");
  EXPECT_THAT(config.listen().tls().allowed_client_identities(),
              ::testing::ElementsAre("coordinator", "ca-frontend"));
}

TEST(ClusterConfigsTest, FilesAreUnderTheWorkdir) {
  const v1::Pkcs11Config pkcs11 = ClusterVaKeyPkcs11(kWorkdir, kModulePath);
  EXPECT_EQ(pkcs11.module_path(), kModulePath);
  EXPECT_EQ(pkcs11.pin_file(), absl::StrCat(kWorkdir, "/hsm/user.pin"));
  const v1::VaList va_list = ClusterVaList(kWorkdir, std::string(32, 'p'));
  ASSERT_EQ(va_list.vas_size(), 1);
  EXPECT_EQ(va_list.vas(0).id(), kClusterVaId);
  EXPECT_THAT(va_list.vas(0).ca_certificate_file(), StartsWith(kWorkdir));
  EXPECT_THAT(va_list.vas(0).log_public_key_file(), StartsWith(kWorkdir));

  EXPECT_EQ(ClusterHostsFile({{"next.mecai.test", {"127.0.0.2", "127.0.0.3"}}}),
            "127.0.0.1 www.mecai.test\n127.0.0.2 next.mecai.test\n127.0.0.3 next.mecai.test\n");
  const std::string nginx = ClusterNginxConfig(kWorkdir, "0.0.0.0", 8443, 9443, /*as_root=*/false);
  EXPECT_THAT(nginx, HasSubstr("listen 127.0.0.1:8443 reuseport;"));
  EXPECT_THAT(nginx, HasSubstr("listen 0.0.0.0:9443 ssl reuseport;"));
  EXPECT_THAT(nginx, HasSubstr(absl::StrCat("ssl_certificate ", kWorkdir, "/pki/server.pem;")));
  EXPECT_THAT(nginx, ::testing::Not(HasSubstr("user root")));
  EXPECT_THAT(ClusterNginxConfig(kWorkdir, "127.0.0.1", 1, 2, /*as_root=*/true),
              HasSubstr("user root root;"));
  EXPECT_THAT(nginx, ::testing::Not(HasSubstr("server-rsa")));
  // Two certificates for the target, each with its key (docs/PROTOCOL.md "Key-typed handshakes").
  EXPECT_THAT(
      ClusterNginxConfig(kWorkdir, "127.0.0.1", 1, 2, /*as_root=*/false,
                         /*with_rsa_certificate=*/true),
      HasSubstr(absl::StrCat(
          "ssl_certificate ", kWorkdir, "/pki/server.pem;\n", "    ssl_certificate_key ", kWorkdir,
          "/pki/server.key;\n    ssl_certificate ", kWorkdir,
          "/pki/server-rsa.pem;\n    ssl_certificate_key ", kWorkdir, "/pki/server-rsa.key;")));
}

}  // namespace
}  // namespace mecai
