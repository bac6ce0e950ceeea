// CRLs parsed once, by the SHA-256 of their DER, for a verifier that judges the same CRL again and
// again: the signer re-checks the revocation evidence of every VD it signs (ARCHITECTURE.md §8),
// and every VR for a certificate of one CA names that CA's CRL, which for a large CA is megabytes
// and tens of thousands of entries (docs/PERFORMANCE.md "A large CA's CRL"). Parsing it, hashing it
// and verifying its signature for each VD cost the signer more than everything else it does. An
// entry keeps the DER, the parsed CRL and the issuer key its signature verified with
// (IssuerKeyDer): a later check of the same bytes (compared byte for byte, not trusted by hash) for
// a certificate of that issuer only looks up the serial number and the times (CheckParsedCrl with
// `verified_with`).
#ifndef MECAI_COMMON_REVOCATION_PARSED_CRL_CACHE_H_
#define MECAI_COMMON_REVOCATION_PARSED_CRL_CACHE_H_

#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/crypto/openssl_types.h"
#include "common/revocation/revocation.h"

namespace mecai {

// Thread-safe.
class ParsedCrlCache {
 public:
  // Holds CRLs whose memory (MemoryOf: the DER twice and about 300 bytes per entry, a parsed CRL
  // taking about ten times its DER) totals at most `max_memory_bytes`; the one kept first is
  // dropped to make room. A CRL is kept only once its signature verified with its issuer's key
  // (bytes no CA signed never take room); one larger than the whole budget is checked and not kept.
  explicit ParsedCrlCache(size_t max_memory_bytes);

  ParsedCrlCache(const ParsedCrlCache&) = delete;
  ParsedCrlCache& operator=(const ParsedCrlCache&) = delete;

  // CheckCrl(der, certificate, issuer, now), with the same verdicts, after checking that
  // `claimed_sha256` (empty: none claimed) is the SHA-256 of `der`: a kept CRL whose bytes equal
  // `der` answers without hashing, parsing or (for the issuer key it verified with) verifying it
  // again. A claim that is not the SHA-256 of `der` is kUnusable, as VerifyRevocationEvidence
  // says it.
  RevocationVerdict Check(absl::string_view claimed_sha256, absl::string_view der,
                          X509* certificate, X509* issuer, absl::Time now);

  size_t size() const;
  size_t held_memory_bytes() const;
  // Checks answered from a kept CRL since construction.
  size_t hits() const;

 private:
  struct Entry {
    std::string der;
    X509CrlPtr crl;
    // IssuerKeyDer of the key its signature verified with.
    std::string verified_with;
    // What it counts against the budget (MemoryOf), set when kept.
    size_t memory_bytes = 0;
  };
  static size_t MemoryOf(const Entry& entry);
  // The entry for `sha256`, or null.
  std::shared_ptr<Entry> Find(const std::string& sha256);
  void Keep(const std::string& sha256, std::shared_ptr<Entry> entry);

  const size_t max_memory_bytes_;
  mutable absl::Mutex mutex_;
  std::map<std::string, std::shared_ptr<Entry>> entries_ ABSL_GUARDED_BY(mutex_);
  // The keys, oldest first.
  std::deque<std::string> order_ ABSL_GUARDED_BY(mutex_);
  size_t held_memory_bytes_ ABSL_GUARDED_BY(mutex_) = 0;
  size_t hits_ ABSL_GUARDED_BY(mutex_) = 0;
};

}  // namespace mecai

#endif  // MECAI_COMMON_REVOCATION_PARSED_CRL_CACHE_H_
