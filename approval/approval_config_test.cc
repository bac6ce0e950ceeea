// Start-time validation of the approval service's configuration (ARCHITECTURE.md §7 and §10): every
// bad field stops the service with one line naming the field.
#include "approval/approval_config.h"

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSource[] = "/etc/mecai/approval.textproto";

// A complete config, before defaults.
v1::ApprovalConfig ValidConfig() {
  v1::ApprovalConfig config;
  v1::ListenConfig* listen = config.mutable_listen();
  listen->set_address("0.0.0.0:7446");
  listen->mutable_tls()->set_certificate_file("/etc/mecai/approval.pem");
  listen->mutable_tls()->set_private_key_file("/etc/mecai/approval.key");
  listen->mutable_tls()->set_client_ca_file("/etc/mecai/internal-ca.pem");
  listen->mutable_tls()->add_allowed_client_identities("ca-frontend");
  config.set_web_address("127.0.0.1:8080");
  config.set_store_path("/var/lib/mecai/approval");
  (*config.mutable_rdap_base_urls())["com"] = "https://rdap.verisign.com/com/v1/";
  config.set_voice_gateway_url("https://voice.example-ca.com/calls");
  config.set_approval_site_url("https://certapproval.example-ca.com/");
  config.set_certificate_authority_name("Example CA");
  return config;
}

absl::Status Validate(const v1::ApprovalConfig& config) {
  return ValidateApprovalConfig(WithApprovalDefaults(config), kSource);
}

TEST(ApprovalConfigTest, ValidConfigPasses) {
  const absl::Status status = Validate(ValidConfig());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(ApprovalConfigTest, DefaultsFillTheDocumentedValues) {
  const v1::ApprovalConfig config = WithApprovalDefaults(ValidConfig());
  EXPECT_EQ(config.code_length(), 8u);
  EXPECT_EQ(config.code_validity_seconds(), 600u);
  EXPECT_EQ(config.max_attempts(), 5u);
  EXPECT_EQ(config.voice_gateway_attempts(), 3u);
  EXPECT_EQ(config.http_timeout_milliseconds(), 5000u);
  EXPECT_EQ(config.max_rdap_response_bytes(), 262144u);
  EXPECT_EQ(config.max_phone_numbers(), 10u);
  EXPECT_EQ(config.web_max_wrong_codes_per_address(), 20u);
  EXPECT_EQ(config.web_max_wrong_codes_per_address_and_request(), 3u);
  EXPECT_EQ(config.web_wrong_code_window_seconds(), 3600u);
  EXPECT_EQ(config.web_trusted_proxies_size(), 0);
  EXPECT_EQ(config.call_workers(), 4u);
  EXPECT_EQ(config.max_pending_calls(), 1000u);
  EXPECT_EQ(config.voice_gateway_initial_backoff_milliseconds(), 1000u);
  EXPECT_EQ(config.voice_gateway_max_backoff_milliseconds(), 30000u);
  EXPECT_EQ(config.voice_gateway_max_total_seconds(), 120u);
}

// One address alone must not be able to lock a request: the per-request default stays below
// max_attempts.
TEST(ApprovalConfigTest, ThePerRequestLimitDefaultsBelowMaxAttempts) {
  v1::ApprovalConfig config = ValidConfig();
  config.set_max_attempts(3);
  EXPECT_EQ(WithApprovalDefaults(config).web_max_wrong_codes_per_address_and_request(), 2u);
  config.set_max_attempts(1);
  EXPECT_EQ(WithApprovalDefaults(config).web_max_wrong_codes_per_address_and_request(), 1u);
  EXPECT_TRUE(Validate(config).ok()) << Validate(config);
}

TEST(ApprovalConfigTest, TrustedProxiesAndAContactPass) {
  v1::ApprovalConfig config = ValidConfig();
  config.add_web_trusted_proxies("10.0.0.0/8");
  config.add_web_trusted_proxies("127.0.0.1");
  config.add_web_trusted_proxies("2001:db8::/32");
  config.set_certificate_authority_contact("+1 555 0100, security@example-ca.com");
  config.set_approval_site_url("https://CertApproval.Example-CA.com:443/approve/");
  const absl::Status status = Validate(config);
  EXPECT_TRUE(status.ok()) << status;
}

TEST(ApprovalConfigTest, HttpOnlyWithTheFlagForTests) {
  v1::ApprovalConfig config = ValidConfig();
  (*config.mutable_rdap_base_urls())["test"] = "http://127.0.0.1:8000/rdap/";
  config.set_voice_gateway_url("http://127.0.0.1:8001/call");
  config.set_approval_site_url("http://127.0.0.1:8080/");
  EXPECT_EQ(Validate(config).code(), absl::StatusCode::kInvalidArgument);
  config.set_allow_http_for_testing(true);
  const absl::Status status = Validate(config);
  EXPECT_TRUE(status.ok()) << status;
}

TEST(ApprovalConfigTest, TheGatewayTokenIsOneBearerToken) {
  EXPECT_TRUE(ValidateVoiceGatewayToken("abcDEF-123._~+/==").ok());
  for (const std::string& bad :
       {std::string(""), std::string("two words"), std::string("line\r\nX-Injected: 1"),
        std::string(4097, 'a'), std::string("=abc")}) {
    SCOPED_TRACE(bad);
    const absl::Status status = ValidateVoiceGatewayToken(bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message(),
              "voice_gateway_token_file: must hold one bearer token (RFC 6750 §2.1 b64token, 1 "
              "to 4096 characters)");
  }
}

struct InvalidCase {
  const char* what;
  std::function<void(v1::ApprovalConfig*)> spoil;
  // "field: problem" as the message must say it.
  const char* expected;
};

TEST(ApprovalConfigTest, EachInvalidFieldIsOneLineNamingIt) {
  const std::vector<InvalidCase> cases = {
      {"no listen address", [](v1::ApprovalConfig* c) { c->mutable_listen()->clear_address(); },
       "listen.address"},
      {"listen without TLS", [](v1::ApprovalConfig* c) { c->mutable_listen()->clear_tls(); },
       "listen.tls"},
      {"web address without port", [](v1::ApprovalConfig* c) { c->set_web_address("localhost"); },
       "web_address: must be host:port"},
      {"no store", [](v1::ApprovalConfig* c) { c->clear_store_path(); }, "store_path: is required"},
      {"no RDAP server", [](v1::ApprovalConfig* c) { c->clear_rdap_base_urls(); },
       "rdap_base_urls: must name an RDAP server for at least one TLD"},
      {"RDAP key with a dot",
       [](v1::ApprovalConfig* c) {
         (*c->mutable_rdap_base_urls())["co.uk"] = "https://rdap.nominet.uk/uk/";
       },
       "rdap_base_urls: key \"co.uk\" must be a top-level domain without dots"},
      {"RDAP URL without a slash",
       [](v1::ApprovalConfig* c) { (*c->mutable_rdap_base_urls())["com"] = "https://rdap.test"; },
       "rdap_base_urls[com]: must be an https URL (http only with allow_http_for_testing) ending "
       "in /"},
      {"RDAP URL of another scheme",
       [](v1::ApprovalConfig* c) { (*c->mutable_rdap_base_urls())["com"] = "ftp://rdap.test/"; },
       "rdap_base_urls[com]: must be an https URL (http only with allow_http_for_testing) ending "
       "in /"},
      {"RDAP over http",
       [](v1::ApprovalConfig* c) { (*c->mutable_rdap_base_urls())["com"] = "http://rdap.test/"; },
       "rdap_base_urls[com]: must be an https URL (http only with allow_http_for_testing) ending "
       "in /"},
      {"gateway over http",
       [](v1::ApprovalConfig* c) { c->set_voice_gateway_url("http://voice.test/call"); },
       "voice_gateway_url: must be an https URL (http only with allow_http_for_testing)"},
      {"gateway not a URL", [](v1::ApprovalConfig* c) { c->set_voice_gateway_url("voice"); },
       "voice_gateway_url: must be an https URL (http only with allow_http_for_testing)"},
      {"site not a URL",
       [](v1::ApprovalConfig* c) { c->set_approval_site_url("certapproval.example.com"); },
       "approval_site_url: must be an https URL (http only with allow_http_for_testing)"},
      {"no CA name", [](v1::ApprovalConfig* c) { c->clear_certificate_authority_name(); },
       "certificate_authority_name: must be 1 to 100 characters"},
      {"CA name too long",
       [](v1::ApprovalConfig* c) { c->set_certificate_authority_name(std::string(101, 'C')); },
       "certificate_authority_name: must be 1 to 100 characters"},
      {"code too short", [](v1::ApprovalConfig* c) { c->set_code_length(5); },
       "code_length: must be 6..12 digits"},
      {"code too long", [](v1::ApprovalConfig* c) { c->set_code_length(13); },
       "code_length: must be 6..12 digits"},
      {"validity too short", [](v1::ApprovalConfig* c) { c->set_code_validity_seconds(59); },
       "code_validity_seconds: must be 60..86400"},
      {"validity too long", [](v1::ApprovalConfig* c) { c->set_code_validity_seconds(86401); },
       "code_validity_seconds: must be 60..86400"},
      {"too many attempts", [](v1::ApprovalConfig* c) { c->set_max_attempts(21); },
       "max_attempts: must be 1..20"},
      {"too many gateway attempts",
       [](v1::ApprovalConfig* c) { c->set_voice_gateway_attempts(11); },
       "voice_gateway_attempts: must be 1..10"},
      {"too many numbers", [](v1::ApprovalConfig* c) { c->set_max_phone_numbers(51); },
       "max_phone_numbers: must be 1..50"},
      {"site URL with user info",
       [](v1::ApprovalConfig* c) { c->set_approval_site_url("https://user@ca.test/"); },
       "approval_site_url: must not carry a user name or password"},
      {"site URL with a bad port",
       [](v1::ApprovalConfig* c) { c->set_approval_site_url("https://ca.test:99999/"); },
       "approval_site_url: must have a port of 1..65535"},
      {"trusted proxy not an address",
       [](v1::ApprovalConfig* c) { c->add_web_trusted_proxies("proxy.internal"); },
       "web_trusted_proxies: \"proxy.internal\" is not an IP address or CIDR range"},
      {"trusted proxy with host bits",
       [](v1::ApprovalConfig* c) { c->add_web_trusted_proxies("10.0.0.1/8"); },
       "web_trusted_proxies: \"10.0.0.1/8\" is not an IP address or CIDR range"},
      {"too many wrong codes per address",
       [](v1::ApprovalConfig* c) { c->set_web_max_wrong_codes_per_address(1001); },
       "web_max_wrong_codes_per_address: must be 1..1000"},
      {"per-request limit above max_attempts",
       [](v1::ApprovalConfig* c) { c->set_web_max_wrong_codes_per_address_and_request(6); },
       "web_max_wrong_codes_per_address_and_request: must be 1..max_attempts and at most "
       "web_max_wrong_codes_per_address"},
      {"per-request limit above the per-address limit",
       [](v1::ApprovalConfig* c) {
         c->set_web_max_wrong_codes_per_address(2);
         c->set_web_max_wrong_codes_per_address_and_request(3);
       },
       "web_max_wrong_codes_per_address_and_request: must be 1..max_attempts and at most "
       "web_max_wrong_codes_per_address"},
      {"window too short", [](v1::ApprovalConfig* c) { c->set_web_wrong_code_window_seconds(59); },
       "web_wrong_code_window_seconds: must be 60..86400"},
      {"window too long",
       [](v1::ApprovalConfig* c) { c->set_web_wrong_code_window_seconds(86401); },
       "web_wrong_code_window_seconds: must be 60..86400"},
      {"contact too long",
       [](v1::ApprovalConfig* c) { c->set_certificate_authority_contact(std::string(201, 'c')); },
       "certificate_authority_contact: must be at most 200 characters"},
      {"timeout too short", [](v1::ApprovalConfig* c) { c->set_http_timeout_milliseconds(99); },
       "http_timeout_milliseconds: must be 100..60000"},
      {"RDAP limit too small", [](v1::ApprovalConfig* c) { c->set_max_rdap_response_bytes(1000); },
       "max_rdap_response_bytes: must be 1024..16777216"},
      {"too many workers", [](v1::ApprovalConfig* c) { c->set_call_workers(65); },
       "call_workers: must be 1..64"},
      {"too many pending", [](v1::ApprovalConfig* c) { c->set_max_pending_calls(100001); },
       "max_pending_calls: must be 1..100000"},
      {"backoff too short",
       [](v1::ApprovalConfig* c) { c->set_voice_gateway_initial_backoff_milliseconds(9); },
       "voice_gateway_initial_backoff_milliseconds: must be 10..60000"},
      {"maximum backoff below the initial",
       [](v1::ApprovalConfig* c) {
         c->set_voice_gateway_initial_backoff_milliseconds(5000);
         c->set_voice_gateway_max_backoff_milliseconds(4000);
       },
       "voice_gateway_max_backoff_milliseconds: must be "
       "voice_gateway_initial_backoff_milliseconds..600000"},
      {"total too long",
       [](v1::ApprovalConfig* c) { c->set_voice_gateway_max_total_seconds(3601); },
       "voice_gateway_max_total_seconds: must be 1..3600"},
      {"bad address range",
       [](v1::ApprovalConfig* c) { c->add_allowed_special_address_ranges("127.0.0.0/33"); },
       "allowed_special_address_ranges: "},
  };
  for (const InvalidCase& test_case : cases) {
    SCOPED_TRACE(test_case.what);
    v1::ApprovalConfig config = ValidConfig();
    test_case.spoil(&config);
    const absl::Status status = Validate(config);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    const std::string message(status.message());
    EXPECT_THAT(message, HasSubstr(std::string("invalid config ") + kSource));
    EXPECT_THAT(message, HasSubstr(test_case.expected));
    EXPECT_THAT(message, Not(HasSubstr("\n")));
  }
}

}  // namespace
}  // namespace mecai
