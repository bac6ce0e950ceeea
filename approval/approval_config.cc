#include "approval/approval_config.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "approval/client_address.h"
#include "approval/web_origin.h"
#include "common/base/config_loader.h"
#include "common/net/address_policy.h"
#include "common/net/http_server.h"
#include "common/rpc/grpc_server.h"

namespace mecai {
namespace {

// https://, or http:// too when the config allows it for tests.
bool IsAllowedUrl(const std::string& url, bool allow_http) {
  return absl::StartsWith(url, "https://") || (allow_http && absl::StartsWith(url, "http://"));
}

std::string UrlRule(bool allow_http) {
  return allow_http ? "an http(s) URL" : "an https URL (http only with allow_http_for_testing)";
}

}  // namespace

v1::ApprovalConfig WithApprovalDefaults(const v1::ApprovalConfig& config) {
  v1::ApprovalConfig result = config;
  if (result.code_length() == 0) result.set_code_length(8);
  if (result.code_validity_seconds() == 0) result.set_code_validity_seconds(600);
  if (result.max_attempts() == 0) result.set_max_attempts(5);
  if (result.voice_gateway_attempts() == 0) result.set_voice_gateway_attempts(3);
  if (result.http_timeout_milliseconds() == 0) result.set_http_timeout_milliseconds(5000);
  if (result.max_rdap_response_bytes() == 0) result.set_max_rdap_response_bytes(256 << 10);
  if (result.max_phone_numbers() == 0) result.set_max_phone_numbers(10);
  if (result.web_idle_timeout_seconds() == 0) result.set_web_idle_timeout_seconds(10);
  if (result.web_max_connections() == 0) result.set_web_max_connections(64);
  if (result.call_workers() == 0) result.set_call_workers(4);
  if (result.max_pending_calls() == 0) result.set_max_pending_calls(1000);
  if (result.voice_gateway_initial_backoff_milliseconds() == 0) {
    result.set_voice_gateway_initial_backoff_milliseconds(1000);
  }
  if (result.voice_gateway_max_backoff_milliseconds() == 0) {
    result.set_voice_gateway_max_backoff_milliseconds(30000);
  }
  if (result.voice_gateway_max_total_seconds() == 0)
    result.set_voice_gateway_max_total_seconds(120);
  if (!result.has_web_max_connections_per_address()) {
    result.set_web_max_connections_per_address(HttpServerOptions().max_connections_per_address);
  }
  if (result.web_max_wrong_codes_per_address() == 0) result.set_web_max_wrong_codes_per_address(20);
  if (result.web_max_wrong_codes_per_address_and_request() == 0) {
    // Below max_attempts when it can be, so that one address alone cannot lock a request.
    const uint32_t below_lock = result.max_attempts() > 1 ? result.max_attempts() - 1 : 1;
    result.set_web_max_wrong_codes_per_address_and_request(std::min<uint32_t>(3, below_lock));
  }
  if (result.web_wrong_code_window_seconds() == 0) result.set_web_wrong_code_window_seconds(3600);
  return result;
}

absl::Status ValidateApprovalConfig(const v1::ApprovalConfig& config, const std::string& source) {
  ConfigErrors errors(source);
  const bool http = config.allow_http_for_testing();
  ValidateListenConfig(config.listen(), /*plaintext_allowed=*/true, "listen", &errors);
  errors.Require(IsValidHostPort(config.web_address(), /*allow_port_zero=*/true), "web_address",
                 "must be host:port");
  errors.Require(!config.store_path().empty(), "store_path", "is required");
  errors.Require(!config.rdap_base_urls().empty(), "rdap_base_urls",
                 "must name an RDAP server for at least one TLD");
  for (const auto& [tld, url] : config.rdap_base_urls()) {
    errors.Require(!tld.empty() && tld.find('.') == std::string::npos, "rdap_base_urls",
                   "key \"" + tld + "\" must be a top-level domain without dots");
    errors.Require(IsAllowedUrl(url, http) && absl::EndsWith(url, "/"),
                   "rdap_base_urls[" + tld + "]", "must be " + UrlRule(http) + " ending in /");
  }
  errors.Require(IsAllowedUrl(config.voice_gateway_url(), http), "voice_gateway_url",
                 "must be " + UrlRule(http));
  errors.Require(IsAllowedUrl(config.approval_site_url(), http), "approval_site_url",
                 "must be " + UrlRule(http));
  errors.Require(!config.certificate_authority_name().empty() &&
                     config.certificate_authority_name().size() <= 100,
                 "certificate_authority_name", "must be 1 to 100 characters");
  errors.Require(config.code_length() >= 6 && config.code_length() <= 12, "code_length",
                 "must be 6..12 digits");
  errors.Require(config.code_validity_seconds() >= 60 && config.code_validity_seconds() <= 86400,
                 "code_validity_seconds", "must be 60..86400");
  errors.Require(config.max_attempts() <= 20, "max_attempts", "must be 1..20");
  errors.Require(config.voice_gateway_attempts() <= 10, "voice_gateway_attempts", "must be 1..10");
  errors.Require(config.max_phone_numbers() <= 50, "max_phone_numbers", "must be 1..50");
  errors.Require(
      config.http_timeout_milliseconds() >= 100 && config.http_timeout_milliseconds() <= 60000,
      "http_timeout_milliseconds", "must be 100..60000");
  errors.Require(
      config.max_rdap_response_bytes() >= 1024 && config.max_rdap_response_bytes() <= (16u << 20),
      "max_rdap_response_bytes", "must be 1024..16777216");
  errors.Require(config.call_workers() <= 64, "call_workers", "must be 1..64");
  errors.Require(config.max_pending_calls() <= 100000, "max_pending_calls", "must be 1..100000");
  errors.Require(config.voice_gateway_initial_backoff_milliseconds() >= 10 &&
                     config.voice_gateway_initial_backoff_milliseconds() <= 60000,
                 "voice_gateway_initial_backoff_milliseconds", "must be 10..60000");
  errors.Require(config.voice_gateway_max_backoff_milliseconds() >=
                         config.voice_gateway_initial_backoff_milliseconds() &&
                     config.voice_gateway_max_backoff_milliseconds() <= 600000,
                 "voice_gateway_max_backoff_milliseconds",
                 "must be voice_gateway_initial_backoff_milliseconds..600000");
  errors.Require(config.voice_gateway_max_total_seconds() <= 3600,
                 "voice_gateway_max_total_seconds", "must be 1..3600");
  errors.Require(config.web_idle_timeout_seconds() <= 300, "web_idle_timeout_seconds",
                 "must be 1..300");
  errors.Require(config.web_max_connections() <= 10000, "web_max_connections", "must be 1..10000");
  // The web server's threads each serve their share of the connections (HttpServerOptions).
  errors.Require(
      config.web_max_connections_per_address() <
          config.web_max_connections() / HttpServerOptions().threads,
      "web_max_connections_per_address",
      "must be below web_max_connections / " + std::to_string(HttpServerOptions().threads));
  absl::StatusOr<std::string> site_origin = WebOriginOfUrl(config.approval_site_url());
  errors.Require(!IsAllowedUrl(config.approval_site_url(), /*allow_http=*/true) || site_origin.ok(),
                 "approval_site_url", std::string(site_origin.status().message()));
  errors.Require(config.certificate_authority_contact().size() <= 200,
                 "certificate_authority_contact", "must be at most 200 characters");
  absl::Status proxies = ClientAddressResolver::Create({config.web_trusted_proxies().begin(),
                                                        config.web_trusted_proxies().end()})
                             .status();
  errors.Require(proxies.ok(), "web_trusted_proxies", std::string(proxies.message()));
  errors.Require(config.web_max_wrong_codes_per_address() <= 1000,
                 "web_max_wrong_codes_per_address", "must be 1..1000");
  errors.Require(config.web_max_wrong_codes_per_address_and_request() <= config.max_attempts() &&
                     config.web_max_wrong_codes_per_address_and_request() <=
                         config.web_max_wrong_codes_per_address(),
                 "web_max_wrong_codes_per_address_and_request",
                 "must be 1..max_attempts and at most web_max_wrong_codes_per_address");
  errors.Require(config.web_wrong_code_window_seconds() >= 60 &&
                     config.web_wrong_code_window_seconds() <= 86400,
                 "web_wrong_code_window_seconds", "must be 60..86400");
  std::vector<std::string> ranges(config.allowed_special_address_ranges().begin(),
                                  config.allowed_special_address_ranges().end());
  absl::Status policy = AddressPolicy::Create(ranges).status();
  errors.Require(policy.ok(), "allowed_special_address_ranges", std::string(policy.message()));
  return errors.ToStatus();
}

absl::Status ValidateVoiceGatewayToken(const std::string& token) {
  // RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
  size_t end = token.find_last_not_of('=');
  bool valid = !token.empty() && token.size() <= 4096 && end != std::string::npos;
  for (size_t i = 0; valid && i <= end; ++i) {
    const char c = token[i];
    valid = absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ||
            c == '_' || c == '~' || c == '+' || c == '/';
  }
  if (!valid) {
    return absl::InvalidArgumentError(
        "voice_gateway_token_file: must hold one bearer token (RFC 6750 §2.1 b64token, 1 to "
        "4096 characters)");
  }
  return absl::OkStatus();
}

}  // namespace mecai
