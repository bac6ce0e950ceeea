// A split-view attack across real simulated regions (ARCHITECTURE.md §9): each probe agent runs in
// its own network namespace (`ip netns`, veth) with its own dnsmasq. First every region resolves
// the target to the real server and the cluster vouches; then one region's resolver is turned to an
// impostor inside that region serving another (valid!) certificate for the same name — the
// cluster refuses, and the reason names that region.
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cluster/local_cluster.h"
#include "cluster/network_regions.h"
#include "common/base/files.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/evidence/vouching_request.h"
#include "common/process/child_process.h"
#include "common/rpc/grpc_channel.h"
#include "common/testing/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/vouching.grpc.pb.h"
#include "tests/support/cluster_fixture.h"
#include "tests/support/coordinator_calls.h"

namespace mecai {
namespace {

using ::testing::HasSubstr;

constexpr int kRegions = 3;

class SplitViewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0 || (access("/usr/sbin/ip", X_OK) != 0 && access("/sbin/ip", X_OK) != 0)) {
      GTEST_SKIP() << "network namespaces need root and iproute2";
    }
    ASSERT_OK_AND_ASSIGN(workdir_, MakeTestDirectory("split-view"));
    // Every region's resolver starts honest: the target is the host's nginx.
    auto regions = NetworkRegions::Create(workdir_, kRegions, LocalCluster::kTargetHost,
                                          absl::StrCat("sv", getpid() % 100000));
    ASSERT_TRUE(regions.ok()) << regions.status();
    regions_ = std::move(*regions);

    LocalClusterOptions options;
    options.target_listen_address = "0.0.0.0";
    options.agent_placements = regions_->Placements();
    // The VR after the attack began is probed afresh, not answered with the honest VD issued a
    // moment before (decision reuse, docs/PROTOCOL.md; that VD stays valid at clients anyway).
    options.decision_reuse = false;
    ASSERT_OK_AND_ASSIGN(cluster_, StartTestCluster("split-view/cluster", options));
  }

  void TearDown() override {
    impostor_.reset();
    cluster_.reset();
    regions_.reset();
  }

  static std::string HostAddress(int n) { return NetworkRegions::HostAddress(n); }
  static std::string RegionAddress(int n) { return NetworkRegions::RegionAddress(n); }

  v1::VouchResponse Vouch() {
    auto request = SignedRequestFromFiles(
        cluster_->ServerChainFile(), cluster_->ServerKeyFile(), LocalCluster::kTargetHost,
        static_cast<uint32_t>(cluster_->target_port()), LocalCluster::kTrustList, absl::Now());
    auto channel = MakeChannel(cluster_->CoordinatorPeer());
    EXPECT_TRUE(request.ok() && channel.ok());
    if (!request.ok() || !channel.ok()) return v1::VouchResponse();
    absl::StatusOr<v1::VouchResponse> response = CallVouch(**channel, *request);
    EXPECT_TRUE(response.ok()) << response.status();
    return response.value_or(v1::VouchResponse());
  }

  // The attacker near region 3: an nginx inside that region serving another valid certificate
  // for the target's name.
  void StartImpostorInRegion3() {
    ASSERT_TRUE(cluster_->IssueServerCertificate(LocalCluster::kTargetHost, "impostor").ok());
    const std::string prefix = workdir_ + "/impostor";
    ASSERT_EQ(mkdir(prefix.c_str(), 0700), 0);
    const std::string config = absl::StrCat(
        "worker_processes 1;\nerror_log stderr;\npid ", prefix, "/nginx.pid;\nuser root root;\n",
        "events { worker_connections 64; }\nhttp {\n  access_log off;\n",
        "  client_body_temp_path ", prefix, "/b;\n  proxy_temp_path ", prefix, "/p;\n",
        "  fastcgi_temp_path ", prefix, "/f;\n  uwsgi_temp_path ", prefix, "/u;\n",
        "  scgi_temp_path ", prefix, "/s;\n  server {\n    listen ", RegionAddress(3), ":",
        cluster_->target_port(), " ssl;\n    ssl_certificate ", cluster_->Path("pki/impostor.pem"),
        ";\n    ssl_certificate_key ", cluster_->Path("pki/impostor.key"),
        ";\n    return 200 \"impostor\\n\";\n  }\n}\n");
    ASSERT_TRUE(WriteFileAtomically(prefix + "/nginx.conf", config).ok());
    auto impostor = ChildProcess::Start(
        {"ip", "netns", "exec", regions_->NamespaceName(3), "nginx", "-e", "stderr", "-p", prefix,
         "-c", prefix + "/nginx.conf", "-g", "daemon off;"},
        prefix + ".log");
    ASSERT_TRUE(impostor.ok()) << impostor.status();
    impostor_ = std::move(*impostor);
    // Region 3's resolver now points the name at the impostor.
    ASSERT_TRUE(regions_->PointHostname(3, RegionAddress(3)).ok());
    ASSERT_TRUE(impostor_->Running()) << TailOfFile(prefix + ".log");
  }

  std::string workdir_;
  std::unique_ptr<NetworkRegions> regions_;
  std::unique_ptr<LocalCluster> cluster_;
  std::unique_ptr<ChildProcess> impostor_;
};

TEST_F(SplitViewTest, ImpostorInOneRegionIsRefusedNamingThatRegion) {
  // Control: three regions, three resolvers, one honest view.
  v1::VouchResponse honest = Vouch();
  ASSERT_TRUE(honest.has_vouching_data()) << honest.refusal().explanation();
  for (const v1::PerspectiveResult& result : honest.perspectives()) {
    v1::ObservationBody body;
    ASSERT_TRUE(body.ParseFromString(result.observation().tbs()));
    ASSERT_EQ(body.resolved_addresses_size(), 1);
    // Each region reached the server through its own network.
    EXPECT_EQ(body.resolved_addresses(0), HostAddress(result.perspective().id().back() - '0'));
  }

  StartImpostorInRegion3();
  v1::VouchResponse attacked = Vouch();
  ASSERT_TRUE(attacked.has_refusal());
  EXPECT_FALSE(attacked.has_vouching_data());
  EXPECT_EQ(attacked.refusal().reason(), v1::CERTIFICATE_MISMATCH);
  EXPECT_THAT(attacked.refusal().explanation(), HasSubstr("agent-3 (ap-south)"));
  EXPECT_THAT(attacked.refusal().explanation(), HasSubstr(RegionAddress(3)));
  auto impostor = LoadPemCertificatesAsDer(cluster_->Path("pki/impostor-leaf.pem"));
  ASSERT_TRUE(impostor.ok());
  EXPECT_THAT(attacked.refusal().explanation(),
              HasSubstr(ShortHex(Sha256(impostor->front())).substr(0, 16)));
}

}  // namespace
}  // namespace mecai
