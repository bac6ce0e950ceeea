#include "common/testing/mtls_files.h"

#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "common/crypto/openssl_types.h"
#include "common/crypto/pem.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

// The one certificate in the PEM file `path`.
X509Ptr LoadCertificate(const std::string& path) {
  absl::StatusOr<std::vector<X509Ptr>> certificates = LoadPemCertificates(path);
  EXPECT_TRUE(certificates.ok()) << certificates.status();
  if (!certificates.ok() || certificates->size() != 1) return nullptr;
  return std::move(certificates->front());
}

TEST(MutualTlsFilesTest, IdentitiesAreIssuedByTheCaForTheirRoleWithPrivateKeys) {
  ASSERT_OK_AND_ASSIGN(const std::string directory, test_pki::MakeTempDirectory());
  ASSERT_OK_AND_ASSIGN(MutualTlsFiles files,
                       WriteMutualTlsFiles(directory, "test CA", "approval", "ca-frontend"));
  EXPECT_EQ(files.ca, directory + "/ca.pem");
  EXPECT_EQ(files.server_certificate, directory + "/approval.pem");
  EXPECT_EQ(files.server_key, directory + "/approval.key");
  EXPECT_EQ(files.client_certificate, directory + "/ca-frontend.pem");
  EXPECT_EQ(files.client_key, directory + "/ca-frontend.key");

  X509Ptr ca = LoadCertificate(files.ca);
  ASSERT_NE(ca, nullptr);
  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  struct Expected {
    std::string certificate_file;
    std::string key_file;
    std::string name;
    uint32_t usage;
  };
  for (const Expected& expected :
       {Expected{files.server_certificate, files.server_key, "approval", XKU_SSL_SERVER},
        Expected{files.client_certificate, files.client_key, "ca-frontend", XKU_SSL_CLIENT}}) {
    X509Ptr certificate = LoadCertificate(expected.certificate_file);
    ASSERT_NE(certificate, nullptr);
    EXPECT_EQ(X509_check_issued(ca.get(), certificate.get()), X509_V_OK) << expected.name;
    EvpPkeyPtr ca_key(X509_get_pubkey(ca.get()));
    EXPECT_EQ(X509_verify(certificate.get(), ca_key.get()), 1) << expected.name;
    EXPECT_EQ(
        X509_check_host(certificate.get(), expected.name.data(), expected.name.size(), 0, nullptr),
        1)
        << expected.name;
    EXPECT_EQ(X509_get_extended_key_usage(certificate.get()), expected.usage) << expected.name;
    ASSERT_OK_AND_ASSIGN(EvpPkeyPtr key, LoadPemPrivateKey(expected.key_file));
    EXPECT_EQ(X509_check_private_key(certificate.get(), key.get()), 1) << expected.name;
    struct stat info;
    ASSERT_EQ(stat(expected.key_file.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 0777, 0600) << expected.key_file;
  }
}

}  // namespace
}  // namespace mecai
