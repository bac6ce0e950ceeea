// RDAP domain objects (RFC 9083 §5.3): the roles whose jCard "tel" properties (RFC 7095) are
// called, extensions and national numbers, and lookups against a real nginx (RFC 7480: the
// Accept header, redirects, https only).
#include "approval/rdap.h"

#include <memory>

#include "approval/testing/test_environment.h"
#include "common/net/address_policy.h"
#include "common/net/http_fetcher.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<std::string> Numbers(const RdapContacts& contacts) {
  std::vector<std::string> numbers;
  for (const RdapPhoneContact& contact : contacts.contacts) {
    numbers.push_back(contact.extension.empty() ? contact.number
                                                : contact.number + "x" + contact.extension);
  }
  return numbers;
}

TEST(ParseTelValueTest, KeepsExtensionsApartAndNamesNationalNumbers) {
  ParsedTel tel = ParseTelValue("tel:+1-555-555-0123;ext=4");
  EXPECT_EQ(tel.number, "+15555550123");
  EXPECT_EQ(tel.extension, "4");
  tel = ParseTelValue("tel:+49.30.1234567;EXT=12;isub=9");
  EXPECT_EQ(tel.number, "+49301234567");
  EXPECT_EQ(tel.extension, "12");
  tel = ParseTelValue("030 1234567");
  EXPECT_EQ(tel.number, "");
  EXPECT_EQ(tel.problem, "is in national format (no country code), so it cannot be called");
  EXPECT_EQ(ParseTelValue("sip:+15555550123").problem, "is not a phone number");
}

TEST(NormalizePhoneNumberTest, AcceptsTelUrisAndTextInE164Form) {
  EXPECT_EQ(NormalizePhoneNumber("tel:+1-555-555-0123;ext=4"), "+15555550123");
  EXPECT_EQ(NormalizePhoneNumber("+49.30 1234567"), "+49301234567");
  EXPECT_EQ(NormalizePhoneNumber("TEL:+44 (20) 7946 0000"), "+442079460000");
  EXPECT_EQ(NormalizePhoneNumber("5555550123"), "");         // No country code.
  EXPECT_EQ(NormalizePhoneNumber("+12345"), "");             // Too short.
  EXPECT_EQ(NormalizePhoneNumber("+1234567890123456"), "");  // Longer than E.164 allows.
  EXPECT_EQ(NormalizePhoneNumber("sip:+15555550123"), "");
}

TEST(ParseRdapContactsTest, CallsOnlyTheDomainsOwnContactsAndSaysWhyNotTheOthers) {
  auto contacts = ParseRdapContacts(
      testing::RdapDomainJson("example.test",
                              {"+49.30.1234567", "+1-555-0100-100", "+49.30.1234567"}),
      "EXAMPLE.test", 10);
  ASSERT_TRUE(contacts.ok()) << contacts.status();
  // The registrant's voice numbers with their extension; not the fax, not the registrar's abuse
  // desk nested in the registrar.
  EXPECT_THAT(Numbers(*contacts), ElementsAre("+49301234567x12", "+15550100100x12"));
  EXPECT_EQ(contacts->contacts[0].roles, "registrant");
  EXPECT_THAT(contacts->not_called,
              ElementsAre("+15550100200 (abuse, nested in another contact) is not a registrant, "
                          "administrative or technical contact"));
}

TEST(ParseRdapContactsTest, RolesDecide) {
  auto contacts = ParseRdapContacts(
      R"({"objectClassName": "domain", "ldhName": "example.test", "entities": [
            {"roles": ["technical", "administrative"],
             "vcardArray": ["vcard", [["tel", {}, "uri", "tel:+4930111111"]]]},
            {"roles": ["registrar"], "vcardArray": ["vcard", [["tel", {}, "uri", "tel:+4930222222"]]]},
            {"roles": ["reseller"], "vcardArray": ["vcard", [["tel", {}, "uri", "tel:+4930333333"]]]},
            {"roles": ["Registrant"],
             "vcardArray": ["vcard", [["tel", {}, "text", "030 444444"],
                                      ["tel", {}, "uri", "tel:+4930555555;ext=7"]]]},
            {"vcardArray": ["vcard", [["tel", {}, "uri", "tel:+4930666666"]]]}]})",
      "example.test", 10);
  ASSERT_TRUE(contacts.ok()) << contacts.status();
  EXPECT_THAT(Numbers(*contacts), ElementsAre("+4930111111", "+4930555555x7"));
  EXPECT_EQ(contacts->contacts[0].roles, "technical, administrative");
  EXPECT_THAT(
      contacts->not_called,
      ElementsAre(
          "+4930222222 (registrar) is not a registrant, administrative or technical contact",
          "+4930333333 (reseller) is not a registrant, administrative or technical contact",
          "\"030 444444\" (registrant) is in national format (no country code), so it cannot be "
          "called",
          "+4930666666 (no role) is not a registrant, administrative or technical contact"));
}

TEST(ParseRdapContactsTest, StopsAtTheLimitAndSaysSo) {
  auto contacts = ParseRdapContacts(
      testing::RdapDomainJson("example.test", {"+49.30.1234567", "+1-555-0100-100"}),
      "example.test", 1);
  ASSERT_TRUE(contacts.ok());
  EXPECT_THAT(Numbers(*contacts), ElementsAre("+49301234567x12"));
  EXPECT_EQ(contacts->not_called.back(), "1 more number is beyond max_phone_numbers (1)");
}

TEST(ParseRdapContactsTest, RefusesWhatIsNotTheDomainObjectAskedInOneSentence) {
  EXPECT_THAT(
      ParseRdapContacts("not json", "example.test", 10),
      StatusIs(absl::StatusCode::kInvalidArgument, "the RDAP response is not a JSON object"));
  EXPECT_THAT(ParseRdapContacts(R"({"objectClassName": "entity"})", "example.test", 10),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "the RDAP response is not a domain object (RFC 9083 §5.3 objectClassName "
                       "\"domain\")"));
  EXPECT_THAT(ParseRdapContacts(testing::RdapDomainJson("other.test", {}), "example.test", 10),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "the RDAP response names domain \"other.test\", not \"example.test\""));
}

TEST(ParseRdapContactsTest, IgnoresMalformedJcards) {
  auto contacts = ParseRdapContacts(
      R"({"objectClassName": "domain", "ldhName": "example.test", "entities": [
            {"roles": ["registrant"], "vcardArray": "vcard"},
            {"roles": ["registrant"],
             "vcardArray": ["vcard", [["tel"], ["tel", {}, "uri"], 7,
                                      ["tel", {"type": "fax"}, "uri", "tel:+4930111111"],
                                      ["tel", {"type": ["fax", "voice"]}, "uri", "tel:+4930222222"],
                                      ["tel", {}, "text", "+4930333333"]]]}]})",
      "example.test", 10);
  ASSERT_TRUE(contacts.ok()) << contacts.status();
  EXPECT_THAT(Numbers(*contacts), ElementsAre("+4930222222", "+4930333333"));
  EXPECT_THAT(contacts->not_called, IsEmpty());
}

class RdapClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto directory = test_pki::MakeTempDirectory();
    ASSERT_TRUE(directory.ok());
    auto rdap = testing::RdapServer::Start(
        *directory, {{"example.test", testing::RdapDomainJson("example.test", {"+4930123456"})}});
    ASSERT_TRUE(rdap.ok()) << rdap.status();
    rdap_ = *std::move(rdap);
    auto policy = AddressPolicy::Create({"127.0.0.0/8"});
    ASSERT_TRUE(policy.ok());
    fetcher_ = std::make_unique<CurlHttpFetcher>(*policy);
  }

  RdapOptions Options(const std::string& base_url, bool allow_http = true) {
    RdapOptions options;
    options.base_urls = {{"test", base_url}};
    options.allow_http = allow_http;
    return options;
  }

  std::unique_ptr<testing::RdapServer> rdap_;
  std::unique_ptr<CurlHttpFetcher> fetcher_;
};

// nginx answers 406 unless the request accepts application/rdap+json (RFC 7480 §4.2).
TEST_F(RdapClientTest, AsksForRdapJson) {
  RdapClient client(*fetcher_, Options(rdap_->base_url()));
  auto contacts = client.Lookup("example.test");
  ASSERT_TRUE(contacts.ok()) << contacts.status();
  EXPECT_THAT(Numbers(*contacts), ElementsAre("+4930123456x12"));
  HttpRequest plain;
  plain.url = rdap_->base_url() + "domain/example.test";
  EXPECT_THAT(fetcher_->Fetch(plain), StatusIs(absl::StatusCode::kUnavailable, "HTTP status 406"));
}

TEST_F(RdapClientTest, FollowsRedirectsUpToALimit) {
  RdapClient moved(*fetcher_, Options(rdap_->moved_base_url()));
  auto contacts = moved.Lookup("example.test");
  ASSERT_TRUE(contacts.ok()) << contacts.status();
  EXPECT_THAT(Numbers(*contacts), ElementsAre("+4930123456x12"));
  RdapClient loop(*fetcher_, Options(rdap_->loop_base_url()));
  EXPECT_THAT(loop.Lookup("example.test"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("more than 3 redirects (RFC 7480 §5.2)")));
}

TEST_F(RdapClientTest, UsesOnlyHttpsUnlessAllowedForTests) {
  RdapClient client(*fetcher_, Options(rdap_->base_url(), /*allow_http=*/false));
  EXPECT_THAT(client.Lookup("example.test"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "RDAP lookup " + rdap_->base_url() +
                           "domain/example.test: only https URLs are used "
                           "(allow_http_for_testing)"));
  EXPECT_THAT(
      client.Lookup("example.invalid"),
      StatusIs(absl::StatusCode::kNotFound, "no RDAP server is configured for \".invalid\""));
}

}  // namespace
}  // namespace mecai
