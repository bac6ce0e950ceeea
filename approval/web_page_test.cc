// The certapproval page's handler against a real Approvals (RDAP from a real nginx, a recording
// voice gateway, a RocksDB store) and a FakeClock (docs/APPROVAL.md "The web page", "Behind a
// reverse proxy", "Limits"): what each page says, the confirmation step, the Origin and CSRF
// checks behind a proxy with their log, metric and audit event, the per-network wrong-code limits
// and the 413 page. The same flow in a real browser is approval_page_chromium_test; through a real
// nginx, approval_proxy_test.
#include "approval/web_page.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "approval/approval_store.h"
#include "approval/approvals.h"
#include "approval/proof_of_possession.h"
#include "approval/testing/test_environment.h"
#include "approval/web_page_metrics.h"
#include "common/base/clock.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/net/address_policy.h"
#include "common/net/http_fetcher.h"
#include "common/pki/pki_builder.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"

namespace mecai {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kDomain[] = "example.test";
constexpr char kSite[] = "https://certapproval.ca.test/";
constexpr char kSiteOrigin[] = "https://certapproval.ca.test";
// The reverse proxy's address (trusted) and the person's, as the proxy reports it.
constexpr char kProxy[] = "10.0.0.2";
constexpr char kClient[] = "203.0.113.9";

double CounterValue(prometheus::Registry& registry, const std::string& name,
                    const std::string& reason) {
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      for (const prometheus::ClientMetric::Label& label : metric.label) {
        if (label.name == "reason" && label.value == reason) return metric.counter.value;
      }
    }
  }
  return -1;
}

// The value of <input ... name="NAME" value="..."> in `html`.
std::string InputValue(const std::string& html, const std::string& name) {
  const std::string marker = absl::StrCat("name=\"", name, "\" value=\"");
  const size_t start = html.find(marker);
  if (start == std::string::npos) return "";
  const size_t end = html.find('"', start + marker.size());
  return html.substr(start + marker.size(), end - start - marker.size());
}

std::string SetCookie(const HttpServerResponse& response) {
  for (const auto& [name, value] : response.headers) {
    if (name == "Set-Cookie") return value;
  }
  return "";
}

class WebPageTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto directory = test_pki::MakeTempDirectory();
    ASSERT_TRUE(directory.ok());
    auto rdap = testing::RdapServer::Start(
        *directory, {{kDomain, testing::RdapDomainJson(kDomain, {"+49.30.1234567"})}});
    ASSERT_TRUE(rdap.ok()) << rdap.status();
    rdap_ = rdap->release();
  }
  static void TearDownTestSuite() { delete rdap_; }

  void SetUp() override {
    auto gateway = testing::VoiceGateway::Start();
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = *std::move(gateway);
    auto directory = test_pki::MakeTempDirectory();
    ASSERT_TRUE(directory.ok());
    auto store = ApprovalStore::Open(*directory + "/store");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    auto policy = AddressPolicy::Create({"127.0.0.0/8"});
    ASSERT_TRUE(policy.ok());
    fetcher_ = std::make_unique<CurlHttpFetcher>(*policy);
    ApprovalOptions options;
    options.voice_gateway_url = gateway_->url();
    options.approval_site_url = kSite;
    options.certificate_authority_name = "Test CA";
    options.rdap.base_urls = {{"test", rdap_->base_url()}};
    // The registry and the gateway run on loopback over http.
    options.allow_http = true;
    approvals_ = std::make_unique<Approvals>(options, *store_, *fetcher_, clock_, random_);
    metrics_ = std::make_unique<ApprovalPageMetrics>(registry_);
    ApprovalPageOptions page_options;
    page_options.certificate_authority_contact = "+1 555 0100";
    page_options.trusted_proxies = {"10.0.0.0/8"};
    page_options.wrong_code_limits = {/*per_address=*/10, /*per_address_and_request=*/2,
                                      absl::Hours(1)};
    page_options.store = store_.get();
    page_options.clock = &clock_;
    page_options.metrics = metrics_.get();
    auto page = ApprovalPage::Create(*approvals_, random_, page_options);
    ASSERT_TRUE(page.ok()) << page.status();
    page_ = *std::move(page);
  }

  // The CA submits a request; returns the code the gateway was asked to speak.
  std::string Submit(const std::string& transaction_number,
                     const std::vector<std::string>& csr_names = {},
                     const std::string& requester = "Shop Owner") {
    auto key = GenerateEcKey();
    EXPECT_TRUE(key.ok());
    v1::SubmitIssuanceRequestRequest request;
    request.set_domain(kDomain);
    request.set_transaction_number(transaction_number);
    request.set_requester(requester);
    if (csr_names.empty()) {
      request.set_subject_public_key_info_der(PublicKeyToDer(key->get()));
      request.set_proof_of_possession(SignProofOfPossession(key->get(), kDomain).value_or(""));
    } else {
      request.set_csr_der(IssueCsrDer(key->get(), csr_names).value_or(""));
    }
    auto submitted = approvals_->Submit(request);
    EXPECT_TRUE(submitted.ok()) << submitted.status();
    EXPECT_EQ(submitted->state(), v1::ISSUANCE_STATE_AWAITING_APPROVAL);
    return testing::SpokenApprovalCode(gateway_->calls().back().message);
  }

  // A GET through the proxy for `client`.
  HttpServerResponse Get(const std::string& path_and_query, const std::string& client = kClient) {
    HttpServerRequest request;
    request.method = "GET";
    const size_t question = path_and_query.find('?');
    request.path = path_and_query.substr(0, question);
    if (question != std::string::npos) {
      request.query = ParseFormUrlEncoded(path_and_query.substr(question + 1));
    }
    request.remote_address = kProxy;
    request.headers["x-forwarded-for"] = absl::StrCat("198.51.100.66, ", client);
    // The proxy passes its own upstream Host: the page must not care.
    request.headers["host"] = "127.0.0.1:8080";
    if (!cookie_.empty()) request.headers["cookie"] = absl::StrCat("__Host-mecai_csrf=", cookie_);
    HttpServerResponse response = page_->Handle(request);
    const std::string set = SetCookie(response);
    if (!set.empty()) cookie_ = set.substr(set.find('=') + 1, 32);
    return response;
  }

  // A POST of `fields` as the browser sends it from the page (Origin of the site).
  HttpServerResponse Post(const std::string& path,
                          const std::vector<std::pair<std::string, std::string>>& fields,
                          const std::string& origin = kSiteOrigin,
                          const std::string& client = kClient) {
    HttpServerRequest request;
    request.method = "POST";
    request.path = path;
    request.remote_address = kProxy;
    request.headers["x-forwarded-for"] = client;
    request.headers["host"] = "127.0.0.1:8080";
    if (!origin.empty()) request.headers["origin"] = origin;
    if (!cookie_.empty()) request.headers["cookie"] = absl::StrCat("__Host-mecai_csrf=", cookie_);
    for (const auto& [name, value] : fields) {
      absl::StrAppend(&request.body, request.body.empty() ? "" : "&", name, "=", value);
    }
    return page_->Handle(request);
  }

  v1::IssuanceStatus Status(const std::string& transaction_number) {
    auto status = approvals_->GetStatus(transaction_number);
    EXPECT_TRUE(status.ok()) << status.status();
    return status.value_or(v1::IssuanceStatus());
  }

  static testing::RdapServer* rdap_;
  FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  OpenSslRandomSource random_;
  std::unique_ptr<testing::VoiceGateway> gateway_;
  std::unique_ptr<ApprovalStore> store_;
  std::unique_ptr<CurlHttpFetcher> fetcher_;
  std::unique_ptr<Approvals> approvals_;
  prometheus::Registry registry_;
  std::unique_ptr<ApprovalPageMetrics> metrics_;
  std::unique_ptr<ApprovalPage> page_;
  std::string cookie_;
};

testing::RdapServer* WebPageTest::rdap_ = nullptr;

TEST_F(WebPageTest, TheStartPageIsMadeForPhonesAndNamesTheCa) {
  HttpServerResponse home = Get("/");
  EXPECT_EQ(home.status, 200);
  EXPECT_THAT(home.body, HasSubstr("<meta name=\"viewport\" content=\"width=device-width, "
                                   "initial-scale=1\">"));
  EXPECT_THAT(home.body, HasSubstr("<title>Check a certificate request \xE2\x80\x93 Test CA"
                                   "</title>"));
  EXPECT_THAT(home.body, HasSubstr("<main><h1>Check a certificate request</h1>"));
  EXPECT_THAT(home.body, HasSubstr("Test CA called you about a certificate"));
  EXPECT_THAT(home.body, HasSubstr("autocapitalize=\"characters\" autocorrect=\"off\" "
                                   "spellcheck=\"false\""));
  EXPECT_THAT(home.body, HasSubstr("Test CA will never ask you for it."));
  EXPECT_THAT(home.body, Not(HasSubstr("<script")));
  // An unknown number: the form again with the typed value and an announced error.
  HttpServerResponse unknown = Get("/request?tn=nope%3Cb%3E1");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_THAT(unknown.body, HasSubstr("value=\"nope&lt;b&gt;1\""));
  EXPECT_THAT(unknown.body, HasSubstr("<p id=\"tn-error\" class=\"error\" role=\"alert\">There is "
                                      "no request with this transaction number."));
  EXPECT_THAT(unknown.body, HasSubstr("aria-describedby=\"tn-error tn-hint\" "
                                      "aria-invalid=\"true\""));
}

TEST_F(WebPageTest, TheRequestPageSaysWhoAsksWhatForAndWhatApprovingDoes) {
  // (A requester with bidi controls never gets this far: the service refuses it,
  // ApprovalsTest.TheRequesterIsCheckedAsText; the page still isolates the text in <bdi>.)
  Submit("WEBQRSTUV0001", {"www.example.test", "*.example.test"}, "Jane\xE2\x80\x99s Bakery Ltd");
  HttpServerResponse shown = Get("/request?tn=WEBQRSTUV0001");
  EXPECT_EQ(shown.status, 200);
  // https site: a __Host- cookie, Secure.
  EXPECT_THAT(SetCookie(shown),
              ::testing::MatchesRegex("__Host-mecai_csrf=[0-9a-f]{32}; Path=/; HttpOnly; "
                                      "SameSite=Strict; Secure"));
  EXPECT_THAT(shown.body,
              HasSubstr("<dd id=\"requester\"><bdi>Jane\xE2\x80\x99s Bakery Ltd</bdi></dd>"));
  EXPECT_THAT(shown.body, HasSubstr("<ul id=\"names\" class=\"names\"><li>www.example.test</li>"
                                    "<li>*.example.test</li></ul>"));
  EXPECT_THAT(shown.body, HasSubstr("<strong>Warning: *.example.test is a wildcard</strong>"));
  EXPECT_THAT(shown.body, Not(HasSubstr("whole-domain-warning")));
  EXPECT_THAT(shown.body, HasSubstr("If you approve, Test CA will issue a TLS certificate for "
                                    "these names to the holder of the key"));
  EXPECT_THAT(shown.body, HasSubstr("Never give this code to anyone. Test CA will never ask you "
                                    "for it."));
  EXPECT_THAT(shown.body, HasSubstr("<dd id=\"time-left\">10 minutes left (until 2027-01-15 "
                                    "08:10 UTC)</dd>"));
  // Two explicit choices, neither preselected; the form's one button leads to the confirmation.
  EXPECT_THAT(shown.body, HasSubstr("action=\"/confirm?tn=WEBQRSTUV0001\""));
  EXPECT_THAT(shown.body, Not(HasSubstr(" checked")));
  EXPECT_THAT(shown.body, Not(HasSubstr("formaction")));
  EXPECT_THAT(shown.body, HasSubstr("autocomplete=\"one-time-code\""));
  EXPECT_THAT(shown.body, HasSubstr("inputmode=\"numeric\""));

  Submit("WEBQRSTUV0002");
  EXPECT_THAT(Get("/request?tn=WEBQRSTUV0002").body,
              HasSubstr("<strong>Warning: this is for example.test and every name below "
                        "it</strong>"));
}

TEST_F(WebPageTest, ApprovingTakesAConfirmationStepAndIsRecordedForTheForwardedClient) {
  const std::string code = Submit("WEBQRSTUV0003");
  const std::string csrf = InputValue(Get("/request?tn=WEBQRSTUV0003").body, "csrf");
  ASSERT_EQ(csrf.size(), 64u);
  // Enter in the code field submits the form without a choice: nothing is decided.
  HttpServerResponse no_choice =
      Post("/confirm", {{"tn", "WEBQRSTUV0003"}, {"csrf", csrf}, {"code", code}});
  EXPECT_EQ(no_choice.status, 400);
  EXPECT_THAT(no_choice.body, HasSubstr("<p id=\"decision-error\" class=\"error\" "
                                        "role=\"alert\">Choose one"));
  EXPECT_THAT(no_choice.body,
              HasSubstr(absl::StrCat("name=\"code\" id=\"code\" value=\"", code, "\"")));
  // With "approve" chosen it reaches the confirmation page, still nothing decided.
  HttpServerResponse confirm =
      Post("/confirm",
           {{"tn", "WEBQRSTUV0003"}, {"csrf", csrf}, {"code", code}, {"decision", "approve"}});
  EXPECT_EQ(confirm.status, 200);
  EXPECT_THAT(confirm.body, HasSubstr("You are about to let Test CA issue a TLS certificate for "
                                      "these names:"));
  EXPECT_THAT(confirm.body, HasSubstr("<form method=\"post\" action=\"/approve?tn=WEBQRSTUV0003\" "
                                      "id=\"final\">"));
  EXPECT_THAT(confirm.body, HasSubstr("<dd id=\"requester\"><bdi>Shop Owner</bdi></dd>"));
  EXPECT_EQ(Status("WEBQRSTUV0003").state(), v1::ISSUANCE_STATE_AWAITING_APPROVAL);

  clock_.Advance(absl::Minutes(2));
  HttpServerResponse approved = Post("/approve", {{"tn", InputValue(confirm.body, "tn")},
                                                  {"csrf", InputValue(confirm.body, "csrf")},
                                                  {"code", InputValue(confirm.body, "code")}});
  EXPECT_EQ(approved.status, 200);
  EXPECT_THAT(approved.body, HasSubstr("You approved the certificate for example.test. Test CA "
                                       "will issue it"));
  EXPECT_THAT(approved.body, HasSubstr("Decided at <span id=\"decided\">2027-01-15 08:02 UTC"));
  const v1::IssuanceStatus status = Status("WEBQRSTUV0003");
  EXPECT_EQ(status.state(), v1::ISSUANCE_STATE_APPROVED);
  EXPECT_EQ(status.audit_trail().rbegin()->kind(), v1::AUDIT_EVENT_KIND_APPROVED);
  EXPECT_EQ(status.audit_trail().rbegin()->remote_address(), kClient);
  // The decided request shows when it was decided, and no form.
  HttpServerResponse decided = Get("/request?tn=WEBQRSTUV0003");
  EXPECT_THAT(decided.body, HasSubstr("<dd id=\"decided\">2027-01-15 08:02 UTC</dd>"));
  EXPECT_THAT(decided.body, Not(HasSubstr("<form")));
}

TEST_F(WebPageTest, AForgedOriginIsRefusedLoggedCountedAndAudited) {
  const std::string code = Submit("WEBQRSTUV0004");
  const std::string csrf = InputValue(Get("/request?tn=WEBQRSTUV0004").body, "csrf");
  HttpServerResponse forged =
      Post("/approve", {{"tn", "WEBQRSTUV0004"}, {"csrf", csrf}, {"code", code}},
           "https://evil.example");
  EXPECT_EQ(forged.status, 403);
  EXPECT_THAT(forged.body, HasSubstr("This form must be sent from this site's own page."));
  EXPECT_EQ(CounterValue(registry_, "mecai_approval_page_refusals_total", "origin"), 1);
  // "null" (an opaque origin) and the site's http origin are other origins too.
  EXPECT_EQ(Post("/confirm", {{"tn", "WEBQRSTUV0004"}, {"csrf", csrf}}, "null").status, 403);
  EXPECT_EQ(
      Post("/reject", {{"tn", "WEBQRSTUV0004"}, {"csrf", csrf}}, "http://certapproval.ca.test")
          .status,
      403);
  EXPECT_EQ(CounterValue(registry_, "mecai_approval_page_refusals_total", "origin"), 3);
  v1::IssuanceStatus status = Status("WEBQRSTUV0004");
  EXPECT_EQ(status.state(), v1::ISSUANCE_STATE_AWAITING_APPROVAL);
  EXPECT_EQ(status.failed_attempts(), 0u);
  const v1::AuditEvent& refused = status.audit_trail(status.audit_trail_size() - 3);
  EXPECT_EQ(refused.kind(), v1::AUDIT_EVENT_KIND_REFUSED);
  EXPECT_EQ(refused.remote_address(), kClient);
  EXPECT_EQ(refused.detail(),
            "the page refused POST /approve: the Origin header \"https://evil.example\" is not the "
            "site's origin https://certapproval.ca.test");
  // Without Origin (a client that sends none) the CSRF token still decides.
  HttpServerResponse no_token = Post("/approve", {{"tn", "WEBQRSTUV0004"}, {"code", code}}, "");
  EXPECT_EQ(no_token.status, 403);
  EXPECT_THAT(no_token.body, HasSubstr("The form has expired or was not sent from this site."));
  EXPECT_EQ(CounterValue(registry_, "mecai_approval_page_refusals_total", "csrf"), 1);
  status = Status("WEBQRSTUV0004");
  EXPECT_EQ(status.audit_trail().rbegin()->detail(),
            "the page refused POST /approve: the CSRF token does not match the cookie");
  // A refusal naming no stored request is counted, not audited.
  EXPECT_EQ(Post("/approve", {{"tn", "NOSUCH0001"}}, "https://evil.example").status, 403);
  EXPECT_EQ(CounterValue(registry_, "mecai_approval_page_refusals_total", "origin"), 4);
  // The site's own origin passes whatever Host the proxy sent.
  EXPECT_EQ(Post("/approve", {{"tn", "WEBQRSTUV0004"}, {"csrf", csrf}, {"code", code}}).status,
            200);
}

TEST_F(WebPageTest, AWrongCodeKeepsTheFormAndOneNetworkCannotLockARequest) {
  const std::string code = Submit("WEBQRSTUV0005");
  const std::string wrong = code == "00000000" ? "11111111" : "00000000";
  const std::string csrf = InputValue(Get("/request?tn=WEBQRSTUV0005").body, "csrf");
  HttpServerResponse first =
      Post("/approve", {{"tn", "WEBQRSTUV0005"}, {"csrf", csrf}, {"code", wrong}});
  EXPECT_EQ(first.status, 403);
  EXPECT_THAT(first.body, HasSubstr("<p id=\"code-error\" class=\"error\" role=\"alert\">The "
                                    "approval code is wrong. Check the code you heard and type it "
                                    "again. Attempts left: 4.</p>"));
  EXPECT_THAT(first.body, HasSubstr(absl::StrCat("value=\"", wrong, "\"")));
  EXPECT_THAT(first.body, HasSubstr("aria-describedby=\"code-error code-hint\" "
                                    "aria-invalid=\"true\""));
  EXPECT_EQ(Post("/reject", {{"tn", "WEBQRSTUV0005"}, {"csrf", csrf}, {"code", wrong}}).status,
            403);
  // The third wrong code from this network is refused before the request counts it.
  HttpServerResponse limited =
      Post("/approve", {{"tn", "WEBQRSTUV0005"}, {"csrf", csrf}, {"code", wrong}});
  EXPECT_EQ(limited.status, 429);
  EXPECT_THAT(limited.body, HasSubstr("Too many wrong codes were entered from your network. Try "
                                      "again in 60 minutes."));
  EXPECT_EQ(CounterValue(registry_, "mecai_approval_page_refusals_total", "too_many_attempts"), 1);
  v1::IssuanceStatus status = Status("WEBQRSTUV0005");
  EXPECT_EQ(status.failed_attempts(), 2u);
  EXPECT_EQ(status.audit_trail().rbegin()->kind(), v1::AUDIT_EVENT_KIND_REFUSED);
  EXPECT_THAT(status.audit_trail().rbegin()->detail(),
              HasSubstr("too many wrong codes from 203.0.113.9"));
  // Even the right code waits; the owner on another network is not held up.
  EXPECT_EQ(Post("/approve", {{"tn", "WEBQRSTUV0005"}, {"csrf", csrf}, {"code", code}}).status,
            429);
  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(Post("/approve", {{"tn", "WEBQRSTUV0005"}, {"csrf", csrf}, {"code", code}}, kSiteOrigin,
                 "198.51.100.20")
                .status,
            200);
  EXPECT_EQ(Status("WEBQRSTUV0005").state(), v1::ISSUANCE_STATE_APPROVED);
}

TEST_F(WebPageTest, DeadEndsNameTheNextStep) {
  const std::string code = Submit("WEBQRSTUV0006");
  const std::string csrf = InputValue(Get("/request?tn=WEBQRSTUV0006").body, "csrf");
  clock_.Advance(absl::Minutes(11));
  HttpServerResponse expired =
      Post("/approve", {{"tn", "WEBQRSTUV0006"}, {"csrf", csrf}, {"code", code}});
  EXPECT_EQ(expired.status, 403);
  EXPECT_THAT(expired.body, HasSubstr("The approval code has expired."));
  EXPECT_THAT(expired.body, HasSubstr("ask whoever requested it to start a new request"));
  EXPECT_THAT(expired.body, HasSubstr("Contact Test CA: <span id=\"contact\">+1 555 0100</span>."));
  EXPECT_THAT(expired.body, HasSubstr("<dd id=\"requester\"><bdi>Shop Owner</bdi></dd>"));
}

TEST_F(WebPageTest, ABodyTooLargeGetsAPageAndIsCountedAndAudited) {
  Submit("WEBQRSTUV0007");
  HttpServerRequest request;
  request.method = "POST";
  request.path = "/approve";
  request.query["tn"] = "WEBQRSTUV0007";
  request.remote_address = kProxy;
  request.headers["x-forwarded-for"] = kClient;
  HttpServerResponse too_large = page_->BodyTooLarge(request);
  EXPECT_EQ(too_large.status, 413);
  EXPECT_THAT(too_large.body, HasSubstr("The form you sent is larger than this site accepts (8192 "
                                        "bytes)."));
  EXPECT_EQ(CounterValue(registry_, "mecai_approval_page_refusals_total", "body_too_large"), 1);
  const v1::IssuanceStatus status = Status("WEBQRSTUV0007");
  EXPECT_EQ(status.audit_trail().rbegin()->kind(), v1::AUDIT_EVENT_KIND_REFUSED);
  EXPECT_EQ(status.audit_trail().rbegin()->detail(),
            "the page refused POST /approve: the body is larger than 8192 bytes");
  EXPECT_EQ(status.audit_trail().rbegin()->remote_address(), kClient);
}

TEST_F(WebPageTest, APlainHttpSiteSetsAnOrdinaryCookie) {
  ApprovalOptions options = approvals_->options();
  options.approval_site_url = "http://127.0.0.1:8080/";
  Approvals plain(options, *store_, *fetcher_, clock_, random_);
  auto page = ApprovalPage::Create(plain, random_);
  ASSERT_TRUE(page.ok());
  Submit("WEBQRSTUV0008");
  HttpServerRequest request;
  request.method = "GET";
  request.path = "/request";
  request.query["tn"] = "WEBQRSTUV0008";
  request.remote_address = "127.0.0.1";
  EXPECT_THAT(SetCookie((*page)->Handle(request)),
              ::testing::MatchesRegex("mecai_csrf=[0-9a-f]{32}; Path=/; HttpOnly; "
                                      "SameSite=Strict"));
  options.approval_site_url = "https://user@ca.test/";
  Approvals bad(options, *store_, *fetcher_, clock_, random_);
  EXPECT_EQ(ApprovalPage::Create(bad, random_).status().message(),
            "approval_site_url: must not carry a user name or password");
}

}  // namespace
}  // namespace mecai
