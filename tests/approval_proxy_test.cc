// The certapproval page behind a REAL nginx as the TLS-terminating reverse proxy, configured by
// the shipped example deploy/nginx/approval.conf, in front of the REAL approval binary
// (docs/APPROVAL.md "Behind a reverse proxy"). A person's browser is curl, connecting from
// 127.0.0.3 to nginx on 127.0.0.1 over HTTPS: the page is shown and approved through the proxy
// (the Origin is the public site's, the Host upstream is not); a POST with a forged Origin is
// refused, counted in mecai_approval_page_refusals_total{reason="origin"} and audited; the audit
// trail names the client nginx saw, not the proxy, nor the addresses the client claimed in its own
// X-Forwarded-For and Forwarded headers; an oversized body gets the page's 413.
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "approval/proof_of_possession.h"
#include "approval/testing/test_environment.h"
#include "common/base/files.h"
#include "common/crypto/pem.h"
#include "common/pki/pki_builder.h"
#include "common/process/child_process.h"
#include "common/rpc/grpc_channel.h"
#include "common/testing/mtls_files.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/approval.grpc.pb.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {
namespace {

using ::testing::HasSubstr;

constexpr char kDomain[] = "shop.test";
constexpr char kSiteHost[] = "certapproval.example-ca.com";
constexpr char kNginx[] = "/usr/sbin/nginx";
// The person's address; nginx listens on 127.0.0.1 and connects to the page from there.
constexpr char kClient[] = "127.0.0.3";

std::string Runfile(const std::string& path) {
  for (const char* variable : {"RUNFILES_DIR", "TEST_SRCDIR"}) {
    if (const char* runfiles = getenv(variable)) return absl::StrCat(runfiles, "/mecai/", path);
  }
  return path;
}

// Waits (at most 20 s) for `process` to write a port number into `path`.
absl::StatusOr<int> AwaitPortFile(const std::string& path, ChildProcess& process) {
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < deadline) {
    absl::StatusOr<std::string> text = ReadFile(path);
    int port = 0;
    if (text.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &port) && port > 0) {
      return port;
    }
    if (!process.Running()) return absl::UnavailableError("the approval service exited");
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError(absl::StrCat("no port in ", path));
}

// deploy/nginx/approval.conf with this test's addresses and files, inside a minimal nginx.conf.
absl::StatusOr<std::string> NginxConfig(const std::string& directory, int proxy_port,
                                        int redirect_port, int page_port,
                                        const MutualTlsFiles& tls) {
  ASSIGN_OR_RETURN(std::string example, ReadFile(Runfile("deploy/nginx/approval.conf")));
  const std::vector<std::pair<std::string, std::string>> replacements = {
      {"    listen 443 ssl;\n", absl::StrCat("    listen 127.0.0.1:", proxy_port, " ssl;\n")},
      {"    listen [::]:443 ssl;\n", ""},
      {"    listen 80;\n", absl::StrCat("    listen 127.0.0.1:", redirect_port, ";\n")},
      {"    listen [::]:80;\n", ""},
      {"/etc/ssl/certapproval.example-ca.com/fullchain.pem", tls.server_certificate},
      {"/etc/ssl/certapproval.example-ca.com/privkey.pem", tls.server_key},
      {"http://127.0.0.1:8080", absl::StrCat("http://127.0.0.1:", page_port)},
  };
  for (const auto& [from, to] : replacements) {
    if (example.find(from) == std::string::npos) {
      return absl::NotFoundError(absl::StrCat("deploy/nginx/approval.conf has no \"", from, "\""));
    }
    example = absl::StrReplaceAll(example, {{from, to}});
  }
  const std::string& d = directory;
  return absl::StrCat(
      // As root nginx would switch its workers to "nobody"; the test owns them anyway.
      geteuid() == 0 ? "user root root;\n" : "", "worker_processes 1;\npid ", d,
      "/nginx.pid;\nerror_log ", d, "/error.log notice;\nevents { worker_connections 64; }\n",
      "http {\n  access_log ", d, "/access.log;\n  client_body_temp_path ", d, "/client_body;\n",
      "  proxy_temp_path ", d, "/proxy;\n  fastcgi_temp_path ", d, "/fastcgi;\n",
      "  uwsgi_temp_path ", d, "/uwsgi;\n  scgi_temp_path ", d, "/scgi;\n", example, "}\n");
}

class ApprovalProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(access(kNginx, X_OK), 0) << "nginx is not installed (run scripts/bootstrap.sh)";
    ASSERT_OK_AND_ASSIGN(directory_, test_pki::MakeTempDirectory());
    auto rdap = testing::RdapServer::Start(
        directory_, {{kDomain, testing::RdapDomainJson(kDomain, {"+49.30.5550001"})}});
    ASSERT_TRUE(rdap.ok()) << rdap.status();
    rdap_ = *std::move(rdap);
    auto gateway = testing::VoiceGateway::Start();
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = *std::move(gateway);
    ASSERT_TRUE(std::filesystem::create_directories(directory_ + "/grpc"));
    ASSERT_TRUE(std::filesystem::create_directories(directory_ + "/site"));
    ASSERT_OK_AND_ASSIGN(grpc_tls_, WriteMutualTlsFiles(directory_ + "/grpc", "approval test CA",
                                                        "approval", "ca-frontend"));
    // The public site's certificate, from another CA: what a browser would see.
    ASSERT_OK_AND_ASSIGN(site_tls_, WriteMutualTlsFiles(directory_ + "/site", "site test CA",
                                                        kSiteHost, "unused-client"));
    ASSERT_OK_AND_ASSIGN(proxy_port_, PickFreeTcpPort());
    ASSERT_OK_AND_ASSIGN(redirect_port_, PickFreeTcpPort());
    site_origin_ = absl::StrCat("https://", kSiteHost, ":", proxy_port_);

    v1::ApprovalConfig config;
    config.mutable_listen()->set_address("127.0.0.1:0");
    config.mutable_listen()->set_port_file(directory_ + "/approval.port");
    config.mutable_listen()->set_metrics_address("127.0.0.1:0");
    config.mutable_listen()->set_metrics_port_file(directory_ + "/approval.metrics-port");
    config.mutable_listen()->mutable_tls()->set_certificate_file(grpc_tls_.server_certificate);
    config.mutable_listen()->mutable_tls()->set_private_key_file(grpc_tls_.server_key);
    config.mutable_listen()->mutable_tls()->set_client_ca_file(grpc_tls_.ca);
    config.mutable_listen()->mutable_tls()->add_allowed_client_identities("ca-frontend");
    config.set_web_address("127.0.0.1:0");
    config.set_web_port_file(directory_ + "/approval.web-port");
    config.set_store_path(directory_ + "/store");
    (*config.mutable_rdap_base_urls())["test"] = rdap_->base_url();
    config.set_voice_gateway_url(gateway_->url());
    config.set_approval_site_url(site_origin_ + "/");
    config.set_certificate_authority_name("Proxy Test CA");
    config.add_allowed_special_address_ranges("127.0.0.0/8");
    // The registry and the gateway run on loopback over http.
    config.set_allow_http_for_testing(true);
    // As deploy/nginx/approval.conf asks.
    config.add_web_trusted_proxies("127.0.0.1");
    config.set_web_max_connections_per_address(0);
    std::string text;
    ASSERT_TRUE(google::protobuf::TextFormat::PrintToString(config, &text));
    ASSERT_TRUE(WriteFileAtomically(directory_ + "/approval.textproto", text).ok());
    auto approval = ChildProcess::Start(
        {Runfile("approval/approval"), "--config", directory_ + "/approval.textproto"},
        directory_ + "/approval.log");
    ASSERT_TRUE(approval.ok()) << approval.status();
    approval_ = *std::move(approval);
    auto grpc_port = AwaitPortFile(directory_ + "/approval.port", *approval_);
    ASSERT_TRUE(grpc_port.ok()) << grpc_port.status() << TailOfFile(directory_ + "/approval.log");
    grpc_port_ = *grpc_port;
    ASSERT_OK_AND_ASSIGN(page_port_, AwaitPortFile(directory_ + "/approval.web-port", *approval_));
    ASSERT_OK_AND_ASSIGN(metrics_port_,
                         AwaitPortFile(directory_ + "/approval.metrics-port", *approval_));

    const std::string proxy = directory_ + "/proxy";
    ASSERT_TRUE(std::filesystem::create_directories(proxy));
    ASSERT_OK_AND_ASSIGN(const std::string nginx_config,
                         NginxConfig(proxy, proxy_port_, redirect_port_, page_port_, site_tls_));
    ASSERT_TRUE(WriteFileAtomically(proxy + "/nginx.conf", nginx_config).ok());
    auto nginx = ChildProcess::Start(
        {kNginx, "-e", "stderr", "-p", proxy, "-c", proxy + "/nginx.conf", "-g", "daemon off;"},
        proxy + "/nginx.log");
    ASSERT_TRUE(nginx.ok()) << nginx.status();
    nginx_ = *std::move(nginx);
    absl::Status ready = WaitForTcpPort("127.0.0.1", proxy_port_, absl::Seconds(20), nginx_.get());
    ASSERT_TRUE(ready.ok()) << ready << TailOfFile(proxy + "/nginx.log");
  }

  // The CA submits over gRPC (mutual TLS); returns the code the gateway was asked to speak.
  std::string Submit(const std::string& transaction_number) {
    v1::PeerConfig peer;
    peer.set_address(absl::StrCat("127.0.0.1:", grpc_port_));
    peer.mutable_tls()->set_certificate_file(grpc_tls_.client_certificate);
    peer.mutable_tls()->set_private_key_file(grpc_tls_.client_key);
    peer.mutable_tls()->set_server_ca_file(grpc_tls_.ca);
    peer.mutable_tls()->set_server_identity("approval");
    auto channel = MakeChannel(peer);
    EXPECT_TRUE(channel.ok()) << channel.status();
    if (!channel.ok()) return "";
    auto key = GenerateEcKey();
    EXPECT_TRUE(key.ok());
    v1::SubmitIssuanceRequestRequest request;
    request.set_domain(kDomain);
    request.set_transaction_number(transaction_number);
    request.set_subject_public_key_info_der(PublicKeyToDer(key->get()));
    auto proof = SignProofOfPossession(key->get(), kDomain);
    EXPECT_TRUE(proof.ok()) << proof.status();
    if (!proof.ok()) return "";
    request.set_proof_of_possession(*proof);
    request.set_requester("Shop Owner");
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::IssuanceStatus status;
    grpc::Status call =
        v1::ApprovalService::NewStub(*channel)->SubmitIssuanceRequest(&context, request, &status);
    EXPECT_TRUE(call.ok()) << call.error_message();
    // Submit answers at once; the lookup and the call follow in the background.
    for (int poll = 0; poll < 200 && status.state() == v1::ISSUANCE_STATE_CALLING; ++poll) {
      absl::SleepFor(absl::Milliseconds(100));
      status = Status(transaction_number);
    }
    EXPECT_EQ(status.state(), v1::ISSUANCE_STATE_AWAITING_APPROVAL) << status.DebugString();
    return testing::SpokenApprovalCode(gateway_->calls().back().message);
  }

  v1::IssuanceStatus Status(const std::string& transaction_number) {
    v1::PeerConfig peer;
    peer.set_address(absl::StrCat("127.0.0.1:", grpc_port_));
    peer.mutable_tls()->set_certificate_file(grpc_tls_.client_certificate);
    peer.mutable_tls()->set_private_key_file(grpc_tls_.client_key);
    peer.mutable_tls()->set_server_ca_file(grpc_tls_.ca);
    peer.mutable_tls()->set_server_identity("approval");
    auto channel = MakeChannel(peer);
    EXPECT_TRUE(channel.ok());
    v1::GetIssuanceStatusRequest request;
    request.set_transaction_number(transaction_number);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::IssuanceStatus status;
    grpc::Status call =
        v1::ApprovalService::NewStub(*channel)->GetIssuanceStatus(&context, request, &status);
    EXPECT_TRUE(call.ok()) << call.error_message();
    return status;
  }

  struct Answer {
    int status = 0;
    std::string headers;
    std::string body;
  };

  // curl as the person's browser: HTTPS to the public name (resolved to nginx), from kClient,
  // with a cookie jar; `arguments` add the method, headers and data.
  Answer Browse(const std::string& path, const std::vector<std::string>& arguments = {}) {
    const int n = ++requests_;
    const std::string body = absl::StrCat(directory_, "/answer-", n, ".html");
    const std::string headers = absl::StrCat(directory_, "/answer-", n, ".headers");
    const std::string status = absl::StrCat(directory_, "/answer-", n, ".status");
    std::vector<std::string> argv = {"curl",
                                     "--silent",
                                     "--show-error",
                                     "--max-time",
                                     "15",
                                     "--interface",
                                     kClient,
                                     "--cacert",
                                     site_tls_.ca,
                                     "--resolve",
                                     absl::StrCat(kSiteHost, ":", proxy_port_, ":127.0.0.1"),
                                     "--cookie",
                                     directory_ + "/cookies.txt",
                                     "--cookie-jar",
                                     directory_ + "/cookies.txt",
                                     "--output",
                                     body,
                                     "--dump-header",
                                     headers,
                                     "--write-out",
                                     "%{http_code}"};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    argv.push_back(absl::StrCat(site_origin_, path));
    Answer answer;
    auto process = ChildProcess::Start(argv, status);
    EXPECT_TRUE(process.ok()) << process.status();
    if (!process.ok()) return answer;
    EXPECT_TRUE((*process)->WaitForExit(absl::Seconds(20)));
    EXPECT_EQ((*process)->ExitCode(), 0) << TailOfFile(status);
    (void)absl::SimpleAtoi(ReadFile(status).value_or(""), &answer.status);
    answer.headers = ReadFile(headers).value_or("");
    answer.body = ReadFile(body).value_or("");
    return answer;
  }

  std::string Metrics() {
    const std::string output = absl::StrCat(directory_, "/metrics-", ++requests_, ".txt");
    auto process =
        ChildProcess::Start({"curl", "--silent", "--show-error", "--max-time", "10", "--output",
                             output, absl::StrCat("http://127.0.0.1:", metrics_port_, "/metrics")},
                            directory_ + "/metrics.log");
    EXPECT_TRUE(process.ok());
    if (!process.ok()) return "";
    EXPECT_TRUE((*process)->WaitForExit(absl::Seconds(15)));
    return ReadFile(output).value_or("");
  }

  static std::string InputValue(const std::string& html, const std::string& name) {
    const std::string marker = absl::StrCat("name=\"", name, "\" value=\"");
    const size_t start = html.find(marker);
    if (start == std::string::npos) return "";
    const size_t end = html.find('"', start + marker.size());
    return html.substr(start + marker.size(), end - start - marker.size());
  }

  std::string directory_;
  std::unique_ptr<testing::RdapServer> rdap_;
  std::unique_ptr<testing::VoiceGateway> gateway_;
  MutualTlsFiles grpc_tls_;
  MutualTlsFiles site_tls_;
  int proxy_port_ = 0;
  int redirect_port_ = 0;
  std::string site_origin_;
  std::unique_ptr<ChildProcess> approval_;
  std::unique_ptr<ChildProcess> nginx_;
  int grpc_port_ = 0;
  int page_port_ = 0;
  int metrics_port_ = 0;
  int requests_ = 0;
};

TEST_F(ApprovalProxyTest, APersonApprovesThroughNginxAndAForgedOriginIsRefusedAndCounted) {
  const std::string code = Submit("PROXY8001QRST");
  ASSERT_EQ(code.size(), 8u);
  const std::vector<std::string> claims = {"--header", "X-Forwarded-For: 192.0.2.98", "--header",
                                           "Forwarded: for=192.0.2.99"};

  Answer shown = Browse("/request?tn=PROXY8001QRST", claims);
  ASSERT_EQ(shown.status, 200) << shown.body;
  EXPECT_THAT(shown.body, HasSubstr("Proxy Test CA"));
  EXPECT_THAT(shown.headers, HasSubstr("Content-Security-Policy: default-src 'none'"));
  EXPECT_THAT(shown.headers, HasSubstr("Strict-Transport-Security: max-age=31536000"));
  EXPECT_THAT(shown.headers, HasSubstr("Set-Cookie: __Host-mecai_csrf="));
  EXPECT_THAT(shown.headers, HasSubstr("; Secure"));
  const std::string csrf = InputValue(shown.body, "csrf");
  ASSERT_EQ(csrf.size(), 64u) << shown.body;
  const std::vector<std::string> form = {"--data-urlencode", "tn=PROXY8001QRST", "--data-urlencode",
                                         "csrf=" + csrf,     "--data-urlencode", "code=" + code,
                                         "--data-urlencode", "decision=approve"};

  // A forged Origin: refused, counted, audited with the client nginx saw.
  std::vector<std::string> forged = {"--header", "Origin: https://evil.example"};
  forged.insert(forged.end(), form.begin(), form.end());
  Answer refused = Browse("/approve?tn=PROXY8001QRST", forged);
  EXPECT_EQ(refused.status, 403);
  EXPECT_THAT(refused.body, HasSubstr("This form must be sent from this site's own page"));
  EXPECT_THAT(Metrics(), HasSubstr("mecai_approval_page_refusals_total{reason=\"origin\"} 1"));
  v1::IssuanceStatus status = Status("PROXY8001QRST");
  EXPECT_EQ(status.state(), v1::ISSUANCE_STATE_AWAITING_APPROVAL);
  ASSERT_GT(status.audit_trail_size(), 0);
  EXPECT_EQ(status.audit_trail().rbegin()->kind(), v1::AUDIT_EVENT_KIND_REFUSED);
  EXPECT_THAT(status.audit_trail().rbegin()->detail(),
              HasSubstr("the Origin header \"https://evil.example\" is not the site's origin " +
                        site_origin_));
  EXPECT_EQ(status.audit_trail().rbegin()->remote_address(), kClient);

  // An oversized body: the page's own 413, through nginx.
  Answer too_large =
      Browse("/approve?tn=PROXY8001QRST",
             {"--header", "Origin: " + site_origin_, "--data-binary", std::string(10 << 10, 'x')});
  EXPECT_EQ(too_large.status, 413);
  EXPECT_THAT(too_large.body, HasSubstr("The form you sent is larger than this site accepts"));
  EXPECT_THAT(Metrics(),
              HasSubstr("mecai_approval_page_refusals_total{reason=\"body_too_large\"} 1"));

  // The person's own browser: the site's Origin, the confirmation page, then the approval.
  std::vector<std::string> own = {"--header", "Origin: " + site_origin_};
  own.insert(own.end(), claims.begin(), claims.end());
  std::vector<std::string> confirm_request = own;
  confirm_request.insert(confirm_request.end(), form.begin(), form.end());
  Answer confirm = Browse("/confirm?tn=PROXY8001QRST", confirm_request);
  ASSERT_EQ(confirm.status, 200) << confirm.body;
  EXPECT_THAT(confirm.body, HasSubstr("You are about to let Proxy Test CA issue"));
  EXPECT_EQ(Status("PROXY8001QRST").state(), v1::ISSUANCE_STATE_AWAITING_APPROVAL);
  std::vector<std::string> approve_request = own;
  for (const std::string& field : {std::string("tn"), std::string("code"), std::string("csrf")}) {
    approve_request.push_back("--data-urlencode");
    approve_request.push_back(field + "=" + InputValue(confirm.body, field));
  }
  Answer approved = Browse("/approve?tn=PROXY8001QRST", approve_request);
  EXPECT_EQ(approved.status, 200) << approved.body;
  EXPECT_THAT(approved.body, HasSubstr("You approved the certificate for shop.test"));
  status = Status("PROXY8001QRST");
  EXPECT_EQ(status.state(), v1::ISSUANCE_STATE_APPROVED);
  EXPECT_EQ(status.audit_trail().rbegin()->kind(), v1::AUDIT_EVENT_KIND_APPROVED);
  EXPECT_EQ(status.audit_trail().rbegin()->remote_address(), kClient);
  EXPECT_THAT(Metrics(), HasSubstr("mecai_approval_page_refusals_total{reason=\"origin\"} 1"));

  // Plain HTTP only redirects to the https site.
  const std::string headers = directory_ + "/redirect.headers";
  auto redirect = ChildProcess::Start(
      {"curl", "--silent", "--show-error", "--max-time", "10", "--output", "/dev/null",
       "--dump-header", headers, "--header", absl::StrCat("Host: ", kSiteHost),
       absl::StrCat("http://127.0.0.1:", redirect_port_, "/request?tn=PROXY8001QRST")},
      directory_ + "/redirect.log");
  ASSERT_TRUE(redirect.ok());
  EXPECT_TRUE((*redirect)->WaitForExit(absl::Seconds(15)));
  const std::string redirected = ReadFile(headers).value_or("");
  EXPECT_THAT(redirected, ::testing::StartsWith("HTTP/1.1 301 "));
  EXPECT_THAT(redirected, HasSubstr(absl::StrCat("Location: https://", kSiteHost,
                                                 "/request?tn=PROXY8001QRST")));
}

}  // namespace
}  // namespace mecai
