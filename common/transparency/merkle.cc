#include "common/transparency/merkle.h"

#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"

namespace mecai {
namespace {

// MTH of leaves [begin, begin + count) of some tree; count ≥ 1.
using SubtreeHashFunction = absl::FunctionRef<std::string(uint64_t begin, uint64_t count)>;

// RFC 9162 §2.1.1: "k is the largest power of two smaller than n", for n ≥ 2.
uint64_t SplitPoint(uint64_t n) {
  uint64_t k = 1;
  while ((k << 1) < n) k <<= 1;
  return k;
}

bool IsPowerOfTwo(uint64_t n) { return n != 0 && (n & (n - 1)) == 0; }

// RFC 9162 §2.1.3.1 PATH(m, D[n]) for the n = `count` leaves from `begin`: appends, leaf to root,
// the sibling subtree hashes of leaf `begin + m`.
void AppendInclusionPath(uint64_t m, uint64_t begin, uint64_t count, SubtreeHashFunction hash,
                         std::vector<std::string>* path) {
  if (count <= 1) return;
  const uint64_t k = SplitPoint(count);
  if (m < k) {
    AppendInclusionPath(m, begin, k, hash, path);
    path->push_back(hash(begin + k, count - k));
  } else {
    AppendInclusionPath(m - k, begin + k, count - k, hash, path);
    path->push_back(hash(begin, k));
  }
}

// RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], b) for the n = `count` leaves from `begin`.
void AppendSubproof(uint64_t m, uint64_t begin, uint64_t count, bool complete,
                    SubtreeHashFunction hash, std::vector<std::string>* proof) {
  if (m == count) {
    // D[0:m] is a subtree of both trees: the verifier knows its hash only if it is the whole old
    // tree.
    if (!complete) proof->push_back(hash(begin, count));
    return;
  }
  const uint64_t k = SplitPoint(count);
  if (m <= k) {
    AppendSubproof(m, begin, k, complete, hash, proof);
    proof->push_back(hash(begin + k, count - k));
  } else {
    AppendSubproof(m - k, begin + k, count - k, /*complete=*/false, hash, proof);
    proof->push_back(hash(begin, k));
  }
}

std::vector<std::string> BuildInclusionProof(uint64_t index, uint64_t tree_size,
                                             SubtreeHashFunction hash) {
  std::vector<std::string> path;
  AppendInclusionPath(index, 0, tree_size, hash, &path);
  return path;
}

// REQUIRES: first_size ≤ second_size.
std::vector<std::string> BuildConsistencyProof(uint64_t first_size, uint64_t second_size,
                                               SubtreeHashFunction hash) {
  std::vector<std::string> proof;
  // PROOF(m, D[n]) = SUBPROOF(m, D[n], true); nothing to prove from the empty tree or to itself.
  if (first_size == 0 || first_size == second_size) return proof;
  AppendSubproof(first_size, 0, second_size, /*complete=*/true, hash, &proof);
  return proof;
}

// The straightforward recursion of RFC 9162 §2.1.1 over a vector of leaf hashes.
std::string VectorSubtreeHash(const std::vector<std::string>& leaf_hashes, uint64_t begin,
                              uint64_t count) {
  if (count == 1) return leaf_hashes[begin];
  const uint64_t k = SplitPoint(count);
  return InteriorHash(VectorSubtreeHash(leaf_hashes, begin, k),
                      VectorSubtreeHash(leaf_hashes, begin + k, count - k));
}

absl::Status CheckHashLength(absl::string_view hash, absl::string_view what) {
  if (hash.size() == kMerkleHashBytes) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, " is ", hash.size(), " bytes, not ", kMerkleHashBytes));
}

// Proof nodes are std::string or absl::string_view.
template <typename Nodes>
absl::Status CheckProofElements(const Nodes& proof) {
  for (size_t i = 0; i < proof.size(); ++i) {
    if (proof[i].size() != kMerkleHashBytes) {
      return absl::DataLossError(absl::StrCat("proof element ", i, " is ", proof[i].size(),
                                              " bytes, not ", kMerkleHashBytes));
    }
  }
  return absl::OkStatus();
}

// Right-shifts both until fn's lowest bit is set or fn is 0 (RFC 9162 §2.1.3.2 step 4.b.ii).
void ShiftUntilOddOrZero(uint64_t* fn, uint64_t* sn) {
  while ((*fn & 1) == 0 && *fn != 0) {
    *fn >>= 1;
    *sn >>= 1;
  }
}

}  // namespace

std::string LeafHash(absl::string_view leaf) {
  return Sha256OfParts({absl::string_view("\x00", 1), leaf});
}

std::string InteriorHash(absl::string_view left, absl::string_view right) {
  return Sha256OfParts({"\x01", left, right});
}

std::string EmptyTreeHash() { return Sha256(""); }

std::string RootFromLeafHashes(const std::vector<std::string>& leaf_hashes) {
  if (leaf_hashes.empty()) return EmptyTreeHash();
  return VectorSubtreeHash(leaf_hashes, 0, leaf_hashes.size());
}

absl::StatusOr<std::vector<std::string>> InclusionProof(
    uint64_t index, const std::vector<std::string>& leaf_hashes) {
  if (index >= leaf_hashes.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("leaf index ", index, " is not in a tree of ", leaf_hashes.size(), " leaves"));
  }
  return BuildInclusionProof(index, leaf_hashes.size(), [&](uint64_t begin, uint64_t count) {
    return VectorSubtreeHash(leaf_hashes, begin, count);
  });
}

absl::StatusOr<std::vector<std::string>> ConsistencyProof(
    uint64_t first_size, const std::vector<std::string>& leaf_hashes) {
  if (first_size > leaf_hashes.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "first tree size ", first_size, " exceeds the tree of ", leaf_hashes.size(), " leaves"));
  }
  return BuildConsistencyProof(first_size, leaf_hashes.size(), [&](uint64_t begin, uint64_t count) {
    return VectorSubtreeHash(leaf_hashes, begin, count);
  });
}

absl::Status VerifyInclusion(absl::string_view leaf_hash, uint64_t index, uint64_t tree_size,
                             const std::vector<std::string>& proof, absl::string_view root) {
  const std::vector<absl::string_view> nodes(proof.begin(), proof.end());
  return VerifyInclusionOfViews(leaf_hash, index, tree_size, nodes, root);
}

absl::Status VerifyInclusionOfViews(absl::string_view leaf_hash, uint64_t index, uint64_t tree_size,
                                    absl::Span<const absl::string_view> proof,
                                    absl::string_view root) {
  // RFC 9162 §2.1.3.2 step 1.
  if (index >= tree_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("leaf index ", index, " is not in a tree of ", tree_size, " leaves"));
  }
  RETURN_IF_ERROR(CheckHashLength(leaf_hash, "leaf hash"));
  RETURN_IF_ERROR(CheckHashLength(root, "root hash"));
  RETURN_IF_ERROR(CheckProofElements(proof));
  // Steps 2 to 4.
  uint64_t fn = index;
  uint64_t sn = tree_size - 1;
  std::string r(leaf_hash);
  for (absl::string_view p : proof) {
    if (sn == 0) {
      return absl::DataLossError(absl::StrCat("inclusion proof of leaf ", index, " in tree size ",
                                              tree_size, " has too many elements (", proof.size(),
                                              ")"));
    }
    if ((fn & 1) != 0 || fn == sn) {
      r = InteriorHash(p, r);
      ShiftUntilOddOrZero(&fn, &sn);
    } else {
      r = InteriorHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  // Step 5.
  if (sn != 0) {
    return absl::DataLossError(absl::StrCat("inclusion proof of leaf ", index, " in tree size ",
                                            tree_size, " has too few elements (", proof.size(),
                                            ")"));
  }
  if (r != root) {
    return absl::DataLossError(absl::StrCat("inclusion proof of leaf ", index, " in tree size ",
                                            tree_size, " leads to root ", ShortHex(r), ", not to ",
                                            ShortHex(root)));
  }
  return absl::OkStatus();
}

absl::Status VerifyConsistency(uint64_t first_size, uint64_t second_size,
                               absl::string_view first_root, absl::string_view second_root,
                               const std::vector<std::string>& proof) {
  if (first_size > second_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("first tree size ", first_size, " exceeds second tree size ", second_size));
  }
  RETURN_IF_ERROR(CheckHashLength(first_root, "first root hash"));
  RETURN_IF_ERROR(CheckHashLength(second_root, "second root hash"));
  RETURN_IF_ERROR(CheckProofElements(proof));
  const std::string sizes = absl::StrCat(first_size, " and ", second_size);
  if (first_size == second_size) {
    if (!proof.empty()) {
      return absl::DataLossError(absl::StrCat("consistency proof between tree sizes ", sizes,
                                              " must be empty, has ", proof.size(), " elements"));
    }
    if (first_root != second_root) {
      return absl::DataLossError(absl::StrCat("roots of tree size ", first_size,
                                              " differ: ", ShortHex(first_root), " and ",
                                              ShortHex(second_root)));
    }
    return absl::OkStatus();
  }
  if (first_size == 0) {
    if (first_root != EmptyTreeHash()) {
      return absl::InvalidArgumentError(
          absl::StrCat("root of tree size 0 is ", ShortHex(first_root),
                       ", not the empty-tree hash ", ShortHex(EmptyTreeHash())));
    }
    if (!proof.empty()) {
      return absl::DataLossError(absl::StrCat(
          "consistency proof from the empty tree must be empty, has ", proof.size(), " elements"));
    }
    return absl::OkStatus();
  }
  // RFC 9162 §2.1.4.2 step 1.
  if (proof.empty()) {
    return absl::DataLossError(
        absl::StrCat("consistency proof between tree sizes ", sizes, " is empty"));
  }
  // Step 2.
  std::vector<absl::string_view> path;
  path.reserve(proof.size() + 1);
  if (IsPowerOfTwo(first_size)) path.push_back(first_root);
  for (const std::string& element : proof) path.push_back(element);
  // Steps 3 and 4.
  uint64_t fn = first_size - 1;
  uint64_t sn = second_size - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  // Steps 5 and 6.
  std::string fr(path[0]);
  std::string sr(path[0]);
  for (size_t i = 1; i < path.size(); ++i) {
    const absl::string_view c = path[i];
    if (sn == 0) {
      return absl::DataLossError(absl::StrCat("consistency proof between tree sizes ", sizes,
                                              " has too many elements (", proof.size(), ")"));
    }
    if ((fn & 1) != 0 || fn == sn) {
      fr = InteriorHash(c, fr);
      sr = InteriorHash(c, sr);
      ShiftUntilOddOrZero(&fn, &sn);
    } else {
      sr = InteriorHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  // Step 7.
  if (sn != 0) {
    return absl::DataLossError(absl::StrCat("consistency proof between tree sizes ", sizes,
                                            " has too few elements (", proof.size(), ")"));
  }
  if (fr != first_root) {
    return absl::DataLossError(absl::StrCat("consistency proof between tree sizes ", sizes,
                                            " leads to first root ", ShortHex(fr), ", not to ",
                                            ShortHex(first_root)));
  }
  if (sr != second_root) {
    return absl::DataLossError(absl::StrCat("consistency proof between tree sizes ", sizes,
                                            " leads to second root ", ShortHex(sr), ", not to ",
                                            ShortHex(second_root)));
  }
  return absl::OkStatus();
}

absl::Status MerkleTree::AppendLeafHash(absl::string_view leaf_hash) {
  RETURN_IF_ERROR(CheckHashLength(leaf_hash, "leaf hash"));
  // Completing a subtree at level k completes its parent when it is a right child (even count).
  std::string hash(leaf_hash);
  for (size_t level = 0;; ++level) {
    if (level == levels_.size()) levels_.emplace_back();
    std::string& hashes = levels_[level];
    hashes.append(hash);
    const size_t count = hashes.size() / kMerkleHashBytes;
    if (count % 2 != 0) break;
    hash = InteriorHash(
        absl::string_view(hashes).substr((count - 2) * kMerkleHashBytes, kMerkleHashBytes),
        absl::string_view(hashes).substr((count - 1) * kMerkleHashBytes, kMerkleHashBytes));
  }
  return absl::OkStatus();
}

uint64_t MerkleTree::size() const {
  return levels_.empty() ? 0 : levels_[0].size() / kMerkleHashBytes;
}

absl::StatusOr<std::string> MerkleTree::LeafHashAt(uint64_t index) const {
  if (index >= size()) {
    return absl::OutOfRangeError(
        absl::StrCat("leaf index ", index, " is beyond the tree's ", size(), " leaves"));
  }
  return levels_[0].substr(index * kMerkleHashBytes, kMerkleHashBytes);
}

absl::StatusOr<std::string> MerkleTree::RootHash(uint64_t tree_size) const {
  if (tree_size > size()) {
    return absl::OutOfRangeError(
        absl::StrCat("tree size ", tree_size, " is beyond the tree's ", size(), " leaves"));
  }
  if (tree_size == 0) return EmptyTreeHash();
  return SubtreeHash(0, tree_size);
}

absl::StatusOr<std::string> MerkleTree::CompleteSubtreeHash(unsigned height, uint64_t index) const {
  if (height >= levels_.size() || index >= levels_[height].size() / kMerkleHashBytes) {
    return absl::OutOfRangeError(absl::StrCat("the subtree ", index, " of 2^", height,
                                              " leaves is not complete in the tree's ", size(),
                                              " leaves"));
  }
  return levels_[height].substr(index * kMerkleHashBytes, kMerkleHashBytes);
}

absl::StatusOr<std::vector<std::string>> MerkleTree::InclusionProof(uint64_t index,
                                                                    uint64_t tree_size) const {
  if (tree_size > size()) {
    return absl::OutOfRangeError(
        absl::StrCat("tree size ", tree_size, " is beyond the tree's ", size(), " leaves"));
  }
  if (index >= tree_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("leaf index ", index, " is not in a tree of ", tree_size, " leaves"));
  }
  return BuildInclusionProof(index, tree_size, [this](uint64_t begin, uint64_t count) {
    return SubtreeHash(begin, count);
  });
}

absl::StatusOr<std::vector<std::string>> MerkleTree::ConsistencyProof(uint64_t first_size,
                                                                      uint64_t second_size) const {
  if (second_size > size()) {
    return absl::OutOfRangeError(
        absl::StrCat("tree size ", second_size, " is beyond the tree's ", size(), " leaves"));
  }
  if (first_size > second_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("first tree size ", first_size, " exceeds second tree size ", second_size));
  }
  return BuildConsistencyProof(first_size, second_size, [this](uint64_t begin, uint64_t count) {
    return SubtreeHash(begin, count);
  });
}

std::string MerkleTree::SubtreeHash(uint64_t begin, uint64_t count) const {
  if (IsPowerOfTwo(count) && begin % count == 0) {
    // A complete aligned subtree: stored. Its level is log2(count).
    size_t level = 0;
    while ((uint64_t{1} << level) < count) ++level;
    return levels_[level].substr((begin >> level) * kMerkleHashBytes, kMerkleHashBytes);
  }
  const uint64_t k = SplitPoint(count);
  return InteriorHash(SubtreeHash(begin, k), SubtreeHash(begin + k, count - k));
}

}  // namespace mecai
