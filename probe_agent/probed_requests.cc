#include "probe_agent/probed_requests.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/crypto/hashing.h"

namespace mecai {
namespace probe_agent {
namespace {

// Whole seconds, rounded up, for messages ("in 3 s", never "in 0 s" while time is left).
int64_t CeilSeconds(absl::Duration duration) {
  return absl::ToInt64Seconds(
      absl::Ceil(std::max(duration, absl::ZeroDuration()), absl::Seconds(1)));
}

}  // namespace

ProbedRequests::ProbedRequests(const Clock& clock, absl::Duration window, size_t capacity)
    : clock_(clock), window_(window), capacity_(capacity) {}

void ProbedRequests::ExpireLocked(absl::Time now) {
  while (!by_age_.empty() && by_age_.begin()->first + window_ <= now) {
    claimed_at_.erase(by_age_.begin()->second);
    by_age_.erase(by_age_.begin());
  }
}

absl::Status ProbedRequests::Claim(const std::string& vouching_request_sha256) {
  Digest digest;
  if (vouching_request_sha256.size() != digest.size()) {
    return absl::InvalidArgumentError(absl::StrCat("ProbeTask.vouching_request_sha256 must be ",
                                                   digest.size(), " bytes (SHA-256), not ",
                                                   vouching_request_sha256.size()));
  }
  std::memcpy(digest.data(), vouching_request_sha256.data(), digest.size());
  const absl::Time now = clock_.Now();
  absl::MutexLock lock(&mutex_);
  ExpireLocked(now);
  auto found = claimed_at_.find(digest);
  if (found != claimed_at_.end()) {
    return absl::AlreadyExistsError(absl::StrCat(
        "already probed VR ", HexEncode(vouching_request_sha256), " ",
        CeilSeconds(now - found->second), " s ago; an agent probes a VR once (send a new VR)"));
  }
  if (claimed_at_.size() >= capacity_) {
    const absl::Duration wait = by_age_.begin()->first + window_ - now;
    return absl::ResourceExhaustedError(
        absl::StrCat("this agent remembers ", capacity_, " VRs probed in the last ",
                     absl::FormatDuration(window_), ", its limit; no new VR is probed for ",
                     CeilSeconds(wait), " s, until the oldest is forgotten"));
  }
  claimed_at_.emplace(digest, now);
  by_age_.emplace(now, digest);
  return absl::OkStatus();
}

void ProbedRequests::Release(const std::string& vouching_request_sha256) {
  Digest digest;
  if (vouching_request_sha256.size() != digest.size()) return;
  std::memcpy(digest.data(), vouching_request_sha256.data(), digest.size());
  absl::MutexLock lock(&mutex_);
  auto found = claimed_at_.find(digest);
  if (found == claimed_at_.end()) return;
  by_age_.erase({found->second, digest});
  claimed_at_.erase(found);
}

size_t ProbedRequests::size() const {
  absl::MutexLock lock(&mutex_);
  return claimed_at_.size();
}

}  // namespace probe_agent
}  // namespace mecai
