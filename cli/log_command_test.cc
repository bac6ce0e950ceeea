#include "cli/log_command.h"

#include <openssl/evp.h>

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "common/crypto/openssl_types.h"
#include "common/crypto/pem.h"
#include "common/pki/pki_builder.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "common/transparency/note_key.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::HasSubstr;

// The public key of the example of c2sp.org/signed-note "Verifier keys".
constexpr char kSpecVkey[] =
    "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";

class LogVkeyTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK_AND_ASSIGN(directory_, test_pki::MakeTempDirectory()); }

  std::string WritePem(EVP_PKEY* key, const std::string& name) {
    const std::string path = absl::StrCat(directory_, "/", name);
    EXPECT_OK(WriteFileAtomically(path, PublicKeyToPem(key)));
    return path;
  }

  std::string directory_;
};

TEST_F(LogVkeyTest, WritesTheSpecificationsExampleFromItsPublicKey) {
  std::string key;
  ASSERT_TRUE(absl::Base64Unescape("AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", &key));
  EvpPkeyPtr public_key(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(key.data()) + 1, 32));
  ASSERT_NE(public_key, nullptr);
  ASSERT_OK_AND_ASSIGN(std::string vkey,
                       LogVkey(WritePem(public_key.get(), "spec.pem"), "example.com/foo"));
  EXPECT_EQ(vkey, kSpecVkey);
}

TEST_F(LogVkeyTest, RefusesAnEcKeyAndABadName) {
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr ec, GenerateEcKey(256));
  EXPECT_THAT(LogVkey(WritePem(ec.get(), "ec.pem"), "log.example/a"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Ed25519")));
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr ed, GenerateEd25519Key());
  EXPECT_THAT(LogVkey(WritePem(ed.get(), "ed.pem"), "log example"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("space")));
  EXPECT_FALSE(LogVkey(absl::StrCat(directory_, "/absent.pem"), "log.example/a").ok());
}

TEST_F(LogVkeyTest, TheOriginComesFromTheSignersConfiguration) {
  const std::string config = absl::StrCat(directory_, "/signer.textproto");
  ASSERT_OK(
      WriteFileAtomically(config, "va_id: \"va-a\"\nlog_origin_prefix: \"log.va.example/m\"\n"));
  ASSERT_OK_AND_ASSIGN(std::string origin, SignerLogOrigin(config, "shard-1"));
  EXPECT_EQ(origin, "log.va.example/m/shard-1");
  ASSERT_OK(WriteFileAtomically(config, "va_id: \"va-a\"\n"));
  EXPECT_THAT(SignerLogOrigin(config, "shard-1"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("log_origin_prefix")));
}

}  // namespace
}  // namespace mecai
