#include "common/net/curl_multi_loop.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/status.h"

namespace mecai {
namespace {

// The longest the loop sleeps without a reason to wake: curl_multi_poll also returns as soon as a
// socket is ready, curl's own timers are due, or Start (or the destructor) wakes it.
constexpr absl::Duration kLongestWait = absl::Seconds(1);

// At most this many connections to one host at once: a CA's CRL and OCSP servers see a polite
// client, however many VRs are in flight (RFC 9112 §9.4 asks clients to limit their connections).
// A transfer beyond it waits in libcurl for a connection, within its own timeout.
constexpr long kMaxConnectionsPerHost = 32;  // NOLINT(runtime/int): curl's type.

}  // namespace

absl::StatusOr<std::unique_ptr<CurlMultiLoop>> CurlMultiLoop::Create(size_t max_transfers,
                                                                     AsyncFetchObserver observer) {
  RETURN_IF_ERROR(InitializeCurlOnce());
  CURLM* multi = curl_multi_init();
  if (multi == nullptr) return absl::InternalError("curl_multi_init failed");
  const CURLMcode limited =
      curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, kMaxConnectionsPerHost);
  if (limited != CURLM_OK) {
    curl_multi_cleanup(multi);
    return absl::InternalError(absl::StrCat("curl_multi_setopt(CURLMOPT_MAX_HOST_CONNECTIONS): ",
                                            curl_multi_strerror(limited)));
  }
  std::unique_ptr<CurlMultiLoop> loop(new CurlMultiLoop(multi, max_transfers, std::move(observer)));
  loop->thread_ = std::thread([raw = loop.get()] { raw->Run(); });
  return loop;
}

CurlMultiLoop::CurlMultiLoop(CURLM* multi, size_t max_transfers, AsyncFetchObserver observer)
    : multi_(multi), max_transfers_(max_transfers), observer_(std::move(observer)) {}

void CurlMultiLoop::AddInFlight(int delta) {
  in_flight_ = static_cast<size_t>(static_cast<int64_t>(in_flight_) + delta);
  if (observer_.in_flight_changed && delta != 0) observer_.in_flight_changed(delta);
}

CurlMultiLoop::~CurlMultiLoop() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  curl_multi_wakeup(multi_);
  if (thread_.joinable()) thread_.join();
  CancelAll();
  curl_multi_cleanup(multi_);
}

size_t CurlMultiLoop::TransfersInFlight() const {
  absl::MutexLock lock(&mutex_);
  return in_flight_;
}

void CurlMultiLoop::Start(std::unique_ptr<CurlTransfer> transfer, absl::Duration start_after,
                          Done done) {
  absl::Status refused;
  {
    absl::MutexLock lock(&mutex_);
    if (stopping_) {
      refused = absl::AbortedError("the HTTP client is shutting down; not fetched");
    } else if (in_flight_ >= max_transfers_) {
      refused = absl::AbortedError(absl::StrCat("the HTTP client has ", in_flight_,
                                                " transfers in flight, its limit; not fetched"));
      if (observer_.refused_for_room) observer_.refused_for_room();
    } else {
      AddInFlight(1);
      waiting_.push_back({std::move(transfer),
                          absl::Now() + std::max(start_after, absl::ZeroDuration()),
                          std::move(done)});
    }
  }
  if (!refused.ok()) {
    done(std::move(refused));
    return;
  }
  curl_multi_wakeup(multi_);
}

absl::Duration CurlMultiLoop::AddDueTransfers(absl::Duration longest) {
  std::vector<Pending> due;
  absl::Duration wait = longest;
  {
    absl::MutexLock lock(&mutex_);
    const absl::Time now = absl::Now();
    auto not_due = std::partition(waiting_.begin(), waiting_.end(),
                                  [now](const Pending& pending) { return pending.start_at > now; });
    for (auto it = waiting_.begin(); it != not_due; ++it) {
      wait = std::min(wait, it->start_at - now);
    }
    due.assign(std::make_move_iterator(not_due), std::make_move_iterator(waiting_.end()));
    waiting_.erase(not_due, waiting_.end());
  }
  for (Pending& pending : due) {
    CURL* handle = pending.transfer->handle();
    const CURLMcode added = curl_multi_add_handle(multi_, handle);
    if (added != CURLM_OK) {
      {
        absl::MutexLock lock(&mutex_);
        AddInFlight(-1);
      }
      pending.done(
          absl::InternalError(absl::StrCat("curl_multi_add_handle: ", curl_multi_strerror(added))));
      continue;
    }
    running_.emplace(handle, std::move(pending));
  }
  return wait;
}

void CurlMultiLoop::FinishCompleted() {
  int queued = 0;
  while (CURLMsg* message = curl_multi_info_read(multi_, &queued)) {
    if (message->msg != CURLMSG_DONE) continue;
    auto found = running_.find(message->easy_handle);
    if (found == running_.end()) continue;
    const CURLcode result = message->data.result;
    curl_multi_remove_handle(multi_, found->first);
    Pending finished = std::move(found->second);
    running_.erase(found);
    absl::StatusOr<HttpResponse> response = finished.transfer->Finish(result);
    finished.transfer.reset();
    {
      absl::MutexLock lock(&mutex_);
      AddInFlight(-1);
    }
    finished.done(std::move(response));
  }
}

void CurlMultiLoop::Run() {
  while (true) {
    {
      absl::MutexLock lock(&mutex_);
      if (stopping_) return;
    }
    const absl::Duration wait = AddDueTransfers(kLongestWait);
    int running = 0;
    curl_multi_perform(multi_, &running);
    FinishCompleted();
    // A transfer Start added meanwhile wakes the poll at once (curl_multi_wakeup).
    const int wait_ms = static_cast<int>(
        std::max<int64_t>(1, absl::ToInt64Milliseconds(absl::Ceil(wait, absl::Milliseconds(1)))));
    curl_multi_poll(multi_, nullptr, 0, wait_ms, nullptr);
  }
}

void CurlMultiLoop::CancelAll() {
  std::vector<Pending> cancelled;
  for (auto& [handle, pending] : running_) {
    curl_multi_remove_handle(multi_, handle);
    cancelled.push_back(std::move(pending));
  }
  running_.clear();
  {
    absl::MutexLock lock(&mutex_);
    for (Pending& pending : waiting_) cancelled.push_back(std::move(pending));
    waiting_.clear();
    AddInFlight(-static_cast<int>(in_flight_));
  }
  for (Pending& pending : cancelled) {
    pending.transfer.reset();
    pending.done(absl::AbortedError("the HTTP client is shutting down; not fetched"));
  }
}

}  // namespace mecai
