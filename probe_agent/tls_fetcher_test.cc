#include "probe_agent/tls_fetcher.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/crypto/hashing.h"
#include "common/process/child_process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "probe_agent/testing/test_servers.h"
#include "probe_agent/testing/test_tls_library.h"

namespace mecai {
namespace probe_agent {
namespace {

using ::mecai::test_support::OpenSslTestServer;
using ::mecai::test_support::PlainTcpTestServer;
using ::mecai::test_support::TestCertificate;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr absl::Duration kConnectTimeout = absl::Seconds(3);
constexpr absl::Duration kHandshakeTimeout = absl::Seconds(5);

class EngineTlsFetcherTest : public ::testing::Test {
 protected:
  // One pair of certificates and one s_server for the suite: a default certificate, and another
  // one served only to clients sending SNI "sni.example.test".
  static void SetUpTestSuite() {
    const std::string directory = test_support::TestTemporaryDirectory();
    absl::StatusOr<TestCertificate> default_certificate =
        test_support::WriteSelfSignedCertificate(directory, "default", "default.example.test");
    ASSERT_TRUE(default_certificate.ok()) << default_certificate.status();
    absl::StatusOr<TestCertificate> sni_certificate =
        test_support::WriteSelfSignedCertificate(directory, "sni", "sni.example.test");
    ASSERT_TRUE(sni_certificate.ok()) << sni_certificate.status();
    default_certificate_ = new TestCertificate(*default_certificate);
    sni_certificate_ = new TestCertificate(*sni_certificate);

    OpenSslTestServer::Options options;
    options.certificate = *default_certificate_;
    options.sni_name = "sni.example.test";
    options.sni_certificate = *sni_certificate_;
    absl::StatusOr<std::unique_ptr<OpenSslTestServer>> server = OpenSslTestServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
  }

  static void TearDownTestSuite() {
    delete server_;
    delete default_certificate_;
    delete sni_certificate_;
  }

  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    absl::StatusOr<std::unique_ptr<EngineTlsFetcher>> fetcher =
        EngineTlsFetcher::Create(test_support::TestEngineOptions());
    ASSERT_TRUE(fetcher.ok()) << fetcher.status();
    fetcher_ = std::move(*fetcher);
  }

  v1::AddressObservation Fetch(const std::string& address, int port, const std::string& sni,
                               absl::Duration connect_timeout = kConnectTimeout,
                               absl::Duration handshake_timeout = kHandshakeTimeout) {
    FetchRequest request;
    request.address = address;
    request.port = static_cast<uint32_t>(port);
    request.sni = sni;
    request.connect_timeout = connect_timeout;
    request.handshake_timeout = handshake_timeout;
    return fetcher_->Fetch(request);
  }

  static TestCertificate* default_certificate_;
  static TestCertificate* sni_certificate_;
  static OpenSslTestServer* server_;
  std::unique_ptr<EngineTlsFetcher> fetcher_;
};

TestCertificate* EngineTlsFetcherTest::default_certificate_ = nullptr;
TestCertificate* EngineTlsFetcherTest::sni_certificate_ = nullptr;
OpenSslTestServer* EngineTlsFetcherTest::server_ = nullptr;

TEST_F(EngineTlsFetcherTest, RecordsTheServedCertificate) {
  v1::AddressObservation observation = Fetch("127.0.0.1", server_->port(), "default.example.test");
  ASSERT_EQ(observation.outcome(), v1::PROBE_OK) << observation.error();
  EXPECT_EQ(observation.address(), "127.0.0.1");
  EXPECT_THAT(observation.certificate_chain_der(), ElementsAre(default_certificate_->der));
  EXPECT_EQ(observation.leaf_sha256(), Sha256(default_certificate_->der));
  EXPECT_EQ(observation.tls_version(), "TLSv1.3");
  EXPECT_EQ(observation.error(), "");
}

TEST_F(EngineTlsFetcherTest, SniSelectsTheCertificate) {
  v1::AddressObservation with_sni = Fetch("127.0.0.1", server_->port(), "sni.example.test");
  ASSERT_EQ(with_sni.outcome(), v1::PROBE_OK) << with_sni.error();
  EXPECT_THAT(with_sni.certificate_chain_der(), ElementsAre(sni_certificate_->der));
  EXPECT_EQ(with_sni.leaf_sha256(), Sha256(sni_certificate_->der));

  v1::AddressObservation other_name = Fetch("127.0.0.1", server_->port(), "other.example.test");
  ASSERT_EQ(other_name.outcome(), v1::PROBE_OK) << other_name.error();
  EXPECT_THAT(other_name.certificate_chain_der(), ElementsAre(default_certificate_->der));

  v1::AddressObservation without_sni = Fetch("127.0.0.1", server_->port(), "");
  ASSERT_EQ(without_sni.outcome(), v1::PROBE_OK) << without_sni.error();
  EXPECT_THAT(without_sni.certificate_chain_der(), ElementsAre(default_certificate_->der));
}

TEST_F(EngineTlsFetcherTest, ChainIsRecordedLeafFirst) {
  // s_server sends -cert_chain certificates after the leaf as they are, without checking them.
  OpenSslTestServer::Options options;
  options.certificate = *default_certificate_;
  options.extra_arguments = {"-cert_chain", sni_certificate_->certificate_path, "-tls1_2"};
  absl::StatusOr<std::unique_ptr<OpenSslTestServer>> server = OpenSslTestServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  v1::AddressObservation observation =
      Fetch("127.0.0.1", (*server)->port(), "default.example.test");
  ASSERT_EQ(observation.outcome(), v1::PROBE_OK) << observation.error();
  EXPECT_THAT(observation.certificate_chain_der(),
              ElementsAre(default_certificate_->der, sni_certificate_->der));
  EXPECT_EQ(observation.leaf_sha256(), Sha256(default_certificate_->der));
  EXPECT_EQ(observation.tls_version(), "TLSv1.2");
}

TEST_F(EngineTlsFetcherTest, Ipv6Address) {
  OpenSslTestServer::Options options;
  options.host = "::1";
  options.certificate = *sni_certificate_;
  absl::StatusOr<std::unique_ptr<OpenSslTestServer>> server = OpenSslTestServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  v1::AddressObservation observation = Fetch("::1", (*server)->port(), "sni.example.test");
  ASSERT_EQ(observation.outcome(), v1::PROBE_OK) << observation.error();
  EXPECT_EQ(observation.address(), "::1");
  EXPECT_THAT(observation.certificate_chain_der(), ElementsAre(sni_certificate_->der));
}

TEST_F(EngineTlsFetcherTest, ClosedPortIsConnectFailed) {
  absl::StatusOr<int> closed = PickFreeTcpPort();
  ASSERT_TRUE(closed.ok());
  v1::AddressObservation observation = Fetch("127.0.0.1", *closed, "default.example.test");
  EXPECT_EQ(observation.outcome(), v1::PROBE_CONNECT_FAILED);
  EXPECT_EQ(observation.error(), "TCP connect to 127.0.0.1 port " + std::to_string(*closed) +
                                     " failed: Connection refused");
  EXPECT_TRUE(observation.certificate_chain_der().empty());
  EXPECT_TRUE(observation.leaf_sha256().empty());
  EXPECT_TRUE(observation.tls_version().empty());
}

TEST_F(EngineTlsFetcherTest, ConnectTimeoutIsConnectFailed) {
  // A listener that never accepts and has a backlog of one: once its queue is full, Linux drops
  // further SYNs, so the next connect neither succeeds nor fails until the timeout.
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(listener, 0), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const int port = ntohs(address.sin_port);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    const int filler = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(filler, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    fillers.push_back(filler);
  }
  usleep(100 * 1000);
  v1::AddressObservation observation = Fetch("127.0.0.1", port, "", absl::Milliseconds(300));
  for (int filler : fillers) close(filler);
  close(listener);
  EXPECT_EQ(observation.outcome(), v1::PROBE_CONNECT_FAILED);
  EXPECT_EQ(observation.error(),
            "TCP connect to 127.0.0.1 port " + std::to_string(port) + " timed out after 300 ms");
  EXPECT_GE(observation.connect_milliseconds(), 290u);
}

TEST_F(EngineTlsFetcherTest, NonTlsListenerIsHandshakeFailed) {
  absl::StatusOr<std::unique_ptr<PlainTcpTestServer>> plain =
      PlainTcpTestServer::Start("127.0.0.1", PlainTcpTestServer::Behaviour::kGreetAndClose);
  ASSERT_TRUE(plain.ok()) << plain.status();
  v1::AddressObservation observation = Fetch("127.0.0.1", (*plain)->port(), "x.example.test");
  EXPECT_EQ(observation.outcome(), v1::PROBE_HANDSHAKE_FAILED);
  EXPECT_THAT(observation.error(), StartsWith("TLS handshake with 127.0.0.1 port " +
                                              std::to_string((*plain)->port()) + " failed: "));
  EXPECT_EQ(observation.error_class(), v1::PROTOCOL_ERROR);
  EXPECT_THAT(observation.error(), HasSubstr(test_support::TestTlsLibraryName() == "openssl"
                                                 ? "wrong version number"
                                                 : "An unexpected TLS packet was received"));
  EXPECT_TRUE(observation.certificate_chain_der().empty());
  EXPECT_EQ((*plain)->accepted_connections(), 1);
}

TEST_F(EngineTlsFetcherTest, SilentListenerIsHandshakeTimeout) {
  absl::StatusOr<std::unique_ptr<PlainTcpTestServer>> silent =
      PlainTcpTestServer::Start("127.0.0.1", PlainTcpTestServer::Behaviour::kStaySilent);
  ASSERT_TRUE(silent.ok()) << silent.status();
  v1::AddressObservation observation = Fetch("127.0.0.1", (*silent)->port(), "x.example.test",
                                             kConnectTimeout, absl::Milliseconds(300));
  EXPECT_EQ(observation.outcome(), v1::PROBE_HANDSHAKE_FAILED);
  EXPECT_EQ(observation.error(), "TLS handshake with 127.0.0.1 port " +
                                     std::to_string((*silent)->port()) + " timed out after 300 ms");
  EXPECT_GE(observation.handshake_milliseconds(), 290u);
}

TEST_F(EngineTlsFetcherTest, NamesAreNeverResolved) {
  v1::AddressObservation observation = Fetch("localhost", server_->port(), "localhost");
  EXPECT_EQ(observation.outcome(), v1::PROBE_CONNECT_FAILED);
  EXPECT_EQ(observation.error(), "cannot connect to localhost: not an IP address");
}

TEST_F(EngineTlsFetcherTest, ConcurrentFetchesShareTheContext) {
  std::vector<std::thread> threads;
  std::vector<v1::AddressObservation> observations(6);
  for (size_t i = 0; i < observations.size(); ++i) {
    threads.emplace_back([this, i, &observations] {
      observations[i] = Fetch("127.0.0.1", server_->port(), i % 2 == 0 ? "sni.example.test" : "");
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (size_t i = 0; i < observations.size(); ++i) {
    ASSERT_EQ(observations[i].outcome(), v1::PROBE_OK) << observations[i].error();
    EXPECT_EQ(observations[i].certificate_chain_der(0),
              i % 2 == 0 ? sni_certificate_->der : default_certificate_->der);
  }
}

}  // namespace
}  // namespace probe_agent
}  // namespace mecai
