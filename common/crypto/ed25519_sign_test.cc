#include "common/crypto/ed25519_sign.h"

#include <openssl/evp.h>

#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "common/crypto/openssl_types.h"
#include "common/crypto/signature.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

EvpPkeyPtr NewEd25519Key() {
  EVP_PKEY* key = nullptr;
  EvpPkeyCtxPtr context(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
  if (context == nullptr || EVP_PKEY_keygen_init(context.get()) != 1 ||
      EVP_PKEY_keygen(context.get(), &key) != 1) {
    return nullptr;
  }
  return EvpPkeyPtr(key);
}

// RFC 8032 §7.1, TEST 1 and TEST 3: a known seed's signatures, byte for byte.
TEST(Ed25519SecretKeyTest, SignsTheVectorsOfRfc8032) {
  struct Vector {
    const char* seed;
    const char* message;
    const char* signature;
  };
  const Vector vectors[] = {
      {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "",
       "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf"
       "9b4"
       "6bd25bf5f0595bbe24655141438e7a100b"},
      {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7", "af82",
       "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984"
       "dc6"
       "594a7c15e9716ed28dc027beceea1ec40a"},
  };
  for (const Vector& vector : vectors) {
    const std::string seed = absl::HexStringToBytes(vector.seed);
    EvpPkeyPtr key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                                reinterpret_cast<const unsigned char*>(seed.data()),
                                                seed.size()));
    ASSERT_NE(key, nullptr);
    auto secret = Ed25519SecretKey::FromEvpKey(key.get());
    ASSERT_TRUE(secret.ok()) << secret.status();
    EXPECT_EQ(absl::BytesToHexString((*secret)->Sign(absl::HexStringToBytes(vector.message))),
              vector.signature);
  }
}

// The signature InMemorySigningKey makes with libsodium is OpenSSL's for the same key and message,
// for messages from empty to larger than an Observation, and verifies.
TEST(Ed25519SecretKeyTest, SignsExactlyAsOpenSslDoes) {
  for (int k = 0; k < 20; ++k) {
    EvpPkeyPtr key = NewEd25519Key();
    ASSERT_NE(key, nullptr);
    EvpPkeyPtr copy(EVP_PKEY_dup(key.get()));
    ASSERT_NE(copy, nullptr);
    auto in_memory = InMemorySigningKey::Create(std::move(copy));
    ASSERT_TRUE(in_memory.ok()) << in_memory.status();
    for (size_t size : {0, 1, 63, 64, 300, 1000, 5000}) {
      std::string message(size, '\0');
      for (size_t i = 0; i < size; ++i) message[i] = static_cast<char>(i * 31 + k);
      auto by_openssl = SignBytes(key.get(), v1::ED25519, message);
      auto by_libsodium = (*in_memory)->Sign(message);
      ASSERT_TRUE(by_openssl.ok()) << by_openssl.status();
      ASSERT_TRUE(by_libsodium.ok()) << by_libsodium.status();
      EXPECT_EQ(by_libsodium->algorithm(), v1::ED25519);
      EXPECT_EQ(by_libsodium->value(), by_openssl->value()) << "key " << k << ", size " << size;
      EXPECT_TRUE(VerifySignature(key.get(), *by_libsodium, message).ok());
    }
  }
}

TEST(Ed25519SecretKeyTest, RefusesWhatIsNoEd25519PrivateKey) {
  EXPECT_EQ(Ed25519SecretKey::FromEvpKey(nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  EvpPkeyPtr key = NewEd25519Key();
  ASSERT_NE(key, nullptr);
  unsigned char public_key[32];
  size_t length = sizeof(public_key);
  ASSERT_EQ(EVP_PKEY_get_raw_public_key(key.get(), public_key, &length), 1);
  EvpPkeyPtr public_only(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key, sizeof(public_key)));
  ASSERT_NE(public_only, nullptr);
  auto refused = Ed25519SecretKey::FromEvpKey(public_only.get());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.status().message(), "the key is not an Ed25519 private key");
  EXPECT_FALSE(InMemorySigningKey::Create(std::move(public_only)).ok());
}

}  // namespace
}  // namespace mecai
