// The site origin the page's Origin check compares with (RFC 6454 §4, §6.2, §7.1).
#include "approval/web_origin.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

TEST(WebOriginTest, TheOriginOfAUrlIsSchemeHostAndANonDefaultPort) {
  EXPECT_EQ(*WebOriginOfUrl("https://CertApproval.Example-CA.com/"),
            "https://certapproval.example-ca.com");
  EXPECT_EQ(*WebOriginOfUrl("https://ca.test:443/approve?x=1"), "https://ca.test");
  EXPECT_EQ(*WebOriginOfUrl("http://ca.test:80"), "http://ca.test");
  EXPECT_EQ(*WebOriginOfUrl("http://127.0.0.1:18080/"), "http://127.0.0.1:18080");
  EXPECT_EQ(*WebOriginOfUrl("https://[2001:db8::1]:8443/"), "https://[2001:db8::1]:8443");
  EXPECT_EQ(*WebOriginOfUrl("https://ca.test:80/"), "https://ca.test:80");
}

TEST(WebOriginTest, UrlsWithoutAnOriginAreRefused) {
  EXPECT_EQ(WebOriginOfUrl("ftp://ca.test/").status().message(), "must be an http(s) URL");
  EXPECT_EQ(WebOriginOfUrl("https:///x").status().message(), "must name a host");
  EXPECT_EQ(WebOriginOfUrl("https://a@ca.test/").status().message(),
            "must not carry a user name or password");
  EXPECT_EQ(WebOriginOfUrl("https://ca.test:0/").status().message(),
            "must have a port of 1..65535");
  EXPECT_EQ(WebOriginOfUrl("https://ca.test:x/").status().message(),
            "must have a port of 1..65535");
  EXPECT_EQ(WebOriginOfUrl("https://ca test/").status().message(),
            "must name a host of letters, digits, dots and dashes");
}

TEST(WebOriginTest, OnlyTheSitesOwnOriginMatches) {
  const std::string site = *WebOriginOfUrl("https://certapproval.example-ca.com/");
  EXPECT_TRUE(IsSameWebOrigin("https://certapproval.example-ca.com", site));
  EXPECT_TRUE(IsSameWebOrigin("https://certapproval.example-ca.com:443", site));
  EXPECT_FALSE(IsSameWebOrigin("http://certapproval.example-ca.com", site));
  EXPECT_FALSE(IsSameWebOrigin("https://certapproval.example-ca.com:8443", site));
  EXPECT_FALSE(IsSameWebOrigin("https://evil.example", site));
  EXPECT_FALSE(IsSameWebOrigin("https://certapproval.example-ca.com.evil.example", site));
  EXPECT_FALSE(IsSameWebOrigin("https://certapproval.example-ca.com/", site));
  EXPECT_FALSE(IsSameWebOrigin("null", site));
  EXPECT_FALSE(IsSameWebOrigin("", site));
}

}  // namespace
}  // namespace mecai
