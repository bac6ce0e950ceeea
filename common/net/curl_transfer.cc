#include "common/net/curl_transfer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/status.h"

namespace mecai {
namespace {

absl::Status CheckScheme(const std::string& url) {
  const std::string lower = absl::AsciiStrToLower(url.substr(0, std::min<size_t>(url.size(), 8)));
  if (absl::StartsWith(lower, "http://") || absl::StartsWith(lower, "https://")) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("not an http or https URL: \"", url, "\""));
}

// Applies one curl_easy_setopt and turns a failure into a Status naming the option.
template <typename Value>
absl::Status SetOption(CURL* handle, CURLoption option, const char* name, Value value) {
  const CURLcode result = curl_easy_setopt(handle, option, value);
  if (result != CURLE_OK) {
    return absl::InternalError(
        absl::StrCat("curl_easy_setopt(", name, "): ", curl_easy_strerror(result)));
  }
  return absl::OkStatus();
}

#define MECAI_CURL_SET(handle, option, value) SetOption(handle, option, #option, value)

// Appends one header line to `list`.
absl::Status AppendHeader(curl_slist** list, const std::string& header) {
  curl_slist* head = curl_slist_append(*list, header.c_str());
  if (head == nullptr) return absl::InternalError("curl_slist_append failed");
  *list = head;  // The same list, extended (or a new one when it was empty).
  return absl::OkStatus();
}

}  // namespace

absl::Status InitializeCurlOnce() {
  static std::once_flag once;
  static CURLcode result = CURLE_OK;
  std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (result != CURLE_OK) {
    return absl::InternalError(
        absl::StrCat("curl_global_init failed: ", curl_easy_strerror(result)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> BodyOfAnswer(absl::StatusOr<HttpResponse> response) {
  if (!response.ok()) return response.status();
  if (response->status_code < 200 || response->status_code > 299) {
    return absl::UnavailableError(absl::StrCat("HTTP status ", response->status_code));
  }
  return std::move(response->body);
}

CurlTransfer::CurlTransfer(HttpRequest request) : request_(std::move(request)) {}

CurlTransfer::~CurlTransfer() {
  if (handle_ != nullptr) curl_easy_cleanup(handle_);
  curl_slist_free_all(headers_);
}

size_t CurlTransfer::WriteBody(char* data, size_t size, size_t count, void* self) {
  CurlTransfer* transfer = static_cast<CurlTransfer*>(self);
  const size_t bytes = size * count;
  if (transfer->body_.size() + bytes > transfer->request_.max_response_bytes) {
    transfer->body_too_large_ = true;
    return 0;  // Anything other than `bytes` aborts with CURLE_WRITE_ERROR.
  }
  transfer->body_.append(data, bytes);
  return bytes;
}

// Trust rule 6: runs for every address curl is about to connect to, after resolution, so the
// address checked is the address connected to.
curl_socket_t CurlTransfer::OpenCheckedSocket(void* self, curlsocktype purpose,
                                              curl_sockaddr* address) {
  CurlTransfer* transfer = static_cast<CurlTransfer*>(self);
  if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
  char text[INET6_ADDRSTRLEN] = {};
  const void* raw = nullptr;
  if (address->family == AF_INET) {
    raw = &reinterpret_cast<const sockaddr_in*>(&address->addr)->sin_addr;
  } else if (address->family == AF_INET6) {
    raw = &reinterpret_cast<const sockaddr_in6*>(&address->addr)->sin6_addr;
  } else {
    transfer->refused_addresses_.push_back(
        absl::StrCat("address family ", address->family, " is not IP"));
    return CURL_SOCKET_BAD;
  }
  if (inet_ntop(address->family, raw, text, sizeof(text)) == nullptr) {
    transfer->refused_addresses_.push_back("an address that cannot be printed");
    return CURL_SOCKET_BAD;
  }
  absl::Status allowed = transfer->policy_->CheckAllowed(text);
  if (!allowed.ok()) {
    transfer->refused_addresses_.push_back(std::string(allowed.message()));
    return CURL_SOCKET_BAD;
  }
  return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

absl::StatusOr<std::unique_ptr<CurlTransfer>> CurlTransfer::Prepare(const AddressPolicy& policy,
                                                                    HttpRequest request) {
  RETURN_IF_ERROR(InitializeCurlOnce());
  RETURN_IF_ERROR(CheckScheme(request.url));
  for (const std::string& header : request.headers) {
    if (header.find_first_of("\r\n") != std::string::npos ||
        header.find(':') == std::string::npos) {
      return absl::InvalidArgumentError("a request header must be one \"Name: value\" line");
    }
  }
  std::unique_ptr<CurlTransfer> transfer(new CurlTransfer(std::move(request)));
  transfer->policy_ = &policy;
  transfer->handle_ = curl_easy_init();
  if (transfer->handle_ == nullptr) return absl::InternalError("curl_easy_init failed");
  CURL* curl = transfer->handle_;
  const HttpRequest& fetch = transfer->request_;
  const long timeout_ms =  // NOLINT(runtime/int): curl's type.
      static_cast<long>(std::max<int64_t>(1, absl::ToInt64Milliseconds(fetch.timeout)));

  RETURN_IF_ERROR(MECAI_CURL_SET(curl, CURLOPT_URL, fetch.url.c_str()));
  RETURN_IF_ERROR(MECAI_CURL_SET(curl, CURLOPT_ERRORBUFFER, transfer->error_buffer_));
  // No signals: required when several threads run transfers (libcurl "Multi-threading").
  RETURN_IF_ERROR(MECAI_CURL_SET(curl, CURLOPT_NOSIGNAL, 1L));
#if LIBCURL_VERSION_NUM >= 0x075500
  RETURN_IF_ERROR(MECAI_CURL_SET(curl, CURLOPT_PROTOCOLS_STR, "http,https"));
#else
  RETURN_IF_ERROR(MECAI_CURL_SET(curl, CURLOPT_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  RETURN_IF_ERROR(MECAI_CURL_SET(curl, CURLOPT_FOLLOWLOCATION, 0L));
  // An empty proxy disables proxies, including those named by http_proxy and friends.
  RETURN_IF_ERROR(MECAI_CURL_SET(curl, CURLOPT_PROXY, ""));
  RETURN_IF_ERROR(MECAI_CURL_SET(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms));
  RETURN_IF_ERROR(MECAI_CURL_SET(curl, CURLOPT_TIMEOUT_MS, timeout_ms));
  RETURN_IF_ERROR(MECAI_CURL_SET(curl, CURLOPT_MAXFILESIZE_LARGE,
                                 static_cast<curl_off_t>(fetch.max_response_bytes)));
  RETURN_IF_ERROR(MECAI_CURL_SET(curl, CURLOPT_USERAGENT, "mecai-vouching-cluster"));
  RETURN_IF_ERROR(MECAI_CURL_SET(curl, CURLOPT_WRITEFUNCTION, &CurlTransfer::WriteBody));
  RETURN_IF_ERROR(MECAI_CURL_SET(curl, CURLOPT_WRITEDATA, transfer.get()));
  RETURN_IF_ERROR(
      MECAI_CURL_SET(curl, CURLOPT_OPENSOCKETFUNCTION, &CurlTransfer::OpenCheckedSocket));
  RETURN_IF_ERROR(MECAI_CURL_SET(curl, CURLOPT_OPENSOCKETDATA, transfer.get()));

  for (const std::string& header : fetch.headers) {
    RETURN_IF_ERROR(AppendHeader(&transfer->headers_, header));
  }
  if (!fetch.post_body.empty()) {
    RETURN_IF_ERROR(MECAI_CURL_SET(curl, CURLOPT_POST, 1L));
    RETURN_IF_ERROR(MECAI_CURL_SET(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                                   static_cast<curl_off_t>(fetch.post_body.size())));
    RETURN_IF_ERROR(MECAI_CURL_SET(curl, CURLOPT_POSTFIELDS, fetch.post_body.data()));
    if (!fetch.content_type.empty()) {
      RETURN_IF_ERROR(AppendHeader(&transfer->headers_, "Content-Type: " + fetch.content_type));
    }
    // No "Expect: 100-continue" round trip.
    RETURN_IF_ERROR(AppendHeader(&transfer->headers_, "Expect:"));
  }
  if (transfer->headers_ != nullptr) {
    RETURN_IF_ERROR(MECAI_CURL_SET(curl, CURLOPT_HTTPHEADER, transfer->headers_));
  }
  return transfer;
}

absl::StatusOr<HttpResponse> CurlTransfer::Finish(CURLcode result) {
  if (result != CURLE_OK) {
    const std::string detail =
        error_buffer_[0] != '\0' ? error_buffer_ : curl_easy_strerror(result);
    if (body_too_large_ || result == CURLE_FILESIZE_EXCEEDED) {
      return absl::ResourceExhaustedError(absl::StrCat("the response exceeds the limit of ",
                                                       request_.max_response_bytes, " bytes"));
    }
    if (!refused_addresses_.empty()) {
      return absl::PermissionDeniedError(
          absl::StrCat("refused to connect: ", absl::StrJoin(refused_addresses_, "; ")));
    }
    switch (result) {
      case CURLE_OPERATION_TIMEDOUT:
        return absl::DeadlineExceededError(absl::StrCat("timed out: ", detail));
      case CURLE_URL_MALFORMAT:
      case CURLE_UNSUPPORTED_PROTOCOL:
        return absl::InvalidArgumentError(
            absl::StrCat("cannot fetch \"", request_.url, "\": ", detail));
      default:
        return absl::UnavailableError(detail);
    }
  }
  long status_code = 0;  // NOLINT(runtime/int): curl's type.
  curl_easy_getinfo(handle_, CURLINFO_RESPONSE_CODE, &status_code);
  HttpResponse response;
  response.status_code = static_cast<int>(status_code);
  if (status_code == 301 || status_code == 302 || status_code == 303 || status_code == 307 ||
      status_code == 308) {
    // The Location resolved against the request's URL (RFC 9110 §10.2.2); not followed.
    char* location = nullptr;
    if (curl_easy_getinfo(handle_, CURLINFO_REDIRECT_URL, &location) == CURLE_OK &&
        location != nullptr) {
      response.redirect_url = location;
      return response;
    }
  }
  if (status_code < 200 || status_code > 299) {
    return absl::UnavailableError(absl::StrCat("HTTP status ", status_code));
  }
  response.body = std::move(body_);
  return response;
}

}  // namespace mecai
