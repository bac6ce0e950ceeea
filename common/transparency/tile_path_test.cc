#include "common/transparency/tile_path.h"

#include <string>

#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;

TEST(TilePathTest, EncodesAsTheSpecificationSays) {
  EXPECT_EQ(TilePath({false, 0, 0, 256}), "tile/0/000");
  EXPECT_EQ(TilePath({false, 1, 1234067, 256}), "tile/1/x001/x234/067");
  EXPECT_EQ(TilePath({false, 2, 999, 7}), "tile/2/999.p/7");
  EXPECT_EQ(TilePath({false, 0, 1000, 255}), "tile/0/x001/000.p/255");
  EXPECT_EQ(TilePath({true, 0, 5, 256}), "tile/entries/005");
  EXPECT_EQ(TilePath({true, 0, 1000000, 1}), "tile/entries/x001/x000/000.p/1");
  EXPECT_EQ(TilePath({false, 63, UINT64_MAX, 256}), "tile/63/x018/x446/x744/x073/x709/x551/615");
}

TEST(TilePathTest, ParsesWhatItWrites) {
  for (const TileCoordinates& tile :
       {TileCoordinates{false, 0, 0, 256}, TileCoordinates{false, 1, 1234067, 256},
        TileCoordinates{false, 2, 999, 7}, TileCoordinates{true, 0, 1000, 255},
        TileCoordinates{false, 63, UINT64_MAX, 1}}) {
    ASSERT_OK_AND_ASSIGN(TileCoordinates parsed, ParseTilePath(TilePath(tile)));
    EXPECT_TRUE(parsed == tile) << TilePath(tile);
  }
}

TEST(TilePathTest, RefusesEveryOtherSpelling) {
  for (const char* bad : {
           "tile/0/0",
           "tile/0/0000",
           "tile/0/x000/001",
           "tile/0/001/002",
           "tile/0/x1/002",
           "tile/00/001",
           "tile/64/001",
           "tile/-1/001",
           "tile/0/001.p/256",
           "tile/0/001.p/0",
           "tile/0/001.p/07",
           "tile/0/001.p/",
           "tile/0/001.p",
           "tile/0/+01",
           "tile/0/ 01",
           "tile/0/001/",
           "/tile/0/001",
           "tile/data/001",
           "tile/8/0/001",
           "tile/entries",
           "tile/0",
           "tile/0/x018/x446/x744/x073/x709/x551/616",  // 2^64
           "tile/0/x001/x000/x000/x000/x000/x000/x000/000",
       }) {
    EXPECT_THAT(ParseTilePath(bad), StatusIs(absl::StatusCode::kInvalidArgument, testing::_))
        << bad;
  }
}

}  // namespace
}  // namespace mecai
