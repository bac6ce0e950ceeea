// The voice gateway's protocol (approval/voice_gateway.h): the request a call makes, retries until
// the gateway takes the call, and what each attempt reports; against a scripted fetcher and against
// the recording gateway of approval/testing on 127.0.0.1.
#include "approval/voice_gateway.h"

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "approval/sleeper.h"
#include "approval/testing/test_environment.h"
#include "common/base/clock.h"
#include "common/net/address_policy.h"
#include "common/net/http_fetcher.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

// Answers Fetch with the scripted results in turn and keeps every request.
class ScriptedFetcher : public HttpFetcher {
 public:
  explicit ScriptedFetcher(std::vector<absl::StatusOr<std::string>> answers)
      : answers_(answers.begin(), answers.end()) {}

  absl::StatusOr<std::string> Fetch(const HttpRequest& request) override {
    requests_.push_back(request);
    if (answers_.empty()) return absl::InternalError("no answer scripted");
    absl::StatusOr<std::string> answer = std::move(answers_.front());
    answers_.pop_front();
    return answer;
  }

  const std::vector<HttpRequest>& requests() const { return requests_; }

 private:
  std::deque<absl::StatusOr<std::string>> answers_;
  std::vector<HttpRequest> requests_;
};

// The string fields of a JSON object.
std::map<std::string, std::string> JsonFields(const std::string& json) {
  google::protobuf::Struct object;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &object).ok()) << json;
  std::map<std::string, std::string> fields;
  for (const auto& [name, value] : object.fields()) fields[name] = value.string_value();
  return fields;
}

VoiceGatewayOptions Options(const std::string& url, uint32_t attempts) {
  VoiceGatewayOptions options;
  options.url = url;
  options.attempts = attempts;
  options.timeout = absl::Milliseconds(1500);
  options.allow_http = true;
  return options;
}

class VoiceGatewayClientTest : public ::testing::Test {
 protected:
  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
  FakeSleeper sleeper_{clock_};
};

TEST(VoiceGatewayRequestBodyTest, IsAJsonObjectWithToAndMessage) {
  const std::string message = "Approval code: 4 8 1 5. \"Quoted\", \\ and ü.";
  EXPECT_THAT(JsonFields(VoiceGatewayRequestBody("+15550100100", message)),
              ElementsAre(Pair("message", message), Pair("to", "+15550100100")));
}

TEST(VoiceGatewayRequestBodyTest, CarriesTheExtensionWhenThereIsOne) {
  EXPECT_THAT(
      JsonFields(VoiceGatewayRequestBody("+15550100100", "m", "12")),
      ElementsAre(Pair("extension", "12"), Pair("message", "m"), Pair("to", "+15550100100")));
}

TEST(VoiceGatewayBackoffTest, DoublesUpToTheMaximum) {
  VoiceGatewayOptions options;
  options.initial_backoff = absl::Seconds(1);
  options.max_backoff = absl::Seconds(5);
  EXPECT_EQ(VoiceGatewayBackoff(options, 1), absl::Seconds(1));
  EXPECT_EQ(VoiceGatewayBackoff(options, 2), absl::Seconds(2));
  EXPECT_EQ(VoiceGatewayBackoff(options, 3), absl::Seconds(4));
  EXPECT_EQ(VoiceGatewayBackoff(options, 4), absl::Seconds(5));
  EXPECT_EQ(VoiceGatewayBackoff(options, 40), absl::Seconds(5));
}

TEST_F(VoiceGatewayClientTest, PostsJsonAndRetriesUntilTheGatewayTakesTheCall) {
  ScriptedFetcher fetcher({absl::UnavailableError("http://gateway.test/call: HTTP status 503"),
                           std::string(R"({"status": "queued"})")});
  VoiceGatewayOptions options = Options("http://gateway.test/call", 3);
  options.bearer_token = "s3cr3t-token";
  VoiceGatewayClient gateway(fetcher, options, clock_, sleeper_);
  std::vector<std::pair<uint32_t, absl::StatusCode>> attempts;
  v1::PhoneCall call = gateway.Call("+4930123456", "", "the message",
                                    [&](uint32_t attempt, const absl::Status& result) {
                                      attempts.emplace_back(attempt, result.code());
                                    });
  EXPECT_EQ(call.phone_number(), "+4930123456");
  EXPECT_TRUE(call.delivered());
  EXPECT_EQ(call.attempts(), 2u);
  EXPECT_EQ(call.error(), "");  // The earlier failure is not kept once a call is placed.
  EXPECT_THAT(attempts, ElementsAre(Pair(1u, absl::StatusCode::kUnavailable),
                                    Pair(2u, absl::StatusCode::kOk)));
  ASSERT_EQ(fetcher.requests().size(), 2u);
  for (const HttpRequest& request : fetcher.requests()) {
    EXPECT_EQ(request.url, "http://gateway.test/call");
    EXPECT_EQ(request.content_type, "application/json");
    EXPECT_EQ(request.timeout, absl::Milliseconds(1500));
    EXPECT_EQ(request.max_response_bytes, kMaxVoiceGatewayResponseBytes);
    EXPECT_THAT(request.headers, ElementsAre("Authorization: Bearer s3cr3t-token"));
    EXPECT_THAT(JsonFields(request.post_body),
                ElementsAre(Pair("message", "the message"), Pair("to", "+4930123456")));
  }
  // One wait, the initial backoff, between the two requests.
  EXPECT_THAT(sleeper_.slept(), ElementsAre(absl::Seconds(1)));
}

TEST_F(VoiceGatewayClientTest, BacksOffExponentiallyWithinTheTotalTime) {
  ScriptedFetcher fetcher(
      {absl::UnavailableError("HTTP status 503"), absl::UnavailableError("HTTP status 503"),
       absl::UnavailableError("HTTP status 503"), absl::UnavailableError("HTTP status 503")});
  VoiceGatewayOptions options = Options("http://gateway.test/call", 10);
  options.initial_backoff = absl::Seconds(1);
  options.max_backoff = absl::Seconds(60);
  options.max_total = absl::Seconds(10);
  VoiceGatewayClient gateway(fetcher, options, clock_, sleeper_);
  v1::PhoneCall call = gateway.Call("+4930123456", "7", "m", [](uint32_t, const absl::Status&) {});
  EXPECT_FALSE(call.delivered());
  EXPECT_EQ(call.extension(), "7");
  // 1 s, 2 s, 4 s: the next (8 s) would begin 15 s after the first request.
  EXPECT_THAT(sleeper_.slept(), ElementsAre(absl::Seconds(1), absl::Seconds(2), absl::Seconds(4)));
  EXPECT_EQ(call.attempts(), 4u);
  EXPECT_EQ(call.error(),
            "HTTP status 503; no further attempt: the next would begin more than 10s after the "
            "first");
}

TEST_F(VoiceGatewayClientTest, RefusesAnHttpUrlUnlessAllowedForTests) {
  ScriptedFetcher fetcher({std::string("{}")});
  VoiceGatewayOptions options = Options("http://gateway.test/call", 3);
  options.allow_http = false;
  VoiceGatewayClient gateway(fetcher, options, clock_, sleeper_);
  v1::PhoneCall call = gateway.Call("+4930123456", "", "m", [](uint32_t, const absl::Status&) {});
  EXPECT_FALSE(call.delivered());
  EXPECT_EQ(call.attempts(), 0u);
  EXPECT_EQ(call.error(), "the voice gateway URL is not https (allow_http_for_testing is off)");
  EXPECT_TRUE(fetcher.requests().empty());
}

TEST_F(VoiceGatewayClientTest, EveryAttemptFailingKeepsTheLastError) {
  ScriptedFetcher fetcher({absl::DeadlineExceededError("first: timed out"),
                           absl::UnavailableError("second: HTTP status 502")});
  VoiceGatewayClient gateway(fetcher, Options("http://gateway.test/call", 2), clock_, sleeper_);
  int observed = 0;
  v1::PhoneCall call =
      gateway.Call("+4930123456", "", "m", [&](uint32_t, const absl::Status& result) {
        EXPECT_FALSE(result.ok());
        ++observed;
      });
  EXPECT_FALSE(call.delivered());
  EXPECT_EQ(call.attempts(), 2u);
  EXPECT_EQ(call.error(), "second: HTTP status 502");
  EXPECT_EQ(observed, 2);
  EXPECT_EQ(fetcher.requests().size(), 2u);
}

TEST_F(VoiceGatewayClientTest, CallsTheRecordingGatewayOverHttp) {
  absl::StatusOr<std::unique_ptr<testing::VoiceGateway>> recording =
      testing::VoiceGateway::Start(/*failures_before_success=*/1);
  ASSERT_TRUE(recording.ok()) << recording.status();
  absl::StatusOr<AddressPolicy> policy = AddressPolicy::Create({"127.0.0.0/8"});
  ASSERT_TRUE(policy.ok()) << policy.status();
  CurlHttpFetcher fetcher(*policy);
  VoiceGatewayOptions options = Options((*recording)->url(), 3);
  options.bearer_token = "gateway-token";
  VoiceGatewayClient gateway(fetcher, options, clock_, sleeper_);
  std::vector<absl::Status> results;
  const std::string message = "Transaction number: T X N 1. Approval code: 1 2 3 4.";
  v1::PhoneCall call =
      gateway.Call("+15550100100", "42", message,
                   [&](uint32_t, const absl::Status& result) { results.push_back(result); });
  EXPECT_TRUE(call.delivered()) << call.error();
  EXPECT_EQ(call.attempts(), 2u);
  ASSERT_EQ(results.size(), 2u);
  // The gateway's "line busy" answer: the fetcher names the status, never the body it sent.
  EXPECT_THAT(results[0].message(), HasSubstr("503"));
  EXPECT_THAT(results[0].message(), ::testing::Not(HasSubstr("1 2 3 4")));
  EXPECT_TRUE(results[1].ok()) << results[1];
  EXPECT_EQ((*recording)->requests(), 2);
  const std::vector<testing::RecordedCall> calls = (*recording)->calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].to, "+15550100100");
  EXPECT_EQ(calls[0].message, message);
  EXPECT_EQ(calls[0].extension, "42");
  EXPECT_EQ(calls[0].authorization, "Bearer gateway-token");
  EXPECT_EQ(testing::SpokenApprovalCode(calls[0].message), "1234");
}

}  // namespace
}  // namespace mecai
