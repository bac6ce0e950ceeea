#include "common/evidence/validated_chain_cache.h"

#include <openssl/x509.h>

#include <utility>

#include "common/crypto/certificate_cache.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"

namespace mecai {
namespace {

// X509_verify_cert(3)'s own test of one certificate's validity period at `at`, OpenSSL 3.0's
// ossl_x509_check_cert_time: X509_cmp_time is -1 when the time is at or before `at`, 1 when after,
// 0 on an error (refused). So valid from notBefore on, and expired from notAfter on.
bool ValidAt(X509* certificate, time_t at) {
  return X509_cmp_time(X509_get0_notBefore(certificate), &at) == -1 &&
         X509_cmp_time(X509_get0_notAfter(certificate), &at) == 1;
}

ValidatedPath Copy(const ValidatedPath& validated) {
  ValidatedPath copy;
  for (const X509Ptr& certificate : validated.path) {
    copy.path.push_back(ShareCertificate(certificate.get()));
  }
  copy.root_sha256 = validated.root_sha256;
  return copy;
}

}  // namespace

ValidatedChainCache::ValidatedChainCache(size_t max_entries) : max_entries_(max_entries) {}

std::string ValidatedChainCache::KeyOf(const std::string& trust_list,
                                       const std::vector<X509*>& chain) {
  // The name's length first, so that no name and chain can spell another's key.
  std::string key = std::to_string(trust_list.size()) + ":" + trust_list;
  for (X509* certificate : chain) key += Sha256(CertificateToDer(certificate));
  return key;
}

std::optional<ValidatedPath> ValidatedChainCache::Find(const std::string& key, absl::Time at) {
  const time_t seconds = absl::ToTimeT(at);
  absl::MutexLock lock(&mutex_);
  auto found = paths_.find(key);
  if (found == paths_.end()) return std::nullopt;
  for (const X509Ptr& certificate : found->second.path) {
    if (!ValidAt(certificate.get(), seconds)) return std::nullopt;
  }
  ++hits_;
  return Copy(found->second);
}

void ValidatedChainCache::Insert(const std::string& key, const ValidatedPath& validated) {
  if (max_entries_ == 0 || validated.path.empty()) return;
  absl::MutexLock lock(&mutex_);
  // A path found again (the one kept went out of its validity period) replaces it, in its place.
  auto kept = paths_.find(key);
  if (kept != paths_.end()) {
    kept->second = Copy(validated);
    return;
  }
  while (paths_.size() >= max_entries_) {
    paths_.erase(order_.front());
    order_.pop_front();
  }
  paths_.emplace(key, Copy(validated));
  order_.push_back(key);
}

void ValidatedChainCache::Clear() {
  absl::MutexLock lock(&mutex_);
  paths_.clear();
  order_.clear();
}

size_t ValidatedChainCache::size() const {
  absl::MutexLock lock(&mutex_);
  return paths_.size();
}

size_t ValidatedChainCache::hits() const {
  absl::MutexLock lock(&mutex_);
  return hits_;
}

}  // namespace mecai
