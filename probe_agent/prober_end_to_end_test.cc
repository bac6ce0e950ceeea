// The prober with every real component: dnsmasq as the agent's resolver (through CaresResolver),
// openssl s_server on 127.0.0.1 and ::1 as the target, OpenSSL as the TLS client, and a P-256
// agent key. Includes the split view the MECAI design exists to catch: one address of the name
// serving a different certificate.
#include <memory>
#include <string>
#include <vector>

#include "common/base/clock.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/crypto/signed_object.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "probe_agent/prober.h"
#include "probe_agent/testing/test_servers.h"
#include "probe_agent/testing/test_tls_library.h"

namespace mecai {
namespace probe_agent {
namespace {

using ::mecai::test_support::DnsmasqTestServer;
using ::mecai::test_support::OpenSslTestServer;
using ::mecai::test_support::TestCertificate;
using ::testing::ElementsAre;

class ProberEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (test_support::FindDnsmasq().empty()) GTEST_SKIP() << "dnsmasq is not installed";
    const std::string directory = test_support::TestTemporaryDirectory();
    absl::StatusOr<TestCertificate> genuine =
        test_support::WriteSelfSignedCertificate(directory, "genuine", "www.example.test");
    ASSERT_TRUE(genuine.ok()) << genuine.status();
    genuine_ = *genuine;
    absl::StatusOr<TestCertificate> impostor =
        test_support::WriteSelfSignedCertificate(directory, "impostor", "www.example.test");
    ASSERT_TRUE(impostor.ok()) << impostor.status();
    impostor_ = *impostor;

    absl::StatusOr<std::unique_ptr<DnsmasqTestServer>> dnsmasq = DnsmasqTestServer::Start(
        {"--local=/example.test/", "--host-record=www.example.test,127.0.0.1,::1"});
    ASSERT_TRUE(dnsmasq.ok()) << dnsmasq.status();
    dnsmasq_ = std::move(*dnsmasq);
    v1::ResolverConfig resolver_config;
    resolver_config.add_nameservers(dnsmasq_->nameserver());
    absl::StatusOr<std::unique_ptr<CaresResolver>> resolver =
        CaresResolver::Create(resolver_config);
    ASSERT_TRUE(resolver.ok()) << resolver.status();
    resolver_ = std::move(*resolver);
    absl::StatusOr<std::unique_ptr<EngineTlsFetcher>> fetcher =
        EngineTlsFetcher::Create(test_support::TestEngineOptions());
    ASSERT_TRUE(fetcher.ok()) << fetcher.status();
    fetcher_ = std::move(*fetcher);

    EvpPkeyPtr key(EVP_EC_gen("P-256"));
    ASSERT_NE(key, nullptr);
    absl::StatusOr<EvpPkeyPtr> public_key = ParsePemPublicKey(PublicKeyToPem(key.get()));
    ASSERT_TRUE(public_key.ok());
    public_key_ = std::move(*public_key);
    absl::StatusOr<std::unique_ptr<InMemorySigningKey>> signing_key =
        InMemorySigningKey::Create(std::move(key));
    ASSERT_TRUE(signing_key.ok());
    signing_key_ = std::move(*signing_key);
  }

  // s_server on 127.0.0.1 with `ipv4_certificate` and on ::1, same port, with `ipv6_certificate`.
  void StartTargets(const TestCertificate& ipv4_certificate,
                    const TestCertificate& ipv6_certificate) {
    OpenSslTestServer::Options ipv4;
    ipv4.certificate = ipv4_certificate;
    absl::StatusOr<std::unique_ptr<OpenSslTestServer>> first = OpenSslTestServer::Start(ipv4);
    ASSERT_TRUE(first.ok()) << first.status();
    ipv4_target_ = std::move(*first);
    OpenSslTestServer::Options ipv6;
    ipv6.host = "::1";
    ipv6.port = ipv4_target_->port();
    ipv6.certificate = ipv6_certificate;
    absl::StatusOr<std::unique_ptr<OpenSslTestServer>> second = OpenSslTestServer::Start(ipv6);
    ASSERT_TRUE(second.ok()) << second.status();
    ipv6_target_ = std::move(*second);
  }

  v1::ObservationBody ProbeAndVerify(const std::vector<std::string>& allowed_ranges) {
    absl::StatusOr<AddressPolicy> policy = AddressPolicy::Create(allowed_ranges);
    EXPECT_TRUE(policy.ok());
    v1::Perspective perspective;
    perspective.set_id("e2e-1a");
    perspective.set_region("e2e-1");
    Prober prober(perspective, *resolver_, *fetcher_, std::move(*policy), *signing_key_,
                  SystemClock::Get(), ProberLimits());
    v1::ProbeTask task;
    task.set_hostname("www.example.test");
    task.set_port(static_cast<uint32_t>(ipv4_target_->port()));
    task.set_vouching_request_sha256(Sha256("VR"));
    task.set_nonce(std::string(16, 'n'));
    absl::StatusOr<v1::SignedObservation> observation = prober.Probe(task);
    EXPECT_TRUE(observation.ok()) << observation.status();
    v1::ObservationBody body;
    if (!observation.ok()) return body;
    EXPECT_TRUE(VerifyObject(public_key_.get(), SignedObject::kObservation,
                             observation->signature(), observation->tbs())
                    .ok());
    EXPECT_TRUE(body.ParseFromString(observation->tbs()));
    return body;
  }

  TestCertificate genuine_;
  TestCertificate impostor_;
  std::unique_ptr<DnsmasqTestServer> dnsmasq_;
  std::unique_ptr<OpenSslTestServer> ipv4_target_;
  std::unique_ptr<OpenSslTestServer> ipv6_target_;
  std::unique_ptr<CaresResolver> resolver_;
  std::unique_ptr<EngineTlsFetcher> fetcher_;
  EvpPkeyPtr public_key_;
  std::unique_ptr<InMemorySigningKey> signing_key_;
};

TEST_F(ProberEndToEndTest, EveryResolvedAddressIsProbed) {
  StartTargets(genuine_, genuine_);
  v1::ObservationBody body = ProbeAndVerify({"127.0.0.0/8", "::1/128"});
  EXPECT_EQ(body.outcome(), v1::PROBE_OK);
  EXPECT_THAT(body.resolved_addresses(), ElementsAre("127.0.0.1", "::1"));
  ASSERT_EQ(body.addresses_size(), 2);
  for (const v1::AddressObservation& address : body.addresses()) {
    EXPECT_EQ(address.outcome(), v1::PROBE_OK) << address.address() << ": " << address.error();
    EXPECT_THAT(address.certificate_chain_der(), ElementsAre(genuine_.der));
  }
}

TEST_F(ProberEndToEndTest, AnImpostorAtOneAddressIsRecorded) {
  StartTargets(genuine_, impostor_);
  v1::ObservationBody body = ProbeAndVerify({"127.0.0.0/8", "::1/128"});
  // The agent reports what it saw; the coordinator refuses on the mismatch (trust rule 3).
  EXPECT_EQ(body.outcome(), v1::PROBE_OK);
  ASSERT_EQ(body.addresses_size(), 2);
  EXPECT_EQ(body.addresses(0).address(), "127.0.0.1");
  EXPECT_EQ(body.addresses(0).leaf_sha256(), Sha256(genuine_.der));
  EXPECT_EQ(body.addresses(1).address(), "::1");
  EXPECT_EQ(body.addresses(1).leaf_sha256(), Sha256(impostor_.der));
}

TEST_F(ProberEndToEndTest, LoopbackIsForbiddenWithoutAllowlist) {
  StartTargets(genuine_, genuine_);
  v1::ObservationBody body = ProbeAndVerify({});
  EXPECT_EQ(body.outcome(), v1::PROBE_FORBIDDEN_ADDRESS);
  ASSERT_EQ(body.addresses_size(), 2);
  EXPECT_EQ(body.addresses(0).outcome(), v1::PROBE_FORBIDDEN_ADDRESS);
  EXPECT_EQ(body.addresses(1).outcome(), v1::PROBE_FORBIDDEN_ADDRESS);
}

TEST_F(ProberEndToEndTest, OnlyAllowlistedFamilyIsProbed) {
  StartTargets(genuine_, genuine_);
  v1::ObservationBody body = ProbeAndVerify({"127.0.0.0/8"});
  EXPECT_EQ(body.outcome(), v1::PROBE_FORBIDDEN_ADDRESS);
  ASSERT_EQ(body.addresses_size(), 2);
  EXPECT_EQ(body.addresses(0).outcome(), v1::PROBE_OK);
  EXPECT_EQ(body.addresses(1).outcome(), v1::PROBE_FORBIDDEN_ADDRESS);
}

}  // namespace
}  // namespace probe_agent
}  // namespace mecai
