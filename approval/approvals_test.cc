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

#include "approval/approval_code.h"
#include "approval/approval_metrics.h"
#include "approval/approval_store.h"
#include "approval/testing/test_environment.h"
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
         {"nophone.test", testing::RdapDomainJson("nophone.test", {})}});
    ASSERT_TRUE(rdap.ok()) << rdap.status();
    rdap_ = rdap->release();
  }
  static void TearDownTestSuite() { delete rdap_; }

  void SetUp() override { StartService(/*gateway_failures=*/0); }

  void StartService(int gateway_failures) {
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
    options.voice_gateway_url = gateway_->url();
    options.approval_site_url = "http://certapproval.ca.test/";
    options.certificate_authority_name = "Test CA";
    options.rdap.base_urls = {{"test", rdap_->base_url()}};
    options.secret_equals = &CountingConstantTimeEquals;
    registry_ = std::make_shared<prometheus::Registry>();
    metrics_ = std::make_unique<ApprovalMetrics>(*registry_);
    approvals_ =
        std::make_unique<Approvals>(options, *store_, *fetcher_, clock_, random_, metrics_.get());
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

  v1::SubmitIssuanceRequestRequest Request(const std::string& transaction_number,
                                           const std::string& domain = kDomain) {
    auto key = GenerateEcKey();
    EXPECT_TRUE(key.ok());
    unsigned char* der = nullptr;
    const int length = i2d_PUBKEY(key->get(), &der);
    v1::SubmitIssuanceRequestRequest request;
    request.set_domain(domain);
    request.set_transaction_number(transaction_number);
    request.set_subject_public_key_info_der(std::string(reinterpret_cast<char*>(der), length));
    OPENSSL_free(der);
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
  auto submitted = approvals_->Submit(Request("TXN123456"));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  ASSERT_EQ(submitted->state(), v1::ISSUANCE_STATE_AWAITING_APPROVAL) << submitted->DebugString();
  EXPECT_EQ(submitted->code_expires_unix_milliseconds() - submitted->submitted_unix_milliseconds(),
            600000);
  // Registrant voice numbers and the nested abuse contact; never the fax number.
  std::vector<std::string> called;
  for (const testing::RecordedCall& call : gateway_->calls()) called.push_back(call.to);
  EXPECT_THAT(called, ElementsAre("+49301234567", "+15550100100", "+15550100200"));
  const std::string code = HeardCode();
  ASSERT_EQ(code.size(), 8u);
  // A bare key names no host: the request is for the whole domain.
  EXPECT_THAT(submitted->names(), ElementsAre("example.test"));
  EXPECT_TRUE(submitted->whole_domain());
  EXPECT_THAT(gateway_->calls()[0].message, HasSubstr("example.test"));
  EXPECT_THAT(gateway_->calls()[0].message, HasSubstr("T X N 1 2 3 4 5 6"));
  EXPECT_THAT(gateway_->calls()[0].message, HasSubstr("http://certapproval.ca.test/"));

  auto viewed = approvals_->View("TXN123456", "127.0.0.1");
  ASSERT_TRUE(viewed.ok());
  EXPECT_EQ(viewed->domain(), kDomain);

  secret_comparisons = 0;
  auto approved = approvals_->Decide("TXN123456", code, Decision::kApprove, "127.0.0.1");
  ASSERT_TRUE(approved.ok()) << approved.status();
  EXPECT_EQ(approved->result, DecisionResult::kApproved);
  EXPECT_EQ(secret_comparisons, 1);
  EXPECT_EQ(approved->status.state(), v1::ISSUANCE_STATE_APPROVED);
  EXPECT_THAT(
      Kinds(approved->status),
      ElementsAre(v1::AUDIT_EVENT_KIND_SUBMITTED, v1::AUDIT_EVENT_KIND_RDAP_LOOKUP_SUCCEEDED,
                  v1::AUDIT_EVENT_KIND_CALL_PLACED, v1::AUDIT_EVENT_KIND_CALL_PLACED,
                  v1::AUDIT_EVENT_KIND_CALL_PLACED, v1::AUDIT_EVENT_KIND_AWAITING_APPROVAL,
                  v1::AUDIT_EVENT_KIND_PAGE_VIEWED, v1::AUDIT_EVENT_KIND_APPROVED));
  for (const v1::AuditEvent& event : approved->status.audit_trail()) {
    EXPECT_GT(event.time_unix_milliseconds(), 0);
    EXPECT_THAT(event.detail(), Not(HasSubstr(code)));
  }
  // The key index answers for the key (what a coordinator would ask).
  auto by_key = approvals_->GetStatusByKey(approved->status.subject_public_key_info_sha256());
  ASSERT_TRUE(by_key.ok());
  EXPECT_EQ(by_key->state(), v1::ISSUANCE_STATE_APPROVED);
  // A decided request takes no further decision.
  auto again = approvals_->Decide("TXN123456", code, Decision::kReject, "127.0.0.1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->result, DecisionResult::kAlreadyDecided);
}

TEST_F(ApprovalsTest, TheCodeIsStoredOnlyAsASaltedHash) {
  ASSERT_TRUE(approvals_->Submit(Request("HASHED001")).ok());
  const std::string code = HeardCode();
  ASSERT_EQ(code.size(), 8u);
  store_.reset();  // Closes RocksDB so every file is complete on disk.
  std::string everything;
  for (const auto& entry : std::filesystem::directory_iterator(store_directory_)) {
    auto bytes = ReadFile(entry.path().string());
    if (bytes.ok()) everything += *bytes;
  }
  EXPECT_THAT(everything, HasSubstr("HASHED001"));
  EXPECT_THAT(everything, Not(HasSubstr(code)));
}

TEST_F(ApprovalsTest, WrongCodesAreCountedAndLockTheRequest) {
  ASSERT_TRUE(approvals_->Submit(Request("LOCKME001")).ok());
  const std::string code = HeardCode();
  const std::string wrong = code == "00000000" ? "11111111" : "00000000";
  secret_comparisons = 0;
  for (int attempt = 1; attempt <= 4; ++attempt) {
    auto outcome = approvals_->Decide("LOCKME001", wrong, Decision::kApprove, "127.0.0.1");
    ASSERT_TRUE(outcome.ok());
    EXPECT_EQ(outcome->result, DecisionResult::kWrongCode);
    EXPECT_EQ(outcome->status.failed_attempts(), static_cast<uint32_t>(attempt));
  }
  auto last = approvals_->Decide("LOCKME001", "not digits", Decision::kApprove, "127.0.0.1");
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->result, DecisionResult::kLocked);
  EXPECT_EQ(last->status.state(), v1::ISSUANCE_STATE_LOCKED);
  EXPECT_EQ(secret_comparisons, 5);
  // Locked: even the right code is refused, without another comparison.
  auto right = approvals_->Decide("LOCKME001", code, Decision::kApprove, "127.0.0.1");
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
  ASSERT_TRUE(approvals_->Submit(Request("EXPIRE001")).ok());
  const std::string code = HeardCode();
  clock_.Advance(absl::Minutes(10) - absl::Milliseconds(1));
  auto status = approvals_->GetStatus("EXPIRE001");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->state(), v1::ISSUANCE_STATE_AWAITING_APPROVAL);
  clock_.Advance(absl::Milliseconds(1));
  auto outcome = approvals_->Decide("EXPIRE001", code, Decision::kApprove, "127.0.0.1");
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->result, DecisionResult::kExpired);
  EXPECT_EQ(outcome->status.state(), v1::ISSUANCE_STATE_EXPIRED);
  std::vector<v1::AuditEventKind> kinds = Kinds(outcome->status);
  EXPECT_THAT(std::vector<v1::AuditEventKind>(kinds.end() - 2, kinds.end()),
              ElementsAre(v1::AUDIT_EVENT_KIND_EXPIRED, v1::AUDIT_EVENT_KIND_REFUSED));
}

TEST_F(ApprovalsTest, RejectsWithTheRightCode) {
  ASSERT_TRUE(approvals_->Submit(Request("REJECT001")).ok());
  auto outcome = approvals_->Decide("REJECT001", HeardCode(), Decision::kReject, "127.0.0.1");
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->result, DecisionResult::kRejected);
  EXPECT_EQ(outcome->status.state(), v1::ISSUANCE_STATE_REJECTED);
}

TEST_F(ApprovalsTest, TransactionNumbersAreValidatedAndUnique) {
  ASSERT_TRUE(approvals_->Submit(Request("UNIQUE001")).ok());
  EXPECT_THAT(approvals_->Submit(Request("UNIQUE001")),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("used before")));
  EXPECT_THAT(approvals_->Submit(Request("12345")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("transaction_number")));
  EXPECT_THAT(approvals_->Submit(Request("ABC-123456")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("transaction_number")));
  EXPECT_THAT(approvals_->Submit(Request("DOMAIN001", "localhost")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("domain")));
  EXPECT_THAT(approvals_->GetStatus("NOSUCH001"),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
}

TEST_F(ApprovalsTest, FailedGatewayCallsAreRecordedAndRetried) {
  StartService(/*gateway_failures=*/2);
  auto submitted = approvals_->Submit(Request("RETRY0001"));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  EXPECT_EQ(submitted->state(), v1::ISSUANCE_STATE_AWAITING_APPROVAL);
  ASSERT_EQ(submitted->calls_size(), 3);
  EXPECT_TRUE(submitted->calls(0).delivered());
  EXPECT_EQ(submitted->calls(0).attempts(), 3u);
  std::vector<v1::AuditEventKind> kinds = Kinds(*submitted);
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), v1::AUDIT_EVENT_KIND_CALL_FAILED), 6);
  EXPECT_EQ(gateway_->requests(), 9);
}

TEST_F(ApprovalsTest, EveryCallFailingFailsTheRequest) {
  StartService(/*gateway_failures=*/3);
  auto submitted = approvals_->Submit(Request("NOCALL001"));
  ASSERT_TRUE(submitted.ok());
  EXPECT_EQ(submitted->state(), v1::ISSUANCE_STATE_FAILED);
  EXPECT_EQ(submitted->calls(0).attempts(), 3u);
  EXPECT_THAT(submitted->calls(0).error(), HasSubstr("503"));
  EXPECT_EQ(Kinds(*submitted).back(), v1::AUDIT_EVENT_KIND_FAILED);
}

TEST_F(ApprovalsTest, RdapProblemsAreRecordedAndFailTheRequest) {
  for (const auto& [transaction_number, domain, detail] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"RDAP00001", "absent.test", "404"},
           {"RDAP00002", "wrong.test", "names domain"},
           {"RDAP00003", "example.invalid", "no RDAP server"}}) {
    auto submitted = approvals_->Submit(Request(transaction_number, domain));
    ASSERT_TRUE(submitted.ok()) << submitted.status();
    EXPECT_EQ(submitted->state(), v1::ISSUANCE_STATE_FAILED);
    ASSERT_GE(submitted->audit_trail_size(), 3);
    EXPECT_EQ(submitted->audit_trail(1).kind(), v1::AUDIT_EVENT_KIND_RDAP_LOOKUP_FAILED);
    EXPECT_THAT(submitted->audit_trail(1).detail(), HasSubstr(detail));
  }
  auto no_phone = approvals_->Submit(Request("RDAP00004", "nophone.test"));
  ASSERT_TRUE(no_phone.ok());
  // The fax number alone does not count; the registrar's abuse line does.
  EXPECT_EQ(no_phone->calls_size(), 1);
  EXPECT_EQ(gateway_->calls().back().to, "+15550100200");
}

// The CSR path of SubmitIssuanceRequest (approval.proto: "a PKCS #10 CSR (DER) whose signature
// must verify and whose names must all be `domain` or below it").
TEST_F(ApprovalsTest, ACsrsKeyAndNamesAreExtractedAndShownOnThePage) {
  auto key = GenerateEcKey();
  ASSERT_TRUE(key.ok());
  auto submitted = approvals_->Submit(
      CsrRequest("CSR000001", CsrDer(key->get(), {"www.example.test", "Example.Test"}, "ignored")));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  EXPECT_EQ(submitted->state(), v1::ISSUANCE_STATE_AWAITING_APPROVAL);
  // The dNSName subjectAltNames (lower case), not the subject CN.
  EXPECT_THAT(submitted->names(), ElementsAre("www.example.test", "example.test"));
  EXPECT_FALSE(submitted->whole_domain());
  EXPECT_EQ(submitted->subject_public_key_info_sha256(), Sha256(PublicKeyToDer(key->get())));
  auto by_key = approvals_->GetStatusByKey(Sha256(PublicKeyToDer(key->get())));
  ASSERT_TRUE(by_key.ok()) << by_key.status();
  EXPECT_EQ(by_key->transaction_number(), "CSR000001");

  auto page = ApprovalPage::Create(*approvals_, random_);
  ASSERT_TRUE(page.ok()) << page.status();
  HttpServerRequest show;
  show.method = "GET";
  show.path = "/request";
  show.query["tn"] = "CSR000001";
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
      approvals_->Submit(CsrRequest("CSR000002", CsrDer(key->get(), {}, "Mail.Example.Test")));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  EXPECT_THAT(submitted->names(), ElementsAre("mail.example.test"));
}

TEST_F(ApprovalsTest, ACsrWithABadSignatureIsRefusedAndNothingIsRecorded) {
  auto key = GenerateEcKey();
  ASSERT_TRUE(key.ok());
  std::string csr = CsrDer(key->get(), {"www.example.test"});
  // The last byte belongs to the signature value: the DER still parses, the signature fails.
  csr.back() ^= 0x01;
  EXPECT_THAT(approvals_->Submit(CsrRequest("CSR000003", csr)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("csr_der: the signature does not verify")));
  ASSERT_NO_FATAL_FAILURE(ExpectNothingRecorded("CSR000003", PublicKeyToDer(key->get())));
}

TEST_F(ApprovalsTest, MalformedCsrDerIsRefusedAndNothingIsRecorded) {
  auto key = GenerateEcKey();
  ASSERT_TRUE(key.ok());
  const std::string csr = CsrDer(key->get(), {"www.example.test"});
  for (const std::string& malformed : {csr.substr(0, csr.size() / 2), csr + std::string("\x00", 1),
                                       std::string("not DER"), std::string(17 << 10, '\x30')}) {
    SCOPED_TRACE(malformed.size());
    absl::StatusOr<v1::IssuanceStatus> refused =
        approvals_->Submit(CsrRequest("CSR000004", malformed));
    ASSERT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();
    EXPECT_THAT(std::string(refused.status().message()), HasSubstr("csr_der"));
    EXPECT_THAT(std::string(refused.status().message()), Not(HasSubstr("\n")));
    ASSERT_NO_FATAL_FAILURE(ExpectNothingRecorded("CSR000004", PublicKeyToDer(key->get())));
  }
}

TEST_F(ApprovalsTest, ACsrNamingAnotherDomainIsRefusedAndNothingIsRecorded) {
  auto key = GenerateEcKey();
  ASSERT_TRUE(key.ok());
  EXPECT_THAT(
      approvals_->Submit(
          CsrRequest("CSR000005", CsrDer(key->get(), {"www.example.test", "www.attacker.test"}))),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("the name \"www.attacker.test\" is not example.test or below it")));
  ASSERT_NO_FATAL_FAILURE(ExpectNothingRecorded("CSR000005", PublicKeyToDer(key->get())));
}

// The domain and every CSR name follow the hostname rule of common/net/dns_name.h
// (hostname_rules::kApprovalDomain, kApprovalName), and the refusal says which rule failed.
TEST_F(ApprovalsTest, DomainsAndCsrNamesFollowTheHostnameRule) {
  EXPECT_THAT(approvals_->Submit(Request("DOMAIN002", "ab--cd.test")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "domain: hostname \"ab--cd.test\": label \"ab--cd\" has \"--\" in "
                       "positions 3-4, reserved for A-labels (RFC 5890 §2.3.1)"));
  EXPECT_THAT(approvals_->Submit(Request("DOMAIN003", "example.123")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("has the all-numeric top-level label \"123\"")));
  EXPECT_THAT(approvals_->Submit(Request("DOMAIN004", "*.example.test")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("label \"*\" is a wildcard; wildcards are not accepted here")));
  EXPECT_THAT(approvals_->Submit(Request("DOMAIN005", "192.0.2.1")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("is an IP address literal; only a DNS name is accepted here")));
  ASSERT_NO_FATAL_FAILURE(ExpectNothingRecorded("DOMAIN002", ""));

  // A wildcard only as the whole left-most label (RFC 6125 §6.4.3).
  auto key = GenerateEcKey();
  ASSERT_TRUE(key.ok());
  EXPECT_THAT(
      approvals_->Submit(CsrRequest("CSR000006", CsrDer(key->get(), {"a.*.example.test"}))),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "csr_der: hostname \"a.*.example.test\": label \"*\" is a wildcard, which is only "
               "allowed as the whole left-most label (RFC 6125 §6.4.3)"));
  ASSERT_NO_FATAL_FAILURE(ExpectNothingRecorded("CSR000006", PublicKeyToDer(key->get())));

  // The domain as a person typed it is taken in its canonical (lower-case) form.
  auto typed = approvals_->Submit(Request("DOMAIN006", "Example.TEST"));
  ASSERT_TRUE(typed.ok()) << typed.status();
  EXPECT_EQ(typed->domain(), kDomain);
  // A leading wildcard is a name like any other; it is canonicalized too.
  auto wildcard =
      approvals_->Submit(CsrRequest("CSR000007", CsrDer(key->get(), {"*.Example.test"})));
  ASSERT_TRUE(wildcard.ok()) << wildcard.status();
  EXPECT_THAT(wildcard->names(), ElementsAre("*.example.test"));
}

// The service's /metrics (common/base/metrics.h) after every kind of page attempt, checked by
// Prometheus' own promtool.
TEST_F(ApprovalsTest, MetricsCountEveryStepAndPassPromtool) {
  ASSERT_TRUE(approvals_->Submit(Request("MET000001")).ok());
  const std::string code = HeardCode();
  ASSERT_TRUE(approvals_->Decide("MET000001", "00000000", Decision::kApprove, "").ok());
  ASSERT_TRUE(approvals_->Decide("MET000001", code, Decision::kApprove, "").ok());
  ASSERT_TRUE(approvals_->Decide("MET000001", code, Decision::kApprove, "").ok());
  EXPECT_THAT(approvals_->Decide("UNKNOWN01", code, Decision::kApprove, ""),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  EXPECT_THAT(approvals_->Submit(Request("MET000001")),
              StatusIs(absl::StatusCode::kAlreadyExists, ::testing::_));
  EXPECT_THAT(approvals_->Submit(Request("no")),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  ASSERT_TRUE(approvals_->Submit(Request("MET000002")).ok());
  clock_.Advance(absl::Minutes(11));
  ASSERT_TRUE(approvals_->Decide("MET000002", "12345678", Decision::kReject, "").ok());

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
           // Three registry numbers per request.
           "mecai_approval_calls_total{outcome=\"placed\"} 6",
           "mecai_approval_voice_gateway_requests_total{result=\"ok\"} 6",
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

}  // namespace
}  // namespace mecai
