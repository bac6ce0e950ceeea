// Merkle Tree hashing of RFC 9162 §2.1 with SHA-256: leaf and interior hashes, the Merkle Tree Hash
// (MTH), inclusion proofs (§2.1.3) and consistency proofs (§2.1.4) with their verification. Every
// coordinator shard's quorum log is such a tree (trust rule 5); auditors verify with the
// same functions.
//
// Status codes, everywhere in this file:
//   INVALID_ARGUMENT  the caller's own arguments are impossible (index ≥ tree size, first size >
//                     second size, a leaf hash or root that is not 32 bytes);
//   OUT_OF_RANGE      a tree size beyond the leaves a MerkleTree holds;
//   DATA_LOSS         a proof does not verify: the log's answer contradicts the hashes the caller
//                     holds, which is evidence of a rewritten history (or of a corrupt transfer).
#ifndef MECAI_COMMON_TRANSPARENCY_MERKLE_H_
#define MECAI_COMMON_TRANSPARENCY_MERKLE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace mecai {

// Bytes of every hash of the tree (SHA-256).
inline constexpr size_t kMerkleHashBytes = 32;

// RFC 9162 §2.1.1: SHA-256(0x00 || leaf).
std::string LeafHash(absl::string_view leaf);

// RFC 9162 §2.1.1: SHA-256(0x01 || left || right).
std::string InteriorHash(absl::string_view left, absl::string_view right);

// RFC 9162 §2.1.1: the hash of the empty tree, SHA-256 of the empty string.
std::string EmptyTreeHash();

// RFC 9162 §2.1.1: MTH of the tree whose leaves have these hashes (the empty tree for none).
std::string RootFromLeafHashes(const std::vector<std::string>& leaf_hashes);

// RFC 9162 §2.1.3.1: the inclusion proof (audit path, leaf to root) of leaf `index` in the tree of
// all `leaf_hashes`. INVALID_ARGUMENT when index ≥ leaf_hashes.size().
absl::StatusOr<std::vector<std::string>> InclusionProof(
    uint64_t index, const std::vector<std::string>& leaf_hashes);

// RFC 9162 §2.1.4.1: the consistency proof between the tree of the first `first_size` leaves and
// the tree of all `leaf_hashes`. Empty when first_size is 0 or the whole tree. INVALID_ARGUMENT
// when first_size > leaf_hashes.size().
absl::StatusOr<std::vector<std::string>> ConsistencyProof(
    uint64_t first_size, const std::vector<std::string>& leaf_hashes);

// RFC 9162 §2.1.3.2: OK when `proof` proves that the leaf with hash `leaf_hash` is leaf `index` of
// the tree of `tree_size` leaves whose root is `root`.
absl::Status VerifyInclusion(absl::string_view leaf_hash, uint64_t index, uint64_t tree_size,
                             const std::vector<std::string>& proof, absl::string_view root);
// The same over views of the proof's nodes, which a caller need not copy.
absl::Status VerifyInclusionOfViews(absl::string_view leaf_hash, uint64_t index, uint64_t tree_size,
                                    absl::Span<const absl::string_view> proof,
                                    absl::string_view root);

// RFC 9162 §2.1.4.2: OK when `proof` proves that the tree of `second_size` leaves with root
// `second_root` extends the tree of `first_size` leaves with root `first_root`. As in RFC 9162 the
// algorithm covers 0 < first_size < second_size; beyond it, equal sizes need an empty proof and
// equal roots, and first_size 0 needs an empty proof and first_root the empty-tree hash.
absl::Status VerifyConsistency(uint64_t first_size, uint64_t second_size,
                               absl::string_view first_root, absl::string_view second_root,
                               const std::vector<std::string>& proof);

// An append-only Merkle tree over leaf hashes, in memory, answering for every tree size up to its
// own. Besides the leaf hashes it keeps the hash of every complete aligned subtree (2^k leaves from
// a multiple of 2^k), which never changes once its last leaf is in; so a root or a proof costs
// O(log² n) hashes instead of O(n). Memory: about 64 bytes per leaf. Not thread-safe.
class MerkleTree {
 public:
  MerkleTree() = default;

  // Appends one leaf. INVALID_ARGUMENT unless `leaf_hash` is kMerkleHashBytes long.
  absl::Status AppendLeafHash(absl::string_view leaf_hash);

  // Number of leaves.
  uint64_t size() const;

  // The hash of leaf `index`; OUT_OF_RANGE when index ≥ size().
  absl::StatusOr<std::string> LeafHashAt(uint64_t index) const;

  // MTH of the first `tree_size` leaves; OUT_OF_RANGE beyond size().
  absl::StatusOr<std::string> RootHash(uint64_t tree_size) const;

  // MTH of the complete aligned subtree of 2^height leaves [index·2^height, (index+1)·2^height),
  // which never changes once its last leaf is in (C2SP tlog-tiles builds its tiles from these).
  // OUT_OF_RANGE unless all of its leaves are in the tree.
  absl::StatusOr<std::string> CompleteSubtreeHash(unsigned height, uint64_t index) const;

  // Equal to the free functions above applied to the first `tree_size` (`second_size`) leaves.
  absl::StatusOr<std::vector<std::string>> InclusionProof(uint64_t index, uint64_t tree_size) const;
  absl::StatusOr<std::vector<std::string>> ConsistencyProof(uint64_t first_size,
                                                            uint64_t second_size) const;

 private:
  // MTH of leaves [begin, begin + count); REQUIRES: count ≥ 1, begin + count ≤ size().
  std::string SubtreeHash(uint64_t begin, uint64_t count) const;

  // levels_[k] is the concatenation of the hashes of the complete subtrees of 2^k leaves, in order:
  // levels_[0] holds the leaf hashes, levels_[k][i] covers leaves [i·2^k, (i+1)·2^k).
  std::vector<std::string> levels_;
};

}  // namespace mecai

#endif  // MECAI_COMMON_TRANSPARENCY_MERKLE_H_
