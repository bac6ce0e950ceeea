// Chains that validated to a trust list, kept so that the same chain is not validated again. A TLS
// server sends the same chain with every VR, and path validation (RFC 5280 §6) verifies a
// signature per certificate, which costs the coordinator and the signer more than anything else
// a VR asks of them but the VR's own signature (docs/PERFORMANCE.md "Where the coordinator's CPU
// per VR goes"). What a validation finds depends on the chain, the trust list's roots and the time
// only: an entry answers for its trust list and chain while the time is within every
// certificate's validity period, and the owner clears every entry when a trust list changes.
// Refusals are never kept: a chain that failed is validated again each time.
#ifndef MECAI_COMMON_EVIDENCE_VALIDATED_CHAIN_CACHE_H_
#define MECAI_COMMON_EVIDENCE_VALIDATED_CHAIN_CACHE_H_

#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/crypto/openssl_types.h"

namespace mecai {

// A path that validated: leaf first, root last, and the root's SHA-256.
struct ValidatedPath {
  std::vector<X509Ptr> path;
  std::string root_sha256;
};

// Thread-safe.
class ValidatedChainCache {
 public:
  // Holds at most `max_entries` paths; when full, the one kept first is dropped.
  explicit ValidatedChainCache(size_t max_entries);

  ValidatedChainCache(const ValidatedChainCache&) = delete;
  ValidatedChainCache& operator=(const ValidatedChainCache&) = delete;

  // The key of `chain` (leaf first, as received) validated to `trust_list`: the list's name and
  // the SHA-256 of each certificate's DER, in order.
  static std::string KeyOf(const std::string& trust_list, const std::vector<X509*>& chain);

  // The path kept for `key`, when there is one and `at` lies within the validity period of every
  // certificate on it as X509_verify_cert(3) checks it (OpenSSL 3.0: notBefore <= at < notAfter).
  std::optional<ValidatedPath> Find(const std::string& key, absl::Time at);

  // Keeps `validated` for `key`, in place of any path kept for it before.
  void Insert(const std::string& key, const ValidatedPath& validated);

  // Drops every entry (a trust list changed).
  void Clear();

  size_t size() const;
  // Finds answered from the cache since construction.
  size_t hits() const;

 private:
  const size_t max_entries_;
  mutable absl::Mutex mutex_;
  std::map<std::string, ValidatedPath> paths_ ABSL_GUARDED_BY(mutex_);
  // The keys, oldest first.
  std::deque<std::string> order_ ABSL_GUARDED_BY(mutex_);
  size_t hits_ ABSL_GUARDED_BY(mutex_) = 0;
};

}  // namespace mecai

#endif  // MECAI_COMMON_EVIDENCE_VALIDATED_CHAIN_CACHE_H_
