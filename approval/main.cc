// approval --config FILE: phone approval of certificate issuance (ARCHITECTURE.md §7, MECAI
// phone-approval proposal). Flags → config → wiring → serve.
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "approval/approval_code.h"
#include "approval/approval_config.h"
#include "approval/approval_metrics.h"
#include "approval/approval_service.h"
#include "approval/approval_store.h"
#include "approval/approvals.h"
#include "approval/sleeper.h"
#include "approval/web_page.h"
#include "approval/web_page_metrics.h"
#include "common/base/clock.h"
#include "common/base/config_loader.h"
#include "common/base/files.h"
#include "common/base/logging.h"
#include "common/base/metrics.h"
#include "common/base/service_main.h"
#include "common/base/shutdown_signal.h"
#include "common/base/status.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/net/address_policy.h"
#include "common/net/http_fetcher.h"
#include "common/net/http_server.h"
#include "common/rpc/certificate_expiry_metrics.h"
#include "common/rpc/grpc_server.h"
#include "common/rpc/tls_credentials.h"

namespace {

constexpr char kUsage[] =
    "usage: approval --config FILE\n"
    "\n"
    "Serves mecai.v1.ApprovalService to CAs (mutual TLS) and the certapproval web page: looks up\n"
    "a domain's phone contacts over RDAP, calls them through the voice gateway with an approval\n"
    "code, and records a person's approval or rejection on the page.\n"
    "FILE is a mecai.v1.ApprovalConfig in protobuf text format (see docs/APPROVAL.md).\n";

absl::Status Run(const std::string& config_path) {
  ASSIGN_OR_RETURN(auto loaded, mecai::LoadConfig<mecai::v1::ApprovalConfig>(config_path));
  mecai::v1::ApprovalConfig config = mecai::WithApprovalDefaults(loaded);
  RETURN_IF_ERROR(mecai::ValidateApprovalConfig(config, config_path));
  ASSIGN_OR_RETURN(auto store, mecai::ApprovalStore::Open(config.store_path()));
  std::vector<std::string> ranges(config.allowed_special_address_ranges().begin(),
                                  config.allowed_special_address_ranges().end());
  ASSIGN_OR_RETURN(mecai::AddressPolicy policy, mecai::AddressPolicy::Create(ranges));
  mecai::CurlHttpFetcher fetcher(std::move(policy));
  // Signs the approval records a VA's signer checks (ARCHITECTURE.md §7).
  std::unique_ptr<mecai::InMemorySigningKey> record_key;
  if (!config.signing_key_file().empty()) {
    auto key = mecai::LoadPemPrivateKey(config.signing_key_file());
    if (!key.ok()) return mecai::Annotate(key.status(), "signing_key_file");
    auto signing_key = mecai::InMemorySigningKey::Create(*std::move(key));
    if (!signing_key.ok()) return mecai::Annotate(signing_key.status(), "signing_key_file");
    record_key = *std::move(signing_key);
  }
  auto registry = std::make_shared<prometheus::Registry>();
  mecai::GrpcServerMetrics grpc_metrics(*registry);
  mecai::ApprovalMetrics metrics(*registry);
  // The notAfter of this service's TLS identity and client CA (mecai_certificate_expiry_*).
  mecai::CertificateExpiryMetrics certificate_expiry(
      *registry, "approval",
      mecai::TlsReloadInterval(config.listen().tls().reload_interval_seconds()));
  RETURN_IF_ERROR(certificate_expiry.WatchListener(config.listen()));
  // Serves /metrics when listen.metrics_address is set.
  ASSIGN_OR_RETURN(auto metrics_server, mecai::MetricsServer::Start(config.listen(), registry));
  std::string gateway_token;
  if (!config.voice_gateway_token_file().empty()) {
    auto token = mecai::ReadFile(config.voice_gateway_token_file());
    if (!token.ok()) return mecai::Annotate(token.status(), "voice_gateway_token_file");
    gateway_token = std::string(absl::StripTrailingAsciiWhitespace(*token));
    RETURN_IF_ERROR(mecai::ValidateVoiceGatewayToken(gateway_token));
  }
  mecai::OpenSslRandomSource random;
  mecai::InterruptibleSleeper sleeper;
  mecai::Approvals approvals(mecai::ApprovalOptions::FromConfig(config, gateway_token), *store,
                             fetcher, mecai::SystemClock::Get(), random, &metrics, &sleeper);
  // Requests a stopped process left CALLING cannot resume their calls: they fail, with why.
  ASSIGN_OR_RETURN(const int interrupted, approvals.RecoverInterruptedCalls());
  if (interrupted > 0) {
    MECAI_LOG(Warning) << interrupted
                       << " approval request(s) were being called when the service stopped; "
                          "marked FAILED";
  }
  mecai::ApprovalPageMetrics page_metrics(*registry);
  mecai::HttpServerOptions web_options;
  web_options.idle_timeout = absl::Seconds(config.web_idle_timeout_seconds());
  web_options.max_connections = config.web_max_connections();
  web_options.max_connections_per_address = config.web_max_connections_per_address();
  mecai::ApprovalPageOptions page_options = mecai::ApprovalPageOptions::FromConfig(config);
  page_options.max_body_bytes = web_options.max_body_bytes;
  page_options.store = store.get();
  page_options.metrics = &page_metrics;
  ASSIGN_OR_RETURN(auto page, mecai::ApprovalPage::Create(approvals, random, page_options));
  web_options.body_too_large_handler = [&page](const mecai::HttpServerRequest& r) {
    return page->BodyTooLarge(r);
  };
  ASSIGN_OR_RETURN(
      auto web,
      mecai::HttpServer::Start(
          config.web_address(),
          [&page](const mecai::HttpServerRequest& r) { return page->Handle(r); }, web_options));
  if (!config.web_port_file().empty()) {
    RETURN_IF_ERROR(
        mecai::WriteFileAtomically(config.web_port_file(), absl::StrCat(web->port(), "\n")));
  }
  mecai::ApprovalServiceImpl service(approvals, record_key.get(), mecai::SystemClock::Get(),
                                     &metrics);
  ASSIGN_OR_RETURN(auto server, mecai::StartServer(config.listen(), {&service}, &grpc_metrics));
  MECAI_LOG(Info) << "approval service ready: gRPC port " << server->port() << ", web page port "
                  << web->port();
  mecai::ServeUntilSignal(*server);
  // Backoff waits end at once; calls not yet placed stay CALLING until the next start.
  sleeper.Stop();
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) { return mecai::ServiceMain(argc, argv, "approval", kUsage, Run); }
