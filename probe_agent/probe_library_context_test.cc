#include "probe_agent/probe_library_context.h"

#include <openssl/decoder.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "common/base/files.h"
#include "common/crypto/hashing.h"
#include "common/crypto/openssl_types.h"
#include "common/crypto/pem.h"
#include "common/pki/pki_builder.h"
#include "gtest/gtest.h"
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
  X509Ptr certificate(X509_new_ex(*context, nullptr));
  const unsigned char* in = reinterpret_cast<const unsigned char*>(der.data());
  X509* parsed = certificate.get();
  if (d2i_X509(&parsed, &in, static_cast<long>(der.size())) == nullptr) {  // NOLINT(runtime/int)
    return nullptr;
  }
  return certificate;
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

// Handshakes through the engine, whose client contexts live in the probe context, with a server
// of each key type the agent asks for, in TLS 1.2 and TLS 1.3: each records the server's
// certificate.
TEST(ProbeLibraryContextTest, TheEngineHandshakesWithEveryKeyTypeInBothVersions) {
  const std::string directory = test_support::TestTemporaryDirectory();
  absl::StatusOr<std::unique_ptr<TlsEngine>> engine = TlsEngine::Create(TlsEngineOptions());
  ASSERT_TRUE(engine.ok()) << engine.status();
  const std::vector<KeyCase> keys = {
      {"EC", 0, "P-256"}, {"EC", 0, "P-384"}, {"RSA", 2048, nullptr}, {"ED25519", 0, nullptr}};
  int index = 0;
  for (const KeyCase& key : keys) {
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
      FetchRequest request;
      request.address = "127.0.0.1";
      request.port = static_cast<uint32_t>((*server)->port());
      request.sni = "context.example.test";
      const v1::AddressObservation observation = (*engine)->Fetch(request);
      ASSERT_EQ(observation.outcome(), v1::PROBE_OK) << observation.error();
      EXPECT_EQ(observation.tls_version(),
                std::string(version) == "-tls1_2" ? "TLSv1.2" : "TLSv1.3");
      EXPECT_EQ(observation.leaf_sha256(), Sha256(der));
    }
  }
}

}  // namespace
}  // namespace probe_agent
}  // namespace mecai
