#include "approval/approvals.h"

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/logging.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/crypto/openssl_error.h"
#include "common/crypto/openssl_types.h"
#include "common/net/dns_name.h"

namespace mecai {
namespace {

constexpr size_t kMaxRequesterCharacters = 200;
constexpr size_t kMaxKeyBytes = 16 << 10;
constexpr size_t kMaxNames = 100;

bool IsPending(v1::IssuanceState state) {
  return state == v1::ISSUANCE_STATE_CALLING || state == v1::ISSUANCE_STATE_AWAITING_APPROVAL;
}

bool IsPrintableText(absl::string_view text) {
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

absl::StatusOr<std::string> SubjectPublicKeyInfoDer(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  ClearOpenSslErrors();
  const int length = i2d_PUBKEY(key, &der);
  if (length <= 0) return OpenSslError("i2d_PUBKEY");
  std::string bytes(reinterpret_cast<char*>(der), length);
  OPENSSL_free(der);
  return bytes;
}

struct ParsedKey {
  std::string spki_der;
  std::vector<std::string> names;
};

// A PKCS #10 CSR (RFC 2986): its signature must verify; its names are the dNSName
// subjectAltNames of its extension request, else the subject CN.
absl::StatusOr<ParsedKey> ParseCsr(const std::string& der) {
  const unsigned char* cursor = reinterpret_cast<const unsigned char*>(der.data());
  ClearOpenSslErrors();
  X509ReqPtr csr(d2i_X509_REQ(nullptr, &cursor, static_cast<long>(der.size())));
  if (csr == nullptr || cursor != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return OpenSslError("csr_der is not a DER PKCS #10 request",
                        absl::StatusCode::kInvalidArgument);
  }
  EVP_PKEY* key = X509_REQ_get0_pubkey(csr.get());  // Borrowed.
  if (key == nullptr || X509_REQ_verify(csr.get(), key) != 1) {
    return OpenSslError("csr_der: the signature does not verify",
                        absl::StatusCode::kInvalidArgument);
  }
  ParsedKey parsed;
  ASSIGN_OR_RETURN(parsed.spki_der, SubjectPublicKeyInfoDer(key));
  STACK_OF(X509_EXTENSION)* extensions = X509_REQ_get_extensions(csr.get());
  if (extensions != nullptr) {
    auto* names = static_cast<GENERAL_NAMES*>(
        X509V3_get_d2i(extensions, NID_subject_alt_name, nullptr, nullptr));
    if (names != nullptr) {
      for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
        const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
        if (name->type != GEN_DNS) continue;
        const ASN1_STRING* value = name->d.dNSName;
        parsed.names.push_back(CanonicalHostname(
            absl::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                              ASN1_STRING_length(value))));
      }
      GENERAL_NAMES_free(names);
    }
    sk_X509_EXTENSION_pop_free(extensions, X509_EXTENSION_free);
  }
  if (parsed.names.empty()) {
    X509_NAME* subject = X509_REQ_get_subject_name(csr.get());  // Borrowed.
    char common_name[256] = {0};
    if (X509_NAME_get_text_by_NID(subject, NID_commonName, common_name, sizeof(common_name)) > 0) {
      parsed.names.push_back(CanonicalHostname(common_name));
    }
  }
  ClearOpenSslErrors();
  return parsed;
}

absl::StatusOr<ParsedKey> ParseSubjectPublicKeyInfo(const std::string& der) {
  const unsigned char* cursor = reinterpret_cast<const unsigned char*>(der.data());
  ClearOpenSslErrors();
  EvpPkeyPtr key(d2i_PUBKEY(nullptr, &cursor, static_cast<long>(der.size())));
  if (key == nullptr || cursor != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return OpenSslError("subject_public_key_info_der is not a DER SubjectPublicKeyInfo",
                        absl::StatusCode::kInvalidArgument);
  }
  ParsedKey parsed;
  ASSIGN_OR_RETURN(parsed.spki_der, SubjectPublicKeyInfoDer(key.get()));
  return parsed;
}

}  // namespace

// What a valid request asks to approve.
struct Approvals::Submission {
  // Lower case.
  std::string domain;
  std::string spki_der;
  // The names the key is for; the domain itself when the request names no host.
  std::vector<std::string> names;
  bool whole_domain = false;
};

// The RDAP lookup and the calls placed for one request, not yet stored.
struct Approvals::CallOutcome {
  std::vector<v1::PhoneCall> calls;
  // RDAP_LOOKUP_*, CALL_PLACED and CALL_FAILED, in the order they happened.
  std::vector<v1::AuditEvent> events;
  // The registry answered and listed no phone number.
  bool no_numbers = false;
};

ApprovalOptions ApprovalOptions::FromConfig(const v1::ApprovalConfig& config) {
  ApprovalOptions options;
  options.code_length = config.code_length();
  options.code_validity = absl::Seconds(config.code_validity_seconds());
  options.max_attempts = config.max_attempts();
  options.voice_gateway_attempts = config.voice_gateway_attempts();
  options.http_timeout = absl::Milliseconds(config.http_timeout_milliseconds());
  options.voice_gateway_url = config.voice_gateway_url();
  options.approval_site_url = config.approval_site_url();
  options.certificate_authority_name = config.certificate_authority_name();
  options.rdap.base_urls = std::map<std::string, std::string>(config.rdap_base_urls().begin(),
                                                              config.rdap_base_urls().end());
  options.rdap.timeout = options.http_timeout;
  options.rdap.max_response_bytes = config.max_rdap_response_bytes();
  options.rdap.max_numbers = config.max_phone_numbers();
  return options;
}

bool IsValidTransactionNumber(absl::string_view transaction_number) {
  if (transaction_number.size() < 6 || transaction_number.size() > 32) return false;
  for (char c : transaction_number) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

Approvals::Approvals(ApprovalOptions options, ApprovalStore& store, HttpFetcher& fetcher,
                     const Clock& clock, RandomSource& random, ApprovalMetrics* metrics)
    : options_(std::move(options)),
      store_(store),
      clock_(clock),
      random_(random),
      rdap_(fetcher, options_.rdap),
      gateway_(fetcher,
               VoiceGatewayOptions{options_.voice_gateway_url, options_.voice_gateway_attempts,
                                   options_.http_timeout}),
      metrics_(metrics) {}

v1::AuditEvent Approvals::Event(v1::AuditEventKind kind, std::string detail,
                                const std::string& remote_address) const {
  v1::AuditEvent event;
  event.set_time_unix_milliseconds(clock_.NowUnixMilliseconds());
  event.set_kind(kind);
  event.set_detail(std::move(detail));
  event.set_remote_address(remote_address);
  return event;
}

bool Approvals::ExpireIfDue(StoredRequest& request, std::vector<v1::AuditEvent>* events) const {
  v1::IssuanceStatus& status = request.status;
  if (!IsPending(status.state()) ||
      clock_.NowUnixMilliseconds() < status.code_expires_unix_milliseconds()) {
    return false;
  }
  status.set_state(v1::ISSUANCE_STATE_EXPIRED);
  CountState(v1::ISSUANCE_STATE_EXPIRED);
  status.set_decided_unix_milliseconds(clock_.NowUnixMilliseconds());
  events->push_back(Event(v1::AUDIT_EVENT_KIND_EXPIRED,
                          "the approval code expired before the request was decided"));
  return true;
}

std::string Approvals::CallMessage(const v1::IssuanceStatus& status, absl::string_view code) const {
  // MECAI phone-approval proposal: "tell them, there is a request for a cert for "domain", a
  // transaction number (chosen by the CA) and a random approval code", naming the certapproval
  // site.
  return absl::StrCat("This is ", options_.certificate_authority_name,
                      ". A certificate was requested for the domain ", status.domain(), " by ",
                      status.requester(),
                      ". Transaction number: ", SpokenDigits(status.transaction_number()),
                      ". Approval code: ", SpokenDigits(code),
                      ". If you expect this certificate, visit ", options_.approval_site_url,
                      " , enter the transaction number, check the request and enter the approval "
                      "code to approve it, or reject it. The code is valid for ",
                      absl::ToInt64Minutes(options_.code_validity), " minutes.");
}

v1::PhoneCall Approvals::Call(const std::string& phone_number, const std::string& message,
                              std::vector<v1::AuditEvent>* events) {
  return gateway_.Call(phone_number, message, [&](uint32_t attempt, const absl::Status& result) {
    if (metrics_ != nullptr) metrics_->RecordGatewayRequest(result.ok());
    const std::string which =
        absl::StrCat(" (attempt ", attempt, " of ", options_.voice_gateway_attempts, ")");
    if (result.ok()) {
      events->push_back(Event(v1::AUDIT_EVENT_KIND_CALL_PLACED,
                              absl::StrCat("call to ", phone_number, " placed", which)));
    } else {
      events->push_back(
          Event(v1::AUDIT_EVENT_KIND_CALL_FAILED,
                absl::StrCat("call to ", phone_number, " failed", which, ": ", result.message())));
    }
  });
}

absl::StatusOr<v1::IssuanceStatus> Approvals::Submit(
    const v1::SubmitIssuanceRequestRequest& request) {
  absl::StatusOr<v1::IssuanceStatus> status = RecordAndCall(request);
  if (metrics_ != nullptr) {
    switch (status.status().code()) {
      case absl::StatusCode::kOk:
        metrics_->RecordSubmission("accepted");
        break;
      case absl::StatusCode::kInvalidArgument:
        metrics_->RecordSubmission("invalid");
        break;
      case absl::StatusCode::kAlreadyExists:
        metrics_->RecordSubmission("duplicate");
        break;
      default:
        metrics_->RecordSubmission("error");
    }
  }
  return status;
}

absl::StatusOr<Approvals::Submission> Approvals::Validate(
    const v1::SubmitIssuanceRequestRequest& request) {
  // The domain as a person typed it, in canonical (lower-case) form; then the domain rule of
  // common/net/dns_name.h: two or more LDH labels, no wildcard, no IP literal.
  const std::string domain = CanonicalHostname(request.domain());
  RETURN_IF_ERROR(Annotate(ValidateHostname(domain, hostname_rules::kApprovalDomain), "domain"));
  if (!IsValidTransactionNumber(request.transaction_number())) {
    return absl::InvalidArgumentError("transaction_number: must be 6 to 32 letters and digits");
  }
  if (request.requester().empty() || request.requester().size() > kMaxRequesterCharacters ||
      !IsPrintableText(request.requester())) {
    return absl::InvalidArgumentError("requester: must be 1 to 200 printable characters");
  }
  ParsedKey key;
  switch (request.key_case()) {
    case v1::SubmitIssuanceRequestRequest::kCsrDer: {
      if (request.csr_der().size() > kMaxKeyBytes) {
        return absl::InvalidArgumentError("csr_der: larger than 16 KiB");
      }
      ASSIGN_OR_RETURN(key, ParseCsr(request.csr_der()));
      break;
    }
    case v1::SubmitIssuanceRequestRequest::kSubjectPublicKeyInfoDer: {
      if (request.subject_public_key_info_der().size() > kMaxKeyBytes) {
        return absl::InvalidArgumentError("subject_public_key_info_der: larger than 16 KiB");
      }
      ASSIGN_OR_RETURN(key, ParseSubjectPublicKeyInfo(request.subject_public_key_info_der()));
      break;
    }
    case v1::SubmitIssuanceRequestRequest::KEY_NOT_SET:
      return absl::InvalidArgumentError("csr_der or subject_public_key_info_der is required");
  }
  // A request naming no host is for the whole domain (approval.proto IssuanceStatus.whole_domain).
  const bool whole_domain = key.names.empty();
  if (whole_domain) key.names.push_back(domain);
  if (key.names.size() > kMaxNames) {
    return absl::InvalidArgumentError("csr_der: more than 100 names");
  }
  // Each CSR name (lower-cased by ParseCsr): a hostname with at most a leading wildcard label
  // (hostname_rules::kApprovalName), at or below the domain.
  for (const std::string& name : key.names) {
    RETURN_IF_ERROR(Annotate(ValidateHostname(name, hostname_rules::kApprovalName), "csr_der"));
    if (!IsWithinDomain(name, domain)) {
      return absl::InvalidArgumentError(absl::StrCat("csr_der: the name \"", absl::CHexEscape(name),
                                                     "\" is not ", domain, " or below it"));
    }
  }

  return Submission{domain, std::move(key.spki_der), std::move(key.names), whole_domain};
}

absl::StatusOr<v1::IssuanceStatus> Approvals::RecordAndCall(
    const v1::SubmitIssuanceRequestRequest& request) {
  ASSIGN_OR_RETURN(const Submission submission, Validate(request));
  ASSIGN_OR_RETURN(std::string code, GenerateApprovalCode(random_, options_.code_length));
  ASSIGN_OR_RETURN(const v1::IssuanceStatus recorded, Record(request, submission, code));
  const CallOutcome outcome = CallContacts(recorded, code);
  RETURN_IF_ERROR(StoreCalls(recorded.transaction_number(), outcome));
  return GetStatus(recorded.transaction_number());
}

absl::StatusOr<v1::IssuanceStatus> Approvals::Record(
    const v1::SubmitIssuanceRequestRequest& request, const Submission& submission,
    absl::string_view code) {
  StoredRequest stored;
  ASSIGN_OR_RETURN(stored.code_salt, random_.Bytes(kApprovalCodeSaltBytes));
  stored.code_sha256 = HashApprovalCode(stored.code_salt, code);
  v1::IssuanceStatus& status = stored.status;
  status.set_transaction_number(request.transaction_number());
  status.set_domain(submission.domain);
  status.set_requester(request.requester());
  status.set_state(v1::ISSUANCE_STATE_CALLING);
  status.set_subject_public_key_info_sha256(Sha256(submission.spki_der));
  for (const std::string& name : submission.names) status.add_names(name);
  status.set_whole_domain(submission.whole_domain);
  const absl::Time now = clock_.Now();
  status.set_submitted_unix_milliseconds(absl::ToUnixMillis(now));
  status.set_code_expires_unix_milliseconds(absl::ToUnixMillis(now + options_.code_validity));
  status.set_max_attempts(options_.max_attempts);
  RETURN_IF_ERROR(store_.Create(
      stored,
      {Event(v1::AUDIT_EVENT_KIND_SUBMITTED,
             absl::StrCat("issuance request for ", submission.domain, " by ", request.requester(),
                          ", key SHA-256 ", HexEncode(status.subject_public_key_info_sha256()),
                          ", names ", absl::StrJoin(submission.names, ", ")))}));
  MECAI_LOG(Info) << "approval request " << status.transaction_number() << " for "
                  << submission.domain;
  CountState(v1::ISSUANCE_STATE_CALLING);
  return status;
}

Approvals::CallOutcome Approvals::CallContacts(const v1::IssuanceStatus& status,
                                               absl::string_view code) {
  // Contacts from the registry (RFC 9083), then one call per number (MECAI phone-approval
  // proposal).
  CallOutcome outcome;
  absl::StatusOr<std::vector<std::string>> numbers = rdap_.LookupPhoneNumbers(status.domain());
  if (metrics_ != nullptr) metrics_->RecordRdapLookup(numbers.ok());
  if (!numbers.ok()) {
    outcome.events.push_back(
        Event(v1::AUDIT_EVENT_KIND_RDAP_LOOKUP_FAILED, std::string(numbers.status().message())));
    return outcome;
  }
  outcome.no_numbers = numbers->empty();
  outcome.events.push_back(Event(v1::AUDIT_EVENT_KIND_RDAP_LOOKUP_SUCCEEDED,
                                 absl::StrCat("RDAP lists ", numbers->size(), " phone number(s): ",
                                              absl::StrJoin(*numbers, ", "))));
  const std::string message = CallMessage(status, code);
  for (const std::string& number : *numbers) {
    outcome.calls.push_back(Call(number, message, &outcome.events));
    if (metrics_ != nullptr) metrics_->RecordCall(outcome.calls.back().delivered());
  }
  return outcome;
}

absl::Status Approvals::StoreCalls(const std::string& transaction_number,
                                   const CallOutcome& outcome) {
  bool delivered = false;
  for (const v1::PhoneCall& call : outcome.calls) delivered = delivered || call.delivered();
  return store_
      .Mutate(transaction_number,
              [&](StoredRequest& current, std::vector<v1::AuditEvent>* new_events) {
                *new_events = outcome.events;
                for (const v1::PhoneCall& call : outcome.calls) *current.status.add_calls() = call;
                // A person may have decided while later numbers were still being called.
                if (current.status.state() != v1::ISSUANCE_STATE_CALLING) {
                  return absl::OkStatus();
                }
                if (delivered) {
                  current.status.set_state(v1::ISSUANCE_STATE_AWAITING_APPROVAL);
                  CountState(v1::ISSUANCE_STATE_AWAITING_APPROVAL);
                  new_events->push_back(Event(v1::AUDIT_EVENT_KIND_AWAITING_APPROVAL,
                                              "waiting for a person on the approval page"));
                } else {
                  current.status.set_state(v1::ISSUANCE_STATE_FAILED);
                  CountState(v1::ISSUANCE_STATE_FAILED);
                  current.status.set_decided_unix_milliseconds(clock_.NowUnixMilliseconds());
                  new_events->push_back(Event(
                      v1::AUDIT_EVENT_KIND_FAILED,
                      outcome.no_numbers ? "the registry lists no phone number: nobody can approve"
                                         : "no call could be placed: nobody can approve"));
                }
                return absl::OkStatus();
              })
      .status();
}

absl::StatusOr<v1::IssuanceStatus> Approvals::GetStatus(const std::string& transaction_number) {
  if (!IsValidTransactionNumber(transaction_number)) {
    return absl::NotFoundError("no request with this transaction number");
  }
  ASSIGN_OR_RETURN(StoredRequest current, store_.Get(transaction_number));
  if (IsPending(current.status.state()) &&
      clock_.NowUnixMilliseconds() >= current.status.code_expires_unix_milliseconds()) {
    RETURN_IF_ERROR(store_
                        .Mutate(transaction_number,
                                [&](StoredRequest& request, std::vector<v1::AuditEvent>* events) {
                                  ExpireIfDue(request, events);
                                  return absl::OkStatus();
                                })
                        .status());
    ASSIGN_OR_RETURN(current, store_.Get(transaction_number));
  }
  return current.status;
}

absl::StatusOr<v1::IssuanceStatus> Approvals::GetStatusByKey(const std::string& spki_sha256) {
  if (spki_sha256.size() != 32) {
    return absl::InvalidArgumentError("subject_public_key_info_sha256: must be 32 bytes");
  }
  ASSIGN_OR_RETURN(std::string transaction_number, store_.FindByKey(spki_sha256));
  return GetStatus(transaction_number);
}

absl::StatusOr<v1::IssuanceStatus> Approvals::View(const std::string& transaction_number,
                                                   const std::string& remote_address) {
  if (!IsValidTransactionNumber(transaction_number)) {
    return absl::NotFoundError("no request with this transaction number");
  }
  RETURN_IF_ERROR(store_
                      .Mutate(transaction_number,
                              [&](StoredRequest& request, std::vector<v1::AuditEvent>* events) {
                                events->push_back(Event(v1::AUDIT_EVENT_KIND_PAGE_VIEWED,
                                                        "the request was shown on the page",
                                                        remote_address));
                                ExpireIfDue(request, events);
                                return absl::OkStatus();
                              })
                      .status());
  return GetStatus(transaction_number);
}

absl::StatusOr<DecisionOutcome> Approvals::Decide(const std::string& transaction_number,
                                                  absl::string_view code, Decision decision,
                                                  const std::string& remote_address) {
  absl::StatusOr<DecisionOutcome> outcome =
      DecideOnce(transaction_number, code, decision, remote_address);
  if (metrics_ != nullptr) {
    if (absl::IsNotFound(outcome.status())) {
      metrics_->RecordPageAttempt("unknown_transaction");
    } else if (outcome.ok()) {
      static const char* const kResults[] = {"approved", "rejected", "wrong_code",
                                             "locked",   "expired",  "already_decided"};
      metrics_->RecordPageAttempt(kResults[static_cast<int>(outcome->result)]);
    }
  }
  return outcome;
}

absl::StatusOr<DecisionOutcome> Approvals::DecideOnce(const std::string& transaction_number,
                                                      absl::string_view code, Decision decision,
                                                      const std::string& remote_address) {
  if (!IsValidTransactionNumber(transaction_number)) {
    return absl::NotFoundError("no request with this transaction number");
  }
  DecisionResult result = DecisionResult::kAlreadyDecided;
  auto equals = options_.secret_equals != nullptr ? options_.secret_equals : &ConstantTimeEquals;
  RETURN_IF_ERROR(
      store_
          .Mutate(transaction_number,
                  [&](StoredRequest& request, std::vector<v1::AuditEvent>* events) {
                    v1::IssuanceStatus& status = request.status;
                    if (status.state() == v1::ISSUANCE_STATE_LOCKED) {
                      result = DecisionResult::kLocked;
                    } else if (status.state() == v1::ISSUANCE_STATE_EXPIRED ||
                               ExpireIfDue(request, events)) {
                      result = DecisionResult::kExpired;
                    } else if (!IsPending(status.state())) {
                      result = DecisionResult::kAlreadyDecided;
                    }
                    if (!IsPending(status.state())) {
                      events->push_back(
                          Event(v1::AUDIT_EVENT_KIND_REFUSED,
                                absl::StrCat("an attempt to ",
                                             decision == Decision::kApprove ? "approve" : "reject",
                                             " was refused: the request is ",
                                             v1::IssuanceState_Name(status.state())),
                                remote_address));
                      return absl::OkStatus();
                    }
                    // Hash whatever was entered (even malformed input) so that every attempt
                    // costs the same; compare in constant time.
                    const bool matches =
                        equals(HashApprovalCode(request.code_salt, code), request.code_sha256);
                    if (!matches) {
                      status.set_failed_attempts(status.failed_attempts() + 1);
                      events->push_back(Event(
                          v1::AUDIT_EVENT_KIND_WRONG_CODE,
                          absl::StrCat("wrong approval code (attempt ", status.failed_attempts(),
                                       " of ", status.max_attempts(), ")"),
                          remote_address));
                      result = DecisionResult::kWrongCode;
                      if (status.failed_attempts() >= status.max_attempts()) {
                        status.set_state(v1::ISSUANCE_STATE_LOCKED);
                        CountState(v1::ISSUANCE_STATE_LOCKED);
                        status.set_decided_unix_milliseconds(clock_.NowUnixMilliseconds());
                        events->push_back(Event(v1::AUDIT_EVENT_KIND_LOCKED,
                                                "too many wrong codes: the request is locked",
                                                remote_address));
                        result = DecisionResult::kLocked;
                      }
                      return absl::OkStatus();
                    }
                    status.set_decided_unix_milliseconds(clock_.NowUnixMilliseconds());
                    if (decision == Decision::kApprove) {
                      status.set_state(v1::ISSUANCE_STATE_APPROVED);
                      CountState(v1::ISSUANCE_STATE_APPROVED);
                      events->push_back(Event(v1::AUDIT_EVENT_KIND_APPROVED,
                                              "approved with the right code", remote_address));
                      result = DecisionResult::kApproved;
                    } else {
                      status.set_state(v1::ISSUANCE_STATE_REJECTED);
                      CountState(v1::ISSUANCE_STATE_REJECTED);
                      events->push_back(Event(v1::AUDIT_EVENT_KIND_REJECTED,
                                              "rejected with the right code", remote_address));
                      result = DecisionResult::kRejected;
                    }
                    return absl::OkStatus();
                  })
          .status());
  ASSIGN_OR_RETURN(v1::IssuanceStatus status, GetStatus(transaction_number));
  return DecisionOutcome{result, std::move(status)};
}

}  // namespace mecai
