#include "common/base/metrics.h"

#include <exception>

#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "common/base/logging.h"

namespace mecai {

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const v1::ListenConfig& listen, std::shared_ptr<prometheus::Registry> registry) {
  if (listen.metrics_address().empty()) return std::unique_ptr<MetricsServer>();
  std::unique_ptr<prometheus::Exposer> exposer;
  // prometheus-cpp reports a failed bind by throwing; the exception stops here.
  try {
    exposer = std::make_unique<prometheus::Exposer>(listen.metrics_address(), 1);
  } catch (const std::exception& error) {
    return absl::UnavailableError(absl::StrCat("cannot serve metrics on ", listen.metrics_address(),
                                               ": ", error.what(), " (is the port in use?)"));
  }
  exposer->RegisterCollectable(registry);
  const std::vector<int> ports = exposer->GetListeningPorts();
  const int port = ports.empty() ? 0 : ports.front();
  if (!listen.metrics_port_file().empty()) {
    absl::Status written =
        WriteFileAtomically(listen.metrics_port_file(), absl::StrCat(port, "\n"));
    if (!written.ok()) return written;
  }
  MECAI_LOG(Info) << "metrics on http://" << listen.metrics_address() << "/metrics (port " << port
                  << ")";
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(exposer), port));
}

prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

}  // namespace mecai
