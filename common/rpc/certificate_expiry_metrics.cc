#include "common/rpc/certificate_expiry_metrics.h"

#include <openssl/asn1.h>
#include <openssl/x509.h>

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/base/logging.h"
#include "common/base/status.h"
#include "common/crypto/pem.h"

namespace mecai {
namespace {

// RFC 5280 §4.1.2.5 time as Unix seconds: its distance from the epoch.
absl::StatusOr<int64_t> UnixSeconds(const ASN1_TIME* time) {
  Asn1TimePtr epoch(ASN1_TIME_set(nullptr, 0));
  int days = 0;
  int seconds = 0;
  if (epoch == nullptr || ASN1_TIME_diff(&days, &seconds, epoch.get(), time) != 1) {
    return absl::InvalidArgumentError("certificate notAfter is not a valid time");
  }
  return int64_t{days} * 86400 + seconds;
}

}  // namespace

absl::StatusOr<int64_t> EarliestNotAfterUnixSeconds(const std::string& pem_file) {
  ASSIGN_OR_RETURN(std::vector<X509Ptr> certificates, LoadPemCertificates(pem_file));
  if (certificates.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(pem_file, " holds no certificate"));
  }
  int64_t earliest = std::numeric_limits<int64_t>::max();
  for (const X509Ptr& certificate : certificates) {
    ASSIGN_OR_RETURN(int64_t not_after, UnixSeconds(X509_get0_notAfter(certificate.get())));
    earliest = std::min(earliest, not_after);
  }
  return earliest;
}

CertificateExpiryMetrics::CertificateExpiryMetrics(prometheus::Registry& registry,
                                                   std::string component, absl::Duration refresh)
    : family_(prometheus::BuildGauge()
                  .Name("mecai_certificate_expiry_timestamp_seconds")
                  .Help("notAfter of a certificate this service holds (earliest in a CA bundle), "
                        "Unix seconds; re-read when its file changes")
                  .Register(registry)),
      component_(std::move(component)),
      refresh_(refresh) {
  thread_ = std::thread([this] { RefreshLoop(); });
}

CertificateExpiryMetrics::~CertificateExpiryMetrics() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  thread_.join();
}

absl::Status CertificateExpiryMetrics::Watch(const std::string& certificate,
                                             const std::string& pem_file) {
  ASSIGN_OR_RETURN(int64_t not_after, EarliestNotAfterUnixSeconds(pem_file));
  prometheus::Gauge& gauge = family_.Add({{"component", component_}, {"certificate", certificate}});
  gauge.Set(static_cast<double>(not_after));
  absl::MutexLock lock(&mutex_);
  watched_.push_back({pem_file, &gauge});
  return absl::OkStatus();
}

absl::Status CertificateExpiryMetrics::WatchListener(const v1::ListenConfig& listen) {
  if (listen.insecure_plaintext_for_local_development()) return absl::OkStatus();
  RETURN_IF_ERROR(Watch(kIdentityCertificate, listen.tls().certificate_file()));
  return Watch(kClientCaCertificate, listen.tls().client_ca_file());
}

void CertificateExpiryMetrics::Refresh() {
  std::vector<Watched> watched;
  {
    absl::MutexLock lock(&mutex_);
    watched = watched_;
  }
  for (const Watched& entry : watched) {
    absl::StatusOr<int64_t> not_after = EarliestNotAfterUnixSeconds(entry.pem_file);
    if (!not_after.ok()) {
      MECAI_LOG(Warning) << "certificate expiry: keeping the last value: " << not_after.status();
      continue;
    }
    entry.gauge->Set(static_cast<double>(*not_after));
  }
}

void CertificateExpiryMetrics::RefreshLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mutex_);
      if (mutex_.AwaitWithTimeout(absl::Condition(&stopping_), refresh_)) return;
    }
    Refresh();
  }
}

}  // namespace mecai
