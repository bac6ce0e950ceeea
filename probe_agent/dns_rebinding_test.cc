// DNS rebinding against the probe agent, end to end (docs/SECURITY.md, threat T5; trust rule 6):
// the agent's own resolver (a real dnsmasq through CaresResolver) answers an allowed address, and
// the moment that answer has been given, the name is rebound to a forbidden address with TTL 0.
// The agent must connect only to the address it checked and never ask DNS again within the probe;
// a listener at the forbidden address counts every connection that reaches it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/base/clock.h"
#include "common/base/files.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
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
using ::mecai::test_support::PlainTcpTestServer;
using ::mecai::test_support::TestCertificate;
using ::testing::ElementsAre;

constexpr char kName[] = "rebind.example.test";
constexpr char kAllowedAddress[] = "127.0.0.1";
constexpr char kForbiddenAddress[] = "127.0.0.2";

// Points kName at `address` in dnsmasq's hosts directory: the file is written beside the directory
// and renamed into it, so dnsmasq's inotify watch sees one complete file appear.
bool WriteHostsFile(const std::string& hosts_file, const std::string& address) {
  const std::string staged = absl::StrCat(hosts_file, ".staged");
  return WriteFileAtomically(staged, absl::StrCat(address, " ", kName, "\n")).ok() &&
         std::rename(staged.c_str(), hosts_file.c_str()) == 0;
}

// The agent's real resolver, and after each answer it hands to the prober, the attacker's move:
// the name's hosts file in dnsmasq's --hostsdir is replaced so that it names the forbidden
// address, and the switch is confirmed by asking dnsmasq directly before the prober goes on. So
// any second resolution by the agent would see the forbidden address.
class RebindingResolver : public Resolver {
 public:
  RebindingResolver(Resolver& agent_resolver, Resolver& attacker_view, std::string hosts_file)
      : agent_resolver_(agent_resolver),
        attacker_view_(attacker_view),
        hosts_file_(std::move(hosts_file)) {}

  absl::StatusOr<std::vector<std::string>> Resolve(const std::string& hostname,
                                                   absl::Duration timeout) override {
    absl::StatusOr<Resolution> resolution = ResolveWithOutcomes(hostname, timeout);
    if (!resolution.ok()) return resolution.status();
    if (!resolution->failure.ok()) return resolution->failure;
    return resolution->addresses;
  }

  absl::StatusOr<Resolution> ResolveWithOutcomes(const std::string& hostname,
                                                 absl::Duration timeout) override {
    absl::StatusOr<Resolution> resolution = agent_resolver_.ResolveWithOutcomes(hostname, timeout);
    absl::MutexLock lock(&mutex_);
    ++resolutions_;
    rebound_ = Rebind();
    return resolution;
  }

  int resolutions() const {
    absl::MutexLock lock(&mutex_);
    return resolutions_;
  }
  // Whether the last rebinding was seen in dnsmasq's answers before the prober continued.
  bool rebound() const {
    absl::MutexLock lock(&mutex_);
    return rebound_;
  }

 private:
  bool Rebind() {
    if (!WriteHostsFile(hosts_file_, kForbiddenAddress)) return false;
    // dnsmasq re-reads the file on its inotify event; wait (bounded) until it answers with it.
    for (int attempt = 0; attempt < 100; ++attempt) {
      absl::StatusOr<std::vector<std::string>> now =
          attacker_view_.Resolve(kName, absl::Seconds(2));
      if (now.ok() && *now == std::vector<std::string>{kForbiddenAddress}) return true;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

  Resolver& agent_resolver_;
  Resolver& attacker_view_;
  const std::string hosts_file_;
  mutable absl::Mutex mutex_;
  int resolutions_ ABSL_GUARDED_BY(mutex_) = 0;
  bool rebound_ ABSL_GUARDED_BY(mutex_) = false;
};

class DnsRebindingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (test_support::FindDnsmasq().empty()) GTEST_SKIP() << "dnsmasq is not installed";
    const std::string directory = test_support::TestTemporaryDirectory();
    absl::StatusOr<TestCertificate> genuine =
        test_support::WriteSelfSignedCertificate(directory, "genuine", kName);
    ASSERT_TRUE(genuine.ok()) << genuine.status();
    genuine_ = *genuine;

    // The name starts out at the allowed address; TTL 0 (dnsmasq's --local-ttl default) so no
    // cache between dnsmasq and the agent could keep the first answer.
    std::string hosts_directory = absl::StrCat(directory, "/rebinding-hosts.XXXXXX");
    ASSERT_NE(mkdtemp(&hosts_directory[0]), nullptr) << hosts_directory;
    hosts_file_ = absl::StrCat(hosts_directory, "/", kName);
    ASSERT_TRUE(WriteHostsFile(hosts_file_, kAllowedAddress));
    absl::StatusOr<std::unique_ptr<DnsmasqTestServer>> dnsmasq = DnsmasqTestServer::Start(
        {"--local=/example.test/", absl::StrCat("--hostsdir=", hosts_directory), "--local-ttl=0"});
    ASSERT_TRUE(dnsmasq.ok()) << dnsmasq.status();
    dnsmasq_ = std::move(*dnsmasq);

    v1::ResolverConfig resolver_config;
    resolver_config.add_nameservers(dnsmasq_->nameserver());
    for (std::unique_ptr<CaresResolver>* resolver : {&agent_resolver_, &attacker_view_}) {
      absl::StatusOr<std::unique_ptr<CaresResolver>> created =
          CaresResolver::Create(resolver_config);
      ASSERT_TRUE(created.ok()) << created.status();
      *resolver = std::move(*created);
    }
    rebinding_ =
        std::make_unique<RebindingResolver>(*agent_resolver_, *attacker_view_, hosts_file_);

    // The genuine TLS target at the allowed address, and a listener on the same port at the
    // forbidden one that records every connection reaching it.
    OpenSslTestServer::Options target;
    target.certificate = genuine_;
    absl::StatusOr<std::unique_ptr<OpenSslTestServer>> started = OpenSslTestServer::Start(target);
    ASSERT_TRUE(started.ok()) << started.status();
    target_ = std::move(*started);
    absl::StatusOr<std::unique_ptr<PlainTcpTestServer>> forbidden = PlainTcpTestServer::Start(
        kForbiddenAddress, PlainTcpTestServer::Behaviour::kGreetAndClose, target_->port());
    ASSERT_TRUE(forbidden.ok()) << forbidden.status();
    forbidden_listener_ = std::move(*forbidden);

    absl::StatusOr<std::unique_ptr<EngineTlsFetcher>> fetcher =
        EngineTlsFetcher::Create(test_support::TestEngineOptions());
    ASSERT_TRUE(fetcher.ok()) << fetcher.status();
    fetcher_ = std::move(*fetcher);
    EvpPkeyPtr key(EVP_EC_gen("P-256"));
    ASSERT_NE(key, nullptr);
    absl::StatusOr<std::unique_ptr<InMemorySigningKey>> signing_key =
        InMemorySigningKey::Create(std::move(key));
    ASSERT_TRUE(signing_key.ok());
    signing_key_ = std::move(*signing_key);
  }

  // One probe of kName as the agent runs it, with only the allowed address on the allowlist.
  v1::ObservationBody Probe() {
    absl::StatusOr<AddressPolicy> policy = AddressPolicy::Create({"127.0.0.1/32"});
    EXPECT_TRUE(policy.ok());
    v1::Perspective perspective;
    perspective.set_id("rebind-1a");
    perspective.set_region("rebind-1");
    Prober prober(perspective, *rebinding_, *fetcher_, std::move(*policy), *signing_key_,
                  SystemClock::Get(), ProberLimits());
    v1::ProbeTask task;
    task.set_hostname(kName);
    task.set_port(static_cast<uint32_t>(target_->port()));
    task.set_vouching_request_sha256(Sha256("VR"));
    task.set_nonce(std::string(16, 'n'));
    absl::StatusOr<v1::SignedObservation> observation = prober.Probe(task);
    EXPECT_TRUE(observation.ok()) << observation.status();
    v1::ObservationBody body;
    if (observation.ok()) EXPECT_TRUE(body.ParseFromString(observation->tbs()));
    return body;
  }

  void ConnectDirectlyToTheForbiddenListener() {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in address = {};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(target_->port()));
    inet_pton(AF_INET, kForbiddenAddress, &address.sin_addr);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    close(fd);
    EXPECT_TRUE(forbidden_listener_->WaitForConnections(1, absl::Seconds(10)));
  }

  TestCertificate genuine_;
  std::string hosts_file_;
  std::unique_ptr<DnsmasqTestServer> dnsmasq_;
  std::unique_ptr<CaresResolver> agent_resolver_;
  std::unique_ptr<CaresResolver> attacker_view_;
  std::unique_ptr<RebindingResolver> rebinding_;
  std::unique_ptr<OpenSslTestServer> target_;
  std::unique_ptr<PlainTcpTestServer> forbidden_listener_;
  std::unique_ptr<EngineTlsFetcher> fetcher_;
  std::unique_ptr<InMemorySigningKey> signing_key_;
};

TEST_F(DnsRebindingTest, TheAgentConnectsOnlyToTheAddressItCheckedAndNeverResolvesAgain) {
  v1::ObservationBody body = Probe();
  // DNS said "forbidden" before the agent connected anywhere ...
  ASSERT_TRUE(rebinding_->rebound()) << "dnsmasq never answered the rebound address";
  // ... yet the probe went to the checked address only, once resolved.
  EXPECT_EQ(rebinding_->resolutions(), 1);
  EXPECT_EQ(body.outcome(), v1::PROBE_OK);
  EXPECT_THAT(body.resolved_addresses(), ElementsAre(kAllowedAddress));
  ASSERT_EQ(body.addresses_size(), 1);
  EXPECT_EQ(body.addresses(0).address(), kAllowedAddress);
  EXPECT_EQ(body.addresses(0).outcome(), v1::PROBE_OK) << body.addresses(0).error();
  EXPECT_EQ(body.addresses(0).leaf_sha256(), Sha256(genuine_.der));
  EXPECT_EQ(forbidden_listener_->accepted_connections(), 0);
  // The forbidden listener does count: a connection made directly reaches it.
  ConnectDirectlyToTheForbiddenListener();
}

TEST_F(DnsRebindingTest, TheReboundAddressIsRefusedOnTheNextProbeAndNeverConnected) {
  Probe();
  ASSERT_TRUE(rebinding_->rebound());
  // The next probe resolves afresh, sees the forbidden address and refuses it before connecting.
  v1::ObservationBody body = Probe();
  EXPECT_EQ(rebinding_->resolutions(), 2);
  EXPECT_EQ(body.outcome(), v1::PROBE_FORBIDDEN_ADDRESS);
  EXPECT_THAT(body.resolved_addresses(), ElementsAre(kForbiddenAddress));
  ASSERT_EQ(body.addresses_size(), 1);
  EXPECT_EQ(body.addresses(0).outcome(), v1::PROBE_FORBIDDEN_ADDRESS);
  EXPECT_EQ(forbidden_listener_->accepted_connections(), 0);
  ConnectDirectlyToTheForbiddenListener();
}

}  // namespace
}  // namespace probe_agent
}  // namespace mecai
