#include "common/net/http_fetcher.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/status.h"

namespace mecai {
namespace {

struct CurlEasyDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
using CurlEasyPtr = std::unique_ptr<CURL, CurlEasyDeleter>;

struct CurlSlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using CurlSlistPtr = std::unique_ptr<curl_slist, CurlSlistDeleter>;

// Appends one header line to `list`.
absl::Status AppendHeader(CurlSlistPtr& list, const std::string& header) {
  curl_slist* head = curl_slist_append(list.get(), header.c_str());
  if (head == nullptr) return absl::InternalError("curl_slist_append failed");
  list.release();  // `head` is the same list, extended (or a new one when it was empty).
  list.reset(head);
  return absl::OkStatus();
}

// curl_global_init is not thread-safe and must run once per process before any handle exists.
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

// The state of one transfer, shared with curl's callbacks.
struct Transfer {
  const AddressPolicy* policy = nullptr;
  size_t max_response_bytes = 0;
  std::string body;
  bool body_too_large = false;
  // Why connections were refused by the address policy, one sentence per address.
  std::vector<std::string> refused_addresses;
};

size_t WriteBody(char* data, size_t size, size_t count, void* user_data) {
  Transfer* transfer = static_cast<Transfer*>(user_data);
  const size_t bytes = size * count;
  if (transfer->body.size() + bytes > transfer->max_response_bytes) {
    transfer->body_too_large = true;
    return 0;  // Anything other than `bytes` aborts with CURLE_WRITE_ERROR.
  }
  transfer->body.append(data, bytes);
  return bytes;
}

// Trust rule 6: runs for every address curl is about to connect to, after resolution, so the
// address checked is the address connected to.
curl_socket_t OpenCheckedSocket(void* user_data, curlsocktype purpose, curl_sockaddr* address) {
  Transfer* transfer = static_cast<Transfer*>(user_data);
  if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
  char text[INET6_ADDRSTRLEN] = {};
  const void* raw = nullptr;
  if (address->family == AF_INET) {
    raw = &reinterpret_cast<const sockaddr_in*>(&address->addr)->sin_addr;
  } else if (address->family == AF_INET6) {
    raw = &reinterpret_cast<const sockaddr_in6*>(&address->addr)->sin6_addr;
  } else {
    transfer->refused_addresses.push_back(
        absl::StrCat("address family ", address->family, " is not IP"));
    return CURL_SOCKET_BAD;
  }
  if (inet_ntop(address->family, raw, text, sizeof(text)) == nullptr) {
    transfer->refused_addresses.push_back("an address that cannot be printed");
    return CURL_SOCKET_BAD;
  }
  absl::Status allowed = transfer->policy->CheckAllowed(text);
  if (!allowed.ok()) {
    transfer->refused_addresses.push_back(std::string(allowed.message()));
    return CURL_SOCKET_BAD;
  }
  return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

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

}  // namespace

absl::StatusOr<HttpResponse> HttpFetcher::FetchResponse(const HttpRequest& request) {
  ASSIGN_OR_RETURN(std::string body, Fetch(request));
  HttpResponse response;
  response.status_code = 200;
  response.body = std::move(body);
  return response;
}

CurlHttpFetcher::CurlHttpFetcher(AddressPolicy policy) : policy_(std::move(policy)) {}

absl::StatusOr<std::string> CurlHttpFetcher::Fetch(const HttpRequest& request) {
  ASSIGN_OR_RETURN(HttpResponse response, FetchResponse(request));
  if (response.status_code < 200 || response.status_code > 299) {
    return absl::UnavailableError(absl::StrCat("HTTP status ", response.status_code));
  }
  return std::move(response.body);
}

absl::StatusOr<HttpResponse> CurlHttpFetcher::FetchResponse(const HttpRequest& request) {
  RETURN_IF_ERROR(InitializeCurlOnce());
  RETURN_IF_ERROR(CheckScheme(request.url));
  CurlEasyPtr handle(curl_easy_init());
  if (handle == nullptr) return absl::InternalError("curl_easy_init failed");
  CURL* curl = handle.get();

  Transfer transfer;
  transfer.policy = &policy_;
  transfer.max_response_bytes = request.max_response_bytes;
  char error_buffer[CURL_ERROR_SIZE] = {};
  const long timeout_ms =  // NOLINT(runtime/int): curl's type.
      static_cast<long>(std::max<int64_t>(1, absl::ToInt64Milliseconds(request.timeout)));

  RETURN_IF_ERROR(MECAI_CURL_SET(curl, CURLOPT_URL, request.url.c_str()));
  RETURN_IF_ERROR(MECAI_CURL_SET(curl, CURLOPT_ERRORBUFFER, error_buffer));
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
                                 static_cast<curl_off_t>(request.max_response_bytes)));
  RETURN_IF_ERROR(MECAI_CURL_SET(curl, CURLOPT_USERAGENT, "mecai-vouching-cluster"));
  RETURN_IF_ERROR(MECAI_CURL_SET(curl, CURLOPT_WRITEFUNCTION, &WriteBody));
  RETURN_IF_ERROR(MECAI_CURL_SET(curl, CURLOPT_WRITEDATA, &transfer));
  RETURN_IF_ERROR(MECAI_CURL_SET(curl, CURLOPT_OPENSOCKETFUNCTION, &OpenCheckedSocket));
  RETURN_IF_ERROR(MECAI_CURL_SET(curl, CURLOPT_OPENSOCKETDATA, &transfer));

  CurlSlistPtr headers;
  for (const std::string& header : request.headers) {
    if (header.find_first_of("\r\n") != std::string::npos ||
        header.find(':') == std::string::npos) {
      return absl::InvalidArgumentError("a request header must be one \"Name: value\" line");
    }
    RETURN_IF_ERROR(AppendHeader(headers, header));
  }
  if (!request.post_body.empty()) {
    RETURN_IF_ERROR(MECAI_CURL_SET(curl, CURLOPT_POST, 1L));
    RETURN_IF_ERROR(MECAI_CURL_SET(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                                   static_cast<curl_off_t>(request.post_body.size())));
    RETURN_IF_ERROR(MECAI_CURL_SET(curl, CURLOPT_POSTFIELDS, request.post_body.data()));
    if (!request.content_type.empty()) {
      RETURN_IF_ERROR(AppendHeader(headers, "Content-Type: " + request.content_type));
    }
    // No "Expect: 100-continue" round trip.
    RETURN_IF_ERROR(AppendHeader(headers, "Expect:"));
  }
  if (headers != nullptr) {
    RETURN_IF_ERROR(MECAI_CURL_SET(curl, CURLOPT_HTTPHEADER, headers.get()));
  }

  const CURLcode result = curl_easy_perform(curl);
  if (result != CURLE_OK) {
    const std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(result);
    if (transfer.body_too_large || result == CURLE_FILESIZE_EXCEEDED) {
      return absl::ResourceExhaustedError(
          absl::StrCat("the response exceeds the limit of ", request.max_response_bytes, " bytes"));
    }
    if (!transfer.refused_addresses.empty()) {
      return absl::PermissionDeniedError(
          absl::StrCat("refused to connect: ", absl::StrJoin(transfer.refused_addresses, "; ")));
    }
    switch (result) {
      case CURLE_OPERATION_TIMEDOUT:
        return absl::DeadlineExceededError(absl::StrCat("timed out: ", detail));
      case CURLE_URL_MALFORMAT:
      case CURLE_UNSUPPORTED_PROTOCOL:
        return absl::InvalidArgumentError(
            absl::StrCat("cannot fetch \"", request.url, "\": ", detail));
      default:
        return absl::UnavailableError(detail);
    }
  }
  long status_code = 0;  // NOLINT(runtime/int): curl's type.
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status_code);
  HttpResponse response;
  response.status_code = static_cast<int>(status_code);
  if (status_code == 301 || status_code == 302 || status_code == 303 || status_code == 307 ||
      status_code == 308) {
    // The Location resolved against the request's URL (RFC 9110 §10.2.2); not followed.
    char* location = nullptr;
    if (curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &location) == CURLE_OK &&
        location != nullptr) {
      response.redirect_url = location;
      return response;
    }
  }
  if (status_code < 200 || status_code > 299) {
    return absl::UnavailableError(absl::StrCat("HTTP status ", status_code));
  }
  response.body = std::move(transfer.body);
  return response;
}

}  // namespace mecai
