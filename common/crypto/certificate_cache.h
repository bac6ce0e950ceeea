// Parsed certificates, shared by the SHA-256 of their DER. A TLS server sends the same chain with
// every VR, and many servers share one CA's intermediates, while parsing a certificate with
// OpenSSL 3.0 costs more than verifying a signature with its key (docs/PERFORMANCE.md "Where the
// coordinator's CPU goes"): a certificate in the cache is not parsed again. A certificate handed
// out is shared by every holder and must not be modified; its extensions are cached before it is
// shared (X509_check_purpose(3)), so that no holder's first use writes to it.
#ifndef MECAI_COMMON_CRYPTO_CERTIFICATE_CACHE_H_
#define MECAI_COMMON_CRYPTO_CERTIFICATE_CACHE_H_

#include <cstddef>
#include <deque>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/crypto/openssl_types.h"

namespace mecai {

// Another reference to `certificate` (X509_up_ref(3)), for a holder that keeps it.
X509Ptr ShareCertificate(X509* certificate);

// Thread-safe.
class CertificateCache {
 public:
  // Holds at most `max_entries` certificates; when full, the one cached first is dropped.
  explicit CertificateCache(size_t max_entries);

  CertificateCache(const CertificateCache&) = delete;
  CertificateCache& operator=(const CertificateCache&) = delete;

  // ParseDerCertificate(der) (common/crypto/pem.h), from the cache when the same bytes were
  // parsed before; the same errors. Only certificates that parse are cached.
  absl::StatusOr<X509Ptr> Parse(absl::string_view der);

  size_t size() const;
  // Parses answered from the cache since construction.
  size_t hits() const;

  // The process's cache of certificates from VRs, 4,096 entries (of a few kB each).
  static CertificateCache& ForVouchingRequests();

 private:
  const size_t max_entries_;
  mutable absl::Mutex mutex_;
  // By the SHA-256 of the DER.
  std::map<std::string, X509Ptr> certificates_ ABSL_GUARDED_BY(mutex_);
  // The keys, oldest first.
  std::deque<std::string> order_ ABSL_GUARDED_BY(mutex_);
  size_t hits_ ABSL_GUARDED_BY(mutex_) = 0;
};

}  // namespace mecai

#endif  // MECAI_COMMON_CRYPTO_CERTIFICATE_CACHE_H_
