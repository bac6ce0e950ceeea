#include "common/net/dns_name.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/testing/hostname_table.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::mecai::test_hostnames::HostnameCase;
using ::mecai::test_hostnames::HostnameCases;
using ::mecai::test_hostnames::NameOfLength;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// The verdict of `rules` on `name`, for messages: "accepted" or the refusal.
std::string Verdict(const absl::Status& status) {
  return status.ok() ? "accepted" : std::string(status.message());
}

// The message of an INVALID_ARGUMENT refusal; anything else is described so that no expected
// message matches it.
std::string Refusal(const absl::Status& status) {
  if (status.code() == absl::StatusCode::kInvalidArgument) return std::string(status.message());
  return absl::StrCat("not INVALID_ARGUMENT: ", status.ToString());
}

TEST(HostnameTableTest, HasAtLeastFortyRowsWithDistinctNames) {
  const std::vector<HostnameCase>& cases = HostnameCases();
  EXPECT_GE(cases.size(), 40u);
  for (size_t i = 0; i < cases.size(); ++i) {
    for (size_t j = i + 1; j < cases.size(); ++j) {
      EXPECT_NE(cases[i].name, cases[j].name) << "row " << i << " and row " << j;
    }
  }
  EXPECT_EQ(NameOfLength(253).size(), 253u);
  EXPECT_EQ(NameOfLength(254).size(), 254u);
  EXPECT_EQ(NameOfLength(64), std::string(62, 'a') + ".b");
}

TEST(ValidateHostnameTest, EveryRowUnderEveryOptionSet) {
  for (const HostnameCase& row : HostnameCases()) {
    SCOPED_TRACE(absl::StrCat("hostname \"", absl::CHexEscape(row.name), "\""));
    const absl::Status vr = ValidateHostname(row.name, hostname_rules::kVouchingRequest);
    const absl::Status agent = ValidateHostname(row.name, hostname_rules::kProbeTask);
    const std::string canonical = CanonicalHostname(row.name);
    const absl::Status domain = ValidateHostname(canonical, hostname_rules::kApprovalDomain);
    const absl::Status csr_name = ValidateHostname(canonical, hostname_rules::kApprovalName);
    EXPECT_EQ(vr.ok(), row.vouching_request) << Verdict(vr);
    EXPECT_EQ(agent.ok(), row.probe_task) << Verdict(agent);
    EXPECT_EQ(domain.ok(), row.approval_domain) << Verdict(domain);
    EXPECT_EQ(csr_name.ok(), row.approval_name) << Verdict(csr_name);
    for (const absl::Status* status : {&vr, &agent, &domain, &csr_name}) {
      if (status->ok()) continue;
      EXPECT_EQ(status->code(), absl::StatusCode::kInvalidArgument);
      EXPECT_THAT(std::string(status->message()), StartsWith("hostname \""));
    }
    if (row.vouching_request) {
      EXPECT_EQ(row.vouching_request_refusal, "");
    } else {
      ASSERT_NE(row.vouching_request_refusal, "");
      EXPECT_THAT(std::string(vr.message()), HasSubstr(row.vouching_request_refusal));
    }
  }
}

// The R-LDH message names the hostname, the label, the positions and the RFC.
TEST(ValidateHostnameTest, MessagesNameTheRuleAndTheLabel) {
  EXPECT_EQ(Refusal(ValidateHostname("ab--cd.example", hostname_rules::kVouchingRequest)),
            "hostname \"ab--cd.example\": label \"ab--cd\" has \"--\" in positions 3-4, reserved "
            "for A-labels (RFC 5890 §2.3.1)");
  EXPECT_EQ(Refusal(ValidateHostname("www.example.com.", hostname_rules::kVouchingRequest)),
            "hostname \"www.example.com.\": ends with a dot; names are written without the root "
            "label's trailing dot");
  EXPECT_EQ(Refusal(ValidateHostname("2001:db8:0::1", hostname_rules::kProbeTask)),
            "hostname \"2001:db8:0::1\": is an IP address not in canonical form; write "
            "\"2001:db8::1\" (RFC 5952 §4 for IPv6)");
  EXPECT_EQ(Refusal(ValidateHostname("localhost", hostname_rules::kApprovalDomain)),
            "hostname \"localhost\": has 1 label; at least 2 are needed here");
  EXPECT_EQ(Refusal(ValidateHostname("*.com", hostname_rules::kApprovalName)),
            "hostname \"*.com\": has 1 label besides the wildcard; at least 2 are needed here");
  EXPECT_EQ(Refusal(ValidateHostname("*", hostname_rules::kApprovalName)),
            "hostname \"*\": is a wildcard without a parent domain; write \"*.example.com\" (RFC "
            "6125 §6.4.3)");
  EXPECT_EQ(Refusal(ValidateHostname("a.*.example", hostname_rules::kApprovalName)),
            "hostname \"a.*.example\": label \"*\" is a wildcard, which is only allowed as the "
            "whole left-most label (RFC 6125 §6.4.3)");
}

TEST(ValidateHostnameTest, AnOverlongNameIsCutInTheMessage) {
  const std::string name = NameOfLength(1000);
  const absl::Status status = ValidateHostname(name, hostname_rules::kVouchingRequest);
  EXPECT_EQ(Refusal(status), absl::StrCat("hostname \"", name.substr(0, 64),
                                          "\"...: is 1000 octets; a name has at most 253 (RFC "
                                          "1035 §2.3.4)"));
}

TEST(ValidateHostnameTest, OptionsDefaultToTheStrictestRule) {
  const HostnameRules defaults;
  EXPECT_FALSE(defaults.allow_ip_literal);
  EXPECT_FALSE(defaults.allow_wildcard);
  EXPECT_EQ(defaults.min_labels, 1);
  EXPECT_TRUE(ValidateHostname("localhost", defaults).ok());
  EXPECT_EQ(Refusal(ValidateHostname("::1", defaults)),
            "hostname \"::1\": is an IP address literal; only a DNS name is accepted here");
  EXPECT_EQ(Refusal(ValidateHostname("*.example.com", defaults)),
            "hostname \"*.example.com\": label \"*\" is a wildcard; wildcards are not accepted "
            "here");
  HostnameRules no_minimum;
  no_minimum.min_labels = 0;
  EXPECT_TRUE(ValidateHostname("localhost", no_minimum).ok());
  EXPECT_EQ(Refusal(ValidateHostname("", no_minimum)), "hostname \"\": is empty");
}

TEST(CanonicalHostnameTest, LowerCasesAsciiLettersOnly) {
  EXPECT_EQ(CanonicalHostname("WWW.Example.COM"), "www.example.com");
  EXPECT_EQ(CanonicalHostname("XN--BCHER-KVA.Example"), "xn--bcher-kva.example");
  EXPECT_EQ(CanonicalHostname("2001:DB8::1"), "2001:db8::1");
  // The trailing dot and non-ASCII bytes stay, so ValidateHostname still refuses them.
  EXPECT_EQ(CanonicalHostname("Example.COM."), "example.com.");
  EXPECT_FALSE(
      ValidateHostname(CanonicalHostname("Example.COM."), hostname_rules::kApprovalDomain).ok());
  EXPECT_EQ(CanonicalHostname("B\xc3\x9c"
                              "CHER.example"),
            "b\xc3\x9c"
            "cher.example");
  EXPECT_EQ(CanonicalHostname(""), "");
}

TEST(IsWithinDomainTest, LabelWiseAndIgnoringCase) {
  EXPECT_TRUE(IsWithinDomain("example.com", "example.com"));
  EXPECT_TRUE(IsWithinDomain("www.example.com", "example.com"));
  EXPECT_TRUE(IsWithinDomain("a.b.example.com", "example.com"));
  EXPECT_TRUE(IsWithinDomain("WWW.Example.com", "example.COM"));
  EXPECT_TRUE(IsWithinDomain("*.example.com", "example.com"));
  EXPECT_FALSE(IsWithinDomain("badexample.com", "example.com"));
  EXPECT_FALSE(IsWithinDomain("example.com", "www.example.com"));
  EXPECT_FALSE(IsWithinDomain("example.com.evil.test", "example.com"));
  EXPECT_FALSE(IsWithinDomain("example.org", "example.com"));
  EXPECT_FALSE(IsWithinDomain("www.example.com", ""));
  EXPECT_FALSE(IsWithinDomain("", "example.com"));
  EXPECT_FALSE(IsWithinDomain("", ""));
}

TEST(WildcardMatchesTest, ExactNamesMatchIgnoringCase) {
  EXPECT_TRUE(WildcardMatches("www.example.com", "www.example.com"));
  EXPECT_TRUE(WildcardMatches("WWW.Example.com", "www.example.COM"));
  EXPECT_FALSE(WildcardMatches("www.example.com", "mail.example.com"));
  EXPECT_FALSE(WildcardMatches("example.com", "www.example.com"));
  EXPECT_FALSE(WildcardMatches("www.example.com", "www.example.com.evil.test"));
  EXPECT_FALSE(WildcardMatches("", ""));
}

TEST(WildcardMatchesTest, AWildcardIsExactlyOneWholeLeftMostLabel) {
  EXPECT_TRUE(WildcardMatches("*.example.com", "www.example.com"));
  EXPECT_TRUE(WildcardMatches("*.Example.com", "API.example.com"));
  EXPECT_FALSE(WildcardMatches("*.example.com", "example.com"));
  EXPECT_FALSE(WildcardMatches("*.example.com", "a.www.example.com"));
  EXPECT_FALSE(WildcardMatches("*.example.com", ".example.com"));
  EXPECT_FALSE(WildcardMatches("*.example.com", "www.example.org"));
  EXPECT_FALSE(WildcardMatches("w*.example.com", "www.example.com"));
  EXPECT_FALSE(WildcardMatches("*", "localhost"));
  EXPECT_FALSE(WildcardMatches("*.", "www."));
  EXPECT_FALSE(WildcardMatches("a.*.example.com", "a.b.example.com"));
}

}  // namespace
}  // namespace mecai
