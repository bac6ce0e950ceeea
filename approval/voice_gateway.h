// The voice gateway's HTTP protocol: each call a JSON POST of {"to", "message"}, with retries.
#ifndef MECAI_APPROVAL_VOICE_GATEWAY_H_
#define MECAI_APPROVAL_VOICE_GATEWAY_H_

#include <cstdint>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/net/http_fetcher.h"
#include "proto/mecai/v1/approval.pb.h"

namespace mecai {

struct VoiceGatewayOptions {
  // Where calls are POSTed (ApprovalConfig.voice_gateway_url).
  std::string url;
  // Requests per call at most, the first included (ApprovalConfig.voice_gateway_attempts).
  uint32_t attempts = 3;
  // Bound on each request (ApprovalConfig.http_timeout_milliseconds).
  absl::Duration timeout = absl::Seconds(5);
};

// The largest answer read from the gateway; its body is not used.
inline constexpr size_t kMaxVoiceGatewayResponseBytes = 64 << 10;

// The body of a call request: {"to": phone_number, "message": message}, a JSON object
// (docs/APPROVAL.md "Flow", step 4).
std::string VoiceGatewayRequestBody(const std::string& phone_number, const std::string& message);

// Places phone calls through the voice gateway (docs/APPROVAL.md): each call is POSTed to
// options.url as application/json, and any 2xx answer means the gateway took the call.
// Thread-safe.
class VoiceGatewayClient {
 public:
  // Told the outcome of each request of a call: `attempt` counts from 1, `result` is the
  // fetcher's status (OK for a 2xx answer).
  using AttemptObserver = absl::FunctionRef<void(uint32_t attempt, const absl::Status& result)>;

  // `fetcher` must outlive the client.
  VoiceGatewayClient(HttpFetcher& fetcher, VoiceGatewayOptions options)
      : fetcher_(fetcher), options_(std::move(options)) {}

  // Asks the gateway to speak `message` to `phone_number`, up to options.attempts times until it
  // takes the call, and tells `observe` about every request. The PhoneCall names the number and
  // the requests made; it is delivered when one succeeded, and otherwise its error is the last
  // failure's message (the fetcher's, which names the URL and the status, never the body, which
  // holds the approval code).
  v1::PhoneCall Call(const std::string& phone_number, const std::string& message,
                     AttemptObserver observe) const;

 private:
  HttpFetcher& fetcher_;
  const VoiceGatewayOptions options_;
};

}  // namespace mecai

#endif  // MECAI_APPROVAL_VOICE_GATEWAY_H_
