#include "cli/vouch_client.h"

#include <curl/curl.h>
#include <openssl/rand.h>

#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/va_list.h"
#include "client/vd_verifier.h"
#include "common/base/clock.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/evidence/vouching_request.h"
#include "common/net/http_binding.h"
#include "common/rpc/grpc_channel.h"
#include "proto/mecai/v1/vouching.grpc.pb.h"
#include "stapler/vouching_fetcher.h"

namespace mecai {
namespace {

// The largest answer read: a VouchResponse holds a VD and each perspective's Observation.
constexpr size_t kMaxResponseBytes = 4 << 20;

struct Received {
  std::string body;
  std::string content_type;
  bool too_large = false;
};

size_t CollectBody(char* data, size_t size, size_t count, void* context) {
  auto* received = static_cast<Received*>(context);
  if (received->body.size() + size * count > kMaxResponseBytes) {
    received->too_large = true;
    return 0;  // Aborts the transfer.
  }
  received->body.append(data, size * count);
  return size * count;
}

// What a status other than 200 means (docs/PROTOCOL.md "The HTTP binding").
absl::StatusCode CodeOfHttpStatus(long status) {  // NOLINT(runtime/int): libcurl's type.
  switch (status) {
    case 409:
      return absl::StatusCode::kAborted;
    case 413:
    case 429:
      return absl::StatusCode::kResourceExhausted;
    case 503:
      return absl::StatusCode::kUnavailable;
    case 504:
      return absl::StatusCode::kDeadlineExceeded;
    default:
      return status >= 400 && status < 500 ? absl::StatusCode::kInvalidArgument
                                           : absl::StatusCode::kInternal;
  }
}

}  // namespace

absl::StatusOr<v1::VouchResponse> RequestVouching(const VouchOptions& options) {
  ASSIGN_OR_RETURN(auto fetcher, VouchingFetcher::Create(options.server, SystemClock::Get()));
  if (!options.http) return fetcher->Vouch(options.vouching_server, options.timeout);
  ASSIGN_OR_RETURN(std::string serialized, fetcher->BuildRequest());
  return PostVouchingRequest(options.vouching_server, serialized, options.timeout);
}

absl::StatusOr<v1::VouchResponse> PostVouchingRequest(const v1::PeerConfig& vouching_server,
                                                      const std::string& serialized_request,
                                                      absl::Duration timeout) {
  const std::string& address = vouching_server.address();
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || vouching_server.insecure_plaintext_for_local_development() ||
      vouching_server.tls().server_ca_file().empty()) {
    return absl::InvalidArgumentError(
        "the HTTP binding needs host:port and the CA of the Vouching Server's certificate (HTTPS "
        "only)");
  }
  const std::string host = address.substr(0, colon);
  const std::string port = address.substr(colon + 1);
  const std::string name = vouching_server.tls().server_identity().empty()
                               ? host
                               : vouching_server.tls().server_identity();
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
  const std::string url = absl::StrCat("https://", name, ":", port, kPublicVouchPath);
  // The certificate is checked for `name`; the connection goes to `host` (curl --connect-to).
  curl_slist* connect_to = nullptr;
  if (name != host) {
    connect_to =
        curl_slist_append(connect_to, absl::StrCat(name, ":", port, ":", host, ":", port).c_str());
  }
  curl_slist* headers =
      curl_slist_append(nullptr, absl::StrCat("Content-Type: ", kVouchingRequestMediaType).c_str());
  headers =
      curl_slist_append(headers, absl::StrCat("Accept: ", kVouchingResponseMediaType).c_str());
  headers = curl_slist_append(headers, "Expect:");  // Send the small body at once.
  Received received;
  char error[CURL_ERROR_SIZE] = {0};
  CURL* handle = curl.get();
  curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
  curl_easy_setopt(handle, CURLOPT_PROTOCOLS, CURLPROTO_HTTPS);
  curl_easy_setopt(handle, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_CAINFO, vouching_server.tls().server_ca_file().c_str());
  curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 2L);
  if (connect_to != nullptr) curl_easy_setopt(handle, CURLOPT_CONNECT_TO, connect_to);
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(handle, CURLOPT_POSTFIELDS, serialized_request.data());
  curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE,
                   static_cast<curl_off_t>(serialized_request.size()));
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(  // NOLINT(runtime/int)
                       absl::ToInt64Milliseconds(timeout)));
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &CollectBody);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &received);
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error);
  const CURLcode result = curl_easy_perform(handle);
  curl_slist_free_all(headers);
  curl_slist_free_all(connect_to);
  if (received.too_large) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the answer of ", url, " exceeds ", kMaxResponseBytes, " bytes"));
  }
  if (result != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat("Vouching Server ", url, ": ",
                                               error[0] != 0 ? error : curl_easy_strerror(result)));
  }
  long status = 0;  // NOLINT(runtime/int): libcurl's type.
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
  char* content_type = nullptr;
  curl_easy_getinfo(handle, CURLINFO_CONTENT_TYPE, &content_type);
  if (status != 200) {
    return absl::Status(CodeOfHttpStatus(status),
                        absl::StrCat("Vouching Server ", url, ": HTTP ", status, ": ",
                                     absl::StripTrailingAsciiWhitespace(received.body)));
  }
  v1::VouchResponse response;
  if (content_type == nullptr ||
      !absl::StartsWith(absl::AsciiStrToLower(content_type), kVouchingResponseMediaType) ||
      !response.ParseFromString(received.body)) {
    return absl::InternalError(absl::StrCat("Vouching Server ", url, " answered ",
                                            content_type != nullptr ? content_type : "no type",
                                            ", not a serialized VouchResponse"));
  }
  return response;
}

absl::StatusOr<v1::VouchingStatement> VerifyVouchingDataFile(const VerifyOptions& options) {
  ASSIGN_OR_RETURN(std::string serialized, ReadFile(options.vouching_data_file, 1 << 20));
  v1::VouchingData vd;
  if (!vd.ParseFromString(serialized)) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.vouching_data_file, " is not a serialized VouchingData"));
  }
  ASSIGN_OR_RETURN(auto vas, VaList::Load(options.va_list_file));
  ASSIGN_OR_RETURN(auto certificates, LoadPemCertificatesAsDer(options.certificate_file));
  VdExpectation expected;
  expected.hostname = options.hostname;
  expected.certificate_der = certificates.front();
  expected.candidate_vas = options.candidate_vas;
  expected.now = absl::Now();
  expected.max_age = options.max_age;
  expected.require_out_of_band_approval = options.require_out_of_band_approval;
  return VerifyVouchingData(vd, *vas, expected);
}

}  // namespace mecai
