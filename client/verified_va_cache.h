// A bounded memo of RFC 5280 §6 path validations of VA certificate chains against the CA
// certificates of one VA list (client/vd_verifier.h), so that Vouching Data from a VA seen before
// costs one signature verification instead of a path validation and a signature verification.
//
// What is remembered, per (SHA-256 of the presented chain, SHA-256 of the CA certificate):
//   * the chain builds to the CA: the VA certificate's public key, whether it carries
//     id-kp-OCSPSigning, and the window [latest notBefore, earliest notAfter) of the validated
//     path (CA certificate included), in which that path stays valid. A lookup outside the window
//     is a miss, so the caller validates again and reports the same error a first validation would.
//   * no path to the CA exists ("unable to get local issuer certificate"): chain building does not
//     depend on the time, so this answer holds at any time.
// Other failures (expired, not yet valid, bad signature, ...) are not remembered.
#ifndef MECAI_CLIENT_VERIFIED_VA_CACHE_H_
#define MECAI_CLIENT_VERIFIED_VA_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/openssl_types.h"

namespace mecai {

// The outcome of validating one VA certificate chain against one CA certificate.
struct VaPathResult {
  // X509_V_OK when the chain builds to the CA; otherwise the X509_V_ERR_* code and its text.
  int verify_error = 0;
  std::string rejection;
  // When it builds: the VA certificate's public key (owned; EVP_PKEY is reference-counted).
  EvpPkeyPtr va_key;
  // When it builds: whether the VA certificate carries id-kp-OCSPSigning.
  bool ocsp_signing = false;
  // When it builds: the validated path is valid at t iff valid_from <= t < valid_until (OpenSSL's
  // X509_cmp_time at second precision).
  absl::Time valid_from = absl::InfinitePast();
  absl::Time valid_until = absl::InfinitePast();

  bool builds() const { return verify_error == 0; }
  // A copy sharing the key (EVP_PKEY_up_ref).
  VaPathResult Copy() const;
};

// Thread-safe. At most `capacity` entries; the least recently used entry makes room for a new one.
// A capacity of 0 remembers nothing.
class VerifiedVaCache {
 public:
  static constexpr size_t kDefaultCapacity = 64;

  explicit VerifiedVaCache(size_t capacity) : capacity_(capacity) {}
  VerifiedVaCache(const VerifiedVaCache&) = delete;
  VerifiedVaCache& operator=(const VerifiedVaCache&) = delete;

  // The remembered result for this chain and CA if it holds at `now`: "no path", or "builds" with
  // `now` inside its window. A "builds" entry whose window ended by `now` is dropped.
  std::optional<VaPathResult> Find(const std::string& chain_sha256, const std::string& ca_sha256,
                                   absl::Time now);

  // Remembers `result` if it builds or is the time-independent "no path" rejection (see the file
  // comment); other rejections are not remembered.
  void Insert(const std::string& chain_sha256, const std::string& ca_sha256,
              const VaPathResult& result);

  size_t capacity() const { return capacity_; }
  size_t size() const;
  uint64_t hits() const;
  uint64_t misses() const;

 private:
  struct Held {
    VaPathResult result;
    uint64_t last_used = 0;
  };
  using Key = std::pair<std::string, std::string>;  // (chain SHA-256, CA SHA-256).

  const size_t capacity_;
  mutable absl::Mutex mutex_;
  std::map<Key, Held> entries_ ABSL_GUARDED_BY(mutex_);
  uint64_t clock_ ABSL_GUARDED_BY(mutex_) = 0;  // Ticks once per Find or Insert.
  uint64_t hits_ ABSL_GUARDED_BY(mutex_) = 0;
  uint64_t misses_ ABSL_GUARDED_BY(mutex_) = 0;
};

}  // namespace mecai

#endif  // MECAI_CLIENT_VERIFIED_VA_CACHE_H_
