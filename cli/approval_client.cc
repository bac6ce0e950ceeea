#include "cli/approval_client.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <chrono>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "approval/proof_of_possession.h"
#include "approval/transaction_number.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/crypto/openssl_error.h"
#include "common/crypto/openssl_types.h"
#include "common/crypto/pem.h"
#include "common/net/dns_name.h"
#include "common/rpc/grpc_channel.h"
#include "proto/mecai/v1/approval.grpc.pb.h"

namespace mecai {
namespace {

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

// A CSR file, PEM ("CERTIFICATE REQUEST") or DER, as DER.
absl::StatusOr<std::string> ReadCsrDer(const std::string& path) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  if (!absl::StrContains(bytes, "-----BEGIN")) return bytes;
  ClearOpenSslErrors();
  BioPtr bio(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
  X509ReqPtr csr(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (csr == nullptr) {
    return OpenSslError(absl::StrCat(path, ": not a PEM CERTIFICATE REQUEST"),
                        absl::StatusCode::kInvalidArgument);
  }
  unsigned char* der = nullptr;
  const int length = i2d_X509_REQ(csr.get(), &der);
  if (length <= 0) return OpenSslError("i2d_X509_REQ");
  std::string result(reinterpret_cast<char*>(der), length);
  OPENSSL_free(der);
  return result;
}

// A public key file: PEM PUBLIC KEY, PEM certificate, or DER SubjectPublicKeyInfo.
absl::StatusOr<std::string> ReadSubjectPublicKeyInfoDer(const std::string& path) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  if (!absl::StrContains(bytes, "-----BEGIN")) return bytes;
  ASSIGN_OR_RETURN(EvpPkeyPtr key, LoadPemPublicKey(path));
  return PublicKeyToDer(key.get());
}

std::string Time(int64_t unix_milliseconds) {
  if (unix_milliseconds == 0) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(unix_milliseconds),
                          absl::UTCTimeZone());
}

std::string StateName(v1::IssuanceState state) {
  std::string name = v1::IssuanceState_Name(state);
  const std::string prefix = "ISSUANCE_STATE_";
  return absl::StartsWith(name, prefix) ? name.substr(prefix.size()) : name;
}

std::string KindName(v1::AuditEventKind kind) {
  std::string name = v1::AuditEventKind_Name(kind);
  const std::string prefix = "AUDIT_EVENT_KIND_";
  return absl::StartsWith(name, prefix) ? name.substr(prefix.size()) : name;
}

}  // namespace

absl::StatusOr<v1::IssuanceStatus> SubmitApprovalRequest(const ApprovalSubmitOptions& options) {
  const int sources =
      !options.csr_file.empty() + !options.key_file.empty() + !options.spki_file.empty();
  if (sources != 1) {
    return absl::InvalidArgumentError("give exactly one of --csr, --key and --spki");
  }
  if (!options.spki_file.empty() && options.proof_file.empty()) {
    return absl::InvalidArgumentError(
        "--spki needs --proof: the key's signature over the proof message (docs/APPROVAL.md), or "
        "give --key or --csr instead");
  }
  v1::SubmitIssuanceRequestRequest request;
  request.set_domain(options.domain);
  request.set_transaction_number(options.transaction_number);
  request.set_requester(options.requester);
  if (!options.csr_file.empty()) {
    ASSIGN_OR_RETURN(*request.mutable_csr_der(), ReadCsrDer(options.csr_file));
  } else if (!options.key_file.empty()) {
    ASSIGN_OR_RETURN(EvpPkeyPtr key, LoadPemPrivateKey(options.key_file));
    request.set_subject_public_key_info_der(PublicKeyToDer(key.get()));
    ASSIGN_OR_RETURN(*request.mutable_proof_of_possession(),
                     SignProofOfPossession(key.get(), CanonicalHostname(options.domain)));
  } else {
    ASSIGN_OR_RETURN(*request.mutable_subject_public_key_info_der(),
                     ReadSubjectPublicKeyInfoDer(options.spki_file));
    ASSIGN_OR_RETURN(*request.mutable_proof_of_possession(), ReadFile(options.proof_file));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel, MakeChannel(options.server));
  auto stub = v1::ApprovalService::NewStub(channel);
  v1::IssuanceStatus status;
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + options.timeout));
    RETURN_IF_ERROR(FromGrpc(stub->SubmitIssuanceRequest(&context, request, &status)));
  }
  const absl::Time until = absl::Now() + options.wait;
  while (status.state() == v1::ISSUANCE_STATE_CALLING && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(250));
    v1::GetIssuanceStatusRequest poll;
    poll.set_transaction_number(status.transaction_number());
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + options.timeout));
    v1::IssuanceStatus polled;
    RETURN_IF_ERROR(FromGrpc(stub->GetIssuanceStatus(&context, poll, &polled)));
    status = std::move(polled);
  }
  return status;
}

absl::StatusOr<v1::IssuanceStatus> GetApprovalStatus(const ApprovalStatusOptions& options) {
  v1::GetIssuanceStatusRequest request;
  if (options.transaction_number.empty() == options.key_sha256_hex.empty()) {
    return absl::InvalidArgumentError("give exactly one of --tn and --key-sha256");
  }
  if (!options.transaction_number.empty()) {
    request.set_transaction_number(options.transaction_number);
  } else {
    std::string sha256;
    const std::string hex = absl::AsciiStrToLower(options.key_sha256_hex);
    if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return absl::InvalidArgumentError("--key-sha256 must be 64 hexadecimal digits");
    }
    request.set_subject_public_key_info_sha256(absl::HexStringToBytes(hex));
    request.set_hostname(options.hostname);
  }
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel, MakeChannel(options.server));
  auto stub = v1::ApprovalService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options.timeout));
  v1::IssuanceStatus status;
  RETURN_IF_ERROR(FromGrpc(stub->GetIssuanceStatus(&context, request, &status)));
  return status;
}

std::string DescribeIssuanceStatus(const v1::IssuanceStatus& status) {
  std::string text = absl::StrCat(
      "transaction number: ", GroupedTransactionNumber(status.transaction_number()), "\n",
      "state: ", StateName(status.state()),
      status.state_detail().empty() ? "" : absl::StrCat(" (", status.state_detail(), ")"), "\n",
      "domain: ", status.domain(), "\n", "requester: ", absl::CHexEscape(status.requester()), "\n",
      "key SHA-256: ", HexEncode(status.subject_public_key_info_sha256()), "\n",
      "names: ", absl::StrJoin(status.names(), ", "),
      status.whole_domain() ? " and every name below it" : "", "\n",
      "submitted: ", Time(status.submitted_unix_milliseconds()), "\n",
      "code expires: ", Time(status.code_expires_unix_milliseconds()), "\n",
      "decided: ", Time(status.decided_unix_milliseconds()), "\n",
      "wrong codes: ", status.failed_attempts(), " of ", status.max_attempts(), "\n");
  for (const v1::PhoneCall& call : status.calls()) {
    absl::StrAppend(&text, "call: ", call.phone_number(),
                    call.extension().empty() ? "" : absl::StrCat(" extension ", call.extension()),
                    ": ", call.delivered() ? "placed" : "failed", " after ", call.attempts(),
                    call.attempts() == 1 ? " attempt" : " attempts",
                    call.error().empty() ? "" : absl::StrCat(" (", call.error(), ")"), "\n");
  }
  absl::StrAppend(&text, "audit trail:\n");
  for (const v1::AuditEvent& event : status.audit_trail()) {
    absl::StrAppend(
        &text, "  ", Time(event.time_unix_milliseconds()), " ", KindName(event.kind()), ": ",
        event.detail(),
        event.remote_address().empty() ? "" : absl::StrCat(" [", event.remote_address(), "]"),
        "\n");
  }
  if (status.has_signed_record()) absl::StrAppend(&text, "signed record: present\n");
  return text;
}

}  // namespace mecai
