#include "common/crypto/ed25519_verify.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/crypto/openssl_types.h"
#include "common/crypto/signature.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;

// The group order L = 2^252 + 27742317777372353535851937790883648493 (RFC 8032 §5.1),
// little-endian.
const unsigned char kGroupOrder[32] = {
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10};

// The encoding of the neutral element (x = 0, y = 1), a point of order 1 (RFC 8032 §5.1.2).
const std::string kIdentity = absl::StrCat(std::string(1, '\x01'), std::string(31, '\0'));
// The encoding of the base point B (RFC 8032 §5.1: y = 4/5, x positive).
const std::string kBasePoint =
    absl::HexStringToBytes("5866666666666666666666666666666666666666666666666666666666666666");

struct Rfc8032Vector {
  const char* name;
  const char* secret_key;
  const char* public_key;
  const char* message;
  const char* signature;
};

// RFC 8032 §7.1, TEST 1 to TEST 3.
const Rfc8032Vector kVectors[] = {
    {"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9"
     "b46bd25bf5f0595bbe24655141438e7a100b"},
    {"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f1"
     "1d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"TEST 3", "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984d"
     "c6594a7c15e9716ed28dc027beceea1ec40a"},
};

const unsigned char* Bytes(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// The verdict of OpenSSL 3.0 (EVP_DigestVerify, pure Ed25519), the verifier VerifySignature used
// before: the reference the new path is compared with.
bool OpenSslVerifies(const std::string& public_key, const std::string& signature,
                     const std::string& message) {
  EvpPkeyPtr key(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, Bytes(public_key), public_key.size()));
  EvpMdCtxPtr context(EVP_MD_CTX_new());
  const bool verified =
      key != nullptr && context != nullptr &&
      EVP_DigestVerifyInit(context.get(), nullptr, nullptr, nullptr, key.get()) == 1 &&
      EVP_DigestVerify(context.get(), Bytes(signature), signature.size(), Bytes(message),
                       message.size()) == 1;
  ERR_clear_error();
  return verified;
}

bool SodiumPathVerifies(const std::string& public_key, const std::string& signature,
                        const std::string& message) {
  return VerifyEd25519(public_key, signature, message).ok();
}

struct KeyPair {
  EvpPkeyPtr private_key;
  std::string seed;
  std::string public_key;
};

KeyPair FreshKey() {
  KeyPair pair;
  pair.private_key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  EXPECT_NE(pair.private_key, nullptr);
  if (pair.private_key == nullptr) return pair;
  pair.seed.resize(32);
  pair.public_key.resize(32);
  size_t seed_length = 32;
  size_t public_length = 32;
  EXPECT_EQ(
      EVP_PKEY_get_raw_private_key(pair.private_key.get(),
                                   reinterpret_cast<unsigned char*>(&pair.seed[0]), &seed_length),
      1);
  EXPECT_EQ(EVP_PKEY_get_raw_public_key(pair.private_key.get(),
                                        reinterpret_cast<unsigned char*>(&pair.public_key[0]),
                                        &public_length),
            1);
  return pair;
}

// A signature made by OpenSSL (EVP_DigestSign, pure Ed25519).
std::string OpenSslSign(EVP_PKEY* key, const std::string& message) {
  EvpMdCtxPtr context(EVP_MD_CTX_new());
  std::string signature(64, '\0');
  size_t length = signature.size();
  EXPECT_EQ(EVP_DigestSignInit(context.get(), nullptr, nullptr, nullptr, key), 1);
  EXPECT_EQ(EVP_DigestSign(context.get(), reinterpret_cast<unsigned char*>(&signature[0]), &length,
                           Bytes(message), message.size()),
            1);
  EXPECT_EQ(length, 64u);
  return signature;
}

// `signature` with S replaced by S + L, the same scalar modulo L (RFC 8032 §5.1.7 step 1 refuses
// it: S must be below L, else signatures are malleable).
std::string WithSPlusL(std::string signature) {
  unsigned carry = 0;
  for (size_t i = 0; i < 32; ++i) {
    carry += static_cast<unsigned char>(signature[32 + i]) + kGroupOrder[i];
    signature[32 + i] = static_cast<char>(carry & 0xff);
    carry >>= 8;
  }
  EXPECT_EQ(carry, 0u);  // S < L < 2^253, so S + L < 2^254.
  return signature;
}

std::string FlipBit(std::string bytes, size_t bit) {
  bytes[bit / 8] = static_cast<char>(bytes[bit / 8] ^ (1 << (bit % 8)));
  return bytes;
}

TEST(Ed25519VerifyTest, Rfc8032TestVectorsVerify) {
  for (const Rfc8032Vector& vector : kVectors) {
    SCOPED_TRACE(vector.name);
    const std::string secret_key = absl::HexStringToBytes(vector.secret_key);
    const std::string public_key = absl::HexStringToBytes(vector.public_key);
    const std::string message = absl::HexStringToBytes(vector.message);
    const std::string signature = absl::HexStringToBytes(vector.signature);
    ASSERT_EQ(public_key.size(), 32u);
    ASSERT_EQ(signature.size(), 64u);
    // The vector is whole: its secret key gives its public key and, Ed25519 being deterministic,
    // its signature (RFC 8032 §5.1.5, §5.1.6).
    EvpPkeyPtr private_key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                                        Bytes(secret_key), secret_key.size()));
    ASSERT_NE(private_key, nullptr);
    std::string derived(32, '\0');
    size_t length = derived.size();
    ASSERT_EQ(EVP_PKEY_get_raw_public_key(private_key.get(),
                                          reinterpret_cast<unsigned char*>(&derived[0]), &length),
              1);
    EXPECT_EQ(derived, public_key);
    EXPECT_EQ(OpenSslSign(private_key.get(), message), signature);

    EXPECT_TRUE(VerifyEd25519(public_key, signature, message).ok());
    EXPECT_TRUE(VerifyEd25519(private_key.get(), signature, message).ok());
    v1::Signature wrapped;
    wrapped.set_algorithm(v1::ED25519);
    wrapped.set_value(signature);
    EXPECT_TRUE(VerifySignature(private_key.get(), wrapped, message).ok());
    EXPECT_THAT(VerifyEd25519(public_key, signature, message + "x"),
                StatusIs(absl::StatusCode::kInvalidArgument, "signature does not verify"));
  }
}

TEST(Ed25519VerifyTest, OpenSslSignatureOfAFreshKeyVerifies) {
  KeyPair pair = FreshKey();
  ASSERT_NE(pair.private_key, nullptr);
  const std::string message(300, 'm');
  const std::string signature = OpenSslSign(pair.private_key.get(), message);
  EXPECT_TRUE(VerifyEd25519(pair.public_key, signature, message).ok());
  // Through the repository's verification function, with a public-key-only EVP_PKEY.
  EvpPkeyPtr public_only(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, Bytes(pair.public_key), 32));
  ASSERT_NE(public_only, nullptr);
  auto signed_bytes = SignBytes(pair.private_key.get(), v1::ED25519, message);
  ASSERT_TRUE(signed_bytes.ok()) << signed_bytes.status();
  EXPECT_EQ(signed_bytes->value(), signature);
  EXPECT_TRUE(VerifySignature(public_only.get(), *signed_bytes, message).ok());
}

TEST(Ed25519VerifyTest, EverySingleBitFlipIsRefused) {
  KeyPair pair = FreshKey();
  ASSERT_NE(pair.private_key, nullptr);
  const std::string message = "an Observation's signed bytes, forty-two.";
  const std::string signature = OpenSslSign(pair.private_key.get(), message);
  ASSERT_TRUE(SodiumPathVerifies(pair.public_key, signature, message));
  for (size_t bit = 0; bit < 8 * signature.size(); ++bit) {
    EXPECT_FALSE(SodiumPathVerifies(pair.public_key, FlipBit(signature, bit), message))
        << "signature bit " << bit;
    EXPECT_FALSE(OpenSslVerifies(pair.public_key, FlipBit(signature, bit), message))
        << "signature bit " << bit;
  }
  for (size_t bit = 0; bit < 8 * message.size(); ++bit) {
    EXPECT_FALSE(SodiumPathVerifies(pair.public_key, signature, FlipBit(message, bit)))
        << "message bit " << bit;
  }
  for (size_t bit = 0; bit < 8 * pair.public_key.size(); ++bit) {
    EXPECT_FALSE(SodiumPathVerifies(FlipBit(pair.public_key, bit), signature, message))
        << "public key bit " << bit;
  }
}

// S + L is the same scalar modulo L: a second signature of the same message if S were reduced.
TEST(Ed25519VerifyTest, NonCanonicalSIsRefusedAsByOpenSsl) {
  KeyPair pair = FreshKey();
  ASSERT_NE(pair.private_key, nullptr);
  const std::string message = "malleable?";
  const std::string signature = OpenSslSign(pair.private_key.get(), message);
  const std::string malleated = WithSPlusL(signature);
  ASSERT_NE(malleated, signature);
  EXPECT_THAT(VerifyEd25519(pair.public_key, malleated, message),
              StatusIs(absl::StatusCode::kInvalidArgument, "signature does not verify"));
  EXPECT_FALSE(OpenSslVerifies(pair.public_key, malleated, message));
}

// Under the neutral element as public key, [k]A is the neutral element whatever the message, so
// (R = [S]B, S) passes the equation of RFC 8032 §5.1.7 for every message: OpenSSL 3.0 accepts
// such a signature, libsodium refuses the small-order key.
TEST(Ed25519VerifyTest, SmallOrderPublicKeyIsRefusedWhereOpenSslAcceptsIt) {
  std::string s_zero(32, '\0');
  std::string s_one = s_zero;
  s_one[0] = 1;
  const std::string forgeries[] = {kIdentity + s_zero, kBasePoint + s_one};
  for (const std::string& forgery : forgeries) {
    for (const std::string& message : {std::string(""), std::string("any message at all")}) {
      EXPECT_THAT(VerifyEd25519(kIdentity, forgery, message),
                  StatusIs(absl::StatusCode::kInvalidArgument, "signature does not verify"));
      EXPECT_TRUE(OpenSslVerifies(kIdentity, forgery, message));
    }
  }
  // A random 64-byte signature under that key, through VerifySignature.
  EvpPkeyPtr identity_key(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, Bytes(kIdentity), 32));
  ASSERT_NE(identity_key, nullptr);
  std::string random_signature(64, '\0');
  randombytes_buf(&random_signature[0], random_signature.size());
  v1::Signature wrapped;
  wrapped.set_algorithm(v1::ED25519);
  for (const std::string& value : {forgeries[0], forgeries[1], random_signature}) {
    wrapped.set_value(value);
    EXPECT_THAT(VerifySignature(identity_key.get(), wrapped, "data"),
                StatusIs(absl::StatusCode::kInvalidArgument, "signature does not verify"));
  }
}

// The key's owner can make a signature whose R is the neutral element: S = k·a mod L gives
// [S]B = [k]A. OpenSSL 3.0 accepts it; libsodium refuses an R of small order.
TEST(Ed25519VerifyTest, SmallOrderRIsRefusedWhereOpenSslAcceptsIt) {
  ASSERT_GE(sodium_init(), 0);
  KeyPair pair = FreshKey();
  ASSERT_NE(pair.private_key, nullptr);
  const std::string message = "R of order one";
  // The secret scalar a: the first half of SHA-512(seed), clamped (RFC 8032 §5.1.5).
  unsigned char expanded[64];
  crypto_hash_sha512(expanded, Bytes(pair.seed), pair.seed.size());
  expanded[0] &= 248;
  expanded[31] &= 127;
  expanded[31] |= 64;
  unsigned char wide[64] = {0};
  std::copy(expanded, expanded + 32, wide);
  unsigned char a[32];
  crypto_core_ed25519_scalar_reduce(a, wide);
  // k = SHA-512(R || A || M) mod L (§5.1.6 step 3).
  const std::string hashed = kIdentity + pair.public_key + message;
  unsigned char digest[64];
  crypto_hash_sha512(digest, Bytes(hashed), hashed.size());
  unsigned char k[32];
  crypto_core_ed25519_scalar_reduce(k, digest);
  unsigned char s[32];
  crypto_core_ed25519_scalar_mul(s, k, a);
  const std::string signature = kIdentity + std::string(reinterpret_cast<char*>(s), 32);

  EXPECT_TRUE(OpenSslVerifies(pair.public_key, signature, message));
  EXPECT_THAT(VerifyEd25519(pair.public_key, signature, message),
              StatusIs(absl::StatusCode::kInvalidArgument, "signature does not verify"));
}

TEST(Ed25519VerifyTest, WrongLengthsAreRefusedWithTheirReason) {
  KeyPair pair = FreshKey();
  ASSERT_NE(pair.private_key, nullptr);
  const std::string signature = OpenSslSign(pair.private_key.get(), "m");
  EXPECT_THAT(
      VerifyEd25519(pair.public_key, signature.substr(0, 63), "m"),
      StatusIs(absl::StatusCode::kInvalidArgument, "an Ed25519 signature is 64 bytes, not 63"));
  EXPECT_THAT(
      VerifyEd25519(pair.public_key, signature + "x", "m"),
      StatusIs(absl::StatusCode::kInvalidArgument, "an Ed25519 signature is 64 bytes, not 65"));
  EXPECT_THAT(
      VerifyEd25519(pair.public_key, "", "m"),
      StatusIs(absl::StatusCode::kInvalidArgument, "an Ed25519 signature is 64 bytes, not 0"));
  EXPECT_THAT(
      VerifyEd25519(pair.public_key.substr(0, 31), signature, "m"),
      StatusIs(absl::StatusCode::kInvalidArgument, "an Ed25519 public key is 32 bytes, not 31"));
  EXPECT_THAT(
      VerifyEd25519(pair.public_key + "x", signature, "m"),
      StatusIs(absl::StatusCode::kInvalidArgument, "an Ed25519 public key is 32 bytes, not 33"));
  // VerifySignature keeps one reason for every signature that fails.
  v1::Signature wrapped;
  wrapped.set_algorithm(v1::ED25519);
  wrapped.set_value(signature.substr(0, 63));
  EXPECT_THAT(VerifySignature(pair.private_key.get(), wrapped, "m"),
              StatusIs(absl::StatusCode::kInvalidArgument, "signature does not verify"));
  wrapped.set_value(signature);
  EXPECT_TRUE(VerifySignature(pair.private_key.get(), wrapped, "m").ok());
}

TEST(Ed25519VerifyTest, KeysOfOtherTypesAreRefused) {
  EvpPkeyPtr ec(EVP_EC_gen("P-256"));
  ASSERT_NE(ec, nullptr);
  EXPECT_THAT(VerifyEd25519(ec.get(), std::string(64, '\0'), "m"),
              StatusIs(absl::StatusCode::kInvalidArgument, "the key is not an Ed25519 key"));
  EXPECT_THAT(VerifyEd25519(static_cast<EVP_PKEY*>(nullptr), std::string(64, '\0'), "m"),
              StatusIs(absl::StatusCode::kInvalidArgument, "the key is not an Ed25519 key"));
  EXPECT_EQ(ERR_peek_error(), 0u);
}

// The new path and OpenSSL agree on valid signatures and on their corruptions: bit flips in the
// signature, message or key, random signatures, S + L, another key's signature.
TEST(Ed25519VerifyTest, AgreesWithOpenSslOnRandomCases) {
  constexpr int kCases = 3000;
  std::mt19937 random(8032);
  std::vector<KeyPair> keys;
  for (int i = 0; i < 8; ++i) {
    keys.push_back(FreshKey());
    ASSERT_NE(keys.back().private_key, nullptr);
  }
  int valid = 0;
  int invalid = 0;
  for (int i = 0; i < kCases; ++i) {
    const KeyPair& signer = keys[random() % keys.size()];
    std::string message(random() % 400, '\0');
    for (char& c : message) c = static_cast<char>(random());
    std::string signature = OpenSslSign(signer.private_key.get(), message);
    std::string public_key = signer.public_key;
    switch (random() % 7) {
      case 0:
      case 1:
        break;  // As signed.
      case 2:
        signature = FlipBit(signature, random() % 512);
        break;
      case 3:
        if (message.empty()) message = "x";
        message = FlipBit(message, random() % (8 * message.size()));
        break;
      case 4:
        public_key = FlipBit(public_key, random() % 256);
        break;
      case 5:
        for (char& c : signature) c = static_cast<char>(random());
        break;
      case 6:
        signature = random() % 2 ? WithSPlusL(signature)
                                 : OpenSslSign(keys[(random() % keys.size())].private_key.get(),
                                               message + "'");
        break;
    }
    const bool by_openssl = OpenSslVerifies(public_key, signature, message);
    ASSERT_EQ(SodiumPathVerifies(public_key, signature, message), by_openssl)
        << "case " << i << ": key " << absl::BytesToHexString(public_key) << " signature "
        << absl::BytesToHexString(signature) << " message " << absl::BytesToHexString(message);
    (by_openssl ? valid : invalid) += 1;
  }
  // Both kinds were exercised, in about the proportions drawn.
  EXPECT_GT(valid, kCases / 5);
  EXPECT_GT(invalid, kCases / 2);
}

}  // namespace
}  // namespace mecai
