#include "common/net/ip_address.h"

#include "gtest/gtest.h"

namespace mecai {
namespace {

TEST(IpAddressTest, ParsesBothFamiliesAndPrintsCanonically) {
  absl::StatusOr<IpAddress> ipv4 = ParseIpAddress("192.0.2.1");
  ASSERT_TRUE(ipv4.ok());
  EXPECT_EQ(ipv4->family, IpAddress::Family::kIpv4);
  EXPECT_EQ(ipv4->ToString(), "192.0.2.1");

  absl::StatusOr<IpAddress> ipv6 = ParseIpAddress("2001:DB8:0:0:0:0:0:1");
  ASSERT_TRUE(ipv6.ok());
  EXPECT_EQ(ipv6->family, IpAddress::Family::kIpv6);
  EXPECT_EQ(ipv6->ToString(), "2001:db8::1");  // RFC 5952 §4.
}

TEST(IpAddressTest, RejectsNamesAndShorthand) {
  for (const char* text : {"", "example.com", "127.1", "010.0.0.1", "1.2.3.4.5", "::1%lo", "[::1]",
                           " 1.2.3.4", "1.2.3.4 "}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(ParseIpAddress(text).status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(IpAddressTest, Ipv4MappedAddressesExposeTheirIpv4Address) {
  absl::StatusOr<IpAddress> mapped = ParseIpAddress("::ffff:127.0.0.1");
  ASSERT_TRUE(mapped.ok());
  EXPECT_TRUE(mapped->IsIpv4Mapped());
  ASSERT_TRUE(mapped->EmbeddedIpv4().has_value());
  EXPECT_EQ(mapped->EmbeddedIpv4()->ToString(), "127.0.0.1");
  EXPECT_FALSE(ParseIpAddress("::127.0.0.1")->IsIpv4Mapped());
  EXPECT_FALSE(ParseIpAddress("127.0.0.1")->EmbeddedIpv4().has_value());
}

TEST(IpPrefixTest, ContainsRespectsPartialBytes) {
  absl::StatusOr<IpPrefix> prefix = ParseIpPrefix("100.64.0.0/10");
  ASSERT_TRUE(prefix.ok());
  EXPECT_TRUE(prefix->Contains(*ParseIpAddress("100.64.0.0")));
  EXPECT_TRUE(prefix->Contains(*ParseIpAddress("100.127.255.255")));
  EXPECT_FALSE(prefix->Contains(*ParseIpAddress("100.128.0.0")));
  EXPECT_FALSE(prefix->Contains(*ParseIpAddress("::ffff:100.64.0.1")));  // Other family.
  absl::StatusOr<IpPrefix> everything = ParseIpPrefix("::/0");
  ASSERT_TRUE(everything.ok());
  EXPECT_TRUE(everything->Contains(*ParseIpAddress("2001:db8::1")));
  EXPECT_EQ(ParseIpPrefix("10.0.0.0/8")->ToString(), "10.0.0.0/8");
  EXPECT_EQ(ParseIpPrefix("192.0.2.7")->ToString(), "192.0.2.7/32");
}

}  // namespace
}  // namespace mecai
