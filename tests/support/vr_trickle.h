// A steady trickle of VRs to the coordinator while an operations procedure runs
// (docs/OPERATIONS.md "Rotation", "Upgrades"): one VR at a time, each fresh (a probe round of its
// own when decision reuse is off), each outcome kept with the procedure step it was sent in, so a
// test can say which VRs were issued, which refused and for what reason, and which failed as a
// call, and check every issued VD against the log afterwards.
#ifndef MECAI_TESTS_SUPPORT_VR_TRICKLE_H_
#define MECAI_TESTS_SUPPORT_VR_TRICKLE_H_

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {

// What became of one VR of the trickle.
struct VrOutcome {
  // The step of the procedure it was sent in (VrTrickle::SetStep).
  std::string step;
  // The call's status: OK when the coordinator answered (issued or refused as data).
  absl::Status call;
  // With an OK call: the answer.
  v1::VouchResponse response;
};

// Whether `call` failed as docs/OPERATIONS.md "Upgrades" says a VR may while a service restarts:
// UNAVAILABLE (the coordinator restarting, or not yet confirmed by its signer; the signer not
// reached), CANCELLED (a VR still running when a stopping coordinator's grace period ended), or,
// with `signer_restarting`, DEADLINE_EXCEEDED naming the signer (not back within the
// coordinator's signer_timeout_milliseconds).
bool IsARestartsFault(const absl::Status& call, bool signer_restarting);

// Thread-safe. Sends VRs one after another, `pause` apart, from a thread of its own, until Stop()
// or destruction.
class VrTrickle {
 public:
  // `make_request` builds a fresh serialized VR (called on the trickle's thread); `coordinator` is
  // how the VRs reach the coordinator until SetCoordinator() changes it.
  VrTrickle(std::function<std::string()> make_request, v1::PeerConfig coordinator,
            absl::Duration pause);
  ~VrTrickle();
  VrTrickle(const VrTrickle&) = delete;
  VrTrickle& operator=(const VrTrickle&) = delete;

  // The coordinator the next VRs go to (after it restarted on another port).
  void SetCoordinator(const v1::PeerConfig& coordinator);
  // Names the step the next VRs are sent in.
  void SetStep(const std::string& step);
  // Waits (at most `timeout`) until `count` more VRs completed after this call. False on timeout.
  bool AwaitMore(int count, absl::Duration timeout);
  // Stops sending (the VR in flight completes) and returns every outcome, in sending order.
  std::vector<VrOutcome> Stop();

 private:
  void Run();

  const std::function<std::string()> make_request_;
  const absl::Duration pause_;

  absl::Mutex mutex_;
  v1::PeerConfig coordinator_ ABSL_GUARDED_BY(mutex_);
  std::string step_ ABSL_GUARDED_BY(mutex_);
  std::vector<VrOutcome> outcomes_ ABSL_GUARDED_BY(mutex_);
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::thread thread_;  // Started by the constructor, joined by Stop() or the destructor.
};

}  // namespace mecai

#endif  // MECAI_TESTS_SUPPORT_VR_TRICKLE_H_
