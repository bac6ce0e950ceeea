// ParseDerCertificate parses in the certificate library context
// (common/crypto/filtered_library_context.h): what it parses must be what the default context
// parses, for every key type, every signature digest and path validation.
#include <openssl/decoder.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "common/crypto/filtered_library_context.h"
#include "common/crypto/openssl_types.h"
#include "common/crypto/pem.h"
#include "common/pki/pki_builder.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::HasSubstr;

CertificateSpec Spec(const std::string& name, bool authority) {
  CertificateSpec spec;
  spec.common_name = name;
  if (!authority) spec.dns_names = {"parse.example.test"};
  spec.is_certificate_authority = authority;
  spec.not_before = absl::Now() - absl::Hours(1);
  spec.not_after = absl::Now() + absl::Hours(1);
  return spec;
}

// The number of decoders a decoder context for a key finds in `library`.
int DecodersFor(OSSL_LIB_CTX* library, const char* input, const char* structure, int selection) {
  EVP_PKEY* key = nullptr;
  OSSL_DECODER_CTX* decoder =
      OSSL_DECODER_CTX_new_for_pkey(&key, input, structure, "EC", selection, library, nullptr);
  const int count = decoder != nullptr ? OSSL_DECODER_CTX_get_num_decoders(decoder) : -1;
  OSSL_DECODER_CTX_free(decoder);
  return count;
}

TEST(CertificateLibraryContextTest, OffersOnlyKeyDecodersButEveryDigest) {
  ASSERT_OK_AND_ASSIGN(OSSL_LIB_CTX * context, CertificateLibraryContext());
  EXPECT_GT(DecodersFor(context, "DER", "SubjectPublicKeyInfo", EVP_PKEY_PUBLIC_KEY), 0);
  EXPECT_EQ(DecodersFor(context, "PEM", nullptr, EVP_PKEY_KEYPAIR), 0);
  EXPECT_EQ(DecodersFor(context, "DER", "PrivateKeyInfo", EVP_PKEY_KEYPAIR), 0);
  EXPECT_GT(DecodersFor(nullptr, "PEM", nullptr, EVP_PKEY_KEYPAIR), 0);
  // Unlike the probe's context, every digest a certificate's signature may use is kept.
  for (const char* digest : {"SHA1", "SHA2-256", "SHA2-384", "SHA2-512", "SHA3-256", "SHA3-512"}) {
    SCOPED_TRACE(digest);
    EVP_MD* fetched = EVP_MD_fetch(context, digest, nullptr);
    EXPECT_NE(fetched, nullptr);
    EVP_MD_free(fetched);
  }
  ASSERT_OK_AND_ASSIGN(OSSL_LIB_CTX * again, CertificateLibraryContext());
  EXPECT_EQ(again, context);
}

// Every key type: the parsed certificate has the subject's key, re-encodes to the same bytes and
// verifies under its issuer's key.
TEST(CertificateLibraryContextTest, EveryKeyTypeParsesToTheSameKeyAndVerifies) {
  struct KeyCase {
    const char* name;
    const char* parameter;  // The curve for EC.
  };
  const std::vector<KeyCase> keys = {{"EC", "P-256"},  {"EC", "P-384"},      {"EC", "P-521"},
                                     {"RSA", nullptr}, {"ED25519", nullptr}, {"ED448", nullptr}};
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr issuer_key, GenerateEcKey());
  ASSERT_OK_AND_ASSIGN(X509Ptr issuer, IssueCertificate(Spec("Parse CA", true), issuer_key.get(),
                                                        nullptr, issuer_key.get()));
  for (const KeyCase& key : keys) {
    SCOPED_TRACE(std::string(key.name) + (key.parameter != nullptr ? key.parameter : ""));
    EvpPkeyPtr subject_key(
        key.parameter != nullptr
            ? EVP_PKEY_Q_keygen(nullptr, nullptr, key.name, key.parameter)
            : (std::string(key.name).rfind("RSA", 0) == 0
                   ? EVP_PKEY_Q_keygen(nullptr, nullptr, key.name, static_cast<size_t>(2048))
                   : EVP_PKEY_Q_keygen(nullptr, nullptr, key.name)));
    ASSERT_NE(subject_key, nullptr);
    ASSERT_OK_AND_ASSIGN(X509Ptr leaf, IssueCertificate(Spec("leaf", false), subject_key.get(),
                                                        issuer.get(), issuer_key.get()));
    const std::string der = CertificateToDer(leaf.get());
    ASSERT_OK_AND_ASSIGN(X509Ptr parsed, ParseDerCertificate(der));
    EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(parsed.get()), subject_key.get()), 1);
    EXPECT_EQ(CertificateToDer(parsed.get()), der);
    EXPECT_EQ(X509_verify(parsed.get(), issuer_key.get()), 1);
  }
}

// A signature digest the probe's context does not offer (SHA3-256, with RSA: OpenSSL 3.0 has no
// ecdsa-with-SHA3 for certificates) verifies as in the default context, and a chain
// of certificates parsed here validates in a default-context store, and fails under another CA.
TEST(CertificateLibraryContextTest, ChainsValidateWhateverTheirSignatureDigest) {
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr ca_key, GenerateRsaKey());
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr leaf_key, GenerateEcKey());
  ASSERT_OK_AND_ASSIGN(
      X509Ptr ca, IssueCertificate(Spec("Parse CA", true), ca_key.get(), nullptr, ca_key.get()));
  ASSERT_OK_AND_ASSIGN(
      X509Ptr leaf, IssueCertificate(Spec("leaf", false), leaf_key.get(), ca.get(), ca_key.get()));
  ASSERT_GT(X509_sign(leaf.get(), ca_key.get(), EVP_sha3_256()), 0);  // Re-signed with SHA3-256.
  ASSERT_OK_AND_ASSIGN(X509Ptr parsed_ca, ParseDerCertificate(CertificateToDer(ca.get())));
  ASSERT_OK_AND_ASSIGN(X509Ptr parsed_leaf, ParseDerCertificate(CertificateToDer(leaf.get())));
  EXPECT_EQ(OBJ_obj2nid(X509_get0_tbs_sigalg(parsed_leaf.get())->algorithm), NID_RSA_SHA3_256);
  const std::string leaf_der = CertificateToDer(leaf.get());
  const unsigned char* cursor = reinterpret_cast<const unsigned char*>(leaf_der.data());
  X509Ptr default_leaf(d2i_X509(nullptr, &cursor, static_cast<long>(leaf_der.size())));  // NOLINT
  ASSERT_NE(default_leaf, nullptr);
  EXPECT_EQ(X509_verify(default_leaf.get(), ca_key.get()), 1);
  EXPECT_EQ(X509_verify(parsed_leaf.get(), ca_key.get()), 1);

  auto validates = [&](X509* trusted) {
    X509StorePtr store(X509_STORE_new());
    X509_STORE_add_cert(store.get(), trusted);
    X509StoreCtxPtr context(X509_STORE_CTX_new());
    X509_STORE_CTX_init(context.get(), store.get(), parsed_leaf.get(), nullptr);
    const int result = X509_verify_cert(context.get());
    return result == 1 ? X509_V_OK : X509_STORE_CTX_get_error(context.get());
  };
  EXPECT_EQ(validates(parsed_ca.get()), X509_V_OK);
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr other_key, GenerateEcKey());
  ASSERT_OK_AND_ASSIGN(X509Ptr other_ca, IssueCertificate(Spec("Other CA", true), other_key.get(),
                                                          nullptr, other_key.get()));
  EXPECT_EQ(validates(other_ca.get()), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

// Bad bytes are refused as before, and the X509 given to d2i_X509 is not freed twice (ASan).
TEST(CertificateLibraryContextTest, MalformedCertificatesAreRefused) {
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr key, GenerateEcKey());
  ASSERT_OK_AND_ASSIGN(X509Ptr ca,
                       IssueCertificate(Spec("Parse CA", true), key.get(), nullptr, key.get()));
  const std::string der = CertificateToDer(ca.get());
  EXPECT_THAT(ParseDerCertificate(der.substr(0, der.size() - 1)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("malformed DER certificate")));
  EXPECT_THAT(ParseDerCertificate(""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("malformed DER certificate")));
  EXPECT_THAT(ParseDerCertificate(der + "x"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("trailing bytes")));
  std::string corrupted = der;
  corrupted[corrupted.size() / 3] ^= 0x40;
  absl::StatusOr<X509Ptr> parsed = ParseDerCertificate(corrupted);
  if (parsed.ok()) EXPECT_NE(X509_verify(parsed->get(), key.get()), 1);
}

}  // namespace
}  // namespace mecai
