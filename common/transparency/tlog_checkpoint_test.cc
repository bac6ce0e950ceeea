#include "common/transparency/tlog_checkpoint.h"

#include <string>
#include <vector>

#include "common/crypto/hashing.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;

// The example of c2sp.org/tlog-checkpoint.
constexpr char kSpecText[] =
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

TEST(TlogCheckpointTest, ParsesTheSpecificationsExampleAndWritesItBack) {
  ASSERT_OK_AND_ASSIGN(TlogCheckpoint checkpoint, ParseCheckpointText(kSpecText));
  EXPECT_EQ(checkpoint.origin, "example.com/behind-the-sofa");
  EXPECT_EQ(checkpoint.tree_size, 20852163u);
  EXPECT_EQ(HexEncode(checkpoint.root_hash).substr(0, 8), "0ac5186a");
  EXPECT_TRUE(checkpoint.extension_lines.empty());
  ASSERT_OK_AND_ASSIGN(std::string text, FormatCheckpointText(checkpoint));
  EXPECT_EQ(text, kSpecText);
}

TEST(TlogCheckpointTest, KeepsExtensionLines) {
  TlogCheckpoint checkpoint{"log.example/a", 0, std::string(32, '\x01'), {"ext one", "two"}};
  ASSERT_OK_AND_ASSIGN(std::string text, FormatCheckpointText(checkpoint));
  EXPECT_EQ(text, "log.example/a\n0\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\next one\ntwo\n");
  ASSERT_OK_AND_ASSIGN(TlogCheckpoint parsed, ParseCheckpointText(text));
  EXPECT_EQ(parsed.extension_lines, checkpoint.extension_lines);
  EXPECT_EQ(parsed.tree_size, 0u);
}

TEST(TlogCheckpointTest, RefusesMalformedText) {
  const std::string root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
  for (const std::string& bad : std::vector<std::string>{
           "o\n1\n" + root,                            // no final newline
           std::string("o\n1\n"),                      // no root
           "\n1\n" + root + "\n",                      // empty origin
           "o\n01\n" + root + "\n",                    // leading zero
           "o\n+1\n" + root + "\n",                    // sign
           "o\n-1\n" + root + "\n",                    // negative
           "o\n18446744073709551616\n" + root + "\n",  // beyond uint64
           std::string("o\n1\nAAAA\n"),                // not 32 bytes
           "o\n1\n" + root + "\n\n",                   // empty extension line
           "o\r\n1\n" + root + "\n",                   // control character
       }) {
    EXPECT_THAT(ParseCheckpointText(bad), StatusIs(absl::StatusCode::kInvalidArgument, testing::_))
        << bad;
  }
  EXPECT_THAT(FormatCheckpointText({"o\nx", 1, std::string(32, 'a'), {}}),
              StatusIs(absl::StatusCode::kInvalidArgument, testing::_));
  EXPECT_THAT(FormatCheckpointText({"o", 1, std::string(31, 'a'), {}}),
              StatusIs(absl::StatusCode::kInvalidArgument, testing::_));
  EXPECT_THAT(FormatCheckpointText({"o", 1, std::string(32, 'a'), {""}}),
              StatusIs(absl::StatusCode::kInvalidArgument, testing::_));
}

}  // namespace
}  // namespace mecai
