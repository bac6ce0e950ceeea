#include "client/verified_va_cache.h"

#include <openssl/x509_vfy.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/crypto/hashing.h"

namespace mecai {
namespace {

// Chain building (RFC 5280 §6.1 path construction in X509_verify_cert) found no issuer: it selects
// issuers by name and key identifier, never by time, so the answer does not change with `now`.
bool IsNoPath(int verify_error) {
  return verify_error == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
         verify_error == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT;
}

}  // namespace

VaPathResult VaPathResult::Copy() const {
  VaPathResult copy;
  copy.verify_error = verify_error;
  copy.rejection = rejection;
  if (va_key != nullptr && EVP_PKEY_up_ref(va_key.get()) == 1) copy.va_key.reset(va_key.get());
  copy.va_spki_sha256 = va_spki_sha256;
  copy.ocsp_signing = ocsp_signing;
  copy.valid_from = valid_from;
  copy.valid_until = valid_until;
  return copy;
}

std::optional<VaPathResult> VerifiedVaCache::Find(const std::string& chain_sha256,
                                                  const std::string& ca_sha256, absl::Time now) {
  absl::MutexLock lock(&mutex_);
  ++clock_;
  auto found = entries_.find(Key(chain_sha256, ca_sha256));
  if (found == entries_.end()) {
    ++misses_;
    return std::nullopt;
  }
  const VaPathResult& result = found->second.result;
  if (result.builds() && now >= result.valid_until) {
    entries_.erase(found);  // Later lookups cannot use it either; free the room.
    ++misses_;
    return std::nullopt;
  }
  if (result.builds() && now < result.valid_from) {
    ++misses_;
    return std::nullopt;
  }
  found->second.last_used = clock_;
  ++hits_;
  return result.Copy();
}

void VerifiedVaCache::Insert(const std::string& chain_sha256, const std::string& ca_sha256,
                             const VaPathResult& result) {
  if (capacity_ == 0 || (!result.builds() && !IsNoPath(result.verify_error))) return;
  if (result.builds() && result.va_key == nullptr) return;
  absl::MutexLock lock(&mutex_);
  ++clock_;
  Key key(chain_sha256, ca_sha256);
  if (entries_.find(key) == entries_.end() && entries_.size() >= capacity_) {
    auto least_recent = entries_.begin();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->second.last_used < least_recent->second.last_used) least_recent = it;
    }
    entries_.erase(least_recent);
  }
  Held& held = entries_[std::move(key)];
  held.result = result.Copy();
  held.last_used = clock_;
}

bool VerifiedVaCache::HasVerifiedSignature(const std::string& chain_sha256,
                                           const std::string& ca_sha256,
                                           const std::string& signature_sha256) {
  absl::MutexLock lock(&mutex_);
  auto found = entries_.find(Key(chain_sha256, ca_sha256));
  if (found == entries_.end() || !found->second.result.builds()) return false;
  const std::deque<std::string>& verified = found->second.verified_signatures;
  if (std::find(verified.begin(), verified.end(), signature_sha256) == verified.end()) {
    return false;
  }
  ++signature_hits_;
  return true;
}

void VerifiedVaCache::RememberVerifiedSignature(const std::string& chain_sha256,
                                                const std::string& ca_sha256,
                                                const std::string& signature_sha256) {
  absl::MutexLock lock(&mutex_);
  auto found = entries_.find(Key(chain_sha256, ca_sha256));
  if (found == entries_.end() || !found->second.result.builds()) return;
  std::deque<std::string>& verified = found->second.verified_signatures;
  if (std::find(verified.begin(), verified.end(), signature_sha256) != verified.end()) return;
  if (verified.size() >= kSignaturesPerPath) verified.pop_front();
  verified.push_back(signature_sha256);
}

std::string VerifiedVaCache::SignatureDigest(const std::string& statement, int algorithm,
                                             const std::string& signature_value) {
  auto big_endian = [](uint64_t value, int bytes) {
    std::string encoded(bytes, '\0');
    for (int i = bytes - 1; i >= 0; --i, value >>= 8) encoded[i] = static_cast<char>(value & 0xff);
    return encoded;
  };
  return Sha256(absl::StrCat(big_endian(statement.size(), 8), statement,
                             big_endian(static_cast<uint32_t>(algorithm), 4), signature_value));
}

std::optional<VerifiedCheckpoint> VerifiedVaCache::FindVerifiedCheckpoint(
    const std::string& chain_sha256, const std::string& ca_sha256,
    const std::string& checkpoint_sha256) {
  absl::MutexLock lock(&mutex_);
  auto found = entries_.find(Key(chain_sha256, ca_sha256));
  if (found == entries_.end() || !found->second.result.builds()) return std::nullopt;
  for (const auto& [key, checkpoint] : found->second.verified_checkpoints) {
    if (key == checkpoint_sha256) {
      ++checkpoint_hits_;
      return checkpoint;
    }
  }
  return std::nullopt;
}

void VerifiedVaCache::RememberVerifiedCheckpoint(const std::string& chain_sha256,
                                                 const std::string& ca_sha256,
                                                 const std::string& checkpoint_sha256,
                                                 const VerifiedCheckpoint& checkpoint) {
  absl::MutexLock lock(&mutex_);
  auto found = entries_.find(Key(chain_sha256, ca_sha256));
  if (found == entries_.end() || !found->second.result.builds()) return;
  auto& verified = found->second.verified_checkpoints;
  for (const auto& held : verified) {
    if (held.first == checkpoint_sha256) return;
  }
  if (verified.size() >= kCheckpointsPerPath) verified.pop_front();
  verified.emplace_back(checkpoint_sha256, checkpoint);
}

size_t VerifiedVaCache::size() const {
  absl::MutexLock lock(&mutex_);
  return entries_.size();
}

uint64_t VerifiedVaCache::hits() const {
  absl::MutexLock lock(&mutex_);
  return hits_;
}

uint64_t VerifiedVaCache::misses() const {
  absl::MutexLock lock(&mutex_);
  return misses_;
}

uint64_t VerifiedVaCache::signature_hits() const {
  absl::MutexLock lock(&mutex_);
  return signature_hits_;
}

uint64_t VerifiedVaCache::checkpoint_hits() const {
  absl::MutexLock lock(&mutex_);
  return checkpoint_hits_;
}

}  // namespace mecai
