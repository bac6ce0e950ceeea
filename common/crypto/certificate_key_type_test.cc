#include "common/crypto/certificate_key_type.h"

#include <openssl/rsa.h>
#include <openssl/ssl.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/crypto/hashing.h"
#include "common/crypto/openssl_error.h"
#include "common/crypto/pem.h"
#include "common/pki/pki_builder.h"
#include "common/testing/in_memory_handshake.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::HasSubstr;

// The rule as a table: any change to what the agents offer shows here.
TEST(OfferSelectingTest, TableOfOffers) {
  struct Row {
    v1::CertificateKeyType key_type;
    std::string signature_algorithms;
    std::string tls12_cipher_suites;
  };
  const std::vector<Row> rows = {
      {v1::KEY_TYPE_EC_P256, "ecdsa_secp256r1_sha256", "aECDSA:!eNULL"},
      {v1::KEY_TYPE_EC_P384, "ecdsa_secp384r1_sha384", "aECDSA:!eNULL"},
      {v1::KEY_TYPE_RSA,
       "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:rsa_pkcs1_sha256:"
       "rsa_pkcs1_sha384:rsa_pkcs1_sha512",
       "aRSA:!eNULL"},
      {v1::KEY_TYPE_ED25519, "ed25519", "aECDSA:!eNULL"},
  };
  ASSERT_EQ(rows.size(), std::size(kSelectableKeyTypes));
  for (size_t i = 0; i < rows.size(); ++i) {
    SCOPED_TRACE(KeyTypeName(rows[i].key_type));
    EXPECT_EQ(kSelectableKeyTypes[i], rows[i].key_type);
    ASSERT_OK_AND_ASSIGN(KeyTypeOffer offer, OfferSelecting(rows[i].key_type));
    EXPECT_EQ(offer.signature_algorithms, rows[i].signature_algorithms);
    EXPECT_EQ(offer.tls12_cipher_suites, rows[i].tls12_cipher_suites);
  }
}

TEST(OfferSelectingTest, RefusesUnspecifiedAndUnknownKeyTypes) {
  EXPECT_THAT(OfferSelecting(v1::CERTIFICATE_KEY_TYPE_UNSPECIFIED),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("certificate key type 0 (CERTIFICATE_KEY_TYPE_UNSPECIFIED) is not "
                                 "one a probe agent can ask a server for")));
  EXPECT_THAT(OfferSelecting(static_cast<v1::CertificateKeyType>(99)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("certificate key type 99 is not one a probe agent can ask")));
  SslCtxPtr context(SSL_CTX_new(TLS_client_method()));
  ASSERT_NE(context, nullptr);
  EXPECT_THAT(RestrictOfferToKeyType(context.get(), static_cast<v1::CertificateKeyType>(99)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key type 99")));
}

// Every TLS 1.2 suite left in a restricted context is authenticated by the key type, and no suite
// is without encryption.
TEST(OfferSelectingTest, TlsOnePointTwoSuitesAuthenticateWithTheKeyType) {
  for (v1::CertificateKeyType key_type : kSelectableKeyTypes) {
    SCOPED_TRACE(KeyTypeName(key_type));
    SslCtxPtr context(SSL_CTX_new(TLS_client_method()));
    ASSERT_NE(context, nullptr);
    ASSERT_OK(RestrictOfferToKeyType(context.get(), key_type));
    const int expected_auth = key_type == v1::KEY_TYPE_RSA ? NID_auth_rsa : NID_auth_ecdsa;
    STACK_OF(SSL_CIPHER)* ciphers = SSL_CTX_get_ciphers(context.get());  // Borrowed.
    int tls12_suites = 0;
    for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) {
      const SSL_CIPHER* cipher = sk_SSL_CIPHER_value(ciphers, i);
      const int auth = SSL_CIPHER_get_auth_nid(cipher);
      if (auth == NID_auth_any) continue;  // A TLS 1.3 suite (RFC 8446 §4.1.1).
      ++tls12_suites;
      EXPECT_EQ(auth, expected_auth) << SSL_CIPHER_get_name(cipher);
      EXPECT_NE(SSL_CIPHER_get_cipher_nid(cipher), NID_undef) << SSL_CIPHER_get_name(cipher);
    }
    EXPECT_GT(tls12_suites, 0);
  }
}

// A fresh RSASSA-PSS-only key (id-RSASSA-PSS, RFC 4055), or null.
EvpPkeyPtr RsaPssKey() {
  EvpPkeyCtxPtr context(EVP_PKEY_CTX_new_from_name(nullptr, "RSA-PSS", nullptr));
  EVP_PKEY* key = nullptr;  // Owned once generated.
  if (context == nullptr || EVP_PKEY_keygen_init(context.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(context.get(), 2048) != 1 ||
      EVP_PKEY_generate(context.get(), &key) != 1) {
    ClearOpenSslErrors();
    return nullptr;
  }
  return EvpPkeyPtr(key);
}

// A certificate on a fresh key, issued by a throwaway CA: the CA's signature does not matter to a
// probe, only the key.
struct KeyedCertificate {
  EvpPkeyPtr key;
  X509Ptr certificate;
};

class CertificateKeyTypeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(ca_key_, GenerateEcKey());
    CertificateSpec spec;
    spec.common_name = "Key Type Test CA";
    spec.is_certificate_authority = true;
    spec.not_before = absl::Now() - absl::Hours(1);
    spec.not_after = absl::Now() + absl::Hours(24);
    ASSERT_OK_AND_ASSIGN(ca_, IssueCertificate(spec, ca_key_.get(), nullptr, ca_key_.get()));
  }

  KeyedCertificate Issue(EvpPkeyPtr key) {
    KeyedCertificate issued;
    EXPECT_NE(key, nullptr);
    if (key == nullptr) return issued;
    CertificateSpec spec;
    spec.common_name = "dual.example.test";
    spec.dns_names = {"dual.example.test"};
    spec.extended_key_usages = {"serverAuth"};
    spec.not_before = absl::Now() - absl::Hours(1);
    spec.not_after = absl::Now() + absl::Hours(24);
    absl::StatusOr<X509Ptr> certificate =
        IssueCertificate(spec, key.get(), ca_.get(), ca_key_.get());
    EXPECT_TRUE(certificate.ok()) << certificate.status();
    if (certificate.ok()) issued.certificate = std::move(*certificate);
    issued.key = std::move(key);
    return issued;
  }

  KeyedCertificate Issue(const std::string& kind) {
    if (kind == "P-256") return Issue(GenerateEcKey(256).value_or(nullptr));
    if (kind == "P-384") return Issue(GenerateEcKey(384).value_or(nullptr));
    if (kind == "RSA") return Issue(GenerateRsaKey(2048).value_or(nullptr));
    if (kind == "Ed25519") return Issue(GenerateEd25519Key().value_or(nullptr));
    if (kind == "P-521") return Issue(EvpPkeyPtr(EVP_EC_gen("P-521")));
    if (kind == "secp256k1") return Issue(EvpPkeyPtr(EVP_EC_gen("secp256k1")));
    if (kind == "Ed448") return Issue(EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED448")));
    if (kind == "RSA-PSS") return Issue(RsaPssKey());
    ADD_FAILURE() << "unknown key kind " << kind;
    return KeyedCertificate();
  }

  EvpPkeyPtr ca_key_;
  X509Ptr ca_;
};

TEST_F(CertificateKeyTypeTest, TableOfCertificateKeys) {
  struct Row {
    std::string kind;
    v1::CertificateKeyType expected;
  };
  for (const Row& row : std::vector<Row>{{"P-256", v1::KEY_TYPE_EC_P256},
                                         {"P-384", v1::KEY_TYPE_EC_P384},
                                         {"RSA", v1::KEY_TYPE_RSA},
                                         {"Ed25519", v1::KEY_TYPE_ED25519}}) {
    SCOPED_TRACE(row.kind);
    KeyedCertificate issued = Issue(row.kind);
    ASSERT_NE(issued.certificate, nullptr);
    ASSERT_OK_AND_ASSIGN(v1::CertificateKeyType key_type,
                         CertificateKeyTypeOf(issued.certificate.get()));
    EXPECT_EQ(key_type, row.expected);
  }
}

TEST_F(CertificateKeyTypeTest, KeysNoAgentCanAskForAreRefusedNamingTheKey) {
  struct Row {
    std::string kind;
    std::string named;
  };
  for (const Row& row :
       std::vector<Row>{{"P-521", "an ECDSA key on secp521r1"},
                        {"secp256k1", "an ECDSA key on secp256k1"},
                        {"Ed448", "a key of type ED448"},
                        {"RSA-PSS", "an RSASSA-PSS-only key (id-RSASSA-PSS, RFC 4055)"}}) {
    SCOPED_TRACE(row.kind);
    KeyedCertificate issued = Issue(row.kind);
    ASSERT_NE(issued.certificate, nullptr);
    EXPECT_THAT(CertificateKeyTypeOf(issued.certificate.get()),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr(absl::StrCat("the certificate has ", row.named,
                                                ", which no probe agent can ask a server for"))));
  }
}

// A server holding an RSA certificate and one of another key type, as nginx does with two
// ssl_certificate lines: a client restricted to a key type is shown the certificate of that type,
// in TLS 1.2 and in TLS 1.3; an unrestricted client is shown whichever the server prefers.
TEST_F(CertificateKeyTypeTest, ARestrictedClientIsShownTheCertificateOfItsKeyType) {
  for (const std::string& other_kind : {"P-256", "P-384", "Ed25519"}) {
    KeyedCertificate rsa = Issue("RSA");
    KeyedCertificate other = Issue(other_kind);
    ASSERT_NE(rsa.certificate, nullptr);
    ASSERT_NE(other.certificate, nullptr);
    ASSERT_OK_AND_ASSIGN(v1::CertificateKeyType other_type,
                         CertificateKeyTypeOf(other.certificate.get()));
    for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
      SCOPED_TRACE(absl::StrCat("RSA and ", other_kind, " over ",
                                version == TLS1_2_VERSION ? "TLS 1.2" : "TLS 1.3"));
      SslCtxPtr server_context(SSL_CTX_new(TLS_server_method()));
      ASSERT_NE(server_context, nullptr);
      SSL_CTX_set_security_level(server_context.get(), 0);
      for (const KeyedCertificate* served : {&rsa, &other}) {
        ASSERT_EQ(SSL_CTX_use_certificate(server_context.get(), served->certificate.get()), 1);
        ASSERT_EQ(SSL_CTX_use_PrivateKey(server_context.get(), served->key.get()), 1);
      }
      for (const auto& [key_type, expected] :
           {std::make_pair(v1::KEY_TYPE_RSA, &rsa), std::make_pair(other_type, &other)}) {
        SCOPED_TRACE(KeyTypeName(key_type));
        SslCtxPtr client_context(SSL_CTX_new(TLS_client_method()));
        ASSERT_NE(client_context, nullptr);
        SSL_CTX_set_security_level(client_context.get(), 0);
        ASSERT_EQ(SSL_CTX_set_min_proto_version(client_context.get(), version), 1);
        ASSERT_EQ(SSL_CTX_set_max_proto_version(client_context.get(), version), 1);
        ASSERT_OK(RestrictOfferToKeyType(client_context.get(), key_type));
        SslPtr client(SSL_new(client_context.get()));
        SslPtr server(SSL_new(server_context.get()));
        ASSERT_NE(client, nullptr);
        ASSERT_NE(server, nullptr);
        ASSERT_OK(HandshakeInMemory(client.get(), server.get()));
        X509Ptr presented(SSL_get1_peer_certificate(client.get()));  // Owned (OpenSSL 3).
        ASSERT_NE(presented, nullptr);
        EXPECT_EQ(Sha256(CertificateToDer(presented.get())),
                  Sha256(CertificateToDer(expected->certificate.get())));
      }
    }
  }
}

// A server without a certificate of the asked key type ends the handshake: the probe is then a
// handshake failure at that address, never another certificate.
TEST_F(CertificateKeyTypeTest, AServerWithoutACertificateOfTheKeyTypeRefusesTheHandshake) {
  KeyedCertificate ecdsa = Issue("P-256");
  ASSERT_NE(ecdsa.certificate, nullptr);
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    SCOPED_TRACE(version == TLS1_2_VERSION ? "TLS 1.2" : "TLS 1.3");
    SslCtxPtr server_context(SSL_CTX_new(TLS_server_method()));
    ASSERT_NE(server_context, nullptr);
    ASSERT_EQ(SSL_CTX_use_certificate(server_context.get(), ecdsa.certificate.get()), 1);
    ASSERT_EQ(SSL_CTX_use_PrivateKey(server_context.get(), ecdsa.key.get()), 1);
    SslCtxPtr client_context(SSL_CTX_new(TLS_client_method()));
    ASSERT_NE(client_context, nullptr);
    ASSERT_EQ(SSL_CTX_set_min_proto_version(client_context.get(), version), 1);
    ASSERT_EQ(SSL_CTX_set_max_proto_version(client_context.get(), version), 1);
    ASSERT_OK(RestrictOfferToKeyType(client_context.get(), v1::KEY_TYPE_RSA));
    SslPtr client(SSL_new(client_context.get()));
    SslPtr server(SSL_new(server_context.get()));
    ASSERT_NE(client, nullptr);
    ASSERT_NE(server, nullptr);
    EXPECT_THAT(HandshakeInMemory(client.get(), server.get()),
                StatusIs(absl::StatusCode::kUnavailable, HasSubstr("handshake")));
  }
}

TEST(KeyTypeNameTest, NamesEveryKeyTypeAndNumbersOthers) {
  EXPECT_EQ(KeyTypeName(v1::KEY_TYPE_EC_P256), "EC P-256");
  EXPECT_EQ(KeyTypeName(v1::KEY_TYPE_EC_P384), "EC P-384");
  EXPECT_EQ(KeyTypeName(v1::KEY_TYPE_RSA), "RSA");
  EXPECT_EQ(KeyTypeName(v1::KEY_TYPE_ED25519), "Ed25519");
  EXPECT_EQ(KeyTypeName(static_cast<v1::CertificateKeyType>(42)), "key type 42");
}

}  // namespace
}  // namespace mecai
