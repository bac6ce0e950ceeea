// RDAP domain objects (RFC 9083 §5.3) and their jCard "tel" properties (RFC 7095).
#include "approval/rdap.h"

#include "approval/testing/test_environment.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(NormalizePhoneNumberTest, AcceptsTelUrisAndTextInE164Form) {
  EXPECT_EQ(NormalizePhoneNumber("tel:+1-555-555-0123;ext=4"), "+15555550123");
  EXPECT_EQ(NormalizePhoneNumber("+49.30 1234567"), "+49301234567");
  EXPECT_EQ(NormalizePhoneNumber("TEL:+44 (20) 7946 0000"), "+442079460000");
  EXPECT_EQ(NormalizePhoneNumber("5555550123"), "");         // No country code.
  EXPECT_EQ(NormalizePhoneNumber("+12345"), "");             // Too short.
  EXPECT_EQ(NormalizePhoneNumber("+1234567890123456"), "");  // Longer than E.164 allows.
  EXPECT_EQ(NormalizePhoneNumber("sip:+15555550123"), "");
}

TEST(ParseRdapPhoneNumbersTest, CollectsVoiceNumbersOfEveryEntityOnce) {
  auto numbers = ParseRdapPhoneNumbers(
      testing::RdapDomainJson("example.test",
                              {"+49.30.1234567", "+1-555-0100-100", "+49.30.1234567"}),
      "EXAMPLE.test", 10);
  ASSERT_TRUE(numbers.ok()) << numbers.status();
  EXPECT_THAT(*numbers, ElementsAre("+49301234567", "+15550100100", "+15550100200"));
}

TEST(ParseRdapPhoneNumbersTest, StopsAtTheLimit) {
  auto numbers = ParseRdapPhoneNumbers(
      testing::RdapDomainJson("example.test", {"+49.30.1234567", "+1-555-0100-100"}),
      "example.test", 1);
  ASSERT_TRUE(numbers.ok());
  EXPECT_THAT(*numbers, ElementsAre("+49301234567"));
}

TEST(ParseRdapPhoneNumbersTest, RefusesWhatIsNotTheDomainObjectAsked) {
  EXPECT_THAT(ParseRdapPhoneNumbers("not json", "example.test", 10),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a JSON object")));
  EXPECT_THAT(ParseRdapPhoneNumbers(R"({"objectClassName": "entity"})", "example.test", 10),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a domain object")));
  EXPECT_THAT(ParseRdapPhoneNumbers(testing::RdapDomainJson("other.test", {}), "example.test", 10),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("other.test")));
}

TEST(ParseRdapPhoneNumbersTest, IgnoresMalformedJcards) {
  auto numbers = ParseRdapPhoneNumbers(
      R"({"objectClassName": "domain", "ldhName": "example.test", "entities": [
            {"vcardArray": "vcard"},
            {"vcardArray": ["vcard", [["tel"], ["tel", {}, "uri"], 7,
                                      ["tel", {"type": "fax"}, "uri", "tel:+4930111111"],
                                      ["tel", {"type": ["fax", "voice"]}, "uri", "tel:+4930222222"],
                                      ["tel", {}, "text", "+4930333333"]]]}]})",
      "example.test", 10);
  ASSERT_TRUE(numbers.ok()) << numbers.status();
  EXPECT_THAT(*numbers, ElementsAre("+4930222222", "+4930333333"));
}

}  // namespace
}  // namespace mecai
