#include "witness/witness_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/status.h"

namespace mecai {
namespace witness {
namespace {

struct CurlDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

struct Received {
  std::string body;
  bool too_large = false;
};

size_t WriteBody(char* data, size_t size, size_t count, void* user) {
  auto* received = static_cast<Received*>(user);
  const size_t bytes = size * count;
  if (received->body.size() + bytes > kMaxWitnessAnswerBytes) {
    received->too_large = true;
    return 0;
  }
  received->body.append(data, bytes);
  return bytes;
}

absl::Status InitializeOnce() {
  static const CURLcode result = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (result != CURLE_OK) {
    return absl::InternalError(absl::StrCat("curl_global_init: ", curl_easy_strerror(result)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<WitnessAnswer> PostToWitness(const std::string& url, const std::string& body,
                                            absl::Duration timeout, const std::string& ca_file) {
  RETURN_IF_ERROR(InitializeOnce());
  const std::string lower = absl::AsciiStrToLower(url.substr(0, std::min<size_t>(url.size(), 8)));
  if (!absl::StartsWith(lower, "http://") && !absl::StartsWith(lower, "https://")) {
    return absl::InvalidArgumentError(absl::StrCat("not an http or https URL: \"", url, "\""));
  }
  std::unique_ptr<CURL, CurlDeleter> handle(curl_easy_init());
  if (handle == nullptr) return absl::InternalError("curl_easy_init failed");
  CURL* curl = handle.get();
  Received received;
  char error_buffer[CURL_ERROR_SIZE] = {};
  const long timeout_ms =  // NOLINT(runtime/int): curl's type.
      static_cast<long>(std::max<int64_t>(1, absl::ToInt64Milliseconds(timeout)));
  std::unique_ptr<curl_slist, SlistDeleter> headers(
      curl_slist_append(nullptr, "Content-Type: text/plain; charset=utf-8"));
  headers.reset(curl_slist_append(headers.release(), "Expect:"));
  bool ok = headers != nullptr;
  ok = ok && curl_easy_setopt(curl, CURLOPT_URL, url.c_str()) == CURLE_OK;
  ok = ok && curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer) == CURLE_OK;
  ok = ok && curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
  ok = ok && curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;
  ok = ok && curl_easy_setopt(curl, CURLOPT_PROXY, "") == CURLE_OK;
  ok = ok && curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms) == CURLE_OK;
  ok = ok && curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms) == CURLE_OK;
  ok = ok && curl_easy_setopt(curl, CURLOPT_USERAGENT, "mecai-vouching-cluster") == CURLE_OK;
  ok = ok && curl_easy_setopt(curl, CURLOPT_POST, 1L) == CURLE_OK;
  ok = ok && curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                              static_cast<curl_off_t>(body.size())) == CURLE_OK;
  ok = ok && curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data()) == CURLE_OK;
  ok = ok && curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get()) == CURLE_OK;
  ok = ok && curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &WriteBody) == CURLE_OK;
  ok = ok && curl_easy_setopt(curl, CURLOPT_WRITEDATA, &received) == CURLE_OK;
  if (!ca_file.empty()) {
    ok = ok && curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file.c_str()) == CURLE_OK;
  }
  if (!ok) return absl::InternalError("cannot set up the request to the witness");
  const CURLcode result = curl_easy_perform(curl);
  if (result != CURLE_OK) {
    const std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(result);
    if (received.too_large) {
      return absl::ResourceExhaustedError(
          absl::StrCat("the witness's answer exceeds ", kMaxWitnessAnswerBytes, " bytes"));
    }
    if (result == CURLE_OPERATION_TIMEDOUT) {
      return absl::DeadlineExceededError(absl::StrCat("the witness did not answer: ", detail));
    }
    return absl::UnavailableError(absl::StrCat("the witness cannot be reached: ", detail));
  }
  WitnessAnswer answer;
  long status = 0;  // NOLINT(runtime/int): curl's type.
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  answer.status = static_cast<int>(status);
  char* content_type = nullptr;
  if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &content_type) == CURLE_OK &&
      content_type != nullptr) {
    answer.content_type = content_type;
  }
  answer.body = std::move(received.body);
  return answer;
}

}  // namespace witness
}  // namespace mecai
