// The forms people and CAs type: transaction numbers (approval/transaction_number.h), approval
// codes (approval/approval_code.h) and the requester text (approval/requester.h).
#include "approval/transaction_number.h"

#include <set>
#include <string>

#include "approval/approval_code.h"
#include "approval/requester.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::HasSubstr;

TEST(TransactionNumberTest, OneCanonicalFormForEveryWayOfTypingIt) {
  EXPECT_EQ(NormalizeTransactionNumber("abcd-efgh jklm"), "ABCDEFGHJKLM");
  EXPECT_EQ(NormalizeTransactionNumber(" AbCd\tEFGH-JKLM "), "ABCDEFGHJKLM");
  EXPECT_TRUE(IsCanonicalTransactionNumber("ABCDEFGHJKLM"));
  EXPECT_FALSE(IsCanonicalTransactionNumber(""));
  EXPECT_FALSE(IsCanonicalTransactionNumber("ABCD_EFGH"));
  EXPECT_FALSE(IsCanonicalTransactionNumber(std::string(33, 'A')));
  EXPECT_EQ(GroupedTransactionNumber("ABCDEFGHJKLM"), "ABCD-EFGH-JKLM");
  EXPECT_EQ(GroupedTransactionNumber("ABCDEFGHJKLMN"), "ABCD-EFGH-JKLM-N");
  EXPECT_EQ(SpokenInGroups("ABCDEFGHJK"), "A B C D, E F G H, J K");
}

TEST(TransactionNumberTest, AChosenNumberMustBeLongAndVaried) {
  EXPECT_TRUE(ValidateChosenTransactionNumber("ca-2026-tx-7f3k9q").ok());
  EXPECT_THAT(ValidateChosenTransactionNumber("TXN123456"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "transaction_number: must be 12 to 32 letters and digits (spaces and "
                       "dashes are ignored), or empty for one the service draws"));
  EXPECT_THAT(ValidateChosenTransactionNumber("ABC_DEF_GHI_JKL"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("12 to 32")));
  EXPECT_THAT(ValidateChosenTransactionNumber("000000000001"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("must have at least 8 distinct characters")));
}

class CountingRandom : public RandomSource {
 public:
  absl::StatusOr<std::string> Bytes(size_t length) override {
    std::string bytes;
    for (size_t i = 0; i < length; ++i) bytes.push_back(static_cast<char>(next_++));
    return bytes;
  }

 private:
  unsigned next_ = 0;
};

// Gives `repeated` bytes of one value first, then counts up as CountingRandom does.
class FewCharactersFirst : public RandomSource {
 public:
  explicit FewCharactersFirst(size_t repeated) : repeated_(repeated) {}
  absl::StatusOr<std::string> Bytes(size_t length) override {
    std::string bytes;
    for (size_t i = 0; i < length; ++i) {
      bytes.push_back(static_cast<char>(given_ < repeated_ ? 7 : next_++));
      ++given_;
    }
    return bytes;
  }

 private:
  const size_t repeated_;
  size_t given_ = 0;
  unsigned next_ = 0;
};

// A CA may send a number the service drew back as its own (a request sent again with it): every
// generated number meets the rules of a chosen one. A draw with too few distinct characters is
// drawn again; a source that only gives such draws is an error, not a weak number.
TEST(TransactionNumberTest, AGeneratedNumberIsAlwaysAValidChosenOne) {
  OpenSslRandomSource random;
  for (int i = 0; i < 2000; ++i) {
    ASSERT_OK_AND_ASSIGN(std::string number, GenerateTransactionNumber(random));
    EXPECT_TRUE(ValidateChosenTransactionNumber(number).ok()) << number;
  }
  FewCharactersFirst once(12);
  ASSERT_OK_AND_ASSIGN(std::string redrawn, GenerateTransactionNumber(once));
  EXPECT_EQ(redrawn, "23456789ABCD");
  FewCharactersFirst always(100000);
  EXPECT_THAT(GenerateTransactionNumber(always),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("too few distinct characters")));
}

TEST(TransactionNumberTest, GeneratedNumbersUseTheUnambiguousAlphabet) {
  OpenSslRandomSource random;
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    auto number = GenerateTransactionNumber(random);
    ASSERT_TRUE(number.ok());
    ASSERT_EQ(number->size(), 12u);
    EXPECT_EQ(number->find_first_not_of(std::string(kTransactionNumberAlphabet)), std::string::npos)
        << *number;
    EXPECT_EQ(NormalizeTransactionNumber(*number), *number);
    seen.insert(*number);
  }
  EXPECT_EQ(seen.size(), 200u);
  // Byte b maps to alphabet[b % 32]: all 32 characters, none of 0, O, 1, I.
  CountingRandom counting;
  auto first = GenerateTransactionNumber(counting);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, "23456789ABCD");
  EXPECT_EQ(std::string(kTransactionNumberAlphabet).find_first_of("0O1I"), std::string::npos);
}

TEST(ApprovalCodeTest, SpacesAndDashesAreIgnoredAndOtherShapesRefused) {
  EXPECT_EQ(*NormalizeApprovalCode("1234 5678", 8), "12345678");
  EXPECT_EQ(*NormalizeApprovalCode(" 1234-5678 ", 8), "12345678");
  EXPECT_THAT(NormalizeApprovalCode("", 8),
              StatusIs(absl::StatusCode::kInvalidArgument, "enter the approval code you heard"));
  EXPECT_THAT(NormalizeApprovalCode(" - ", 8),
              StatusIs(absl::StatusCode::kInvalidArgument, "enter the approval code you heard"));
  EXPECT_THAT(NormalizeApprovalCode("1234567", 8),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "the approval code has 8 digits; you entered 7"));
  EXPECT_THAT(NormalizeApprovalCode("1234567O", 8),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "the approval code has only digits; enter the digits you heard"));
}

TEST(RequesterTest, CountsCharactersAndRefusesInvisibleOnes) {
  EXPECT_TRUE(ValidateRequester("Example Org").ok());
  EXPECT_TRUE(ValidateRequester("Müller & Söhne GmbH").ok());
  // 200 characters of two bytes each: 400 bytes, within the limit.
  std::string umlauts;
  for (int i = 0; i < 200; ++i) umlauts += "ü";
  EXPECT_TRUE(ValidateRequester(umlauts).ok());
  EXPECT_THAT(ValidateRequester(umlauts + "x"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "requester: must be at most 200 characters, not 201"));
  EXPECT_THAT(ValidateRequester("Bank \xE2\x80\xAEgro elpmaxE"),  // U+202E RIGHT-TO-LEFT OVERRIDE
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("requester: U+202E is a format character")));
  EXPECT_THAT(ValidateRequester("Exa\xE2\x80\x8Bmple"),  // U+200B ZERO WIDTH SPACE
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("U+200B")));
  EXPECT_THAT(ValidateRequester("\xEF\xBB\xBFOrg"),  // U+FEFF
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("U+FEFF")));
  EXPECT_THAT(ValidateRequester("line\nbreak"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("requester: U+000A is a control character")));
  EXPECT_THAT(ValidateRequester("\xC3"),
              StatusIs(absl::StatusCode::kInvalidArgument, "requester: must be UTF-8 text"));
  EXPECT_THAT(ValidateRequester("\xC0\xAF"),  // Overlong "/".
              StatusIs(absl::StatusCode::kInvalidArgument, "requester: must be UTF-8 text"));
  EXPECT_THAT(ValidateRequester("   "),
              StatusIs(absl::StatusCode::kInvalidArgument, "requester: is required"));
  EXPECT_THAT(ValidateRequester(""),
              StatusIs(absl::StatusCode::kInvalidArgument, "requester: is required"));
}

}  // namespace
}  // namespace mecai
