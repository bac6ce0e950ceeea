#include "cli/internal_pki.h"

#include <stdlib.h>

#include "absl/strings/str_cat.h"
#include "common/crypto/openssl_types.h"
#include "common/crypto/pem.h"
#include "common/evidence/trust_lists.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::testing::HasSubstr;

std::string Directory(const std::string& name) {
  return absl::StrCat(getenv("TEST_TMPDIR"), "/", name);
}

bool IssuedBy(const std::string& certificate_file, const std::string& ca_file) {
  auto certificate = LoadPemCertificates(certificate_file);
  auto ca = LoadPemCertificates(ca_file);
  if (!certificate.ok() || !ca.ok()) return false;
  X509StorePtr store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), ca->front().get());
  X509StoreCtxPtr context(X509_STORE_CTX_new());
  X509_STORE_CTX_init(context.get(), store.get(), certificate->front().get(), nullptr);
  return X509_verify_cert(context.get()) == 1;
}

TEST(InternalPkiTest, IssuesEachIdentityFromOneCaAndAddsLater) {
  InternalPkiOptions options;
  options.directory = Directory("pki");
  options.identities = {"coordinator", "signer"};
  ASSERT_TRUE(MakeInternalPki(options).ok());
  options.identities = {"agent-eu-west-1"};
  ASSERT_TRUE(MakeInternalPki(options).ok());
  for (const char* identity : {"coordinator", "signer", "agent-eu-west-1"}) {
    const std::string file = absl::StrCat(options.directory, "/", identity, ".pem");
    EXPECT_TRUE(IssuedBy(file, options.directory + "/ca.pem")) << identity;
    auto certificate = LoadPemCertificates(file);
    ASSERT_TRUE(certificate.ok());
    EXPECT_TRUE(CertificateMatchesHostname(certificate->front().get(), identity));
    EXPECT_TRUE(HasServerAuthUsage(certificate->front().get()));
  }
}

TEST(InternalPkiTest, RefusesToOverwriteAndRefusesBadNames) {
  InternalPkiOptions options;
  options.directory = Directory("pki-refusals");
  options.identities = {"signer"};
  ASSERT_TRUE(MakeInternalPki(options).ok());
  absl::Status again = MakeInternalPki(options);
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists);
  options.identities = {"Not A Name"};
  absl::Status bad = MakeInternalPki(options);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.message()), HasSubstr("'Not A Name' is not a valid identity"));
}

}  // namespace
}  // namespace mecai
