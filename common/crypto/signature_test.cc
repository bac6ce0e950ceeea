#include "common/crypto/signature.h"

#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/pki/pki_builder.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::HasSubstr;

constexpr char kData[] = "the exact bytes that were signed";

EvpPkeyPtr MakeKey(const std::string& kind) {
  absl::StatusOr<EvpPkeyPtr> key = absl::InternalError("unknown key kind " + kind);
  if (kind == "P-256") key = GenerateEcKey(256);
  if (kind == "P-384") key = GenerateEcKey(384);
  if (kind == "RSA-2048") key = GenerateRsaKey(2048);
  if (kind == "RSA-1024") key = GenerateRsaKey(1024);
  if (kind == "secp256k1") key = EvpPkeyPtr(EVP_EC_gen("secp256k1"));
  if (kind == "Ed25519") key = EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  EXPECT_TRUE(key.ok()) << key.status();
  EXPECT_NE(key.ok() ? key->get() : nullptr, nullptr) << kind;
  return key.ok() ? std::move(*key) : nullptr;
}

std::string Flip(std::string bytes, size_t index) {
  bytes[index % bytes.size()] ^= 0x01;
  return bytes;
}

TEST(AlgorithmForKeyTest, NamesTheAlgorithmOfEachSupportedKey) {
  EXPECT_EQ(AlgorithmForKey(MakeKey("P-256").get()).value(), v1::ECDSA_P256_SHA256);
  EXPECT_EQ(AlgorithmForKey(MakeKey("P-384").get()).value(), v1::ECDSA_P384_SHA384);
  EXPECT_EQ(AlgorithmForKey(MakeKey("RSA-2048").get()).value(), v1::RSA_PKCS1_SHA256);
  EXPECT_EQ(AlgorithmForKey(MakeKey("Ed25519").get()).value(), v1::ED25519);
}

TEST(AlgorithmForKeyTest, RefusesShortRsaOtherCurvesAndOtherKeyTypes) {
  EXPECT_THAT(AlgorithmForKey(MakeKey("RSA-1024").get()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("shorter than 2048 bits")));
  EXPECT_THAT(AlgorithmForKey(MakeKey("secp256k1").get()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unsupported EC curve")));
}

TEST(CheckAlgorithmMatchesKeyTest, AcceptsPssForRsaAndRefusesEveryCrossing) {
  EvpPkeyPtr p256 = MakeKey("P-256");
  EvpPkeyPtr p384 = MakeKey("P-384");
  EvpPkeyPtr rsa = MakeKey("RSA-2048");
  EXPECT_TRUE(CheckAlgorithmMatchesKey(rsa.get(), v1::RSA_PSS_SHA256).ok());
  EXPECT_TRUE(CheckAlgorithmMatchesKey(rsa.get(), v1::RSA_PKCS1_SHA256).ok());
  EXPECT_TRUE(CheckAlgorithmMatchesKey(p256.get(), v1::ECDSA_P256_SHA256).ok());
  EXPECT_TRUE(CheckAlgorithmMatchesKey(p384.get(), v1::ECDSA_P384_SHA384).ok());
  const auto mismatch = StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not fit"));
  EXPECT_THAT(CheckAlgorithmMatchesKey(p256.get(), v1::RSA_PKCS1_SHA256), mismatch);
  EXPECT_THAT(CheckAlgorithmMatchesKey(p256.get(), v1::RSA_PSS_SHA256), mismatch);
  EXPECT_THAT(CheckAlgorithmMatchesKey(p256.get(), v1::ECDSA_P384_SHA384), mismatch);
  EXPECT_THAT(CheckAlgorithmMatchesKey(p384.get(), v1::ECDSA_P256_SHA256), mismatch);
  EXPECT_THAT(CheckAlgorithmMatchesKey(rsa.get(), v1::ECDSA_P256_SHA256), mismatch);
  EXPECT_THAT(CheckAlgorithmMatchesKey(rsa.get(), v1::SIGNATURE_ALGORITHM_UNSPECIFIED), mismatch);
}

struct RoundTripCase {
  std::string key_kind;
  v1::SignatureAlgorithm algorithm;
};

class SignatureRoundTripTest : public ::testing::TestWithParam<RoundTripCase> {
 protected:
  void SetUp() override {
    key_ = MakeKey(GetParam().key_kind);
    other_key_ = MakeKey(GetParam().key_kind);
    ASSERT_NE(key_, nullptr);
    ASSERT_NE(other_key_, nullptr);
  }
  EvpPkeyPtr key_;
  EvpPkeyPtr other_key_;
};

TEST_P(SignatureRoundTripTest, SignedBytesVerify) {
  auto signature = SignBytes(key_.get(), GetParam().algorithm, kData);
  ASSERT_TRUE(signature.ok()) << signature.status();
  EXPECT_EQ(signature->algorithm(), GetParam().algorithm);
  EXPECT_TRUE(VerifySignature(key_.get(), *signature, kData).ok());
}

TEST_P(SignatureRoundTripTest, OtherBytesDoNotVerify) {
  auto signature = SignBytes(key_.get(), GetParam().algorithm, kData);
  ASSERT_TRUE(signature.ok()) << signature.status();
  EXPECT_THAT(VerifySignature(key_.get(), *signature, Flip(kData, 3)),
              StatusIs(absl::StatusCode::kInvalidArgument, "signature does not verify"));
  EXPECT_THAT(VerifySignature(key_.get(), *signature, ""),
              StatusIs(absl::StatusCode::kInvalidArgument, "signature does not verify"));
}

TEST_P(SignatureRoundTripTest, AlteredValueDoesNotVerify) {
  auto signature = SignBytes(key_.get(), GetParam().algorithm, kData);
  ASSERT_TRUE(signature.ok()) << signature.status();
  v1::Signature altered = *signature;
  altered.set_value(Flip(altered.value(), altered.value().size() - 1));
  EXPECT_THAT(VerifySignature(key_.get(), altered, kData),
              StatusIs(absl::StatusCode::kInvalidArgument, "signature does not verify"));
  altered.clear_value();
  EXPECT_THAT(VerifySignature(key_.get(), altered, kData),
              StatusIs(absl::StatusCode::kInvalidArgument, "signature does not verify"));
}

TEST_P(SignatureRoundTripTest, AnotherKeyOfTheSameTypeDoesNotVerify) {
  auto signature = SignBytes(key_.get(), GetParam().algorithm, kData);
  ASSERT_TRUE(signature.ok()) << signature.status();
  EXPECT_THAT(VerifySignature(other_key_.get(), *signature, kData),
              StatusIs(absl::StatusCode::kInvalidArgument, "signature does not verify"));
}

TEST_P(SignatureRoundTripTest, InMemorySigningKeyUsesTheKeysNaturalAlgorithm) {
  auto signer = test_pki::SignerFor(key_.get());
  ASSERT_TRUE(signer.ok()) << signer.status();
  auto signature = (*signer)->Sign(kData);
  ASSERT_TRUE(signature.ok()) << signature.status();
  EXPECT_EQ(signature->algorithm(), AlgorithmForKey(key_.get()).value());
  EXPECT_TRUE(VerifySignature(key_.get(), *signature, kData).ok());
}

INSTANTIATE_TEST_SUITE_P(AllAlgorithms, SignatureRoundTripTest,
                         ::testing::Values(RoundTripCase{"P-256", v1::ECDSA_P256_SHA256},
                                           RoundTripCase{"P-384", v1::ECDSA_P384_SHA384},
                                           RoundTripCase{"RSA-2048", v1::RSA_PKCS1_SHA256},
                                           RoundTripCase{"RSA-2048", v1::RSA_PSS_SHA256},
                                           RoundTripCase{"Ed25519", v1::ED25519}),
                         [](const ::testing::TestParamInfo<RoundTripCase>& info) {
                           return v1::SignatureAlgorithm_Name(info.param.algorithm);
                         });

TEST(SignatureTest, SignBytesRefusesAnAlgorithmThatDoesNotFitTheKey) {
  EvpPkeyPtr p256 = MakeKey("P-256");
  EXPECT_THAT(SignBytes(p256.get(), v1::RSA_PKCS1_SHA256, kData),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not fit the key")));
  EXPECT_THAT(SignBytes(p256.get(), v1::ECDSA_P384_SHA384, kData),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not fit the key")));
}

TEST(SignatureTest, VerifyRefusesAValidSignatureRelabelledWithAnotherAlgorithm) {
  EvpPkeyPtr p256 = MakeKey("P-256");
  auto signature = SignBytes(p256.get(), v1::ECDSA_P256_SHA256, kData);
  ASSERT_TRUE(signature.ok()) << signature.status();
  signature->set_algorithm(v1::RSA_PKCS1_SHA256);
  EXPECT_THAT(VerifySignature(p256.get(), *signature, kData),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("RSA_PKCS1_SHA256 does not fit the key")));
  signature->set_algorithm(v1::SIGNATURE_ALGORITHM_UNSPECIFIED);
  EXPECT_THAT(VerifySignature(p256.get(), *signature, kData),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not fit the key")));
}

TEST(SignatureTest, PkcsOneAndPssAreDistinctPaddings) {
  EvpPkeyPtr rsa = MakeKey("RSA-2048");
  auto pkcs1 = SignBytes(rsa.get(), v1::RSA_PKCS1_SHA256, kData);
  auto pkcs1_again = SignBytes(rsa.get(), v1::RSA_PKCS1_SHA256, kData);
  auto pss = SignBytes(rsa.get(), v1::RSA_PSS_SHA256, kData);
  auto pss_again = SignBytes(rsa.get(), v1::RSA_PSS_SHA256, kData);
  ASSERT_TRUE(pkcs1.ok() && pkcs1_again.ok() && pss.ok() && pss_again.ok());
  // RSASSA-PKCS1-v1_5 is deterministic; PSS carries a random salt (RFC 8017 §8.1, §8.2).
  EXPECT_EQ(pkcs1->value(), pkcs1_again->value());
  EXPECT_NE(pss->value(), pss_again->value());
  EXPECT_EQ(pkcs1->value().size(), 256u);
  EXPECT_EQ(pss->value().size(), 256u);

  v1::Signature pkcs1_as_pss = *pkcs1;
  pkcs1_as_pss.set_algorithm(v1::RSA_PSS_SHA256);
  EXPECT_THAT(VerifySignature(rsa.get(), pkcs1_as_pss, kData),
              StatusIs(absl::StatusCode::kInvalidArgument, "signature does not verify"));
  v1::Signature pss_as_pkcs1 = *pss;
  pss_as_pkcs1.set_algorithm(v1::RSA_PKCS1_SHA256);
  EXPECT_THAT(VerifySignature(rsa.get(), pss_as_pkcs1, kData),
              StatusIs(absl::StatusCode::kInvalidArgument, "signature does not verify"));
}

// Verifies a PSS signature outside the code under test, with the parameters the contract names
// (common.proto: MGF1-SHA-256, salt length 32).
TEST(SignatureTest, PssSignatureUsesSaltLength32) {
  EvpPkeyPtr rsa = MakeKey("RSA-2048");
  auto pss = SignBytes(rsa.get(), v1::RSA_PSS_SHA256, kData);
  ASSERT_TRUE(pss.ok()) << pss.status();
  auto verify_with_salt = [&](int salt_length) {
    EvpMdCtxPtr context(EVP_MD_CTX_new());
    EVP_PKEY_CTX* key_context = nullptr;
    EXPECT_EQ(EVP_DigestVerifyInit(context.get(), &key_context, EVP_sha256(), nullptr, rsa.get()),
              1);
    EXPECT_EQ(EVP_PKEY_CTX_set_rsa_padding(key_context, RSA_PKCS1_PSS_PADDING), 1);
    EXPECT_EQ(EVP_PKEY_CTX_set_rsa_pss_saltlen(key_context, salt_length), 1);
    EXPECT_EQ(EVP_PKEY_CTX_set_rsa_mgf1_md(key_context, EVP_sha256()), 1);
    int result = EVP_DigestVerify(
        context.get(), reinterpret_cast<const unsigned char*>(pss->value().data()),
        pss->value().size(), reinterpret_cast<const unsigned char*>(kData), sizeof(kData) - 1);
    ERR_clear_error();
    return result == 1;
  };
  EXPECT_TRUE(verify_with_salt(32));
  EXPECT_FALSE(verify_with_salt(20));
}

// Splits a DER ECDSA-Sig-Value into the raw r||s form of PKCS#11 CKM_ECDSA, each half padded to
// `half` bytes.
std::string DerToRaw(const std::string& der, int half) {
  const unsigned char* cursor = reinterpret_cast<const unsigned char*>(der.data());
  EcdsaSigPtr signature(d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(der.size())));
  EXPECT_NE(signature, nullptr);
  if (signature == nullptr) return "";
  std::string raw(2 * half, '\0');
  unsigned char* out = reinterpret_cast<unsigned char*>(&raw[0]);
  EXPECT_EQ(BN_bn2binpad(ECDSA_SIG_get0_r(signature.get()), out, half), half);
  EXPECT_EQ(BN_bn2binpad(ECDSA_SIG_get0_s(signature.get()), out + half, half), half);
  return raw;
}

struct RawCase {
  std::string key_kind;
  v1::SignatureAlgorithm algorithm;
  int half;
};

class EcdsaRawToDerTest : public ::testing::TestWithParam<RawCase> {};

TEST_P(EcdsaRawToDerTest, RawSignatureBecomesTheSameVerifiableDer) {
  EvpPkeyPtr key = MakeKey(GetParam().key_kind);
  auto signature = SignBytes(key.get(), GetParam().algorithm, kData);
  ASSERT_TRUE(signature.ok()) << signature.status();
  std::string raw = DerToRaw(signature->value(), GetParam().half);
  ASSERT_EQ(raw.size(), 2u * GetParam().half);

  auto der = EcdsaRawToDer(raw);
  ASSERT_TRUE(der.ok()) << der.status();
  // DER is canonical: the same (r, s) encodes to the same bytes.
  EXPECT_EQ(*der, signature->value());
  v1::Signature rebuilt;
  rebuilt.set_algorithm(GetParam().algorithm);
  rebuilt.set_value(*der);
  EXPECT_TRUE(VerifySignature(key.get(), rebuilt, kData).ok());

  // A raw value with one bit changed still encodes, but no longer verifies.
  auto altered = EcdsaRawToDer(Flip(raw, raw.size() - 1));
  ASSERT_TRUE(altered.ok()) << altered.status();
  rebuilt.set_value(*altered);
  EXPECT_THAT(VerifySignature(key.get(), rebuilt, kData),
              StatusIs(absl::StatusCode::kInvalidArgument, "signature does not verify"));
}

// PKCS#11 pads r and s to the field size; an r whose top byte is zero must still round-trip.
TEST_P(EcdsaRawToDerTest, RawSignatureWithLeadingZeroByteRoundTrips) {
  EvpPkeyPtr key = MakeKey(GetParam().key_kind);
  for (int attempt = 0; attempt < 20000; ++attempt) {
    std::string data = absl::StrCat(kData, attempt);
    auto signature = SignBytes(key.get(), GetParam().algorithm, data);
    ASSERT_TRUE(signature.ok()) << signature.status();
    std::string raw = DerToRaw(signature->value(), GetParam().half);
    if (raw[0] != '\0') continue;
    auto der = EcdsaRawToDer(raw);
    ASSERT_TRUE(der.ok()) << der.status();
    EXPECT_EQ(*der, signature->value());
    v1::Signature rebuilt;
    rebuilt.set_algorithm(GetParam().algorithm);
    rebuilt.set_value(*der);
    EXPECT_TRUE(VerifySignature(key.get(), rebuilt, data).ok());
    return;
  }
  FAIL() << "no signature with a leading zero byte in r after 20000 attempts";
}

INSTANTIATE_TEST_SUITE_P(Curves, EcdsaRawToDerTest,
                         ::testing::Values(RawCase{"P-256", v1::ECDSA_P256_SHA256, 32},
                                           RawCase{"P-384", v1::ECDSA_P384_SHA384, 48}),
                         [](const ::testing::TestParamInfo<RawCase>& info) {
                           return v1::SignatureAlgorithm_Name(info.param.algorithm);
                         });

TEST(EcdsaRawToDerErrorsTest, RefusesImpossibleLengths) {
  const auto impossible =
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("impossible length"));
  EXPECT_THAT(EcdsaRawToDer(""), impossible);
  EXPECT_THAT(EcdsaRawToDer(std::string(63, '\x01')), impossible);
  EXPECT_THAT(EcdsaRawToDer(std::string(134, '\x01')), impossible);
  // P-521 raw signatures (2 × 66 bytes) are the longest accepted.
  auto longest = EcdsaRawToDer(std::string(132, '\x01'));
  EXPECT_TRUE(longest.ok()) << longest.status();
}

}  // namespace
}  // namespace mecai
