#include "common/transparency/cosignature.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/crypto/hashing.h"
#include "common/pki/pki_builder.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "common/transparency/signed_note.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::HasSubstr;

MATCHER_P(IsOkAndHolds, value, "") {
  if (!arg.ok()) {
    *result_listener << arg.status();
    return false;
  }
  *result_listener << *arg;
  return *arg == value;
}

// The example of c2sp.org/tlog-cosignature: a checkpoint with the log's signature and one
// cosignature, whose signed message the specification spells out ("time 1679315147").
constexpr char kSpecNote[] =
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "\xe2\x80\x94 example.com/behind-the-sofa "
    "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "\xe2\x80\x94 witness.example.com/w1 "
    "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+"
    "mbIUBkBIfZ+qnA==\n";

constexpr char kText[] = "log.example/a\n12\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

class CosignatureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(EvpPkeyPtr key, GenerateEd25519Key());
    ASSERT_OK_AND_ASSIGN(key_, CosignerKey("witness.example/w1", key.get()));
    ASSERT_OK_AND_ASSIGN(signer_, InMemorySigningKey::Create(std::move(key)));
  }

  NoteVerifierKey key_;
  std::unique_ptr<InMemorySigningKey> signer_;
};

TEST_F(CosignatureTest, ParsesTheSpecificationsExample) {
  ASSERT_OK_AND_ASSIGN(ParsedNote parsed, ParseSignedNote(kSpecNote));
  EXPECT_EQ(
      parsed.text,
      "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n");
  ASSERT_EQ(parsed.signatures.size(), 2u);
  const NoteSignature& cosignature = parsed.signatures[1];
  EXPECT_EQ(cosignature.key_name, "witness.example.com/w1");
  EXPECT_EQ(cosignature.key_id, 0x8d66cf3fu);
  EXPECT_EQ(cosignature.signature.size(), kCosignatureV1Bytes);
  EXPECT_THAT(CosignatureV1Timestamp(cosignature.signature), IsOkAndHolds(1679315147u));
  EXPECT_EQ(CosignatureV1Message(parsed.text, 1679315147),
            "cosignature/v1\n"
            "time 1679315147\n"
            "example.com/behind-the-sofa\n"
            "20852163\n"
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n");
}

TEST_F(CosignatureTest, KeyIdIsOfSignatureType4) {
  const std::string digest =
      Sha256(absl::StrCat("witness.example/w1\n", std::string(1, '\x04'), key_.public_key));
  uint32_t expected = 0;
  for (int i = 0; i < 4; ++i) expected = (expected << 8) | static_cast<unsigned char>(digest[i]);
  EXPECT_EQ(key_.key_id, expected);
  EXPECT_NE(key_.key_id, Ed25519NoteKeyId(key_.name, key_.public_key));
  const std::string vkey = FormatCosignerVkey(key_);
  const std::string prefix = absl::StrFormat("witness.example/w1+%08x+", key_.key_id);
  ASSERT_THAT(vkey, testing::StartsWith(prefix));
  ASSERT_OK_AND_ASSIGN(std::string key_bytes, Base64DecodeStrict(vkey.substr(prefix.size())));
  EXPECT_EQ(key_bytes, absl::StrCat(std::string(1, '\x04'), key_.public_key));
  ASSERT_OK_AND_ASSIGN(NoteVerifierKey parsed, ParseCosignerVkey(vkey));
  EXPECT_EQ(parsed.public_key, key_.public_key);
  EXPECT_EQ(parsed.key_id, key_.key_id);
  // A note vkey (type 0x01) is not a cosigner vkey, and the other way round.
  EXPECT_THAT(ParseVerifierKey(vkey),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("signature type 0x01")));
  NoteVerifierKey as_note = key_;
  as_note.key_id = Ed25519NoteKeyId(key_.name, key_.public_key);
  EXPECT_THAT(ParseCosignerVkey(FormatVerifierKey(as_note)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("signature type 0x04")));
}

TEST_F(CosignatureTest, SignsAndVerifies) {
  ASSERT_OK_AND_ASSIGN(NoteSignature cosignature,
                       SignCosignatureV1(kText, key_, 1700000000, *signer_));
  EXPECT_EQ(cosignature.key_name, key_.name);
  EXPECT_EQ(cosignature.key_id, key_.key_id);
  EXPECT_THAT(VerifyCosignatureV1(kText, key_, cosignature), IsOkAndHolds(1700000000u));
  // The line parses back as a signature line of a note.
  const std::string note = absl::StrCat(kText, "\n", FormatNoteSignatureLine(cosignature));
  ASSERT_OK_AND_ASSIGN(ParsedNote parsed, ParseSignedNote(note));
  ASSERT_EQ(parsed.signatures.size(), 1u);
  EXPECT_THAT(VerifyCosignatureV1(parsed.text, key_, parsed.signatures[0]),
              IsOkAndHolds(1700000000u));
  // It is not a plain Ed25519 note signature of the text.
  NoteVerifierKey as_note = key_;
  EXPECT_FALSE(VerifyNoteSignature(kText, as_note, cosignature.signature.substr(8)).ok());
}

TEST_F(CosignatureTest, EveryFlippedBitIsRefused) {
  ASSERT_OK_AND_ASSIGN(NoteSignature cosignature,
                       SignCosignatureV1(kText, key_, 1700000000, *signer_));
  for (size_t i = 0; i < cosignature.signature.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      NoteSignature flipped = cosignature;
      flipped.signature[i] = static_cast<char>(flipped.signature[i] ^ (1 << bit));
      EXPECT_FALSE(VerifyCosignatureV1(kText, key_, flipped).ok()) << i << " " << bit;
    }
  }
  const std::string text = kText;
  for (size_t i = 0; i < text.size(); ++i) {
    std::string flipped = text;
    flipped[i] = static_cast<char>(flipped[i] ^ 1);
    EXPECT_FALSE(VerifyCosignatureV1(flipped, key_, cosignature).ok()) << i;
  }
}

TEST_F(CosignatureTest, WrongKeyNameOrTimeIsRefused) {
  ASSERT_OK_AND_ASSIGN(NoteSignature cosignature,
                       SignCosignatureV1(kText, key_, 1700000000, *signer_));
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr other, GenerateEd25519Key());
  ASSERT_OK_AND_ASSIGN(NoteVerifierKey other_key, CosignerKey("witness.example/w1", other.get()));
  EXPECT_THAT(VerifyCosignatureV1(kText, other_key, cosignature),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "the cosignature is not by witness.example/w1's key"));
  // The right key ID claimed for the other key: the signature itself does not verify.
  NoteSignature claimed = cosignature;
  claimed.key_id = other_key.key_id;
  EXPECT_THAT(VerifyCosignatureV1(kText, other_key, claimed),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "the cosignature of witness.example/w1 does not verify"));
  // Another name over the same public key: another key ID.
  NoteVerifierKey renamed = key_;
  renamed.name = "witness.example/w2";
  renamed.key_id = NoteKeyId(renamed.name, kCosignatureV1SignatureType, renamed.public_key);
  EXPECT_THAT(VerifyCosignatureV1(kText, renamed, cosignature),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("is not by")));
  // Another time.
  NoteSignature later = cosignature;
  later.signature[7] = static_cast<char>(later.signature[7] + 1);
  EXPECT_THAT(VerifyCosignatureV1(kText, key_, later),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("does not verify")));
}

TEST_F(CosignatureTest, Bounds) {
  EXPECT_THAT(SignCosignatureV1(kText, key_, kMaxCosignatureTimestamp + 1, *signer_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("2^63 - 1")));
  ASSERT_OK_AND_ASSIGN(NoteSignature at_max,
                       SignCosignatureV1(kText, key_, kMaxCosignatureTimestamp, *signer_));
  EXPECT_THAT(VerifyCosignatureV1(kText, key_, at_max), IsOkAndHolds(kMaxCosignatureTimestamp));
  NoteSignature high_bit = at_max;
  high_bit.signature[0] = static_cast<char>(0x80);
  EXPECT_THAT(VerifyCosignatureV1(kText, key_, high_bit),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("2^63 - 1")));
  NoteSignature short_one = at_max;
  short_one.signature.pop_back();
  EXPECT_THAT(VerifyCosignatureV1(kText, key_, short_one),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "a cosignature/v1 signature has 72 bytes after its key ID, not 71"));
  NoteSignature long_one = at_max;
  long_one.signature.push_back('\0');
  EXPECT_THAT(VerifyCosignatureV1(kText, key_, long_one),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not 73")));
  EXPECT_THAT(SignCosignatureV1("no newline", key_, 1, *signer_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("newline")));
  EXPECT_THAT(SignCosignatureV1("a\x01\n", key_, 1, *signer_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("control character")));
}

TEST_F(CosignatureTest, OnlyTheKeysOwnEd25519SignerCosigns) {
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr ec, GenerateEcKey(256));
  ASSERT_OK_AND_ASSIGN(auto ec_signer, InMemorySigningKey::Create(std::move(ec)));
  EXPECT_THAT(SignCosignatureV1(kText, key_, 1, *ec_signer),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("Ed25519")));
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr other, GenerateEd25519Key());
  ASSERT_OK_AND_ASSIGN(auto other_signer, InMemorySigningKey::Create(std::move(other)));
  EXPECT_THAT(SignCosignatureV1(kText, key_, 1, *other_signer),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("does not verify")));
}

}  // namespace
}  // namespace mecai
