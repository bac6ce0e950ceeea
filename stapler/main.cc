// stapler --config F: fetches VDs for one TLS server from every VA of its VA list ahead of time
// and keeps them in its cache directory, from which the TLS server staples (ARCHITECTURE.md §5).
#include <signal.h>

#include <algorithm>
#include <memory>

#include "common/base/config_loader.h"
#include "common/base/logging.h"
#include "common/base/metrics.h"
#include "common/base/service_main.h"
#include "common/base/status.h"
#include "proto/mecai/v1/config.pb.h"
#include "stapler/stapler_daemon.h"

namespace {

constexpr char kUsage[] =
    "usage: stapler --config FILE\n"
    "  FILE: a mecai.v1.StaplerConfig in protobuf text format.\n"
    "Fetches Vouching Data from every VA of the VA list every 6 h (jittered, with backoff) into\n"
    "the cache directory; `mecai s_server --vd-dir DIR` staples from it. With serverinfo_file,\n"
    "also keeps that file current for nginx or Apache and runs reload_command after each change.\n"
    "Each VA's endpoints are tried in order. Logs to stderr: MECAI_LOG_LEVEL=debug|info|warning|\n"
    "error, MECAI_LOG_FORMAT=json for JSON lines (deploy/README.md \"Logs\").\n";

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
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  MECAI_LOG(Info) << "stapler for " << config.hostname() << ":" << config.port() << " caching in "
                  << config.cache_directory();
  while (true) {
    const absl::Time next = daemon->stapler->RunDueFetches();
    // Wake at the next due fetch, at least once a minute (the held VDs age).
    const absl::Duration wait =
        std::clamp(next - absl::Now(), absl::Milliseconds(10), absl::Minutes(1));
    const timespec timeout = absl::ToTimespec(wait);
    const int signal = sigtimedwait(&signals, nullptr, &timeout);
    if (signal == SIGINT || signal == SIGTERM) {
      MECAI_LOG(Info) << "stapler: signal " << signal << ", exiting";
      return absl::OkStatus();
    }
  }
}

}  // namespace

int main(int argc, char** argv) { return mecai::ServiceMain(argc, argv, "stapler", kUsage, Run); }
