// Decision reuse (docs/PROTOCOL.md "Decision reuse"): the VD of a decision ISSUED for a hostname,
// port, trust list and set of vouched certificates answers the VRs with the same four that arrive
// within a window after it, each after its own checks, without a probe round of its own: the many
// servers of one site behind one name and one certificate cost one round, not one each (trust
// rule 8). A VR for another certificate, or after the window, is decided afresh. While one VR of
// a key is being decided, others of that key wait for its decision rather than start a round.
//
// The VD is handed out as the signer signed it; nothing is signed again. The agents' Observations
// are bound to the VR they probed for (trust rule 1) and age out at the signer within
// observation_max_age_seconds (120 s), so no other VR could be signed on them: reuse returns the
// stored VD, whose age at a client grows by at most the window.
#ifndef MECAI_COORDINATOR_DECISION_REUSE_H_
#define MECAI_COORDINATOR_DECISION_REUSE_H_

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/base/clock.h"
#include "common/evidence/vouching_request.h"
#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {

// Thread-safe.
class DecisionReuse {
 public:
  // `window` is how long after its decision a VD is reused; `max_decisions` bounds memory (the
  // oldest decision is forgotten first).
  DecisionReuse(const Clock& clock, absl::Duration window, size_t max_decisions = 100000);

  // What a VR's decision may be reused for: its hostname, port, trust list and the SHA-256 of
  // every vouched certificate, in the VR's order (one, or the old then the new of a rollover).
  static std::string KeyOf(const VerifiedVouchingRequest& request);

  struct Found {
    // The answer of a decision ISSUED for the key within the window.
    std::optional<v1::VouchResponse> reusable;
    // Without one: true when this caller is now the one deciding the key and must call Release;
    // false when another caller was still deciding it after `wait` (decide without a claim).
    bool claimed = false;
  };

  // The reusable answer for `key`, or the claim to decide it. While another caller holds the
  // claim, waits up to `wait` for its decision.
  Found Find(const std::string& key, absl::Duration wait) ABSL_LOCKS_EXCLUDED(mutex_);

  // Find without a thread that waits: `then` is called at once with the reusable answer or the
  // claim, or, while another caller holds the claim, when that caller releases it (on the
  // releasing thread, after Release's lock is dropped), with that decision to reuse or the claim
  // passed on to it. It is called exactly once, never with `claimed` false and no answer.
  void FindOrWait(const std::string& key, std::function<void(Found)> then)
      ABSL_LOCKS_EXCLUDED(mutex_);

  // Ends this caller's claim on `key`, keeping `issued` (when not null and holding a VD) for
  // reuse from now on.
  void Release(const std::string& key, const v1::VouchResponse* issued) ABSL_LOCKS_EXCLUDED(mutex_);

  // Decisions kept now.
  size_t Size() const ABSL_LOCKS_EXCLUDED(mutex_);

 private:
  struct Decision {
    v1::VouchResponse response;
    absl::Time decided;
  };

  void ReleaseLocked(const std::string& key, const v1::VouchResponse* issued)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void ForgetExpiredLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  const Clock& clock_;
  const absl::Duration window_;
  const size_t max_decisions_;
  mutable absl::Mutex mutex_;
  std::map<std::string, Decision> decisions_ ABSL_GUARDED_BY(mutex_);
  // Keys a caller is deciding now.
  std::set<std::string> deciding_ ABSL_GUARDED_BY(mutex_);
  // FindOrWait callers waiting for a key's claim to end.
  std::map<std::string, std::vector<std::function<void(Found)>>> waiting_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_DECISION_REUSE_H_
