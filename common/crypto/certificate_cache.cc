#include "common/crypto/certificate_cache.h"

#include <openssl/x509v3.h>

#include <utility>

#include "common/crypto/hashing.h"
#include "common/crypto/openssl_error.h"
#include "common/crypto/pem.h"

namespace mecai {

X509Ptr ShareCertificate(X509* certificate) {
  X509_up_ref(certificate);
  return X509Ptr(certificate);
}

CertificateCache::CertificateCache(size_t max_entries) : max_entries_(max_entries) {}

CertificateCache& CertificateCache::ForVouchingRequests() {
  static CertificateCache* const cache = new CertificateCache(4096);
  return *cache;
}

absl::StatusOr<X509Ptr> CertificateCache::Parse(absl::string_view der) {
  const std::string key = Sha256(der);
  {
    absl::MutexLock lock(&mutex_);
    auto found = certificates_.find(key);
    if (found != certificates_.end()) {
      ++hits_;
      return ShareCertificate(found->second.get());
    }
  }
  absl::StatusOr<X509Ptr> parsed = ParseDerCertificate(der);
  if (!parsed.ok() || max_entries_ == 0) return parsed;
  // Fills the extension cache now, before any other thread sees the certificate (X509_check_purpose
  // with purpose -1 only does that).
  X509_check_purpose(parsed->get(), -1, 0);
  ClearOpenSslErrors();
  absl::MutexLock lock(&mutex_);
  if (certificates_.count(key) == 0) {
    while (certificates_.size() >= max_entries_ && !order_.empty()) {
      certificates_.erase(order_.front());
      order_.pop_front();
    }
    certificates_.emplace(key, ShareCertificate(parsed->get()));
    order_.push_back(key);
  }
  return parsed;
}

size_t CertificateCache::size() const {
  absl::MutexLock lock(&mutex_);
  return certificates_.size();
}

size_t CertificateCache::hits() const {
  absl::MutexLock lock(&mutex_);
  return hits_;
}

}  // namespace mecai
