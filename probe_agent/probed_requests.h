// The VRs this agent has probed recently: an agent signs at most one Observation per VR
// (ProbeTask.vouching_request_sha256) while that VR can still be vouched for, so a coordinator
// cannot send the same VR again and again until one run shows the answer it wants
// (docs/SECURITY.md, T7). Memory is bounded: a VR is forgotten `window` after its probe started,
// and when `capacity` VRs are remembered new ones are refused rather than an old one forgotten.
#ifndef MECAI_PROBE_AGENT_PROBED_REQUESTS_H_
#define MECAI_PROBE_AGENT_PROBED_REQUESTS_H_

#include <array>
#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/base/clock.h"

namespace mecai {
namespace probe_agent {

// Thread-safe. `clock` must outlive the object.
class ProbedRequests {
 public:
  // The SHA-256 of a VR, the key remembered.
  using Digest = std::array<char, 32>;

  // `window` > 0, `capacity` > 0.
  ProbedRequests(const Clock& clock, absl::Duration window, size_t capacity);

  ProbedRequests(const ProbedRequests&) = delete;
  ProbedRequests& operator=(const ProbedRequests&) = delete;

  // Claims the VR whose SHA-256 is `vouching_request_sha256` for one probe, remembering it for
  // `window` from now. Errors, each one line:
  //   INVALID_ARGUMENT    the digest is not 32 bytes;
  //   ALREADY_EXISTS      this VR was claimed within the window ("already probed VR <hex> ...");
  //   RESOURCE_EXHAUSTED  `capacity` VRs are remembered and none has expired yet.
  absl::Status Claim(const std::string& vouching_request_sha256);

  // Forgets a claim whose probe signed no Observation (refused by the prober, cancelled, failed),
  // so that the VR may be probed again. No effect for a digest not remembered.
  void Release(const std::string& vouching_request_sha256);

  // VRs remembered now (expired ones included until the next Claim drops them).
  size_t size() const;

  absl::Duration window() const { return window_; }
  size_t capacity() const { return capacity_; }

 private:
  // Drops every claim older than the window.
  void ExpireLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  const Clock& clock_;
  const absl::Duration window_;
  const size_t capacity_;

  mutable absl::Mutex mutex_;
  // When each remembered VR was claimed, and the same claims ordered by time (oldest first).
  std::map<Digest, absl::Time> claimed_at_ ABSL_GUARDED_BY(mutex_);
  std::set<std::pair<absl::Time, Digest>> by_age_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace probe_agent
}  // namespace mecai

#endif  // MECAI_PROBE_AGENT_PROBED_REQUESTS_H_
