#include "common/transparency/note_key.h"

#include <string>

#include "common/pki/pki_builder.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;

using ::testing::HasSubstr;

// The example verifier key of c2sp.org/signed-note "Verifier keys".
constexpr char kSpecVkey[] =
    "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";

TEST(NoteKeyTest, ParsesTheSpecificationsExampleAndWritesItBack) {
  ASSERT_OK_AND_ASSIGN(NoteVerifierKey key, ParseVerifierKey(kSpecVkey));
  EXPECT_EQ(key.name, "example.com/foo");
  EXPECT_EQ(key.key_id, 0x530d903au);
  EXPECT_EQ(key.public_key.size(), kEd25519PublicKeyBytes);
  EXPECT_EQ(Ed25519NoteKeyId(key.name, key.public_key), 0x530d903au);
  EXPECT_EQ(FormatVerifierKey(key), kSpecVkey);
}

TEST(NoteKeyTest, AVerifierKeyOfAGeneratedKeyRoundTrips) {
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr key, GenerateEd25519Key());
  ASSERT_OK_AND_ASSIGN(NoteVerifierKey vkey, Ed25519VerifierKey("log.example/shard-1", key.get()));
  ASSERT_OK_AND_ASSIGN(std::string raw, Ed25519RawPublicKey(key.get()));
  EXPECT_EQ(vkey.public_key, raw);
  ASSERT_OK_AND_ASSIGN(NoteVerifierKey parsed, ParseVerifierKey(FormatVerifierKey(vkey)));
  EXPECT_EQ(parsed.name, vkey.name);
  EXPECT_EQ(parsed.key_id, vkey.key_id);
  EXPECT_EQ(parsed.public_key, vkey.public_key);
  // Another name is another key ID for the same key.
  ASSERT_OK_AND_ASSIGN(NoteVerifierKey other, Ed25519VerifierKey("log.example/shard-2", key.get()));
  EXPECT_NE(other.key_id, vkey.key_id);
}

// Standard base64 has '+' among its digits: only the first two '+' of a vkey separate its parts.
TEST(NoteKeyTest, AKeyWhoseBase64HoldsAPlusRoundTrips) {
  NoteVerifierKey key;
  key.name = "log.example/a";
  key.public_key = std::string(kEd25519PublicKeyBytes, '\xfb');
  key.key_id = Ed25519NoteKeyId(key.name, key.public_key);
  const std::string vkey = FormatVerifierKey(key);
  ASSERT_NE(vkey.find('+', key.name.size() + 10), std::string::npos) << vkey;
  ASSERT_OK_AND_ASSIGN(NoteVerifierKey parsed, ParseVerifierKey(vkey));
  EXPECT_EQ(parsed.public_key, key.public_key);
  EXPECT_EQ(parsed.key_id, key.key_id);
}

TEST(NoteKeyTest, RefusesAnEcKey) {
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr key, GenerateEcKey(256));
  EXPECT_THAT(Ed25519VerifierKey("log.example", key.get()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Ed25519")));
}

TEST(NoteKeyTest, RefusesMalformedVerifierKeys) {
  const std::string good = kSpecVkey;
  for (const std::string& bad : {
           std::string("example.com/foo+530d903a"),
           good + "+extra",
           std::string("example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"),
           std::string("example.com/bar+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"),
           std::string("example.com/foo+530d903+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"),
           std::string("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2"),
           std::string("example.com/foo+530d903a+AukyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"),
           std::string("exa mple+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"),
           std::string("+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"),
       }) {
    EXPECT_THAT(ParseVerifierKey(bad), StatusIs(absl::StatusCode::kInvalidArgument, testing::_))
        << bad;
  }
}

TEST(NoteKeyTest, KeyNamesFollowTheSpecification) {
  EXPECT_OK(CheckNoteKeyName("example.com/foo"));
  EXPECT_OK(CheckNoteKeyName("sum.golang.org"));
  EXPECT_OK(CheckNoteKeyName("\xc3\xa9t\xc3\xa9"));
  for (const std::string& bad :
       {std::string(""), std::string("a b"), std::string("a+b"), std::string("a\tb"),
        std::string("a\xc2\xa0"
                    "b"),
        std::string("a\xe3\x80\x80"
                    "b"),
        std::string("\xff"), std::string(kMaxNoteKeyNameBytes + 1, 'a')}) {
    EXPECT_THAT(CheckNoteKeyName(bad), StatusIs(absl::StatusCode::kInvalidArgument, testing::_))
        << bad;
  }
}

TEST(NoteKeyTest, NoteCharactersAreUtf8WithoutControlsButNewline) {
  EXPECT_OK(CheckNoteCharacters("a\nb \xe2\x80\x94\n"));
  for (const std::string& bad :
       {std::string("a\rb"), std::string("a\0b", 3), std::string("\xc0\x80"),
        std::string("\xed\xa0\x80"), std::string("\xe2\x80")}) {
    EXPECT_THAT(CheckNoteCharacters(bad), StatusIs(absl::StatusCode::kInvalidArgument, testing::_));
  }
}

TEST(NoteKeyTest, Base64IsStrict) {
  ASSERT_OK_AND_ASSIGN(std::string decoded, Base64DecodeStrict("AAEC"));
  EXPECT_EQ(decoded, std::string("\x00\x01\x02", 3));
  for (const char* bad : {"AAE", "AAE=\n", " AAEC", "AA==AA==", "AAF=", "A-_B"}) {
    EXPECT_THAT(Base64DecodeStrict(bad), StatusIs(absl::StatusCode::kInvalidArgument, testing::_))
        << bad;
  }
}

}  // namespace
}  // namespace mecai
