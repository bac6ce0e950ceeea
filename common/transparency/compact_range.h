// A compact range (RFC 9162 §2.1.1 trees): the hashes of the complete subtrees that make up the
// first n leaves of a Merkle tree, one per set bit of n, largest first. It is all a party needs
// to extend a tree it does not hold: append leaf hashes and compute the new root, as the signer
// does for logged VDs (docs/VOUCHING_DATA.md "Logged VDs").
#ifndef MECAI_COMMON_TRANSPARENCY_COMPACT_RANGE_H_
#define MECAI_COMMON_TRANSPARENCY_COMPACT_RANGE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mecai {

// Not thread-safe.
class CompactRange {
 public:
  // The empty tree.
  CompactRange() = default;

  // The range of a tree of `size` leaves from its subtree hashes, largest (leftmost) first.
  // INVALID_ARGUMENT unless there is one 32-byte hash per set bit of `size`.
  static absl::StatusOr<CompactRange> FromHashes(uint64_t size, std::vector<std::string> hashes);

  // Appends one leaf. INVALID_ARGUMENT unless `leaf_hash` is 32 bytes.
  absl::Status AppendLeafHash(absl::string_view leaf_hash);

  // RFC 9162 §2.1.1 MTH of the leaves so far (the empty-tree hash for none).
  std::string RootHash() const;

  uint64_t size() const { return size_; }
  const std::vector<std::string>& hashes() const { return hashes_; }

 private:
  uint64_t size_ = 0;
  std::vector<std::string> hashes_;
};

}  // namespace mecai

#endif  // MECAI_COMMON_TRANSPARENCY_COMPACT_RANGE_H_
