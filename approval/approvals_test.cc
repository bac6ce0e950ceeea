// The approval procedure against real components (ARCHITECTURE.md §7, MECAI phone-approval
// proposal): RDAP (RFC 9083) from a real nginx, calls through a recording voice gateway, a RocksDB
// store, and a FakeClock for expiry.
#include "approval/approvals.h"

#include <openssl/x509.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/synchronization/notification.h"
#include "approval/approval_code.h"
#include "approval/approval_metrics.h"
#include "approval/approval_store.h"
#include "approval/call_message.h"
#include "approval/proof_of_possession.h"
#include "approval/sleeper.h"
#include "approval/testing/test_environment.h"
#include "approval/transaction_number.h"
#include "approval/web_page.h"
#include "common/base/clock.h"
#include "common/base/files.h"
#include "common/base/metrics.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/net/address_policy.h"
#include "common/net/http_fetcher.h"
#include "common/pki/pki_builder.h"
#include "common/process/child_process.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

constexpr char kDomain[] = "example.test";

std::atomic<int> secret_comparisons{0};

// ConstantTimeEquals, counted: the test pins that every code check goes through it.
bool CountingConstantTimeEquals(absl::string_view a, absl::string_view b) {
  ++secret_comparisons;
  return ConstantTimeEquals(a, b);
}

std::vector<v1::AuditEventKind> Kinds(const v1::IssuanceStatus& status) {
  std::vector<v1::AuditEventKind> kinds;
  for (const v1::AuditEvent& event : status.audit_trail()) kinds.push_back(event.kind());
  return kinds;
}

class ApprovalsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto directory = test_pki::MakeTempDirectory();
    ASSERT_TRUE(directory.ok());
    auto rdap = testing::RdapServer::Start(
        *directory,
        {{kDomain, testing::RdapDomainJson(kDomain, {"+49.30.1234567", "+1-555-0100-100"})},
         {"wrong.test", testing::RdapDomainJson("other.test", {"+49.30.1234567"})},
         {"other.test", testing::RdapDomainJson("other.test", {"+44.20.79460000"})},
         {"nophone.test", testing::RdapDomainJson("nophone.test", {})}});
    ASSERT_TRUE(rdap.ok()) << rdap.status();
    rdap_ = rdap->release();
  }
  static void TearDownTestSuite() { delete rdap_; }

  void SetUp() override { StartService(/*gateway_failures=*/0); }

  void StartService(int gateway_failures, size_t call_workers = 0, size_t max_pending = 1000,
                    HttpFetcher* fetcher = nullptr) {
    approvals_.reset();
    store_.reset();
    auto gateway = testing::VoiceGateway::Start(gateway_failures);
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = *std::move(gateway);
    auto directory = test_pki::MakeTempDirectory();
    ASSERT_TRUE(directory.ok());
    store_directory_ = *directory + "/store";
    auto store = ApprovalStore::Open(store_directory_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    auto policy = AddressPolicy::Create({"127.0.0.0/8"});
    ASSERT_TRUE(policy.ok());
    fetcher_ = std::make_unique<CurlHttpFetcher>(*policy);
    ApprovalOptions options;
    options.allow_http = true;  // The registry and the gateway are plain http on loopback.
    options.call_workers = call_workers;
    options.max_pending_calls = max_pending;
    options.gateway.bearer_token = "gateway-token";
    options.voice_gateway_url = gateway_->url();
    options.approval_site_url = "http://certapproval.ca.test/";
    options.certificate_authority_name = "Test CA";
    options.rdap.base_urls = {{"test", rdap_->base_url()}};
    options.secret_equals = &CountingConstantTimeEquals;
    registry_ = std::make_shared<prometheus::Registry>();
    metrics_ = std::make_unique<ApprovalMetrics>(*registry_);
    approvals_ =
        std::make_unique<Approvals>(options, *store_, fetcher != nullptr ? *fetcher : *fetcher_,
                                    clock_, random_, metrics_.get(), &sleeper_);
  }

  // Closes and opens the store and the service again, as a restart does.
  void Restart() {
    approvals_.reset();
    store_.reset();
    auto store = ApprovalStore::Open(store_directory_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    ApprovalOptions options;
    options.allow_http = true;
    options.voice_gateway_url = gateway_->url();
    options.certificate_authority_name = "Test CA";
    options.rdap.base_urls = {{"test", rdap_->base_url()}};
    approvals_ = std::make_unique<Approvals>(options, *store_, *fetcher_, clock_, random_,
                                             metrics_.get(), &sleeper_);
  }

  // A PKCS #10 request (RFC 2986) for `key` with `dns_names` as subjectAltNames (none: only the
  // subject CN `common_name`), signed by `key`; DER.
  static std::string CsrDer(EVP_PKEY* key, const std::vector<std::string>& dns_names,
                            const std::string& common_name = "") {
    absl::StatusOr<std::string> csr = IssueCsrDer(key, dns_names, common_name);
    EXPECT_TRUE(csr.ok()) << csr.status();
    return csr.value_or("");
  }

  v1::SubmitIssuanceRequestRequest CsrRequest(const std::string& transaction_number,
                                              const std::string& csr_der) {
    v1::SubmitIssuanceRequestRequest request = Request(transaction_number);
    request.set_csr_der(csr_der);
    return request;
  }

  // A refused submission left no trace: no request, no key index entry, no call.
  void ExpectNothingRecorded(const std::string& transaction_number, const std::string& spki_der) {
    EXPECT_THAT(approvals_->GetStatus(transaction_number),
                StatusIs(absl::StatusCode::kNotFound, ::testing::_));
    if (!spki_der.empty()) {
      EXPECT_THAT(approvals_->GetStatusByKey(Sha256(spki_der)),
                  StatusIs(absl::StatusCode::kNotFound, ::testing::_));
    }
    EXPECT_EQ(gateway_->requests(), 0);
  }

  // A bare key for `domain` with its proof of possession, by a fresh key or `key`.
  v1::SubmitIssuanceRequestRequest Request(const std::string& transaction_number,
                                           const std::string& domain = kDomain,
                                           EVP_PKEY* key = nullptr) {
    absl::StatusOr<EvpPkeyPtr> fresh = GenerateEcKey();
    EXPECT_TRUE(fresh.ok());
    if (key == nullptr) key = fresh->get();
    v1::SubmitIssuanceRequestRequest request;
    request.set_domain(domain);
    request.set_transaction_number(transaction_number);
    request.set_subject_public_key_info_der(PublicKeyToDer(key));
    absl::StatusOr<std::string> proof = SignProofOfPossession(key, absl::AsciiStrToLower(domain));
    EXPECT_TRUE(proof.ok()) << proof.status();
    request.set_proof_of_possession(proof.value_or(""));
    request.set_requester("Example Org");
    return request;
  }

  // The code the gateway was asked to speak to every number of the last request.
  std::string HeardCode() {
    std::vector<testing::RecordedCall> calls = gateway_->calls();
    EXPECT_FALSE(calls.empty());
    return calls.empty() ? "" : testing::SpokenApprovalCode(calls.back().message);
  }

  static testing::RdapServer* rdap_;
  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
  FakeSleeper sleeper_{clock_};
  OpenSslRandomSource random_;
  std::unique_ptr<testing::VoiceGateway> gateway_;
  std::string store_directory_;
  std::unique_ptr<ApprovalStore> store_;
  std::unique_ptr<CurlHttpFetcher> fetcher_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<ApprovalMetrics> metrics_;
  std::unique_ptr<Approvals> approvals_;
};

testing::RdapServer* ApprovalsTest::rdap_ = nullptr;

TEST_F(ApprovalsTest, CallsEveryRegistryNumberAndApprovesWithTheHeardCode) {
  auto submitted = approvals_->Submit(Request("txn-1234-56wxyz"));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  ASSERT_EQ(submitted->state(), v1::ISSUANCE_STATE_AWAITING_APPROVAL) << submitted->DebugString();
  // The canonical form of what the CA sent.
  EXPECT_EQ(submitted->transaction_number(), "TXN123456WXYZ");
  EXPECT_EQ(submitted->state_detail(), "waiting for a person on the approval page");
  EXPECT_EQ(submitted->code_expires_unix_milliseconds() - submitted->submitted_unix_milliseconds(),
            600000);
  // The registrant's voice numbers with their extension; never the fax number, never the
  // registrar's abuse desk.
  std::vector<std::string> called;
  for (const testing::RecordedCall& call : gateway_->calls()) {
    called.push_back(call.to + "x" + call.extension);
    EXPECT_EQ(call.authorization, "Bearer gateway-token");
  }
  EXPECT_THAT(called, ElementsAre("+49301234567x12", "+15550100100x12"));
  ASSERT_EQ(submitted->calls_size(), 2);
  EXPECT_EQ(submitted->calls(0).extension(), "12");
  EXPECT_THAT(submitted->audit_trail(1).detail(),
              HasSubstr("the registry lists 2 phone numbers of the domain's registrant, "
                        "administrative and technical contacts: +49301234567 extension 12 "
                        "(registrant), +15550100100 extension 12 (registrant). Not called: "
                        "+15550100200 (abuse, nested in another contact) is not a registrant, "
                        "administrative or technical contact"));
  const std::string code = HeardCode();
  ASSERT_EQ(code.size(), 8u);
  // A bare key names no host: the request is for the whole domain.
  EXPECT_THAT(submitted->names(), ElementsAre("example.test"));
  EXPECT_TRUE(submitted->whole_domain());
  const std::string message = gateway_->calls()[0].message;
  EXPECT_THAT(message, HasSubstr("for the domain example.test by the requester named on the "
                                 "approval page."));
  EXPECT_THAT(message, HasSubstr("Transaction number: T X N 1, 2 3 4 5, 6 W X Y, Z."));
  EXPECT_THAT(message, HasSubstr("http://certapproval.ca.test/"));
  EXPECT_THAT(message, HasSubstr("The code is valid for 10 minutes."));
  EXPECT_THAT(message,
              HasSubstr("Never give this code to anyone; Test CA will never ask you for it."));
  // The requester's text is shown on the page, never spoken.
  EXPECT_THAT(message, Not(HasSubstr("Example Org")));

  // People type it as they heard it.
  auto viewed = approvals_->View("txn 1234 56wx-yz", "127.0.0.1");
  ASSERT_TRUE(viewed.ok());
  EXPECT_EQ(viewed->domain(), kDomain);

  secret_comparisons = 0;
  auto approved = approvals_->Decide("Txn123456wxyz", code.substr(0, 4) + " - " + code.substr(4),
                                     Decision::kApprove, "127.0.0.1");
  ASSERT_TRUE(approved.ok()) << approved.status();
  EXPECT_EQ(approved->result, DecisionResult::kApproved);
  EXPECT_EQ(secret_comparisons, 1);
  EXPECT_EQ(approved->status.state(), v1::ISSUANCE_STATE_APPROVED);
  EXPECT_THAT(
      Kinds(approved->status),
      ElementsAre(v1::AUDIT_EVENT_KIND_SUBMITTED, v1::AUDIT_EVENT_KIND_RDAP_LOOKUP_SUCCEEDED,
                  v1::AUDIT_EVENT_KIND_CALL_PLACED, v1::AUDIT_EVENT_KIND_CALL_PLACED,
                  v1::AUDIT_EVENT_KIND_AWAITING_APPROVAL, v1::AUDIT_EVENT_KIND_PAGE_VIEWED,
                  v1::AUDIT_EVENT_KIND_APPROVED));
  for (const v1::AuditEvent& event : approved->status.audit_trail()) {
    EXPECT_GT(event.time_unix_milliseconds(), 0);
    EXPECT_THAT(event.detail(), Not(HasSubstr(code)));
  }
  // The key index answers for the key (what a coordinator would ask).
  auto by_key = approvals_->GetStatusByKey(approved->status.subject_public_key_info_sha256());
  ASSERT_TRUE(by_key.ok());
  EXPECT_EQ(by_key->state(), v1::ISSUANCE_STATE_APPROVED);
  // A decided request takes no further decision.
  auto again = approvals_->Decide("TXN123456WXYZ", code, Decision::kReject, "127.0.0.1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->result, DecisionResult::kAlreadyDecided);
}

TEST_F(ApprovalsTest, TheCodeIsStoredOnlyAsASaltedHash) {
  ASSERT_TRUE(approvals_->Submit(Request("HASHED001WXYZ")).ok());
  const std::string code = HeardCode();
  ASSERT_EQ(code.size(), 8u);
  store_.reset();  // Closes RocksDB so every file is complete on disk.
  std::string everything;
  for (const auto& entry : std::filesystem::directory_iterator(store_directory_)) {
    auto bytes = ReadFile(entry.path().string());
    if (bytes.ok()) everything += *bytes;
  }
  EXPECT_THAT(everything, HasSubstr("HASHED001WXYZ"));
  EXPECT_THAT(everything, Not(HasSubstr(code)));
}

TEST_F(ApprovalsTest, WrongCodesAreCountedAndLockTheRequest) {
  ASSERT_TRUE(approvals_->Submit(Request("LOCKME001WXYZ")).ok());
  const std::string code = HeardCode();
  const std::string wrong = code == "00000000" ? "11111111" : "00000000";
  secret_comparisons = 0;
  for (int attempt = 1; attempt <= 4; ++attempt) {
    auto outcome = approvals_->Decide("LOCKME001WXYZ", wrong, Decision::kApprove, "127.0.0.1");
    ASSERT_TRUE(outcome.ok());
    EXPECT_EQ(outcome->result, DecisionResult::kWrongCode);
    EXPECT_EQ(outcome->status.failed_attempts(), static_cast<uint32_t>(attempt));
  }
  // Input that cannot be a code uses no attempt and is never compared.
  for (const char* malformed : {"", "not digits", "1234567", "123456789"}) {
    auto refused = approvals_->Decide("LOCKME001WXYZ", malformed, Decision::kApprove, "127.0.0.1");
    ASSERT_TRUE(refused.ok());
    EXPECT_EQ(refused->result, DecisionResult::kMalformedCode) << malformed;
    EXPECT_EQ(refused->status.failed_attempts(), 4u);
    EXPECT_FALSE(refused->message.empty());
  }
  EXPECT_EQ(secret_comparisons, 4);
  auto last = approvals_->Decide("LOCKME001WXYZ", wrong, Decision::kApprove, "127.0.0.1");
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->result, DecisionResult::kLocked);
  EXPECT_EQ(last->status.state(), v1::ISSUANCE_STATE_LOCKED);
  EXPECT_EQ(last->status.state_detail(), "too many wrong codes: the request is locked");
  EXPECT_EQ(secret_comparisons, 5);
  // Locked: even the right code is refused, without another comparison.
  auto right = approvals_->Decide("LOCKME001WXYZ", code, Decision::kApprove, "127.0.0.1");
  ASSERT_TRUE(right.ok());
  EXPECT_EQ(right->result, DecisionResult::kLocked);
  EXPECT_EQ(right->status.state(), v1::ISSUANCE_STATE_LOCKED);
  EXPECT_EQ(secret_comparisons, 5);
  std::vector<v1::AuditEventKind> kinds = Kinds(right->status);
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), v1::AUDIT_EVENT_KIND_WRONG_CODE), 5);
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), v1::AUDIT_EVENT_KIND_LOCKED), 1);
  EXPECT_EQ(kinds.back(), v1::AUDIT_EVENT_KIND_REFUSED);
}

TEST_F(ApprovalsTest, AnExpiredCodeIsRefused) {
  ASSERT_TRUE(approvals_->Submit(Request("EXPIRE001WXYZ")).ok());
  const std::string code = HeardCode();
  clock_.Advance(absl::Minutes(10) - absl::Milliseconds(1));
  auto status = approvals_->GetStatus("EXPIRE001WXYZ");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->state(), v1::ISSUANCE_STATE_AWAITING_APPROVAL);
  clock_.Advance(absl::Milliseconds(1));
  auto outcome = approvals_->Decide("EXPIRE001WXYZ", code, Decision::kApprove, "127.0.0.1");
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->result, DecisionResult::kExpired);
  EXPECT_EQ(outcome->status.state(), v1::ISSUANCE_STATE_EXPIRED);
  std::vector<v1::AuditEventKind> kinds = Kinds(outcome->status);
  EXPECT_THAT(std::vector<v1::AuditEventKind>(kinds.end() - 2, kinds.end()),
              ElementsAre(v1::AUDIT_EVENT_KIND_EXPIRED, v1::AUDIT_EVENT_KIND_REFUSED));
}

TEST_F(ApprovalsTest, RejectsWithTheRightCode) {
  ASSERT_TRUE(approvals_->Submit(Request("REJECT001WXYZ")).ok());
  auto outcome = approvals_->Decide("REJECT001WXYZ", HeardCode(), Decision::kReject, "127.0.0.1");
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->result, DecisionResult::kRejected);
  EXPECT_EQ(outcome->status.state(), v1::ISSUANCE_STATE_REJECTED);
}

TEST_F(ApprovalsTest, TransactionNumbersAreValidatedAndUnique) {
  const v1::SubmitIssuanceRequestRequest first = Request("UNIQUE001WXYZ");
  auto submitted = approvals_->Submit(first);
  ASSERT_TRUE(submitted.ok());
  // The same request again, even typed differently: its current state, nothing new.
  v1::SubmitIssuanceRequestRequest again = first;
  again.set_transaction_number("unique-001-wxyz");
  auto resubmitted = approvals_->Submit(again);
  ASSERT_TRUE(resubmitted.ok()) << resubmitted.status();
  EXPECT_EQ(resubmitted->transaction_number(), "UNIQUE001WXYZ");
  EXPECT_EQ(resubmitted->audit_trail_size(), submitted->audit_trail_size());
  EXPECT_EQ(gateway_->calls().size(), 2u);
  // Another request under the same number.
  EXPECT_THAT(approvals_->Submit(Request("UNIQUE001WXYZ")),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       "transaction_number: UNIQ-UE00-1WXY-Z was used before for a different "
                       "request (domain, key or requester differ); choose another, or send none "
                       "and the service draws one"));
  again.set_requester("Someone Else");
  EXPECT_THAT(approvals_->Submit(again),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("was used before")));
  EXPECT_THAT(approvals_->Submit(Request("12345")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("transaction_number")));
  EXPECT_THAT(
      approvals_->Submit(Request("AAAA-AAAA-AAAA")),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at least 8 distinct characters")));
  EXPECT_THAT(approvals_->Submit(Request("DOMAIN001WXYZ", "localhost")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("domain")));
  EXPECT_THAT(approvals_->GetStatus("NOSUCH001WXYZ"),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
}

TEST_F(ApprovalsTest, FailedGatewayCallsAreRecordedAndRetried) {
  StartService(/*gateway_failures=*/2);
  auto submitted = approvals_->Submit(Request("RETRY0001WXYZ"));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  EXPECT_EQ(submitted->state(), v1::ISSUANCE_STATE_AWAITING_APPROVAL);
  ASSERT_EQ(submitted->calls_size(), 2);
  EXPECT_TRUE(submitted->calls(0).delivered());
  EXPECT_EQ(submitted->calls(0).attempts(), 3u);
  std::vector<v1::AuditEventKind> kinds = Kinds(*submitted);
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), v1::AUDIT_EVENT_KIND_CALL_FAILED), 4);
  EXPECT_EQ(gateway_->requests(), 6);
  // Exponential backoff between the requests of each call (1 s, then 2 s).
  EXPECT_THAT(sleeper_.slept(),
              ElementsAre(absl::Seconds(1), absl::Seconds(2), absl::Seconds(1), absl::Seconds(2)));
}

TEST_F(ApprovalsTest, EveryCallFailingFailsTheRequest) {
  StartService(/*gateway_failures=*/3);
  auto submitted = approvals_->Submit(Request("NOCALL001WXYZ"));
  ASSERT_TRUE(submitted.ok());
  EXPECT_EQ(submitted->state(), v1::ISSUANCE_STATE_FAILED);
  EXPECT_EQ(submitted->calls(0).attempts(), 3u);
  EXPECT_EQ(submitted->calls(0).error(), "HTTP status 503");
  EXPECT_EQ(submitted->state_detail(),
            "no call could be placed (2 phone numbers tried; the last error: HTTP status 503): "
            "nobody can approve");
  EXPECT_EQ(Kinds(*submitted).back(), v1::AUDIT_EVENT_KIND_FAILED);
  EXPECT_EQ(submitted->audit_trail().rbegin()->detail(), submitted->state_detail());
}

TEST_F(ApprovalsTest, RdapProblemsAreRecordedAndFailTheRequest) {
  for (const auto& [transaction_number, domain, detail] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"RDAP00001WXYZ", "absent.test", "404"},
           {"RDAP00002WXYZ", "wrong.test", "names domain"},
           {"RDAP00003WXYZ", "example.invalid", "no RDAP server"}}) {
    auto submitted = approvals_->Submit(Request(transaction_number, domain));
    ASSERT_TRUE(submitted.ok()) << submitted.status();
    EXPECT_EQ(submitted->state(), v1::ISSUANCE_STATE_FAILED);
    ASSERT_GE(submitted->audit_trail_size(), 3);
    EXPECT_EQ(submitted->audit_trail(1).kind(), v1::AUDIT_EVENT_KIND_RDAP_LOOKUP_FAILED);
    EXPECT_THAT(submitted->audit_trail(1).detail(), HasSubstr(detail));
  }
  auto no_phone = approvals_->Submit(Request("RDAP00004WXYZ", "nophone.test"));
  ASSERT_TRUE(no_phone.ok());
  // The fax number does not count, nor does the registrar's abuse line.
  EXPECT_EQ(no_phone->calls_size(), 0);
  EXPECT_EQ(no_phone->state(), v1::ISSUANCE_STATE_FAILED);
  EXPECT_EQ(no_phone->state_detail(),
            "the registry lists no phone number of the domain's registrant, administrative or "
            "technical contacts: nobody can approve");
  EXPECT_EQ(gateway_->requests(), 0);
}

TEST_F(ApprovalsTest, RdapAndTheGatewayAreHttpsOnlyUnlessAllowed) {
  Restart();
  ApprovalOptions options = approvals_->options();
  options.allow_http = false;
  approvals_ = std::make_unique<Approvals>(options, *store_, *fetcher_, clock_, random_);
  auto submitted = approvals_->Submit(Request("HTTPS0001WXYZ"));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  EXPECT_EQ(submitted->state(), v1::ISSUANCE_STATE_FAILED);
  EXPECT_EQ(submitted->audit_trail(1).detail(),
            "RDAP lookup " + rdap_->base_url() +
                "domain/example.test: only https URLs are used (allow_http_for_testing)");
  EXPECT_EQ(gateway_->requests(), 0);
}

// The CSR path of SubmitIssuanceRequest (approval.proto: "a PKCS #10 CSR (DER) whose signature
// must verify and whose names must all be `domain` or below it").
TEST_F(ApprovalsTest, ACsrsKeyAndNamesAreExtractedAndShownOnThePage) {
  auto key = GenerateEcKey();
  ASSERT_TRUE(key.ok());
  auto submitted = approvals_->Submit(CsrRequest(
      "CSR000001WXYZ", CsrDer(key->get(), {"www.example.test", "Example.Test"}, "ignored")));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  EXPECT_EQ(submitted->state(), v1::ISSUANCE_STATE_AWAITING_APPROVAL);
  // The dNSName subjectAltNames (lower case), not the subject CN.
  EXPECT_THAT(submitted->names(), ElementsAre("www.example.test", "example.test"));
  EXPECT_FALSE(submitted->whole_domain());
  EXPECT_EQ(submitted->subject_public_key_info_sha256(), Sha256(PublicKeyToDer(key->get())));
  auto by_key = approvals_->GetStatusByKey(Sha256(PublicKeyToDer(key->get())));
  ASSERT_TRUE(by_key.ok()) << by_key.status();
  EXPECT_EQ(by_key->transaction_number(), "CSR000001WXYZ");

  auto page = ApprovalPage::Create(*approvals_, random_);
  ASSERT_TRUE(page.ok()) << page.status();
  HttpServerRequest show;
  show.method = "GET";
  show.path = "/request";
  show.query["tn"] = "CSR000001WXYZ";
  show.remote_address = "127.0.0.1";
  HttpServerResponse shown = (*page)->Handle(show);
  EXPECT_EQ(shown.status, 200);
  EXPECT_THAT(shown.body, HasSubstr("<ul id=\"names\" class=\"names\"><li>www.example.test</li>"
                                    "<li>example.test</li></ul>"));
  EXPECT_THAT(shown.body, HasSubstr(HexEncode(Sha256(PublicKeyToDer(key->get())))));
}

TEST_F(ApprovalsTest, ACsrWithoutSubjectAltNamesIsNamedByItsCommonName) {
  auto key = GenerateEcKey();
  ASSERT_TRUE(key.ok());
  auto submitted =
      approvals_->Submit(CsrRequest("CSR000002WXYZ", CsrDer(key->get(), {}, "Mail.Example.Test")));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  EXPECT_THAT(submitted->names(), ElementsAre("mail.example.test"));
}

// The page shows the approver every name the certificate would hold: a CSR naming an IP address
// or an e-mail address beside its DNS names is refused rather than shown in part.
TEST_F(ApprovalsTest, ACsrWithANameThatIsNotADnsNameIsRefusedAndNothingIsRecorded) {
  auto key = GenerateEcKey();
  ASSERT_TRUE(key.ok());
  EXPECT_THAT(
      approvals_->Submit(
          CsrRequest("CSR000004WXYZ", CsrDer(key->get(), {"www.example.test", "IP:192.0.2.1"}))),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "csr_der: the subjectAltName holds an IP address; only DNS names can be approved, "
               "and the approver is shown every name"));
  EXPECT_THAT(approvals_->Submit(CsrRequest(
                  "CSR000005WXYZ", CsrDer(key->get(), {"www.example.test", "email:a@b.test"}))),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("holds an e-mail address")));
  ASSERT_NO_FATAL_FAILURE(ExpectNothingRecorded("CSR000004WXYZ", PublicKeyToDer(key->get())));
}

TEST_F(ApprovalsTest, ACsrWithABadSignatureIsRefusedAndNothingIsRecorded) {
  auto key = GenerateEcKey();
  ASSERT_TRUE(key.ok());
  std::string csr = CsrDer(key->get(), {"www.example.test"});
  // The last byte belongs to the signature value: the DER still parses, the signature fails.
  csr.back() ^= 0x01;
  EXPECT_THAT(approvals_->Submit(CsrRequest("CSR000003WXYZ", csr)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("csr_der: the signature does not verify")));
  ASSERT_NO_FATAL_FAILURE(ExpectNothingRecorded("CSR000003WXYZ", PublicKeyToDer(key->get())));
}

TEST_F(ApprovalsTest, MalformedCsrDerIsRefusedAndNothingIsRecorded) {
  auto key = GenerateEcKey();
  ASSERT_TRUE(key.ok());
  const std::string csr = CsrDer(key->get(), {"www.example.test"});
  for (const std::string& malformed : {csr.substr(0, csr.size() / 2), csr + std::string("\x00", 1),
                                       std::string("not DER"), std::string(17 << 10, '\x30')}) {
    SCOPED_TRACE(malformed.size());
    absl::StatusOr<v1::IssuanceStatus> refused =
        approvals_->Submit(CsrRequest("CSR000004WXYZ", malformed));
    ASSERT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();
    EXPECT_THAT(std::string(refused.status().message()), HasSubstr("csr_der"));
    EXPECT_THAT(std::string(refused.status().message()), Not(HasSubstr("\n")));
    ASSERT_NO_FATAL_FAILURE(ExpectNothingRecorded("CSR000004WXYZ", PublicKeyToDer(key->get())));
  }
}

TEST_F(ApprovalsTest, ACsrNamingAnotherDomainIsRefusedAndNothingIsRecorded) {
  auto key = GenerateEcKey();
  ASSERT_TRUE(key.ok());
  EXPECT_THAT(
      approvals_->Submit(CsrRequest("CSR000005WXYZ",
                                    CsrDer(key->get(), {"www.example.test", "www.attacker.test"}))),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("the name \"www.attacker.test\" is not example.test or below it")));
  ASSERT_NO_FATAL_FAILURE(ExpectNothingRecorded("CSR000005WXYZ", PublicKeyToDer(key->get())));
}

// The domain and every CSR name follow the hostname rule of common/net/dns_name.h
// (hostname_rules::kApprovalDomain, kApprovalName), and the refusal says which rule failed.
TEST_F(ApprovalsTest, DomainsAndCsrNamesFollowTheHostnameRule) {
  EXPECT_THAT(approvals_->Submit(Request("DOMAIN002WXYZ", "ab--cd.test")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "domain: hostname \"ab--cd.test\": label \"ab--cd\" has \"--\" in "
                       "positions 3-4, reserved for A-labels (RFC 5890 §2.3.1)"));
  EXPECT_THAT(approvals_->Submit(Request("DOMAIN003WXYZ", "example.123")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("has the all-numeric top-level label \"123\"")));
  EXPECT_THAT(approvals_->Submit(Request("DOMAIN004WXYZ", "*.example.test")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("label \"*\" is a wildcard; wildcards are not accepted here")));
  EXPECT_THAT(approvals_->Submit(Request("DOMAIN005WXYZ", "192.0.2.1")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("is an IP address literal; only a DNS name is accepted here")));
  ASSERT_NO_FATAL_FAILURE(ExpectNothingRecorded("DOMAIN002WXYZ", ""));

  // A wildcard only as the whole left-most label (RFC 6125 §6.4.3).
  auto key = GenerateEcKey();
  ASSERT_TRUE(key.ok());
  EXPECT_THAT(
      approvals_->Submit(CsrRequest("CSR000006WXYZ", CsrDer(key->get(), {"a.*.example.test"}))),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "csr_der: hostname \"a.*.example.test\": label \"*\" is a wildcard, which is only "
               "allowed as the whole left-most label (RFC 6125 §6.4.3)"));
  ASSERT_NO_FATAL_FAILURE(ExpectNothingRecorded("CSR000006WXYZ", PublicKeyToDer(key->get())));

  // The domain as a person typed it is taken in its canonical (lower-case) form.
  auto typed = approvals_->Submit(Request("DOMAIN006WXYZ", "Example.TEST"));
  ASSERT_TRUE(typed.ok()) << typed.status();
  EXPECT_EQ(typed->domain(), kDomain);
  // A leading wildcard is a name like any other; it is canonicalized too.
  auto wildcard =
      approvals_->Submit(CsrRequest("CSR000007WXYZ", CsrDer(key->get(), {"*.Example.test"})));
  ASSERT_TRUE(wildcard.ok()) << wildcard.status();
  EXPECT_THAT(wildcard->names(), ElementsAre("*.example.test"));
}

// The service's /metrics (common/base/metrics.h) after every kind of page attempt, checked by
// Prometheus' own promtool.
TEST_F(ApprovalsTest, MetricsCountEveryStepAndPassPromtool) {
  ASSERT_TRUE(approvals_->Submit(Request("MET000001WXYZ")).ok());
  const std::string code = HeardCode();
  ASSERT_TRUE(approvals_
                  ->Decide("MET000001WXYZ", code == "00000000" ? "11111111" : "00000000",
                           Decision::kApprove, "")
                  .ok());
  ASSERT_TRUE(approvals_->Decide("MET000001WXYZ", "0000", Decision::kApprove, "").ok());
  ASSERT_TRUE(approvals_->Decide("MET000001WXYZ", code, Decision::kApprove, "").ok());
  ASSERT_TRUE(approvals_->Decide("MET000001WXYZ", code, Decision::kApprove, "").ok());
  EXPECT_THAT(approvals_->Decide("UNKNOWN01", code, Decision::kApprove, ""),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  EXPECT_THAT(approvals_->Submit(Request("MET000001WXYZ")),
              StatusIs(absl::StatusCode::kAlreadyExists, ::testing::_));
  EXPECT_THAT(approvals_->Submit(Request("no")),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  ASSERT_TRUE(approvals_->Submit(Request("MET000002WXYZ")).ok());
  clock_.Advance(absl::Minutes(11));
  ASSERT_TRUE(approvals_->Decide("MET000002WXYZ", "12345678", Decision::kReject, "").ok());

  v1::ListenConfig listen;
  listen.set_metrics_address("127.0.0.1:0");
  auto server = MetricsServer::Start(listen, registry_);
  ASSERT_TRUE(server.ok()) << server.status();
  auto directory = test_pki::MakeTempDirectory();
  ASSERT_TRUE(directory.ok());
  const std::string text_file = *directory + "/metrics.txt";
  auto fetch = ChildProcess::Start(
      {"curl", "--silent", "--show-error", "--fail", "--max-time", "10", "--output", text_file,
       absl::StrCat("http://127.0.0.1:", (*server)->port(), "/metrics")},
      *directory + "/curl.log");
  ASSERT_TRUE(fetch.ok());
  ASSERT_TRUE((*fetch)->WaitForExit(absl::Seconds(15)));
  ASSERT_EQ((*fetch)->ExitCode(), 0) << ReadFile(*directory + "/curl.log").value_or("");
  auto check =
      ChildProcess::Start({"sh", "-c", absl::StrCat("promtool check metrics < ", text_file)},
                          *directory + "/promtool.log");
  ASSERT_TRUE(check.ok());
  ASSERT_TRUE((*check)->WaitForExit(absl::Seconds(15)));
  EXPECT_EQ((*check)->ExitCode(), 0) << ReadFile(*directory + "/promtool.log").value_or("");

  auto text = ReadFile(text_file);
  ASSERT_TRUE(text.ok());
  for (const char* line : {
           "mecai_approval_requests_submitted_total{result=\"accepted\"} 2",
           "mecai_approval_requests_submitted_total{result=\"duplicate\"} 1",
           "mecai_approval_requests_submitted_total{result=\"invalid\"} 1",
           "mecai_approval_rdap_lookups_total{result=\"ok\"} 2",
           // Two registrant numbers per request.
           "mecai_approval_calls_total{outcome=\"placed\"} 4",
           "mecai_approval_voice_gateway_requests_total{result=\"ok\"} 4",
           "mecai_approval_page_attempts_total{result=\"malformed_code\"} 1",
           "mecai_approval_page_attempts_total{result=\"wrong_code\"} 1",
           "mecai_approval_page_attempts_total{result=\"approved\"} 1",
           "mecai_approval_page_attempts_total{result=\"already_decided\"} 1",
           "mecai_approval_page_attempts_total{result=\"unknown_transaction\"} 1",
           "mecai_approval_page_attempts_total{result=\"expired\"} 1",
           "mecai_approval_requests_entered_state_total{state=\"calling\"} 2",
           "mecai_approval_requests_entered_state_total{state=\"awaiting_approval\"} 2",
           "mecai_approval_requests_entered_state_total{state=\"approved\"} 1",
           "mecai_approval_requests_entered_state_total{state=\"expired\"} 1",
       }) {
    EXPECT_THAT(*text, HasSubstr(line));
  }
}

// A fetcher that holds every request until Open(), to see what happens while calls run.
class GatedFetcher : public HttpFetcher {
 public:
  explicit GatedFetcher(HttpFetcher& real) : real_(real) {}
  absl::StatusOr<std::string> Fetch(const HttpRequest& request) override {
    {
      absl::MutexLock lock(&mutex_);
      ++waiting_;
    }
    open_.WaitForNotification();
    return real_.Fetch(request);
  }
  absl::StatusOr<HttpResponse> FetchResponse(const HttpRequest& request) override {
    {
      absl::MutexLock lock(&mutex_);
      ++waiting_;
    }
    open_.WaitForNotification();
    return real_.FetchResponse(request);
  }
  void Open() { open_.Notify(); }
  // Blocks until `count` requests have arrived.
  void AwaitRequests(int count) {
    absl::MutexLock lock(&mutex_);
    awaited_ = count;
    mutex_.Await(absl::Condition(this, &GatedFetcher::Arrived));
  }

 private:
  bool Arrived() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return waiting_ >= awaited_; }

  HttpFetcher& real_;
  absl::Notification open_;
  absl::Mutex mutex_;
  int waiting_ ABSL_GUARDED_BY(mutex_) = 0;
  int awaited_ ABSL_GUARDED_BY(mutex_) = 0;
};

// docs/APPROVAL.md "The submit contract": Submit answers once the request is recorded; the lookup
// and the calls follow on a worker.
TEST_F(ApprovalsTest, SubmitAnswersAtOnceAndTheCallsFollowInTheBackground) {
  auto policy = AddressPolicy::Create({"127.0.0.0/8"});
  ASSERT_TRUE(policy.ok());
  CurlHttpFetcher real(*policy);
  GatedFetcher gated(real);
  StartService(/*gateway_failures=*/0, /*call_workers=*/1, /*max_pending=*/1, &gated);
  auto submitted = approvals_->Submit(Request("ASYNC0001WXYZ"));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  EXPECT_EQ(submitted->state(), v1::ISSUANCE_STATE_CALLING);
  EXPECT_EQ(submitted->state_detail(), "looking up the domain's contacts and calling them");
  EXPECT_THAT(Kinds(*submitted), ElementsAre(v1::AUDIT_EVENT_KIND_SUBMITTED));
  // The worker is in the RDAP lookup; one more request may wait, a third is refused unrecorded.
  gated.AwaitRequests(1);
  ASSERT_TRUE(approvals_->Submit(Request("ASYNC0002WXYZ")).ok());
  EXPECT_THAT(approvals_->Submit(Request("ASYNC0003WXYZ")),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "1 requests are waiting for their calls; nothing was recorded, send the "
                       "request again later"));
  EXPECT_THAT(approvals_->GetStatus("ASYNC0003WXYZ"),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  auto pending = approvals_->GetStatus("ASYNC0001WXYZ");
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->state(), v1::ISSUANCE_STATE_CALLING);
  gated.Open();
  approvals_->WaitUntilIdle();
  for (const char* transaction_number : {"ASYNC0001WXYZ", "ASYNC0002WXYZ"}) {
    auto done = approvals_->GetStatus(transaction_number);
    ASSERT_TRUE(done.ok());
    EXPECT_EQ(done->state(), v1::ISSUANCE_STATE_AWAITING_APPROVAL) << done->DebugString();
    EXPECT_EQ(done->calls_size(), 2);
  }
  EXPECT_EQ(gateway_->calls().size(), 4u);
  approvals_.reset();  // Before `gated` and `real`.
}

// A request the stopped process left CALLING is never stuck: the next start fails it, with why.
TEST_F(ApprovalsTest, CallsInterruptedByAStopFailAtTheNextStart) {
  StoredRequest stored;
  stored.status.set_transaction_number("STOPPED01WXYZ");
  stored.status.set_domain(kDomain);
  stored.status.set_state(v1::ISSUANCE_STATE_CALLING);
  stored.status.set_subject_public_key_info_sha256(std::string(32, 'k'));
  stored.status.set_code_expires_unix_milliseconds(clock_.NowUnixMilliseconds() + 600000);
  stored.code_salt = std::string(16, 's');
  stored.code_sha256 = std::string(32, 'h');
  ASSERT_TRUE(store_->Create(stored, {}).ok());
  Restart();
  auto recovered = approvals_->RecoverInterruptedCalls();
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_EQ(*recovered, 1);
  auto status = approvals_->GetStatus("STOPPED01WXYZ");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->state(), v1::ISSUANCE_STATE_FAILED);
  EXPECT_THAT(status->state_detail(),
              HasSubstr("the approval service stopped while this request's contacts were being "
                        "called"));
  EXPECT_THAT(Kinds(*status), ElementsAre(v1::AUDIT_EVENT_KIND_FAILED));
  EXPECT_EQ(*approvals_->RecoverInterruptedCalls(), 0);
}

TEST_F(ApprovalsTest, TheServiceDrawsTheTransactionNumberWhenTheCaSendsNone) {
  auto first = approvals_->Submit(Request(""));
  auto second = approvals_->Submit(Request(""));
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(first->transaction_number().size(), 12u);
  EXPECT_EQ(first->transaction_number().find_first_not_of(std::string(kTransactionNumberAlphabet)),
            std::string::npos);
  EXPECT_NE(first->transaction_number(), second->transaction_number());
  // Read in groups on the phone; typed in groups on the page.
  const std::string number = first->transaction_number();
  EXPECT_THAT(gateway_->calls()[0].message, HasSubstr(SpokenInGroups(number)));
  auto viewed = approvals_->View(absl::AsciiStrToLower(GroupedTransactionNumber(number)), "");
  ASSERT_TRUE(viewed.ok()) << viewed.status();
  EXPECT_EQ(viewed->transaction_number(), number);
}

TEST_F(ApprovalsTest, ABareKeyNeedsItsProofOfPossession) {
  v1::SubmitIssuanceRequestRequest request = Request("PROOF0001WXYZ");
  request.clear_proof_of_possession();
  EXPECT_THAT(
      approvals_->Submit(request),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("proof_of_possession: required with subject_public_key_info_der")));
  // A proof for another domain proves nothing for this one.
  auto key = GenerateEcKey();
  ASSERT_TRUE(key.ok());
  request = Request("PROOF0001WXYZ", kDomain, key->get());
  request.set_proof_of_possession(*SignProofOfPossession(key->get(), "other.test"));
  EXPECT_THAT(approvals_->Submit(request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "proof_of_possession: not a signature by the submitted key over the proof "
                       "message for example.test"));
  ASSERT_NO_FATAL_FAILURE(ExpectNothingRecorded("PROOF0001WXYZ", PublicKeyToDer(key->get())));
  // Ed25519, signed as `openssl pkeyutl -sign -rawin` does.
  auto ed25519 = GenerateEd25519Key();
  ASSERT_TRUE(ed25519.ok());
  auto accepted = approvals_->Submit(Request("PROOF0002WXYZ", kDomain, ed25519->get()));
  ASSERT_TRUE(accepted.ok()) << accepted.status();
}

TEST_F(ApprovalsTest, TheRequesterIsCheckedAsText) {
  v1::SubmitIssuanceRequestRequest request = Request("REQTXT001WXYZ");
  request.set_requester(
      "Example \xE2\x80\xAE"
      "gro");
  EXPECT_THAT(approvals_->Submit(request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("requester: U+202E is a format character")));
  std::string long_name;
  for (int i = 0; i < 200; ++i) long_name += "é";
  request.set_requester(long_name);
  auto accepted = approvals_->Submit(request);
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_EQ(accepted->requester(), long_name);
}

// ARCHITECTURE.md §7, "What an approval covers": by key, the approval that covers the host
// answers, not merely the latest request for the key; a key approved for two domains keeps both.
TEST_F(ApprovalsTest, ByKeyTheApprovalCoveringTheHostAnswers) {
  auto key = GenerateEcKey();
  ASSERT_TRUE(key.ok());
  const std::string key_sha256 = Sha256(PublicKeyToDer(key->get()));
  ASSERT_TRUE(approvals_->Submit(Request("KEYDOM001WXYZ", kDomain, key->get())).ok());
  ASSERT_TRUE(approvals_->Decide("KEYDOM001WXYZ", HeardCode(), Decision::kApprove, "").ok());
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(approvals_->Submit(Request("KEYDOM002WXYZ", "other.test", key->get())).ok());
  ASSERT_TRUE(approvals_->Decide("KEYDOM002WXYZ", HeardCode(), Decision::kApprove, "").ok());
  clock_.Advance(absl::Seconds(1));
  // A newer request for the key and the first domain, still pending.
  ASSERT_TRUE(
      approvals_->Submit(CsrRequest("KEYDOM003WXYZ", CsrDer(key->get(), {"www.example.test"})))
          .ok());
  for (const auto& [hostname, expected, state] :
       std::vector<std::tuple<std::string, std::string, v1::IssuanceState>>{
           {"www.example.test", "KEYDOM001WXYZ", v1::ISSUANCE_STATE_APPROVED},
           {"WWW.Example.Test", "KEYDOM001WXYZ", v1::ISSUANCE_STATE_APPROVED},
           {"mail.other.test", "KEYDOM002WXYZ", v1::ISSUANCE_STATE_APPROVED},
           {"", "KEYDOM002WXYZ", v1::ISSUANCE_STATE_APPROVED},
           {"www.third.test", "KEYDOM003WXYZ", v1::ISSUANCE_STATE_AWAITING_APPROVAL}}) {
    SCOPED_TRACE(hostname);
    auto status = approvals_->GetStatusByKey(key_sha256, hostname);
    ASSERT_TRUE(status.ok()) << status.status();
    EXPECT_EQ(status->transaction_number(), expected);
    EXPECT_EQ(status->state(), state);
  }
  // The whole-domain approval covers every name below the domain.
  auto mail = approvals_->GetStatusByKey(key_sha256, "mail.example.test");
  ASSERT_TRUE(mail.ok());
  EXPECT_EQ(mail->transaction_number(), "KEYDOM001WXYZ");
}

TEST(CallMessageTest, SaysMinutesAndNumbersAsPeopleSayThem) {
  EXPECT_EQ(SpokenValidity(absl::Seconds(59)), "less than a minute");
  EXPECT_EQ(SpokenValidity(absl::Seconds(60)), "1 minute");
  EXPECT_EQ(SpokenValidity(absl::Seconds(119)), "1 minute");
  EXPECT_EQ(SpokenValidity(absl::Minutes(10)), "10 minutes");
  EXPECT_EQ(CallMessage({"Example CA", "example.com", "ABCDEFGHJK", "12345678",
                         "https://certapproval.example-ca.com/", absl::Seconds(299)}),
            "This is Example CA. A certificate was requested for the domain example.com by the "
            "requester named on the approval page. Transaction number: A B C D, E F G H, J K. "
            "Approval code: 1 2 3 4, 5 6 7 8. The code is valid for 4 minutes. If you expect "
            "this certificate, go to https://certapproval.example-ca.com/ , enter the "
            "transaction number, check the request and approve it with the code. If you do not "
            "expect it, reject it there. Never give this code to anyone; Example CA will never "
            "ask you for it. Once more: the transaction number is A B C D, E F G H, J K, and "
            "the code is 1 2 3 4, 5 6 7 8.");
}

}  // namespace
}  // namespace mecai
