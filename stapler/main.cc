// stapler --config F: fetches VDs for one TLS server from every VA of its VA list ahead of time
// and keeps them in its cache directory, from which the TLS server staples (ARCHITECTURE.md §5).
#include <signal.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/config_loader.h"
#include "common/base/files.h"
#include "common/base/logging.h"
#include "common/base/metrics.h"
#include "common/base/service_main.h"
#include "common/base/status.h"
#include "common/rpc/grpc_server.h"
#include "proto/mecai/v1/config.pb.h"
#include "stapler/stapler_daemon.h"
#include "stapler/stapler_health.h"

namespace {

constexpr char kUsage[] =
    "usage: stapler --config FILE\n"
    "  FILE: a mecai.v1.StaplerConfig in protobuf text format.\n"
    "Fetches Vouching Data from every VA of the VA list every 6 h (jittered, with backoff) into\n"
    "the cache directory; `mecai s_server --vd-dir DIR` staples from it. With serverinfo_file,\n"
    "also keeps that file current for nginx or Apache and runs reload_command after each change.\n"
    "Each VA's endpoints are tried in order. With health_address, serves grpc.health.v1.Health\n"
    "there: SERVING while it holds a fresh VD for every VA. Logs to stderr:\n"
    "MECAI_LOG_LEVEL=debug|info|warning|error, MECAI_LOG_FORMAT=json for JSON lines\n"
    "(deploy/README.md \"Logs\").\n";

absl::Status Run(const std::string& config_path) {
  ASSIGN_OR_RETURN(auto config, mecai::LoadConfig<mecai::v1::StaplerConfig>(config_path));
  RETURN_IF_ERROR(mecai::ValidateStaplerConfig(config, config_path));
  auto registry = std::make_shared<prometheus::Registry>();
  ASSIGN_OR_RETURN(auto daemon,
                   mecai::BuildStaplerDaemon(config, mecai::SystemClock::Get(), registry.get()));
  // Serves /metrics when metrics_address is set; declared after the daemon, so it stops serving
  // before the daemon, whose held VDs it reads, goes away.
  mecai::v1::ListenConfig listen;
  listen.set_metrics_address(config.metrics_address());
  listen.set_metrics_port_file(config.metrics_port_file());
  ASSIGN_OR_RETURN(auto metrics, mecai::MetricsServer::Start(listen, registry));
  if (metrics != nullptr) metrics->RegisterCollectable(daemon->metrics);
  // grpc.health.v1 on health_address, as the other services serve theirs (stapler_health.h).
  std::optional<mecai::HealthOnlyServer> health;
  const absl::Duration health_max_vd_age = config.health_max_vd_age_ms() > 0
                                               ? absl::Milliseconds(config.health_max_vd_age_ms())
                                               : mecai::kDefaultHealthMaxVdAge;
  std::vector<std::string> va_ids;
  for (const auto& entry : daemon->vas->entries()) va_ids.push_back(entry.config.id());
  const absl::Time started = absl::Now();
  bool serving = true;
  if (!config.health_address().empty()) {
    ASSIGN_OR_RETURN(health, mecai::StartHealthOnlyServer(config.health_address()));
    if (!config.health_port_file().empty()) {
      RETURN_IF_ERROR(
          mecai::WriteFileAtomically(config.health_port_file(), absl::StrCat(health->port, "\n")));
    }
    MECAI_LOG(Info) << "serving grpc.health.v1.Health on " << config.health_address() << " (port "
                    << health->port << "): SERVING while every VA's VD is younger than "
                    << absl::FormatDuration(health_max_vd_age);
  }
  auto judge_health = [&]() {
    if (!health.has_value()) return;
    const mecai::StaplerHealth verdict = mecai::JudgeStaplerHealth(
        daemon->stapler->HeldVds(), va_ids, started, absl::Now(), health_max_vd_age);
    if (verdict.serving != serving) {
      if (verdict.serving) {
        MECAI_LOG(Info) << "stapler health: SERVING";
      } else {
        MECAI_LOG(Warning) << "stapler health: NOT_SERVING: "
                           << absl::StrJoin(verdict.problems, "; ");
      }
    }
    serving = verdict.serving;
    health->server->GetHealthCheckService()->SetServingStatus(serving);
  };
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  MECAI_LOG(Info) << "stapler for " << config.hostname() << ":" << config.port() << " caching in "
                  << config.cache_directory();
  while (true) {
    const absl::Time next = daemon->stapler->RunDueFetches();
    judge_health();
    // Wake at the next due fetch, at least once a minute (the held VDs age), and once a second
    // while health is served, so that it turns within a second of the threshold.
    const absl::Duration wait =
        std::clamp(next - absl::Now(), absl::Milliseconds(10),
                   health.has_value() ? absl::Seconds(1) : absl::Minutes(1));
    const timespec timeout = absl::ToTimespec(wait);
    const int signal = sigtimedwait(&signals, nullptr, &timeout);
    if (signal == SIGINT || signal == SIGTERM) {
      MECAI_LOG(Info) << "stapler: signal " << signal << ", exiting";
      if (health.has_value()) {
        health->server->GetHealthCheckService()->SetServingStatus(false);
        health->server->Shutdown();
      }
      return absl::OkStatus();
    }
  }
}

}  // namespace

int main(int argc, char** argv) { return mecai::ServiceMain(argc, argv, "stapler", kUsage, Run); }
