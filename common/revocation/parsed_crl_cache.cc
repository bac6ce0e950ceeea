#include "common/revocation/parsed_crl_cache.h"

#include <utility>

#include "common/crypto/hashing.h"

namespace mecai {

ParsedCrlCache::ParsedCrlCache(size_t max_der_bytes) : max_der_bytes_(max_der_bytes) {}

std::shared_ptr<ParsedCrlCache::Entry> ParsedCrlCache::Find(const std::string& sha256) {
  absl::MutexLock lock(&mutex_);
  auto found = entries_.find(sha256);
  return found == entries_.end() ? nullptr : found->second;
}

void ParsedCrlCache::Keep(const std::string& sha256, std::shared_ptr<Entry> entry) {
  const size_t bytes = entry->der.size();
  if (bytes > max_der_bytes_) return;
  absl::MutexLock lock(&mutex_);
  if (entries_.count(sha256) != 0) return;
  while (held_der_bytes_ + bytes > max_der_bytes_ && !order_.empty()) {
    auto oldest = entries_.find(order_.front());
    held_der_bytes_ -= oldest->second->der.size();
    entries_.erase(oldest);
    order_.pop_front();
  }
  held_der_bytes_ += bytes;
  entries_.emplace(sha256, std::move(entry));
  order_.push_back(sha256);
}

RevocationVerdict ParsedCrlCache::Check(absl::string_view claimed_sha256, absl::string_view der,
                                        X509* certificate, X509* issuer, absl::Time now) {
  std::shared_ptr<Entry> entry =
      claimed_sha256.empty() ? nullptr : Find(std::string(claimed_sha256));
  // The bytes the entry was hashed from, byte for byte: the claim is theirs.
  if (entry != nullptr && entry->der == der) {
    absl::MutexLock lock(&mutex_);
    ++hits_;
  } else {
    const std::string sha256 = Sha256(der);
    if (!claimed_sha256.empty() && claimed_sha256 != sha256) {
      RevocationVerdict verdict;
      verdict.status = RevocationStatus::kUnusable;
      verdict.detail =
          "the revocation evidence's response_sha256 is not the SHA-256 of its response";
      return verdict;
    }
    absl::StatusOr<X509CrlPtr> crl = ParseCrl(der);
    if (!crl.ok()) {
      RevocationVerdict verdict;
      verdict.status = RevocationStatus::kUnusable;
      verdict.detail = std::string(crl.status().message());
      return verdict;
    }
    entry = std::make_shared<Entry>();
    entry->der = std::string(der);
    entry->crl = std::move(*crl);
    Keep(sha256, entry);
  }
  std::string verified_with;
  {
    absl::MutexLock lock(&mutex_);
    verified_with = entry->verified_with;
  }
  RevocationVerdict verdict =
      CheckParsedCrl(entry->crl.get(), certificate, issuer, now, verified_with);
  if (verdict.status != RevocationStatus::kUnusable) {
    // A verdict was made: the signature verified with this issuer's key.
    std::string issuer_key = IssuerKeyDer(issuer);
    absl::MutexLock lock(&mutex_);
    entry->verified_with = std::move(issuer_key);
  }
  return verdict;
}

size_t ParsedCrlCache::size() const {
  absl::MutexLock lock(&mutex_);
  return entries_.size();
}

size_t ParsedCrlCache::held_der_bytes() const {
  absl::MutexLock lock(&mutex_);
  return held_der_bytes_;
}

size_t ParsedCrlCache::hits() const {
  absl::MutexLock lock(&mutex_);
  return hits_;
}

}  // namespace mecai
