// Bounded HTTP(S) fetches behind the SSRF policy: small documents from URLs that untrusted input
// names — CRLs (RFC 5280 §4.2.1.13), OCSP responses (RFC 6960 Appendix A.1), RDAP answers and
// voice-gateway calls — behind an interface so tests and other transports can stand in.
// CurlHttpFetcher is the real one: libcurl, no redirects, bounded time and size, and the SSRF guard
// of trust rule 6 applied to every address it connects to.
#ifndef MECAI_COMMON_NET_HTTP_FETCHER_H_
#define MECAI_COMMON_NET_HTTP_FETCHER_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/net/address_policy.h"

namespace mecai {

struct HttpRequest {
  // An http:// or https:// URL. Other schemes are INVALID_ARGUMENT.
  std::string url;
  // Empty: GET. Otherwise POST with this body and `content_type`.
  std::string post_body;
  std::string content_type;
  // Bound on the whole exchange, connection included.
  absl::Duration timeout = absl::Seconds(5);
  // A body longer than this aborts the transfer.
  size_t max_response_bytes = 1 << 20;
  // Extra request header lines, "Name: value" each (no CR or LF: INVALID_ARGUMENT).
  std::vector<std::string> headers;
};

// What FetchResponse answers: a 2xx answer's body, or a redirect (RFC 9110 §15.4: 301, 302,
// 303, 307, 308) and the absolute URL its Location names, for the caller to check and follow.
struct HttpResponse {
  int status_code = 0;
  std::string body;
  // Set for redirects only.
  std::string redirect_url;
};

// Thread-safe: implementations accept concurrent Fetch calls.
class HttpFetcher {
 public:
  virtual ~HttpFetcher() = default;

  // The body of a 2xx answer. Errors:
  //   INVALID_ARGUMENT   the URL is malformed or not http/https;
  //   PERMISSION_DENIED  every address of the host is special-purpose and not allowlisted (the
  //                      message names the address);
  //   DEADLINE_EXCEEDED  `timeout` passed;
  //   RESOURCE_EXHAUSTED the body exceeds `max_response_bytes`;
  //   UNAVAILABLE        name resolution, connection or transfer failed (the message is curl's),
  //                      or the status code was not 2xx (the message is "HTTP status N").
  virtual absl::StatusOr<std::string> Fetch(const HttpRequest& request) = 0;

  // As Fetch, except that a redirect with a Location is an answer (status_code 3xx,
  // redirect_url), never followed. The default: Fetch's body as a 200.
  virtual absl::StatusOr<HttpResponse> FetchResponse(const HttpRequest& request);

  // Fetch without holding the calling thread while the server answers: `done` is called once with
  // what Fetch would return, on a thread of the fetcher's, or on the calling thread when the fetch
  // ends at once (a malformed request, a full queue). `done` must not block; it may call
  // FetchAsync again. The transfer begins `start_after` from now (a retry's pause), and
  // `request.timeout` counts from then. The default sleeps `start_after` and runs Fetch on the
  // calling thread. Besides Fetch's errors: ABORTED when the fetcher did not run the transfer to
  // its end for a reason of its own (its limit of transfers in flight, or it is shutting down),
  // which says nothing about the server.
  using FetchDone = std::function<void(absl::StatusOr<std::string>)>;
  virtual void FetchAsync(const HttpRequest& request, absl::Duration start_after, FetchDone done);
};

class CurlMultiLoop;

// What CurlHttpFetcher reports of its asynchronous transfers, for metrics. Each function is
// optional, called while the fetcher holds its own lock: it must be quick, thread-safe and must
// not call the fetcher (a prometheus-cpp gauge or counter will do).
struct AsyncFetchObserver {
  // +1 when a transfer is taken (waiting for its start or running), -1 for each that ends, however
  // it ends (answered, failed, cancelled at shutdown).
  std::function<void(int delta)> in_flight_changed;
  // A transfer refused ABORTED at once because max_async_transfers were in flight (not one
  // refused because the fetcher is stopping).
  std::function<void()> refused_for_room;
};

// libcurl, one easy handle per request. Follows no redirects, speaks only http and https, uses no
// proxy (environment variables included) and asks for no content encoding. Connects only to
// addresses `policy` allows, checked on the address curl resolved and is about to connect to, so
// there is no window between check and connect (no DNS rebinding). https verifies the server
// against the system's CA store. FetchAsync runs its transfers on one thread of the fetcher's,
// started on the first FetchAsync (common/net/curl_multi_loop.h), at most `max_async_transfers`
// at once: beyond, ABORTED at once; `observer` hears of both. Thread-safe.
class CurlHttpFetcher : public HttpFetcher {
 public:
  explicit CurlHttpFetcher(AddressPolicy policy, size_t max_async_transfers = 4096,
                           AsyncFetchObserver observer = {});
  // Stop().
  ~CurlHttpFetcher() override;

  // Ends the asynchronous transfers still waiting or running with ABORTED (their `done` called
  // on this thread) and stops the fetcher's thread; a FetchAsync from then on is ABORTED at once.
  // For a service shutting down: what waits on a fetch ends before what it calls into goes away.
  // Idempotent.
  void Stop();

  absl::StatusOr<std::string> Fetch(const HttpRequest& request) override;
  absl::StatusOr<HttpResponse> FetchResponse(const HttpRequest& request) override;
  void FetchAsync(const HttpRequest& request, absl::Duration start_after, FetchDone done) override;

 private:
  const AddressPolicy policy_;
  const size_t max_async_transfers_;
  const AsyncFetchObserver observer_;
  absl::Mutex loop_mutex_;
  std::unique_ptr<CurlMultiLoop> loop_ ABSL_GUARDED_BY(loop_mutex_);
  bool stopping_ ABSL_GUARDED_BY(loop_mutex_) = false;
  // FetchAsync calls handing a transfer to loop_ now: Stop waits for them before it ends the loop.
  int starting_ ABSL_GUARDED_BY(loop_mutex_) = 0;
};

}  // namespace mecai

#endif  // MECAI_COMMON_NET_HTTP_FETCHER_H_
