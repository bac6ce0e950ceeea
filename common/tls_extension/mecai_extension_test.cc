#include "common/tls_extension/mecai_extension.h"

#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::StatusCode CodeOf(const absl::Status& status) { return status.code(); }

TEST(MecaiRequestTest, EmptyRequestIsTheEmptyBody) {
  auto body = EncodeMecaiRequest(MecaiRequest{});
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(*body, "");
  auto decoded = DecodeMecaiRequest("");
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(decoded->AsksForEverything());
}

TEST(MecaiRequestTest, ExactBytes) {
  auto body = EncodeMecaiRequest({"tl", {"a", "bc"}});
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(*body, std::string("\x02tl\x00\x05\x01"
                               "a\x02"
                               "bc",
                               10));
  auto decoded = DecodeMecaiRequest(*body);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->trust_list, "tl");
  EXPECT_THAT(decoded->candidate_vas, ElementsAre("a", "bc"));
}

TEST(MecaiRequestTest, EncoderRefusesBadInput) {
  EXPECT_EQ(CodeOf(EncodeMecaiRequest({"tl", {}}).status()), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(EncodeMecaiRequest({"", {"a", "a"}}).status()),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(EncodeMecaiRequest({"", {"has space"}}).status()),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(EncodeMecaiRequest({"", {std::string(256, 'x')}}).status()),
            absl::StatusCode::kInvalidArgument);
  std::vector<std::string> many;
  for (size_t i = 0; i <= kMaxCandidateVas; ++i) many.push_back("va" + std::to_string(i));
  EXPECT_EQ(CodeOf(EncodeMecaiRequest({"", many}).status()), absl::StatusCode::kInvalidArgument);
}

TEST(MecaiRequestTest, DecoderRejectsMalformedBodies) {
  const struct {
    std::string body;
    std::string error;
  } kCases[] = {
      {std::string("\x05tl", 3), "trust_list: length 5 exceeds"},
      {std::string("\x00", 1), "candidate_vas: truncated length"},
      {std::string("\x00\x00\x00", 3), "candidate_vas: empty"},
      {std::string("\x00\x00\x02\x01"
                   "a"
                   "z",
                   6),
       "1 trailing bytes"},
      {std::string("\x00\x00\x03\x01"
                   "a"
                   "\x05",
                   6),
       "candidate_vas element: length 5"},
      {std::string("\x00\x00\x01\x00", 4), "is not 1..255 bytes"},
      {std::string("\x00\x00\x04\x01"
                   "a\x01"
                   "a",
                   7),
       "repeated"},
      {std::string("\x01 \x00\x02\x01"
                   "a",
                   6),
       "trust_list: not printable"},
  };
  for (const auto& c : kCases) {
    auto decoded = DecodeMecaiRequest(c.body);
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << c.error;
    EXPECT_THAT(std::string(decoded.status().message()), HasSubstr(c.error));
  }
}

TEST(MecaiRequestTest, DecoderEnforcesCandidateLimit) {
  std::string candidates;
  for (size_t i = 0; i <= kMaxCandidateVas; ++i) {
    std::string id = "va" + std::to_string(i);
    candidates.push_back(static_cast<char>(id.size()));
    candidates += id;
  }
  std::string body = std::string("\x00", 1);
  body.push_back(static_cast<char>(candidates.size() >> 8));
  body.push_back(static_cast<char>(candidates.size() & 0xff));
  body += candidates;
  EXPECT_THAT(std::string(DecodeMecaiRequest(body).status().message()),
              HasSubstr("more than 16 VAs"));
}

// mecai_vouching_request carries the same MecaiVouchingRequest, byte for byte, and is never empty.
TEST(VouchingRequestTest, ExactBytesAndRoundTrip) {
  auto body = EncodeVouchingRequest({"tl", {"a", "bc"}});
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, std::string("\x02tl\x00\x05\x01"
                               "a\x02"
                               "bc",
                               10));
  auto decoded = DecodeVouchingRequest(*body);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->trust_list, "tl");
  EXPECT_THAT(decoded->candidate_vas, ElementsAre("a", "bc"));
  // No trust list: any.
  body = EncodeVouchingRequest({"", {"va-a"}});
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(*body, std::string("\x00\x00\x05\x04va-a", 8));
  decoded = DecodeVouchingRequest(*body);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->trust_list, "");
  EXPECT_THAT(decoded->candidate_vas, ElementsAre("va-a"));
}

TEST(VouchingRequestTest, EncoderRefusesTheEmptyRequestAndBadInput) {
  auto empty = EncodeVouchingRequest(MecaiRequest{});
  EXPECT_EQ(CodeOf(empty.status()), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(empty.status().message()), HasSubstr("at least one candidate VA"));
  EXPECT_EQ(CodeOf(EncodeVouchingRequest({"tl", {}}).status()), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(EncodeVouchingRequest({"", {"a", "a"}}).status()),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(EncodeVouchingRequest({"has space", {"a"}}).status()),
            absl::StatusCode::kInvalidArgument);
  std::vector<std::string> many;
  for (size_t i = 0; i <= kMaxCandidateVas; ++i) many.push_back("va" + std::to_string(i));
  EXPECT_EQ(CodeOf(EncodeVouchingRequest({"", many}).status()), absl::StatusCode::kInvalidArgument);
}

TEST(VouchingRequestTest, DecoderRejectsMalformedBodies) {
  const struct {
    std::string body;
    std::string error;
  } kCases[] = {
      {"", "MecaiVouchingRequest: empty"},
      {std::string("\x00", 1), "candidate_vas: truncated length"},
      {std::string("\x05tl", 3), "trust_list: length 5 exceeds"},
      {std::string("\x00\x00", 2), "candidate_vas: truncated length"},
      {std::string("\x00\x00\x00", 3), "candidate_vas: empty"},
      {std::string("\x00\x00\x03\x01"
                   "a",
                   5),
       "candidate_vas: length 3 exceeds the 2 bytes left"},
      {std::string("\x00\x00\x02\x01"
                   "a"
                   "z",
                   6),
       "MecaiVouchingRequest: 1 trailing bytes"},
      {std::string("\x00\x00\x03\x01"
                   "a"
                   "\x05",
                   6),
       "candidate_vas element: length 5"},
      {std::string("\x00\x00\x01\x00", 4), "is not 1..255 bytes"},
      {std::string("\x00\x00\x02\x01\x7f", 5), "is not 1..255 bytes of printable ASCII"},
      {std::string("\x00\x00\x04\x01"
                   "a\x01"
                   "a",
                   7),
       "repeated"},
      {std::string("\x01\x00\x00\x02\x01"
                   "a",
                   6),
       "trust_list: not printable"},
  };
  for (const auto& c : kCases) {
    auto decoded = DecodeVouchingRequest(c.body);
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << c.error;
    EXPECT_THAT(std::string(decoded.status().message()), HasSubstr(c.error));
  }
  // The candidate limit holds here too.
  std::string candidates;
  for (size_t i = 0; i <= kMaxCandidateVas; ++i) {
    std::string id = "va" + std::to_string(i);
    candidates.push_back(static_cast<char>(id.size()));
    candidates += id;
  }
  std::string body = std::string("\x00", 1);
  body.push_back(static_cast<char>(candidates.size() >> 8));
  body.push_back(static_cast<char>(candidates.size() & 0xff));
  body += candidates;
  EXPECT_THAT(std::string(DecodeVouchingRequest(body).status().message()),
              HasSubstr("more than 16 VAs"));
}

TEST(VouchingDataListTest, RoundTripAndShape) {
  const std::string list = EncodeVouchingDataList({"abc", "", "de"});
  EXPECT_EQ(list, std::string("\x00\x09\x00\x03"
                              "abc\x00\x02"
                              "de",
                              11));
  auto decoded = DecodeVouchingDataList(list);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_THAT(*decoded, ElementsAre("abc", "de"));
}

TEST(VouchingDataListTest, EncoderKeepsWhatFits) {
  EXPECT_EQ(EncodeVouchingDataList({}), "");
  EXPECT_EQ(EncodeVouchingDataList({std::string(70000, 'x')}), "");
  const std::string big(40000, 'x');
  auto decoded = DecodeVouchingDataList(EncodeVouchingDataList({big, big, "small"}));
  ASSERT_TRUE(decoded.ok());
  EXPECT_THAT(*decoded, ElementsAre(big, "small"));
  std::vector<std::string> many(kMaxVouchingDataPerList + 3, "vd");
  decoded = DecodeVouchingDataList(EncodeVouchingDataList(many));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->size(), kMaxVouchingDataPerList);
}

TEST(VouchingDataListTest, DecoderRejectsMalformedBodies) {
  const struct {
    std::string body;
    std::string error;
  } kCases[] = {
      {"", "vouching_data_list: truncated length"},
      {std::string("\x00", 1), "truncated length"},
      {std::string("\x00\x00", 2), "vouching_data_list: empty"},
      {std::string("\x00\x03\x00\x01"
                   "a"
                   "b",
                   6),
       "1 trailing bytes"},
      {std::string("\x00\x04\x00\x05"
                   "ab",
                   6),
       "SerializedVouchingData: length 5"},
      {std::string("\x00\x02\x00\x00", 4), "SerializedVouchingData: empty"},
      {std::string("\x00\x03\x00\x01", 4), "vouching_data_list: length 3 exceeds"},
  };
  for (const auto& c : kCases) {
    auto decoded = DecodeVouchingDataList(c.body);
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << c.error;
    EXPECT_THAT(std::string(decoded.status().message()), HasSubstr(c.error));
  }
  std::string many;
  for (size_t i = 0; i <= kMaxVouchingDataPerList; ++i) many += std::string("\x00\x01x", 3);
  std::string body;
  body.push_back(static_cast<char>(many.size() >> 8));
  body.push_back(static_cast<char>(many.size() & 0xff));
  EXPECT_THAT(std::string(DecodeVouchingDataList(body + many).status().message()),
              HasSubstr("more than 16 VDs"));
}

TEST(FeedbackTest, RoundTripAndRejects) {
  const std::vector<FeedbackEntry> entries = {{"va-a", FeedbackReason::kNoVouchingData},
                                              {"va-b", FeedbackReason::kInvalidVouchingData}};
  auto body = EncodeFeedback(entries);
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(*body, std::string("\x00\x0c\x04va-a\x01\x04va-b\x02", 14));
  auto decoded = DecodeFeedback(*body);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, entries);
  EXPECT_FALSE(EncodeFeedback({}).ok());
  EXPECT_THAT(std::string(DecodeFeedback(std::string("\x00\x03\x01"
                                                     "a\x07",
                                                     5))
                              .status()
                              .message()),
              HasSubstr("unknown value 7"));
  EXPECT_THAT(std::string(DecodeFeedback(std::string("\x00\x02\x01"
                                                     "a",
                                                     4))
                              .status()
                              .message()),
              HasSubstr("FeedbackEntry.reason: truncated"));
  EXPECT_EQ(std::string(FeedbackReasonName(FeedbackReason::kInvalidVouchingData)),
            "invalid_vouching_data");
}

// Every truncation and random mutation of valid bodies decodes or fails cleanly (run under ASan
// to see out-of-bounds reads).
TEST(MecaiExtensionFuzzTest, NeverCrashes) {
  const std::string bodies[] = {
      *EncodeMecaiRequest({"mozilla", {"va-a", "va-b", "va-c"}}),
      EncodeVouchingDataList({"first vd", "second vd", std::string(300, 'v')}),
      *EncodeFeedback({{"va-a", FeedbackReason::kNoVouchingData}}),
  };
  std::mt19937 random(2026);
  for (const std::string& body : bodies) {
    for (size_t cut = 0; cut < body.size(); ++cut) {
      (void)DecodeMecaiRequest(body.substr(0, cut));
      (void)DecodeVouchingRequest(body.substr(0, cut));
      (void)DecodeVouchingDataList(body.substr(0, cut));
      (void)DecodeFeedback(body.substr(0, cut));
    }
    for (int round = 0; round < 2000; ++round) {
      std::string mutated = body;
      mutated[random() % mutated.size()] = static_cast<char>(random());
      (void)DecodeMecaiRequest(mutated);
      (void)DecodeVouchingRequest(mutated);
      (void)DecodeVouchingDataList(mutated);
      (void)DecodeFeedback(mutated);
    }
  }
}

}  // namespace
}  // namespace mecai
