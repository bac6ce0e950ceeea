#include "common/transparency/tiles.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;

using ::testing::ElementsAre;

std::vector<std::string> Leaves(uint64_t count) {
  std::vector<std::string> leaves;
  for (uint64_t i = 0; i < count; ++i) leaves.push_back(absl::StrCat("leaf ", i));
  return leaves;
}

std::vector<std::string> LeafHashes(const std::vector<std::string>& leaves) {
  std::vector<std::string> hashes;
  for (const std::string& leaf : leaves) hashes.push_back(LeafHash(leaf));
  return hashes;
}

// The example of c2sp.org/tlog-tiles "Partial Tiles": a tree of 70,000 entries is 273 full level-0
// tiles and one of width 112, one full level-1 tile and one of width 17, and one level-2 tile of
// width 1.
TEST(TilesTest, TheSpecificationsExampleTreeHasExactlyItsTiles) {
  const uint64_t size = 70000;
  EXPECT_OK(CheckTileInTree({false, 0, 272, 256}, size));
  EXPECT_THAT(CheckTileInTree({false, 0, 273, 256}, size),
              StatusIs(absl::StatusCode::kNotFound, testing::_));
  EXPECT_OK(CheckTileInTree({false, 0, 273, 112}, size));
  EXPECT_THAT(CheckTileInTree({false, 0, 273, 113}, size),
              StatusIs(absl::StatusCode::kNotFound, testing::_));
  EXPECT_OK(CheckTileInTree({false, 1, 0, 256}, size));
  EXPECT_OK(CheckTileInTree({false, 1, 1, 17}, size));
  EXPECT_THAT(CheckTileInTree({false, 1, 1, 18}, size),
              StatusIs(absl::StatusCode::kNotFound, testing::_));
  EXPECT_OK(CheckTileInTree({false, 2, 0, 1}, size));
  EXPECT_THAT(CheckTileInTree({false, 2, 0, 2}, size),
              StatusIs(absl::StatusCode::kNotFound, testing::_));
  EXPECT_THAT(CheckTileInTree({false, 3, 0, 1}, size),
              StatusIs(absl::StatusCode::kNotFound, testing::_));
  EXPECT_OK(CheckTileInTree({true, 0, 273, 112}, size));
  EXPECT_THAT(CheckTileInTree({true, 0, 274, 1}, size),
              StatusIs(absl::StatusCode::kNotFound, testing::_));
  // No overflow at the far end.
  EXPECT_THAT(CheckTileInTree({false, 63, UINT64_MAX, 1}, UINT64_MAX),
              StatusIs(absl::StatusCode::kNotFound, testing::_));
  EXPECT_THAT(CheckTileInTree({false, 0, UINT64_MAX, 256}, UINT64_MAX),
              StatusIs(absl::StatusCode::kNotFound, testing::_));
}

TEST(TilesTest, TileHashesAreTheRootsOfTheirSubtrees) {
  const std::vector<std::string> hashes = LeafHashes(Leaves(600));
  MerkleTree tree;
  for (const std::string& hash : hashes) ASSERT_OK(tree.AppendLeafHash(hash));
  // Level 0: the leaf hashes themselves.
  ASSERT_OK_AND_ASSIGN(std::string tile, TileHashes(tree, 600, {false, 0, 1, 256}));
  ASSERT_EQ(tile.size(), 256 * kMerkleHashBytes);
  for (size_t i = 0; i < 256; ++i) {
    EXPECT_EQ(tile.substr(i * 32, 32), hashes[256 + i]);
  }
  ASSERT_OK_AND_ASSIGN(std::string partial, TileHashes(tree, 600, {false, 0, 2, 88}));
  ASSERT_EQ(partial.size(), 88 * kMerkleHashBytes);
  EXPECT_EQ(partial.substr(87 * 32), hashes[599]);
  // Level 1: the roots of the full level-0 tiles, and no more.
  ASSERT_OK_AND_ASSIGN(std::string level1, TileHashes(tree, 600, {false, 1, 0, 2}));
  EXPECT_EQ(level1.substr(0, 32), RootFromLeafHashes({hashes.begin(), hashes.begin() + 256}));
  EXPECT_EQ(level1.substr(32), RootFromLeafHashes({hashes.begin() + 256, hashes.begin() + 512}));
  EXPECT_THAT(TileHashes(tree, 600, {false, 1, 0, 3}),
              StatusIs(absl::StatusCode::kNotFound, testing::_));
  // Only what the requested tree size holds, though the tree holds more.
  EXPECT_THAT(TileHashes(tree, 300, {false, 0, 1, 45}),
              StatusIs(absl::StatusCode::kNotFound, testing::_));
  EXPECT_OK(TileHashes(tree, 300, {false, 0, 1, 44}).status());
  EXPECT_THAT(TileHashes(tree, 601, {false, 0, 0, 1}),
              StatusIs(absl::StatusCode::kOutOfRange, testing::_));
}

TEST(TilesTest, EntryBundlesAreLengthPrefixed) {
  ASSERT_OK_AND_ASSIGN(std::string bundle, EntryBundle({"ab", "", std::string(300, 'x')}));
  EXPECT_EQ(bundle.substr(0, 7), std::string("\x00\x02"
                                             "ab\x00\x00\x01",
                                             7));
  EXPECT_EQ(bundle.size(), 2 + 2 + 2 + 2 + 300u);
  EXPECT_EQ(static_cast<unsigned char>(bundle[7]), 0x2cu);
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> entries, ParseEntryBundle(bundle));
  EXPECT_THAT(entries, ElementsAre("ab", "", std::string(300, 'x')));
  EXPECT_OK(EntryBundle({std::string(kMaxBundleEntryBytes, 'x')}).status());
  EXPECT_THAT(EntryBundle({std::string(kMaxBundleEntryBytes + 1, 'x')}),
              StatusIs(absl::StatusCode::kFailedPrecondition, testing::_));
  EXPECT_THAT(ParseEntryBundle(bundle.substr(0, bundle.size() - 1)),
              StatusIs(absl::StatusCode::kInvalidArgument, testing::_));
  EXPECT_THAT(ParseEntryBundle(std::string("\x00", 1)),
              StatusIs(absl::StatusCode::kInvalidArgument, testing::_));
}

TEST(TilesTest, FirstEntryIndexOfABundle) { EXPECT_EQ(FirstEntryIndex({true, 0, 3, 17}), 768u); }

}  // namespace
}  // namespace mecai
