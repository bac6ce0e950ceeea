#include "common/transparency/compact_range.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/transparency/merkle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::testing::HasSubstr;

TEST(CompactRangeTest, EveryRootEqualsTheFullTreesRoot) {
  MerkleTree tree;
  CompactRange range;
  EXPECT_EQ(range.RootHash(), EmptyTreeHash());
  for (uint64_t n = 1; n <= 300; ++n) {
    const std::string leaf = LeafHash(absl::StrCat("leaf ", n));
    ASSERT_TRUE(tree.AppendLeafHash(leaf).ok());
    ASSERT_TRUE(range.AppendLeafHash(leaf).ok());
    ASSERT_EQ(range.RootHash(), *tree.RootHash(n)) << "size " << n;
    ASSERT_EQ(range.size(), n);
  }
}

TEST(CompactRangeTest, ARangeRebuiltFromItsHashesExtendsLikeTheOriginal) {
  MerkleTree tree;
  CompactRange range;
  for (uint64_t n = 1; n <= 77; ++n) {
    const std::string leaf = LeafHash(absl::StrCat("leaf ", n));
    ASSERT_TRUE(tree.AppendLeafHash(leaf).ok());
    ASSERT_TRUE(range.AppendLeafHash(leaf).ok());
  }
  // 77 = 64 + 8 + 4 + 1: the hashes are those complete subtrees, largest first.
  ASSERT_EQ(range.hashes().size(), 4u);
  EXPECT_EQ(range.hashes()[0], *tree.CompleteSubtreeHash(6, 0));
  EXPECT_EQ(range.hashes()[3], *tree.LeafHashAt(76));
  absl::StatusOr<CompactRange> rebuilt = CompactRange::FromHashes(77, range.hashes());
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  for (uint64_t n = 78; n <= 130; ++n) {
    const std::string leaf = LeafHash(absl::StrCat("leaf ", n));
    ASSERT_TRUE(tree.AppendLeafHash(leaf).ok());
    ASSERT_TRUE(rebuilt->AppendLeafHash(leaf).ok());
    ASSERT_EQ(rebuilt->RootHash(), *tree.RootHash(n)) << "size " << n;
  }
}

TEST(CompactRangeTest, AWrongShapeIsRefused) {
  EXPECT_THAT(CompactRange::FromHashes(6, {std::string(32, 'a')}).status().message(),
              HasSubstr("of 6 leaves has 2 hashes, not 1"));
  EXPECT_THAT(CompactRange::FromHashes(1, {"short"}).status().message(), HasSubstr("32 bytes"));
  CompactRange range;
  EXPECT_FALSE(range.AppendLeafHash("short").ok());
  EXPECT_EQ(range.size(), 0u);
}

}  // namespace
}  // namespace mecai
