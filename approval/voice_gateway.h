// The voice gateway's HTTP protocol (docs/APPROVAL.md "The voice gateway"): each call a JSON POST
// of {"to", "message"} (and "extension" when the number has one), with a bearer token, retried
// with exponential backoff.
#ifndef MECAI_APPROVAL_VOICE_GATEWAY_H_
#define MECAI_APPROVAL_VOICE_GATEWAY_H_

#include <cstdint>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "approval/sleeper.h"
#include "common/base/clock.h"
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
  // Wait before the second request; doubled before each further one, at most max_backoff.
  absl::Duration initial_backoff = absl::Seconds(1);
  absl::Duration max_backoff = absl::Seconds(30);
  // No further request once this much time has passed since the first one began.
  absl::Duration max_total = absl::Minutes(2);
  // Sent as "Authorization: Bearer <token>" (RFC 6750 §2.1) when not empty.
  std::string bearer_token;
  // An http:// url is used (ApprovalConfig.allow_http_for_testing); otherwise only https.
  bool allow_http = false;
};

// The largest answer read from the gateway; its body is not used.
inline constexpr size_t kMaxVoiceGatewayResponseBytes = 64 << 10;

// The body of a call request: {"to": phone_number, "message": message} and, when `extension` is
// not empty, "extension": extension; a JSON object.
std::string VoiceGatewayRequestBody(const std::string& phone_number, const std::string& message,
                                    const std::string& extension = "");

// The wait before request `attempt` + 1 after request `attempt` failed (attempt from 1):
// initial_backoff * 2^(attempt - 1), at most max_backoff.
absl::Duration VoiceGatewayBackoff(const VoiceGatewayOptions& options, uint32_t attempt);

// Places phone calls through the voice gateway: each call is POSTed to options.url as
// application/json, and any 2xx answer means the gateway took the call. Thread-safe.
class VoiceGatewayClient {
 public:
  // Told the outcome of each request of a call: `attempt` counts from 1, `result` is the
  // fetcher's status (OK for a 2xx answer).
  using AttemptObserver = absl::FunctionRef<void(uint32_t attempt, const absl::Status& result)>;

  // `fetcher`, `clock` and `sleeper` must outlive the client.
  VoiceGatewayClient(HttpFetcher& fetcher, VoiceGatewayOptions options, const Clock& clock,
                     Sleeper& sleeper)
      : fetcher_(fetcher), options_(std::move(options)), clock_(clock), sleeper_(sleeper) {}

  // Asks the gateway to speak `message` to `phone_number` (dialling `extension` after it
  // connects), up to options.attempts times with backoff between them until it takes the call,
  // within options.max_total, and tells `observe` about every request. The PhoneCall names the
  // number and the requests made; it is delivered when one succeeded, and otherwise its error is
  // the last failure's message (the fetcher's, which names the URL and the status, never the
  // body, which holds the approval code) or why no further request was made.
  v1::PhoneCall Call(const std::string& phone_number, const std::string& extension,
                     const std::string& message, AttemptObserver observe) const;

 private:
  HttpFetcher& fetcher_;
  const VoiceGatewayOptions options_;
  const Clock& clock_;
  Sleeper& sleeper_;
};

}  // namespace mecai

#endif  // MECAI_APPROVAL_VOICE_GATEWAY_H_
