// The whole MECAI loop over a real LocalCluster: the cluster issues VDs → the stapler (in
// process, real VRs over mutual TLS) caches them → a TLS server staples them → the client
// verifies; a restarted stapler staples from its cache at once; a server in rollover holds one VD
// for both certificates; a VD for another certificate is a precise client error. The stapler
// fails over past a VA endpoint that is down and exports its fetches and held VDs at /metrics.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
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
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
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

// A loopback port nothing listens on: bound, then closed.
int ClosedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ADD_FAILURE() << "no loopback port: " << std::strerror(errno);
  }
  close(fd);
  return ntohs(address.sin_port);
}

// `config` with the VA's endpoints: each of `closed_ports` first (nothing listens there), then,
// when `with_coordinator`, the cluster's coordinator.
v1::StaplerConfig WithEndpoints(v1::StaplerConfig config, const std::vector<int>& closed_ports,
                                bool with_coordinator, const v1::PeerConfig& coordinator) {
  config.clear_vouching_servers();
  for (int port : closed_ports) {
    auto* server = config.add_vouching_servers();
    server->set_va_id(LocalCluster::kVaId);
    *server->mutable_vouching_server() = coordinator;
    server->mutable_vouching_server()->set_address(absl::StrCat("127.0.0.1:", port));
  }
  if (with_coordinator) {
    auto* server = config.add_vouching_servers();
    server->set_va_id(LocalCluster::kVaId);
    *server->mutable_vouching_server() = coordinator;
  }
  return config;
}

// The value of the one sample of `text` whose name and labels are `series`, or NaN.
double Sample(const std::string& text, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::ConsumePrefix(&line, series + " ")) {
      if (line == "+Inf") return std::numeric_limits<double>::infinity();
      double value;
      if (absl::SimpleAtod(line, &value)) return value;
    }
  }
  return std::nan("");
}

// The `stapler` daemon with its VA's first endpoint down (a closed port) and the second the real
// coordinator: it fetches from the second, says so in its log, and its /metrics endpoint, which
// promtool accepts, shows the fetch, the VD's age and when it stops being stapled.
TEST_F(TlsClusterTest, StaplerDaemonFailsOverToTheNextEndpointAndExportsMetrics) {
  const int closed = ClosedPort();
  v1::StaplerConfig config =
      WithEndpoints(Config("failover-cache"), {closed}, true, cluster_->CoordinatorPeer());
  config.set_metrics_address("127.0.0.1:0");
  config.set_metrics_port_file(cluster_->Path("run/stapler-failover.metrics-port"));
  std::string text;
  ASSERT_TRUE(google::protobuf::TextFormat::PrintToString(config, &text));
  const std::string config_file = cluster_->Path("stapler-failover.textproto");
  ASSERT_TRUE(WriteFileAtomically(config_file, text).ok());
  const std::string log = cluster_->Path("logs/stapler-failover.log");
  const absl::Time started = absl::Now();
  auto stapler = ChildProcess::Start(
      {absl::StrCat(getenv("TEST_SRCDIR"), "/mecai/stapler/stapler"), "--config", config_file},
      log);
  ASSERT_TRUE(stapler.ok()) << stapler.status();
  const std::string cached =
      cluster_->Path(absl::StrCat("failover-cache/", LocalCluster::kVaId, ".vd"));
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (!ReadFile(cached).ok() && absl::Now() < deadline && (*stapler)->Running()) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(ReadFile(cached).ok()) << TailOfFile(log);
  EXPECT_THAT(ReadFile(log).value_or(""),
              HasSubstr(absl::StrCat("Vouching Server endpoint 127.0.0.1:", closed,
                                     " (1 of 2) failed, trying the next: Vouching Server "
                                     "127.0.0.1:",
                                     closed)));

  auto port = ReadFile(config.metrics_port_file());
  ASSERT_TRUE(port.ok()) << TailOfFile(log);
  const std::string metrics_file = cluster_->Path("stapler-failover-metrics.txt");
  auto fetch = ChildProcess::Start(
      {"curl", "--silent", "--show-error", "--fail", "--max-time", "10", "--output", metrics_file,
       absl::StrCat("http://127.0.0.1:", absl::StripAsciiWhitespace(*port), "/metrics")},
      cluster_->Path("logs/curl-stapler.log"));
  ASSERT_TRUE(fetch.ok());
  ASSERT_TRUE((*fetch)->WaitForExit(absl::Seconds(15)));
  ASSERT_EQ((*fetch)->ExitCode(), 0) << TailOfFile(cluster_->Path("logs/curl-stapler.log"));
  auto check =
      ChildProcess::Start({"sh", "-c",
                           absl::StrCat("promtool check metrics < ", metrics_file, " > ",
                                        cluster_->Path("logs/promtool-stapler.log"), " 2>&1")},
                          "");
  ASSERT_TRUE(check.ok());
  ASSERT_TRUE((*check)->WaitForExit(absl::Seconds(15)));
  EXPECT_EQ((*check)->ExitCode(), 0) << TailOfFile(cluster_->Path("logs/promtool-stapler.log"));

  const std::string metrics = ReadFile(metrics_file).value_or("");
  const std::string va = absl::StrCat("va=\"", LocalCluster::kVaId, "\"");
  EXPECT_EQ(Sample(metrics, absl::StrCat("mecai_stapler_fetches_total{outcome=\"ok\",", va, "}")),
            1)
      << metrics;
  EXPECT_EQ(Sample(metrics,
                   absl::StrCat("mecai_stapler_fetches_total{outcome=\"unreachable\",", va, "}")),
            0);
  const double age =
      Sample(metrics, absl::StrCat("mecai_stapler_vouching_data_age_seconds{", va, "}"));
  EXPECT_GE(age, 0);
  // The VD's time is in whole seconds, and the daemon's clock is read apart from this one: a second
  // and a half of slack, no more.
  EXPECT_LE(age, absl::ToDoubleSeconds(absl::Now() - started) + 1.5);
  // Clients accept the VD for 24 h (the default max_age_ms) unless the VA certificate ends first.
  v1::VouchingData vd;
  v1::VouchingStatement statement;
  ASSERT_TRUE(vd.ParseFromString(ReadFile(cached).value_or("")) &&
              statement.ParseFromString(vd.statement()));
  const double expiry = Sample(
      metrics, absl::StrCat("mecai_stapler_vouching_data_expiry_timestamp_seconds{", va, "}"));
  EXPECT_GT(expiry, absl::ToUnixSeconds(absl::Now()));
  EXPECT_LE(expiry, statement.issued_at_unix_seconds() + 24 * 3600);

  (*stapler)->Stop();
  EXPECT_EQ((*stapler)->ExitDescription(), "exited with status 0") << TailOfFile(log);
}

// With every endpoint of the VA down the fetch fails naming each, is counted as unreachable, and
// no VD is held: its age is +Inf and its expiry 0.
TEST_F(TlsClusterTest, NoEndpointAnsweringIsCountedAndNamesEachEndpoint) {
  const int first = ClosedPort();
  const int second = ClosedPort();
  prometheus::Registry registry;
  auto daemon = BuildStaplerDaemon(WithEndpoints(Config("unreachable-cache"), {first, second},
                                                 false, cluster_->CoordinatorPeer()),
                                   SystemClock::Get(), &registry);
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  (*daemon)->stapler->RunDueFetches();
  const auto status = (*daemon)->stapler->status(LocalCluster::kVaId);
  EXPECT_FALSE(status.holds_vd);
  EXPECT_EQ(status.consecutive_failures, 1);
  EXPECT_THAT(status.last_error,
              HasSubstr(absl::StrCat("no Vouching Server endpoint answered (127.0.0.1:", first,
                                     ": UNAVAILABLE: Vouching Server 127.0.0.1:", first)));
  EXPECT_THAT(status.last_error,
              HasSubstr(absl::StrCat("; 127.0.0.1:", second,
                                     ": UNAVAILABLE: Vouching Server 127.0.0.1:", second)));
  std::vector<prometheus::MetricFamily> families = registry.Collect();
  for (prometheus::MetricFamily& family : (*daemon)->metrics->Collect()) {
    families.push_back(std::move(family));
  }
  const std::string metrics = prometheus::TextSerializer().Serialize(families);
  const std::string va = absl::StrCat("va=\"", LocalCluster::kVaId, "\"");
  EXPECT_EQ(Sample(metrics,
                   absl::StrCat("mecai_stapler_fetches_total{outcome=\"unreachable\",", va, "}")),
            1)
      << metrics;
  EXPECT_EQ(Sample(metrics, absl::StrCat("mecai_stapler_fetches_total{outcome=\"ok\",", va, "}")),
            0);
  EXPECT_EQ(Sample(metrics, absl::StrCat("mecai_stapler_vouching_data_age_seconds{", va, "}")),
            std::numeric_limits<double>::infinity());
  EXPECT_EQ(Sample(metrics,
                   absl::StrCat("mecai_stapler_vouching_data_expiry_timestamp_seconds{", va, "}")),
            0);
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
