// Defaults and start-time validation of the approval service's configuration (ARCHITECTURE.md §7
// and §10: a bad config stops the process with a message naming the field).
#ifndef MECAI_APPROVAL_APPROVAL_CONFIG_H_
#define MECAI_APPROVAL_APPROVAL_CONFIG_H_

#include <string>

#include "absl/status/status.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {

// `config` with every unset numeric field at its documented default (code_length 8,
// code_validity_seconds 600, max_attempts 5, voice_gateway_attempts 3, http_timeout_milliseconds
// 5000, max_rdap_response_bytes 262144, max_phone_numbers 10, web_idle_timeout_seconds 10,
// web_max_connections 64, web_max_connections_per_address 8, web_max_wrong_codes_per_address 20,
// web_max_wrong_codes_per_address_and_request 3 (or max_attempts - 1 when smaller, at least 1),
// web_wrong_code_window_seconds 3600, call_workers 4, max_pending_calls 1000,
// voice_gateway_initial_backoff_milliseconds 1000, voice_gateway_max_backoff_milliseconds 30000,
// voice_gateway_max_total_seconds 120).
v1::ApprovalConfig WithApprovalDefaults(const v1::ApprovalConfig& config);

// INVALID_ARGUMENT naming every bad field of `config` (after WithApprovalDefaults); `source`
// (the file) prefixes the message.
absl::Status ValidateApprovalConfig(const v1::ApprovalConfig& config, const std::string& source);

// OK when `token` (voice_gateway_token_file without its trailing white space) is an RFC 6750 §2.1
// b64token of 1 to 4096 characters; INVALID_ARGUMENT "voice_gateway_token_file: ..." otherwise.
absl::Status ValidateVoiceGatewayToken(const std::string& token);

}  // namespace mecai

#endif  // MECAI_APPROVAL_APPROVAL_CONFIG_H_
