// A bounded memo of RFC 5280 §6 path validations of VA certificate chains against the CA
// certificates of one VA list (client/vd_verifier.h), so that Vouching Data from a VA seen before
// costs one signature verification instead of a path validation and a signature verification.
//
// What is remembered, per (SHA-256 of the presented chain, SHA-256 of the CA certificate):
//   * the chain builds to the CA: the VA certificate's public key and the SHA-256 of its
//     SubjectPublicKeyInfo, whether it carries id-kp-OCSPSigning, and the window [latest notBefore,
//     earliest notAfter) of the validated path (CA certificate included), in which that path stays
//     valid. A lookup outside the window is a miss, so the caller validates again and reports the
//     same error a first validation would.
//   * no path to the CA exists ("unable to get local issuer certificate"): chain building does not
//     depend on the time, so this answer holds at any time.
// Other failures (expired, not yet valid, bad signature, ...) are not remembered. Which VA the key
// speaks for is never remembered: a CA may issue for several VAs, so the caller compares the key
// with the pins of the VA list entry on every lookup (client/va_chain.h).
//
// Under a path that builds, the cache also remembers which VD signatures verified under that VA
// certificate's key: the SHA-256 of (statement, signature), at most kSignaturesPerPath per path,
// oldest forgotten first. ECDSA verification is a pure function of the key (fixed by the chain's
// bytes), the statement and the signature, so a remembered digest answers "verifies" exactly as a
// verification would; the checks that depend on the time (the path's window, the VD's age) and on
// the connection (host name, certificate, VAs asked for) still run on every VD. Failed signature
// verifications are never remembered.
//
// Likewise, under a path that builds, it remembers the checkpoint notes of logged VDs whose log key
// endorsement, note signature and required cosignatures verified under that VA certificate's key
// (client/log_proof_verifier.h), with what each note states, at most kCheckpointsPerPath per path:
// a VD whose checkpoint was seen costs its inclusion proof and no parsing of the note.
#ifndef MECAI_CLIENT_VERIFIED_VA_CACHE_H_
#define MECAI_CLIENT_VERIFIED_VA_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/crypto/openssl_types.h"

namespace mecai {

// The outcome of validating one VA certificate chain against one CA certificate.
struct VaPathResult {
  // X509_V_OK when the chain builds to the CA; otherwise the X509_V_ERR_* code and its text.
  int verify_error = 0;
  std::string rejection;
  // When it builds: the VA certificate's public key (owned; EVP_PKEY is reference-counted).
  EvpPkeyPtr va_key;
  // When it builds: SHA-256 of the VA certificate's SubjectPublicKeyInfo DER (32 bytes), what
  // VaListEntry.va_spki_sha256 pins.
  std::string va_spki_sha256;
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

// What a verified checkpoint note of a logged VD states, remembered under the VD's VA path.
struct VerifiedCheckpoint {
  // The VA whose key endorsed the log key (LogKeyEndorsement.va_id).
  std::string va_id;
  // The note's tlog-checkpoint body (c2sp.org/tlog-checkpoint).
  std::string origin;
  uint64_t tree_size = 0;
  std::string root_hash;
};

// Thread-safe. At most `capacity` entries; the least recently used entry makes room for a new one.
// A capacity of 0 remembers nothing.
class VerifiedVaCache {
 public:
  static constexpr size_t kDefaultCapacity = 64;
  // VD signatures remembered per validated path: a VA signs one VD per server certificate it
  // vouches for, and a client meets few of them per VA in a short time.
  static constexpr size_t kSignaturesPerPath = 16;
  // Checkpoint notes remembered per validated path: a VA's log signs one per batch, and the VDs a
  // client meets at one time are of its last few.
  static constexpr size_t kCheckpointsPerPath = 16;

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

  // Whether `signature_sha256` (SignatureDigest) was remembered as verified under the path of
  // (chain, CA). A miss when the path is not held.
  bool HasVerifiedSignature(const std::string& chain_sha256, const std::string& ca_sha256,
                            const std::string& signature_sha256);
  // Remembers that the signature verified under the held path of (chain, CA); does nothing when
  // that path is not held (it was evicted, or never built).
  void RememberVerifiedSignature(const std::string& chain_sha256, const std::string& ca_sha256,
                                 const std::string& signature_sha256);
  // The key of a (statement, signature) pair: SHA-256 over the statement's length (8 bytes, big
  // endian), the statement, the signature algorithm (v1::SignatureAlgorithm, 4 bytes, big endian)
  // and the signature value, so that no two pairs share an input.
  static std::string SignatureDigest(const std::string& statement, int algorithm,
                                     const std::string& signature_value);

  // What the checkpoint with key `checkpoint_sha256` states, if it was remembered as verified
  // under the path of (chain, CA). nullopt when the path is not held.
  std::optional<VerifiedCheckpoint> FindVerifiedCheckpoint(const std::string& chain_sha256,
                                                           const std::string& ca_sha256,
                                                           const std::string& checkpoint_sha256);
  // Remembers that the checkpoint verified under the held path of (chain, CA) and states
  // `checkpoint`; does nothing when that path is not held.
  void RememberVerifiedCheckpoint(const std::string& chain_sha256, const std::string& ca_sha256,
                                  const std::string& checkpoint_sha256,
                                  const VerifiedCheckpoint& checkpoint);

  size_t capacity() const { return capacity_; }
  size_t size() const;
  uint64_t hits() const;
  uint64_t misses() const;
  // HasVerifiedSignature calls answered "verified".
  uint64_t signature_hits() const;
  // FindVerifiedCheckpoint calls that found one.
  uint64_t checkpoint_hits() const;

 private:
  struct Held {
    VaPathResult result;
    uint64_t last_used = 0;
    // Verified (statement, signature) digests under this path, oldest first.
    std::deque<std::string> verified_signatures;
    // Verified checkpoint keys and what they state, oldest first.
    std::deque<std::pair<std::string, VerifiedCheckpoint>> verified_checkpoints;
  };
  using Key = std::pair<std::string, std::string>;  // (chain SHA-256, CA SHA-256).

  const size_t capacity_;
  mutable absl::Mutex mutex_;
  std::map<Key, Held> entries_ ABSL_GUARDED_BY(mutex_);
  uint64_t clock_ ABSL_GUARDED_BY(mutex_) = 0;  // Ticks once per Find or Insert.
  uint64_t hits_ ABSL_GUARDED_BY(mutex_) = 0;
  uint64_t misses_ ABSL_GUARDED_BY(mutex_) = 0;
  uint64_t signature_hits_ ABSL_GUARDED_BY(mutex_) = 0;
  uint64_t checkpoint_hits_ ABSL_GUARDED_BY(mutex_) = 0;
};

}  // namespace mecai

#endif  // MECAI_CLIENT_VERIFIED_VA_CACHE_H_
