// Runs many HTTP(S) transfers at once on one thread, with libcurl's multi interface
// (curl_multi_poll), so that a slow CRL or OCSP server holds no caller's thread while it answers:
// CurlHttpFetcher::FetchAsync (common/net/http_fetcher.h) hands its transfers here. Connections
// are kept between transfers to the same server (HTTP/1.1 persistent connections, RFC 9112 §9.3),
// at most 32 to one host at once. Name resolution is libcurl's threaded resolver: a short-lived
// thread per lookup of a name (none for an address literal).
#ifndef MECAI_COMMON_NET_CURL_MULTI_LOOP_H_
#define MECAI_COMMON_NET_CURL_MULTI_LOOP_H_

#include <curl/curl.h>

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/net/curl_transfer.h"
#include "common/net/http_fetcher.h"

namespace mecai {

// Thread-safe.
class CurlMultiLoop {
 public:
  using Done = std::function<void(absl::StatusOr<HttpResponse>)>;

  // At most `max_transfers` transfers are waiting or running at once; the thread starts here.
  // `observer` hears of each change of the transfers in flight and of each refused for room,
  // called under the loop's lock.
  static absl::StatusOr<std::unique_ptr<CurlMultiLoop>> Create(size_t max_transfers,
                                                               AsyncFetchObserver observer = {});

  // Ends the transfers still waiting or running with ABORTED (calling their `done` on the
  // destroying thread), then stops the thread.
  ~CurlMultiLoop();
  CurlMultiLoop(const CurlMultiLoop&) = delete;
  CurlMultiLoop& operator=(const CurlMultiLoop&) = delete;

  // Runs `transfer`, begun `start_after` from now (its timeout counts from then), and calls `done`
  // once with how it ended (CurlTransfer::Finish), on the loop's thread. `done` must not block; it
  // may call Start. Refused at once, `done` called on this thread, with ABORTED (which says nothing
  // about the server): when max_transfers are already waiting or running, and once the loop is
  // being destroyed.
  void Start(std::unique_ptr<CurlTransfer> transfer, absl::Duration start_after, Done done);

  // Transfers waiting or running now, for tests.
  size_t TransfersInFlight() const;

 private:
  struct Pending {
    std::unique_ptr<CurlTransfer> transfer;
    absl::Time start_at;
    Done done;
  };

  CurlMultiLoop(CURLM* multi, size_t max_transfers, AsyncFetchObserver observer);
  // in_flight_ += delta, told to the observer.
  void AddInFlight(int delta) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void Run();
  // Adds the transfers whose start time has come to the multi handle; returns how long until the
  // next one is due (at most `longest`).
  absl::Duration AddDueTransfers(absl::Duration longest);
  // Calls `done` of every transfer curl reports finished.
  void FinishCompleted();
  // Called once, by the destructor, after the thread has stopped.
  void CancelAll();

  CURLM* const multi_;
  const size_t max_transfers_;
  const AsyncFetchObserver observer_;
  std::thread thread_;

  mutable absl::Mutex mutex_;
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  size_t in_flight_ ABSL_GUARDED_BY(mutex_) = 0;
  std::vector<Pending> waiting_ ABSL_GUARDED_BY(mutex_);
  // The transfers curl runs, by handle; only the loop's thread touches it (and the destructor,
  // after the thread ended).
  std::map<CURL*, Pending> running_;
};

}  // namespace mecai

#endif  // MECAI_COMMON_NET_CURL_MULTI_LOOP_H_
