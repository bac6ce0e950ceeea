// Named trust lists (ARCHITECTURE.md §6): each a set of root certificates loaded from a PEM bundle,
// against which a server certificate chain must build (RFC 5280 §6 path validation, via OpenSSL).
#ifndef MECAI_COMMON_EVIDENCE_TRUST_LISTS_H_
#define MECAI_COMMON_EVIDENCE_TRUST_LISTS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/crypto/openssl_types.h"
#include "common/evidence/validated_chain_cache.h"
#include "google/protobuf/repeated_field.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/trust_list.pb.h"
#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {

// The outcome of building a chain to a trust list.
struct ChainVerdict {
  // REFUSAL_REASON_UNSPECIFIED when the chain builds and is valid at the given time; otherwise
  // UNKNOWN_TRUST_LIST, UNTRUSTED_CHAIN, CERTIFICATE_EXPIRED or ROOT_REMOVED.
  v1::Refusal refusal;
  // SHA-256 of the root the chain ends at (set when valid).
  std::string root_sha256;
  // The validated path, leaf first, root last (set when valid).
  std::vector<X509Ptr> path;
};

// Thread-safe.
class TrustLists {
 public:
  // Loads every list; a missing or empty bundle, or a duplicate name, is an error naming it.
  static absl::StatusOr<std::unique_ptr<TrustLists>> Load(
      const google::protobuf::RepeatedPtrField<v1::TrustListConfig>& configs);

  bool Has(const std::string& name) const;
  std::vector<std::string> Names() const;
  // True when VRs naming `name` need an approved out-of-band approval record (ARCHITECTURE.md §7,
  // TrustListConfig.require_issuance_approval); false for an unknown list.
  bool RequiresIssuanceApproval(const std::string& name) const;

  // Builds `chain` (leaf first, then untrusted intermediates) to a root of `trust_list`, checking
  // validity periods at `at` and the TLS server purpose. A chain that validated before is answered
  // from ValidatedChainCache while `at` is within its certificates' validity periods; any change
  // to a list (ApplyChange, RestoreChange, RemoveRoot, a reload) empties the cache.
  ChainVerdict VerifyChain(const std::string& trust_list, const std::vector<X509*>& chain,
                           absl::Time at) const;

  // Removes a root by its SHA-256 (ARCHITECTURE.md §6): from then on chains to it are refused with
  // ROOT_REMOVED. NOT_FOUND if the list or root is unknown.
  absl::Status RemoveRoot(const std::string& trust_list, const std::string& root_sha256);

  // SHA-256 of each root currently trusted in `trust_list` (removed roots excluded).
  std::vector<std::string> RootHashes(const std::string& trust_list) const;
  // SHA-256 of each root an administrator removed from `trust_list`.
  std::vector<std::string> RemovedRootHashes(const std::string& trust_list) const;

  // Checks that `change` can be applied (the list exists; an added root is a self-signed CA
  // certificate whose hash matches; a removed root is in the list) without applying it.
  absl::Status CheckChange(const v1::TrustListChange& change) const;
  // Applies an administrative change (ARCHITECTURE.md §6) at once. Changes survive
  // ReloadChangedFiles.
  absl::Status ApplyChange(const v1::TrustListChange& change);
  // Applies a change recorded earlier, at start: as ApplyChange, except that a removed root need
  // no longer be in its bundle (it stays excluded should it come back). NOT_FOUND for a list that
  // is not configured.
  absl::Status RestoreChange(const v1::TrustListChange& change);

  // Re-reads every bundle whose file changed since it was read (modification time or size) and
  // re-applies the administrative changes to it; returns the names of the lists reloaded. A bundle
  // that no longer parses keeps the list as it was (and is reported in `errors`).
  std::vector<std::string> ReloadChangedFiles(std::vector<std::string>* errors);

  // VerifyChain calls answered from the cache of validated chains since Load.
  size_t validated_chain_hits() const { return validated_chains_.hits(); }

 private:
  struct List {
    std::string pem_file;
    // Fixed by the configuration; kept across reloads.
    bool require_issuance_approval = false;
    int64_t file_modified_nanoseconds = 0;
    int64_t file_size = 0;
    std::vector<X509Ptr> roots;
    // Roots added by administrators (kept across reloads).
    std::vector<X509Ptr> added_roots;
    std::vector<std::string> removed_root_sha256;
  };
  TrustLists() = default;

  // X509_verify_cert(3) of `chain` against `store` at `at`: the path, or nullopt with `refusal`
  // set.
  static std::optional<ValidatedPath> ValidateChain(X509_STORE* store,
                                                    const std::string& trust_list,
                                                    const std::vector<X509*>& chain, absl::Time at,
                                                    v1::Refusal* refusal);
  // Empties the cache of validated chains; every change to a list calls it.
  void ForgetValidatedChains() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    ++generation_;
    validated_chains_.Clear();
  }

  mutable absl::Mutex mutex_;
  std::map<std::string, List> lists_ ABSL_GUARDED_BY(mutex_);
  // Emptied under mutex_ by every change, so that no path validated before a change is found after
  // it.
  mutable ValidatedChainCache validated_chains_{4096};
  // Counts the changes; a path validated across a change is not kept.
  uint64_t generation_ ABSL_GUARDED_BY(mutex_) = 0;
};

// RFC 6125 §6.4 hostname check (DNS-ID from subjectAltName; a wildcard only as the whole left-most
// label, never partial, never across labels).
bool CertificateMatchesHostname(X509* certificate, const std::string& hostname);

// True when the certificate's extended key usage allows TLS server authentication
// (RFC 5280 §4.2.1.12 id-kp-serverAuth, or no EKU extension at all).
bool HasServerAuthUsage(X509* certificate);

// True when the certificate's EKU contains id-kp-OCSPSigning (RFC 6960 §4.2.2.2), the usage the
// MECAI proposal asks of VA certificates.
bool HasOcspSigningUsage(X509* certificate);

}  // namespace mecai

#endif  // MECAI_COMMON_EVIDENCE_TRUST_LISTS_H_
