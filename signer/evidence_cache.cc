#include "signer/evidence_cache.h"

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/crypto/hashing.h"

namespace mecai {
namespace {

constexpr size_t kSha256Bytes = 32;

}  // namespace

EvidenceCache::EvidenceCache(size_t budget_bytes, EvidenceMetrics* metrics)
    : budget_bytes_(budget_bytes), metrics_(metrics) {
  absl::MutexLock lock(&mutex_);
  PublishLocked();
}

std::shared_ptr<const std::string> EvidenceCache::Find(absl::string_view sha256) {
  absl::MutexLock lock(&mutex_);
  auto it = by_sha256_.find(sha256);
  if (it == by_sha256_.end()) return nullptr;
  entries_.splice(entries_.begin(), entries_, it->second);
  return it->second->bytes;
}

size_t EvidenceCache::HeldBytes() const {
  absl::MutexLock lock(&mutex_);
  return stored_bytes_ + reserved_bytes_;
}

size_t EvidenceCache::StoredCount() const {
  absl::MutexLock lock(&mutex_);
  return entries_.size();
}

absl::Status EvidenceCache::Reserve(size_t bytes) {
  absl::MutexLock lock(&mutex_);
  if (bytes > budget_bytes_ - reserved_bytes_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the evidence cache has no room: uploads in progress hold ", reserved_bytes_,
                     " of its ", budget_bytes_, " bytes"));
  }
  while (stored_bytes_ + reserved_bytes_ + bytes > budget_bytes_) EvictOneLocked();
  reserved_bytes_ += bytes;
  PublishLocked();
  return absl::OkStatus();
}

void EvidenceCache::Release(size_t bytes) {
  absl::MutexLock lock(&mutex_);
  reserved_bytes_ -= bytes;
  PublishLocked();
}

void EvidenceCache::Store(std::string sha256, std::string bytes, size_t reserved) {
  absl::MutexLock lock(&mutex_);
  reserved_bytes_ -= reserved;
  auto it = by_sha256_.find(sha256);
  if (it != by_sha256_.end()) {
    entries_.splice(entries_.begin(), entries_, it->second);
  } else {
    // The reservation made room for these bytes; uploads reserving since cannot have taken it.
    stored_bytes_ += bytes.size();
    entries_.push_front(Entry{sha256, std::make_shared<const std::string>(std::move(bytes))});
    by_sha256_.emplace(std::move(sha256), entries_.begin());
  }
  PublishLocked();
}

void EvidenceCache::EvictOneLocked() {
  const Entry& oldest = entries_.back();
  stored_bytes_ -= oldest.bytes->size();
  by_sha256_.erase(oldest.sha256);
  entries_.pop_back();
  if (metrics_ != nullptr) metrics_->RecordEviction();
}

void EvidenceCache::PublishLocked() const {
  if (metrics_ != nullptr) metrics_->SetCacheBytes(stored_bytes_ + reserved_bytes_);
}

EvidenceUpload::EvidenceUpload(EvidenceCache& cache, std::string claimed_sha256,
                               uint64_t declared_bytes)
    : cache_(cache), claimed_sha256_(std::move(claimed_sha256)), declared_bytes_(declared_bytes) {}

absl::StatusOr<std::unique_ptr<EvidenceUpload>> EvidenceUpload::Begin(EvidenceCache& cache,
                                                                      std::string claimed_sha256,
                                                                      uint64_t declared_bytes) {
  if (declared_bytes > cache.budget_bytes()) {
    return absl::ResourceExhaustedError(absl::StrCat("an upload of ", declared_bytes,
                                                     " bytes exceeds the evidence cache's ",
                                                     cache.budget_bytes(), " bytes"));
  }
  const size_t size = static_cast<size_t>(declared_bytes);
  absl::Status room = cache.Reserve(size);
  if (!room.ok()) return room;
  std::unique_ptr<EvidenceUpload> upload(
      new EvidenceUpload(cache, std::move(claimed_sha256), declared_bytes));
  upload->reserved_ = size;
  upload->bytes_.reserve(size);
  return upload;
}

EvidenceUpload::~EvidenceUpload() {
  if (reserved_ > 0) cache_.Release(reserved_);
}

absl::Status EvidenceUpload::Add(absl::string_view chunk) {
  if (chunk.size() > declared_bytes_ - bytes_.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the upload goes beyond the ", declared_bytes_, " bytes it declared"));
  }
  bytes_.append(chunk.data(), chunk.size());
  return absl::OkStatus();
}

absl::StatusOr<std::string> EvidenceUpload::Finish() {
  if (bytes_.size() != declared_bytes_) {
    return absl::InvalidArgumentError(
        absl::StrCat("the upload ended after ", bytes_.size(), " of the ", declared_bytes_,
                     " bytes it declared (the stream ended, or a message did not parse); nothing "
                     "was stored"));
  }
  std::string sha256 = Sha256(bytes_);
  if (!ConstantTimeEquals(sha256, claimed_sha256_)) {
    return absl::InvalidArgumentError(
        absl::StrCat("the uploaded bytes hash to ", ShortHex(sha256), ", not to the claimed ",
                     ShortHex(claimed_sha256_), "; nothing was stored"));
  }
  const size_t reserved = reserved_;
  reserved_ = 0;
  cache_.Store(sha256, std::move(bytes_), reserved);
  bytes_.clear();
  return sha256;
}

ResolvedEvidence ResolveEvidence(
    const google::protobuf::RepeatedPtrField<v1::RevocationEvidence>& evidence,
    EvidenceCache* cache) {
  ResolvedEvidence resolved;
  resolved.evidence = evidence;
  if (cache == nullptr) return resolved;
  absl::flat_hash_set<std::string> named_missing;
  for (v1::RevocationEvidence& item : resolved.evidence) {
    if (!item.response_der().empty() || item.response_sha256().size() != kSha256Bytes) continue;
    std::shared_ptr<const std::string> bytes = cache->Find(item.response_sha256());
    if (bytes == nullptr) {
      if (named_missing.insert(item.response_sha256()).second) {
        resolved.missing.push_back(item.response_sha256());
      }
      continue;
    }
    item.set_response_der(*bytes);
  }
  return resolved;
}

}  // namespace mecai
