// mecai_certificate_expiry_timestamp_seconds: the notAfter of each watched file in Unix seconds,
// the earliest of a bundle, updated when the file changes.
#include "common/rpc/certificate_expiry_metrics.h"

#include <map>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "common/base/files.h"
#include "common/crypto/openssl_types.h"
#include "common/crypto/pem.h"
#include "common/pki/pki_builder.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::HasSubstr;

// A self-signed certificate valid until `not_after`, as PEM.
std::string CertificateUntil(absl::Time not_after) {
  CertificateSpec spec;
  spec.common_name = "expiry test";
  spec.not_before = absl::FromUnixSeconds(1700000000);
  spec.not_after = not_after;
  auto key = GenerateEcKey();
  EXPECT_TRUE(key.ok());
  auto certificate = IssueCertificate(spec, key->get(), nullptr, key->get());
  EXPECT_TRUE(certificate.ok()) << certificate.status();
  return certificate.ok() ? CertificateToPem(certificate->get()) : "";
}

// The value of the gauge with these labels in `registry`; -1 when there is none.
double GaugeValue(prometheus::Registry& registry, const std::string& component,
                  const std::string& certificate) {
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != "mecai_certificate_expiry_timestamp_seconds") continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      std::map<std::string, std::string> labels;
      for (const auto& label : metric.label) labels[label.name] = label.value;
      if (labels.size() == 2 && labels["component"] == component &&
          labels["certificate"] == certificate) {
        return metric.gauge.value;
      }
    }
  }
  return -1;
}

class CertificateExpiryMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK_AND_ASSIGN(directory_, test_pki::MakeTempDirectory()); }
  std::string directory_;
};

TEST_F(CertificateExpiryMetricsTest, TheGaugeIsNotAfterAndFollowsTheFile) {
  const std::string file = directory_ + "/tls.crt";
  ASSERT_OK(WriteFileAtomically(file, CertificateUntil(absl::FromUnixSeconds(1900000000))));
  prometheus::Registry registry;
  // A refresh period longer than the test: only Watch and Refresh set the gauge here.
  CertificateExpiryMetrics metrics(registry, "signer", absl::Hours(1));
  ASSERT_OK(metrics.Watch(kIdentityCertificate, file));
  EXPECT_EQ(GaugeValue(registry, "signer", "identity"), 1900000000);

  ASSERT_OK(WriteFileAtomically(file, CertificateUntil(absl::FromUnixSeconds(1950000000))));
  metrics.Refresh();
  EXPECT_EQ(GaugeValue(registry, "signer", "identity"), 1950000000);

  // A file that cannot be read keeps the last value.
  ASSERT_OK(WriteFileAtomically(file, "not PEM\n"));
  metrics.Refresh();
  EXPECT_EQ(GaugeValue(registry, "signer", "identity"), 1950000000);
}

TEST_F(CertificateExpiryMetricsTest, ABundleReportsItsEarliestNotAfter) {
  const std::string bundle = directory_ + "/ca.crt";
  ASSERT_OK(WriteFileAtomically(bundle, CertificateUntil(absl::FromUnixSeconds(2000000000)) +
                                            CertificateUntil(absl::FromUnixSeconds(1800000000))));
  ASSERT_OK_AND_ASSIGN(int64_t earliest, EarliestNotAfterUnixSeconds(bundle));
  EXPECT_EQ(earliest, 1800000000);
  prometheus::Registry registry;
  CertificateExpiryMetrics metrics(registry, "coordinator", absl::Hours(1));
  ASSERT_OK(metrics.Watch(kClientCaCertificate, bundle));
  EXPECT_EQ(GaugeValue(registry, "coordinator", "client_ca"), 1800000000);
}

TEST_F(CertificateExpiryMetricsTest, TheThreadRefreshesOnItsOwn) {
  const std::string file = directory_ + "/va.pem";
  ASSERT_OK(WriteFileAtomically(file, CertificateUntil(absl::FromUnixSeconds(1900000000))));
  prometheus::Registry registry;
  CertificateExpiryMetrics metrics(registry, "signer", absl::Milliseconds(50));
  ASSERT_OK(metrics.Watch(kVaCertificate, file));
  ASSERT_OK(WriteFileAtomically(file, CertificateUntil(absl::FromUnixSeconds(1910000000))));
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline && GaugeValue(registry, "signer", "va") != 1910000000) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(GaugeValue(registry, "signer", "va"), 1910000000);
}

TEST_F(CertificateExpiryMetricsTest, AnUnreadableFileIsAnErrorAtWatch) {
  prometheus::Registry registry;
  CertificateExpiryMetrics metrics(registry, "probe_agent", absl::Hours(1));
  EXPECT_THAT(metrics.Watch(kIdentityCertificate, directory_ + "/missing.pem"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing.pem")));
}

}  // namespace
}  // namespace mecai
