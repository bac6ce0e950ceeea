#include "probe_agent/prober.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/crypto/signed_object.h"
#include "common/net/address_policy.h"
#include "common/net/ip_address.h"
#include "common/process/child_process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "probe_agent/testing/table_resolver.h"
#include "probe_agent/testing/test_servers.h"
#include "probe_agent/testing/test_tls_library.h"

namespace mecai {
namespace probe_agent {
namespace {

using ::mecai::test_support::OpenSslTestServer;
using ::mecai::test_support::PlainTcpTestServer;
using ::mecai::test_support::TableResolver;
using ::mecai::test_support::TestCertificate;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const absl::Time kNow = absl::FromUnixSeconds(1767225600);  // 2026-01-01T00:00:00Z.

// The real fetcher, with a record of every address it was asked to connect to. Thread-safe.
class RecordingFetcher : public TlsFetcher {
 public:
  explicit RecordingFetcher(TlsFetcher& real) : real_(real) {}
  v1::AddressObservation Fetch(const FetchRequest& request) override {
    {
      absl::MutexLock lock(&mutex_);
      fetched_.push_back(request.address);
      server_names_.push_back(request.sni);
      key_types_.push_back(request.key_type);
    }
    return real_.Fetch(request);
  }
  std::vector<std::string> fetched() {
    absl::MutexLock lock(&mutex_);
    return fetched_;
  }
  std::vector<std::string> server_names() {
    absl::MutexLock lock(&mutex_);
    return server_names_;
  }
  std::vector<v1::CertificateKeyType> key_types() {
    absl::MutexLock lock(&mutex_);
    return key_types_;
  }

 private:
  TlsFetcher& real_;
  absl::Mutex mutex_;
  std::vector<std::string> fetched_ ABSL_GUARDED_BY(mutex_);
  std::vector<std::string> server_names_ ABSL_GUARDED_BY(mutex_);
  std::vector<v1::CertificateKeyType> key_types_ ABSL_GUARDED_BY(mutex_);
};

v1::ProbeTask Task(const std::string& hostname, int port) {
  v1::ProbeTask task;
  task.set_hostname(hostname);
  task.set_port(static_cast<uint32_t>(port));
  task.set_vouching_request_sha256(Sha256("the vouching request"));
  task.set_nonce(std::string(24, '\x5a'));
  return task;
}

class ProberTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string directory = test_support::TestTemporaryDirectory();
    absl::StatusOr<TestCertificate> site =
        test_support::WriteSelfSignedCertificate(directory, "site", "site.example.test");
    ASSERT_TRUE(site.ok()) << site.status();
    absl::StatusOr<TestCertificate> other =
        test_support::WriteSelfSignedCertificate(directory, "other", "other.example.test");
    ASSERT_TRUE(other.ok()) << other.status();
    site_ = new TestCertificate(*site);
    other_ = new TestCertificate(*other);
    OpenSslTestServer::Options options;
    options.certificate = *site_;
    options.sni_name = "other.example.test";
    options.sni_certificate = *other_;
    absl::StatusOr<std::unique_ptr<OpenSslTestServer>> server = OpenSslTestServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete site_;
    delete other_;
  }

  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    absl::StatusOr<std::unique_ptr<EngineTlsFetcher>> fetcher =
        EngineTlsFetcher::Create(test_support::TestEngineOptions());
    ASSERT_TRUE(fetcher.ok()) << fetcher.status();
    real_fetcher_ = std::move(*fetcher);
    recording_fetcher_ = std::make_unique<RecordingFetcher>(*real_fetcher_);
    EvpPkeyPtr key(EVP_EC_gen("P-256"));
    ASSERT_NE(key, nullptr);
    // Verification below uses only the public half, as the coordinator and signer do.
    absl::StatusOr<EvpPkeyPtr> public_key = ParsePemPublicKey(PublicKeyToPem(key.get()));
    ASSERT_TRUE(public_key.ok()) << public_key.status();
    public_key_ = std::move(*public_key);
    absl::StatusOr<std::unique_ptr<InMemorySigningKey>> signing_key =
        InMemorySigningKey::Create(std::move(key));
    ASSERT_TRUE(signing_key.ok()) << signing_key.status();
    signing_key_ = std::move(*signing_key);
    perspective_.set_id("test-1a");
    perspective_.set_region("test-1");
  }

  std::unique_ptr<Prober> MakeProber(const std::vector<std::string>& allowed_ranges,
                                     ProberLimits limits = ProberLimits()) {
    absl::StatusOr<AddressPolicy> policy = AddressPolicy::Create(allowed_ranges);
    EXPECT_TRUE(policy.ok()) << policy.status();
    return std::make_unique<Prober>(perspective_, resolver_, *recording_fetcher_,
                                    std::move(*policy), *signing_key_, clock_, limits);
  }

  // Verifies the signature over tbs, then parses it (trust rule 1: check before parsing).
  v1::ObservationBody VerifiedBody(const v1::SignedObservation& observation) {
    absl::Status verified = VerifyObject(public_key_.get(), SignedObject::kObservation,
                                         observation.signature(), observation.tbs());
    EXPECT_TRUE(verified.ok()) << verified;
    v1::ObservationBody body;
    EXPECT_TRUE(body.ParseFromString(observation.tbs()));
    return body;
  }

  static TestCertificate* site_;
  static TestCertificate* other_;
  static OpenSslTestServer* server_;
  std::unique_ptr<EngineTlsFetcher> real_fetcher_;
  std::unique_ptr<RecordingFetcher> recording_fetcher_;
  TableResolver resolver_;
  FakeClock clock_{kNow};
  EvpPkeyPtr public_key_;
  std::unique_ptr<InMemorySigningKey> signing_key_;
  v1::Perspective perspective_;
};

TestCertificate* ProberTest::site_ = nullptr;
TestCertificate* ProberTest::other_ = nullptr;
OpenSslTestServer* ProberTest::server_ = nullptr;

TEST_F(ProberTest, SignedObservationOfAServedCertificate) {
  resolver_.Set("site.example.test", std::vector<std::string>{"127.0.0.1"});
  std::unique_ptr<Prober> prober = MakeProber({"127.0.0.0/8"});
  const v1::ProbeTask task = Task("site.example.test", server_->port());
  absl::StatusOr<v1::SignedObservation> observation = prober->Probe(task);
  ASSERT_TRUE(observation.ok()) << observation.status();
  EXPECT_EQ(observation->signature().algorithm(), v1::ECDSA_P256_SHA256);

  v1::ObservationBody body = VerifiedBody(*observation);
  EXPECT_EQ(body.perspective().id(), "test-1a");
  EXPECT_EQ(body.perspective().region(), "test-1");
  EXPECT_EQ(body.hostname(), task.hostname());
  EXPECT_EQ(body.port(), task.port());
  EXPECT_EQ(body.vouching_request_sha256(), task.vouching_request_sha256());
  EXPECT_EQ(body.nonce(), task.nonce());
  EXPECT_EQ(body.started_at_unix_milliseconds(), absl::ToUnixMillis(kNow));
  EXPECT_EQ(body.finished_at_unix_milliseconds(), absl::ToUnixMillis(kNow));
  EXPECT_EQ(body.outcome(), v1::PROBE_OK);
  EXPECT_THAT(body.resolved_addresses(), ElementsAre("127.0.0.1"));
  EXPECT_EQ(body.resolution_error(), "");
  ASSERT_EQ(body.addresses_size(), 1);
  EXPECT_EQ(body.addresses(0).address(), "127.0.0.1");
  EXPECT_EQ(body.addresses(0).outcome(), v1::PROBE_OK);
  EXPECT_THAT(body.addresses(0).certificate_chain_der(), ElementsAre(site_->der));
  EXPECT_EQ(body.addresses(0).leaf_sha256(), Sha256(site_->der));

  // Re-serializing the parsed body gives the signed bytes back.
  std::string reserialized;
  ASSERT_TRUE(body.SerializeToString(&reserialized));
  EXPECT_EQ(reserialized, observation->tbs());
}

// docs/PROTOCOL.md "Key-typed handshakes": s_server (on 127.0.0.1 only) holds only an EC P-256
// certificate. Asked for EC P-256 and RSA, the agent makes both handshakes at every address,
// address by address; at 127.0.0.1 the RSA one ends with the server's handshake_failure alert,
// which names no certificate, and at 127.0.0.2 nothing listens.
TEST_F(ProberTest, EveryAddressIsAskedOncePerKeyTypeOfTheTask) {
  resolver_.Set("site.example.test", std::vector<std::string>{"127.0.0.1", "127.0.0.2"});
  v1::ProbeTask task = Task("site.example.test", server_->port());
  task.add_certificate_key_types(v1::KEY_TYPE_EC_P256);
  task.add_certificate_key_types(v1::KEY_TYPE_RSA);
  absl::StatusOr<v1::SignedObservation> observation = MakeProber({"127.0.0.0/8"})->Probe(task);
  ASSERT_TRUE(observation.ok()) << observation.status();
  v1::ObservationBody body = VerifiedBody(*observation);
  EXPECT_THAT(body.certificate_key_types(), ElementsAre(v1::KEY_TYPE_EC_P256, v1::KEY_TYPE_RSA));
  EXPECT_THAT(body.resolved_addresses(), ElementsAre("127.0.0.1", "127.0.0.2"));
  ASSERT_EQ(body.addresses_size(), 4);
  const std::vector<std::pair<std::string, v1::CertificateKeyType>> expected = {
      {"127.0.0.1", v1::KEY_TYPE_EC_P256},
      {"127.0.0.1", v1::KEY_TYPE_RSA},
      {"127.0.0.2", v1::KEY_TYPE_EC_P256},
      {"127.0.0.2", v1::KEY_TYPE_RSA}};
  for (int i = 0; i < body.addresses_size(); ++i) {
    const v1::AddressObservation& handshake = body.addresses(i);
    SCOPED_TRACE(absl::StrCat(handshake.address(), " ",
                              v1::CertificateKeyType_Name(handshake.requested_key_type())));
    EXPECT_EQ(handshake.address(), expected[i].first);
    EXPECT_EQ(handshake.requested_key_type(), expected[i].second);
    if (handshake.address() == "127.0.0.2") {
      EXPECT_EQ(handshake.outcome(), v1::PROBE_CONNECT_FAILED);
      EXPECT_EQ(handshake.error_class(), v1::CONNECT_REFUSED);
    } else if (handshake.requested_key_type() == v1::KEY_TYPE_EC_P256) {
      EXPECT_EQ(handshake.outcome(), v1::PROBE_OK) << handshake.error();
      EXPECT_EQ(handshake.leaf_sha256(), Sha256(site_->der));
    } else {
      EXPECT_EQ(handshake.outcome(), v1::PROBE_HANDSHAKE_FAILED);
      EXPECT_EQ(handshake.error_class(), v1::TLS_ALERT);
      EXPECT_EQ(handshake.tls_alert(), 40u);  // handshake_failure (RFC 8446 §6.2).
      EXPECT_TRUE(handshake.certificate_chain_der().empty());
    }
  }
  EXPECT_EQ(body.outcome(), v1::PROBE_HANDSHAKE_FAILED);
  std::vector<v1::CertificateKeyType> asked = recording_fetcher_->key_types();
  std::sort(asked.begin(), asked.end());
  EXPECT_THAT(asked, ElementsAre(v1::KEY_TYPE_EC_P256, v1::KEY_TYPE_EC_P256, v1::KEY_TYPE_RSA,
                                 v1::KEY_TYPE_RSA));
}

// A task without key types (a coordinator that predates them): one handshake per address with the
// default offer, and an Observation whose bytes carry neither new field.
TEST_F(ProberTest, ATaskWithoutKeyTypesGetsOneDefaultHandshakePerAddress) {
  resolver_.Set("site.example.test", std::vector<std::string>{"127.0.0.1"});
  absl::StatusOr<v1::SignedObservation> observation =
      MakeProber({"127.0.0.0/8"})->Probe(Task("site.example.test", server_->port()));
  ASSERT_TRUE(observation.ok()) << observation.status();
  v1::ObservationBody body = VerifiedBody(*observation);
  EXPECT_TRUE(body.certificate_key_types().empty());
  ASSERT_EQ(body.addresses_size(), 1);
  EXPECT_EQ(body.addresses(0).requested_key_type(), v1::CERTIFICATE_KEY_TYPE_UNSPECIFIED);
  EXPECT_EQ(body.addresses(0).outcome(), v1::PROBE_OK);
  EXPECT_THAT(recording_fetcher_->key_types(), ElementsAre(v1::CERTIFICATE_KEY_TYPE_UNSPECIFIED));
  // The new fields add no byte: a verifier that predates them parses this body strictly.
  v1::ObservationBody without_new_fields = body;
  without_new_fields.clear_certificate_key_types();
  without_new_fields.mutable_addresses(0)->clear_requested_key_type();
  EXPECT_EQ(without_new_fields.SerializeAsString(), observation->tbs());
}

TEST_F(ProberTest, TamperedObservationDoesNotVerify) {
  resolver_.Set("site.example.test", std::vector<std::string>{"127.0.0.1"});
  absl::StatusOr<v1::SignedObservation> observation =
      MakeProber({"127.0.0.0/8"})->Probe(Task("site.example.test", server_->port()));
  ASSERT_TRUE(observation.ok()) << observation.status();
  v1::ObservationBody body;
  ASSERT_TRUE(body.ParseFromString(observation->tbs()));
  body.set_outcome(v1::PROBE_OK);
  body.mutable_addresses(0)->set_leaf_sha256(Sha256("an impostor"));
  std::string tampered;
  ASSERT_TRUE(body.SerializeToString(&tampered));
  EXPECT_EQ(VerifyObject(public_key_.get(), SignedObject::kObservation, observation->signature(),
                         tampered)
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ProberTest, HostnameIsSentAsSni) {
  resolver_.Set("other.example.test", std::vector<std::string>{"127.0.0.1"});
  absl::StatusOr<v1::SignedObservation> observation =
      MakeProber({"127.0.0.0/8"})->Probe(Task("other.example.test", server_->port()));
  ASSERT_TRUE(observation.ok()) << observation.status();
  v1::ObservationBody body = VerifiedBody(*observation);
  ASSERT_EQ(body.outcome(), v1::PROBE_OK);
  EXPECT_THAT(body.addresses(0).certificate_chain_der(), ElementsAre(other_->der));
  EXPECT_THAT(recording_fetcher_->server_names(), ElementsAre("other.example.test"));
}

TEST_F(ProberTest, LiteralIpTargetGetsNoSni) {
  absl::StatusOr<std::unique_ptr<CaresResolver>> cares = CaresResolver::Create({});
  ASSERT_TRUE(cares.ok()) << cares.status();
  absl::StatusOr<AddressPolicy> policy = AddressPolicy::Create({"127.0.0.0/8"});
  ASSERT_TRUE(policy.ok());
  Prober prober(perspective_, **cares, *recording_fetcher_, *policy, *signing_key_, clock_,
                ProberLimits());
  absl::StatusOr<v1::SignedObservation> observation =
      prober.Probe(Task("127.0.0.1", server_->port()));
  ASSERT_TRUE(observation.ok()) << observation.status();
  v1::ObservationBody body = VerifiedBody(*observation);
  EXPECT_EQ(body.outcome(), v1::PROBE_OK);
  EXPECT_THAT(body.resolved_addresses(), ElementsAre("127.0.0.1"));
  EXPECT_THAT(recording_fetcher_->server_names(), ElementsAre(""));  // RFC 6066 §3.
  EXPECT_THAT(body.addresses(0).certificate_chain_der(), ElementsAre(site_->der));
}

TEST_F(ProberTest, LoopbackWithoutAllowlistIsForbiddenAndNeverConnected) {
  absl::StatusOr<std::unique_ptr<PlainTcpTestServer>> listener =
      PlainTcpTestServer::Start("127.0.0.1", PlainTcpTestServer::Behaviour::kStaySilent);
  ASSERT_TRUE(listener.ok()) << listener.status();
  resolver_.Set("site.example.test", std::vector<std::string>{"127.0.0.1"});
  absl::StatusOr<v1::SignedObservation> observation =
      MakeProber({})->Probe(Task("site.example.test", (*listener)->port()));
  ASSERT_TRUE(observation.ok()) << observation.status();
  v1::ObservationBody body = VerifiedBody(*observation);
  EXPECT_EQ(body.outcome(), v1::PROBE_FORBIDDEN_ADDRESS);
  ASSERT_EQ(body.addresses_size(), 1);
  EXPECT_EQ(body.addresses(0).outcome(), v1::PROBE_FORBIDDEN_ADDRESS);
  EXPECT_THAT(body.addresses(0).error(), HasSubstr("127.0.0.0/8"));
  EXPECT_THAT(body.addresses(0).error(), HasSubstr("trust rule 6"));
  EXPECT_THAT(body.addresses(0).certificate_chain_der(), IsEmpty());
  EXPECT_THAT(recording_fetcher_->fetched(), IsEmpty());
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ((*listener)->accepted_connections(), 0);
}

// Trust rule 6, one case per row of the IANA special-purpose tables (RFC 6890 and updates): a name
// resolving to the first, a middle and the last address of the range is refused with that range
// named, and nothing is connected to. IPv4 rows are also tried as IPv4-mapped IPv6 (RFC 4291
// §2.5.5.2), which reaches the same IPv4 host.
TEST_F(ProberTest, EverySpecialPurposeRangeIsRefusedWithoutAllowlist) {
  std::unique_ptr<Prober> prober = MakeProber({});
  int rows = 0;
  for (const SpecialPurposeRange& range : SpecialPurposeRanges()) {
    ++rows;
    const IpPrefix& prefix = range.prefix;
    const int bytes = prefix.network.bit_length() / 8;
    IpAddress first = prefix.network;
    IpAddress last = prefix.network;
    for (int bit = prefix.length; bit < prefix.network.bit_length(); ++bit) {
      last.bytes[bit / 8] |= static_cast<uint8_t>(0x80 >> (bit % 8));
    }
    IpAddress middle = first;
    if (prefix.length < prefix.network.bit_length()) {
      middle.bytes[bytes - 1] |= 0x01;  // Inside every range wider than one address.
    }
    std::vector<std::string> addresses = {first.ToString(), middle.ToString(), last.ToString()};
    if (prefix.network.family == IpAddress::Family::kIpv4) {
      addresses.push_back("::ffff:" + middle.ToString());
    }
    // Distinct addresses only: the resolver never returns duplicates.
    std::sort(addresses.begin(), addresses.end());
    addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());
    const std::string name = "range" + std::to_string(rows) + ".example.test";
    resolver_.Set(name, addresses);
    absl::StatusOr<v1::SignedObservation> observation = prober->Probe(Task(name, 443));
    ASSERT_TRUE(observation.ok()) << observation.status();
    const v1::ObservationBody body = VerifiedBody(*observation);
    EXPECT_EQ(body.outcome(), v1::PROBE_FORBIDDEN_ADDRESS) << prefix.ToString();
    ASSERT_EQ(body.addresses_size(), static_cast<int>(addresses.size()));
    for (const v1::AddressObservation& address : body.addresses()) {
      EXPECT_EQ(address.outcome(), v1::PROBE_FORBIDDEN_ADDRESS) << address.address();
      EXPECT_EQ(address.error_class(), v1::FORBIDDEN) << address.address();
      EXPECT_THAT(address.error(), HasSubstr("special-purpose range")) << address.address();
    }
  }
  EXPECT_GE(rows, 30);
  EXPECT_THAT(recording_fetcher_->fetched(), IsEmpty());
}

TEST_F(ProberTest, AllowlistOpensOneRangeOnly) {
  resolver_.Set("mixed.example.test",
                std::vector<std::string>{"127.0.0.1", "10.0.0.1", "169.254.169.254", "::1"});
  absl::StatusOr<v1::SignedObservation> observation =
      MakeProber({"127.0.0.0/8"})->Probe(Task("mixed.example.test", server_->port()));
  ASSERT_TRUE(observation.ok()) << observation.status();
  const v1::ObservationBody body = VerifiedBody(*observation);
  ASSERT_EQ(body.addresses_size(), 4);
  EXPECT_EQ(body.addresses(0).outcome(), v1::PROBE_OK) << body.addresses(0).error();
  for (int i = 1; i < 4; ++i) {
    EXPECT_EQ(body.addresses(i).outcome(), v1::PROBE_FORBIDDEN_ADDRESS);
  }
  EXPECT_THAT(recording_fetcher_->fetched(), ElementsAre("127.0.0.1"));
}

TEST_F(ProberTest, CoordinatorDeadlineBoundsTheProbe) {
  absl::StatusOr<std::unique_ptr<PlainTcpTestServer>> silent =
      PlainTcpTestServer::Start("127.0.0.1", PlainTcpTestServer::Behaviour::kStaySilent);
  ASSERT_TRUE(silent.ok()) << silent.status();
  resolver_.Set("slow.example.test", std::vector<std::string>{"127.0.0.1"});
  // The agent's own handshake timeout is 5 s; the coordinator allows 800 ms.
  absl::StatusOr<std::unique_ptr<EngineTlsFetcher>> engine_fetcher =
      EngineTlsFetcher::Create(test_support::TestEngineOptions());
  ASSERT_TRUE(engine_fetcher.ok());
  absl::StatusOr<AddressPolicy> policy = AddressPolicy::Create({"127.0.0.0/8"});
  ASSERT_TRUE(policy.ok());
  const Prober prober(perspective_, resolver_, **engine_fetcher, std::move(*policy), *signing_key_,
                      clock_, ProberLimits());
  const absl::Time deadline = absl::Now() + absl::Milliseconds(800);
  absl::StatusOr<v1::SignedObservation> observation =
      prober.Probe(Task("slow.example.test", (*silent)->port()), deadline);
  EXPECT_LT(absl::Now(), deadline);
  ASSERT_TRUE(observation.ok()) << observation.status();
  const v1::ObservationBody body = VerifiedBody(*observation);
  EXPECT_EQ(body.outcome(), v1::PROBE_HANDSHAKE_FAILED);
  EXPECT_EQ(body.deadline_unix_milliseconds(), absl::ToUnixMillis(deadline));
  ASSERT_EQ(body.addresses_size(), 1);
  EXPECT_EQ(body.addresses(0).error_class(), v1::DEADLINE_EXCEEDED);
  EXPECT_EQ(body.agent_software(), kAgentSoftware);
}

TEST_F(ProberTest, ForbiddenAmongGoodAddressesFailsTheProbe) {
  // The metadata address is listed first by the resolver: the first failing address decides.
  resolver_.Set("site.example.test",
                std::vector<std::string>{"169.254.169.254", "127.0.0.1", "10.0.0.1"});
  absl::StatusOr<v1::SignedObservation> observation =
      MakeProber({"127.0.0.0/8"})->Probe(Task("site.example.test", server_->port()));
  ASSERT_TRUE(observation.ok()) << observation.status();
  v1::ObservationBody body = VerifiedBody(*observation);
  EXPECT_EQ(body.outcome(), v1::PROBE_FORBIDDEN_ADDRESS);
  EXPECT_THAT(body.resolved_addresses(), ElementsAre("169.254.169.254", "127.0.0.1", "10.0.0.1"));
  ASSERT_EQ(body.addresses_size(), 3);
  EXPECT_EQ(body.addresses(0).address(), "169.254.169.254");
  EXPECT_EQ(body.addresses(0).outcome(), v1::PROBE_FORBIDDEN_ADDRESS);
  EXPECT_EQ(body.addresses(1).address(), "127.0.0.1");
  EXPECT_EQ(body.addresses(1).outcome(), v1::PROBE_OK);
  EXPECT_EQ(body.addresses(2).address(), "10.0.0.1");
  EXPECT_EQ(body.addresses(2).outcome(), v1::PROBE_FORBIDDEN_ADDRESS);
  EXPECT_THAT(recording_fetcher_->fetched(), ElementsAre("127.0.0.1"));
}

TEST_F(ProberTest, ClosedPortIsConnectFailed) {
  absl::StatusOr<int> closed = PickFreeTcpPort();
  ASSERT_TRUE(closed.ok());
  resolver_.Set("site.example.test", std::vector<std::string>{"127.0.0.1"});
  absl::StatusOr<v1::SignedObservation> observation =
      MakeProber({"127.0.0.0/8"})->Probe(Task("site.example.test", *closed));
  ASSERT_TRUE(observation.ok()) << observation.status();
  v1::ObservationBody body = VerifiedBody(*observation);
  EXPECT_EQ(body.outcome(), v1::PROBE_CONNECT_FAILED);
  EXPECT_THAT(body.addresses(0).error(), HasSubstr("Connection refused"));
}

TEST_F(ProberTest, NonTlsListenerIsHandshakeFailed) {
  absl::StatusOr<std::unique_ptr<PlainTcpTestServer>> plain =
      PlainTcpTestServer::Start("127.0.0.1", PlainTcpTestServer::Behaviour::kGreetAndClose);
  ASSERT_TRUE(plain.ok()) << plain.status();
  resolver_.Set("site.example.test", std::vector<std::string>{"127.0.0.1"});
  absl::StatusOr<v1::SignedObservation> observation =
      MakeProber({"127.0.0.0/8"})->Probe(Task("site.example.test", (*plain)->port()));
  ASSERT_TRUE(observation.ok()) << observation.status();
  v1::ObservationBody body = VerifiedBody(*observation);
  EXPECT_EQ(body.outcome(), v1::PROBE_HANDSHAKE_FAILED);
  EXPECT_THAT(body.addresses(0).error(), HasSubstr("TLS handshake with 127.0.0.1"));
}

TEST_F(ProberTest, ResolutionFailureIsSignedData) {
  resolver_.Set("gone.example.test",
                absl::NotFoundError("hostname gone.example.test has no A or AAAA records"));
  absl::StatusOr<v1::SignedObservation> observation =
      MakeProber({"127.0.0.0/8"})->Probe(Task("gone.example.test", 443));
  ASSERT_TRUE(observation.ok()) << observation.status();
  v1::ObservationBody body = VerifiedBody(*observation);
  EXPECT_EQ(body.outcome(), v1::PROBE_RESOLUTION_FAILED);
  EXPECT_EQ(body.resolution_error(), "hostname gone.example.test has no A or AAAA records");
  EXPECT_THAT(body.resolved_addresses(), IsEmpty());
  EXPECT_THAT(body.addresses(), IsEmpty());

  resolver_.Set("slow.example.test", absl::DeadlineExceededError("no complete DNS answer"));
  observation = MakeProber({})->Probe(Task("slow.example.test", 443));
  ASSERT_TRUE(observation.ok()) << observation.status();
  EXPECT_EQ(VerifiedBody(*observation).outcome(), v1::PROBE_RESOLUTION_FAILED);
}

TEST_F(ProberTest, ResolverFaultIsAnError) {
  resolver_.Set("site.example.test", absl::InternalError("cannot create a DNS resolver channel"));
  absl::StatusOr<v1::SignedObservation> observation =
      MakeProber({})->Probe(Task("site.example.test", 443));
  ASSERT_FALSE(observation.ok());
  EXPECT_EQ(observation.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(observation.status().message(),
            "resolving site.example.test: cannot create a DNS resolver channel");
}

TEST_F(ProberTest, AddressesBeyondTheLimitAreNotProbed) {
  resolver_.Set("site.example.test",
                std::vector<std::string>{"127.0.0.1", "127.0.0.2", "127.0.0.3"});
  ProberLimits limits;
  limits.max_addresses_per_probe = 2;
  absl::StatusOr<v1::SignedObservation> observation =
      MakeProber({"127.0.0.0/8"}, limits)->Probe(Task("site.example.test", server_->port()));
  ASSERT_TRUE(observation.ok()) << observation.status();
  v1::ObservationBody body = VerifiedBody(*observation);
  ASSERT_EQ(body.addresses_size(), 3);
  EXPECT_EQ(body.addresses(0).outcome(), v1::PROBE_OK);
  // s_server listens on 127.0.0.1 only: 127.0.0.2 refuses.
  EXPECT_EQ(body.addresses(1).outcome(), v1::PROBE_CONNECT_FAILED);
  EXPECT_EQ(body.addresses(2).outcome(), v1::PROBE_OVERLOADED);
  EXPECT_THAT(body.addresses(2).error(), HasSubstr("max_addresses_per_probe (2)"));
  EXPECT_EQ(body.outcome(), v1::PROBE_CONNECT_FAILED);
  EXPECT_THAT(recording_fetcher_->fetched(),
              ::testing::UnorderedElementsAre("127.0.0.1", "127.0.0.2"));
}

TEST_F(ProberTest, AddressesAreProbedConcurrently) {
  // Three silent listeners on the same port of three loopback addresses; each handshake times out
  // after 600 ms. One after another that would take 1.8 s.
  absl::StatusOr<std::unique_ptr<PlainTcpTestServer>> first =
      PlainTcpTestServer::Start("127.0.0.1", PlainTcpTestServer::Behaviour::kStaySilent);
  ASSERT_TRUE(first.ok()) << first.status();
  const int port = (*first)->port();
  absl::StatusOr<std::unique_ptr<PlainTcpTestServer>> second =
      PlainTcpTestServer::Start("127.0.0.2", PlainTcpTestServer::Behaviour::kStaySilent, port);
  ASSERT_TRUE(second.ok()) << second.status();
  absl::StatusOr<std::unique_ptr<PlainTcpTestServer>> third =
      PlainTcpTestServer::Start("127.0.0.3", PlainTcpTestServer::Behaviour::kStaySilent, port);
  ASSERT_TRUE(third.ok()) << third.status();
  resolver_.Set("site.example.test",
                std::vector<std::string>{"127.0.0.1", "127.0.0.2", "127.0.0.3"});
  ProberLimits limits;
  limits.handshake_timeout = absl::Milliseconds(600);
  const absl::Time start = absl::Now();
  absl::StatusOr<v1::SignedObservation> observation =
      MakeProber({"127.0.0.0/8"}, limits)->Probe(Task("site.example.test", port));
  const absl::Duration elapsed = absl::Now() - start;
  ASSERT_TRUE(observation.ok()) << observation.status();
  v1::ObservationBody body = VerifiedBody(*observation);
  EXPECT_EQ(body.outcome(), v1::PROBE_HANDSHAKE_FAILED);
  for (const v1::AddressObservation& address : body.addresses()) {
    EXPECT_EQ(address.outcome(), v1::PROBE_HANDSHAKE_FAILED) << address.address();
    EXPECT_THAT(address.error(), HasSubstr("timed out after 600 ms"));
  }
  EXPECT_EQ((*first)->accepted_connections(), 1);
  EXPECT_EQ((*second)->accepted_connections(), 1);
  EXPECT_EQ((*third)->accepted_connections(), 1);
  EXPECT_LT(elapsed, absl::Milliseconds(1500));
}

TEST_F(ProberTest, InvalidTaskIsRejectedBeforeResolving) {
  std::unique_ptr<Prober> prober = MakeProber({"127.0.0.0/8"});
  v1::ProbeTask task = Task("Site.Example.Test", 443);
  absl::StatusOr<v1::SignedObservation> observation = prober->Probe(task);
  EXPECT_EQ(observation.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(observation.status().message(),
            "ProbeTask.hostname \"Site.Example.Test\": label \"Site\" has upper-case letters; "
            "hostnames are sent in their canonical lower-case form (DNS ignores case, RFC 4343)");
  EXPECT_THAT(recording_fetcher_->fetched(), IsEmpty());
}

TEST(ValidateProbeTaskTest, Hostnames) {
  const std::vector<std::string> valid = {
      "example.com", "a.b.c.example.org", "xn--bcher-kva.example", "1.example.com", "a-b.c-d.e",
      "localhost", "192.0.2.1", "2001:db8::1", "::ffff:127.0.0.1", std::string(63, 'a') + ".com",
      // 253 characters.
      std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') + "." +
          std::string(61, 'd')};
  for (const std::string& hostname : valid) {
    EXPECT_TRUE(ValidateProbeTaskHostname(hostname).ok())
        << hostname << ": " << ValidateProbeTaskHostname(hostname);
  }
  struct Invalid {
    std::string hostname;
    std::string why;
  };
  const std::vector<Invalid> invalid = {
      {"", "ProbeTask.hostname \"\": is empty"},
      {"Example.com", "label \"Example\" has upper-case letters"},
      {"example.com.", "ends with a dot"},
      {".example.com", "has an empty label (label 1"},
      {"a..example.com", "has an empty label (label 2"},
      {"under_score.example.com", "has \"_\" at position 6"},
      {"space .example.com", "has \" \" at position 6"},
      {"b\xc3\xbc"
       "cher.example",
       "A-labels"},
      {"-lead.example.com", "label \"-lead\" starts with a hyphen"},
      {"trail-.example.com", "label \"trail-\" ends with a hyphen"},
      {"ab--cd.example.com",
       "label \"ab--cd\" has \"--\" in positions 3-4, reserved for A-labels (RFC 5890 §2.3.1)"},
      {std::string(64, 'a') + ".com", "is 64 octets; a label has at most 63"},
      {std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') + "." +
           std::string(62, 'd'),
       "is 254 octets; a name has at most 253"},
      {"1.2.3", "all-numeric top-level label"},
      {"192.168.1.256", "all-numeric top-level label"},
      {"2001:DB8::1", "not in canonical form; write \"2001:db8::1\""},
      {"2001:db8:0::1", "not in canonical form; write \"2001:db8::1\""},
      {"[::1]", "has \"[\" at position 1"},
      {"example.com:443", "has \":\" at position 4"},
  };
  for (const Invalid& test_case : invalid) {
    absl::Status status = ValidateProbeTaskHostname(test_case.hostname);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << test_case.hostname;
    EXPECT_THAT(std::string(status.message()), HasSubstr(test_case.why)) << test_case.hostname;
  }
}

TEST(ValidateProbeTaskTest, Fields) {
  v1::ProbeTask task = Task("example.com", 443);
  EXPECT_TRUE(ValidateProbeTask(task).ok());

  for (uint32_t port : {0u, 65536u, 100000u}) {
    v1::ProbeTask bad = task;
    bad.set_port(port);
    absl::Status status = ValidateProbeTask(bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message(), "ProbeTask.port " + std::to_string(port) + " is outside 1..65535");
  }
  for (uint32_t port : {1u, 65535u}) {
    v1::ProbeTask good = task;
    good.set_port(port);
    EXPECT_TRUE(ValidateProbeTask(good).ok());
  }
  for (size_t length : {0, 31, 33}) {
    v1::ProbeTask bad = task;
    bad.set_vouching_request_sha256(std::string(length, 'h'));
    absl::Status status = ValidateProbeTask(bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message(),
              "ProbeTask.vouching_request_sha256 must be 32 bytes (SHA-256), not " +
                  std::to_string(length));
  }
  for (size_t length : {0, 15, 65}) {
    v1::ProbeTask bad = task;
    bad.set_nonce(std::string(length, 'n'));
    absl::Status status = ValidateProbeTask(bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message(),
              "ProbeTask.nonce must be 16..64 bytes, not " + std::to_string(length));
  }
  for (size_t length : {16, 64}) {
    v1::ProbeTask good = task;
    good.set_nonce(std::string(length, 'n'));
    EXPECT_TRUE(ValidateProbeTask(good).ok());
  }
}

TEST(ValidateProbeTaskTest, KeyTypes) {
  v1::ProbeTask task = Task("example.com", 443);
  for (v1::CertificateKeyType key_type :
       {v1::KEY_TYPE_EC_P256, v1::KEY_TYPE_EC_P384, v1::KEY_TYPE_RSA, v1::KEY_TYPE_ED25519}) {
    task.add_certificate_key_types(key_type);
  }
  EXPECT_TRUE(ValidateProbeTask(task).ok());
  struct Invalid {
    std::vector<int> key_types;
    std::string message;
  };
  for (const Invalid& test_case : std::vector<Invalid>{
           {{0},
            "ProbeTask.certificate_key_types[0]: certificate key type 0 "
            "(CERTIFICATE_KEY_TYPE_UNSPECIFIED) is not one a probe agent can ask a server for "
            "(EC P-256, EC P-384, RSA, Ed25519)"},
           {{3, 5},
            "ProbeTask.certificate_key_types[1]: certificate key type 5 is not one a probe agent "
            "can ask a server for (EC P-256, EC P-384, RSA, Ed25519)"},
           {{1, 3, 1}, "ProbeTask.certificate_key_types names EC P-256 twice"},
       }) {
    v1::ProbeTask bad = Task("example.com", 443);
    for (int key_type : test_case.key_types) {
      bad.add_certificate_key_types(static_cast<v1::CertificateKeyType>(key_type));
    }
    absl::Status status = ValidateProbeTask(bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << test_case.message;
    EXPECT_EQ(status.message(), test_case.message);
  }
}

TEST(OverallOutcomeTest, Table) {
  using Outcomes = std::vector<v1::ProbeOutcome>;
  struct Case {
    Outcomes addresses;
    v1::ProbeOutcome overall;
  };
  const std::vector<Case> cases = {
      {{}, v1::PROBE_RESOLUTION_FAILED},
      {{v1::PROBE_OK}, v1::PROBE_OK},
      {{v1::PROBE_OK, v1::PROBE_OK, v1::PROBE_OK}, v1::PROBE_OK},
      {{v1::PROBE_FORBIDDEN_ADDRESS}, v1::PROBE_FORBIDDEN_ADDRESS},
      {{v1::PROBE_FORBIDDEN_ADDRESS, v1::PROBE_FORBIDDEN_ADDRESS}, v1::PROBE_FORBIDDEN_ADDRESS},
      {{v1::PROBE_OK, v1::PROBE_CONNECT_FAILED}, v1::PROBE_CONNECT_FAILED},
      {{v1::PROBE_OK, v1::PROBE_HANDSHAKE_FAILED, v1::PROBE_CONNECT_FAILED},
       v1::PROBE_HANDSHAKE_FAILED},
      {{v1::PROBE_FORBIDDEN_ADDRESS, v1::PROBE_CONNECT_FAILED}, v1::PROBE_FORBIDDEN_ADDRESS},
      {{v1::PROBE_OK, v1::PROBE_FORBIDDEN_ADDRESS}, v1::PROBE_FORBIDDEN_ADDRESS},
      {{v1::PROBE_OK, v1::PROBE_OVERLOADED}, v1::PROBE_OVERLOADED},
  };
  for (const Case& test_case : cases) {
    std::vector<v1::AddressObservation> addresses;
    for (v1::ProbeOutcome outcome : test_case.addresses) {
      addresses.emplace_back().set_outcome(outcome);
    }
    EXPECT_EQ(OverallOutcome(addresses), test_case.overall)
        << ::testing::PrintToString(test_case.addresses);
  }
}

}  // namespace
}  // namespace probe_agent
}  // namespace mecai
