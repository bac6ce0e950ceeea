#include "signer/va_certificate.h"

#include "absl/time/clock.h"
#include "common/pki/pki_builder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::testing::HasSubstr;

class VaCertificateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_key_ = GenerateEcKey().value();
    ca_ = Issue(CaSpec("MECAI Test CA"), ca_key_.get(), nullptr, ca_key_.get());
    other_ca_key_ = GenerateEcKey().value();
    other_ca_ = Issue(CaSpec("Another CA"), other_ca_key_.get(), nullptr, other_ca_key_.get());
    va_key_ = GenerateEcKey().value();
  }

  CertificateSpec CaSpec(const std::string& name) const {
    CertificateSpec spec;
    spec.common_name = name;
    spec.is_certificate_authority = true;
    spec.not_before = now_ - absl::Hours(24);
    spec.not_after = now_ + absl::Hours(24 * 365);
    return spec;
  }

  CertificateSpec VaSpec(std::vector<std::string> usages = {"OCSPSigning"}) const {
    CertificateSpec spec;
    spec.common_name = "MECAI Test VA";
    spec.extended_key_usages = std::move(usages);
    spec.not_before = now_ - absl::Hours(1);
    spec.not_after = now_ + absl::Hours(24 * 30);
    return spec;
  }

  static X509Ptr Issue(const CertificateSpec& spec, EVP_PKEY* key, X509* issuer,
                       EVP_PKEY* issuer_key) {
    auto certificate = IssueCertificate(spec, key, issuer, issuer_key);
    EXPECT_TRUE(certificate.ok()) << certificate.status();
    return std::move(*certificate);
  }

  std::vector<X509Ptr> Chain(X509Ptr va) {
    std::vector<X509Ptr> chain;
    chain.push_back(std::move(va));
    return chain;
  }

  std::vector<X509Ptr> Cas() {
    std::vector<X509Ptr> cas;
    X509_up_ref(ca_.get());
    cas.emplace_back(ca_.get());
    return cas;
  }

  const absl::Time now_ = absl::Now();
  EvpPkeyPtr ca_key_, other_ca_key_, va_key_;
  X509Ptr ca_, other_ca_;
};

TEST_F(VaCertificateTest, AcceptsTheVaCertificateOfTheTokenKeyIssuedByTheCa) {
  auto chain = Chain(Issue(VaSpec(), va_key_.get(), ca_.get(), ca_key_.get()));
  EXPECT_TRUE(CheckVaCertificate(chain, va_key_.get(), Cas(), now_).ok());
}

TEST_F(VaCertificateTest, RefusesACertificateWithoutOcspSigning) {
  auto chain = Chain(Issue(VaSpec({"serverAuth"}), va_key_.get(), ca_.get(), ca_key_.get()));
  absl::Status status = CheckVaCertificate(chain, va_key_.get(), Cas(), now_);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(status.message()), HasSubstr("lacks the id-kp-OCSPSigning"));
}

TEST_F(VaCertificateTest, RefusesACertificateForAnotherKey) {
  auto chain = Chain(Issue(VaSpec(), va_key_.get(), ca_.get(), ca_key_.get()));
  EvpPkeyPtr token_key = GenerateEcKey().value();
  absl::Status status = CheckVaCertificate(chain, token_key.get(), Cas(), now_);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(status.message()), HasSubstr("not the key in the PKCS#11 token"));
}

TEST_F(VaCertificateTest, RefusesACertificateFromAnotherCa) {
  auto chain = Chain(Issue(VaSpec(), va_key_.get(), other_ca_.get(), other_ca_key_.get()));
  absl::Status status = CheckVaCertificate(chain, va_key_.get(), Cas(), now_);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("does not chain to the configured CA certificate"));
}

TEST_F(VaCertificateTest, RefusesAnExpiredCertificate) {
  auto chain = Chain(Issue(VaSpec(), va_key_.get(), ca_.get(), ca_key_.get()));
  absl::Status status =
      CheckVaCertificate(chain, va_key_.get(), Cas(), now_ + absl::Hours(24 * 31));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(status.message()), HasSubstr("certificate has expired"));
}

}  // namespace
}  // namespace mecai
