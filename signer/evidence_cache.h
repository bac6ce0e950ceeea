// Revocation responses the signer holds by content hash (ARCHITECTURE.md §8 "Evidence by content
// hash"). A CRL is the same for every certificate its CA issued and can be megabytes; it is
// uploaded to the signer once (SignerService.UploadEvidence) and SignVouching requests name it by
// SHA-256. The signer keys each response by the SHA-256 it computed itself over the bytes it
// received, and keeps them in memory within a byte budget, least recently used evicted first. It
// trusts nothing about them beyond that hash: every revocation check runs on the bytes at signing,
// exactly as for evidence sent inline (docs/SECURITY.md "What the signer trusts").
#ifndef MECAI_SIGNER_EVIDENCE_CACHE_H_
#define MECAI_SIGNER_EVIDENCE_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/repeated_field.h"
#include "proto/mecai/v1/common.pb.h"
#include "signer/evidence_metrics.h"

namespace mecai {

// Thread-safe. Every byte it holds counts against `budget_bytes`: the responses stored, and the
// bytes of uploads in progress (EvidenceUpload), so that its memory never exceeds the budget. A
// response handed out by Find stays alive while its holder keeps it, even once evicted.
class EvidenceCache {
 public:
  // `metrics` may be null; it must outlive the cache.
  explicit EvidenceCache(size_t budget_bytes, EvidenceMetrics* metrics = nullptr);

  EvidenceCache(const EvidenceCache&) = delete;
  EvidenceCache& operator=(const EvidenceCache&) = delete;

  // The response whose SHA-256 is `sha256`, or null when none is held; marks it most recently used.
  std::shared_ptr<const std::string> Find(absl::string_view sha256) ABSL_LOCKS_EXCLUDED(mutex_);

  size_t budget_bytes() const { return budget_bytes_; }
  // Bytes held now: responses stored plus the bytes of uploads in progress.
  size_t HeldBytes() const ABSL_LOCKS_EXCLUDED(mutex_);
  // Responses stored now.
  size_t StoredCount() const ABSL_LOCKS_EXCLUDED(mutex_);

 private:
  friend class EvidenceUpload;

  struct Entry {
    std::string sha256;
    std::shared_ptr<const std::string> bytes;
  };

  // Counts `bytes` of an upload in progress, evicting the least recently used responses to
  // make room; RESOURCE_EXHAUSTED (nothing counted) when uploads in progress leave no room.
  absl::Status Reserve(size_t bytes) ABSL_LOCKS_EXCLUDED(mutex_);
  // Stops counting `bytes` of an upload in progress.
  void Release(size_t bytes) ABSL_LOCKS_EXCLUDED(mutex_);
  // Stores `bytes` under `sha256` (which the caller computed over them), turning the upload's
  // `reserved` bytes (its size) into stored bytes. A response already held is only marked used.
  void Store(std::string sha256, std::string bytes, size_t reserved) ABSL_LOCKS_EXCLUDED(mutex_);
  void EvictOneLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void PublishLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  const size_t budget_bytes_;
  EvidenceMetrics* const metrics_;
  mutable absl::Mutex mutex_;
  // Most recently used first.
  std::list<Entry> entries_ ABSL_GUARDED_BY(mutex_);
  absl::flat_hash_map<std::string, std::list<Entry>::iterator> by_sha256_ ABSL_GUARDED_BY(mutex_);
  size_t stored_bytes_ ABSL_GUARDED_BY(mutex_) = 0;
  size_t reserved_bytes_ ABSL_GUARDED_BY(mutex_) = 0;
};

// One response being uploaded into a cache. Not thread-safe. The size it declares counts against
// the cache's budget from the start (its buffer is allocated at once, so that the memory counted is
// the memory used); nothing is stored until Finish has hashed the bytes and found the claimed
// SHA-256. Destroyed unfinished (refused, cut off), it releases everything it counted.
class EvidenceUpload {
 public:
  // Counts `declared_bytes` against `cache`, evicting its least recently used responses to make
  // room; RESOURCE_EXHAUSTED when uploads in progress leave none. `claimed_sha256` and
  // `declared_bytes` are the caller's claims, checked by Add and Finish.
  static absl::StatusOr<std::unique_ptr<EvidenceUpload>> Begin(EvidenceCache& cache,
                                                               std::string claimed_sha256,
                                                               uint64_t declared_bytes);
  ~EvidenceUpload();

  EvidenceUpload(const EvidenceUpload&) = delete;
  EvidenceUpload& operator=(const EvidenceUpload&) = delete;

  // Appends the next bytes. INVALID_ARGUMENT when they go beyond the declared size.
  absl::Status Add(absl::string_view chunk);
  // Hashes what arrived and stores it under that SHA-256, which it returns. INVALID_ARGUMENT, with
  // nothing stored, when fewer bytes than declared arrived or their SHA-256 is not the claimed one.
  absl::StatusOr<std::string> Finish();

  uint64_t received_bytes() const { return bytes_.size(); }
  uint64_t declared_bytes() const { return declared_bytes_; }

 private:
  EvidenceUpload(EvidenceCache& cache, std::string claimed_sha256, uint64_t declared_bytes);

  EvidenceCache& cache_;
  const std::string claimed_sha256_;
  const uint64_t declared_bytes_;
  std::string bytes_;
  // What this upload counts against the cache's budget and has not handed over.
  size_t reserved_ = 0;
};

// The revocation evidence of a SignVouchingRequest as the signer checks it.
struct ResolvedEvidence {
  // The request's evidence, in order, each one named by a 32-byte response_sha256 alone (no
  // response_der) given the bytes `cache` holds under that hash.
  google::protobuf::RepeatedPtrField<v1::RevocationEvidence> evidence;
  // SHA-256 of each response named by hash alone that `cache` does not hold, each once, in order.
  std::vector<std::string> missing;
};

// ARCHITECTURE.md §8 "Evidence by content hash". Evidence that carries its bytes, or a hash that is
// not 32 bytes, is passed on as it is (the revocation check judges it). With a null `cache`,
// nothing is resolved and nothing is missing: evidence named by hash alone stays unusable.
ResolvedEvidence ResolveEvidence(
    const google::protobuf::RepeatedPtrField<v1::RevocationEvidence>& evidence,
    EvidenceCache* cache);

}  // namespace mecai

#endif  // MECAI_SIGNER_EVIDENCE_CACHE_H_
