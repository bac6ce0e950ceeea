// The stapler's schedule and cache (ARCHITECTURE.md §5 "Server behaviour"; MECAI proposal, "Server
// behaviour": "for each VA that is known to the server, the server might connect to the VS every 6
// hours, obtain recent VD and cache it for later use"). For every VA it fetches a VD ahead of time
// (every refresh interval, jittered; exponential backoff after a failure), keeps each accepted VD
// in `<cache_directory>/<va_id>.vd` written atomically (so a restarted server staples at once),
// and publishes the set of current VDs to a listener (the TLS server). Time, fetching, checking
// and randomness are injected; the daemon (main.cc) picks the real ones.
#ifndef MECAI_STAPLER_STAPLER_H_
#define MECAI_STAPLER_STAPLER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/base/clock.h"
#include "proto/mecai/v1/vouching.pb.h"
#include "stapler/tls_stapling.h"

namespace mecai {

struct StaplerOptions {
  // Where the VDs are cached; must exist.
  std::string cache_directory;
  absl::Duration refresh_interval = absl::Hours(6);
  // Each interval is scaled by a uniform factor in [1 - jitter, 1 + jitter].
  double jitter = 0.1;
  // After the n-th consecutive failure the next try is initial_backoff * 2^(n-1), at most
  // max_backoff.
  absl::Duration initial_backoff = absl::Minutes(1);
  absl::Duration max_backoff = absl::Hours(1);
};

// Asks one VA's Vouching Server for a fresh VD.
using VdFetchFunction = std::function<absl::StatusOr<v1::VouchingData>(const std::string& va_id)>;
// Whether a VD of this VA may be stapled now (verification as a client would do it, with the
// server's own certificate and the VA list).
using VdCheckFunction =
    std::function<absl::Status(const std::string& va_id, const v1::VouchingData& vd)>;
// Receives every new set of VDs.
using VdSetListener = std::function<void(std::shared_ptr<const VdSet>)>;
// How each fetch ended, one of kFetchOutcomes, per VA.
using FetchObserver = std::function<void(const std::string& va_id, const std::string& outcome)>;

// "ok": a VD was fetched, checked and cached; "refused": the VA refused the VR; "invalid_vd": the
// VD fetched did not pass the check; "unreachable": no endpoint of the VA answered; "error": any
// other failure (building the VR, writing the cache).
inline constexpr const char* kFetchOutcomes[] = {"ok", "refused", "invalid_vd", "unreachable",
                                                 "error"};

// Thread-safe (one mutex; fetches run outside it).
class Stapler {
 public:
  // `random_unit` returns a uniform double in [0, 1).
  Stapler(StaplerOptions options, std::vector<std::string> va_ids, const Clock& clock,
          VdFetchFunction fetch, VdCheckFunction check, std::function<double()> random_unit);

  // Sets the listener, which is called at once with the current set and after every change.
  void SetListener(VdSetListener listener);

  // Sets the observer, called after every fetch (outside the mutex).
  void SetFetchObserver(FetchObserver observer);

  // Reads the cache: each VA's cached VD that still passes the check is stapled at once and its
  // next fetch scheduled one jittered interval after its issuance; VAs without one are due now.
  // INVALID_ARGUMENT for a VA id that cannot be a file name.
  absl::Status LoadCache();

  // Fetches every VA that is due, drops held VDs that no longer pass the check, and returns the
  // time the next VA is due.
  absl::Time RunDueFetches();

  std::shared_ptr<const VdSet> current() const;

  struct VaStatus {
    absl::Time next_fetch;
    int consecutive_failures = 0;
    std::string last_error;
    bool holds_vd = false;
  };
  VaStatus status(const std::string& va_id) const;

  // The VD held for each VA (a copy), VAs holding none omitted.
  std::map<std::string, v1::VouchingData> HeldVds() const;

  // The cache file of a VA.
  std::string CachePath(const std::string& va_id) const;

 private:
  struct VaState {
    absl::Time next_fetch = absl::InfinitePast();
    int consecutive_failures = 0;
    std::string last_error;
    // The held VD, serialized; empty when none.
    std::string serialized_vd;
  };

  absl::Duration Jittered(absl::Duration interval) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Rebuilds the set from states_ and notifies the listener (called without the mutex).
  void Publish();

  // Constant after construction.
  const StaplerOptions options_;
  const std::vector<std::string> va_ids_;
  const Clock& clock_;
  const VdFetchFunction fetch_;
  const VdCheckFunction check_;
  const std::function<double()> random_unit_;

  mutable absl::Mutex mutex_;
  std::map<std::string, VaState> states_ ABSL_GUARDED_BY(mutex_);
  std::shared_ptr<const VdSet> current_ ABSL_GUARDED_BY(mutex_);
  VdSetListener listener_ ABSL_GUARDED_BY(mutex_);
  FetchObserver fetch_observer_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace mecai

#endif  // MECAI_STAPLER_STAPLER_H_
