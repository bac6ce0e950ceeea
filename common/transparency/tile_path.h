// Resource paths of a C2SP tiled transparency log (https://c2sp.org/tlog-tiles "APIs"):
//
//   tile/<L>/<N>[.p/<W>]         a Merkle tree tile of level L (0..63)
//   tile/entries/<N>[.p/<W>]     an entry bundle
//
// N in zero-padded 3-digit path elements, all but the last with an 'x' prefix (1234067 is
// x001/x234/067); W, for a partial tile only, 1..255.
#ifndef MECAI_COMMON_TRANSPARENCY_TILE_PATH_H_
#define MECAI_COMMON_TRANSPARENCY_TILE_PATH_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mecai {

// Hashes (or entries) in a full tile: a tile is a subtree of height 8.
inline constexpr uint32_t kTileWidth = 256;
inline constexpr unsigned kTileHeight = 8;
inline constexpr unsigned kMaxTileLevel = 63;

struct TileCoordinates {
  // An entry bundle rather than a hash tile (level is then 0).
  bool entries = false;
  unsigned level = 0;
  uint64_t index = 0;
  // kTileWidth for a full tile, 1..255 for a partial one.
  uint32_t width = kTileWidth;

  bool operator==(const TileCoordinates& other) const {
    return entries == other.entries && level == other.level && index == other.index &&
           width == other.width;
  }
};

// The path of `tile`, without a leading slash, e.g. "tile/1/x001/234.p/7".
std::string TilePath(const TileCoordinates& tile);

// Parses a path (without a leading slash) in exactly the form TilePath writes; INVALID_ARGUMENT
// for anything else (another spelling of the same tile included: leading zeros, a width of 256).
absl::StatusOr<TileCoordinates> ParseTilePath(absl::string_view path);

}  // namespace mecai

#endif  // MECAI_COMMON_TRANSPARENCY_TILE_PATH_H_
