#include "common/revocation/parsed_crl_cache.h"

#include <openssl/x509.h>

#include <utility>

#include "common/crypto/hashing.h"

namespace mecai {

ParsedCrlCache::ParsedCrlCache(size_t max_memory_bytes) : max_memory_bytes_(max_memory_bytes) {}

std::shared_ptr<ParsedCrlCache::Entry> ParsedCrlCache::Find(const std::string& sha256) {
  absl::MutexLock lock(&mutex_);
  auto found = entries_.find(sha256);
  return found == entries_.end() ? nullptr : found->second;
}

size_t ParsedCrlCache::MemoryOf(const Entry& entry) {
  // The DER kept here, the encoding OpenSSL keeps of the parsed CRL, and the parsed entries
  // (X509_REVOKED with its serial, date and extensions: about 200 bytes each for a plain entry,
  // measured with OpenSSL 3.0; 300 leaves room for entries with a reason code).
  const int entries = sk_X509_REVOKED_num(X509_CRL_get_REVOKED(entry.crl.get()));
  return 2 * entry.der.size() + 300 * static_cast<size_t>(entries > 0 ? entries : 0);
}

void ParsedCrlCache::Keep(const std::string& sha256, std::shared_ptr<Entry> entry) {
  const size_t bytes = MemoryOf(*entry);
  if (bytes > max_memory_bytes_) return;
  absl::MutexLock lock(&mutex_);
  if (entries_.count(sha256) != 0) return;
  while (held_memory_bytes_ + bytes > max_memory_bytes_ && !order_.empty()) {
    auto oldest = entries_.find(order_.front());
    held_memory_bytes_ -= oldest->second->memory_bytes;
    entries_.erase(oldest);
    order_.pop_front();
  }
  entry->memory_bytes = bytes;
  held_memory_bytes_ += bytes;
  entries_.emplace(sha256, std::move(entry));
  order_.push_back(sha256);
}

RevocationVerdict ParsedCrlCache::Check(absl::string_view claimed_sha256, absl::string_view der,
                                        X509* certificate, X509* issuer, absl::Time now) {
  std::shared_ptr<Entry> entry =
      claimed_sha256.empty() ? nullptr : Find(std::string(claimed_sha256));
  std::string sha256;
  // A kept entry answers only for the bytes it was hashed from, byte for byte.
  if (entry == nullptr || entry->der != der) {
    sha256 = Sha256(der);
    if (!claimed_sha256.empty() && claimed_sha256 != sha256) {
      RevocationVerdict verdict;
      verdict.status = RevocationStatus::kUnusable;
      verdict.detail =
          "the revocation evidence's response_sha256 is not the SHA-256 of its response";
      return verdict;
    }
    entry = Find(sha256);
    if (entry != nullptr && entry->der != der) entry = nullptr;
  }
  if (entry != nullptr) {
    absl::MutexLock lock(&mutex_);
    ++hits_;
  }
  if (entry == nullptr) {
    absl::StatusOr<X509CrlPtr> crl = ParseCrl(der);
    if (!crl.ok()) {
      RevocationVerdict verdict;
      verdict.status = RevocationStatus::kUnusable;
      verdict.detail = std::string(crl.status().message());
      return verdict;
    }
    // Judged before anyone else can see it, and kept only when its signature verified with this
    // issuer's key: bytes no CA signed never take room, and the entries OpenSSL sorts on the first
    // lookup are sorted before the CRL is shared.
    auto fresh = std::make_shared<Entry>();
    fresh->crl = std::move(*crl);
    RevocationVerdict verdict = CheckParsedCrl(fresh->crl.get(), certificate, issuer, now);
    if (verdict.status == RevocationStatus::kUnusable) return verdict;
    fresh->der = std::string(der);
    fresh->verified_with = IssuerKeyDer(issuer);
    Keep(sha256, std::move(fresh));
    return verdict;
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

size_t ParsedCrlCache::held_memory_bytes() const {
  absl::MutexLock lock(&mutex_);
  return held_memory_bytes_;
}

size_t ParsedCrlCache::hits() const {
  absl::MutexLock lock(&mutex_);
  return hits_;
}

}  // namespace mecai
