#include "common/net/address_policy.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::testing::HasSubstr;

struct SpecialCase {
  const char* ip;
  bool special;
  // For special addresses: the range the refusal must name.
  const char* range;
};

// Each special-purpose row with an address inside it, and the ordinary neighbours just outside
// the ranges whose boundaries are easiest to get wrong.
const SpecialCase kCases[] = {
    // IPv4 special-purpose.
    {"0.0.0.0", true, "0.0.0.0/8"},
    {"0.255.255.255", true, "0.0.0.0/8"},
    {"10.1.2.3", true, "10.0.0.0/8"},
    {"100.64.0.1", true, "100.64.0.0/10"},
    {"100.127.255.255", true, "100.64.0.0/10"},
    {"127.0.0.1", true, "127.0.0.0/8"},
    {"127.255.255.254", true, "127.0.0.0/8"},
    {"169.254.169.254", true, "169.254.0.0/16"},
    {"172.16.0.1", true, "172.16.0.0/12"},
    {"172.31.255.255", true, "172.16.0.0/12"},
    {"192.0.0.8", true, "192.0.0.0/24"},
    {"192.0.2.1", true, "192.0.2.0/24"},
    {"192.88.99.1", true, "192.88.99.0/24"},
    {"192.168.1.1", true, "192.168.0.0/16"},
    {"198.18.0.1", true, "198.18.0.0/15"},
    {"198.19.255.255", true, "198.18.0.0/15"},
    {"198.51.100.7", true, "198.51.100.0/24"},
    {"203.0.113.9", true, "203.0.113.0/24"},
    {"224.0.0.251", true, "224.0.0.0/4"},
    {"239.255.255.255", true, "224.0.0.0/4"},
    {"240.0.0.1", true, "240.0.0.0/4"},
    {"255.255.255.255", true, "255.255.255.255/32"},
    // IPv4 ordinary, at the edges of special ranges.
    {"1.1.1.1", false, ""},
    {"8.8.8.8", false, ""},
    {"9.255.255.255", false, ""},
    {"11.0.0.0", false, ""},
    {"100.63.255.255", false, ""},
    {"100.128.0.0", false, ""},
    {"126.255.255.255", false, ""},
    {"128.0.0.0", false, ""},
    {"169.253.255.255", false, ""},
    {"169.255.0.0", false, ""},
    {"172.15.255.255", false, ""},
    {"172.32.0.0", false, ""},
    {"192.0.1.1", false, ""},
    {"192.0.3.1", false, ""},
    {"192.31.196.1", false, ""},  // AS112: globally reachable per the registry.
    {"192.167.255.255", false, ""},
    {"192.169.0.0", false, ""},
    {"198.17.255.255", false, ""},
    {"198.20.0.0", false, ""},
    {"223.255.255.255", false, ""},
    // IPv6 special-purpose.
    {"::", true, "::/128"},
    {"::1", true, "::1/128"},
    {"::7f00:1", true, "::/96"},
    {"::ffff:127.0.0.1", true, "127.0.0.0/8"},
    {"::ffff:169.254.169.254", true, "169.254.0.0/16"},
    {"::ffff:10.0.0.1", true, "10.0.0.0/8"},
    {"64:ff9b::a9fe:a9fe", true, "64:ff9b::/96"},
    {"64:ff9b:1::1", true, "64:ff9b:1::/48"},
    {"100::1", true, "100::/64"},
    {"2001::1", true, "2001::/23"},
    {"2001:1ff:ffff::1", true, "2001::/23"},
    {"2001:db8::1", true, "2001:db8::/32"},
    {"2002:c000:0204::1", true, "2002::/16"},
    {"3fff::1", true, "3fff::/20"},
    {"5f00::1", true, "5f00::/16"},
    {"fc00::1", true, "fc00::/7"},
    {"fd00::2", true, "fc00::/7"},
    {"fe80::1", true, "fe80::/10"},
    {"febf:ffff::1", true, "fe80::/10"},
    {"fec0::1", true, "fec0::/10"},
    {"ff02::1", true, "ff00::/8"},
    // IPv6 ordinary.
    {"2606:4700:4700::1111", false, ""},
    {"2001:4860:4860::8888", false, ""},
    {"2001:200::1", false, ""},  // Just past 2001::/23.
    {"2a00:1450:4001:80b::200e", false, ""},
    {"::ffff:8.8.8.8", false, ""},
    {"64:ff9b:0:0:1::1", false, ""},  // Outside both translation prefixes.
    {"fbff:ffff::1", false, ""},
};

TEST(AddressPolicyTest, TableOfSpecialAndOrdinaryAddresses) {
  absl::StatusOr<AddressPolicy> policy = AddressPolicy::Create({});
  ASSERT_TRUE(policy.ok()) << policy.status();
  for (const SpecialCase& test_case : kCases) {
    SCOPED_TRACE(test_case.ip);
    EXPECT_EQ(AddressPolicy::IsSpecialPurpose(test_case.ip), test_case.special);
    absl::Status allowed = policy->CheckAllowed(test_case.ip);
    if (test_case.special) {
      EXPECT_EQ(allowed.code(), absl::StatusCode::kPermissionDenied) << allowed;
      EXPECT_THAT(std::string(allowed.message()),
                  HasSubstr(std::string("range ") + test_case.range + ","));
      EXPECT_THAT(std::string(allowed.message()), HasSubstr(test_case.ip));
    } else {
      EXPECT_TRUE(allowed.ok()) << allowed;
    }
  }
}

TEST(AddressPolicyTest, MetadataServiceRefusalExplainsItself) {
  absl::StatusOr<AddressPolicy> policy = AddressPolicy::Create({});
  ASSERT_TRUE(policy.ok());
  absl::Status status = policy->CheckAllowed("169.254.169.254");
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(status.message(),
            "address 169.254.169.254 is in the special-purpose range 169.254.0.0/16, link-local, "
            "incl. the cloud metadata service 169.254.169.254 (RFC 3927), which "
            "allowed_special_address_ranges does not list (trust rule 6)");
}

TEST(AddressPolicyTest, AllowlistOpensOnlyItsRanges) {
  absl::StatusOr<AddressPolicy> policy = AddressPolicy::Create({"127.0.0.0/8", "fd00::/64"});
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_TRUE(policy->CheckAllowed("127.0.0.1").ok());
  EXPECT_TRUE(policy->CheckAllowed("127.8.9.10").ok());
  // The mapped form reaches the same IPv4 address, so the IPv4 allowlist entry covers it.
  EXPECT_TRUE(policy->CheckAllowed("::ffff:127.0.0.1").ok());
  EXPECT_TRUE(policy->CheckAllowed("fd00::2").ok());
  EXPECT_EQ(policy->CheckAllowed("fd00:0:0:1::2").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(policy->CheckAllowed("::1").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(policy->CheckAllowed("10.0.0.1").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(policy->CheckAllowed("169.254.169.254").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(policy->CheckAllowed("8.8.8.8").ok());
  // The allowlist does not change what is special.
  EXPECT_TRUE(AddressPolicy::IsSpecialPurpose("127.0.0.1"));
}

TEST(AddressPolicyTest, AllowlistOfHostAddress) {
  absl::StatusOr<AddressPolicy> policy = AddressPolicy::Create({"::1"});
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_TRUE(policy->CheckAllowed("::1").ok());
  EXPECT_EQ(policy->CheckAllowed("127.0.0.1").code(), absl::StatusCode::kPermissionDenied);
  ASSERT_EQ(policy->allowed_ranges().size(), 1u);
  EXPECT_EQ(policy->allowed_ranges()[0].ToString(), "::1/128");
}

TEST(AddressPolicyTest, BadRangesAreRejectedByName) {
  const std::vector<std::string> bad = {"",
                                        "localhost",
                                        "127.0.0.0/33",
                                        "10.0.0.1/8",
                                        "::1/129",
                                        "127.0.0.0/",
                                        "127.0.0.0/-1",
                                        "1.2.3/8",
                                        "127.0.0.0/+8",
                                        "fe80::/ 10",
                                        "2001:db8::/32/1"};
  for (const std::string& range : bad) {
    SCOPED_TRACE(range);
    absl::StatusOr<AddressPolicy> policy = AddressPolicy::Create({"127.0.0.0/8", range});
    ASSERT_FALSE(policy.ok());
    EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(policy.status().message()), HasSubstr("'" + range + "'"));
  }
}

TEST(AddressPolicyTest, HostBitsSuggestTheNetwork) {
  absl::StatusOr<AddressPolicy> policy = AddressPolicy::Create({"10.0.0.1/8"});
  ASSERT_FALSE(policy.ok());
  EXPECT_THAT(std::string(policy.status().message()), HasSubstr("did you mean 10.0.0.0/8?"));
}

TEST(AddressPolicyTest, TextThatIsNotAnAddressFailsClosed) {
  absl::StatusOr<AddressPolicy> policy = AddressPolicy::Create({"0.0.0.0/0", "::/0"});
  ASSERT_TRUE(policy.ok());
  for (const char* text : {"example.com", "", "127.1", "0x7f.0.0.1", "fe80::1%eth0", "[::1]"}) {
    SCOPED_TRACE(text);
    EXPECT_TRUE(AddressPolicy::IsSpecialPurpose(text));
    EXPECT_EQ(policy->CheckAllowed(text).code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(AddressPolicyTest, EveryTableRowParses) {
  // 16 IPv4 rows and 15 IPv6 rows; BuildTable aborts on a bad one, so reaching here is the check.
  EXPECT_EQ(SpecialPurposeRanges().size(), 31u);
}

}  // namespace
}  // namespace mecai
