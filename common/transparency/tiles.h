// The contents of a C2SP tiled transparency log (https://c2sp.org/tlog-tiles) from an RFC 9162
// Merkle tree (common/transparency/merkle.h; the hashing is RFC 6962's):
//
//   - a tile of level l is kTileWidth consecutive hashes, 32 bytes each: hash i of tile n is the
//     MTH of leaves [(n·256 + i)·256^l, (n·256 + i + 1)·256^l), a complete subtree;
//   - an entry bundle holds the leaves (the bytes whose leaf hashes are level 0) of level 0's tile
//     n, each prefixed by its length as a big-endian uint16;
//   - a partial tile or bundle (.p/<W>) holds only the first W of them.
//
// Status codes: NOT_FOUND for a tile that reaches beyond the tree; FAILED_PRECONDITION for an
// entry a bundle cannot hold (longer than kMaxBundleEntryBytes); INVALID_ARGUMENT for a malformed
// bundle.
#ifndef MECAI_COMMON_TRANSPARENCY_TILES_H_
#define MECAI_COMMON_TRANSPARENCY_TILES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/transparency/merkle.h"
#include "common/transparency/tile_path.h"

namespace mecai {

// The largest entry an entry bundle can carry (its length prefix is a uint16).
inline constexpr size_t kMaxBundleEntryBytes = 0xffff;

// OK when every hash (or entry) of `tile` exists in a tree of `tree_size` leaves; NOT_FOUND
// otherwise.
absl::Status CheckTileInTree(const TileCoordinates& tile, uint64_t tree_size);

// The first leaf index an entry bundle covers: index · 256. REQUIRES: CheckTileInTree passed.
uint64_t FirstEntryIndex(const TileCoordinates& bundle);

// The hashes of hash tile `tile` (not an entry bundle: INVALID_ARGUMENT) of the first `tree_size`
// leaves of `tree`: width · 32 bytes. NOT_FOUND beyond tree_size; OUT_OF_RANGE when tree_size is
// beyond the tree.
absl::StatusOr<std::string> TileHashes(const MerkleTree& tree, uint64_t tree_size,
                                       const TileCoordinates& tile);

// The entry bundle of `entries`, in order.
absl::StatusOr<std::string> EntryBundle(const std::vector<std::string>& entries);

// The entries of a bundle: INVALID_ARGUMENT for a truncated one.
absl::StatusOr<std::vector<std::string>> ParseEntryBundle(absl::string_view bundle);

}  // namespace mecai

#endif  // MECAI_COMMON_TRANSPARENCY_TILES_H_
