#include "common/transparency/compact_range.h"

#include <bitset>

#include "absl/strings/str_cat.h"
#include "common/transparency/merkle.h"

namespace mecai {

absl::StatusOr<CompactRange> CompactRange::FromHashes(uint64_t size,
                                                      std::vector<std::string> hashes) {
  const size_t expected = std::bitset<64>(size).count();
  if (hashes.size() != expected) {
    return absl::InvalidArgumentError(absl::StrCat("a compact range of ", size, " leaves has ",
                                                   expected, " hashes, not ", hashes.size()));
  }
  for (const std::string& hash : hashes) {
    if (hash.size() != kMerkleHashBytes) {
      return absl::InvalidArgumentError("a compact range hash is not 32 bytes");
    }
  }
  CompactRange range;
  range.size_ = size;
  range.hashes_ = std::move(hashes);
  return range;
}

absl::Status CompactRange::AppendLeafHash(absl::string_view leaf_hash) {
  if (leaf_hash.size() != kMerkleHashBytes) {
    return absl::InvalidArgumentError("a leaf hash is not 32 bytes");
  }
  hashes_.emplace_back(leaf_hash);
  // Like a binary counter: each trailing 1 bit of the old size is a subtree of the same height
  // that the new one completes.
  for (uint64_t carry = size_; (carry & 1) != 0; carry >>= 1) {
    std::string right = std::move(hashes_.back());
    hashes_.pop_back();
    hashes_.back() = InteriorHash(hashes_.back(), right);
  }
  ++size_;
  return absl::OkStatus();
}

std::string CompactRange::RootHash() const {
  if (hashes_.empty()) return EmptyTreeHash();
  // RFC 9162 §2.1.1: MTH(D[n]) = HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n])) with k the largest power
  // of two below n, so the subtrees fold from the right.
  std::string root = hashes_.back();
  for (size_t i = hashes_.size() - 1; i-- > 0;) root = InteriorHash(hashes_[i], root);
  return root;
}

}  // namespace mecai
