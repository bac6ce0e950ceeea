// The expiry of the certificates a service holds, as the Prometheus gauge
// mecai_certificate_expiry_timestamp_seconds{component, certificate}: the certificate's notAfter
// (RFC 5280 §4.1.2.5) in Unix seconds, re-read from its file as often as the TLS credentials
// reload it (common/rpc/tls_credentials.h), so an alert can fire before an identity, a CA or the
// VA certificate expires and clear once a rotated file is in place. For a bundle the value is the
// earliest notAfter in the file: the first certificate that stops working.
//
// Labels are bounded: `component` is the service ("coordinator", "signer", "probe_agent",
// "approval"), `certificate` one of "identity", "client_ca", "va", "public" (the constants
// below).
#ifndef MECAI_COMMON_RPC_CERTIFICATE_EXPIRY_METRICS_H_
#define MECAI_COMMON_RPC_CERTIFICATE_EXPIRY_METRICS_H_

#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {

// The `certificate` label values.
inline constexpr char kIdentityCertificate[] = "identity";   // The service's own TLS identity.
inline constexpr char kClientCaCertificate[] = "client_ca";  // The CA bundle its clients chain to.
inline constexpr char kVaCertificate[] = "va";               // The signer's VA certificate.
// The coordinator's public endpoint's certificate (docs/PROTOCOL.md "The public endpoint").
inline constexpr char kPublicCertificate[] = "public";

// The earliest notAfter of the PEM certificates in `pem_file`, in Unix seconds. Errors as
// LoadPemCertificates's; INVALID_ARGUMENT when the file holds none.
absl::StatusOr<int64_t> EarliestNotAfterUnixSeconds(const std::string& pem_file);

// Thread-safe. A thread re-reads every watched file each `refresh`; a file that cannot be read
// then keeps its last value (the TLS credentials keep the last good files too).
class CertificateExpiryMetrics {
 public:
  CertificateExpiryMetrics(prometheus::Registry& registry, std::string component,
                           absl::Duration refresh);
  ~CertificateExpiryMetrics();
  CertificateExpiryMetrics(const CertificateExpiryMetrics&) = delete;
  CertificateExpiryMetrics& operator=(const CertificateExpiryMetrics&) = delete;

  // Sets the gauge of `certificate` from `pem_file` now and on every refresh; an error (as
  // EarliestNotAfterUnixSeconds's) when the file cannot be read now.
  absl::Status Watch(const std::string& certificate, const std::string& pem_file);

  // Watches listen.tls's certificate_file (kIdentityCertificate) and client_ca_file
  // (kClientCaCertificate); nothing for a plaintext listener.
  absl::Status WatchListener(const v1::ListenConfig& listen);

  // Re-reads every watched file now (what the thread does each `refresh`).
  void Refresh();

 private:
  struct Watched {
    std::string pem_file;
    prometheus::Gauge* gauge;
  };
  void RefreshLoop();

  prometheus::Family<prometheus::Gauge>& family_;
  const std::string component_;
  const absl::Duration refresh_;

  absl::Mutex mutex_;
  std::vector<Watched> watched_ ABSL_GUARDED_BY(mutex_);
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::thread thread_;  // Started by the constructor, joined by the destructor.
};

}  // namespace mecai

#endif  // MECAI_COMMON_RPC_CERTIFICATE_EXPIRY_METRICS_H_
