#include "approval/voice_gateway.h"

#include <utility>

#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace mecai {

std::string VoiceGatewayRequestBody(const std::string& phone_number, const std::string& message) {
  google::protobuf::Struct object;
  (*object.mutable_fields())["to"].set_string_value(phone_number);
  (*object.mutable_fields())["message"].set_string_value(message);
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(object, &json);
  return json;
}

v1::PhoneCall VoiceGatewayClient::Call(const std::string& phone_number, const std::string& message,
                                       AttemptObserver observe) const {
  v1::PhoneCall call;
  call.set_phone_number(phone_number);
  HttpRequest request;
  request.url = options_.url;
  request.post_body = VoiceGatewayRequestBody(phone_number, message);
  request.content_type = "application/json";
  request.timeout = options_.timeout;
  request.max_response_bytes = kMaxVoiceGatewayResponseBytes;
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
  }
  return call;
}

}  // namespace mecai
