// The whole flow of phone approval (ARCHITECTURE.md §7, MECAI phone-approval proposal) in a REAL
// headless Chromium: a CA submits over gRPC with mutual TLS, the registry's numbers (RDAP from
// nginx) are called, and a person enters the transaction number and the heard code on the
// certapproval page — first a wrong code, then the right one — while the page escapes every field,
// its CSP is enforced and a POST without the CSRF token is refused.
#include <chrono>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "approval/approval_code.h"
#include "approval/approval_service.h"
#include "approval/approval_store.h"
#include "approval/approvals.h"
#include "approval/testing/chromium.h"
#include "approval/testing/test_environment.h"
#include "approval/web_page.h"
#include "common/base/clock.h"
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
  auto page = ApprovalPage::Create(approvals, random);
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
  request.set_transaction_number("CA2024TX77");
  request.set_subject_public_key_info_der(std::string(reinterpret_cast<char*>(der), der_length));
  OPENSSL_free(der);
  request.set_requester(kRequester);
  v1::IssuanceStatus submitted;
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Status status = stub->SubmitIssuanceRequest(&context, request, &submitted);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  ASSERT_EQ(submitted.state(), v1::ISSUANCE_STATE_AWAITING_APPROVAL) << submitted.DebugString();
  ASSERT_EQ((*gateway)->calls().size(), 2u);  // Registrant and the registrar's abuse line.
  const std::string message = (*gateway)->calls()[0].message;
  EXPECT_THAT(message, HasSubstr(site));
  const std::string code = testing::SpokenApprovalCode(message);
  ASSERT_EQ(code.size(), 8u);
  const std::string wrong = code == "00000000" ? "11111111" : "00000000";

  // A person in the browser.
  auto browser = testing::Chromium::Start(*directory);
  ASSERT_TRUE(browser.ok()) << browser.status();
  testing::Chromium& chromium = **browser;
  ASSERT_TRUE(chromium.Navigate(site).ok()) << TailOfFile(chromium.log_path());
  EXPECT_THAT(*chromium.EvaluateString("document.body.innerText"),
              HasSubstr("Enter the transaction number"));
  ASSERT_TRUE(chromium
                  .RunAndWaitForNavigation("document.getElementById('tn').value = 'CA2024TX77';"
                                           "document.getElementById('show').click()")
                  .ok());
  EXPECT_THAT(*chromium.EvaluateString("location.pathname + location.search"),
              HasSubstr("/request?tn=CA2024TX77"));
  EXPECT_EQ(*chromium.EvaluateString("document.getElementById('domain').textContent"), kDomain);
  EXPECT_EQ(*chromium.EvaluateString("document.getElementById('requester').textContent"),
            kRequester);
  EXPECT_EQ(chromium.Evaluate("document.querySelectorAll('b').length")->number_value(), 0);
  EXPECT_EQ(*chromium.EvaluateString("document.getElementById('key-fingerprint').textContent"),
            HexEncode(submitted.subject_public_key_info_sha256()));
  // A bare key names no host: the request is for the whole domain, and the page says so.
  EXPECT_EQ(*chromium.EvaluateString("document.getElementById('names').textContent"),
            absl::StrCat(kDomain, " and every name below it"));
  EXPECT_EQ(*chromium.EvaluateString("document.getElementById('attempts-left').textContent"), "5");

  // The browser enforces the page's Content-Security-Policy (connect-src falls back to 'none').
  EXPECT_EQ(*chromium.EvaluateString("fetch('/').then(() => 'allowed', () => 'blocked')"),
            "blocked");
  // A form POST with the right code but without the CSRF token is refused and counts nothing.
  ASSERT_TRUE(chromium
                  .RunAndWaitForNavigation(
                      "const forged = document.createElement('form'); forged.method = 'post';"
                      "forged.action = '/approve';"
                      "for (const [name, value] of [['tn', 'CA2024TX77'], ['code', '" +
                      code +
                      "'], ['csrf', '00']]) { const input = document.createElement('input');"
                      "input.name = name; input.value = value; forged.appendChild(input); }"
                      "document.body.appendChild(forged); forged.submit()")
                  .ok());
  EXPECT_THAT(*chromium.EvaluateString("document.getElementById('message').textContent"),
              HasSubstr("The form has expired or was not sent from this site"));
  ASSERT_TRUE(chromium.Navigate(site + "request?tn=CA2024TX77").ok());
  EXPECT_EQ(*chromium.EvaluateString("document.getElementById('attempts-left').textContent"), "5");

  // A wrong code: counted, the page says how many attempts are left.
  ASSERT_TRUE(chromium
                  .RunAndWaitForNavigation("document.getElementById('code').value = '" + wrong +
                                           "'; document.getElementById('approve').click()")
                  .ok());
  EXPECT_THAT(*chromium.EvaluateString("document.body.innerText"),
              HasSubstr("The approval code is wrong"));
  EXPECT_EQ(*chromium.EvaluateString("document.getElementById('attempts-left').textContent"), "4");

  // Back to the request, the right code, approved.
  ASSERT_TRUE(chromium.RunAndWaitForNavigation("document.getElementById('back').click()").ok());
  ASSERT_TRUE(chromium
                  .RunAndWaitForNavigation("document.getElementById('code').value = '" + code +
                                           "'; document.getElementById('approve').click()")
                  .ok());
  EXPECT_THAT(*chromium.EvaluateString("document.getElementById('message').textContent"),
              HasSubstr("You approved the certificate for shop.test"));

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
                         v1::AUDIT_EVENT_KIND_CALL_PLACED, v1::AUDIT_EVENT_KIND_CALL_PLACED,
                         v1::AUDIT_EVENT_KIND_AWAITING_APPROVAL, v1::AUDIT_EVENT_KIND_PAGE_VIEWED,
                         v1::AUDIT_EVENT_KIND_PAGE_VIEWED, v1::AUDIT_EVENT_KIND_WRONG_CODE,
                         v1::AUDIT_EVENT_KIND_PAGE_VIEWED, v1::AUDIT_EVENT_KIND_APPROVED));
  EXPECT_EQ(final_status.audit_trail().rbegin()->remote_address(), "127.0.0.1");
}

}  // namespace
}  // namespace mecai
