// What `mecai approval submit` and `mecai approval status` do (docs/APPROVAL.md "The command
// line"): a CA's side of phone approval over mutual-TLS gRPC (proto/mecai/v1/approval.proto).
#ifndef MECAI_CLI_APPROVAL_CLIENT_H_
#define MECAI_CLI_APPROVAL_CLIENT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/mecai/v1/approval.pb.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {

struct ApprovalSubmitOptions {
  v1::PeerConfig server;
  std::string domain;
  // Empty: the service draws one.
  std::string transaction_number;
  std::string requester;
  // Exactly one way of naming the key: a CSR (PEM or DER); a private key (PEM), whose public key
  // is sent with a proof of possession made with it; or a public key (PEM SubjectPublicKeyInfo,
  // a PEM certificate, or DER) with a proof file (the raw signature, docs/APPROVAL.md).
  std::string csr_file;
  std::string key_file;
  std::string spki_file;
  std::string proof_file;
  // Poll GetIssuanceStatus until the request is no longer CALLING, at most this long (0: answer
  // with what SubmitIssuanceRequest answered).
  absl::Duration wait = absl::ZeroDuration();
  absl::Duration timeout = absl::Seconds(30);
};

// Builds the request from the files and submits it; then, with `wait`, polls. The service's
// refusals are its status (INVALID_ARGUMENT, ALREADY_EXISTS, RESOURCE_EXHAUSTED, ...).
absl::StatusOr<v1::IssuanceStatus> SubmitApprovalRequest(const ApprovalSubmitOptions& options);

struct ApprovalStatusOptions {
  v1::PeerConfig server;
  // Either the transaction number (as typed) or the key's SHA-256 in hex with an optional host.
  std::string transaction_number;
  std::string key_sha256_hex;
  std::string hostname;
  absl::Duration timeout = absl::Seconds(30);
};

absl::StatusOr<v1::IssuanceStatus> GetApprovalStatus(const ApprovalStatusOptions& options);

// The status for people: transaction number (in groups), state and why, domain, requester, key,
// names, times, attempts, each call and the audit trail, one item a line.
std::string DescribeIssuanceStatus(const v1::IssuanceStatus& status);

}  // namespace mecai

#endif  // MECAI_CLI_APPROVAL_CLIENT_H_
