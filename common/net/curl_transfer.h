// One HTTP(S) transfer as CurlHttpFetcher makes it (common/net/http_fetcher.h): the easy handle
// with every option of the fetcher's rules (no redirects, no proxy, http and https only, bounded
// time and size, the SSRF guard of trust rule 6 on every address connected to), the state curl's
// callbacks fill, and what the transfer's end means in HttpFetcher's errors. The blocking Fetch
// runs it with curl_easy_perform, FetchAsync on a CurlMultiLoop (common/net/curl_multi_loop.h).
#ifndef MECAI_COMMON_NET_CURL_TRANSFER_H_
#define MECAI_COMMON_NET_CURL_TRANSFER_H_

#include <curl/curl.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/net/address_policy.h"
#include "common/net/http_fetcher.h"

namespace mecai {

// Not thread-safe: one transfer is run by one thread at a time.
class CurlTransfer {
 public:
  // Checks `request` and sets up its handle. `policy` must outlive the transfer. Errors:
  // INVALID_ARGUMENT for a URL that is not http or https and for a malformed header line; INTERNAL
  // when libcurl fails to set up.
  static absl::StatusOr<std::unique_ptr<CurlTransfer>> Prepare(const AddressPolicy& policy,
                                                               HttpRequest request);

  ~CurlTransfer();
  CurlTransfer(const CurlTransfer&) = delete;
  CurlTransfer& operator=(const CurlTransfer&) = delete;

  CURL* handle() const { return handle_; }
  const HttpRequest& request() const { return request_; }

  // What the transfer's end with `result` means: a 2xx answer or a redirect
  // (HttpFetcher::FetchResponse), or the error HttpFetcher::Fetch documents.
  absl::StatusOr<HttpResponse> Finish(CURLcode result);

 private:
  explicit CurlTransfer(HttpRequest request);

  // curl's callbacks (curl_transfer.cc).
  static size_t WriteBody(char* data, size_t size, size_t count, void* self);
  static curl_socket_t OpenCheckedSocket(void* self, curlsocktype purpose, curl_sockaddr* address);

  // The request is kept for as long as the handle: libcurl reads the POST body from it.
  const HttpRequest request_;
  const AddressPolicy* policy_ = nullptr;
  CURL* handle_ = nullptr;
  curl_slist* headers_ = nullptr;
  char error_buffer_[CURL_ERROR_SIZE] = {};
  std::string body_;
  bool body_too_large_ = false;
  // Why connections were refused by the address policy, one sentence per address.
  std::vector<std::string> refused_addresses_;
};

// HttpFetcher::Fetch's reading of FetchResponse's answer: the body of a 2xx answer; any other
// status (a redirect included) is UNAVAILABLE "HTTP status N".
absl::StatusOr<std::string> BodyOfAnswer(absl::StatusOr<HttpResponse> response);

// curl_global_init, once per process, before any handle exists (it is not thread-safe).
absl::Status InitializeCurlOnce();

}  // namespace mecai

#endif  // MECAI_COMMON_NET_CURL_TRANSFER_H_
