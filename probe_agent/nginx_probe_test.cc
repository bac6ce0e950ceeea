// The whole agent probe path against real servers (ARCHITECTURE.md §9): dnsmasq as the agent's own
// resolver (an addn-hosts file with several A records for one name), nginx serving two SNI vhosts,
// a TLS-1.2-only and a TLS-1.3-only server, an RSA and an ECDSA certificate for one name (two
// ssl_certificate lines, in TLS 1.2 and in TLS 1.3) and, at one of a name's addresses, a different
// certificate; a listener that accepts and never answers; NXDOMAIN; a name resolving to a private
// address.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/base/clock.h"
#include "common/base/files.h"
#include "common/crypto/hashing.h"
#include "common/crypto/signature.h"
#include "common/net/address_policy.h"
#include "common/pki/pki_builder.h"
#include "common/process/child_process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "probe_agent/prober.h"
#include "probe_agent/resolver.h"
#include "probe_agent/testing/test_servers.h"
#include "probe_agent/testing/test_tls_library.h"
#include "probe_agent/tls_fetcher.h"

namespace mecai {
namespace probe_agent {
namespace {

using ::mecai::test_support::DnsmasqTestServer;
using ::mecai::test_support::NginxTestServer;
using ::mecai::test_support::PlainTcpTestServer;
using ::mecai::test_support::TestCertificate;
using ::mecai::test_support::TestKey;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

struct Fixture {
  TestCertificate site, impostor, one, two, dual_ecdsa, dual_rsa;
  int multi_port = 0, vhost_port = 0, tls12_port = 0, tls13_port = 0, dual12_port = 0,
      dual13_port = 0;
  std::unique_ptr<NginxTestServer> nginx;
  std::unique_ptr<DnsmasqTestServer> dns;
  std::unique_ptr<PlainTcpTestServer> silent;
};
Fixture* fixture = nullptr;

std::string SslServer(const std::string& listen, const TestCertificate& certificate,
                      const std::string& extra = "") {
  return absl::StrCat("  server {\n", listen, "    ssl_certificate ", certificate.certificate_path,
                      ";\n    ssl_certificate_key ", certificate.key_path, ";\n", extra,
                      "    return 204;\n  }\n");
}

// A second certificate of a server block (nginx: every ssl_certificate line adds one).
std::string DualCertificate(const TestCertificate& certificate) {
  return absl::StrCat("    ssl_certificate ", certificate.certificate_path,
                      ";\n    ssl_certificate_key ", certificate.key_path, ";\n");
}

class NginxProbeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (test_support::FindNginx().empty() || test_support::FindDnsmasq().empty()) return;
    auto* f = new Fixture();
    const std::string directory = test_support::TestTemporaryDirectory();
    auto make = [&](const char* stem, const char* name, TestCertificate* out,
                    TestKey key = TestKey::kEcP256) {
      absl::StatusOr<TestCertificate> certificate =
          test_support::WriteSelfSignedCertificate(directory, stem, name, key);
      ASSERT_TRUE(certificate.ok()) << certificate.status();
      *out = *certificate;
    };
    make("site", "multi.example.test", &f->site);
    make("impostor", "multi.example.test", &f->impostor);
    make("one", "one.example.test", &f->one);
    make("two", "two.example.test", &f->two);
    make("dual-ecdsa", "dual.example.test", &f->dual_ecdsa);
    make("dual-rsa", "dual.example.test", &f->dual_rsa, TestKey::kRsa2048);
    for (int* port : {&f->multi_port, &f->vhost_port, &f->tls12_port, &f->tls13_port,
                      &f->dual12_port, &f->dual13_port}) {
      absl::StatusOr<int> free_port = PickFreeTcpPort();
      ASSERT_TRUE(free_port.ok());
      *port = *free_port;
    }
    const auto listen = [](const std::string& address, int port) {
      return absl::StrCat("    listen ", address, ":", port, " ssl;\n");
    };
    std::string servers =
        // Two of multi.example.test's three addresses serve its certificate, the third another.
        SslServer(listen("127.0.0.1", f->multi_port) + listen("127.0.0.2", f->multi_port),
                  f->site) +
        SslServer(listen("127.0.0.3", f->multi_port), f->impostor) +
        // Two name-based vhosts on one port, chosen by SNI (RFC 6066 §3).
        SslServer(listen("127.0.0.1", f->vhost_port), f->one,
                  "    server_name one.example.test;\n") +
        SslServer(listen("127.0.0.1", f->vhost_port), f->two,
                  "    server_name two.example.test;\n") +
        SslServer(listen("127.0.0.1", f->tls12_port), f->site, "    ssl_protocols TLSv1.2;\n") +
        SslServer(listen("127.0.0.1", f->tls13_port), f->site, "    ssl_protocols TLSv1.3;\n") +
        // An ECDSA and an RSA certificate for one name: nginx presents the one the ClientHello
        // selects (docs/PROTOCOL.md "Key-typed handshakes").
        SslServer(listen("127.0.0.1", f->dual12_port), f->dual_ecdsa,
                  DualCertificate(f->dual_rsa) + "    ssl_protocols TLSv1.2;\n") +
        SslServer(listen("127.0.0.1", f->dual13_port), f->dual_ecdsa,
                  DualCertificate(f->dual_rsa) + "    ssl_protocols TLSv1.3;\n");
    absl::StatusOr<std::unique_ptr<NginxTestServer>> nginx =
        NginxTestServer::Start(servers, {{"127.0.0.1", f->multi_port},
                                         {"127.0.0.2", f->multi_port},
                                         {"127.0.0.3", f->multi_port},
                                         {"127.0.0.1", f->vhost_port},
                                         {"127.0.0.1", f->tls12_port},
                                         {"127.0.0.1", f->tls13_port},
                                         {"127.0.0.1", f->dual12_port},
                                         {"127.0.0.1", f->dual13_port}});
    ASSERT_TRUE(nginx.ok()) << nginx.status();
    f->nginx = std::move(*nginx);

    const std::string hosts = directory + "/agent_hosts";
    ASSERT_TRUE(WriteFileAtomically(hosts,
                                    "127.0.0.1 multi.example.test\n"
                                    "127.0.0.2 multi.example.test\n"
                                    "127.0.0.3 multi.example.test\n"
                                    "127.0.0.1 one.example.test two.example.test\n"
                                    "127.0.0.1 tls12.example.test tls13.example.test\n"
                                    "127.0.0.1 dual.example.test\n"
                                    "127.0.0.1 silent.example.test\n"
                                    "10.1.2.3 private.example.test\n")
                    .ok());
    absl::StatusOr<std::unique_ptr<DnsmasqTestServer>> dns =
        DnsmasqTestServer::Start({"--addn-hosts=" + hosts, "--address=/missing.example.test/"});
    ASSERT_TRUE(dns.ok()) << dns.status();
    f->dns = std::move(*dns);
    absl::StatusOr<std::unique_ptr<PlainTcpTestServer>> silent =
        PlainTcpTestServer::Start("127.0.0.1", PlainTcpTestServer::Behaviour::kStaySilent);
    ASSERT_TRUE(silent.ok()) << silent.status();
    f->silent = std::move(*silent);
    fixture = f;
  }
  static void TearDownTestSuite() {
    delete fixture;
    fixture = nullptr;
  }

  void SetUp() override {
    if (fixture == nullptr) GTEST_SKIP() << "nginx or dnsmasq is not installed";
    v1::ResolverConfig resolver_config;
    resolver_config.add_nameservers(fixture->dns->nameserver());
    absl::StatusOr<std::unique_ptr<CaresResolver>> resolver =
        CaresResolver::Create(resolver_config);
    ASSERT_TRUE(resolver.ok()) << resolver.status();
    resolver_ = std::move(*resolver);
    absl::StatusOr<std::unique_ptr<EngineTlsFetcher>> fetcher =
        EngineTlsFetcher::Create(test_support::TestEngineOptions());
    ASSERT_TRUE(fetcher.ok()) << fetcher.status();
    fetcher_ = std::move(*fetcher);
    absl::StatusOr<EvpPkeyPtr> key = GenerateEd25519Key();
    ASSERT_TRUE(key.ok());
    absl::StatusOr<std::unique_ptr<InMemorySigningKey>> signing_key =
        InMemorySigningKey::Create(std::move(*key));
    ASSERT_TRUE(signing_key.ok());
    signing_key_ = std::move(*signing_key);
    absl::StatusOr<AddressPolicy> policy = AddressPolicy::Create({"127.0.0.0/8"});
    ASSERT_TRUE(policy.ok());
    v1::Perspective perspective;
    perspective.set_id("nginx-1a");
    perspective.set_region("test-1");
    ProberLimits limits;
    limits.handshake_timeout = absl::Milliseconds(500);
    limits.resolution_timeout = absl::Seconds(2);
    prober_ = std::make_unique<Prober>(perspective, *resolver_, *fetcher_, std::move(*policy),
                                       *signing_key_, SystemClock::Get(), limits);
  }

  v1::ObservationBody Probe(const std::string& hostname, int port,
                            absl::Time deadline = absl::InfiniteFuture(),
                            const std::vector<v1::CertificateKeyType>& key_types = {}) {
    v1::ProbeTask task;
    task.set_hostname(hostname);
    task.set_port(static_cast<uint32_t>(port));
    task.set_vouching_request_sha256(Sha256("vr"));
    task.set_nonce(std::string(16, 'n'));
    for (v1::CertificateKeyType key_type : key_types) task.add_certificate_key_types(key_type);
    absl::StatusOr<v1::SignedObservation> observation = prober_->Probe(task, deadline);
    EXPECT_TRUE(observation.ok()) << observation.status();
    v1::ObservationBody body;
    if (observation.ok()) {
      EXPECT_EQ(observation->signature().algorithm(), v1::ED25519);
      EXPECT_TRUE(body.ParseFromString(observation->tbs()));
    }
    return body;
  }

  std::unique_ptr<CaresResolver> resolver_;
  std::unique_ptr<EngineTlsFetcher> fetcher_;
  std::unique_ptr<InMemorySigningKey> signing_key_;
  std::unique_ptr<Prober> prober_;
};

TEST_F(NginxProbeTest, OneAddressOfSeveralServesAnotherCertificate) {
  const v1::ObservationBody body = Probe("multi.example.test", fixture->multi_port);
  EXPECT_EQ(body.a_resolution(), v1::RESOLUTION_NOERROR);
  // dnsmasq without upstream servers answers REFUSED for a type its hosts file lacks.
  EXPECT_EQ(body.aaaa_resolution(), v1::RESOLUTION_REFUSED);
  // dnsmasq rotates the order of the records it answers with.
  EXPECT_THAT(body.resolved_addresses(),
              UnorderedElementsAre("127.0.0.1", "127.0.0.2", "127.0.0.3"));
  EXPECT_EQ(body.outcome(), v1::PROBE_OK);
  ASSERT_EQ(body.addresses_size(), 3);
  const std::string expected = Sha256(fixture->site.der);
  // Every address is reported on its own, so the coordinator sees the mismatch at 127.0.0.3
  // (trust rule 3: any mismatch refuses).
  std::vector<std::string> mismatched;
  for (const v1::AddressObservation& address : body.addresses()) {
    ASSERT_EQ(address.outcome(), v1::PROBE_OK) << address.error();
    EXPECT_EQ(address.tls_version(), "TLSv1.3");
    EXPECT_FALSE(address.cipher().empty());
    EXPECT_EQ(address.chain_sha256(), Sha256(address.certificate_chain_der(0)));
    if (address.leaf_sha256() != expected) mismatched.push_back(address.address());
  }
  EXPECT_THAT(mismatched, ElementsAre("127.0.0.3"));
  for (const v1::AddressObservation& address : body.addresses()) {
    if (address.address() == "127.0.0.3") {
      EXPECT_EQ(address.leaf_sha256(), Sha256(fixture->impostor.der));
    }
  }
}

TEST_F(NginxProbeTest, SniSelectsTheVhost) {
  const v1::ObservationBody one = Probe("one.example.test", fixture->vhost_port);
  ASSERT_EQ(one.addresses_size(), 1);
  EXPECT_EQ(one.addresses(0).leaf_sha256(), Sha256(fixture->one.der));
  const v1::ObservationBody two = Probe("two.example.test", fixture->vhost_port);
  ASSERT_EQ(two.addresses_size(), 1);
  EXPECT_EQ(two.addresses(0).leaf_sha256(), Sha256(fixture->two.der));
}

TEST_F(NginxProbeTest, TlsOnePointTwoAndOnePointThreeOnlyServers) {
  const v1::ObservationBody tls12 = Probe("tls12.example.test", fixture->tls12_port);
  ASSERT_EQ(tls12.addresses_size(), 1);
  EXPECT_EQ(tls12.addresses(0).outcome(), v1::PROBE_OK) << tls12.addresses(0).error();
  EXPECT_EQ(tls12.addresses(0).tls_version(), "TLSv1.2");
  EXPECT_THAT(tls12.addresses(0).cipher(), HasSubstr("TLS_ECDHE_ECDSA_WITH_"));
  const v1::ObservationBody tls13 = Probe("tls13.example.test", fixture->tls13_port);
  ASSERT_EQ(tls13.addresses_size(), 1);
  EXPECT_EQ(tls13.addresses(0).outcome(), v1::PROBE_OK) << tls13.addresses(0).error();
  EXPECT_EQ(tls13.addresses(0).tls_version(), "TLSv1.3");
  EXPECT_EQ(tls13.addresses(0).key_exchange_group(), "X25519");
}

// docs/PROTOCOL.md "Key-typed handshakes": the probe for a VR of the ECDSA certificate sees the
// ECDSA certificate, for one of the RSA certificate the RSA certificate, in TLS 1.2 and in TLS 1.3;
// a rollover VR naming both is asked for both at the address.
TEST_F(NginxProbeTest, KeyTypedHandshakesSeeEachCertificateOfADualCertificateServer) {
  const std::string ecdsa = Sha256(fixture->dual_ecdsa.der);
  const std::string rsa = Sha256(fixture->dual_rsa.der);
  for (const auto& [port, version] : {std::make_pair(fixture->dual12_port, "TLSv1.2"),
                                      std::make_pair(fixture->dual13_port, "TLSv1.3")}) {
    SCOPED_TRACE(version);
    const v1::ObservationBody for_ecdsa =
        Probe("dual.example.test", port, absl::InfiniteFuture(), {v1::KEY_TYPE_EC_P256});
    EXPECT_THAT(for_ecdsa.certificate_key_types(), ElementsAre(v1::KEY_TYPE_EC_P256));
    ASSERT_EQ(for_ecdsa.addresses_size(), 1);
    const v1::AddressObservation& ecdsa_handshake = for_ecdsa.addresses(0);
    ASSERT_EQ(ecdsa_handshake.outcome(), v1::PROBE_OK) << ecdsa_handshake.error();
    EXPECT_EQ(ecdsa_handshake.requested_key_type(), v1::KEY_TYPE_EC_P256);
    EXPECT_EQ(ecdsa_handshake.leaf_sha256(), ecdsa);
    EXPECT_EQ(ecdsa_handshake.tls_version(), version);

    const v1::ObservationBody for_rsa =
        Probe("dual.example.test", port, absl::InfiniteFuture(), {v1::KEY_TYPE_RSA});
    ASSERT_EQ(for_rsa.addresses_size(), 1);
    const v1::AddressObservation& rsa_handshake = for_rsa.addresses(0);
    ASSERT_EQ(rsa_handshake.outcome(), v1::PROBE_OK) << rsa_handshake.error();
    EXPECT_EQ(rsa_handshake.requested_key_type(), v1::KEY_TYPE_RSA);
    EXPECT_EQ(rsa_handshake.leaf_sha256(), rsa);
    EXPECT_EQ(rsa_handshake.tls_version(), version);
    if (std::string(version) == "TLSv1.2") {
      // The suite names the authentication the key type selected (RFC 8422 §2).
      EXPECT_THAT(ecdsa_handshake.cipher(), HasSubstr("TLS_ECDHE_ECDSA_WITH_"));
      EXPECT_THAT(rsa_handshake.cipher(), HasSubstr("_RSA_WITH_"));
    }

    const v1::ObservationBody for_both = Probe("dual.example.test", port, absl::InfiniteFuture(),
                                               {v1::KEY_TYPE_EC_P256, v1::KEY_TYPE_RSA});
    EXPECT_EQ(for_both.outcome(), v1::PROBE_OK);
    ASSERT_EQ(for_both.addresses_size(), 2);
    EXPECT_EQ(for_both.addresses(0).requested_key_type(), v1::KEY_TYPE_EC_P256);
    EXPECT_EQ(for_both.addresses(0).leaf_sha256(), ecdsa);
    EXPECT_EQ(for_both.addresses(1).requested_key_type(), v1::KEY_TYPE_RSA);
    EXPECT_EQ(for_both.addresses(1).leaf_sha256(), rsa);

    // The agent's whole default offer is shown only the certificate nginx prefers for it, the
    // ECDSA one: without key-typed handshakes the RSA certificate is never seen.
    const v1::ObservationBody by_default = Probe("dual.example.test", port);
    ASSERT_EQ(by_default.addresses_size(), 1);
    EXPECT_EQ(by_default.addresses(0).requested_key_type(), v1::CERTIFICATE_KEY_TYPE_UNSPECIFIED);
    EXPECT_EQ(by_default.addresses(0).leaf_sha256(), ecdsa);
  }
}

// A server without a certificate of the asked key type refuses that handshake.
TEST_F(NginxProbeTest, AServerWithoutTheAskedKeyTypeFailsThatHandshake) {
  for (const auto& [port, version] : {std::make_pair(fixture->tls12_port, "TLSv1.2"),
                                      std::make_pair(fixture->tls13_port, "TLSv1.3")}) {
    SCOPED_TRACE(version);
    const v1::ObservationBody body =
        Probe("tls12.example.test", port, absl::InfiniteFuture(), {v1::KEY_TYPE_RSA});
    EXPECT_EQ(body.outcome(), v1::PROBE_HANDSHAKE_FAILED);
    ASSERT_EQ(body.addresses_size(), 1);
    EXPECT_EQ(body.addresses(0).requested_key_type(), v1::KEY_TYPE_RSA);
    EXPECT_EQ(body.addresses(0).error_class(), v1::TLS_ALERT);
    EXPECT_EQ(body.addresses(0).tls_alert(), 40u);  // handshake_failure (RFC 8446 §6.2).
    EXPECT_TRUE(body.addresses(0).leaf_sha256().empty());
  }
}

TEST_F(NginxProbeTest, NxdomainIsItsOwnResolutionOutcome) {
  const v1::ObservationBody body = Probe("missing.example.test", fixture->multi_port);
  EXPECT_EQ(body.outcome(), v1::PROBE_RESOLUTION_FAILED);
  EXPECT_EQ(body.a_resolution(), v1::RESOLUTION_NXDOMAIN);
  EXPECT_EQ(body.aaaa_resolution(), v1::RESOLUTION_NXDOMAIN);
  EXPECT_TRUE(body.addresses().empty());
  EXPECT_THAT(body.resolution_error(), HasSubstr("missing.example.test"));
}

TEST_F(NginxProbeTest, SilentListenerIsHandshakeTimeoutWithinTheDeadline) {
  const absl::Time deadline = absl::Now() + absl::Seconds(3);
  const v1::ObservationBody body = Probe("silent.example.test", fixture->silent->port(), deadline);
  EXPECT_LT(absl::Now(), deadline);
  EXPECT_EQ(body.outcome(), v1::PROBE_HANDSHAKE_FAILED);
  ASSERT_EQ(body.addresses_size(), 1);
  EXPECT_EQ(body.addresses(0).error_class(), v1::HANDSHAKE_TIMEOUT);
  EXPECT_GE(body.addresses(0).handshake_milliseconds(), 490u);
  EXPECT_LE(body.finished_at_unix_milliseconds(), absl::ToUnixMillis(deadline));
}

TEST_F(NginxProbeTest, PrivateAddressIsRefusedByTheGuard) {
  const v1::ObservationBody body = Probe("private.example.test", 443);
  EXPECT_EQ(body.outcome(), v1::PROBE_FORBIDDEN_ADDRESS);
  EXPECT_THAT(body.resolved_addresses(), ElementsAre("10.1.2.3"));
  ASSERT_EQ(body.addresses_size(), 1);
  EXPECT_EQ(body.addresses(0).error_class(), v1::FORBIDDEN);
  EXPECT_THAT(body.addresses(0).error(), HasSubstr("10.0.0.0/8, private use (RFC 1918)"));
  EXPECT_EQ(fetcher_->engine().in_flight(), 0);
}

}  // namespace
}  // namespace probe_agent
}  // namespace mecai
