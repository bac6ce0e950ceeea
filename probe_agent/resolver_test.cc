#include "probe_agent/resolver.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "common/process/child_process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "probe_agent/testing/test_servers.h"

namespace mecai {
namespace probe_agent {
namespace {

using ::mecai::test_support::DnsmasqTestServer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr absl::Duration kTimeout = absl::Seconds(5);

// One dnsmasq for the whole suite, answering from these records only.
class CaresResolverTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (test_support::FindDnsmasq().empty()) return;
    absl::StatusOr<std::unique_ptr<DnsmasqTestServer>> started = DnsmasqTestServer::Start({
        // Authoritative for example.test: unknown names are NXDOMAIN, missing types NODATA.
        "--local=/example.test/",
        "--host-record=dual.example.test,127.0.0.1,::1",
        "--host-record=v4only.example.test,127.0.0.5",
        "--host-record=v6only.example.test,::1",
        "--host-record=multi.example.test,127.0.0.8,::2",
        "--host-record=multi.example.test,127.0.0.9",
        "--host-record=multi.example.test,127.0.0.8",
        "--cname=alias.example.test,dual.example.test",
        "--address=/missing.test/",
        // Not local and no upstream: dnsmasq answers the AAAA query with REFUSED.
        "--host-record=v4.refused.test,127.0.0.1",
    });
    ASSERT_TRUE(started.ok()) << started.status();
    dnsmasq_ = started->release();
  }
  static void TearDownTestSuite() {
    delete dnsmasq_;
    dnsmasq_ = nullptr;
  }

  void SetUp() override {
    if (dnsmasq_ == nullptr) GTEST_SKIP() << "dnsmasq is not installed";
    v1::ResolverConfig config;
    config.add_nameservers(dnsmasq_->nameserver());
    absl::StatusOr<std::unique_ptr<CaresResolver>> resolver = CaresResolver::Create(config);
    ASSERT_TRUE(resolver.ok()) << resolver.status();
    resolver_ = std::move(*resolver);
  }

  static DnsmasqTestServer* dnsmasq_;
  std::unique_ptr<CaresResolver> resolver_;
};

DnsmasqTestServer* CaresResolverTest::dnsmasq_ = nullptr;

TEST_F(CaresResolverTest, ReturnsIpv4ThenIpv6Addresses) {
  absl::StatusOr<std::vector<std::string>> addresses =
      resolver_->Resolve("dual.example.test", kTimeout);
  ASSERT_TRUE(addresses.ok()) << addresses.status();
  EXPECT_THAT(*addresses, ElementsAre("127.0.0.1", "::1"));
}

TEST_F(CaresResolverTest, OneFamilyOnly) {
  absl::StatusOr<std::vector<std::string>> v4 = resolver_->Resolve("v4only.example.test", kTimeout);
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_THAT(*v4, ElementsAre("127.0.0.5"));
  absl::StatusOr<std::vector<std::string>> v6 = resolver_->Resolve("v6only.example.test", kTimeout);
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_THAT(*v6, ElementsAre("::1"));
}

TEST_F(CaresResolverTest, FollowsCnames) {
  absl::StatusOr<std::vector<std::string>> addresses =
      resolver_->Resolve("alias.example.test", kTimeout);
  ASSERT_TRUE(addresses.ok()) << addresses.status();
  EXPECT_THAT(*addresses, ElementsAre("127.0.0.1", "::1"));
}

TEST_F(CaresResolverTest, EveryAddressOnceInAnswerOrder) {
  absl::StatusOr<std::vector<std::string>> addresses =
      resolver_->Resolve("multi.example.test", kTimeout);
  ASSERT_TRUE(addresses.ok()) << addresses.status();
  // The order within a family is dnsmasq's own (it merges the repeated 127.0.0.8 record).
  ASSERT_EQ(addresses->size(), 3u) << ::testing::PrintToString(*addresses);
  EXPECT_THAT(std::vector<std::string>(addresses->begin(), addresses->begin() + 2),
              UnorderedElementsAre("127.0.0.8", "127.0.0.9"));
  EXPECT_EQ(addresses->back(), "::2");
}

TEST_F(CaresResolverTest, AddressesOfOneFamilySurviveTheOthersFailure) {
  // The AAAA query is REFUSED; the A answer is still used (as Boulder does).
  absl::StatusOr<std::vector<std::string>> addresses =
      resolver_->Resolve("v4.refused.test", kTimeout);
  ASSERT_TRUE(addresses.ok()) << addresses.status();
  EXPECT_THAT(*addresses, ElementsAre("127.0.0.1"));
}

// The other family's failure is reported with the addresses, so that the quorum policy can refuse
// the perspective (common/evidence/quorum_policy.h): those addresses alone may not be all the name
// has.
TEST_F(CaresResolverTest, ReportsTheFailedQueryNextToTheOtherFamilysAddresses) {
  absl::StatusOr<Resolution> resolution =
      resolver_->ResolveWithOutcomes("v4.refused.test", kTimeout);
  ASSERT_TRUE(resolution.ok()) << resolution.status();
  EXPECT_TRUE(resolution->failure.ok()) << resolution->failure;
  EXPECT_THAT(resolution->addresses, ElementsAre("127.0.0.1"));
  EXPECT_EQ(resolution->a_outcome, v1::RESOLUTION_NOERROR);
  EXPECT_EQ(resolution->aaaa_outcome, v1::RESOLUTION_REFUSED);
}

TEST_F(CaresResolverTest, ReportsNodataAndNxdomainPerFamily) {
  absl::StatusOr<Resolution> v4 = resolver_->ResolveWithOutcomes("v4only.example.test", kTimeout);
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(v4->a_outcome, v1::RESOLUTION_NOERROR);
  EXPECT_EQ(v4->aaaa_outcome, v1::RESOLUTION_NODATA);
  absl::StatusOr<Resolution> missing =
      resolver_->ResolveWithOutcomes("nothing.example.test", kTimeout);
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_EQ(missing->failure.code(), absl::StatusCode::kNotFound) << missing->failure;
  EXPECT_EQ(missing->a_outcome, v1::RESOLUTION_NXDOMAIN);
  EXPECT_EQ(missing->aaaa_outcome, v1::RESOLUTION_NXDOMAIN);
}

TEST_F(CaresResolverTest, RefusedWithoutAnyAddressIsUnavailable) {
  absl::StatusOr<std::vector<std::string>> addresses =
      resolver_->Resolve("unknown.refused.test", kTimeout);
  ASSERT_FALSE(addresses.ok());
  EXPECT_EQ(addresses.status().code(), absl::StatusCode::kUnavailable) << addresses.status();
  EXPECT_THAT(std::string(addresses.status().message()),
              HasSubstr("query for unknown.refused.test failed"));
}

TEST_F(CaresResolverTest, NxdomainIsNotFound) {
  for (const char* name : {"nothing.example.test", "host.missing.test"}) {
    absl::StatusOr<std::vector<std::string>> addresses = resolver_->Resolve(name, kTimeout);
    ASSERT_FALSE(addresses.ok());
    EXPECT_EQ(addresses.status().code(), absl::StatusCode::kNotFound) << addresses.status();
    EXPECT_THAT(std::string(addresses.status().message()),
                HasSubstr(std::string("hostname ") + name + " has no A or AAAA records"));
  }
}

TEST_F(CaresResolverTest, NameWithoutAddressRecordsIsNotFound) {
  // example.test exists (it has names below it) but has no A or AAAA records itself: NODATA.
  absl::StatusOr<std::vector<std::string>> addresses = resolver_->Resolve("example.test", kTimeout);
  ASSERT_FALSE(addresses.ok());
  EXPECT_EQ(addresses.status().code(), absl::StatusCode::kNotFound) << addresses.status();
  EXPECT_THAT(std::string(addresses.status().message()),
              HasSubstr("hostname example.test has no A or AAAA records"));
}

TEST_F(CaresResolverTest, LiteralAddressesAreReturnedAsGiven) {
  for (const char* literal : {"192.0.2.1", "2001:db8::1", "::ffff:127.0.0.1"}) {
    absl::StatusOr<std::vector<std::string>> addresses = resolver_->Resolve(literal, kTimeout);
    ASSERT_TRUE(addresses.ok()) << addresses.status();
    EXPECT_THAT(*addresses, ElementsAre(literal));
  }
}

TEST_F(CaresResolverTest, ConcurrentResolutionsUseTheirOwnChannels) {
  std::vector<std::thread> threads;
  std::atomic<int> successes{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([this, &successes] {
      absl::StatusOr<std::vector<std::string>> addresses =
          resolver_->Resolve("dual.example.test", kTimeout);
      if (addresses.ok() && addresses->size() == 2) successes.fetch_add(1);
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(successes.load(), 8);
}

// A UDP socket that receives queries and never answers.
class SilentUdpServer {
 public:
  SilentUdpServer() {
    socket_ = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in address = {};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(socket_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    socklen_t length = sizeof(address);
    getsockname(socket_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~SilentUdpServer() { close(socket_); }
  int port() const { return port_; }

 private:
  int socket_ = -1;
  int port_ = 0;
};

TEST(CaresResolverTimeoutTest, SilentNameserverIsDeadlineExceeded) {
  SilentUdpServer silent;
  v1::ResolverConfig config;
  config.add_nameservers("127.0.0.1:" + std::to_string(silent.port()));
  absl::StatusOr<std::unique_ptr<CaresResolver>> resolver = CaresResolver::Create(config);
  ASSERT_TRUE(resolver.ok()) << resolver.status();
  const absl::Time start = absl::Now();
  absl::StatusOr<std::vector<std::string>> addresses =
      (*resolver)->Resolve("slow.example.test", absl::Milliseconds(600));
  const absl::Duration elapsed = absl::Now() - start;
  ASSERT_FALSE(addresses.ok());
  EXPECT_EQ(addresses.status().code(), absl::StatusCode::kDeadlineExceeded) << addresses.status();
  EXPECT_THAT(std::string(addresses.status().message()), HasSubstr("slow.example.test"));
  EXPECT_GE(elapsed, absl::Milliseconds(500));
  EXPECT_LT(elapsed, absl::Seconds(3));
}

TEST(CaresResolverTimeoutTest, UnreachableNameserverIsUnavailable) {
  absl::StatusOr<int> closed_port = PickFreeTcpAndUdpPort();
  ASSERT_TRUE(closed_port.ok());
  v1::ResolverConfig config;
  config.add_nameservers("127.0.0.1:" + std::to_string(*closed_port));
  absl::StatusOr<std::unique_ptr<CaresResolver>> resolver = CaresResolver::Create(config);
  ASSERT_TRUE(resolver.ok()) << resolver.status();
  absl::StatusOr<std::vector<std::string>> addresses =
      (*resolver)->Resolve("any.example.test", absl::Seconds(5));
  ASSERT_FALSE(addresses.ok());
  EXPECT_EQ(addresses.status().code(), absl::StatusCode::kUnavailable) << addresses.status();
}

TEST(ParseNameserverTest, AcceptedForms) {
  struct Case {
    const char* text;
    const char* address;
    uint16_t port;
  };
  for (const Case& test_case :
       {Case{"192.0.2.53", "192.0.2.53", 53}, Case{"192.0.2.53:5353", "192.0.2.53", 5353},
        Case{"2001:db8::53", "2001:db8::53", 53}, Case{"[2001:db8::53]:5353", "2001:db8::53", 5353},
        Case{"::1", "::1", 53}}) {
    SCOPED_TRACE(test_case.text);
    absl::StatusOr<Nameserver> nameserver = ParseNameserver(test_case.text);
    ASSERT_TRUE(nameserver.ok()) << nameserver.status();
    EXPECT_EQ(nameserver->address, test_case.address);
    EXPECT_EQ(nameserver->port, test_case.port);
  }
}

TEST(ParseNameserverTest, RejectedForms) {
  for (const char* text : {"", "dns.example", "dns.example:53", "192.0.2.53:0", "192.0.2.53:65536",
                           "192.0.2.53:", "192.0.2.53:x", "[192.0.2.53]:53", "[2001:db8::53]",
                           "[2001:db8::53]53", "2001:db8::zz"}) {
    SCOPED_TRACE(text);
    absl::StatusOr<Nameserver> nameserver = ParseNameserver(text);
    ASSERT_FALSE(nameserver.ok());
    EXPECT_EQ(nameserver.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(nameserver.status().message()), HasSubstr(std::string("'") + text));
  }
  v1::ResolverConfig config;
  config.add_nameservers("resolver.internal");
  EXPECT_EQ(CaresResolver::Create(config).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace probe_agent
}  // namespace mecai
