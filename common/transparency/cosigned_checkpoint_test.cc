#include "common/transparency/cosigned_checkpoint.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/crypto/signature.h"
#include "common/pki/pki_builder.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "common/transparency/cosignature.h"
#include "common/transparency/signed_note.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct Signer {
  NoteVerifierKey key;
  std::unique_ptr<InMemorySigningKey> signer;
};

class CosignedCheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(EvpPkeyPtr log_key, GenerateEd25519Key());
    ASSERT_OK_AND_ASSIGN(log_.key, Ed25519VerifierKey("log.example/shard-1", log_key.get()));
    ASSERT_OK_AND_ASSIGN(log_.signer, InMemorySigningKey::Create(std::move(log_key)));
    for (const char* name : {"w1.example", "w2.example", "w3.example"}) {
      ASSERT_OK_AND_ASSIGN(EvpPkeyPtr key, GenerateEd25519Key());
      Signer witness;
      ASSERT_OK_AND_ASSIGN(witness.key, CosignerKey(name, key.get()));
      ASSERT_OK_AND_ASSIGN(witness.signer, InMemorySigningKey::Create(std::move(key)));
      witness_keys_.push_back(witness.key);
      witnesses_.push_back(std::move(witness));
    }
  }

  NoteSignature LogSignature() {
    absl::StatusOr<NoteSignature> signature = SignNoteText(text_, log_.key, *log_.signer);
    EXPECT_OK(signature.status());
    return *signature;
  }
  NoteSignature Cosignature(size_t witness, uint64_t time = 1700000000) {
    absl::StatusOr<NoteSignature> signature =
        SignCosignatureV1(text_, witnesses_[witness].key, time, *witnesses_[witness].signer);
    EXPECT_OK(signature.status());
    return *signature;
  }
  std::string Note(const std::vector<NoteSignature>& signatures) {
    absl::StatusOr<std::string> note = FormatSignedNote(text_, signatures);
    EXPECT_OK(note.status());
    return *note;
  }

  const std::string text_ =
      "log.example/shard-1\n42\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
  Signer log_;
  std::vector<Signer> witnesses_;
  std::vector<NoteVerifierKey> witness_keys_;
};

TEST_F(CosignedCheckpointTest, CountsDistinctListedWitnesses) {
  const std::string note =
      Note({LogSignature(), Cosignature(2, 5), Cosignature(0, 7), Cosignature(0, 8)});
  ASSERT_OK_AND_ASSIGN(CosignedCheckpoint verified,
                       VerifyCosignedCheckpoint(note, log_.key, witness_keys_, 2));
  EXPECT_EQ(verified.checkpoint.origin, "log.example/shard-1");
  EXPECT_EQ(verified.checkpoint.tree_size, 42u);
  EXPECT_THAT(verified.cosigners, ElementsAre("w1.example", "w3.example"));
  EXPECT_THAT(verified.cosigned_at, ElementsAre(7u, 5u));
  // A witness twice is still one.
  EXPECT_THAT(VerifyCosignedCheckpoint(note, log_.key, witness_keys_, 3),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "2 of the required 3 cosignatures: no signature of witness w2.example"));
  // k = 0: the log's signature alone.
  EXPECT_OK(VerifyCosignedCheckpoint(Note({LogSignature()}), log_.key, witness_keys_, 0).status());
}

TEST_F(CosignedCheckpointTest, NamesTheWitnessWhoseSignatureDoesNotVerify) {
  NoteSignature bad = Cosignature(2);
  bad.signature[20] ^= 1;
  const std::string note = Note({LogSignature(), Cosignature(0), Cosignature(1), bad});
  EXPECT_THAT(
      VerifyCosignedCheckpoint(note, log_.key, witness_keys_, 3),
      StatusIs(absl::StatusCode::kPermissionDenied,
               "2 of the required 3 cosignatures: witness w3.example's signature does not verify"));
  // A bad line followed by a good one of the same witness: the good one counts.
  EXPECT_OK(VerifyCosignedCheckpoint(Note({LogSignature(), bad, Cosignature(2)}), log_.key,
                                     witness_keys_, 1)
                .status());
}

TEST_F(CosignedCheckpointTest, IgnoresUnknownKeysAndNoteSignaturesOfWitnessNames) {
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr stranger_key, GenerateEd25519Key());
  ASSERT_OK_AND_ASSIGN(NoteVerifierKey stranger, CosignerKey("w1.example", stranger_key.get()));
  ASSERT_OK_AND_ASSIGN(auto stranger_signer, InMemorySigningKey::Create(std::move(stranger_key)));
  ASSERT_OK_AND_ASSIGN(NoteSignature strangers,
                       SignCosignatureV1(text_, stranger, 1, *stranger_signer));
  // A plain note signature (type 0x01) by w2's key: another key ID, so not a cosignature of w2.
  NoteVerifierKey w2_as_note = witnesses_[1].key;
  w2_as_note.key_id = Ed25519NoteKeyId(w2_as_note.name, w2_as_note.public_key);
  ASSERT_OK_AND_ASSIGN(NoteSignature plain, SignNoteText(text_, w2_as_note, *witnesses_[1].signer));
  const std::string note = Note({strangers, plain, LogSignature()});
  EXPECT_THAT(VerifyCosignedCheckpoint(note, log_.key, witness_keys_, 1),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "0 of the required 1 cosignatures: no signature of witness w1.example; no "
                       "signature of witness w2.example; no signature of witness w3.example"));
}

TEST_F(CosignedCheckpointTest, TheLogSignatureAndOriginAreRequired) {
  EXPECT_THAT(
      VerifyCosignedCheckpoint(Note({Cosignature(0), Cosignature(1)}), log_.key, witness_keys_, 1),
      StatusIs(absl::StatusCode::kPermissionDenied, "no known key signed the note"));
  // A cosignature of another text (another tree size) does not count for this one.
  const std::string other_text =
      "log.example/shard-1\n43\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
  ASSERT_OK_AND_ASSIGN(NoteSignature other,
                       SignCosignatureV1(other_text, witnesses_[0].key, 1, *witnesses_[0].signer));
  EXPECT_THAT(VerifyCosignedCheckpoint(Note({LogSignature(), other}), log_.key, witness_keys_, 1),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("w1.example's signature does "
                                                                      "not verify")));
  // The origin must be the log key's name.
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr key, GenerateEd25519Key());
  ASSERT_OK_AND_ASSIGN(NoteVerifierKey misnamed,
                       Ed25519VerifierKey("log.example/other", key.get()));
  ASSERT_OK_AND_ASSIGN(auto misnamed_signer, InMemorySigningKey::Create(std::move(key)));
  ASSERT_OK_AND_ASSIGN(NoteSignature misnamed_signature,
                       SignNoteText(text_, misnamed, *misnamed_signer));
  EXPECT_THAT(
      VerifyCosignedCheckpoint(Note({misnamed_signature}), misnamed, witness_keys_, 0),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("is not the log key's name")));
}

TEST_F(CosignedCheckpointTest, RefusesImpossiblePolicies) {
  const std::string note = Note({LogSignature()});
  EXPECT_THAT(VerifyCosignedCheckpoint(note, log_.key, witness_keys_, 4),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "4 cosignatures are required of only 3 witnesses"));
  std::vector<NoteVerifierKey> twice = {witness_keys_[0], witness_keys_[0]};
  EXPECT_THAT(VerifyCosignedCheckpoint(note, log_.key, twice, 1),
              StatusIs(absl::StatusCode::kInvalidArgument, "witness w1.example is listed twice"));
}

// cosignature/v1 signs the checkpoint and a time, not the witness's name: a key listed under two
// names would count one witness's cosignature twice, relabelled as the other name's.
TEST_F(CosignedCheckpointTest, RefusesAWitnessKeyListedUnderTwoNames) {
  NoteVerifierKey alias = witness_keys_[0];
  alias.name = "w1-alias.example";
  alias.key_id = NoteKeyId(alias.name, kCosignatureV1SignatureType, alias.public_key);
  NoteSignature relabelled = Cosignature(0);
  relabelled.key_name = alias.name;
  relabelled.key_id = alias.key_id;
  const std::string note = Note({LogSignature(), Cosignature(0), relabelled});
  const std::vector<NoteVerifierKey> listed = {witness_keys_[0], alias, witness_keys_[1]};
  EXPECT_THAT(VerifyCosignedCheckpoint(note, log_.key, listed, 2),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "witness w1-alias.example has the key of witness w1.example"));
}

}  // namespace
}  // namespace mecai
