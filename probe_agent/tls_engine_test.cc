#include "probe_agent/tls_engine.h"

#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/crypto/hashing.h"
#include "common/process/child_process.h"
#include "common/testing/process_threads.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "probe_agent/testing/test_servers.h"

namespace mecai {
namespace probe_agent {
namespace {

using ::mecai::test_support::OpenSslTestServer;
using ::mecai::test_support::PlainTcpTestServer;
using ::mecai::test_support::TestCertificate;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A listener that never accepts: the kernel completes up to `backlog` TCP handshakes on its own,
// so clients connect and then wait forever for a ServerHello.
class NeverAcceptingListener {
 public:
  explicit NeverAcceptingListener(int backlog) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address = {};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    listen(fd_, backlog);
    socklen_t length = sizeof(address);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~NeverAcceptingListener() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// Collects the results of many asynchronous fetches. Thread-safe.
class Collector {
 public:
  FetchCallback Callback() {
    return [this](v1::AddressObservation observation) {
      absl::MutexLock lock(&mutex_);
      results_.push_back(std::move(observation));
    };
  }
  std::vector<v1::AddressObservation> WaitFor(size_t count) {
    absl::MutexLock lock(&mutex_);
    std::pair<std::vector<v1::AddressObservation>*, size_t> state(&results_, count);
    mutex_.AwaitWithTimeout(
        absl::Condition(
            +[](std::pair<std::vector<v1::AddressObservation>*, size_t>* wanted) {
              return wanted->first->size() >= wanted->second;
            },
            &state),
        absl::Seconds(30));
    return results_;
  }

 private:
  absl::Mutex mutex_;
  std::vector<v1::AddressObservation> results_ ABSL_GUARDED_BY(mutex_);
};

class TlsEngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<TestCertificate> certificate = test_support::WriteSelfSignedCertificate(
        test_support::TestTemporaryDirectory(), "engine", "engine.example.test");
    ASSERT_TRUE(certificate.ok()) << certificate.status();
    certificate_ = new TestCertificate(*certificate);
  }
  static void TearDownTestSuite() { delete certificate_; }

  static std::unique_ptr<OpenSslTestServer> StartServer(std::vector<std::string> extra = {}) {
    OpenSslTestServer::Options options;
    options.certificate = *certificate_;
    options.extra_arguments = std::move(extra);
    absl::StatusOr<std::unique_ptr<OpenSslTestServer>> server = OpenSslTestServer::Start(options);
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? std::move(*server) : nullptr;
  }

  static std::unique_ptr<TlsEngine> Engine(TlsEngineOptions options = TlsEngineOptions()) {
    absl::StatusOr<std::unique_ptr<TlsEngine>> engine = TlsEngine::Create(options);
    EXPECT_TRUE(engine.ok()) << engine.status();
    return engine.ok() ? std::move(*engine) : nullptr;
  }

  static FetchRequest Request(int port, absl::Duration handshake_timeout = absl::Seconds(5)) {
    FetchRequest request;
    request.address = "127.0.0.1";
    request.port = static_cast<uint32_t>(port);
    request.sni = "engine.example.test";
    request.handshake_timeout = handshake_timeout;
    return request;
  }

  static TestCertificate* certificate_;
};

TestCertificate* TlsEngineTest::certificate_ = nullptr;

TEST_F(TlsEngineTest, RecordsChainHashesVersionCipherAndGroup) {
  std::unique_ptr<OpenSslTestServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  std::unique_ptr<TlsEngine> engine = Engine();
  const v1::AddressObservation observation = engine->Fetch(Request(server->port()));
  ASSERT_EQ(observation.outcome(), v1::PROBE_OK) << observation.error();
  EXPECT_EQ(observation.error_class(), v1::ERROR_CLASS_NONE);
  EXPECT_EQ(observation.tls_version(), "TLSv1.3");
  EXPECT_THAT(observation.cipher(), AnyOf("TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256",
                                          "TLS_CHACHA20_POLY1305_SHA256"));
  EXPECT_EQ(observation.key_exchange_group(), "X25519");
  ASSERT_EQ(observation.certificate_sha256_size(), 1);
  EXPECT_EQ(observation.certificate_sha256(0), Sha256(certificate_->der));
  EXPECT_EQ(observation.leaf_sha256(), Sha256(certificate_->der));
  EXPECT_EQ(observation.chain_sha256(), Sha256(certificate_->der));
  EXPECT_EQ(engine->in_flight(), 0);
}

TEST_F(TlsEngineTest, VersionsAndGroupsComeFromTheOptions) {
  std::unique_ptr<OpenSslTestServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  TlsEngineOptions options;
  options.tls.max_version = 0x0303;  // TLS 1.2 only (RFC 5246).
  options.tls.groups = "P-256";
  std::unique_ptr<TlsEngine> engine = Engine(options);
  const v1::AddressObservation observation = engine->Fetch(Request(server->port()));
  ASSERT_EQ(observation.outcome(), v1::PROBE_OK) << observation.error();
  EXPECT_EQ(observation.tls_version(), "TLSv1.2");
  EXPECT_EQ(observation.cipher(), "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384");
}

// docs/PROTOCOL.md "Key-typed handshakes": the fetch asking for the server's key type gets its
// certificate, and records what it asked for; one asking for another key type is refused by the
// server, in TLS 1.2 and TLS 1.3 — but for the other ECDSA curve in TLS 1.2, whose signature
// algorithms name no curve (RFC 8422 §5.1.1): there the server shows its P-256 certificate, which
// the quorum then judges a mismatch for a VR of a P-384 certificate.
TEST_F(TlsEngineTest, AFetchAsksForTheKeyTypeOfItsRequest) {
  for (const char* version : {"-tls1_2", "-tls1_3"}) {
    SCOPED_TRACE(version);
    std::unique_ptr<OpenSslTestServer> server = StartServer({version});
    ASSERT_NE(server, nullptr);
    std::unique_ptr<TlsEngine> engine = Engine();
    FetchRequest ecdsa = Request(server->port());
    ecdsa.key_type = v1::KEY_TYPE_EC_P256;
    const v1::AddressObservation seen = engine->Fetch(ecdsa);
    ASSERT_EQ(seen.outcome(), v1::PROBE_OK) << seen.error();
    EXPECT_EQ(seen.requested_key_type(), v1::KEY_TYPE_EC_P256);
    EXPECT_EQ(seen.leaf_sha256(), Sha256(certificate_->der));
    for (v1::CertificateKeyType other :
         {v1::KEY_TYPE_EC_P384, v1::KEY_TYPE_RSA, v1::KEY_TYPE_ED25519}) {
      SCOPED_TRACE(v1::CertificateKeyType_Name(other));
      FetchRequest request = Request(server->port());
      request.key_type = other;
      const v1::AddressObservation refused = engine->Fetch(request);
      if (std::string(version) == "-tls1_2" && other == v1::KEY_TYPE_EC_P384) {
        EXPECT_EQ(refused.outcome(), v1::PROBE_OK) << refused.error();
        EXPECT_EQ(refused.leaf_sha256(), Sha256(certificate_->der));
        continue;
      }
      EXPECT_EQ(refused.outcome(), v1::PROBE_HANDSHAKE_FAILED);
      EXPECT_EQ(refused.requested_key_type(), other);
      EXPECT_EQ(refused.error_class(), v1::TLS_ALERT) << refused.error();
      EXPECT_TRUE(refused.leaf_sha256().empty());
    }
  }
}

TEST_F(TlsEngineTest, ServerAlertIsTlsAlert) {
  // The server speaks only TLS 1.2, the engine only TLS 1.3: the server answers the ClientHello
  // with a protocol_version alert (RFC 8446 §6.2, alert 70).
  std::unique_ptr<OpenSslTestServer> server = StartServer({"-tls1_2"});
  ASSERT_NE(server, nullptr);
  TlsEngineOptions options;
  options.tls.min_version = 0x0304;
  std::unique_ptr<TlsEngine> engine = Engine(options);
  const v1::AddressObservation observation = engine->Fetch(Request(server->port()));
  EXPECT_EQ(observation.outcome(), v1::PROBE_HANDSHAKE_FAILED);
  EXPECT_EQ(observation.error_class(), v1::TLS_ALERT);
  EXPECT_EQ(observation.tls_alert(), 70u);
  EXPECT_THAT(observation.error(), HasSubstr("protocol version"));
}

TEST_F(TlsEngineTest, ClosedPortIsConnectRefused) {
  absl::StatusOr<int> closed = PickFreeTcpPort();
  ASSERT_TRUE(closed.ok());
  std::unique_ptr<TlsEngine> engine = Engine();
  const v1::AddressObservation observation = engine->Fetch(Request(*closed));
  EXPECT_EQ(observation.outcome(), v1::PROBE_CONNECT_FAILED);
  EXPECT_EQ(observation.error_class(), v1::CONNECT_REFUSED);
  EXPECT_TRUE(observation.certificate_sha256().empty());
  EXPECT_TRUE(observation.chain_sha256().empty());
}

TEST_F(TlsEngineTest, NonTlsListenerIsProtocolError) {
  absl::StatusOr<std::unique_ptr<PlainTcpTestServer>> plain =
      PlainTcpTestServer::Start("127.0.0.1", PlainTcpTestServer::Behaviour::kGreetAndClose);
  ASSERT_TRUE(plain.ok()) << plain.status();
  std::unique_ptr<TlsEngine> engine = Engine();
  const v1::AddressObservation observation = engine->Fetch(Request((*plain)->port()));
  EXPECT_EQ(observation.outcome(), v1::PROBE_HANDSHAKE_FAILED);
  EXPECT_EQ(observation.error_class(), v1::PROTOCOL_ERROR);
  EXPECT_THAT(observation.error(), HasSubstr("wrong version number"));
}

TEST_F(TlsEngineTest, SilentListenerIsHandshakeTimeout) {
  NeverAcceptingListener silent(16);
  std::unique_ptr<TlsEngine> engine = Engine();
  const v1::AddressObservation observation =
      engine->Fetch(Request(silent.port(), absl::Milliseconds(300)));
  EXPECT_EQ(observation.outcome(), v1::PROBE_HANDSHAKE_FAILED);
  EXPECT_EQ(observation.error_class(), v1::HANDSHAKE_TIMEOUT);
  EXPECT_EQ(observation.error(), "TLS handshake with 127.0.0.1 port " +
                                     std::to_string(silent.port()) + " timed out after 300 ms");
  EXPECT_GE(observation.handshake_milliseconds(), 290u);
  EXPECT_LT(observation.handshake_milliseconds(), 1000u);
}

TEST_F(TlsEngineTest, CoordinatorDeadlineEndsTheFetch) {
  NeverAcceptingListener silent(16);
  std::unique_ptr<TlsEngine> engine = Engine();
  FetchRequest request = Request(silent.port(), absl::Seconds(10));
  request.deadline = absl::Now() + absl::Milliseconds(300);
  const absl::Time start = absl::Now();
  const v1::AddressObservation observation = engine->Fetch(request);
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_EQ(observation.outcome(), v1::PROBE_HANDSHAKE_FAILED);
  EXPECT_EQ(observation.error_class(), v1::DEADLINE_EXCEEDED);
  EXPECT_THAT(observation.error(), HasSubstr("before the coordinator's deadline"));

  request.deadline = absl::Now() - absl::Seconds(1);
  const v1::AddressObservation late = engine->Fetch(request);
  EXPECT_EQ(late.error_class(), v1::DEADLINE_EXCEEDED);
  EXPECT_EQ(late.connect_milliseconds(), 0u);
}

// Many hostnames share one CDN address: a fetch beyond the per-address limit waits for one of that
// address's connections to end instead of being refused.
TEST_F(TlsEngineTest, AFetchBeyondThePerAddressLimitWaitsForAFreeConnection) {
  NeverAcceptingListener silent(16);
  TlsEngineOptions options;
  options.max_in_flight_per_target_address = 1;
  std::unique_ptr<TlsEngine> engine = Engine(options);
  Collector collector;
  const absl::Time start = absl::Now();
  for (int i = 0; i < 3; ++i) {
    engine->Start(Request(silent.port(), absl::Milliseconds(200)), collector.Callback());
  }
  EXPECT_EQ(engine->in_flight(), 1);
  const std::vector<v1::AddressObservation> results = collector.WaitFor(3);
  ASSERT_EQ(results.size(), 3u);
  for (const v1::AddressObservation& result : results) {
    EXPECT_EQ(result.error_class(), v1::HANDSHAKE_TIMEOUT) << result.error();
  }
  // One after the other: each waited for the one before it.
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(580));
  EXPECT_EQ(engine->in_flight(), 0);
}

TEST_F(TlsEngineTest, AWaitingFetchEndsAtItsDeadline) {
  NeverAcceptingListener silent(16);
  TlsEngineOptions options;
  options.max_in_flight_per_target_address = 1;
  std::unique_ptr<TlsEngine> engine = Engine(options);
  Collector collector;
  engine->Start(Request(silent.port(), absl::Seconds(1)), collector.Callback());
  FetchRequest waiting = Request(silent.port(), absl::Seconds(3));
  waiting.deadline = absl::Now() + absl::Milliseconds(300);
  const absl::Time start = absl::Now();
  engine->Start(waiting, collector.Callback());
  const std::vector<v1::AddressObservation> results = collector.WaitFor(1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_EQ(results[0].outcome(), v1::PROBE_OVERLOADED);
  EXPECT_EQ(results[0].error_class(), v1::OVERLOADED);
  EXPECT_EQ(results[0].error(),
            absl::StrCat("not probed: no connection to 127.0.0.1 port ", silent.port(),
                         " became free before the probe's deadline (limit 1 "
                         "per address)"));
  // The first ends at its own timeout (the collector must outlive every callback).
  EXPECT_EQ(collector.WaitFor(2)[1].error_class(), v1::HANDSHAKE_TIMEOUT);
}

TEST_F(TlsEngineTest, AFullWaitingQueueRefusesAtOnce) {
  NeverAcceptingListener silent(16);
  TlsEngineOptions options;
  options.max_in_flight_per_target_address = 1;
  options.max_queued_per_target_address = 1;
  std::unique_ptr<TlsEngine> engine = Engine(options);
  Collector collector;
  for (int i = 0; i < 3; ++i) {
    engine->Start(Request(silent.port(), absl::Milliseconds(200)), collector.Callback());
  }
  const std::vector<v1::AddressObservation> results = collector.WaitFor(3);
  ASSERT_EQ(results.size(), 3u);
  // The refused one completes first, at once, on this thread.
  EXPECT_EQ(results[0].outcome(), v1::PROBE_OVERLOADED);
  EXPECT_THAT(results[0].error(), HasSubstr("1 probes waiting for 127.0.0.1 port"));
  EXPECT_EQ(results[1].error_class(), v1::HANDSHAKE_TIMEOUT);
  EXPECT_EQ(results[2].error_class(), v1::HANDSHAKE_TIMEOUT);
  // Released: the same target may be probed again.
  EXPECT_EQ(engine->Fetch(Request(silent.port(), absl::Milliseconds(50))).error_class(),
            v1::HANDSHAKE_TIMEOUT);
}

TEST_F(TlsEngineTest, ACancelledWaitingFetchEndsAtOnce) {
  NeverAcceptingListener silent(16);
  TlsEngineOptions options;
  options.max_in_flight_per_target_address = 1;
  std::unique_ptr<TlsEngine> engine = Engine(options);
  Collector collector;
  engine->Start(Request(silent.port(), absl::Seconds(1)), collector.Callback());
  auto cancellation = std::make_shared<Cancellation>();
  FetchRequest waiting = Request(silent.port(), absl::Seconds(3));
  waiting.cancellation = cancellation;
  engine->Start(waiting, collector.Callback());
  const absl::Time start = absl::Now();
  cancellation->Cancel();
  engine->AbandonCancelled();
  const std::vector<v1::AddressObservation> results = collector.WaitFor(1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_EQ(results[0].error_class(), v1::LOCAL_ERROR);
  EXPECT_THAT(results[0].error(), HasSubstr("abandoned: the coordinator cancelled it"));
  EXPECT_EQ(collector.WaitFor(2)[1].error_class(), v1::HANDSHAKE_TIMEOUT);
}

TEST_F(TlsEngineTest, GlobalInFlightLimit) {
  NeverAcceptingListener silent(16);
  TlsEngineOptions options;
  options.max_in_flight_connections = 1;
  std::unique_ptr<TlsEngine> engine = Engine(options);
  Collector collector;
  engine->Start(Request(silent.port(), absl::Milliseconds(200)), collector.Callback());
  FetchRequest other = Request(silent.port(), absl::Milliseconds(200));
  other.address = "127.0.0.2";
  engine->Start(other, collector.Callback());
  const std::vector<v1::AddressObservation> results = collector.WaitFor(2);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].error_class(), v1::OVERLOADED);
  EXPECT_EQ(results[0].address(), "127.0.0.2");
  EXPECT_EQ(results[1].error_class(), v1::HANDSHAKE_TIMEOUT);
}

TEST_F(TlsEngineTest, NamesAreNeverResolved) {
  std::unique_ptr<TlsEngine> engine = Engine();
  FetchRequest request = Request(443);
  request.address = "localhost";
  const v1::AddressObservation observation = engine->Fetch(request);
  EXPECT_EQ(observation.outcome(), v1::PROBE_CONNECT_FAILED);
  EXPECT_EQ(observation.error_class(), v1::FORBIDDEN);
  EXPECT_EQ(observation.error(), "cannot connect to localhost: not an IP address");
}

// Trust rule 8 and the agent's scale goal: a thousand connections in flight at once run on the
// engine's few loop threads, never a thread per connection, and all end at their timers.
TEST_F(TlsEngineTest, ThousandConnectionsOnTwoLoopThreads) {
  NeverAcceptingListener silent(4096);
  TlsEngineOptions options;
  options.event_loop_threads = 2;
  options.max_in_flight_per_target_address = 1000;
  std::unique_ptr<TlsEngine> engine = Engine(options);
  const int threads_before = ThreadsOfThisProcess();
  Collector collector;
  const absl::Time start = absl::Now();
  for (int i = 0; i < 1000; ++i) {
    engine->Start(Request(silent.port(), absl::Milliseconds(700)), collector.Callback());
  }
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(engine->in_flight(), 1000);
  EXPECT_EQ(ThreadsOfThisProcess(), threads_before);
  const std::vector<v1::AddressObservation> results = collector.WaitFor(1000);
  // All end at their 700 ms timers, not one after another (a generous bound: the suite shares
  // two cores with everything else it runs).
  EXPECT_LT(absl::Now() - start, absl::Seconds(6));
  ASSERT_EQ(results.size(), 1000u);
  for (const v1::AddressObservation& observation : results) {
    ASSERT_EQ(observation.error_class(), v1::HANDSHAKE_TIMEOUT) << observation.error();
  }
  EXPECT_EQ(engine->in_flight(), 0);
}

TEST(TlsVersionTest, Parse) {
  EXPECT_EQ(ParseTlsVersion("TLSv1.2").value(), 0x0303);
  EXPECT_EQ(ParseTlsVersion("TLSv1.3").value(), 0x0304);
  EXPECT_EQ(ParseTlsVersion("TLSv1.1").status().code(), absl::StatusCode::kInvalidArgument);
  TlsClientOptions inverted;
  inverted.min_version = 0x0304;
  inverted.max_version = 0x0303;
  EXPECT_EQ(CreateProbeSslContext(inverted).status().code(), absl::StatusCode::kInvalidArgument);
  TlsClientOptions bad_groups;
  bad_groups.groups = "X25519:Nope";
  EXPECT_EQ(CreateProbeSslContext(bad_groups).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(CreateProbeSslContext(TlsClientOptions(), v1::KEY_TYPE_RSA).ok());
  EXPECT_EQ(CreateProbeSslContext(TlsClientOptions(), static_cast<v1::CertificateKeyType>(9))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace probe_agent
}  // namespace mecai
