// The whole MECAI loop over a real LocalCluster: the cluster issues VDs → the stapler (in
// process, real VRs over mutual TLS) caches them → a TLS server staples them → the client
// verifies; a restarted stapler staples from its cache at once; a server in rollover holds one VD
// for both certificates; a VD for another certificate is a precise client error.
#include <stdlib.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "cli/vouch_client.h"
#include "client/mecai_tls_client.h"
#include "client/va_list.h"
#include "cluster/local_cluster.h"
#include "common/base/clock.h"
#include "common/base/files.h"
#include "common/process/child_process.h"
#include "common/testing/status_macros.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "stapler/stapler_daemon.h"
#include "stapler/testing/tls_pair.h"
#include "stapler/tls_stapling.h"
#include "tests/support/cluster_fixture.h"

namespace mecai {
namespace {

using ::testing::HasSubstr;

class TlsClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalCluster> cluster, StartTestCluster("cluster"));
    cluster_ = cluster.release();
    ASSERT_TRUE(cluster_->IssueServerCertificate(LocalCluster::kTargetHost, "next").ok());
  }
  static void TearDownTestSuite() { delete cluster_; }

  static v1::StaplerConfig Config(const std::string& cache) {
    v1::StaplerConfig config;
    config.set_va_list_file(cluster_->VaListFile());
    auto* server = config.add_vouching_servers();
    server->set_va_id(LocalCluster::kVaId);
    *server->mutable_vouching_server() = cluster_->CoordinatorPeer();
    config.set_hostname(LocalCluster::kTargetHost);
    config.set_port(static_cast<uint32_t>(cluster_->target_port()));
    config.set_trust_list(LocalCluster::kTrustList);
    config.set_certificate_file(cluster_->ServerChainFile());
    config.set_key_file(cluster_->ServerKeyFile());
    config.set_cache_directory(cluster_->Path(cache));
    return config;
  }

  // A handshake against a server serving pki/<served>.pem and stapling `set`.
  static absl::StatusOr<MecaiVerification> Connect(std::shared_ptr<const VdSet> set,
                                                   const std::string& served, int version) {
    auto vas = VaList::Load(cluster_->VaListFile());
    if (!vas.ok()) return vas.status();
    StaplingServer stapling(StaplingOptions{}, nullptr);
    stapling.SetVdSet(std::move(set));
    auto server_context =
        testing_tls::MakeServerContext(cluster_->Path("pki/" + served + ".pem"),
                                       cluster_->Path("pki/" + served + ".key"), version);
    if (!server_context.ok()) return server_context.status();
    if (absl::Status s = stapling.Register(server_context->get()); !s.ok()) return s;
    MecaiTlsClient client(**vas, SystemClock::Get(), MecaiClientOptions{}, nullptr);
    SslCtxPtr client_context = testing_tls::MakeClientContext(version);
    if (absl::Status s = client.Register(client_context.get()); !s.ok()) return s;
    SslPtr client_ssl(SSL_new(client_context.get()));
    SslPtr server_ssl(SSL_new(server_context->get()));
    if (absl::Status s = client.PrepareConnection(client_ssl.get(), LocalCluster::kTargetHost,
                                                  static_cast<uint16_t>(cluster_->target_port()),
                                                  LocalCluster::kTrustList, {LocalCluster::kVaId});
        !s.ok()) {
      return s;
    }
    // A MECAI refusal ends the handshake; VerifyConnection has its verdict either way.
    absl::Status handshake = testing_tls::HandshakeInMemory(client_ssl.get(), server_ssl.get());
    auto verdict = client.VerifyConnection(client_ssl.get());
    if (!handshake.ok() && !absl::IsPermissionDenied(verdict.status())) return handshake;
    return verdict;
  }

  static LocalCluster* cluster_;
};

LocalCluster* TlsClusterTest::cluster_ = nullptr;

// The `stapler` daemon itself, as a process: from its config it fetches a VD ahead of time into
// its cache directory, and stops cleanly on SIGTERM.
TEST_F(TlsClusterTest, StaplerDaemonFetchesIntoItsCacheAndStopsOnSigterm) {
  v1::StaplerConfig config = Config("daemon-cache");
  std::string text;
  ASSERT_TRUE(google::protobuf::TextFormat::PrintToString(config, &text));
  const std::string config_file = cluster_->Path("stapler.textproto");
  ASSERT_TRUE(WriteFileAtomically(config_file, text).ok());
  const std::string binary = absl::StrCat(getenv("TEST_SRCDIR"), "/mecai/stapler/stapler");
  auto stapler =
      ChildProcess::Start({binary, "--config", config_file}, cluster_->Path("logs/stapler.log"));
  ASSERT_TRUE(stapler.ok()) << stapler.status();
  const std::string cached =
      cluster_->Path(absl::StrCat("daemon-cache/", LocalCluster::kVaId, ".vd"));
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (!ReadFile(cached).ok() && absl::Now() < deadline && (*stapler)->Running()) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(ReadFile(cached).ok()) << TailOfFile(cluster_->Path("logs/stapler.log"));

  VerifyOptions verify;
  verify.vouching_data_file = cached;
  verify.hostname = LocalCluster::kTargetHost;
  verify.certificate_file = cluster_->ServerLeafFile();
  verify.va_list_file = cluster_->VaListFile();
  auto statement = VerifyVouchingDataFile(verify);
  ASSERT_TRUE(statement.ok()) << statement.status();
  EXPECT_EQ(statement->va_id(), LocalCluster::kVaId);

  (*stapler)->Stop();
  EXPECT_EQ((*stapler)->ExitDescription(), "exited with status 0")
      << TailOfFile(cluster_->Path("logs/stapler.log"));
}

TEST_F(TlsClusterTest, ClusterIssuesStaplerCachesServerStaplesClientVerifies) {
  auto daemon = BuildStaplerDaemon(Config("cache"), SystemClock::Get());
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  EXPECT_TRUE((*daemon)->stapler->current()->entries().empty());
  const absl::Time next = (*daemon)->stapler->RunDueFetches();
  const auto status = (*daemon)->stapler->status(LocalCluster::kVaId);
  ASSERT_TRUE(status.holds_vd) << status.last_error;
  EXPECT_GT(next, absl::Now() + absl::Hours(5));
  EXPECT_TRUE(ReadFile(cluster_->Path("cache/demo-va.vd")).ok());

  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    auto verified = Connect((*daemon)->stapler->current(), "server", version);
    ASSERT_TRUE(verified.ok()) << verified.status();
    EXPECT_EQ(verified->statement.va_id(), LocalCluster::kVaId);
    EXPECT_EQ(verified->statement.hostname(), LocalCluster::kTargetHost);
  }

  // A restarted stapler staples from its cache before any fetch.
  auto restarted = BuildStaplerDaemon(Config("cache"), SystemClock::Get());
  ASSERT_TRUE(restarted.ok());
  ASSERT_EQ((*restarted)->stapler->current()->entries().size(), 1u);
  EXPECT_TRUE(Connect((*restarted)->stapler->current(), "server", TLS1_3_VERSION).ok());

  // The VD vouches for the served certificate, not another one of the same host.
  auto other = Connect((*daemon)->stapler->current(), "next", TLS1_3_VERSION);
  EXPECT_EQ(other.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(other.status().message()),
              HasSubstr("VD 1 (naming demo-va): the certificate "));
  EXPECT_THAT(std::string(other.status().message()),
              HasSubstr("is not among the vouched certificates"));
}

TEST_F(TlsClusterTest, ServerInRolloverStaplesOneVdForBothCertificates) {
  v1::StaplerConfig config = Config("rollover-cache");
  config.set_next_certificate_file(cluster_->Path("pki/next.pem"));
  config.set_next_key_file(cluster_->Path("pki/next.key"));
  auto daemon = BuildStaplerDaemon(config, SystemClock::Get());
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  (*daemon)->stapler->RunDueFetches();
  const auto status = (*daemon)->stapler->status(LocalCluster::kVaId);
  ASSERT_TRUE(status.holds_vd) << status.last_error;
  for (const char* served : {"server", "next"}) {
    for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
      auto verified = Connect((*daemon)->stapler->current(), served, version);
      ASSERT_TRUE(verified.ok()) << served << ": " << verified.status();
      EXPECT_EQ(verified->statement.certificate_sha256_size(), 2);
    }
  }
}

TEST_F(TlsClusterTest, NoVdIsAPreciseClientError) {
  auto verified = Connect(std::make_shared<VdSet>(), "server", TLS1_3_VERSION);
  EXPECT_EQ(verified.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(verified.status().message(),
            "MECAI: the server sent no Vouching Data for www.mecai.test; VAs asked for: demo-va");
}

}  // namespace
}  // namespace mecai
