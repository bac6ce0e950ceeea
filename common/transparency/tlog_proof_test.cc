#include "common/transparency/tlog_proof.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/crypto/signature.h"
#include "common/pki/pki_builder.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "common/transparency/merkle.h"
#include "common/transparency/signed_note.h"
#include "common/transparency/tlog_checkpoint.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::HasSubstr;

constexpr char kOrigin[] = "log.example/shard-1";

class TlogProofTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(EvpPkeyPtr key, GenerateEd25519Key());
    ASSERT_OK_AND_ASSIGN(vkey_, Ed25519VerifierKey(kOrigin, key.get()));
    ASSERT_OK_AND_ASSIGN(signer_, InMemorySigningKey::Create(std::move(key)));
    for (int i = 0; i < 13; ++i) {
      entries_.push_back(absl::StrCat("entry ", i));
      ASSERT_OK(tree_.AppendLeafHash(LeafHash(entries_.back())));
    }
  }

  // A proof of entry `index` against a checkpoint of the whole tree, signed by the log key.
  TlogProof ProofOf(uint64_t index) {
    TlogProof proof;
    proof.index = index;
    absl::StatusOr<std::vector<std::string>> path = tree_.InclusionProof(index, tree_.size());
    EXPECT_OK(path.status());
    proof.inclusion_proof = *path;
    absl::StatusOr<std::string> root = tree_.RootHash(tree_.size());
    EXPECT_OK(root.status());
    absl::StatusOr<std::string> text = FormatCheckpointText({kOrigin, tree_.size(), *root});
    EXPECT_OK(text.status());
    absl::StatusOr<NoteSignature> signature = SignNoteText(*text, vkey_, *signer_);
    EXPECT_OK(signature.status());
    absl::StatusOr<std::string> note = FormatSignedNote(*text, {*signature});
    EXPECT_OK(note.status());
    proof.checkpoint_note = *note;
    return proof;
  }

  NoteVerifierKey vkey_;
  std::unique_ptr<InMemorySigningKey> signer_;
  MerkleTree tree_;
  std::vector<std::string> entries_;
};

TEST_F(TlogProofTest, RoundTripsAndVerifies) {
  TlogProof proof = ProofOf(7);
  proof.extra = "application data";
  ASSERT_OK_AND_ASSIGN(std::string text, FormatTlogProof(proof));
  EXPECT_EQ(text.substr(0, text.find('\n', text.find("index"))),
            absl::StrCat("c2sp.org/tlog-proof@v1\nextra ", Base64Encode("application data"),
                         "\nindex 7"));
  ASSERT_OK_AND_ASSIGN(TlogProof parsed, ParseTlogProof(text));
  EXPECT_EQ(parsed.extra, "application data");
  EXPECT_EQ(parsed.index, 7u);
  EXPECT_EQ(parsed.inclusion_proof, proof.inclusion_proof);
  EXPECT_EQ(parsed.checkpoint_note, proof.checkpoint_note);
  ASSERT_OK_AND_ASSIGN(TlogCheckpoint checkpoint, VerifyTlogProof(parsed, vkey_, entries_[7]));
  EXPECT_EQ(checkpoint.tree_size, 13u);
}

TEST_F(TlogProofTest, RefusesAnotherEntryAFlippedHashAnotherKeyAndAnIndexBeyondTheTree) {
  const TlogProof proof = ProofOf(4);
  EXPECT_THAT(VerifyTlogProof(proof, vkey_, entries_[5]),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("is not entry 4 of the tree of 13")));
  TlogProof flipped = proof;
  flipped.inclusion_proof[1][3] ^= 0x01;
  EXPECT_THAT(VerifyTlogProof(flipped, vkey_, entries_[4]),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("is not entry 4")));
  TlogProof moved = proof;
  moved.index = 13;
  EXPECT_THAT(VerifyTlogProof(moved, vkey_, entries_[4]),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("covers only 13 entries")));
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr other_key, GenerateEd25519Key());
  ASSERT_OK_AND_ASSIGN(NoteVerifierKey other, Ed25519VerifierKey(kOrigin, other_key.get()));
  EXPECT_THAT(VerifyTlogProof(proof, other, entries_[4]),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("does not verify")));
}

TEST_F(TlogProofTest, ParsesOnlyTheExactForm) {
  ASSERT_OK_AND_ASSIGN(std::string text, FormatTlogProof(ProofOf(0)));
  const std::string note = ProofOf(0).checkpoint_note;
  const std::string body = text.substr(text.find("index"));
  EXPECT_THAT(ParseTlogProof("c2sp.org/tlog-proof@v2\n" + body),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("the first line")));
  EXPECT_THAT(ParseTlogProof("c2sp.org/tlog-proof@v1\nindex 00\n\n" + note),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("leading zero")));
  EXPECT_THAT(ParseTlogProof("c2sp.org/tlog-proof@v1\nindex 0\nAAAA\n\n" + note),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 1 is not base64")));
  EXPECT_THAT(ParseTlogProof("c2sp.org/tlog-proof@v1\nindex 0\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no empty line")));
  EXPECT_THAT(ParseTlogProof("c2sp.org/tlog-proof@v1\nindex 0\n\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no checkpoint")));
  // A tree of one leaf: no hashes at all.
  ASSERT_OK_AND_ASSIGN(TlogProof one, ParseTlogProof("c2sp.org/tlog-proof@v1\nindex 0\n\n" + note));
  EXPECT_TRUE(one.inclusion_proof.empty());
}

}  // namespace
}  // namespace mecai
