// Which client address the page records and limits (docs/APPROVAL.md "Behind a reverse proxy"):
// X-Forwarded-For and Forwarded (RFC 7239) only from trusted proxies.
#include "approval/client_address.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

HttpServerRequest From(const std::string& peer, std::map<std::string, std::string> headers) {
  HttpServerRequest request;
  request.remote_address = peer;
  request.headers = std::move(headers);
  return request;
}

TEST(ClientAddressTest, WithoutTrustedProxiesTheHeadersAreIgnored) {
  auto resolver = ClientAddressResolver::Create({});
  ASSERT_TRUE(resolver.ok());
  EXPECT_EQ(resolver->Resolve(From("198.51.100.7", {{"x-forwarded-for", "192.0.2.1"},
                                                    {"forwarded", "for=192.0.2.2"}})),
            "198.51.100.7");
}

TEST(ClientAddressTest, AnUntrustedPeerCannotNameAnotherClient) {
  auto resolver = ClientAddressResolver::Create({"10.0.0.0/8"});
  ASSERT_TRUE(resolver.ok());
  EXPECT_EQ(resolver->Resolve(From("198.51.100.7", {{"x-forwarded-for", "192.0.2.1"}})),
            "198.51.100.7");
}

TEST(ClientAddressTest, ATrustedProxyNamesTheClientRightmostFirst) {
  auto resolver = ClientAddressResolver::Create({"10.0.0.0/8", "127.0.0.1"});
  ASSERT_TRUE(resolver.ok());
  // The client forged the leftmost entry; the proxy appended the real one.
  EXPECT_EQ(resolver->Resolve(From("127.0.0.1", {{"x-forwarded-for", "1.2.3.4, 203.0.113.9"}})),
            "203.0.113.9");
  // Two trusted hops.
  EXPECT_EQ(
      resolver->Resolve(From("10.1.1.1", {{"x-forwarded-for", "1.2.3.4, 203.0.113.9, 10.2.2.2"}})),
      "203.0.113.9");
  // Every hop trusted: the leftmost.
  EXPECT_EQ(resolver->Resolve(From("10.1.1.1", {{"x-forwarded-for", "10.3.3.3, 10.2.2.2"}})),
            "10.3.3.3");
  // No header: the proxy itself.
  EXPECT_EQ(resolver->Resolve(From("10.1.1.1", {})), "10.1.1.1");
  // An entry that is not an address ends the walk at the last trusted hop.
  EXPECT_EQ(resolver->Resolve(From("10.1.1.1", {{"x-forwarded-for", "203.0.113.9, unknown"}})),
            "10.1.1.1");
  // An IPv4 peer on a dual-stack socket.
  EXPECT_EQ(resolver->Resolve(From("::ffff:127.0.0.1", {{"x-forwarded-for", "203.0.113.9"}})),
            "203.0.113.9");
}

TEST(ClientAddressTest, WithoutXForwardedForTheForwardedNodesAreParsed) {
  auto resolver = ClientAddressResolver::Create({"10.0.0.0/8"});
  ASSERT_TRUE(resolver.ok());
  EXPECT_EQ(resolver->Resolve(From("10.1.1.1", {{"forwarded",
                                                 "for=192.0.2.60;proto=https;by=10.1.1.1, "
                                                 "For=\"[2001:db8:cafe::17]:4711\""}})),
            "2001:db8:cafe::17");
  // X-Forwarded-For, which nearly every proxy sets, wins over a Forwarded it may pass on.
  EXPECT_EQ(resolver->Resolve(From("10.1.1.1", {{"forwarded", "for=192.0.2.60"},
                                                {"x-forwarded-for", "198.51.100.1"}})),
            "198.51.100.1");
  EXPECT_EQ(resolver->Resolve(From("10.1.1.1", {{"forwarded", "for=192.0.2.60:8080"}})),
            "192.0.2.60");
  EXPECT_EQ(resolver->Resolve(From("10.1.1.1", {{"forwarded", "for=_hidden"}})), "10.1.1.1");
}

TEST(ClientAddressTest, AMalformedProxyIsRefused) {
  EXPECT_EQ(ClientAddressResolver::Create({"10.0.0.0/8", "proxy"}).status().message(),
            "\"proxy\" is not an IP address or CIDR range");
}

}  // namespace
}  // namespace mecai
