#include "common/transparency/merkle.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/crypto/hashing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::testing::HasSubstr;

std::string FromHex(absl::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    return c - 'a' + 10;
  };
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes.push_back(static_cast<char>(nibble(hex[i]) * 16 + nibble(hex[i + 1])));
  }
  return bytes;
}

// The reference leaves and tree heads of the Certificate Transparency test suite (RFC 6962 hashing,
// which RFC 9162 §2.1 keeps).
std::vector<std::string> ReferenceLeaves() {
  return {FromHex(""),
          FromHex("00"),
          FromHex("10"),
          FromHex("2021"),
          FromHex("3031"),
          FromHex("40414243"),
          FromHex("5051525354555657"),
          FromHex("606162636465666768696a6b6c6d6e6f")};
}

const char* const kReferenceRoots[] = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

struct ProofVector {
  uint64_t first;  // Leaf index (inclusion) or first tree size (consistency).
  uint64_t tree_size;
  std::vector<const char*> proof;
};

const ProofVector kInclusionVectors[] = {
    {0,
     8,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {5,
     8,
     {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 3, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
    {1,
     5,
     {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
};

const ProofVector kConsistencyVectors[] = {
    {1, 1, {}},
    {1,
     8,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6,
     8,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2,
     5,
     {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
};

std::vector<std::string> ToHex(const std::vector<std::string>& hashes) {
  std::vector<std::string> hex;
  for (const std::string& hash : hashes) hex.push_back(HexEncode(hash));
  return hex;
}

std::vector<std::string> LeafHashesOf(const std::vector<std::string>& leaves, size_t count) {
  std::vector<std::string> hashes;
  for (size_t i = 0; i < count; ++i) hashes.push_back(LeafHash(leaves[i]));
  return hashes;
}

// An independent MTH, written from RFC 9162 §2.1.1 straight over the leaf data, with the hashing
// spelled out on SHA-256 itself.
std::string ReferenceMth(const std::vector<std::string>& leaves, size_t begin, size_t end) {
  const size_t n = end - begin;
  if (n == 0) return Sha256("");
  if (n == 1) return Sha256(std::string(1, '\0') + leaves[begin]);
  size_t k = 1;
  while (k * 2 < n) k *= 2;
  return Sha256(std::string(1, '\1') + ReferenceMth(leaves, begin, begin + k) +
                ReferenceMth(leaves, begin + k, end));
}

std::vector<std::string> MakeLeaves(size_t count) {
  std::vector<std::string> leaves;
  for (size_t i = 0; i < count; ++i) leaves.push_back(absl::StrCat("quorum record #", i));
  return leaves;
}

MerkleTree TreeOf(const std::vector<std::string>& leaf_hashes) {
  MerkleTree tree;
  for (const std::string& hash : leaf_hashes) EXPECT_TRUE(tree.AppendLeafHash(hash).ok());
  return tree;
}

std::string Flip(std::string hash, size_t byte) {
  hash[byte % hash.size()] ^= 0x01;
  return hash;
}

TEST(MerkleHashTest, LeafAndInteriorHashesAreDomainSeparated) {
  EXPECT_EQ(HexEncode(LeafHash("")), kReferenceRoots[1]);
  EXPECT_EQ(LeafHash("abc"), Sha256(std::string("\0abc", 4)));
  const std::string left = Sha256("left");
  const std::string right = Sha256("right");
  EXPECT_EQ(InteriorHash(left, right), Sha256("\x01" + left + right));
  EXPECT_NE(InteriorHash(left, right), InteriorHash(right, left));
  EXPECT_EQ(HexEncode(EmptyTreeHash()), kReferenceRoots[0]);
}

TEST(MerkleHashTest, RootsMatchCertificateTransparencyVectors) {
  const std::vector<std::string> leaves = ReferenceLeaves();
  const MerkleTree tree = TreeOf(LeafHashesOf(leaves, leaves.size()));
  for (size_t n = 0; n <= leaves.size(); ++n) {
    EXPECT_EQ(HexEncode(RootFromLeafHashes(LeafHashesOf(leaves, n))), kReferenceRoots[n])
        << "size " << n;
    absl::StatusOr<std::string> root = tree.RootHash(n);
    ASSERT_TRUE(root.ok()) << root.status();
    EXPECT_EQ(HexEncode(*root), kReferenceRoots[n]) << "size " << n;
  }
}

TEST(MerkleHashTest, InclusionProofsMatchCertificateTransparencyVectors) {
  const std::vector<std::string> leaves = ReferenceLeaves();
  for (const ProofVector& vector : kInclusionVectors) {
    const std::vector<std::string> hashes = LeafHashesOf(leaves, vector.tree_size);
    absl::StatusOr<std::vector<std::string>> proof = InclusionProof(vector.first, hashes);
    ASSERT_TRUE(proof.ok()) << proof.status();
    EXPECT_THAT(ToHex(*proof), ::testing::ElementsAreArray(vector.proof))
        << "leaf " << vector.first << " of " << vector.tree_size;
    EXPECT_TRUE(VerifyInclusion(hashes[vector.first], vector.first, vector.tree_size, *proof,
                                FromHex(kReferenceRoots[vector.tree_size]))
                    .ok());
  }
}

TEST(MerkleHashTest, ConsistencyProofsMatchCertificateTransparencyVectors) {
  const std::vector<std::string> leaves = ReferenceLeaves();
  for (const ProofVector& vector : kConsistencyVectors) {
    absl::StatusOr<std::vector<std::string>> proof =
        ConsistencyProof(vector.first, LeafHashesOf(leaves, vector.tree_size));
    ASSERT_TRUE(proof.ok()) << proof.status();
    EXPECT_THAT(ToHex(*proof), ::testing::ElementsAreArray(vector.proof))
        << vector.first << " to " << vector.tree_size;
    EXPECT_TRUE(VerifyConsistency(vector.first, vector.tree_size,
                                  FromHex(kReferenceRoots[vector.first]),
                                  FromHex(kReferenceRoots[vector.tree_size]), *proof)
                    .ok());
  }
}

TEST(MerkleHashTest, RootsMatchIndependentRecursion) {
  const std::vector<std::string> leaves = MakeLeaves(70);
  const std::vector<std::string> all_hashes = LeafHashesOf(leaves, leaves.size());
  const MerkleTree tree = TreeOf(all_hashes);
  for (size_t n = 0; n <= leaves.size(); ++n) {
    const std::string expected = ReferenceMth(leaves, 0, n);
    EXPECT_EQ(RootFromLeafHashes(LeafHashesOf(leaves, n)), expected) << "size " << n;
    absl::StatusOr<std::string> root = tree.RootHash(n);
    ASSERT_TRUE(root.ok()) << root.status();
    EXPECT_EQ(*root, expected) << "size " << n;
  }
}

TEST(MerkleHashTest, EveryInclusionProofVerifiesAndTamperingFails) {
  const std::vector<std::string> leaves = MakeLeaves(34);
  const MerkleTree tree = TreeOf(LeafHashesOf(leaves, leaves.size()));
  for (uint64_t size = 1; size <= 33; ++size) {
    const std::vector<std::string> hashes = LeafHashesOf(leaves, size);
    const std::string root = ReferenceMth(leaves, 0, size);
    for (uint64_t index = 0; index < size; ++index) {
      SCOPED_TRACE(absl::StrCat("leaf ", index, " of ", size));
      absl::StatusOr<std::vector<std::string>> proof = InclusionProof(index, hashes);
      ASSERT_TRUE(proof.ok()) << proof.status();
      absl::StatusOr<std::vector<std::string>> tree_proof = tree.InclusionProof(index, size);
      ASSERT_TRUE(tree_proof.ok()) << tree_proof.status();
      EXPECT_EQ(*tree_proof, *proof);
      const std::string& leaf = hashes[index];
      EXPECT_TRUE(VerifyInclusion(leaf, index, size, *proof, root).ok());

      EXPECT_EQ(VerifyInclusion(Flip(leaf, index), index, size, *proof, root).code(),
                absl::StatusCode::kDataLoss);
      EXPECT_EQ(VerifyInclusion(leaf, index, size, *proof, Flip(root, index)).code(),
                absl::StatusCode::kDataLoss);
      for (size_t i = 0; i < proof->size(); ++i) {
        std::vector<std::string> tampered = *proof;
        tampered[i] = Flip(tampered[i], i);
        EXPECT_EQ(VerifyInclusion(leaf, index, size, tampered, root).code(),
                  absl::StatusCode::kDataLoss)
            << "element " << i;
      }
      if (!proof->empty()) {
        std::vector<std::string> shorter(proof->begin(), proof->end() - 1);
        EXPECT_EQ(VerifyInclusion(leaf, index, size, shorter, root).code(),
                  absl::StatusCode::kDataLoss);
      }
      std::vector<std::string> longer = *proof;
      longer.push_back(root);
      EXPECT_EQ(VerifyInclusion(leaf, index, size, longer, root).code(),
                absl::StatusCode::kDataLoss);
      // The same leaf claimed at another position does not verify. RFC 9162 binds the tree size
      // through the root (a checkpoint signs both), so the proof must fail against the root of a
      // larger tree; against this tree's root with a larger size the path may well coincide.
      for (uint64_t other = 0; other < size; ++other) {
        if (other == index) continue;
        EXPECT_EQ(VerifyInclusion(leaf, other, size, *proof, root).code(),
                  absl::StatusCode::kDataLoss)
            << "claimed at " << other;
      }
      EXPECT_EQ(
          VerifyInclusion(leaf, index, size + 1, *proof, ReferenceMth(leaves, 0, size + 1)).code(),
          absl::StatusCode::kDataLoss);
    }
    EXPECT_EQ(VerifyInclusion(hashes[0], size, size, {}, root).code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(InclusionProof(size, hashes).status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(MerkleHashTest, EveryConsistencyProofVerifiesAndTamperingFails) {
  const std::vector<std::string> leaves = MakeLeaves(20);
  const MerkleTree tree = TreeOf(LeafHashesOf(leaves, leaves.size()));
  for (uint64_t second = 0; second <= 20; ++second) {
    const std::vector<std::string> hashes = LeafHashesOf(leaves, second);
    const std::string second_root = ReferenceMth(leaves, 0, second);
    for (uint64_t first = 0; first <= second; ++first) {
      SCOPED_TRACE(absl::StrCat(first, " to ", second));
      const std::string first_root = ReferenceMth(leaves, 0, first);
      absl::StatusOr<std::vector<std::string>> proof = ConsistencyProof(first, hashes);
      ASSERT_TRUE(proof.ok()) << proof.status();
      absl::StatusOr<std::vector<std::string>> tree_proof = tree.ConsistencyProof(first, second);
      ASSERT_TRUE(tree_proof.ok()) << tree_proof.status();
      EXPECT_EQ(*tree_proof, *proof);
      EXPECT_TRUE(VerifyConsistency(first, second, first_root, second_root, *proof).ok());
      if (first == 0 || first == second) {
        EXPECT_TRUE(proof->empty());
      }

      if (first > 0) {
        EXPECT_EQ(
            VerifyConsistency(first, second, Flip(first_root, first), second_root, *proof).code(),
            absl::StatusCode::kDataLoss);
      }
      // Every tree extends the empty one, whatever its root; otherwise the second root is bound.
      if (first > 0) {
        EXPECT_EQ(
            VerifyConsistency(first, second, first_root, Flip(second_root, second), *proof).code(),
            absl::StatusCode::kDataLoss);
      }
      for (size_t i = 0; i < proof->size(); ++i) {
        std::vector<std::string> tampered = *proof;
        tampered[i] = Flip(tampered[i], i);
        EXPECT_EQ(VerifyConsistency(first, second, first_root, second_root, tampered).code(),
                  absl::StatusCode::kDataLoss)
            << "element " << i;
      }
      if (!proof->empty()) {
        std::vector<std::string> shorter(proof->begin(), proof->end() - 1);
        EXPECT_EQ(VerifyConsistency(first, second, first_root, second_root, shorter).code(),
                  absl::StatusCode::kDataLoss);
      }
      std::vector<std::string> longer = *proof;
      longer.push_back(second_root);
      EXPECT_EQ(VerifyConsistency(first, second, first_root, second_root, longer).code(),
                absl::StatusCode::kDataLoss);
      // A history rewritten at any leaf before `first` changes both roots; the proof of the honest
      // log must not reconcile the honest old root with the rewritten new one.
      for (uint64_t rewritten = 0; rewritten < first; ++rewritten) {
        std::vector<std::string> forged_leaves = leaves;
        forged_leaves[rewritten] += " (rewritten)";
        const std::string forged_second_root = ReferenceMth(forged_leaves, 0, second);
        EXPECT_EQ(VerifyConsistency(first, second, first_root, forged_second_root, *proof).code(),
                  absl::StatusCode::kDataLoss)
            << "leaf " << rewritten << " rewritten";
      }
    }
    if (second > 0) {
      EXPECT_EQ(ConsistencyProof(second + 1, hashes).status().code(),
                absl::StatusCode::kInvalidArgument);
      EXPECT_EQ(VerifyConsistency(second, second - 1, second_root, second_root, {}).code(),
                absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST(MerkleHashTest, ConsistencyFromTheEmptyTree) {
  const std::vector<std::string> hashes = LeafHashesOf(MakeLeaves(5), 5);
  const std::string root = RootFromLeafHashes(hashes);
  EXPECT_TRUE(VerifyConsistency(0, 5, EmptyTreeHash(), root, {}).ok());
  EXPECT_EQ(VerifyConsistency(0, 5, EmptyTreeHash(), root, {root}).code(),
            absl::StatusCode::kDataLoss);
  absl::Status status = VerifyConsistency(0, 5, root, root, {});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("empty-tree hash"));
}

TEST(MerkleHashTest, MalformedHashesAreInvalidArguments) {
  const std::vector<std::string> hashes = LeafHashesOf(MakeLeaves(4), 4);
  const std::string root = RootFromLeafHashes(hashes);
  absl::StatusOr<std::vector<std::string>> proof = InclusionProof(1, hashes);
  ASSERT_TRUE(proof.ok());
  EXPECT_EQ(VerifyInclusion("short", 1, 4, *proof, root).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(VerifyInclusion(hashes[1], 1, 4, *proof, "short").code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<std::string> bad_element = *proof;
  bad_element[0] += "x";
  absl::Status status = VerifyInclusion(hashes[1], 1, 4, bad_element, root);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("33 bytes"));
}

TEST(MerkleTreeTest, RefusesBadArguments) {
  MerkleTree tree;
  EXPECT_EQ(tree.size(), 0u);
  absl::StatusOr<std::string> empty_root = tree.RootHash(0);
  ASSERT_TRUE(empty_root.ok());
  EXPECT_EQ(*empty_root, EmptyTreeHash());
  EXPECT_EQ(tree.AppendLeafHash("not a hash").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tree.size(), 0u);
  for (const std::string& hash : LeafHashesOf(MakeLeaves(3), 3)) {
    ASSERT_TRUE(tree.AppendLeafHash(hash).ok());
  }
  EXPECT_EQ(tree.size(), 3u);
  EXPECT_EQ(tree.RootHash(4).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(tree.LeafHashAt(3).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(tree.InclusionProof(0, 4).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(tree.InclusionProof(3, 3).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tree.ConsistencyProof(1, 4).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(tree.ConsistencyProof(3, 2).status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<std::string> leaf = tree.LeafHashAt(2);
  ASSERT_TRUE(leaf.ok());
  EXPECT_EQ(*leaf, LeafHash("quorum record #2"));
}

// The cached complete subtrees must give the same answers as the plain recursion in a tree deep
// enough to use many levels.
TEST(MerkleTreeTest, LargeTreeAgreesWithPlainRecursion) {
  const std::vector<std::string> hashes = LeafHashesOf(MakeLeaves(1500), 1500);
  const MerkleTree tree = TreeOf(hashes);
  for (uint64_t size : {1u, 2u, 511u, 512u, 513u, 1023u, 1024u, 1025u, 1499u, 1500u}) {
    const std::vector<std::string> prefix(hashes.begin(), hashes.begin() + size);
    const std::string root = RootFromLeafHashes(prefix);
    absl::StatusOr<std::string> tree_root = tree.RootHash(size);
    ASSERT_TRUE(tree_root.ok());
    EXPECT_EQ(*tree_root, root) << "size " << size;
    for (uint64_t index : {uint64_t{0}, size / 3, size / 2, size - 1}) {
      absl::StatusOr<std::vector<std::string>> proof = tree.InclusionProof(index, size);
      ASSERT_TRUE(proof.ok());
      EXPECT_EQ(*proof, *InclusionProof(index, prefix)) << index << " of " << size;
      EXPECT_TRUE(VerifyInclusion(hashes[index], index, size, *proof, root).ok());
    }
    for (uint64_t first : {uint64_t{1}, size / 3, size / 2, size - 1}) {
      absl::StatusOr<std::vector<std::string>> proof = tree.ConsistencyProof(first, size);
      ASSERT_TRUE(proof.ok());
      EXPECT_EQ(*proof, *ConsistencyProof(first, prefix)) << first << " to " << size;
      EXPECT_TRUE(VerifyConsistency(first, size, *tree.RootHash(first), root, *proof).ok());
    }
  }
}

TEST(MerkleTreeTest, CompleteSubtreeHashesAreTheRootsOfTheirLeavesAndOnlyWhenComplete) {
  const std::vector<std::string> hashes = LeafHashesOf(MakeLeaves(600), 600);
  const MerkleTree tree = TreeOf(hashes);
  for (unsigned height : {0u, 1u, 8u, 9u}) {
    const uint64_t width = uint64_t{1} << height;
    for (uint64_t index = 0; (index + 1) * width <= 600; ++index) {
      const std::vector<std::string> leaves(hashes.begin() + index * width,
                                            hashes.begin() + (index + 1) * width);
      absl::StatusOr<std::string> hash = tree.CompleteSubtreeHash(height, index);
      ASSERT_TRUE(hash.ok()) << height << "/" << index;
      EXPECT_EQ(*hash, RootFromLeafHashes(leaves)) << height << "/" << index;
    }
  }
  EXPECT_EQ(tree.CompleteSubtreeHash(8, 2).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(tree.CompleteSubtreeHash(0, 600).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(tree.CompleteSubtreeHash(10, 0).status().code(), absl::StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace mecai
