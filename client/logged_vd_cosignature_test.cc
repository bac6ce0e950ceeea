// A client that requires k cosignatures (VaList.min_cosignatures) accepts a logged VD only when
// k witnesses of other VAs of its list cosigned the VD's checkpoint (docs/PUBLIC_LOG.md
// "Witnesses", docs/VOUCHING_DATA.md "Logged VDs"). Built on the golden vector logged.vd, whose
// note is cosigned here by in-memory witness keys.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/testing/vd_vectors.h"
#include "client/va_list.h"
#include "client/vd_verifier.h"
#include "common/base/files.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/pki/pki_builder.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "common/transparency/cosignature.h"
#include "common/transparency/note_key.h"
#include "common/transparency/signed_note.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::HasSubstr;

namespace vectors = ::mecai::vd_vectors;

std::string VectorPath(const std::string& name) {
  const char* runfiles = std::getenv("TEST_SRCDIR");
  return absl::StrCat(runfiles != nullptr ? runfiles : ".", "/mecai/testdata/vd/", name);
}

struct Witness {
  NoteVerifierKey key;
  std::unique_ptr<InMemorySigningKey> signer;
};

Witness MakeWitness(const std::string& name) {
  Witness witness;
  EvpPkeyPtr key = *GenerateEd25519Key();
  witness.key = *CosignerKey(name, key.get());
  witness.signer = *InMemorySigningKey::Create(std::move(key));
  return witness;
}

class LoggedVdCosignatureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(std::string bytes, ReadFile(VectorPath("logged.vd")));
    ASSERT_TRUE(logged_.ParseFromString(bytes));
    ASSERT_OK_AND_ASSIGN(std::vector<std::string> leaf,
                         LoadPemCertificatesAsDer(VectorPath("server-leaf.pem")));
    leaf_der_ = leaf.front();
    ASSERT_OK_AND_ASSIGN(directory_, test_pki::MakeTempDirectory());
    for (const char* name : {"ca.pem", "other-ca.pem"}) {
      ASSERT_OK_AND_ASSIGN(std::string pem, ReadFile(VectorPath(name)));
      ASSERT_OK(WriteFileAtomically(absl::StrCat(directory_, "/", name), pem));
    }
    ASSERT_OK_AND_ASSIGN(va_list_text_, ReadFile(VectorPath("va-list.textproto")));
  }

  // The vector's VA list with a witness for each VA and `min_cosignatures`.
  absl::StatusOr<std::unique_ptr<VaList>> ListWith(const Witness& own, const Witness& other,
                                                   int min_cosignatures) {
    std::string text = va_list_text_;
    const std::string own_line = absl::StrCat("  id: \"", vectors::kVaId, "\"\n");
    const std::string other_line = absl::StrCat("  id: \"", vectors::kOtherVaId, "\"\n");
    text.replace(text.find(own_line), own_line.size(),
                 absl::StrCat(own_line, "  witness_vkey: \"", FormatCosignerVkey(own.key), "\"\n"));
    text.replace(
        text.find(other_line), other_line.size(),
        absl::StrCat(other_line, "  witness_vkey: \"", FormatCosignerVkey(other.key), "\"\n"));
    absl::StrAppend(&text, "min_cosignatures: ", min_cosignatures, "\n");
    const std::string path = absl::StrCat(directory_, "/va-list-", ++lists_, ".textproto");
    RETURN_IF_ERROR(WriteFileAtomically(path, text));
    return VaList::Load(path);
  }

  // logged.vd with the cosignature lines of `witnesses` added to its note.
  v1::VouchingData CosignedBy(const std::vector<const Witness*>& witnesses) {
    v1::VouchingData vd = logged_;
    const std::string& note = vd.log_proof().checkpoint_note();
    const std::string text = note.substr(0, note.find("\n\n") + 1);
    std::string lines;
    for (const Witness* witness : witnesses) {
      absl::StatusOr<NoteSignature> signature = SignCosignatureV1(
          text, witness->key, absl::ToUnixSeconds(vectors::IssuedAt()), *witness->signer);
      EXPECT_TRUE(signature.ok()) << signature.status();
      absl::StrAppend(&lines, FormatNoteSignatureLine(*signature));
    }
    vd.mutable_log_proof()->set_checkpoint_note(note + lines);
    return vd;
  }

  VdExpectation Expected() const { return vectors::VectorExpectation(leaf_der_); }

  v1::VouchingData logged_;
  std::string leaf_der_;
  std::string directory_;
  std::string va_list_text_;
  int lists_ = 0;
};

TEST_F(LoggedVdCosignatureTest, TheOtherVasWitnessMustHaveCosigned) {
  Witness own = MakeWitness("witness.example.net");
  Witness other = MakeWitness("witness.other.example.org");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<VaList> vas, ListWith(own, other, 1));
  // Cosigned by the other VA's witness: accepted, twice (the second from the cache).
  const v1::VouchingData cosigned = CosignedBy({&other});
  EXPECT_OK(VerifyVouchingData(cosigned, *vas, Expected()).status());
  EXPECT_OK(VerifyVouchingData(cosigned, *vas, Expected()).status());
  // Not cosigned, or only by the VA's own witness: refused.
  EXPECT_THAT(VerifyVouchingData(logged_, *vas, Expected()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("not cosigned by enough other VAs' witnesses")));
  EXPECT_THAT(VerifyVouchingData(CosignedBy({&own}), *vas, Expected()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("not cosigned by enough other VAs' witnesses")));
  // A cosignature line altered after the fact.
  v1::VouchingData altered = cosigned;
  std::string note = altered.log_proof().checkpoint_note();
  note[note.size() - 5] ^= 1;
  altered.mutable_log_proof()->set_checkpoint_note(note);
  EXPECT_THAT(VerifyVouchingData(altered, *vas, Expected()),
              StatusIs(absl::StatusCode::kPermissionDenied, testing::_));
}

// Which witnesses count depends on the VA the statement names. A VD whose statement names another
// VA, under which the VA's own witness would count, is refused, and must not leave its checkpoint
// remembered as cosigned enough for the VDs that do name the VA.
TEST_F(LoggedVdCosignatureTest, ARefusedVdNamingAnotherVaDoesNotMakeTheOwnWitnessCount) {
  Witness own = MakeWitness("witness.example.net");
  Witness other = MakeWitness("witness.other.example.org");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<VaList> vas, ListWith(own, other, 1));
  const v1::VouchingData cosigned_by_own = CosignedBy({&own});
  v1::VouchingData naming_other = cosigned_by_own;
  v1::VouchingStatement statement;
  ASSERT_TRUE(statement.ParseFromString(naming_other.statement()));
  statement.set_va_id(vectors::kOtherVaId);
  naming_other.set_statement(statement.SerializeAsString());
  EXPECT_THAT(VerifyVouchingData(naming_other, *vas, Expected()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       absl::StrCat("the log key is endorsed for VA '", vectors::kVaId, "', not '",
                                    vectors::kOtherVaId, "'")));
  EXPECT_THAT(VerifyVouchingData(cosigned_by_own, *vas, Expected()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("not cosigned by enough other VAs' witnesses: 0 of the required "
                                 "1 cosignatures")));
  EXPECT_EQ(vas->verified_va_cache().checkpoint_hits(), 0u);
}

TEST_F(LoggedVdCosignatureTest, WithoutARequirementCosignaturesAreNotNeeded) {
  Witness own = MakeWitness("witness.example.net");
  Witness other = MakeWitness("witness.other.example.org");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<VaList> vas, ListWith(own, other, 0));
  EXPECT_OK(VerifyVouchingData(logged_, *vas, Expected()).status());
  EXPECT_OK(VerifyVouchingData(CosignedBy({&own, &other}), *vas, Expected()).status());
}

// The vector's VA list naming `vkeys` as the public logs of the vector's VA.
absl::StatusOr<std::unique_ptr<VaList>> ListPublishing(const std::string& va_list_text,
                                                       const std::string& directory,
                                                       const std::vector<std::string>& vkeys) {
  std::string text = va_list_text;
  const std::string own_line = absl::StrCat("  id: \"", vectors::kVaId, "\"\n");
  std::string lines;
  for (const std::string& vkey : vkeys) absl::StrAppend(&lines, "  log_vkeys: \"", vkey, "\"\n");
  text.replace(text.find(own_line), own_line.size(), absl::StrCat(own_line, lines));
  const std::string path = absl::StrCat(directory, "/va-list-logs.textproto");
  RETURN_IF_ERROR(WriteFileAtomically(path, text));
  return VaList::Load(path);
}

// A VA list that names the VA's public logs (VaListEntry.log_vkeys) accepts a logged VD only from
// one of them, with its key: a log the VA signs but does not publish proves nothing
// (client/log_proof_verifier.h, step 2b).
TEST_F(LoggedVdCosignatureTest, AListNamingTheVasLogsAcceptsOnlyThoseLogs) {
  ASSERT_OK_AND_ASSIGN(std::string log_key_pem, ReadFile(VectorPath("log.key.pem")));
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr log_key, ParsePemPrivateKey(log_key_pem));
  const std::string origin = absl::StrCat(vectors::kLogOriginPrefix, "/", vectors::kLogShardId);
  ASSERT_OK_AND_ASSIGN(NoteVerifierKey published, Ed25519VerifierKey(origin, log_key.get()));
  ASSERT_OK_AND_ASSIGN(NoteVerifierKey elsewhere,
                       Ed25519VerifierKey("log.example.net/mecai/shard-other", log_key.get()));
  EvpPkeyPtr other_key = *GenerateEd25519Key();
  ASSERT_OK_AND_ASSIGN(NoteVerifierKey other_key_same_origin,
                       Ed25519VerifierKey(origin, other_key.get()));

  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<VaList> publishing,
      ListPublishing(va_list_text_, directory_,
                     {FormatVerifierKey(elsewhere), FormatVerifierKey(published)}));
  EXPECT_OK(VerifyVouchingData(logged_, *publishing, Expected()).status());

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<VaList> other_log,
                       ListPublishing(va_list_text_, directory_, {FormatVerifierKey(elsewhere)}));
  EXPECT_THAT(
      VerifyVouchingData(logged_, *other_log, Expected()),
      StatusIs(absl::StatusCode::kPermissionDenied,
               HasSubstr(absl::StrCat("the VD is proven in the log \"", origin, "\", which VA '",
                                      vectors::kVaId, "' does not publish (log_vkeys)"))));
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<VaList> other_key_list,
      ListPublishing(va_list_text_, directory_, {FormatVerifierKey(other_key_same_origin)}));
  EXPECT_THAT(
      VerifyVouchingData(logged_, *other_key_list, Expected()),
      StatusIs(absl::StatusCode::kPermissionDenied,
               HasSubstr(absl::StrCat("the VD's log key is not the key VA '", vectors::kVaId,
                                      "' publishes for the log \"", origin, "\" (log_vkeys)"))));
  EXPECT_THAT(ListPublishing(va_list_text_, directory_, {"not a vkey"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("' log_vkeys: ")));
}

}  // namespace
}  // namespace mecai
