#include "common/transparency/tiles.h"

#include "absl/strings/str_cat.h"
#include "common/base/status.h"

namespace mecai {
namespace {

// The hashes of level `level` that are complete subtrees of the first `tree_size` leaves
// (floor(tree_size / 256^level)).
uint64_t CompleteAtLevel(unsigned level, uint64_t tree_size) {
  const unsigned shift = level * kTileHeight;
  return shift >= 64 ? 0 : tree_size >> shift;
}

}  // namespace

absl::Status CheckTileInTree(const TileCoordinates& tile, uint64_t tree_size) {
  const uint64_t available = CompleteAtLevel(tile.entries ? 0 : tile.level, tree_size);
  // index · 256 + width ≤ available, without overflow.
  if (tile.width == 0 || tile.width > kTileWidth || available < tile.width ||
      tile.index > (available - tile.width) / kTileWidth) {
    return absl::NotFoundError(
        absl::StrCat(TilePath(tile), " is beyond the tree of ", tree_size, " entries"));
  }
  return absl::OkStatus();
}

uint64_t FirstEntryIndex(const TileCoordinates& bundle) { return bundle.index * kTileWidth; }

absl::StatusOr<std::string> TileHashes(const MerkleTree& tree, uint64_t tree_size,
                                       const TileCoordinates& tile) {
  if (tile.entries) return absl::InvalidArgumentError("an entry bundle holds no hashes");
  if (tree_size > tree.size()) {
    return absl::OutOfRangeError(
        absl::StrCat("tree size ", tree_size, " is beyond the tree's ", tree.size(), " leaves"));
  }
  RETURN_IF_ERROR(CheckTileInTree(tile, tree_size));
  std::string hashes;
  hashes.reserve(tile.width * kMerkleHashBytes);
  for (uint32_t i = 0; i < tile.width; ++i) {
    ASSIGN_OR_RETURN(std::string hash, tree.CompleteSubtreeHash(tile.level * kTileHeight,
                                                                tile.index * kTileWidth + i));
    hashes.append(hash);
  }
  return hashes;
}

absl::StatusOr<std::string> EntryBundle(const std::vector<std::string>& entries) {
  std::string bundle;
  for (const std::string& entry : entries) {
    if (entry.size() > kMaxBundleEntryBytes) {
      return absl::FailedPreconditionError(
          absl::StrCat("an entry of ", entry.size(),
                       " bytes does not fit an entry bundle (at most ", kMaxBundleEntryBytes, ")"));
    }
    bundle.push_back(static_cast<char>(entry.size() >> 8));
    bundle.push_back(static_cast<char>(entry.size() & 0xff));
    bundle.append(entry);
  }
  return bundle;
}

absl::StatusOr<std::vector<std::string>> ParseEntryBundle(absl::string_view bundle) {
  std::vector<std::string> entries;
  while (!bundle.empty()) {
    if (bundle.size() < 2) return absl::InvalidArgumentError("an entry bundle is truncated");
    const size_t length =
        (static_cast<unsigned char>(bundle[0]) << 8) | static_cast<unsigned char>(bundle[1]);
    bundle.remove_prefix(2);
    if (bundle.size() < length) return absl::InvalidArgumentError("an entry bundle is truncated");
    entries.emplace_back(bundle.substr(0, length));
    bundle.remove_prefix(length);
    if (entries.size() > kTileWidth) {
      return absl::InvalidArgumentError("an entry bundle holds at most 256 entries");
    }
  }
  return entries;
}

}  // namespace mecai
