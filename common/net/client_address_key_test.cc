// The key of the TLS relay's per-address limits: an IPv4 address as it is, an IPv6 address by its
// /64, an IPv4-mapped IPv6 address as its IPv4 address, and anything else refused.
#include "common/net/client_address_key.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <string>

#include "gtest/gtest.h"

namespace mecai {
namespace {

absl::StatusOr<std::string> KeyOfIpv4(const char* text, uint16_t port) {
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  EXPECT_EQ(inet_pton(AF_INET, text, &address.sin_addr), 1) << text;
  return ClientAddressKey(reinterpret_cast<const sockaddr*>(&address), sizeof(address));
}

absl::StatusOr<std::string> KeyOfIpv6(const char* text, uint16_t port, uint32_t scope_id = 0) {
  sockaddr_in6 address = {};
  address.sin6_family = AF_INET6;
  address.sin6_port = htons(port);
  address.sin6_scope_id = scope_id;
  EXPECT_EQ(inet_pton(AF_INET6, text, &address.sin6_addr), 1) << text;
  return ClientAddressKey(reinterpret_cast<const sockaddr*>(&address), sizeof(address));
}

TEST(ClientAddressKeyTest, AnIpv4AddressIsItsOwnKeyWhateverThePort) {
  EXPECT_EQ(KeyOfIpv4("192.0.2.7", 443).value_or("error"), "192.0.2.7");
  EXPECT_EQ(KeyOfIpv4("192.0.2.7", 50000).value_or("error"), "192.0.2.7");
  EXPECT_EQ(KeyOfIpv4("192.0.2.8", 443).value_or("error"), "192.0.2.8");
  EXPECT_EQ(KeyOfIpv4("127.0.0.1", 1).value_or("error"), "127.0.0.1");
}

TEST(ClientAddressKeyTest, AnIpv6AddressIsKeyedByItsSlash64) {
  EXPECT_EQ(KeyOfIpv6("2001:db8:1:2::1", 443).value_or("error"), "2001:db8:1:2::/64");
  // Every interface identifier of one /64 shares the key, and so do the zone and the port.
  EXPECT_EQ(KeyOfIpv6("2001:db8:1:2:ffff:ffff:ffff:ffff", 9, 3).value_or("error"),
            "2001:db8:1:2::/64");
  EXPECT_EQ(KeyOfIpv6("2001:0DB8:0001:0002:1234:5678:9abc:def0", 1).value_or("error"),
            "2001:db8:1:2::/64");
  // The next /64 is another key; so is a /64 that differs in its first bit only.
  EXPECT_EQ(KeyOfIpv6("2001:db8:1:3::1", 443).value_or("error"), "2001:db8:1:3::/64");
  EXPECT_EQ(KeyOfIpv6("a001:db8:1:2::1", 443).value_or("error"), "a001:db8:1:2::/64");
  EXPECT_EQ(KeyOfIpv6("::1", 443).value_or("error"), "::/64");
  EXPECT_EQ(KeyOfIpv6("fe80::1", 443, 2).value_or("error"), "fe80::/64");
}

TEST(ClientAddressKeyTest, AnIpv4MappedAddressIsKeyedAsIpv4) {
  EXPECT_EQ(KeyOfIpv6("::ffff:192.0.2.7", 443).value_or("error"), "192.0.2.7");
  EXPECT_EQ(KeyOfIpv6("::ffff:192.0.2.8", 443).value_or("error"), "192.0.2.8");
  // Not mapped (the deprecated IPv4-compatible form, RFC 4291 §2.5.5.1): an IPv6 /64 like others.
  EXPECT_EQ(KeyOfIpv6("::192.0.2.7", 443).value_or("error"), "::/64");
}

TEST(ClientAddressKeyTest, AnythingButAnIpAddressIsRefused) {
  EXPECT_EQ(ClientAddressKey(nullptr, 0).status().code(), absl::StatusCode::kInvalidArgument);
  sockaddr_un local = {};
  local.sun_family = AF_UNIX;
  EXPECT_EQ(ClientAddressKey(reinterpret_cast<const sockaddr*>(&local), sizeof(local)).status(),
            absl::InvalidArgumentError("address family 1 is neither IPv4 nor IPv6"));
  // Lengths too short for the family the address claims.
  sockaddr_in ipv4 = {};
  ipv4.sin_family = AF_INET;
  EXPECT_EQ(ClientAddressKey(reinterpret_cast<const sockaddr*>(&ipv4), sizeof(ipv4) - 1).status(),
            absl::InvalidArgumentError("an IPv4 address of 15 bytes"));
  sockaddr_in6 ipv6 = {};
  ipv6.sin6_family = AF_INET6;
  EXPECT_EQ(
      ClientAddressKey(reinterpret_cast<const sockaddr*>(&ipv6), sizeof(sockaddr_in)).status(),
      absl::InvalidArgumentError("an IPv6 address of 16 bytes"));
  EXPECT_EQ(ClientAddressKey(reinterpret_cast<const sockaddr*>(&ipv6), 1).status(),
            absl::InvalidArgumentError("no client address"));
}

TEST(ClientAddressKeyTest, TextAddressesGetTheSameKeys) {
  EXPECT_EQ(ClientAddressKeyOfText("192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(ClientAddressKeyOfText("2001:db8:1:2:aaaa:bbbb:cccc:dddd"),
            ClientAddressKeyOfText("2001:db8:1:2::1"));
  EXPECT_NE(ClientAddressKeyOfText("2001:db8:1:2::1"), ClientAddressKeyOfText("2001:db8:1:3::1"));
  EXPECT_EQ(ClientAddressKeyOfText("::ffff:192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(ClientAddressKeyOfText("fe80::1%eth0"), ClientAddressKeyOfText("fe80::2"));
  EXPECT_EQ(ClientAddressKeyOfText("unix:/run/x"), "unix:/run/x");
}

}  // namespace
}  // namespace mecai
