#include "common/transparency/tile_path.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace mecai {
namespace {

constexpr uint64_t kPathBase = 1000;

absl::Status NotATilePath(absl::string_view path) {
  return absl::InvalidArgumentError(
      absl::StrCat("\"", path.substr(0, 100),
                   "\" is not a tile path (tile/<L>/<N>[.p/<W>], c2sp.org/tlog-tiles)"));
}

}  // namespace

std::string TilePath(const TileCoordinates& tile) {
  uint64_t n = tile.index;
  std::string index = absl::StrFormat("%03d", n % kPathBase);
  while (n >= kPathBase) {
    n /= kPathBase;
    index = absl::StrFormat("x%03d/%s", n % kPathBase, index);
  }
  const std::string level = tile.entries ? "entries" : absl::StrCat(tile.level);
  std::string path = absl::StrCat("tile/", level, "/", index);
  if (tile.width != kTileWidth) absl::StrAppend(&path, ".p/", tile.width);
  return path;
}

absl::StatusOr<TileCoordinates> ParseTilePath(absl::string_view path) {
  // Long enough for any index below 2^64 and any width; a bound before splitting.
  if (path.size() > 64) return NotATilePath(path);
  std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
  if (parts.size() < 3 || parts[0] != "tile") return NotATilePath(path);
  TileCoordinates tile;
  if (parts[1] == "entries") {
    tile.entries = true;
  } else if (!absl::SimpleAtoi(parts[1], &tile.level) || tile.level > kMaxTileLevel) {
    return NotATilePath(path);
  }
  if (absl::EndsWith(parts[parts.size() - 2], ".p")) {
    if (parts.size() < 4 || !absl::SimpleAtoi(parts.back(), &tile.width) || tile.width == 0 ||
        tile.width >= kTileWidth) {
      return NotATilePath(path);
    }
    parts.pop_back();
    parts.back().remove_suffix(2);
  }
  uint64_t index = 0;
  for (size_t i = 2; i < parts.size(); ++i) {
    absl::string_view element = parts[i];
    const bool last = i + 1 == parts.size();
    if (!last && !absl::ConsumePrefix(&element, "x")) return NotATilePath(path);
    uint64_t digits = 0;
    if (element.size() != 3 || !absl::SimpleAtoi(element, &digits) ||
        element.find_first_not_of("0123456789") != absl::string_view::npos ||
        index > (UINT64_MAX - digits) / kPathBase) {
      return NotATilePath(path);
    }
    index = index * kPathBase + digits;
  }
  tile.index = index;
  // One spelling per tile: no leading zero elements, canonical level and width.
  if (TilePath(tile) != path) return NotATilePath(path);
  return tile;
}

}  // namespace mecai
