#include "probe_agent/probe_library_context.h"

#include <openssl/decoder.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/base/files.h"
#include "common/crypto/certificate_key_type.h"
#include "common/crypto/hashing.h"
#include "common/crypto/openssl_types.h"
#include "common/crypto/pem.h"
#include "common/pki/pki_builder.h"
#include "gtest/gtest.h"
#include "probe_agent/openssl_handshake.h"
#include "probe_agent/testing/test_servers.h"
#include "probe_agent/tls_engine.h"

namespace mecai {
namespace probe_agent {
namespace {

using ::mecai::test_support::OpenSslTestServer;
using ::mecai::test_support::TestCertificate;

struct KeyCase {
  const char* name;   // For EVP_PKEY_Q_keygen.
  size_t bits;        // RSA and RSA-PSS only.
  const char* curve;  // EC only.
};

EvpPkeyPtr GenerateKey(const KeyCase& key) {
  if (std::string(key.name) == "EC") {
    return EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", key.curve));
  }
  if (key.bits != 0) {
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> context(
        EVP_PKEY_CTX_new_from_name(nullptr, key.name, nullptr), EVP_PKEY_CTX_free);
    EVP_PKEY* generated = nullptr;
    if (context == nullptr || EVP_PKEY_keygen_init(context.get()) != 1 ||
        EVP_PKEY_CTX_set_rsa_keygen_bits(context.get(), static_cast<int>(key.bits)) != 1 ||
        EVP_PKEY_generate(context.get(), &generated) != 1) {
      return nullptr;
    }
    return EvpPkeyPtr(generated);
  }
  return EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, key.name));
}

// A certificate for `subject_key`, issued by a fresh EC P-256 CA.
std::string IssueLeafDer(EVP_PKEY* subject_key) {
  absl::StatusOr<EvpPkeyPtr> issuer_key = GenerateEcKey();
  if (!issuer_key.ok()) return "";
  CertificateSpec spec;
  spec.common_name = "context.example.test";
  spec.dns_names = {"context.example.test"};
  spec.not_before = absl::Now() - absl::Hours(1);
  spec.not_after = absl::Now() + absl::Hours(1);
  CertificateSpec issuer_spec = spec;
  issuer_spec.common_name = "Context Test CA";
  issuer_spec.dns_names.clear();
  issuer_spec.is_certificate_authority = true;
  absl::StatusOr<X509Ptr> issuer =
      IssueCertificate(issuer_spec, issuer_key->get(), nullptr, issuer_key->get());
  if (!issuer.ok()) return "";
  absl::StatusOr<X509Ptr> leaf =
      IssueCertificate(spec, subject_key, issuer->get(), issuer_key->get());
  return leaf.ok() ? CertificateToDer(leaf->get()) : "";
}

// A certificate parsed as libssl parses a server's: d2i_X509 into an X509 of the probe context.
X509Ptr ParseInProbeContext(const std::string& der) {
  absl::StatusOr<OSSL_LIB_CTX*> context = ProbeLibraryContext();
  if (!context.ok()) return nullptr;
  // d2i_X509 frees the X509 it was given when it fails.
  X509* into = X509_new_ex(*context, nullptr);
  const unsigned char* in = reinterpret_cast<const unsigned char*>(der.data());
  return X509Ptr(d2i_X509(&into, &in, static_cast<long>(der.size())));  // NOLINT(runtime/int)
}

// The ClientHello a context sends (RFC 8446 §4.1.2), with what differs between any two
// ClientHellos zeroed: the random, the legacy session id, and the key_share entries' keys.
std::string ClientHelloWithoutRandomParts(SSL_CTX* context) {
  SslPtr ssl(SSL_new(context));
  if (ssl == nullptr) return "";
  BIO* to_server = BIO_new(BIO_s_mem());
  BIO* from_server = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl.get(), from_server, to_server);  // The SSL object owns both.
  SSL_set_tlsext_host_name(ssl.get(), "context.example.test");
  SSL_set_connect_state(ssl.get());
  SSL_do_handshake(ssl.get());  // Writes the ClientHello, then wants to read.
  char* data = nullptr;
  const long length = BIO_get_mem_data(to_server, &data);  // NOLINT(runtime/int): OpenSSL's.
  std::string record(data, static_cast<size_t>(length));
  // TLSPlaintext header (5), then the handshake header (4).
  if (record.size() < 9 + 2 + 32 + 1) return "";
  std::string hello = record.substr(9);
  auto u8 = [&](size_t at) { return static_cast<uint8_t>(hello[at]); };
  auto u16 = [&](size_t at) { return (u8(at) << 8) | u8(at + 1); };
  size_t at = 2;                                                 // legacy_version
  std::fill(hello.begin() + at, hello.begin() + at + 32, '\0');  // random
  at += 32;
  const size_t session_id = u8(at);
  std::fill(hello.begin() + at + 1, hello.begin() + at + 1 + session_id, '\0');
  at += 1 + session_id;
  at += 2 + u16(at);  // cipher_suites
  at += 1 + u8(at);   // legacy_compression_methods
  const size_t extensions_end = at + 2 + u16(at);
  at += 2;
  while (at + 4 <= extensions_end && extensions_end <= hello.size()) {
    const int type = u16(at);
    const size_t extension_length = u16(at + 2);
    if (type == 51) {  // key_share: client_shares, each group(2) length(2) key_exchange.
      size_t share = at + 6;
      while (share + 4 <= at + 4 + extension_length) {
        const size_t key_length = u16(share + 2);
        std::fill(hello.begin() + share + 4, hello.begin() + share + 4 + key_length, '\0');
        share += 4 + key_length;
      }
    }
    at += 4 + extension_length;
  }
  return hello;
}

TEST(ProbeLibraryContextTest, IsMadeOnceForTheProcess) {
  absl::StatusOr<OSSL_LIB_CTX*> first = ProbeLibraryContext();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_NE(*first, nullptr);
  absl::StatusOr<OSSL_LIB_CTX*> second = ProbeLibraryContext();
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, *first);
}

// Every key type a certificate may carry decodes, in the probe context, to the certificate's key.
TEST(ProbeLibraryContextTest, DecodesTheKeyOfEveryCertificateKeyType) {
  const std::vector<KeyCase> keys = {
      {"EC", 0, "P-256"},     {"EC", 0, "P-384"},         {"EC", 0, "P-521"},
      {"RSA", 2048, nullptr}, {"RSA-PSS", 2048, nullptr}, {"ED25519", 0, nullptr},
      {"ED448", 0, nullptr},  {"X25519", 0, nullptr},     {"X448", 0, nullptr},
  };
  for (const KeyCase& key : keys) {
    SCOPED_TRACE(std::string(key.name) + (key.curve != nullptr ? key.curve : ""));
    EvpPkeyPtr subject_key = GenerateKey(key);
    ASSERT_NE(subject_key, nullptr);
    const std::string der = IssueLeafDer(subject_key.get());
    ASSERT_FALSE(der.empty());
    X509Ptr certificate = ParseInProbeContext(der);
    ASSERT_NE(certificate, nullptr);
    EVP_PKEY* decoded = X509_get0_pubkey(certificate.get());
    ASSERT_NE(decoded, nullptr);
    EXPECT_EQ(EVP_PKEY_eq(decoded, subject_key.get()), 1);
    EXPECT_EQ(CertificateToDer(certificate.get()), der);
  }
}

// What makes a certificate's parse cheap: the context has decoders of a DER SubjectPublicKeyInfo
// only, so a decoder context for PEM or for a private key finds none, where the default context
// finds several.
TEST(ProbeLibraryContextTest, OffersOnlySubjectPublicKeyInfoDecoders) {
  absl::StatusOr<OSSL_LIB_CTX*> context = ProbeLibraryContext();
  ASSERT_TRUE(context.ok());
  auto decoders = [](OSSL_LIB_CTX* library, const char* input, const char* structure,
                     int selection) {
    EVP_PKEY* key = nullptr;
    OSSL_DECODER_CTX* decoder =
        OSSL_DECODER_CTX_new_for_pkey(&key, input, structure, "EC", selection, library, nullptr);
    const int count = decoder != nullptr ? OSSL_DECODER_CTX_get_num_decoders(decoder) : -1;
    OSSL_DECODER_CTX_free(decoder);
    return count;
  };
  EXPECT_GT(decoders(*context, "DER", "SubjectPublicKeyInfo", EVP_PKEY_PUBLIC_KEY), 0);
  EXPECT_EQ(decoders(*context, "PEM", nullptr, EVP_PKEY_KEYPAIR), 0);
  EXPECT_EQ(decoders(*context, "DER", "PrivateKeyInfo", EVP_PKEY_KEYPAIR), 0);
  EXPECT_GT(decoders(nullptr, "PEM", nullptr, EVP_PKEY_KEYPAIR), 0);
  EXPECT_GT(decoders(nullptr, "DER", "PrivateKeyInfo", EVP_PKEY_KEYPAIR), 0);
}

// The probe context leaves out only algorithms no TLS handshake uses: the ClientHello of every
// probe offer (each key type, each version range) is the one the same context makes in OpenSSL's
// default library context: the same versions, cipher suites, groups, signature algorithms and
// extensions, in the same order.
TEST(ProbeLibraryContextTest, EveryOfferIsTheDefaultContextsOffer) {
  std::vector<v1::CertificateKeyType> key_types = {v1::CERTIFICATE_KEY_TYPE_UNSPECIFIED};
  for (v1::CertificateKeyType key_type : kSelectableKeyTypes) key_types.push_back(key_type);
  for (const auto& [min_version, max_version] :
       std::vector<std::pair<int, int>>{{0x0303, 0x0304}, {0x0303, 0x0303}, {0x0304, 0x0304}}) {
    for (v1::CertificateKeyType key_type : key_types) {
      SCOPED_TRACE(
          absl::StrCat(v1::CertificateKeyType_Name(key_type), " ", min_version, "-", max_version));
      TlsClientOptions options;
      options.min_version = min_version;
      options.max_version = max_version;
      absl::StatusOr<SslCtxPtr> probe = CreateProbeSslContext(options, key_type);
      absl::StatusOr<SslCtxPtr> reference = CreateProbeSslContextIn(nullptr, options, key_type);
      ASSERT_TRUE(probe.ok()) << probe.status();
      ASSERT_TRUE(reference.ok()) << reference.status();
      const std::string offered = ClientHelloWithoutRandomParts(probe->get());
      ASSERT_FALSE(offered.empty());
      EXPECT_EQ(offered, ClientHelloWithoutRandomParts(reference->get()));
    }
  }
}

// Handshakes through the engine, whose OpenSSL client contexts live in the probe context, and
// through the engine on GnuTLS, with a server of each key type the agent asks for, in TLS 1.2 and
// TLS 1.3, with the default offer and with the offer of the server's key type: each records the
// server's certificate.
TEST(ProbeLibraryContextTest, TheEngineHandshakesWithEveryKeyTypeInBothVersions) {
  const std::string directory = test_support::TestTemporaryDirectory();
  std::vector<std::unique_ptr<TlsEngine>> engines;
  for (TlsLibrary library : {TlsLibrary::kOpenSsl, TlsLibrary::kGnuTls}) {
    TlsEngineOptions options;
    options.library = library;
    absl::StatusOr<std::unique_ptr<TlsEngine>> engine = TlsEngine::Create(options);
    ASSERT_TRUE(engine.ok()) << engine.status();
    engines.push_back(std::move(*engine));
  }
  const std::vector<std::pair<KeyCase, v1::CertificateKeyType>> keys = {
      {{"EC", 0, "P-256"}, v1::KEY_TYPE_EC_P256},
      {{"EC", 0, "P-384"}, v1::KEY_TYPE_EC_P384},
      {{"RSA", 2048, nullptr}, v1::KEY_TYPE_RSA},
      {{"ED25519", 0, nullptr}, v1::KEY_TYPE_ED25519}};
  int index = 0;
  for (const auto& [key, key_type] : keys) {
    SCOPED_TRACE(std::string(key.name) + (key.curve != nullptr ? key.curve : ""));
    EvpPkeyPtr server_key = GenerateKey(key);
    ASSERT_NE(server_key, nullptr);
    const std::string der = IssueLeafDer(server_key.get());
    ASSERT_FALSE(der.empty());
    absl::StatusOr<X509Ptr> parsed = ParseDerCertificate(der);
    ASSERT_TRUE(parsed.ok());
    TestCertificate certificate;
    certificate.der = der;
    certificate.certificate_path = directory + "/context_" + std::to_string(index) + ".crt.pem";
    certificate.key_path = directory + "/context_" + std::to_string(index) + ".key.pem";
    ++index;
    ASSERT_TRUE(
        WriteFileAtomically(certificate.certificate_path, CertificateToPem(parsed->get())).ok());
    ASSERT_TRUE(WriteFileAtomically(certificate.key_path, PrivateKeyToPem(server_key.get())).ok());
    for (const char* version : {"-tls1_2", "-tls1_3"}) {
      SCOPED_TRACE(version);
      OpenSslTestServer::Options options;
      options.certificate = certificate;
      options.extra_arguments = {version};
      absl::StatusOr<std::unique_ptr<OpenSslTestServer>> server = OpenSslTestServer::Start(options);
      ASSERT_TRUE(server.ok()) << server.status();
      for (size_t library = 0; library < engines.size(); ++library) {
        for (v1::CertificateKeyType requested : {v1::CERTIFICATE_KEY_TYPE_UNSPECIFIED, key_type}) {
          SCOPED_TRACE(std::string(library == 0 ? "OpenSSL " : "GnuTLS ") +
                       v1::CertificateKeyType_Name(requested));
          FetchRequest request;
          request.address = "127.0.0.1";
          request.port = static_cast<uint32_t>((*server)->port());
          request.sni = "context.example.test";
          request.key_type = requested;
          const v1::AddressObservation observation = engines[library]->Fetch(request);
          ASSERT_EQ(observation.outcome(), v1::PROBE_OK) << observation.error();
          EXPECT_EQ(observation.tls_version(),
                    std::string(version) == "-tls1_2" ? "TLSv1.2" : "TLSv1.3");
          EXPECT_EQ(observation.leaf_sha256(), Sha256(der));
        }
      }
    }
  }
}

}  // namespace
}  // namespace probe_agent
}  // namespace mecai
