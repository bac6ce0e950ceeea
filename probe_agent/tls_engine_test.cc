#include "probe_agent/tls_engine.h"

#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>  // NOLINT(build/c++11): the scripted server's thread.
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/base/files.h"
#include "common/crypto/certificate_key_type.h"
#include "common/crypto/hashing.h"
#include "common/process/child_process.h"
#include "common/testing/process_threads.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "probe_agent/gnutls_handshake.h"
#include "probe_agent/openssl_handshake.h"
#include "probe_agent/testing/test_servers.h"

namespace mecai {
namespace probe_agent {
namespace {

using ::mecai::test_support::OpenSslTestServer;
using ::mecai::test_support::PlainTcpTestServer;
using ::mecai::test_support::TestCertificate;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;
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

// A TCP listener on 127.0.0.1 that answers every connection with fixed bytes instead of a TLS
// server's flight: it reads what the client sends first (its ClientHello), writes `reply`, and
// closes. At most 16 connections; each waits at most 2 s for the client.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::string reply) : reply_(std::move(reply)) {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address = {};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    listen(listener_, 16);
    socklen_t length = sizeof(address);
    getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~ScriptedServer() {
    stopping_.store(true);
    thread_.join();
    close(listener_);
  }
  int port() const { return port_; }
  // The first bytes each connection sent, in order.
  std::vector<std::string> received() {
    absl::MutexLock lock(&mutex_);
    return received_;
  }

 private:
  void Serve() {
    for (int served = 0; served < 16 && !stopping_.load();) {
      pollfd watched = {listener_, POLLIN, 0};
      if (poll(&watched, 1, 20) <= 0) continue;
      const int connection = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (connection < 0) continue;
      ++served;
      // The first record: its 5-byte header says how long it is (RFC 8446 §5.1).
      std::string first;
      for (int reads = 0; reads < 64; ++reads) {
        if (first.size() >= 5 && first.size() >= 5 + ((static_cast<uint8_t>(first[3]) << 8) |
                                                      static_cast<uint8_t>(first[4]))) {
          break;
        }
        pollfd readable = {connection, POLLIN, 0};
        char buffer[4096];
        if (poll(&readable, 1, 2000) <= 0) break;
        const ssize_t got = recv(connection, buffer, sizeof(buffer), 0);
        if (got <= 0) break;
        first.append(buffer, static_cast<size_t>(got));
      }
      {
        absl::MutexLock lock(&mutex_);
        received_.push_back(first);
      }
      ssize_t ignored = send(connection, reply_.data(), reply_.size(), MSG_NOSIGNAL);
      (void)ignored;
      close(connection);
    }
  }

  const std::string reply_;
  absl::Mutex mutex_;
  std::vector<std::string> received_ ABSL_GUARDED_BY(mutex_);
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// What a ClientHello (RFC 8446 §4.1.2) offers, from its extensions: signature_algorithms,
// supported_groups, the groups of its key shares, supported_versions, each as its code points.
struct Offer {
  std::vector<int> cipher_suites;
  std::vector<int> signature_algorithms;
  std::vector<int> groups;
  std::vector<int> key_shares;
  std::vector<int> versions;
};

// Parses the ClientHello in the first record `hello`; an empty Offer when it is not one.
Offer ParseClientHello(const std::string& hello) {
  Offer offer;
  size_t at = 0;
  auto byte = [&](size_t i) { return i < hello.size() ? static_cast<uint8_t>(hello[i]) : 0; };
  auto u16 = [&](size_t i) { return (byte(i) << 8) | byte(i + 1); };
  auto list16 = [&](size_t from, size_t length, std::vector<int>* out) {
    for (size_t i = 0; i + 1 < length; i += 2) out->push_back(u16(from + i));
  };
  if (byte(0) != 0x16 || byte(5) != 0x01) return offer;
  at = 5 + 4 + 2 + 32;  // Record and handshake headers, legacy_version, random.
  at += 1 + byte(at);   // legacy_session_id.
  list16(at + 2, u16(at), &offer.cipher_suites);
  at += 2 + u16(at);
  at += 1 + byte(at);  // legacy_compression_methods.
  const size_t end = std::min(hello.size(), at + 2 + u16(at));
  for (at += 2; at + 4 <= end;) {
    const int type = u16(at);
    const size_t length = u16(at + 2);
    const size_t data = at + 4;
    if (type == 13) list16(data + 2, u16(data), &offer.signature_algorithms);
    if (type == 10) list16(data + 2, u16(data), &offer.groups);
    if (type == 43) list16(data + 1, byte(data), &offer.versions);
    if (type == 51) {
      for (size_t share = data + 2; share + 4 <= data + 2 + u16(data);
           share += 4 + u16(share + 2)) {
        offer.key_shares.push_back(u16(share));
      }
    }
    at = data + length;
  }
  return offer;
}

// Every test runs with each library (TlsEngineOptions::library).
class TlsEngineTest : public ::testing::TestWithParam<TlsLibrary> {
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
    options.library = GetParam();
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

TEST_P(TlsEngineTest, RecordsChainHashesVersionCipherAndGroup) {
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

TEST_P(TlsEngineTest, VersionsAndGroupsComeFromTheOptions) {
  std::unique_ptr<OpenSslTestServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  TlsEngineOptions options;
  options.tls.max_version = 0x0303;  // TLS 1.2 only (RFC 5246).
  options.tls.groups = "P-256";
  std::unique_ptr<TlsEngine> engine = Engine(options);
  const v1::AddressObservation observation = engine->Fetch(Request(server->port()));
  ASSERT_EQ(observation.outcome(), v1::PROBE_OK) << observation.error();
  EXPECT_EQ(observation.tls_version(), "TLSv1.2");
  // IANA names, whichever library; OpenSSL offers AES-256-GCM first, GnuTLS AES-128-GCM.
  EXPECT_THAT(observation.cipher(), AnyOf("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                                          "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"));
  // OpenSSL's short name of P-256, whichever library.
  EXPECT_EQ(observation.key_exchange_group(), "prime256v1");
}

// A TLS 1.3 server without the X25519 share the ClientHello carries asks for another group with a
// HelloRetryRequest (RFC 8446 §4.1.4); the group is recorded by OpenSSL's name with either
// library.
TEST_P(TlsEngineTest, AHelloRetryRequestForP384IsFollowed) {
  std::unique_ptr<OpenSslTestServer> server = StartServer({"-tls1_3", "-groups", "P-384"});
  ASSERT_NE(server, nullptr);
  std::unique_ptr<TlsEngine> engine = Engine();
  const v1::AddressObservation observation = engine->Fetch(Request(server->port()));
  ASSERT_EQ(observation.outcome(), v1::PROBE_OK) << observation.error();
  EXPECT_EQ(observation.tls_version(), "TLSv1.3");
  EXPECT_EQ(observation.key_exchange_group(), "secp384r1");
  EXPECT_EQ(observation.leaf_sha256(), Sha256(certificate_->der));
}

// docs/PROTOCOL.md "Key-typed handshakes": the fetch asking for the server's key type gets its
// certificate, and records what it asked for; one asking for another key type is refused by the
// server, in TLS 1.2 and TLS 1.3 — but for the other ECDSA curve in TLS 1.2, whose signature
// algorithms name no curve (RFC 8422 §5.1.1): there the server shows its P-256 certificate, which
// the quorum then judges a mismatch for a VR of a P-384 certificate.
TEST_P(TlsEngineTest, AFetchAsksForTheKeyTypeOfItsRequest) {
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

TEST_P(TlsEngineTest, ServerAlertIsTlsAlert) {
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

TEST_P(TlsEngineTest, ClosedPortIsConnectRefused) {
  absl::StatusOr<int> closed = PickFreeTcpPort();
  ASSERT_TRUE(closed.ok());
  std::unique_ptr<TlsEngine> engine = Engine();
  const v1::AddressObservation observation = engine->Fetch(Request(*closed));
  EXPECT_EQ(observation.outcome(), v1::PROBE_CONNECT_FAILED);
  EXPECT_EQ(observation.error_class(), v1::CONNECT_REFUSED);
  EXPECT_TRUE(observation.certificate_sha256().empty());
  EXPECT_TRUE(observation.chain_sha256().empty());
}

TEST_P(TlsEngineTest, NonTlsListenerIsProtocolError) {
  absl::StatusOr<std::unique_ptr<PlainTcpTestServer>> plain =
      PlainTcpTestServer::Start("127.0.0.1", PlainTcpTestServer::Behaviour::kGreetAndClose);
  ASSERT_TRUE(plain.ok()) << plain.status();
  std::unique_ptr<TlsEngine> engine = Engine();
  const v1::AddressObservation observation = engine->Fetch(Request((*plain)->port()));
  EXPECT_EQ(observation.outcome(), v1::PROBE_HANDSHAKE_FAILED);
  EXPECT_EQ(observation.error_class(), v1::PROTOCOL_ERROR);
  EXPECT_THAT(observation.error(), HasSubstr(GetParam() == TlsLibrary::kOpenSsl
                                                 ? "wrong version number"
                                                 : "An unexpected TLS packet was received"));
}

TEST_P(TlsEngineTest, SilentListenerIsHandshakeTimeout) {
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

TEST_P(TlsEngineTest, CoordinatorDeadlineEndsTheFetch) {
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
TEST_P(TlsEngineTest, AFetchBeyondThePerAddressLimitWaitsForAFreeConnection) {
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

TEST_P(TlsEngineTest, AWaitingFetchEndsAtItsDeadline) {
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

TEST_P(TlsEngineTest, AFullWaitingQueueRefusesAtOnce) {
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

TEST_P(TlsEngineTest, ACancelledWaitingFetchEndsAtOnce) {
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

TEST_P(TlsEngineTest, GlobalInFlightLimit) {
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

TEST_P(TlsEngineTest, NamesAreNeverResolved) {
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
TEST_P(TlsEngineTest, ThousandConnectionsOnTwoLoopThreads) {
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

// Trust rule 8: a server whose certificate list is larger than kMaxCertificateListBytes fails the
// handshake as a protocol error, with either library and version; one just under it is recorded
// whole, in the server's order.
TEST_P(TlsEngineTest, AChainOverTheBoundFailsAndOneUnderItIsRecordedWhole) {
  const std::string pem = ReadFile(certificate_->certificate_path).value_or("");
  ASSERT_FALSE(pem.empty());
  // Each certificate takes its DER and 3 (TLS 1.2) or 5 (TLS 1.3) bytes of the message (RFC 5246
  // §7.4.2, RFC 8446 §4.4.2): about 90 % and 110 % of the bound, and the most that fits in TLS 1.3
  // (the leaf too), within a certificate of it: the libraries agree up to the bound.
  const int per_certificate = static_cast<int>(certificate_->der.size()) + 4;
  const int under = kMaxCertificateListBytes * 9 / 10 / per_certificate;
  const int over = kMaxCertificateListBytes * 11 / 10 / per_certificate;
  const int at_the_bound =
      (kMaxCertificateListBytes - 64) / (static_cast<int>(certificate_->der.size()) + 5) - 1;
  for (const char* version : {"-tls1_2", "-tls1_3"}) {
    for (int extra : {under, at_the_bound, over}) {
      SCOPED_TRACE(absl::StrCat(version, " with ", extra, " more certificates"));
      std::string chain;
      for (int i = 0; i < extra; ++i) chain += pem;
      const std::string path =
          absl::StrCat(test_support::TestTemporaryDirectory(), "/chain_", extra, ".pem");
      ASSERT_TRUE(WriteFileAtomically(path, chain).ok());
      std::unique_ptr<OpenSslTestServer> server = StartServer({version, "-cert_chain", path});
      ASSERT_NE(server, nullptr);
      std::unique_ptr<TlsEngine> engine = Engine();
      const v1::AddressObservation observation = engine->Fetch(Request(server->port()));
      if (extra != over) {
        ASSERT_EQ(observation.outcome(), v1::PROBE_OK) << observation.error();
        ASSERT_EQ(observation.certificate_chain_der_size(), extra + 1);
        for (const std::string& der : observation.certificate_chain_der()) {
          EXPECT_EQ(der, certificate_->der);
        }
        continue;
      }
      EXPECT_EQ(observation.outcome(), v1::PROBE_HANDSHAKE_FAILED);
      EXPECT_EQ(observation.error_class(), v1::PROTOCOL_ERROR) << observation.error();
      EXPECT_THAT(observation.error(), HasSubstr("excessive message size"));
      EXPECT_EQ(observation.certificate_chain_der_size(), 0);
    }
  }
}

// What a hostile or broken server sends instead of its first flight ends the fetch as a failure
// of the handshake, never anything worse (run under ASan too: --config=asan).
TEST_P(TlsEngineTest, GarbageInsteadOfAServerHelloFailsTheHandshake) {
  std::string random_bytes;
  for (int i = 0; i < 3000; ++i) random_bytes.push_back(static_cast<char>((i * 7919 + 13) % 251));
  const std::string kHandshakeRecord("\x16\x03\x03", 3);
  const struct {
    const char* name;
    std::string reply;
  } cases[] = {
      {"random bytes", random_bytes},
      // A handshake record holding a ServerHello (type 2) whose body is random bytes.
      {"a garbled ServerHello", kHandshakeRecord +
                                    std::string("\x01\x00\x02\x00\x00\xfc\x03\x03", 8) +
                                    random_bytes.substr(0, 252)},
      // A ServerHello claiming 16 MB, then nothing.
      {"a ServerHello longer than its record",
       kHandshakeRecord + std::string("\x00\x04\x02\xff\xff\xff", 6)},
      // A record header announcing more than a record may hold (RFC 8446 §5.1), then nothing.
      {"an oversized record", kHandshakeRecord + std::string("\xff\xff", 2) + random_bytes},
      {"a truncated record header", kHandshakeRecord},
  };
  std::unique_ptr<TlsEngine> engine = Engine();
  for (const auto& test_case : cases) {
    SCOPED_TRACE(test_case.name);
    ScriptedServer server(test_case.reply);
    const v1::AddressObservation observation =
        engine->Fetch(Request(server.port(), absl::Seconds(3)));
    EXPECT_EQ(observation.outcome(), v1::PROBE_HANDSHAKE_FAILED);
    EXPECT_THAT(observation.error_class(), AnyOf(v1::PROTOCOL_ERROR, v1::CONNECTION_CLOSED))
        << observation.error();
    EXPECT_THAT(observation.error(), StartsWith("TLS handshake with 127.0.0.1 port "));
    EXPECT_EQ(observation.certificate_chain_der_size(), 0);
  }
  EXPECT_EQ(engine->in_flight(), 0);
}

// Trust rule 8 bounds what one handshake may make the agent hold, not only the chain it records: a
// server whose first handshake message declares 16 MB (RFC 8446 §4: a 24-bit length) and then
// streams it, a megabyte in full records, is refused before the agent has read much more than
// the bound (GnuTLS 3.7 would otherwise buffer the whole message; OpenSSL refuses at the header).
TEST_P(TlsEngineTest, AHandshakeMessageDeclaringMegabytesIsRefusedWithinTheBound) {
  std::string stream;
  for (int record = 0; record < 64; ++record) {
    stream += std::string("\x16\x03\x03\x40\x00", 5);
    std::string body(16384, '\0');
    if (record == 0) body.replace(0, 4, std::string("\x02\xff\xff\xff", 4));
    stream += body;
  }
  ScriptedServer server(stream);
  std::unique_ptr<TlsEngine> engine = Engine();
  const v1::AddressObservation observation =
      engine->Fetch(Request(server.port(), absl::Seconds(5)));
  EXPECT_EQ(observation.outcome(), v1::PROBE_HANDSHAKE_FAILED);
  EXPECT_EQ(observation.error_class(), v1::PROTOCOL_ERROR) << observation.error();
  EXPECT_THAT(observation.error(), HasSubstr("excessive message size"));
  EXPECT_EQ(observation.certificate_chain_der_size(), 0);
}

// A fatal alert as the server's first record (RFC 8446 §6.2: handshake_failure, 40) is TLS_ALERT
// with its number in either library; a server that closes without a word is CONNECTION_CLOSED.
TEST_P(TlsEngineTest, AnAlertOrACloseInsteadOfAServerHello) {
  std::unique_ptr<TlsEngine> engine = Engine();
  ScriptedServer alerting(std::string("\x15\x03\x03\x00\x02\x02\x28", 7));
  const v1::AddressObservation alerted = engine->Fetch(Request(alerting.port()));
  EXPECT_EQ(alerted.outcome(), v1::PROBE_HANDSHAKE_FAILED);
  EXPECT_EQ(alerted.error_class(), v1::TLS_ALERT) << alerted.error();
  EXPECT_EQ(alerted.tls_alert(), 40u);
  EXPECT_THAT(alerted.error(), HasSubstr("andshake"));

  ScriptedServer closing("");
  const v1::AddressObservation closed = engine->Fetch(Request(closing.port()));
  EXPECT_EQ(closed.outcome(), v1::PROBE_HANDSHAKE_FAILED);
  EXPECT_EQ(closed.error_class(), v1::CONNECTION_CLOSED) << closed.error();
}

// The libraries make the same offer where a server chooses by it: for each key type the same
// signature_algorithms, and for every offer the same groups, one key share of the first group, and
// the same versions. The default offer's signature algorithms are OpenSSL's but for DSA and
// SHA-224, which GnuTLS does not offer (RFC 5246 §7.4.1.4.1 code points 0x0202, 0x0302, 0x0402,
// 0x0502, 0x0602; 0x0301, 0x0303).
TEST(ClientHelloTest, BothLibrariesOfferTheSameSignatureAlgorithmsGroupsAndVersions) {
  std::vector<v1::CertificateKeyType> key_types = {v1::CERTIFICATE_KEY_TYPE_UNSPECIFIED};
  key_types.insert(key_types.end(), std::begin(kSelectableKeyTypes), std::end(kSelectableKeyTypes));
  for (bool tls13_only : {false, true}) {
    std::vector<Offer> offers[2];
    for (TlsLibrary library : {TlsLibrary::kOpenSsl, TlsLibrary::kGnuTls}) {
      TlsEngineOptions options;
      options.library = library;
      if (tls13_only) options.tls.min_version = 0x0304;
      absl::StatusOr<std::unique_ptr<TlsEngine>> engine = TlsEngine::Create(options);
      ASSERT_TRUE(engine.ok()) << engine.status();
      ScriptedServer server("");
      for (v1::CertificateKeyType key_type : key_types) {
        FetchRequest request;
        request.address = "127.0.0.1";
        request.port = static_cast<uint32_t>(server.port());
        request.sni = "offer.example.test";
        request.key_type = key_type;
        EXPECT_EQ((*engine)->Fetch(request).outcome(), v1::PROBE_HANDSHAKE_FAILED);
      }
      for (const std::string& hello : server.received()) {
        offers[library == TlsLibrary::kGnuTls].push_back(ParseClientHello(hello));
      }
    }
    ASSERT_EQ(offers[0].size(), key_types.size());
    ASSERT_EQ(offers[1].size(), key_types.size());
    for (size_t i = 0; i < key_types.size(); ++i) {
      SCOPED_TRACE(absl::StrCat(v1::CertificateKeyType_Name(key_types[i]),
                                tls13_only ? ", TLS 1.3 only" : ""));
      const Offer& openssl = offers[0][i];
      const Offer& gnutls = offers[1][i];
      std::vector<int> expected = openssl.signature_algorithms;
      expected.erase(std::remove_if(expected.begin(), expected.end(),
                                    [](int scheme) {
                                      return (scheme & 0xff) == 0x02 || scheme == 0x0301 ||
                                             scheme == 0x0303;
                                    }),
                     expected.end());
      EXPECT_FALSE(expected.empty());
      EXPECT_EQ(gnutls.signature_algorithms, expected);
      EXPECT_EQ(gnutls.groups, openssl.groups);
      EXPECT_EQ(gnutls.key_shares, openssl.key_shares);
      EXPECT_EQ(gnutls.key_shares, std::vector<int>{0x001d});  // x25519 (RFC 8446 §4.2.7).
      EXPECT_EQ(gnutls.versions, openssl.versions);
      // Every suite the OpenSSL client offers, the GnuTLS client offers too (in another order,
      // AES-128-GCM first, and with a few more), but ARIA's (RFC 6209), which GnuTLS lacks.
      for (int suite : openssl.cipher_suites) {
        if (suite == 0x00ff) continue;  // TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746 §3.3).
        if ((suite >= 0xc03c && suite <= 0xc071)) continue;  // ARIA (RFC 6209 §2).
        EXPECT_NE(std::find(gnutls.cipher_suites.begin(), gnutls.cipher_suites.end(), suite),
                  gnutls.cipher_suites.end())
            << absl::StrCat(absl::Hex(suite, absl::kZeroPad4));
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Libraries, TlsEngineTest,
                         ::testing::Values(TlsLibrary::kOpenSsl, TlsLibrary::kGnuTls),
                         [](const ::testing::TestParamInfo<TlsLibrary>& info) {
                           return TlsLibraryName(info.param);
                         });

TEST(TlsLibraryTest, Parse) {
  EXPECT_EQ(ParseTlsLibrary("openssl").value(), TlsLibrary::kOpenSsl);
  EXPECT_EQ(ParseTlsLibrary("gnutls").value(), TlsLibrary::kGnuTls);
  EXPECT_EQ(ParseTlsLibrary("GnuTLS").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseTlsLibrary("").status().code(), absl::StatusCode::kInvalidArgument);
}

// The GnuTLS offers are OfferSelecting's, in GnuTLS's names.
TEST(GnuTlsPriorityTest, OffersFollowTheOptionsAndTheKeyType) {
  TlsClientOptions options;
  options.min_version = 0x0304;
  options.groups = "x25519:prime256v1:P-384";
  const std::string all = GnuTlsPriority(options, v1::CERTIFICATE_KEY_TYPE_UNSPECIFIED).value();
  EXPECT_THAT(all, HasSubstr(":-VERS-ALL:+VERS-TLS1.3:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:"
                             "+GROUP-SECP384R1:"));
  EXPECT_THAT(all, Not(HasSubstr("VERS-TLS1.2")));
  EXPECT_THAT(all, HasSubstr(":-SIGN-ALL:+SIGN-ECDSA-SECP256R1-SHA256:"));
  EXPECT_THAT(GnuTlsPriority(TlsClientOptions(), v1::KEY_TYPE_EC_P256).value(),
              HasSubstr(":-KX-ALL:+ECDHE-ECDSA:-SIGN-ALL:+SIGN-ECDSA-SECP256R1-SHA256:"
                        "+SIGN-ECDSA-SHA256"));
  EXPECT_THAT(GnuTlsPriority(TlsClientOptions(), v1::KEY_TYPE_RSA).value(),
              HasSubstr(":-KX-ALL:+ECDHE-RSA:+DHE-RSA:+RSA:-SIGN-ALL:+SIGN-RSA-PSS-RSAE-SHA256:"));
  EXPECT_THAT(GnuTlsPriority(TlsClientOptions(), v1::KEY_TYPE_ED25519).value(),
              testing::EndsWith(":-SIGN-ALL:+SIGN-EDDSA-ED25519"));
  EXPECT_EQ(
      GnuTlsPriority(TlsClientOptions(), static_cast<v1::CertificateKeyType>(9)).status().code(),
      absl::StatusCode::kInvalidArgument);
  TlsClientOptions bad_groups;
  bad_groups.groups = "X25519:Nope";
  EXPECT_EQ(CreateTlsClient(TlsLibrary::kGnuTls, bad_groups).status().code(),
            absl::StatusCode::kInvalidArgument);
  TlsClientOptions inverted;
  inverted.min_version = 0x0304;
  inverted.max_version = 0x0303;
  EXPECT_EQ(CreateTlsClient(TlsLibrary::kGnuTls, inverted).status().code(),
            absl::StatusCode::kInvalidArgument);
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
