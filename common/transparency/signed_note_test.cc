#include "common/transparency/signed_note.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/pki/pki_builder.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;

using ::testing::HasSubstr;

// The example of c2sp.org/signed-note "Verifier keys".
constexpr char kSpecVkey[] =
    "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
constexpr char kSpecNote[] =
    "This is an example message.\n"
    "\n"
    "\xe2\x80\x94 example.com/foo "
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM="
    "\n";

class SignedNoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(EvpPkeyPtr key, GenerateEd25519Key());
    ASSERT_OK_AND_ASSIGN(vkey_, Ed25519VerifierKey("log.example/a", key.get()));
    ASSERT_OK_AND_ASSIGN(signer_, InMemorySigningKey::Create(std::move(key)));
  }

  std::string Signed(absl::string_view text) {
    absl::StatusOr<NoteSignature> signature = SignNoteText(text, vkey_, *signer_);
    EXPECT_OK(signature.status());
    absl::StatusOr<std::string> note = FormatSignedNote(text, {*signature});
    EXPECT_OK(note.status());
    return *note;
  }

  NoteVerifierKey vkey_;
  std::unique_ptr<InMemorySigningKey> signer_;
};

TEST_F(SignedNoteTest, OpensTheSpecificationsExample) {
  ASSERT_OK_AND_ASSIGN(NoteVerifierKey key, ParseVerifierKey(kSpecVkey));
  ASSERT_OK_AND_ASSIGN(OpenedNote opened, OpenSignedNote(kSpecNote, {key}));
  EXPECT_EQ(opened.text, "This is an example message.\n");
  ASSERT_EQ(opened.verified.size(), 1u);
  EXPECT_EQ(opened.verified[0].key_name, "example.com/foo");
  EXPECT_EQ(opened.unknown_signatures, 0u);
}

TEST_F(SignedNoteTest, SignsAndOpens) {
  const std::string note = Signed("origin\n12\nroot\n");
  ASSERT_OK_AND_ASSIGN(OpenedNote opened, OpenSignedNote(note, {vkey_}));
  EXPECT_EQ(opened.text, "origin\n12\nroot\n");
  EXPECT_EQ(opened.verified.size(), 1u);
}

TEST_F(SignedNoteTest, EveryFlippedBitIsRefused) {
  const std::string note = Signed("origin\n12\nroot\n");
  for (size_t i = 0; i < note.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = note;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      absl::StatusOr<OpenedNote> opened = OpenSignedNote(flipped, {vkey_});
      EXPECT_FALSE(opened.ok()) << "byte " << i << " bit " << bit;
    }
  }
}

TEST_F(SignedNoteTest, UnknownKeysAreIgnoredButAKnownBadSignatureRefuses) {
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr other_key, GenerateEd25519Key());
  ASSERT_OK_AND_ASSIGN(NoteVerifierKey other,
                       Ed25519VerifierKey("witness.example", other_key.get()));
  ASSERT_OK_AND_ASSIGN(auto other_signer, InMemorySigningKey::Create(std::move(other_key)));
  const std::string text = "origin\n12\nroot\n";
  ASSERT_OK_AND_ASSIGN(NoteSignature ours, SignNoteText(text, vkey_, *signer_));
  ASSERT_OK_AND_ASSIGN(NoteSignature theirs, SignNoteText(text, other, *other_signer));
  ASSERT_OK_AND_ASSIGN(std::string both, FormatSignedNote(text, {theirs, ours}));
  ASSERT_OK_AND_ASSIGN(OpenedNote opened, OpenSignedNote(both, {vkey_}));
  EXPECT_EQ(opened.verified.size(), 1u);
  EXPECT_EQ(opened.unknown_signatures, 1u);
  // Signed by another key only: refused.
  ASSERT_OK_AND_ASSIGN(std::string theirs_only, FormatSignedNote(text, {theirs}));
  EXPECT_THAT(OpenSignedNote(theirs_only, {vkey_}),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("no known key")));
  // Our name and ID over another key's signature: a known key that does not verify.
  NoteSignature forged = theirs;
  forged.key_name = vkey_.name;
  forged.key_id = vkey_.key_id;
  ASSERT_OK_AND_ASSIGN(std::string forged_note, FormatSignedNote(text, {ours, forged}));
  // The first signature of a key counts; a repeated one is dropped.
  EXPECT_OK(OpenSignedNote(forged_note, {vkey_}).status());
  ASSERT_OK_AND_ASSIGN(std::string forged_first, FormatSignedNote(text, {forged, ours}));
  EXPECT_THAT(OpenSignedNote(forged_first, {vkey_}),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("does not verify")));
}

TEST_F(SignedNoteTest, RefusesMalformedNotes) {
  const std::string note = Signed("a\n");
  const std::string line = note.substr(3);
  for (const std::string& bad : {
           std::string("a\n"),                                      // no signatures
           std::string("a\n\n"),                                    // an empty signature block
           note.substr(0, note.size() - 1),                         // no final newline
           absl::StrCat("a\n\n- ", line.substr(4)),                 // not an em dash
           absl::StrCat("a\r\n", line),                             // a control character
           absl::StrCat("a\n\n\xe2\x80\x94 log.example/a\n"),       // no signature
           absl::StrCat("a\n\n\xe2\x80\x94 log.example/a AAAA\n"),  // too short
       }) {
    EXPECT_THAT(OpenSignedNote(bad, {vkey_}),
                StatusIs(absl::StatusCode::kInvalidArgument, testing::_))
        << bad;
  }
}

TEST_F(SignedNoteTest, BoundsSizeAndSignatures) {
  const std::string text = "a\n";
  ASSERT_OK_AND_ASSIGN(NoteSignature ours, SignNoteText(text, vkey_, *signer_));
  std::vector<NoteSignature> many(kMaxNoteSignatures, ours);
  ASSERT_OK_AND_ASSIGN(std::string at_limit, FormatSignedNote(text, many));
  EXPECT_OK(OpenSignedNote(at_limit, {vkey_}).status());
  many.push_back(ours);
  ASSERT_OK_AND_ASSIGN(std::string beyond, FormatSignedNote(text, many));
  EXPECT_THAT(OpenSignedNote(beyond, {vkey_}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at most")));
  const std::string huge = Signed(std::string(kMaxSignedNoteBytes, 'a') + "\n");
  EXPECT_THAT(OpenSignedNote(huge, {vkey_}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at most")));
}

TEST_F(SignedNoteTest, AnEcdsaSignerCannotSignANote) {
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr ec, GenerateEcKey(256));
  ASSERT_OK_AND_ASSIGN(auto ec_signer, InMemorySigningKey::Create(std::move(ec)));
  EXPECT_THAT(SignNoteText("a\n", vkey_, *ec_signer),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("Ed25519")));
  // Nor does another Ed25519 key sign for this verifier key.
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr other, GenerateEd25519Key());
  ASSERT_OK_AND_ASSIGN(auto other_signer, InMemorySigningKey::Create(std::move(other)));
  EXPECT_THAT(SignNoteText("a\n", vkey_, *other_signer),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("does not verify")));
}

}  // namespace
}  // namespace mecai
