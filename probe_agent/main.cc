// probe_agent --config FILE: one probe agent (ARCHITECTURE.md §1, §10). Flags → config → wiring →
// serve.
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/clock.h"
#include "common/base/config_loader.h"
#include "common/base/logging.h"
#include "common/base/metrics.h"
#include "common/base/service_main.h"
#include "common/base/shutdown_signal.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/net/address_policy.h"
#include "common/rpc/certificate_expiry_metrics.h"
#include "common/rpc/grpc_server.h"
#include "common/rpc/tls_credentials.h"
#include "probe_agent/agent_config.h"
#include "probe_agent/agent_key.h"
#include "probe_agent/probe_service.h"
#include "probe_agent/probed_requests.h"
#include "probe_agent/prober.h"
#include "probe_agent/resolver.h"
#include "probe_agent/tls_fetcher.h"
#include "probe_agent/tls_handshake.h"

namespace mecai {
namespace probe_agent {
namespace {

constexpr char kUsage[] =
    "usage: probe_agent --config FILE\n"
    "\n"
    "Runs a MECAI probe agent: it resolves each requested hostname with its own resolver,\n"
    "connects to every address (A and AAAA), records the certificate chain each one serves\n"
    "and returns the Observation signed with the agent key. Stops on SIGINT or SIGTERM.\n"
    "\n"
    "  --config FILE  ProbeAgentConfig in protobuf text format (proto/mecai/v1/config.proto)\n"
    "  --help         print this help and exit\n";

// Builds the agent from the config at `config_path` and serves until SIGINT or SIGTERM. Every
// object it creates is destroyed before it returns, on success and on error.
absl::Status Run(const std::string& config_path) {
  ASSIGN_OR_RETURN(v1::ProbeAgentConfig loaded, LoadConfig<v1::ProbeAgentConfig>(config_path));
  RETURN_IF_ERROR(ValidateProbeAgentConfig(loaded, config_path));
  const v1::ProbeAgentConfig config = WithDefaults(std::move(loaded));

  ASSIGN_OR_RETURN(AgentSigningKey signing_key, LoadAgentSigningKey(config));
  MECAI_LOG(Info) << "signing Observations with " << signing_key.description
                  << "; public key SHA-256 "
                  << ShortHex(Sha256(PublicKeyToDer(signing_key.public_key.get())));
  ASSIGN_OR_RETURN(
      std::unique_ptr<CaresResolver> resolver,
      CaresResolver::Create(config.resolver(), static_cast<int>(config.resolver_tries())));
  ASSIGN_OR_RETURN(std::unique_ptr<EngineTlsFetcher> fetcher,
                   EngineTlsFetcher::Create(TlsEngineOptionsFromConfig(config)));
  const std::vector<std::string> allowed(config.allowed_special_address_ranges().begin(),
                                         config.allowed_special_address_ranges().end());
  ASSIGN_OR_RETURN(AddressPolicy policy, AddressPolicy::Create(allowed));
  if (!allowed.empty()) {
    MECAI_LOG(Warning) << "connections to special-purpose addresses in "
                       << absl::StrJoin(allowed, ", ")
                       << " are allowed (allowed_special_address_ranges, trust rule 6)";
  }
  const Prober prober(config.perspective(), *resolver, *fetcher, std::move(policy),
                      *signing_key.key, SystemClock::Get(), ProberLimitsFromConfig(config));
  auto registry = std::make_shared<prometheus::Registry>();
  GrpcServerMetrics grpc_metrics(*registry);
  AgentMetrics metrics(*registry);
  // The notAfter of this agent's TLS identity and client CA (mecai_certificate_expiry_*).
  CertificateExpiryMetrics certificate_expiry(
      *registry, "probe_agent", TlsReloadInterval(config.listen().tls().reload_interval_seconds()));
  RETURN_IF_ERROR(certificate_expiry.WatchListener(config.listen()));
  // Serves /metrics when listen.metrics_address is set.
  ASSIGN_OR_RETURN(auto metrics_server, MetricsServer::Start(config.listen(), registry));
  ProbedRequests probed(SystemClock::Get(), absl::Seconds(config.probed_vr_memory_seconds()),
                        config.max_remembered_vrs());
  ProbeServiceImpl service(prober, probed, config.max_in_flight_probes(), &metrics);
  ASSIGN_OR_RETURN(std::unique_ptr<RunningServer> server,
                   StartServer(config.listen(), {&service}, &grpc_metrics));
  MECAI_LOG(Info) << "probe agent " << config.perspective().id() << " (region "
                  << config.perspective().region() << ") ready on port " << server->port()
                  << "; resolver: "
                  << (config.resolver().nameservers().empty()
                          ? std::string("system resolv.conf")
                          : absl::StrJoin(config.resolver().nameservers(), ", "))
                  << "; TLS " << config.tls_min_version() << ".." << config.tls_max_version()
                  << " with "
                  << TlsLibraryDescription(
                         ParseTlsLibrary(config.tls_library()).value_or(TlsLibrary::kGnuTls))
                  << ", groups " << config.tls_groups() << "; each VR probed once per "
                  << config.probed_vr_memory_seconds() << " s; "
                  << fetcher->engine().event_loop_threads() << " event loop(s)";
  ServeUntilSignal(*server);
  return absl::OkStatus();
}

}  // namespace
}  // namespace probe_agent
}  // namespace mecai

int main(int argc, char** argv) {
  return mecai::ServiceMain(argc, argv, "probe_agent", mecai::probe_agent::kUsage,
                            mecai::probe_agent::Run);
}
