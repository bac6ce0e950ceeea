// Public keys from PKCS#11 key attributes (common/pkcs11/pkcs11_public_key.h): the encodings
// modules return, and refusals of other curves, lengths and points.
#include "common/pkcs11/pkcs11_public_key.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/crypto/pem.h"
#include "common/testing/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::testing::HasSubstr;

// DER of the P-384 namedCurve OID 1.3.132.0.34.
const std::string kP384EcParams("\x06\x05\x2b\x81\x04\x00\x22", 7);
// DER of the Ed448 OID 1.3.101.113 (RFC 8410 §3), as CKA_EC_PARAMS of a CKK_EC_EDWARDS key.
const std::string kEd448EcParams("\x06\x03\x2b\x65\x71", 5);

std::string PublicKeyDer(EVP_PKEY* key) { return PublicKeyToDer(key); }

TEST(PublicKeyFromAttributesTest, AcceptsWrappedAndBarePointsAndRefusesOthers) {
  // The generator point of P-256 (SEC 2 §2.4.2), uncompressed.
  const std::string point =
      absl::StrCat(std::string("\x04", 1),
                   std::string("\x6b\x17\xd1\xf2\xe1\x2c\x42\x47\xf8\xbc\xe6\xe5\x63\xa4\x40\xf2"
                               "\x77\x03\x7d\x81\x2d\xeb\x33\xa0\xf4\xa1\x39\x45\xd8\x98\xc2\x96"
                               "\x4f\xe3\x42\xe2\xfe\x1a\x7f\x9b\x8e\xe7\xeb\x4a\x7c\x0f\x9e\x16"
                               "\x2b\xce\x33\x57\x6b\x31\x5e\xce\xcb\xb6\x40\x68\x37\xbf\x51\xf5",
                               64));
  const std::string wrapped = absl::StrCat(std::string("\x04\x41", 2), point);
  EXPECT_TRUE(P256PublicKeyFromAttributes(kP256EcParams, wrapped).ok());
  EXPECT_TRUE(P256PublicKeyFromAttributes(kP256EcParams, point).ok());

  std::string off_curve = wrapped;
  off_curve.back() ^= 1;
  EXPECT_EQ(P256PublicKeyFromAttributes(kP256EcParams, off_curve).status().code(),
            absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<EvpPkeyPtr> p384 = P256PublicKeyFromAttributes(kP384EcParams, wrapped);
  EXPECT_EQ(p384.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(p384.status().message(), HasSubstr("P-384"));
}

TEST(PublicKeyFromAttributesTest, Ed25519AcceptsWrappedAndBareKeysAndRefusesOthers) {
  // RFC 8032 §7.1 TEST 1 public key.
  const std::string key(
      "\xd7\x5a\x98\x01\x82\xb1\x0a\xb7\xd5\x4b\xfe\xd3\xc9\x64\x07\x3a"
      "\x0e\xe1\x72\xf3\xda\xa6\x23\x25\xaf\x02\x1a\x68\xf7\x07\x51\x1a",
      32);
  const std::string wrapped = absl::StrCat(std::string("\x04\x20", 2), key);
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr from_wrapped,
                       Ed25519PublicKeyFromAttributes(kEd25519EcParams, wrapped));
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr from_bare, Ed25519PublicKeyFromAttributes(kEd25519EcParams, key));
  EXPECT_EQ(PublicKeyDer(from_wrapped.get()), PublicKeyDer(from_bare.get()));
  // The PKCS#11 v3.0 printableString form of the curve.
  EXPECT_TRUE(Ed25519PublicKeyFromAttributes(std::string("\x13\x0c"
                                                         "edwards25519",
                                                         14),
                                             wrapped)
                  .ok());

  EXPECT_EQ(Ed25519PublicKeyFromAttributes(kEd25519EcParams, key.substr(1)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<EvpPkeyPtr> ed448 = Ed25519PublicKeyFromAttributes(kEd448EcParams, wrapped);
  EXPECT_EQ(ed448.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(ed448.status().message(), HasSubstr("Ed448"));
}

TEST(PublicKeyFromAttributesTest, RsaRefusesShortModuliAndEvenExponents) {
  // A 2048-bit modulus: any odd number with the top bit set will do for parsing.
  std::string modulus(256, '\x5a');
  modulus.front() = '\xc1';
  modulus.back() = '\x01';
  const std::string f4("\x01\x00\x01", 3);
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr key, RsaPublicKeyFromAttributes(modulus, f4));
  EXPECT_EQ(EVP_PKEY_get_bits(key.get()), 2048);

  absl::StatusOr<EvpPkeyPtr> short_key = RsaPublicKeyFromAttributes(modulus.substr(0, 255), f4);
  EXPECT_EQ(short_key.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(short_key.status().message(), HasSubstr("RSA key of 2040 bits; at least 2048"));
  EXPECT_EQ(RsaPublicKeyFromAttributes(modulus, std::string("\x01\x00\x00", 3)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(RsaPublicKeyFromAttributes(modulus, std::string("\x01", 1)).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(EcParamsCurveNameTest, NamesCommonCurvesAndHexEncodesOthers) {
  EXPECT_EQ(EcParamsCurveName(kP256EcParams), "P-256");
  EXPECT_EQ(EcParamsCurveName(kP384EcParams), "P-384");
  EXPECT_EQ(EcParamsCurveName(kEd25519EcParams), "Ed25519");
  EXPECT_EQ(EcParamsCurveName(kEd448EcParams), "Ed448");
  EXPECT_EQ(EcParamsCurveName(std::string("\x06\x01\x2a", 3)), "CKA_EC_PARAMS 06012a");
  EXPECT_TRUE(
      IsEd25519EcParams(std::string("\x13\x0c"
                                    "edwards25519",
                                    14)));
  EXPECT_FALSE(IsEd25519EcParams(kEd448EcParams));
}

}  // namespace
}  // namespace mecai
