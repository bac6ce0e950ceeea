// One piece of asynchronous work per key at a time: callers that ask for a key while its work is
// under way wait for that work's result instead of starting their own (a CRL downloaded once for
// every VR that needs it, a revocation response uploaded to the signer once for every signing that
// names it; docs/ARCHITECTURE.md §13). Nobody holds a thread while waiting.
#ifndef MECAI_COMMON_BASE_SINGLE_FLIGHT_H_
#define MECAI_COMMON_BASE_SINGLE_FLIGHT_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace mecai {

// Thread-safe. `Result` is copied to every caller that shared the work.
template <typename Result>
class SingleFlight {
 public:
  using Done = std::function<void(Result)>;
  // Starts the work; calls `finished` once, from any thread, with its result (a second call is
  // ignored).
  using Work = std::function<void(Done finished)>;

  // Calls `done` with the result of the work for `key`: `work` is started on this thread unless
  // the work for `key` is under way, whose result `done` then shares. Each `done` runs on the
  // thread that finishes the work (or inside `work`, when it finishes at once).
  void Run(const std::string& key, Done done, const Work& work) {
    {
      absl::MutexLock lock(&mutex_);
      std::vector<Done>& waiting = in_flight_[key];
      waiting.push_back(std::move(done));
      if (waiting.size() > 1) return;
    }
    auto finished_once = std::make_shared<std::atomic<bool>>(false);
    work([this, key, finished_once](Result result) {
      // A second call of `finished` changes nothing (the work's callers were answered).
      if (finished_once->exchange(true)) return;
      std::vector<Done> waiting;
      {
        absl::MutexLock lock(&mutex_);
        auto found = in_flight_.find(key);
        waiting = std::move(found->second);
        in_flight_.erase(found);
      }
      for (Done& waiter : waiting) waiter(result);
    });
  }

  // Keys whose work is under way.
  size_t InFlight() const {
    absl::MutexLock lock(&mutex_);
    return in_flight_.size();
  }

 private:
  mutable absl::Mutex mutex_;
  std::map<std::string, std::vector<Done>> in_flight_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace mecai

#endif  // MECAI_COMMON_BASE_SINGLE_FLIGHT_H_
