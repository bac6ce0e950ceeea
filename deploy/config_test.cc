// Every textproto configuration under deploy/ parses as its binary's message and passes that
// binary's validation at start (ARCHITECTURE.md §10), and the Kubernetes overlays agree with each
// other: each region's probe agent is the perspective its directory names, every coordinator and
// the signer enroll the same perspectives, at least four, under the same quorum policy, which
// survives the loss of one region (docs/SECURITY.md "Quorum"); each region's log server follows
// its coordinator's shard under the origin the signer signs (docs/PUBLIC_LOG.md), and the witness
// witnesses other VAs' logs; each region's fronts decide as its sequencer would and record with
// it (docs/ARCHITECTURE.md §14). Files named by the configs (mounted Secrets) are not read, as the
// validators do not read them either.
#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "approval/approval_config.h"
#include "common/base/config_loader.h"
#include "common/rpc/grpc_channel.h"
#include "common/transparency/note_key.h"
#include "coordinator/coordinator_config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "log_server/log_server_config.h"
#include "probe_agent/agent_config.h"
#include "proto/mecai/v1/config.pb.h"
#include "signer/signer_config.h"
#include "stapler/stapler_daemon.h"
#include "witness/witness_config.h"

namespace mecai {
namespace {

using ::testing::ElementsAreArray;
using ::testing::UnorderedElementsAreArray;

// Relative to the test's runfiles directory (the workspace root).
constexpr char kDeployDirectory[] = "deploy";
const std::vector<std::string> kRegions = {"eu-west", "us-east", "ap-south", "sa-east"};
// The fronts' own mutual-TLS identity "front", Secret mecai-front-tls (deploy/k8s/README.md).
constexpr char kFrontCertificate[] = "/etc/mecai/front-tls/tls.crt";
constexpr char kFrontKey[] = "/etc/mecai/front-tls/tls.key";
constexpr char kFrontCa[] = "/etc/mecai/front-tls/ca.crt";

// Every *.textproto under deploy/, as paths relative to the workspace root, sorted.
std::vector<std::string> TextprotoFiles() {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(
           kDeployDirectory, std::filesystem::directory_options::follow_directory_symlink)) {
    if (entry.path().extension() == ".textproto") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string OverlayConfig(const std::string& region, const std::string& file) {
  return std::string(kDeployDirectory) + "/k8s/overlays/" + region + "/config/" + file;
}

std::vector<std::string> PerspectiveNames(
    const google::protobuf::RepeatedPtrField<v1::AgentEndpoint>& agents) {
  std::vector<std::string> names;
  for (const v1::AgentEndpoint& agent : agents) {
    names.push_back(agent.perspective().id() + "/" + agent.perspective().region());
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST(DeployConfigTest, TheExpectedFilesAreThere) {
  std::vector<std::string> expected = {
      std::string(kDeployDirectory) + "/apache/stapler.textproto",
      std::string(kDeployDirectory) + "/k8s/approval/config/approval.textproto",
      std::string(kDeployDirectory) + "/k8s/base/config/signer.textproto",
      std::string(kDeployDirectory) + "/k8s/witness/config/witness.textproto",
      std::string(kDeployDirectory) + "/nginx/stapler.textproto",
      std::string(kDeployDirectory) + "/systemd/coordinator.textproto",
      std::string(kDeployDirectory) + "/systemd/log-server.textproto",
      std::string(kDeployDirectory) + "/systemd/probe-agent.textproto",
      std::string(kDeployDirectory) + "/systemd/signer.textproto",
      std::string(kDeployDirectory) + "/systemd/witness.textproto"};
  for (const std::string& region : kRegions) {
    expected.push_back(OverlayConfig(region, "coordinator.textproto"));
    expected.push_back(OverlayConfig(region, "front.textproto"));
    expected.push_back(OverlayConfig(region, "log-server.textproto"));
    expected.push_back(OverlayConfig(region, "probe-agent.textproto"));
  }
  std::sort(expected.begin(), expected.end());
  EXPECT_THAT(TextprotoFiles(), ElementsAreArray(expected));
}

// Each file is validated as the message its name says: coordinator (or front, a coordinator with a
// sequencer), signer, probe-agent, stapler, approval, log-server or witness, by the steps its
// binary takes at start before it opens a file the config names.
TEST(DeployConfigTest, EveryConfigParsesAndValidates) {
  const std::vector<std::string> files = TextprotoFiles();
  ASSERT_FALSE(files.empty());
  for (const std::string& path : files) {
    SCOPED_TRACE(path);
    const std::string name = std::filesystem::path(path).filename().string();
    absl::Status valid;
    if (name == "coordinator.textproto") {
      absl::StatusOr<v1::CoordinatorConfig> config = LoadConfig<v1::CoordinatorConfig>(path);
      ASSERT_TRUE(config.ok()) << config.status();
      valid = ValidateCoordinatorConfig(WithCoordinatorDefaults(*config), path);
      EXPECT_FALSE(config->listen().health_address().empty()) << "the kubelet probes it";
      EXPECT_FALSE(config->has_sequencer()) << "a front's config is named front.textproto";
    } else if (name == "front.textproto") {
      absl::StatusOr<v1::CoordinatorConfig> config = LoadConfig<v1::CoordinatorConfig>(path);
      ASSERT_TRUE(config.ok()) << config.status();
      valid = ValidateCoordinatorConfig(WithCoordinatorDefaults(*config), path);
      EXPECT_FALSE(config->listen().health_address().empty()) << "the kubelet probes it";
      EXPECT_TRUE(config->has_sequencer()) << "a front records with the sequencer";
    } else if (name == "signer.textproto") {
      absl::StatusOr<v1::SignerConfig> config = LoadConfig<v1::SignerConfig>(path);
      ASSERT_TRUE(config.ok()) << config.status();
      valid = ValidateSignerConfig(WithSignerDefaults(*config), path);
      EXPECT_FALSE(config->listen().health_address().empty()) << "the kubelet probes it";
    } else if (name == "probe-agent.textproto") {
      absl::StatusOr<v1::ProbeAgentConfig> config = LoadConfig<v1::ProbeAgentConfig>(path);
      ASSERT_TRUE(config.ok()) << config.status();
      valid = probe_agent::ValidateProbeAgentConfig(probe_agent::WithDefaults(*config), path);
      EXPECT_FALSE(config->listen().health_address().empty()) << "the kubelet probes it";
      // Trust rule 6: deployed agents never probe special-purpose addresses.
      EXPECT_EQ(config->allowed_special_address_ranges_size(), 0);
    } else if (name == "stapler.textproto") {
      absl::StatusOr<v1::StaplerConfig> config = LoadConfig<v1::StaplerConfig>(path);
      ASSERT_TRUE(config.ok()) << config.status();
      valid = ValidateStaplerConfig(*config, path);
      // Stock servers staple a file the stapler keeps and reloads them for (docs/TLS_EXTENSION.md
      // §7).
      EXPECT_FALSE(config->serverinfo_file().empty());
      EXPECT_FALSE(config->reload_command().empty());
    } else if (name == "approval.textproto") {
      absl::StatusOr<v1::ApprovalConfig> config = LoadConfig<v1::ApprovalConfig>(path);
      ASSERT_TRUE(config.ok()) << config.status();
      valid = ValidateApprovalConfig(WithApprovalDefaults(*config), path);
      EXPECT_FALSE(config->listen().health_address().empty()) << "the kubelet probes it";
      // Behind the Ingress (docs/APPROVAL.md "Behind a reverse proxy"): the public https origin,
      // the controller's pods trusted for X-Forwarded-For, no per-address connection limit.
      EXPECT_THAT(config->approval_site_url(), ::testing::StartsWith("https://"));
      EXPECT_GT(config->web_trusted_proxies_size(), 0);
      EXPECT_EQ(config->web_max_connections_per_address(), 0u);
      EXPECT_EQ(config->allowed_special_address_ranges_size(), 0);
    } else if (name == "log-server.textproto") {
      absl::StatusOr<v1::LogServerConfig> config = LoadConfig<v1::LogServerConfig>(path);
      ASSERT_TRUE(config.ok()) << config.status();
      valid = ValidateLogServerConfig(WithLogServerDefaults(*config), path);
      // The vkey main.cc parses for the origin it serves.
      EXPECT_TRUE(ParseVerifierKey(config->vkey()).ok()) << config->vkey();
    } else if (name == "witness.textproto") {
      absl::StatusOr<v1::WitnessConfig> config = LoadConfig<v1::WitnessConfig>(path);
      ASSERT_TRUE(config.ok()) << config.status();
      const v1::WitnessConfig defaulted = witness::WithWitnessDefaults(*config);
      valid = witness::ValidateWitnessConfig(defaulted, path);
      // Then main.cc resolves the logs it witnesses (and would read va_list_file).
      const auto logs = witness::WitnessedLogs(defaulted);
      EXPECT_TRUE(logs.ok()) << logs.status();
    } else {
      ADD_FAILURE() << "no binary reads a config named " << name;
      continue;
    }
    EXPECT_TRUE(valid.ok()) << valid;
  }
}

// The public Vouch endpoint (docs/PROTOCOL.md "The public endpoint") is served by every region's
// fronts and by the single-host coordinator of deploy/systemd, on both bindings, with a
// certificate of its own, not the internal listener's. A region's sequencer serves none: the
// Service coordinator-public selects the fronts only.
TEST(DeployConfigTest, TheFrontsServeThePublicEndpoint) {
  int endpoints = 0;
  for (const std::string& path : TextprotoFiles()) {
    const std::string name = std::filesystem::path(path).filename().string();
    if (name != "coordinator.textproto" && name != "front.textproto") continue;
    SCOPED_TRACE(path);
    absl::StatusOr<v1::CoordinatorConfig> config = LoadConfig<v1::CoordinatorConfig>(path);
    ASSERT_TRUE(config.ok()) << config.status();
    if (path.rfind(std::string(kDeployDirectory) + "/k8s/", 0) == 0 &&
        name == "coordinator.textproto") {
      EXPECT_FALSE(config->has_public_listen()) << "the sequencer serves no public endpoint";
      continue;
    }
    ++endpoints;
    ASSERT_TRUE(config->has_public_listen());
    EXPECT_FALSE(config->public_listen().address().empty());
    EXPECT_FALSE(config->public_listen().http_address().empty());
    EXPECT_NE(config->public_listen().certificate_file(),
              config->listen().tls().certificate_file());
    EXPECT_FALSE(config->disable_decision_reuse());
  }
  EXPECT_EQ(endpoints, static_cast<int>(kRegions.size()) + 1);  // And deploy/systemd's.
}

// Each region's fronts (docs/ARCHITECTURE.md §14 "Stateless fronts and one sequencer") decide as
// the region's sequencer would (the same trust lists, agents, quorum policy, limits), through the
// Service sequencer, and present an identity of their own, "front" (Secret mecai-front-tls), on
// every mutual-TLS connection: the sequencer's front_identities names it, every region's agent and
// the approval service accept it, the signer does not. Only the log's fields and the fronts' own
// certificate differ.
TEST(DeployConfigTest, FrontsRecordWithTheirRegionsSequencer) {
  for (const std::string& region : kRegions) {
    SCOPED_TRACE(region);
    absl::StatusOr<v1::CoordinatorConfig> sequencer =
        LoadConfig<v1::CoordinatorConfig>(OverlayConfig(region, "coordinator.textproto"));
    ASSERT_TRUE(sequencer.ok()) << sequencer.status();
    absl::StatusOr<v1::CoordinatorConfig> front =
        LoadConfig<v1::CoordinatorConfig>(OverlayConfig(region, "front.textproto"));
    ASSERT_TRUE(front.ok()) << front.status();
    ASSERT_TRUE(front->has_sequencer());
    EXPECT_EQ(front->sequencer().address(), "dns:///sequencer.mecai.svc.cluster.local:8443");
    EXPECT_EQ(WithCoordinatorDefaults(*front).sequencer_timeout_milliseconds(), 15000u);
    // The fronts' own certificate, not the sequencer's, as server and as every peer's client.
    const v1::ClientTls& tls = front->sequencer().tls();
    EXPECT_EQ(tls.certificate_file(), kFrontCertificate);
    EXPECT_EQ(tls.private_key_file(), kFrontKey);
    EXPECT_EQ(tls.server_ca_file(), kFrontCa);
    EXPECT_EQ(tls.server_identity(), "coordinator");
    EXPECT_EQ(front->listen().tls().certificate_file(), kFrontCertificate);
    EXPECT_EQ(front->listen().tls().private_key_file(), kFrontKey);
    EXPECT_EQ(front->listen().tls().client_ca_file(), kFrontCa);
    EXPECT_NE(sequencer->listen().tls().certificate_file(), kFrontCertificate);
    for (const v1::AgentEndpoint& agent : front->agents()) {
      SCOPED_TRACE(agent.perspective().id());
      EXPECT_EQ(agent.peer().tls().certificate_file(), kFrontCertificate);
      EXPECT_EQ(agent.peer().tls().private_key_file(), kFrontKey);
      EXPECT_EQ(agent.peer().tls().server_ca_file(), kFrontCa);
    }
    if (front->has_approval_service()) {
      EXPECT_EQ(front->approval_service().tls().certificate_file(), kFrontCertificate);
      EXPECT_EQ(front->approval_service().tls().private_key_file(), kFrontKey);
    }
    // The sequencer serves the fronts' identity, not its own, SequencerService.
    EXPECT_THAT(sequencer->front_identities(), ElementsAreArray({"front"}));
    EXPECT_THAT(sequencer->listen().tls().allowed_client_identities(),
                ::testing::Contains("front"));
    EXPECT_THAT(sequencer->listen().tls().allowed_client_identities(),
                ::testing::Not(::testing::Contains("coordinator")));
    EXPECT_FALSE(sequencer->has_sequencer());
    // Every region's agent accepts the fronts (each front calls all of them); the signer does not.
    for (const std::string& agent_region : kRegions) {
      absl::StatusOr<v1::ProbeAgentConfig> agent =
          LoadConfig<v1::ProbeAgentConfig>(OverlayConfig(agent_region, "probe-agent.textproto"));
      ASSERT_TRUE(agent.ok()) << agent.status();
      EXPECT_THAT(agent->listen().tls().allowed_client_identities(),
                  ::testing::IsSupersetOf({"coordinator", "front"}))
          << agent_region;
    }
    // Everything but the log's fields, the listener's clients, the public endpoint and the
    // recording peer is the sequencer's.
    v1::CoordinatorConfig decided = *front;
    v1::CoordinatorConfig sequencers_decisions = *sequencer;
    for (v1::CoordinatorConfig* config : {&decided, &sequencers_decisions}) {
      config->clear_listen();
      config->clear_public_listen();
      config->clear_sequencer();
      config->clear_sequencer_timeout_milliseconds();
      config->clear_signer();
      config->clear_log_shard_id();
      config->clear_store_path();
      config->clear_store_backup();
      config->clear_front_identities();
      for (v1::AgentEndpoint& agent : *config->mutable_agents()) {
        agent.mutable_peer()->mutable_tls()->clear_certificate_file();
        agent.mutable_peer()->mutable_tls()->clear_private_key_file();
        agent.mutable_peer()->mutable_tls()->clear_server_ca_file();
      }
    }
    EXPECT_EQ(decided.DebugString(), sequencers_decisions.DebugString());
    EXPECT_EQ(front->listen().health_address(), sequencer->listen().health_address());
    EXPECT_EQ(front->listen().metrics_address(), sequencer->listen().metrics_address());
  }
}

// The signer serves the sequencers only; the approval service serves the fronts too.
TEST(DeployConfigTest, TheSignerRefusesTheFrontsIdentity) {
  absl::StatusOr<v1::SignerConfig> signer = LoadConfig<v1::SignerConfig>(
      std::string(kDeployDirectory) + "/k8s/base/config/signer.textproto");
  ASSERT_TRUE(signer.ok()) << signer.status();
  EXPECT_THAT(signer->listen().tls().allowed_client_identities(),
              ElementsAreArray({"coordinator"}));
  absl::StatusOr<v1::ApprovalConfig> approval = LoadConfig<v1::ApprovalConfig>(
      std::string(kDeployDirectory) + "/k8s/approval/config/approval.textproto");
  ASSERT_TRUE(approval.ok()) << approval.status();
  EXPECT_THAT(approval->listen().tls().allowed_client_identities(),
              ::testing::IsSupersetOf({"coordinator", "front"}));
}

TEST(DeployConfigTest, RegionsAgree) {
  absl::StatusOr<v1::SignerConfig> signer = LoadConfig<v1::SignerConfig>(
      std::string(kDeployDirectory) + "/k8s/base/config/signer.textproto");
  ASSERT_TRUE(signer.ok()) << signer.status();
  std::vector<std::string> regional_agents;
  std::set<std::string> log_shards;
  for (const std::string& region : kRegions) {
    SCOPED_TRACE(region);
    absl::StatusOr<v1::ProbeAgentConfig> agent =
        LoadConfig<v1::ProbeAgentConfig>(OverlayConfig(region, "probe-agent.textproto"));
    ASSERT_TRUE(agent.ok()) << agent.status();
    EXPECT_EQ(agent->perspective().region(), region);
    EXPECT_EQ(agent->perspective().id(), "agent-" + region);
    // Each perspective has resolvers of its own (ARCHITECTURE.md §1).
    EXPECT_GT(agent->resolver().nameservers_size(), 0);
    regional_agents.push_back(agent->perspective().id() + "/" + region);

    absl::StatusOr<v1::CoordinatorConfig> coordinator =
        LoadConfig<v1::CoordinatorConfig>(OverlayConfig(region, "coordinator.textproto"));
    ASSERT_TRUE(coordinator.ok()) << coordinator.status();
    EXPECT_THAT(PerspectiveNames(coordinator->agents()),
                ElementsAreArray(PerspectiveNames(signer->agents())));
    EXPECT_TRUE(log_shards.insert(coordinator->log_shard_id()).second)
        << "log shard " << coordinator->log_shard_id() << " is used by two regions";
  }
  // The perspectives enrolled are exactly the agents the overlays deploy.
  EXPECT_THAT(PerspectiveNames(signer->agents()), UnorderedElementsAreArray(regional_agents));
}

// At least four perspectives in four regions, one of which may be unreachable: the loss of one
// region refuses no VR, and every coordinator applies the same quorum as the signer.
TEST(DeployConfigTest, OneRegionsLossDoesNotRefuseEveryVr) {
  absl::StatusOr<v1::SignerConfig> signer = LoadConfig<v1::SignerConfig>(
      std::string(kDeployDirectory) + "/k8s/base/config/signer.textproto");
  ASSERT_TRUE(signer.ok()) << signer.status();
  EXPECT_GE(signer->agents_size(), 4);
  EXPECT_EQ(signer->policy().max_unreachable(), 1u);
  std::set<std::string> regions;
  for (const v1::AgentEndpoint& agent : signer->agents())
    regions.insert(agent.perspective().region());
  EXPECT_GE(regions.size(), 4u);
  for (const std::string& region : kRegions) {
    SCOPED_TRACE(region);
    absl::StatusOr<v1::CoordinatorConfig> coordinator =
        LoadConfig<v1::CoordinatorConfig>(OverlayConfig(region, "coordinator.textproto"));
    ASSERT_TRUE(coordinator.ok()) << coordinator.status();
    EXPECT_EQ(coordinator->policy().SerializeAsString(), signer->policy().SerializeAsString());
    const v1::QuorumPolicy policy = WithCoordinatorDefaults(*coordinator).policy();
    // With any one region's agents gone, what remains still meets the policy.
    for (const std::string& lost : regions) {
      int remaining = 0;
      std::set<std::string> remaining_regions;
      for (const v1::AgentEndpoint& agent : coordinator->agents()) {
        if (agent.perspective().region() == lost) continue;
        ++remaining;
        remaining_regions.insert(agent.perspective().region());
      }
      const int lost_count = coordinator->agents_size() - remaining;
      EXPECT_LE(lost_count, static_cast<int>(policy.max_unreachable())) << "losing " << lost;
      EXPECT_GE(remaining, static_cast<int>(policy.min_perspectives())) << "losing " << lost;
      EXPECT_GE(remaining_regions.size(), policy.min_regions()) << "losing " << lost;
    }
  }
}

// Each region's log server (the log-server container of its coordinator's pod) follows that
// coordinator's store and shard, and serves the log under the origin the signer signs notes for:
// "<log_origin_prefix>/<shard>" (docs/PUBLIC_LOG.md "Turning it on"). Its secondary instance's
// files are off the store's volume, which the container mounts read-only, and its listeners are
// reachable from outside the pod without taking a port of the coordinator's.
TEST(DeployConfigTest, LogServersFollowTheirRegionsShard) {
  absl::StatusOr<v1::SignerConfig> signer = LoadConfig<v1::SignerConfig>(
      std::string(kDeployDirectory) + "/k8s/base/config/signer.textproto");
  ASSERT_TRUE(signer.ok()) << signer.status();
  ASSERT_FALSE(signer->log_origin_prefix().empty()) << "no checkpoint note for the log servers";
  for (const std::string& region : kRegions) {
    SCOPED_TRACE(region);
    absl::StatusOr<v1::CoordinatorConfig> coordinator =
        LoadConfig<v1::CoordinatorConfig>(OverlayConfig(region, "coordinator.textproto"));
    ASSERT_TRUE(coordinator.ok()) << coordinator.status();
    absl::StatusOr<v1::LogServerConfig> log_server =
        LoadConfig<v1::LogServerConfig>(OverlayConfig(region, "log-server.textproto"));
    ASSERT_TRUE(log_server.ok()) << log_server.status();
    EXPECT_EQ(log_server->log_shard_id(), coordinator->log_shard_id());
    EXPECT_EQ(log_server->store_path(), coordinator->store_path());
    absl::StatusOr<NoteVerifierKey> vkey = ParseVerifierKey(log_server->vkey());
    ASSERT_TRUE(vkey.ok()) << vkey.status();
    EXPECT_EQ(vkey->name, signer->log_origin_prefix() + "/" + coordinator->log_shard_id());
    // The store's volume is mounted at the parent of store_path.
    const std::string volume =
        std::filesystem::path(coordinator->store_path()).parent_path().string();
    EXPECT_NE(log_server->secondary_path().rfind(volume + "/", 0), 0u)
        << log_server->secondary_path() << " is on the read-only store volume " << volume;
    const std::vector<std::string> coordinator_addresses = {
        coordinator->listen().address(), coordinator->listen().health_address(),
        coordinator->listen().metrics_address(), coordinator->public_listen().address(),
        coordinator->public_listen().http_address()};
    for (const std::string& address :
         {log_server->listen_address(), log_server->metrics_address()}) {
      EXPECT_EQ(address.rfind("0.0.0.0:", 0), 0u) << address << ": the kubelet and Services";
      const std::string port = address.substr(address.rfind(':'));
      for (const std::string& taken : coordinator_addresses) {
        if (taken.empty()) continue;  // No public endpoint on the sequencer.
        EXPECT_NE(taken.substr(taken.rfind(':')), port) << address << " and " << taken;
      }
    }
  }
}

// The VA's witness witnesses the other VAs' logs (docs/PUBLIC_LOG.md "Witnesses"): a witness
// cosigning its own VA's log says nothing a client does not already have from the log's key.
TEST(DeployConfigTest, TheWitnessWitnessesOtherVasLogs) {
  absl::StatusOr<v1::SignerConfig> signer = LoadConfig<v1::SignerConfig>(
      std::string(kDeployDirectory) + "/k8s/base/config/signer.textproto");
  ASSERT_TRUE(signer.ok()) << signer.status();
  absl::StatusOr<v1::WitnessConfig> config = LoadConfig<v1::WitnessConfig>(
      std::string(kDeployDirectory) + "/k8s/witness/config/witness.textproto");
  ASSERT_TRUE(config.ok()) << config.status();
  const auto logs = witness::WitnessedLogs(witness::WithWitnessDefaults(*config));
  ASSERT_TRUE(logs.ok()) << logs.status();
  EXPECT_GE(logs->size(), 2u);
  for (const auto& [origin, keys] : *logs) {
    EXPECT_NE(origin.rfind(signer->log_origin_prefix() + "/", 0), 0u) << origin;
  }
  EXPECT_EQ(config->metrics_address().rfind("0.0.0.0:", 0), 0u) << "Prometheus scrapes it";
}

// In-cluster peers are reached through headless Services by dns:/// targets, so that calls
// spread over every pod (docs/ARCHITECTURE.md "Peers and load").
TEST(DeployConfigTest, CoordinatorsReachPeersThroughDnsTargets) {
  for (const std::string& region : kRegions) {
    SCOPED_TRACE(region);
    absl::StatusOr<v1::CoordinatorConfig> coordinator =
        LoadConfig<v1::CoordinatorConfig>(OverlayConfig(region, "coordinator.textproto"));
    ASSERT_TRUE(coordinator.ok()) << coordinator.status();
    EXPECT_EQ(coordinator->signer().address(), "dns:///signer.mecai.svc.cluster.local:8443");
    int local = 0;
    for (const v1::AgentEndpoint& agent : coordinator->agents()) {
      EXPECT_TRUE(IsValidChannelTarget(agent.peer().address()));
      EXPECT_EQ(agent.peer().address().rfind("dns:///", 0), 0u) << agent.peer().address();
      if (agent.perspective().region() == region) {
        ++local;
        EXPECT_EQ(agent.peer().address(),
                  "dns:///probe-agent-headless.mecai.svc.cluster.local:8443");
      }
    }
    EXPECT_EQ(local, 1);
  }
}

}  // namespace
}  // namespace mecai
