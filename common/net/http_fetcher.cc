#include "common/net/http_fetcher.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/status.h"
#include "common/net/curl_multi_loop.h"
#include "common/net/curl_transfer.h"

namespace mecai {

absl::StatusOr<HttpResponse> HttpFetcher::FetchResponse(const HttpRequest& request) {
  ASSIGN_OR_RETURN(std::string body, Fetch(request));
  HttpResponse response;
  response.status_code = 200;
  response.body = std::move(body);
  return response;
}

void HttpFetcher::FetchAsync(const HttpRequest& request, absl::Duration start_after,
                             FetchDone done) {
  if (start_after > absl::ZeroDuration()) absl::SleepFor(start_after);
  done(Fetch(request));
}

CurlHttpFetcher::CurlHttpFetcher(AddressPolicy policy, size_t max_async_transfers,
                                 AsyncFetchObserver observer)
    : policy_(std::move(policy)),
      max_async_transfers_(max_async_transfers),
      observer_(std::move(observer)) {}

CurlHttpFetcher::~CurlHttpFetcher() { Stop(); }

void CurlHttpFetcher::Stop() {
  std::unique_ptr<CurlMultiLoop> loop;
  {
    absl::MutexLock lock(&loop_mutex_);
    stopping_ = true;
    // A FetchAsync handing its transfer to the loop finishes doing so first.
    auto none_starting = [this]()
                             ABSL_EXCLUSIVE_LOCKS_REQUIRED(loop_mutex_) { return starting_ == 0; };
    loop_mutex_.Await(absl::Condition(&none_starting));
    loop = std::move(loop_);
  }
  loop.reset();
}

absl::StatusOr<std::string> CurlHttpFetcher::Fetch(const HttpRequest& request) {
  return BodyOfAnswer(FetchResponse(request));
}

absl::StatusOr<HttpResponse> CurlHttpFetcher::FetchResponse(const HttpRequest& request) {
  ASSIGN_OR_RETURN(std::unique_ptr<CurlTransfer> transfer, CurlTransfer::Prepare(policy_, request));
  return transfer->Finish(curl_easy_perform(transfer->handle()));
}

void CurlHttpFetcher::FetchAsync(const HttpRequest& request, absl::Duration start_after,
                                 FetchDone done) {
  absl::StatusOr<std::unique_ptr<CurlTransfer>> transfer = CurlTransfer::Prepare(policy_, request);
  if (!transfer.ok()) return done(transfer.status());
  CurlMultiLoop* loop = nullptr;
  absl::Status loop_failed;
  {
    absl::MutexLock lock(&loop_mutex_);
    if (stopping_) {
      loop_failed = absl::AbortedError("the HTTP client is shutting down; not fetched");
    } else if (loop_ == nullptr) {
      absl::StatusOr<std::unique_ptr<CurlMultiLoop>> created =
          CurlMultiLoop::Create(max_async_transfers_, observer_);
      if (created.ok()) {
        loop_ = std::move(*created);
      } else {
        loop_failed = created.status();
      }
    }
    loop = loop_.get();
    if (loop_failed.ok()) ++starting_;
  }
  if (!loop_failed.ok()) return done(std::move(loop_failed));
  loop->Start(*std::move(transfer), start_after,
              [done = std::move(done)](absl::StatusOr<HttpResponse> response) {
                done(BodyOfAnswer(std::move(response)));
              });
  absl::MutexLock lock(&loop_mutex_);
  --starting_;
}

}  // namespace mecai
