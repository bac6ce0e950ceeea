#include "approval/voice_gateway.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace mecai {

std::string VoiceGatewayRequestBody(const std::string& phone_number, const std::string& message,
                                    const std::string& extension) {
  google::protobuf::Struct object;
  (*object.mutable_fields())["to"].set_string_value(phone_number);
  (*object.mutable_fields())["message"].set_string_value(message);
  if (!extension.empty()) (*object.mutable_fields())["extension"].set_string_value(extension);
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(object, &json);
  return json;
}

absl::Duration VoiceGatewayBackoff(const VoiceGatewayOptions& options, uint32_t attempt) {
  absl::Duration backoff = options.initial_backoff;
  for (uint32_t i = 1; i < attempt && backoff < options.max_backoff; ++i) backoff *= 2;
  return std::min(backoff, options.max_backoff);
}

v1::PhoneCall VoiceGatewayClient::Call(const std::string& phone_number,
                                       const std::string& extension, const std::string& message,
                                       AttemptObserver observe) const {
  v1::PhoneCall call;
  call.set_phone_number(phone_number);
  call.set_extension(extension);
  if (!options_.allow_http && !absl::StartsWithIgnoreCase(options_.url, "https://")) {
    call.set_error("the voice gateway URL is not https (allow_http_for_testing is off)");
    return call;
  }
  HttpRequest request;
  request.url = options_.url;
  request.post_body = VoiceGatewayRequestBody(phone_number, message, extension);
  request.content_type = "application/json";
  request.timeout = options_.timeout;
  request.max_response_bytes = kMaxVoiceGatewayResponseBytes;
  if (!options_.bearer_token.empty()) {
    request.headers.push_back(absl::StrCat("Authorization: Bearer ", options_.bearer_token));
  }
  const absl::Time start = clock_.Now();
  for (uint32_t attempt = 1; attempt <= options_.attempts; ++attempt) {
    call.set_attempts(attempt);
    absl::StatusOr<std::string> answer = fetcher_.Fetch(request);
    observe(attempt, answer.status());
    if (answer.ok()) {
      call.set_delivered(true);
      call.clear_error();
      return call;
    }
    call.set_error(std::string(answer.status().message()));
    if (attempt == options_.attempts) break;
    const absl::Duration backoff = VoiceGatewayBackoff(options_, attempt);
    if (clock_.Now() + backoff - start > options_.max_total) {
      call.set_error(absl::StrCat(call.error(),
                                  "; no further attempt: the next would begin more than ",
                                  absl::FormatDuration(options_.max_total), " after the first"));
      break;
    }
    if (!sleeper_.Sleep(backoff)) {
      call.set_error(absl::StrCat(call.error(), "; no further attempt: the service is stopping"));
      break;
    }
  }
  return call;
}

}  // namespace mecai
