#include "approval/approvals.h"

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "approval/call_message.h"
#include "approval/proof_of_possession.h"
#include "approval/requester.h"
#include "approval/transaction_number.h"
#include "common/base/logging.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/crypto/openssl_error.h"
#include "common/crypto/openssl_types.h"
#include "common/evidence/approval_record.h"
#include "common/net/dns_name.h"

namespace mecai {
namespace {

constexpr size_t kMaxKeyBytes = 16 << 10;
constexpr size_t kMaxNames = 100;

bool IsPending(v1::IssuanceState state) {
  return state == v1::ISSUANCE_STATE_CALLING || state == v1::ISSUANCE_STATE_AWAITING_APPROVAL;
}

bool IsFinal(v1::IssuanceState state) {
  return state != v1::ISSUANCE_STATE_CALLING && state != v1::ISSUANCE_STATE_AWAITING_APPROVAL &&
         state != v1::ISSUANCE_STATE_UNSPECIFIED;
}

// Appends `bytes` with its length, so that concatenated fields cannot be confused.
void AppendField(std::string* out, absl::string_view bytes) {
  const uint64_t size = bytes.size();
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(size >> shift));
  out->append(bytes.data(), bytes.size());
}

// "1 phone number", "2 phone numbers".
std::string Numbers(size_t count) {
  return absl::StrCat(count, count == 1 ? " phone number" : " phone numbers");
}

std::string DescribeContact(const RdapPhoneContact& contact) {
  return absl::StrCat(
      contact.number,
      contact.extension.empty() ? "" : absl::StrCat(" extension ", contact.extension), " (",
      contact.roles, ")");
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
  // Bare keys only: the key, to check the proof of possession.
  EvpPkeyPtr key;
};

// A PKCS #10 CSR (RFC 2986): its signature must verify; its names are the dNSName
// subjectAltNames of its extension request, else the subject CN. A subjectAltName of another type
// (IP address, e-mail…) is refused: the page shows the approver every name a certificate would
// hold, and the approval covers DNS names only.
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
      absl::Status other_name = absl::OkStatus();
      for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
        const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
        if (name->type != GEN_DNS) {
          other_name = absl::InvalidArgumentError(absl::StrCat(
              "csr_der: the subjectAltName holds ",
              name->type == GEN_IPADD   ? "an IP address"
              : name->type == GEN_EMAIL ? "an e-mail address"
                                        : "a name that is not a DNS name",
              "; only DNS names can be approved, and the approver is shown every name"));
          break;
        }
        const ASN1_STRING* value = name->d.dNSName;
        parsed.names.push_back(CanonicalHostname(
            absl::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                              ASN1_STRING_length(value))));
      }
      GENERAL_NAMES_free(names);
      if (!other_name.ok()) {
        sk_X509_EXTENSION_pop_free(extensions, X509_EXTENSION_free);
        return other_name;
      }
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
  parsed.key = std::move(key);
  return parsed;
}

}  // namespace

// What a valid request asks to approve.
struct Approvals::Submission {
  // Canonical form; empty when the service is to draw one.
  std::string transaction_number;
  // Lower case.
  std::string domain;
  std::string requester;
  std::string spki_der;
  // The names the key is for; the domain itself when the request names no host.
  std::vector<std::string> names;
  bool whole_domain = false;
  // SHA-256 over domain, key and requester (IssuanceStatus.submission_sha256).
  std::string sha256;
};

// The RDAP lookup and the calls placed for one request, not yet stored.
struct Approvals::CallOutcome {
  std::vector<v1::PhoneCall> calls;
  // RDAP_LOOKUP_*, CALL_PLACED and CALL_FAILED, in the order they happened.
  std::vector<v1::AuditEvent> events;
  // Why no call could be placed, for state_detail when none was.
  std::string failure;
};

ApprovalOptions ApprovalOptions::FromConfig(const v1::ApprovalConfig& config,
                                            const std::string& voice_gateway_token) {
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
  options.rdap.max_response_bytes = config.max_rdap_response_bytes();
  options.rdap.max_numbers = config.max_phone_numbers();
  options.gateway.initial_backoff =
      absl::Milliseconds(config.voice_gateway_initial_backoff_milliseconds());
  options.gateway.max_backoff = absl::Milliseconds(config.voice_gateway_max_backoff_milliseconds());
  options.gateway.max_total = absl::Seconds(config.voice_gateway_max_total_seconds());
  options.gateway.bearer_token = voice_gateway_token;
  options.allow_http = config.allow_http_for_testing();
  options.call_workers = config.call_workers();
  options.max_pending_calls = config.max_pending_calls();
  return options;
}

namespace {

RdapOptions RdapOptionsOf(const ApprovalOptions& options) {
  RdapOptions rdap = options.rdap;
  rdap.timeout = options.http_timeout;
  rdap.allow_http = options.allow_http;
  return rdap;
}

VoiceGatewayOptions GatewayOptionsOf(const ApprovalOptions& options) {
  VoiceGatewayOptions gateway = options.gateway;
  gateway.url = options.voice_gateway_url;
  gateway.attempts = options.voice_gateway_attempts;
  gateway.timeout = options.http_timeout;
  gateway.allow_http = options.allow_http;
  return gateway;
}

}  // namespace

Approvals::Approvals(ApprovalOptions options, ApprovalStore& store, HttpFetcher& fetcher,
                     const Clock& clock, RandomSource& random, ApprovalMetrics* metrics,
                     Sleeper* sleeper)
    : options_(std::move(options)),
      store_(store),
      clock_(clock),
      random_(random),
      metrics_(metrics),
      sleeper_(sleeper != nullptr ? *sleeper : own_sleeper_),
      rdap_(fetcher, RdapOptionsOf(options_)),
      gateway_(fetcher, GatewayOptionsOf(options_), clock, sleeper_) {
  if (options_.call_workers > 0) {
    queue_ = std::make_unique<CallQueue>(options_.call_workers, options_.max_pending_calls);
  }
}

Approvals::~Approvals() {
  own_sleeper_.Stop();
  queue_.reset();
}

void Approvals::WaitUntilIdle() {
  if (queue_ != nullptr) queue_->WaitUntilIdle();
}

v1::AuditEvent Approvals::Event(v1::AuditEventKind kind, std::string detail,
                                const std::string& remote_address) const {
  v1::AuditEvent event;
  event.set_time_unix_milliseconds(clock_.NowUnixMilliseconds());
  event.set_kind(kind);
  event.set_detail(std::move(detail));
  event.set_remote_address(remote_address);
  return event;
}

void Approvals::EnterState(v1::IssuanceStatus& status, v1::IssuanceState state,
                           const std::string& detail) const {
  status.set_state(state);
  status.set_state_detail(detail);
  if (IsFinal(state)) status.set_decided_unix_milliseconds(clock_.NowUnixMilliseconds());
  if (metrics_ != nullptr) metrics_->RecordStateEntered(state);
  if (state == v1::ISSUANCE_STATE_FAILED || state == v1::ISSUANCE_STATE_LOCKED) {
    MECAI_LOG(Warning) << "approval request " << status.transaction_number() << " for "
                       << status.domain() << ": " << v1::IssuanceState_Name(state) << ": "
                       << detail;
  } else {
    MECAI_LOG(Info) << "approval request " << status.transaction_number() << " for "
                    << status.domain() << ": " << v1::IssuanceState_Name(state) << ": " << detail;
  }
}

bool Approvals::ExpireIfDue(StoredRequest& request, std::vector<v1::AuditEvent>* events) const {
  v1::IssuanceStatus& status = request.status;
  if (!IsPending(status.state()) ||
      clock_.NowUnixMilliseconds() < status.code_expires_unix_milliseconds()) {
    return false;
  }
  EnterState(status, v1::ISSUANCE_STATE_EXPIRED,
             "the approval code expired before the request was decided");
  events->push_back(Event(v1::AUDIT_EVENT_KIND_EXPIRED,
                          "the approval code expired before the request was decided"));
  return true;
}

v1::PhoneCall Approvals::Call(const RdapPhoneContact& contact, const std::string& message,
                              std::vector<v1::AuditEvent>* events) {
  const std::string who = DescribeContact(contact);
  return gateway_.Call(
      contact.number, contact.extension, message,
      [&](uint32_t attempt, const absl::Status& result) {
        if (metrics_ != nullptr) metrics_->RecordGatewayRequest(result.ok());
        const std::string which =
            absl::StrCat(" (attempt ", attempt, " of ", options_.voice_gateway_attempts, ")");
        if (result.ok()) {
          events->push_back(Event(v1::AUDIT_EVENT_KIND_CALL_PLACED,
                                  absl::StrCat("call to ", who, " placed", which)));
        } else {
          events->push_back(
              Event(v1::AUDIT_EVENT_KIND_CALL_FAILED,
                    absl::StrCat("call to ", who, " failed", which, ": ", result.message())));
        }
      });
}

absl::StatusOr<v1::IssuanceStatus> Approvals::Submit(
    const v1::SubmitIssuanceRequestRequest& request) {
  std::string result = "error";
  absl::StatusOr<v1::IssuanceStatus> status = SubmitOnce(request, &result);
  if (!status.ok()) {
    MECAI_LOG(Warning) << "approval request refused (domain \""
                       << absl::CHexEscape(request.domain().substr(0, 64))
                       << "\"): " << status.status();
  }
  if (metrics_ != nullptr) metrics_->RecordSubmission(result);
  return status;
}

absl::StatusOr<Approvals::Submission> Approvals::Validate(
    const v1::SubmitIssuanceRequestRequest& request) {
  Submission submission;
  // The domain as a person typed it, in canonical (lower-case) form; then the domain rule of
  // common/net/dns_name.h: two or more LDH labels, no wildcard, no IP literal.
  submission.domain = CanonicalHostname(request.domain());
  const std::string& domain = submission.domain;
  RETURN_IF_ERROR(Annotate(ValidateHostname(domain, hostname_rules::kApprovalDomain), "domain"));
  if (!request.transaction_number().empty()) {
    RETURN_IF_ERROR(ValidateChosenTransactionNumber(request.transaction_number()));
    submission.transaction_number = NormalizeTransactionNumber(request.transaction_number());
  }
  RETURN_IF_ERROR(ValidateRequester(request.requester()));
  submission.requester = request.requester();
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
      // A bare key proves its possession by signing (approval/proof_of_possession.h).
      RETURN_IF_ERROR(
          VerifyProofOfPossession(key.key.get(), domain, request.proof_of_possession()));
      break;
    }
    case v1::SubmitIssuanceRequestRequest::KEY_NOT_SET:
      return absl::InvalidArgumentError("csr_der or subject_public_key_info_der is required");
  }
  // A request naming no host is for the whole domain (approval.proto IssuanceStatus.whole_domain).
  submission.whole_domain = key.names.empty();
  if (submission.whole_domain) key.names.push_back(domain);
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
  submission.spki_der = std::move(key.spki_der);
  submission.names = std::move(key.names);
  // What makes two submissions the same request: domain, key (as sent: a CSR or a bare key) and
  // requester. The proof of possession is not part of it (an ECDSA signature differs each time).
  std::string content;
  AppendField(&content, domain);
  AppendField(&content, request.key_case() == v1::SubmitIssuanceRequestRequest::kCsrDer
                            ? absl::StrCat("csr:", request.csr_der())
                            : absl::StrCat("spki:", request.subject_public_key_info_der()));
  AppendField(&content, submission.requester);
  submission.sha256 = Sha256(content);
  return submission;
}

absl::StatusOr<v1::IssuanceStatus> Approvals::SubmitOnce(
    const v1::SubmitIssuanceRequestRequest& request, std::string* metric_result) {
  *metric_result = "invalid";
  ASSIGN_OR_RETURN(const Submission submission, Validate(request));
  *metric_result = "error";
  // The same transaction number again: the same request (idempotent) or a conflict.
  auto existing = [&](const std::string& transaction_number) -> absl::StatusOr<v1::IssuanceStatus> {
    ASSIGN_OR_RETURN(v1::IssuanceStatus status, GetStatus(transaction_number));
    if (status.submission_sha256() != submission.sha256) {
      *metric_result = "duplicate";
      return absl::AlreadyExistsError(absl::StrCat(
          "transaction_number: ", GroupedTransactionNumber(transaction_number),
          " was used before for a different request (domain, key or requester differ); "
          "choose another, or send none and the service draws one"));
    }
    *metric_result = "resubmitted";
    return status;
  };
  std::string transaction_number = submission.transaction_number;
  if (!transaction_number.empty()) {
    absl::StatusOr<v1::IssuanceStatus> stored = existing(transaction_number);
    if (stored.ok() || !absl::IsNotFound(stored.status())) return stored;
  }
  if (queue_ != nullptr && !queue_->Reserve()) {
    *metric_result = "busy";
    return absl::ResourceExhaustedError(
        absl::StrCat(options_.max_pending_calls,
                     " requests are waiting for their calls; nothing was recorded, send the "
                     "request again later"));
  }
  absl::StatusOr<std::string> code = GenerateApprovalCode(random_, options_.code_length);
  if (!code.ok()) {
    if (queue_ != nullptr) queue_->Release();
    return code.status();
  }
  absl::StatusOr<v1::IssuanceStatus> recorded = absl::InternalError("not recorded");
  // A drawn transaction number that happens to be in use (60 bits: practically never) is drawn
  // again.
  for (int draw = 0; draw < 3; ++draw) {
    if (submission.transaction_number.empty()) {
      absl::StatusOr<std::string> drawn = GenerateTransactionNumber(random_);
      if (!drawn.ok()) {
        recorded = drawn.status();
        break;
      }
      transaction_number = *drawn;
    }
    recorded = Record(submission, transaction_number, *code);
    if (!absl::IsAlreadyExists(recorded.status()) || !submission.transaction_number.empty()) break;
  }
  if (!recorded.ok()) {
    if (queue_ != nullptr) queue_->Release();
    // Another submission with this transaction number was recorded meanwhile.
    if (absl::IsAlreadyExists(recorded.status()) && !submission.transaction_number.empty()) {
      return existing(transaction_number);
    }
    return recorded.status();
  }
  *metric_result = "accepted";
  if (queue_ == nullptr) {
    LookUpAndCall(transaction_number, *code);
    return GetStatus(transaction_number);
  }
  // The answer (with its trail) is read before the worker can change the request.
  absl::StatusOr<v1::IssuanceStatus> answer = GetStatus(transaction_number);
  queue_->Run(
      [this, transaction_number, code = *code] { LookUpAndCall(transaction_number, code); });
  return answer.ok() ? answer : recorded;
}

absl::StatusOr<v1::IssuanceStatus> Approvals::Record(const Submission& submission,
                                                     const std::string& transaction_number,
                                                     absl::string_view code) {
  StoredRequest stored;
  ASSIGN_OR_RETURN(stored.code_salt, random_.Bytes(kApprovalCodeSaltBytes));
  stored.code_sha256 = HashApprovalCode(stored.code_salt, code);
  v1::IssuanceStatus& status = stored.status;
  status.set_transaction_number(transaction_number);
  status.set_domain(submission.domain);
  status.set_requester(submission.requester);
  status.set_state(v1::ISSUANCE_STATE_CALLING);
  status.set_state_detail("looking up the domain's contacts and calling them");
  status.set_subject_public_key_info_sha256(Sha256(submission.spki_der));
  for (const std::string& name : submission.names) status.add_names(name);
  status.set_whole_domain(submission.whole_domain);
  status.set_submission_sha256(submission.sha256);
  const absl::Time now = clock_.Now();
  status.set_submitted_unix_milliseconds(absl::ToUnixMillis(now));
  status.set_code_expires_unix_milliseconds(absl::ToUnixMillis(now + options_.code_validity));
  status.set_max_attempts(options_.max_attempts);
  RETURN_IF_ERROR(store_.Create(
      stored, {Event(v1::AUDIT_EVENT_KIND_SUBMITTED,
                     absl::StrCat("issuance request for ", submission.domain, " by \"",
                                  absl::CHexEscape(submission.requester), "\", key SHA-256 ",
                                  HexEncode(status.subject_public_key_info_sha256()), ", names ",
                                  absl::StrJoin(submission.names, ", ")))}));
  MECAI_LOG(Info) << "approval request " << transaction_number << " for " << submission.domain
                  << ": ISSUANCE_STATE_CALLING: recorded";
  if (metrics_ != nullptr) metrics_->RecordStateEntered(v1::ISSUANCE_STATE_CALLING);
  return status;
}

void Approvals::LookUpAndCall(const std::string& transaction_number, const std::string& code) {
  absl::StatusOr<StoredRequest> stored = store_.Get(transaction_number);
  if (!stored.ok()) {
    MECAI_LOG(Error) << "approval request " << transaction_number
                     << ": cannot read it to place its calls: " << stored.status();
    return;
  }
  const CallOutcome outcome = CallContacts(stored->status, code);
  absl::Status written = StoreCalls(transaction_number, outcome);
  if (!written.ok()) {
    MECAI_LOG(Error) << "approval request " << transaction_number
                     << ": cannot store its calls: " << written;
  }
}

Approvals::CallOutcome Approvals::CallContacts(const v1::IssuanceStatus& status,
                                               absl::string_view code) {
  // Contacts from the registry (RFC 9083), then one call per number (MECAI phone-approval
  // proposal).
  CallOutcome outcome;
  absl::StatusOr<RdapContacts> contacts = rdap_.Lookup(status.domain());
  if (metrics_ != nullptr) metrics_->RecordRdapLookup(contacts.ok());
  if (!contacts.ok()) {
    outcome.failure = absl::StrCat("the registry lookup failed: ", contacts.status().message());
    outcome.events.push_back(
        Event(v1::AUDIT_EVENT_KIND_RDAP_LOOKUP_FAILED, std::string(contacts.status().message())));
    return outcome;
  }
  std::vector<std::string> listed;
  for (const RdapPhoneContact& contact : contacts->contacts) {
    listed.push_back(DescribeContact(contact));
  }
  std::string detail =
      listed.empty()
          ? "the registry lists no phone number of the domain's registrant, administrative or "
            "technical contacts"
          : absl::StrCat("the registry lists ", Numbers(listed.size()),
                         " of the domain's registrant, administrative and technical contacts: ",
                         absl::StrJoin(listed, ", "));
  if (!contacts->not_called.empty()) {
    absl::StrAppend(&detail, ". Not called: ", absl::StrJoin(contacts->not_called, "; "));
  }
  outcome.events.push_back(Event(v1::AUDIT_EVENT_KIND_RDAP_LOOKUP_SUCCEEDED, detail));
  if (listed.empty()) {
    outcome.failure =
        "the registry lists no phone number of the domain's registrant, administrative or "
        "technical contacts: nobody can approve";
    return outcome;
  }
  const absl::Duration remaining =
      absl::FromUnixMillis(status.code_expires_unix_milliseconds()) - clock_.Now();
  if (remaining <= absl::ZeroDuration()) {
    outcome.failure = "the approval code expired before a call could be placed";
    return outcome;
  }
  const std::string message = CallMessage({options_.certificate_authority_name, status.domain(),
                                           status.transaction_number(), std::string(code),
                                           options_.approval_site_url, remaining});
  for (const RdapPhoneContact& contact : contacts->contacts) {
    outcome.calls.push_back(Call(contact, message, &outcome.events));
    if (metrics_ != nullptr) metrics_->RecordCall(outcome.calls.back().delivered());
  }
  outcome.failure = absl::StrCat("no call could be placed (", Numbers(outcome.calls.size()),
                                 " tried; the last error: ", outcome.calls.back().error(),
                                 "): nobody can approve");
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
                // A person may have decided while later numbers were still being called, and the
                // code may have expired.
                if (ExpireIfDue(current, new_events) ||
                    current.status.state() != v1::ISSUANCE_STATE_CALLING) {
                  return absl::OkStatus();
                }
                if (delivered) {
                  EnterState(current.status, v1::ISSUANCE_STATE_AWAITING_APPROVAL,
                             "waiting for a person on the approval page");
                  new_events->push_back(Event(v1::AUDIT_EVENT_KIND_AWAITING_APPROVAL,
                                              "waiting for a person on the approval page"));
                } else {
                  EnterState(current.status, v1::ISSUANCE_STATE_FAILED, outcome.failure);
                  new_events->push_back(Event(v1::AUDIT_EVENT_KIND_FAILED, outcome.failure));
                }
                return absl::OkStatus();
              })
      .status();
}

absl::StatusOr<int> Approvals::RecoverInterruptedCalls() {
  ASSIGN_OR_RETURN(const std::vector<std::string> calling, store_.FindCalling());
  const std::string reason =
      "the approval service stopped while this request's contacts were being called; the code "
      "was never stored, so the calls cannot resume: submit the request again with a new "
      "transaction number";
  int recovered = 0;
  for (const std::string& transaction_number : calling) {
    RETURN_IF_ERROR(store_
                        .Mutate(transaction_number,
                                [&](StoredRequest& request, std::vector<v1::AuditEvent>* events) {
                                  if (request.status.state() != v1::ISSUANCE_STATE_CALLING) {
                                    return absl::OkStatus();
                                  }
                                  EnterState(request.status, v1::ISSUANCE_STATE_FAILED, reason);
                                  events->push_back(Event(v1::AUDIT_EVENT_KIND_FAILED, reason));
                                  ++recovered;
                                  return absl::OkStatus();
                                })
                        .status());
  }
  return recovered;
}

absl::StatusOr<v1::IssuanceStatus> Approvals::GetStatus(const std::string& transaction_number) {
  const std::string canonical = NormalizeTransactionNumber(transaction_number);
  if (!IsCanonicalTransactionNumber(canonical)) {
    return absl::NotFoundError("no request with this transaction number");
  }
  ASSIGN_OR_RETURN(StoredRequest current, store_.Get(canonical));
  if (IsPending(current.status.state()) &&
      clock_.NowUnixMilliseconds() >= current.status.code_expires_unix_milliseconds()) {
    RETURN_IF_ERROR(store_
                        .Mutate(canonical,
                                [&](StoredRequest& request, std::vector<v1::AuditEvent>* events) {
                                  ExpireIfDue(request, events);
                                  return absl::OkStatus();
                                })
                        .status());
    ASSIGN_OR_RETURN(current, store_.Get(canonical));
  }
  return current.status;
}

absl::StatusOr<v1::IssuanceStatus> Approvals::GetStatusByKey(const std::string& spki_sha256,
                                                             const std::string& hostname) {
  if (spki_sha256.size() != 32) {
    return absl::InvalidArgumentError("subject_public_key_info_sha256: must be 32 bytes");
  }
  ASSIGN_OR_RETURN(const std::vector<std::string> transaction_numbers,
                   store_.FindByKey(spki_sha256));
  std::vector<v1::IssuanceStatus> requests;
  for (const std::string& transaction_number : transaction_numbers) {
    absl::StatusOr<StoredRequest> stored = store_.Get(transaction_number);
    if (absl::IsNotFound(stored.status())) continue;
    RETURN_IF_ERROR(stored.status());
    requests.push_back(std::move(stored->status));
  }
  if (requests.empty()) return absl::NotFoundError("no request for this key");
  // Latest first (ties: the transaction number decides, so the answer is stable).
  std::sort(requests.begin(), requests.end(),
            [](const v1::IssuanceStatus& a, const v1::IssuanceStatus& b) {
              if (a.submitted_unix_milliseconds() != b.submitted_unix_milliseconds()) {
                return a.submitted_unix_milliseconds() > b.submitted_unix_milliseconds();
              }
              return a.transaction_number() > b.transaction_number();
            });
  const std::string host = CanonicalHostname(hostname);
  auto covers = [&](const v1::IssuanceStatus& status) {
    return host.empty() || ApprovalScopeMismatch(status.transaction_number(), status.domain(),
                                                 status.names(), status.whole_domain(), host)
                               .empty();
  };
  const v1::IssuanceStatus* chosen = nullptr;
  for (const v1::IssuanceStatus& status : requests) {
    if (status.state() == v1::ISSUANCE_STATE_APPROVED && covers(status)) {
      chosen = &status;
      break;
    }
  }
  for (const v1::IssuanceStatus& status : requests) {
    if (chosen == nullptr && covers(status)) chosen = &status;
  }
  if (chosen == nullptr) chosen = &requests.front();
  return GetStatus(chosen->transaction_number());
}

absl::StatusOr<v1::IssuanceStatus> Approvals::View(const std::string& transaction_number,
                                                   const std::string& remote_address) {
  const std::string canonical = NormalizeTransactionNumber(transaction_number);
  if (!IsCanonicalTransactionNumber(canonical)) {
    return absl::NotFoundError("no request with this transaction number");
  }
  RETURN_IF_ERROR(store_
                      .Mutate(canonical,
                              [&](StoredRequest& request, std::vector<v1::AuditEvent>* events) {
                                events->push_back(Event(v1::AUDIT_EVENT_KIND_PAGE_VIEWED,
                                                        "the request was shown on the page",
                                                        remote_address));
                                ExpireIfDue(request, events);
                                return absl::OkStatus();
                              })
                      .status());
  return GetStatus(canonical);
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
      static const char* const kResults[] = {"approved",      "rejected", "wrong_code",
                                             "locked",        "expired",  "already_decided",
                                             "malformed_code"};
      metrics_->RecordPageAttempt(kResults[static_cast<int>(outcome->result)]);
    }
  }
  return outcome;
}

absl::StatusOr<DecisionOutcome> Approvals::DecideOnce(const std::string& transaction_number,
                                                      absl::string_view code, Decision decision,
                                                      const std::string& remote_address) {
  const std::string canonical = NormalizeTransactionNumber(transaction_number);
  if (!IsCanonicalTransactionNumber(canonical)) {
    return absl::NotFoundError("no request with this transaction number");
  }
  // Input that cannot be a code uses no attempt (and is never compared).
  const absl::StatusOr<std::string> entered = NormalizeApprovalCode(code, options_.code_length);
  DecisionResult result = DecisionResult::kAlreadyDecided;
  auto equals = options_.secret_equals != nullptr ? options_.secret_equals : &ConstantTimeEquals;
  RETURN_IF_ERROR(
      store_
          .Mutate(canonical,
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
                    if (!entered.ok()) {
                      result = DecisionResult::kMalformedCode;
                      return absl::OkStatus();
                    }
                    // Compare the salted hashes in constant time.
                    const bool matches =
                        equals(HashApprovalCode(request.code_salt, *entered), request.code_sha256);
                    if (!matches) {
                      status.set_failed_attempts(status.failed_attempts() + 1);
                      events->push_back(Event(
                          v1::AUDIT_EVENT_KIND_WRONG_CODE,
                          absl::StrCat("wrong approval code (attempt ", status.failed_attempts(),
                                       " of ", status.max_attempts(), ")"),
                          remote_address));
                      result = DecisionResult::kWrongCode;
                      if (status.failed_attempts() >= status.max_attempts()) {
                        EnterState(status, v1::ISSUANCE_STATE_LOCKED,
                                   "too many wrong codes: the request is locked");
                        events->push_back(Event(v1::AUDIT_EVENT_KIND_LOCKED,
                                                "too many wrong codes: the request is locked",
                                                remote_address));
                        result = DecisionResult::kLocked;
                      }
                      return absl::OkStatus();
                    }
                    if (decision == Decision::kApprove) {
                      EnterState(status, v1::ISSUANCE_STATE_APPROVED,
                                 "approved on the page with the right code");
                      events->push_back(Event(v1::AUDIT_EVENT_KIND_APPROVED,
                                              "approved with the right code", remote_address));
                      result = DecisionResult::kApproved;
                    } else {
                      EnterState(status, v1::ISSUANCE_STATE_REJECTED,
                                 "rejected on the page with the right code");
                      events->push_back(Event(v1::AUDIT_EVENT_KIND_REJECTED,
                                              "rejected with the right code", remote_address));
                      result = DecisionResult::kRejected;
                    }
                    return absl::OkStatus();
                  })
          .status());
  ASSIGN_OR_RETURN(v1::IssuanceStatus status, GetStatus(canonical));
  return DecisionOutcome{result, std::move(status),
                         result == DecisionResult::kMalformedCode
                             ? std::string(entered.status().message())
                             : std::string()};
}

}  // namespace mecai
