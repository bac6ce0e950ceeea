// The whole flow of phone approval (ARCHITECTURE.md §7, MECAI phone-approval proposal) in a REAL
// headless Chromium: a CA submits over gRPC with mutual TLS, the registry's numbers (RDAP from
// nginx) are called, and a person enters the transaction number and the heard code on the
// certapproval page — Enter never approves, a wrong code keeps the form, the right one passes the
// confirmation step — while the page escapes every field, its CSP is enforced and a POST without
// the CSRF token is refused. On every page (start, request, confirmation, wrong code, refusal,
// approved, rejected) the axe-core rules (installed by scripts/bootstrap.sh, injected over the
// DevTools protocol since the CSP admits no script) find no serious or critical violation, and at
// phone size (390 x 844, mobile emulation) nothing overflows sideways, buttons and fields are at
// least 44 px tall and text at least 16 px (docs/APPROVAL.md "The web page"). Screenshots at phone
// and desktop (1280 x 800) size go to $TEST_UNDECLARED_OUTPUTS_DIR.
#include <stdlib.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "approval/approval_code.h"
#include "approval/approval_service.h"
#include "approval/approval_store.h"
#include "approval/approvals.h"
#include "approval/proof_of_possession.h"
#include "approval/testing/chromium.h"
#include "approval/testing/test_environment.h"
#include "approval/web_page.h"
#include "common/base/clock.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/net/address_policy.h"
#include "common/net/http_fetcher.h"
#include "common/net/http_server.h"
#include "common/pki/pki_builder.h"
#include "common/process/child_process.h"
#include "common/rpc/grpc_channel.h"
#include "common/rpc/grpc_server.h"
#include "common/testing/mtls_files.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/approval.grpc.pb.h"

namespace mecai {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kDomain[] = "shop.test";
// Markup in the requester must reach the page as text.
constexpr char kRequester[] = "Shop <b>Owner</b> & \"Sons\"";
// Where scripts/bootstrap.sh installs axe-core; $MECAI_AXE_CORE_JS overrides it.
constexpr char kAxeCore[] = "/opt/mecai/axe-core/node_modules/axe-core/axe.min.js";

std::string ScreenshotDirectory(const std::string& fallback) {
  const char* outputs = getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  return outputs != nullptr ? outputs : fallback;
}

// The serious and critical violations of the axe-core rules on the current page, as
// "rule: targets" lines ("" when there are none).
std::string AxeViolations(testing::Chromium& chromium, const std::string& axe_source) {
  auto injected = chromium.Evaluate(axe_source + "\n;'injected'");
  if (!injected.ok()) return absl::StrCat("cannot inject axe-core: ", injected.status().message());
  auto violations = chromium.EvaluateString(
      "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations"
      ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
      ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', ')).join('\\n'))");
  if (!violations.ok()) return absl::StrCat("axe.run failed: ", violations.status().message());
  return *violations;
}

// Layout problems at the emulated size: sideways overflow, targets under 44 px tall, text under
// 16 px, neighbouring targets closer than 8 px ("" when there are none).
std::string LayoutProblems(testing::Chromium& chromium) {
  auto problems = chromium.EvaluateString(R"js((() => {
    const problems = [];
    const width = document.documentElement.clientWidth;
    if (document.documentElement.scrollWidth > width) {
      problems.push('scrollWidth ' + document.documentElement.scrollWidth + ' > ' + width);
    }
    const targets = [...document.querySelectorAll(
        'button, a.button, input[type=text], label.choice')];
    for (const target of targets) {
      const box = target.getBoundingClientRect();
      if (box.height < 44) problems.push((target.id || target.tagName) + ' is ' + box.height + ' px tall');
      if (box.right > width) problems.push((target.id || target.tagName) + ' ends at ' + box.right);
    }
    const boxes = targets.map(t => t.getBoundingClientRect()).sort((a, b) => a.top - b.top);
    for (let i = 1; i < boxes.length; ++i) {
      if (boxes[i].top - boxes[i - 1].bottom < 8) problems.push('targets ' + (i - 1) + ' and ' + i + ' are closer than 8 px');
    }
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const node = walker.currentNode;
      if (!node.textContent.trim()) continue;
      const size = parseFloat(getComputedStyle(node.parentElement).fontSize);
      if (size < 16) problems.push('"' + node.textContent.trim().slice(0, 30) + '" is ' + size + ' px');
    }
    return problems.join('\n');
  })())js");
  if (!problems.ok()) return absl::StrCat("cannot measure: ", problems.status().message());
  return *problems;
}

// The page checked and photographed: axe-core and the layout at phone size, screenshots at phone
// and desktop size as <name>_phone.png and <name>_desktop.png; the phone size stays emulated.
void CheckPage(testing::Chromium& chromium, const std::string& axe_source,
               const std::string& screenshots, const std::string& name) {
  SCOPED_TRACE(name);
  ASSERT_TRUE(chromium.EmulateScreen(390, 844, /*mobile=*/true).ok());
  EXPECT_EQ(AxeViolations(chromium, axe_source), "");
  EXPECT_EQ(LayoutProblems(chromium), "");
  auto width = chromium.Evaluate("document.documentElement.scrollWidth");
  ASSERT_TRUE(width.ok());
  EXPECT_LE(width->number_value(), 390);
  // The viewport meta tag is honoured: CSS pixels at scale 1, not a 980 px layout zoomed out.
  EXPECT_EQ(chromium.Evaluate("window.visualViewport.scale")->number_value(), 1);
  EXPECT_TRUE(chromium.Screenshot(screenshots + "/" + name + "_phone.png").ok());
  ASSERT_TRUE(chromium.EmulateScreen(1280, 800, /*mobile=*/false).ok());
  EXPECT_EQ(LayoutProblems(chromium), "");
  EXPECT_TRUE(chromium.Screenshot(screenshots + "/" + name + "_desktop.png").ok());
  ASSERT_TRUE(chromium.EmulateScreen(390, 844, /*mobile=*/true).ok());
}

TEST(ApprovalPageChromiumTest, APersonApprovesOnThePageAfterAWrongCode) {
  auto directory = test_pki::MakeTempDirectory();
  ASSERT_TRUE(directory.ok());
  auto rdap = testing::RdapServer::Start(
      *directory, {{kDomain, testing::RdapDomainJson(kDomain, {"+49.30.5550001"})}});
  ASSERT_TRUE(rdap.ok()) << rdap.status();
  auto gateway = testing::VoiceGateway::Start();
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  // A private CA, a server identity "approval" and a client identity "ca-frontend".
  auto tls = WriteMutualTlsFiles(*directory, "approval test CA", "approval", "ca-frontend");
  ASSERT_TRUE(tls.ok()) << tls.status();

  auto store = ApprovalStore::Open(*directory + "/store");
  ASSERT_TRUE(store.ok()) << store.status();
  auto policy = AddressPolicy::Create({"127.0.0.0/8"});
  ASSERT_TRUE(policy.ok());
  CurlHttpFetcher fetcher(*policy);
  OpenSslRandomSource random;
  ApprovalOptions options;
  options.voice_gateway_url = (*gateway)->url();
  // The registry and the gateway run on loopback over http (ApprovalConfig.allow_http_for_testing).
  options.allow_http = true;
  options.certificate_authority_name = "Test CA";
  options.rdap.base_urls = {{"test", (*rdap)->base_url()}};
  auto page_holder = std::unique_ptr<ApprovalPage>();
  std::unique_ptr<HttpServer> web;
  // The page's address is known once it is bound; the call names it.
  auto web_port = PickFreeTcpPort();
  ASSERT_TRUE(web_port.ok());
  const std::string site = absl::StrCat("http://127.0.0.1:", *web_port, "/");
  options.approval_site_url = site;
  Approvals approvals(options, **store, fetcher, SystemClock::Get(), random);
  ApprovalPageOptions page_options;
  page_options.store = store->get();
  auto page = ApprovalPage::Create(approvals, random, page_options);
  ASSERT_TRUE(page.ok());
  auto started = HttpServer::Start(
      absl::StrCat("127.0.0.1:", *web_port),
      [&page](const HttpServerRequest& request) { return (*page)->Handle(request); });
  ASSERT_TRUE(started.ok()) << started.status();
  web = *std::move(started);

  v1::ListenConfig listen;
  listen.set_address("127.0.0.1:0");
  listen.mutable_tls()->set_certificate_file(tls->server_certificate);
  listen.mutable_tls()->set_private_key_file(tls->server_key);
  listen.mutable_tls()->set_client_ca_file(tls->ca);
  listen.mutable_tls()->add_allowed_client_identities("ca-frontend");
  ApprovalServiceImpl service(approvals, /*record_key=*/nullptr, SystemClock::Get());
  auto server = StartServer(listen, {&service});
  ASSERT_TRUE(server.ok()) << server.status();
  v1::PeerConfig peer;
  peer.set_address(absl::StrCat("127.0.0.1:", (*server)->port()));
  peer.mutable_tls()->set_certificate_file(tls->client_certificate);
  peer.mutable_tls()->set_private_key_file(tls->client_key);
  peer.mutable_tls()->set_server_ca_file(tls->ca);
  peer.mutable_tls()->set_server_identity("approval");
  auto channel = MakeChannel(peer);
  ASSERT_TRUE(channel.ok()) << channel.status();
  auto stub = v1::ApprovalService::NewStub(*channel);

  // The CA submits (gRPC, mutual TLS).
  auto key = GenerateEcKey();
  ASSERT_TRUE(key.ok());
  unsigned char* der = nullptr;
  const int der_length = i2d_PUBKEY(key->get(), &der);
  v1::SubmitIssuanceRequestRequest request;
  request.set_domain(kDomain);
  request.set_transaction_number("CA2024-TX77-QK");
  request.set_subject_public_key_info_der(std::string(reinterpret_cast<char*>(der), der_length));
  OPENSSL_free(der);
  // A bare key proves its possession (docs/APPROVAL.md "Proof of possession").
  auto proof = SignProofOfPossession(key->get(), kDomain);
  ASSERT_TRUE(proof.ok()) << proof.status();
  request.set_proof_of_possession(*proof);
  request.set_requester(kRequester);
  v1::IssuanceStatus submitted;
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Status status = stub->SubmitIssuanceRequest(&context, request, &submitted);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  ASSERT_EQ(submitted.state(), v1::ISSUANCE_STATE_AWAITING_APPROVAL) << submitted.DebugString();
  // The registrant only: the registrar's abuse line is not a contact of the domain (RFC 9083
  // roles).
  ASSERT_EQ((*gateway)->calls().size(), 1u);
  const std::string message = (*gateway)->calls()[0].message;
  EXPECT_THAT(message, HasSubstr(site));
  const std::string code = testing::SpokenApprovalCode(message);
  ASSERT_EQ(code.size(), 8u);
  const std::string wrong = code == "00000000" ? "11111111" : "00000000";

  // A person in the browser, on a phone.
  auto axe_source =
      ReadFile(getenv("MECAI_AXE_CORE_JS") != nullptr ? getenv("MECAI_AXE_CORE_JS") : kAxeCore);
  ASSERT_TRUE(axe_source.ok()) << axe_source.status() << " (run scripts/bootstrap.sh)";
  const std::string screenshots = ScreenshotDirectory(*directory);
  auto browser = testing::Chromium::Start(*directory);
  ASSERT_TRUE(browser.ok()) << browser.status();
  testing::Chromium& chromium = **browser;
  ASSERT_TRUE(chromium.EmulateScreen(390, 844, /*mobile=*/true).ok());
  ASSERT_TRUE(chromium.Navigate(site).ok()) << TailOfFile(chromium.log_path());
  EXPECT_THAT(*chromium.EvaluateString("document.body.innerText"),
              HasSubstr("Enter the transaction number"));
  EXPECT_EQ(*chromium.EvaluateString("document.title"),
            "Check a certificate request \u2013 Test CA");
  CheckPage(chromium, *axe_source, screenshots, "1_start");
  ASSERT_TRUE(chromium
                  .RunAndWaitForNavigation("document.getElementById('tn').value = 'CA2024TX77QK';"
                                           "document.getElementById('show').click()")
                  .ok());
  EXPECT_THAT(*chromium.EvaluateString("location.pathname + location.search"),
              HasSubstr("/request?tn=CA2024TX77QK"));
  EXPECT_EQ(*chromium.EvaluateString("document.getElementById('domain').textContent"), kDomain);
  EXPECT_EQ(*chromium.EvaluateString("document.getElementById('requester').textContent"),
            kRequester);
  EXPECT_EQ(chromium.Evaluate("document.querySelectorAll('b').length")->number_value(), 0);
  EXPECT_EQ(*chromium.EvaluateString("document.getElementById('key-fingerprint').textContent"),
            HexEncode(submitted.subject_public_key_info_sha256()));
  // A bare key names no host: the request is for the whole domain, and the page warns.
  EXPECT_EQ(*chromium.EvaluateString("document.getElementById('names').innerText"), kDomain);
  EXPECT_THAT(
      *chromium.EvaluateString("document.getElementById('whole-domain-warning').textContent"),
      HasSubstr("Warning: this is for shop.test and every name below it"));
  EXPECT_THAT(*chromium.EvaluateString("document.getElementById('effect').textContent"),
              HasSubstr("If you approve, Test CA will issue a TLS certificate for these names"));
  EXPECT_EQ(*chromium.EvaluateString("document.getElementById('attempts-left').textContent"), "5");
  CheckPage(chromium, *axe_source, screenshots, "2_request");

  // The browser enforces the page's Content-Security-Policy (connect-src falls back to 'none').
  EXPECT_EQ(*chromium.EvaluateString("fetch('/').then(() => 'allowed', () => 'blocked')"),
            "blocked");
  // A form POST with the right code but without the CSRF token is refused and counts nothing.
  ASSERT_TRUE(chromium
                  .RunAndWaitForNavigation(
                      "const forged = document.createElement('form'); forged.method = 'post';"
                      "forged.action = '/approve';"
                      "for (const [name, value] of [['tn', 'CA2024TX77QK'], ['code', '" +
                      code +
                      "'], ['csrf', '00']]) { const input = document.createElement('input');"
                      "input.name = name; input.value = value; forged.appendChild(input); }"
                      "document.body.appendChild(forged); forged.submit()")
                  .ok());
  EXPECT_THAT(*chromium.EvaluateString("document.getElementById('message').textContent"),
              HasSubstr("The form has expired or was not sent from this site"));
  CheckPage(chromium, *axe_source, screenshots, "3_refused");
  ASSERT_TRUE(chromium.Navigate(site + "request?tn=CA2024TX77QK").ok());
  EXPECT_EQ(*chromium.EvaluateString("document.getElementById('attempts-left').textContent"), "5");

  // Enter in the code field with the right code and no choice made: the browser asks for a
  // choice, nothing is sent, nothing is decided.
  ASSERT_TRUE(chromium
                  .Evaluate("const field = document.getElementById('code'); field.value = '" +
                            code + "'; field.focus(); true")
                  .ok());
  ASSERT_TRUE(chromium.PressEnter().ok());
  absl::SleepFor(absl::Seconds(1));
  EXPECT_EQ(*chromium.EvaluateString("location.pathname"), "/request");
  EXPECT_EQ(approvals.GetStatus("CA2024TX77QK")->state(), v1::ISSUANCE_STATE_AWAITING_APPROVAL);
  // With "approve" chosen, Enter reaches the confirmation page, and still nothing is decided.
  ASSERT_TRUE(chromium
                  .Evaluate("document.getElementById('choose-approve').checked = true;"
                            "document.getElementById('code').focus(); true")
                  .ok());
  ASSERT_TRUE(chromium.PressEnterAndWaitForNavigation().ok());
  EXPECT_EQ(*chromium.EvaluateString("location.pathname"), "/confirm");
  EXPECT_THAT(*chromium.EvaluateString("document.getElementById('confirm-summary').textContent"),
              HasSubstr("You are about to let Test CA issue a TLS certificate for these names"));
  EXPECT_EQ(approvals.GetStatus("CA2024TX77QK")->state(), v1::ISSUANCE_STATE_AWAITING_APPROVAL);
  CheckPage(chromium, *axe_source, screenshots, "4_confirm");
  // Enter on the confirmation page does nothing either.
  ASSERT_TRUE(chromium.PressEnter().ok());
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(*chromium.EvaluateString("location.pathname"), "/confirm");
  EXPECT_EQ(approvals.GetStatus("CA2024TX77QK")->state(), v1::ISSUANCE_STATE_AWAITING_APPROVAL);

  // Back, a wrong code confirmed: counted, and the form comes back with the typed code and an
  // announced error.
  ASSERT_TRUE(chromium.RunAndWaitForNavigation("document.getElementById('back').click()").ok());
  ASSERT_TRUE(
      chromium
          .RunAndWaitForNavigation("document.getElementById('choose-approve').checked = true;"
                                   "document.getElementById('code').value = '" +
                                   wrong + "'; document.getElementById('continue').click()")
          .ok());
  ASSERT_TRUE(chromium.RunAndWaitForNavigation("document.getElementById('approve').click()").ok());
  EXPECT_THAT(*chromium.EvaluateString("document.getElementById('code-error').textContent"),
              HasSubstr("The approval code is wrong"));
  EXPECT_EQ(*chromium.EvaluateString("document.getElementById('code-error').getAttribute('role')"),
            "alert");
  EXPECT_EQ(*chromium.EvaluateString("document.getElementById('code').value"), wrong);
  EXPECT_EQ(*chromium.EvaluateString("document.getElementById('attempts-left').textContent"), "4");
  CheckPage(chromium, *axe_source, screenshots, "5_wrong_code");

  // The right code, confirmed: approved.
  ASSERT_TRUE(chromium
                  .RunAndWaitForNavigation("document.getElementById('code').value = '" + code +
                                           "'; document.getElementById('continue').click()")
                  .ok());
  ASSERT_TRUE(chromium.RunAndWaitForNavigation("document.getElementById('approve').click()").ok());
  EXPECT_THAT(*chromium.EvaluateString("document.getElementById('message').textContent"),
              HasSubstr("You approved the certificate for shop.test"));
  CheckPage(chromium, *axe_source, screenshots, "6_approved");

  // The CA sees the approval and its trail, by key as a coordinator would ask.
  v1::GetIssuanceStatusRequest lookup;
  lookup.set_subject_public_key_info_sha256(submitted.subject_public_key_info_sha256());
  v1::IssuanceStatus final_status;
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::Status status = stub->GetIssuanceStatus(&context, lookup, &final_status);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  EXPECT_EQ(final_status.state(), v1::ISSUANCE_STATE_APPROVED);
  EXPECT_EQ(final_status.failed_attempts(), 1u);
  std::vector<v1::AuditEventKind> kinds;
  for (const v1::AuditEvent& event : final_status.audit_trail()) {
    kinds.push_back(event.kind());
    EXPECT_THAT(event.detail(), Not(HasSubstr(code)));
  }
  EXPECT_THAT(kinds, ::testing::ElementsAre(
                         v1::AUDIT_EVENT_KIND_SUBMITTED, v1::AUDIT_EVENT_KIND_RDAP_LOOKUP_SUCCEEDED,
                         v1::AUDIT_EVENT_KIND_CALL_PLACED, v1::AUDIT_EVENT_KIND_AWAITING_APPROVAL,
                         v1::AUDIT_EVENT_KIND_PAGE_VIEWED, v1::AUDIT_EVENT_KIND_REFUSED,
                         v1::AUDIT_EVENT_KIND_PAGE_VIEWED, v1::AUDIT_EVENT_KIND_PAGE_VIEWED,
                         v1::AUDIT_EVENT_KIND_WRONG_CODE, v1::AUDIT_EVENT_KIND_APPROVED));
  EXPECT_EQ(final_status.audit_trail().rbegin()->remote_address(), "127.0.0.1");

  // A second request, which the person rejects after its confirmation page.
  auto other_key = GenerateEcKey();
  ASSERT_TRUE(other_key.ok());
  request.set_transaction_number("CA2024-TX78-QK");
  request.set_subject_public_key_info_der(PublicKeyToDer(other_key->get()));
  auto other_proof = SignProofOfPossession(other_key->get(), kDomain);
  ASSERT_TRUE(other_proof.ok()) << other_proof.status();
  request.set_proof_of_possession(*other_proof);
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::IssuanceStatus second;
    grpc::Status status = stub->SubmitIssuanceRequest(&context, request, &second);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  const std::string second_code = testing::SpokenApprovalCode((*gateway)->calls().back().message);
  ASSERT_TRUE(chromium.Navigate(site + "request?tn=CA2024TX78QK").ok());
  ASSERT_TRUE(
      chromium
          .RunAndWaitForNavigation("document.getElementById('choose-reject').checked = true;"
                                   "document.getElementById('code').value = '" +
                                   second_code + "'; document.getElementById('continue').click()")
          .ok());
  EXPECT_THAT(*chromium.EvaluateString("document.getElementById('confirm-summary').textContent"),
              HasSubstr("You are about to tell Test CA not to issue"));
  CheckPage(chromium, *axe_source, screenshots, "7_confirm_reject");
  ASSERT_TRUE(chromium.RunAndWaitForNavigation("document.getElementById('reject').click()").ok());
  EXPECT_THAT(*chromium.EvaluateString("document.getElementById('message').textContent"),
              HasSubstr("You rejected the certificate for shop.test"));
  CheckPage(chromium, *axe_source, screenshots, "8_rejected");
  EXPECT_EQ(approvals.GetStatus("CA2024TX78QK")->state(), v1::ISSUANCE_STATE_REJECTED);
}

}  // namespace
}  // namespace mecai
