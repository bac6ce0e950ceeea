// Prometheus metrics (prometheus-cpp): the registry each component builds its metrics struct from
// (CONTRIBUTING.md rule 7: names mecai_<component>_<what>_<unit>, counters end in _total, bounded
// labels, never a hostname), and the /metrics endpoint every service can serve.
#ifndef MECAI_COMMON_BASE_METRICS_H_
#define MECAI_COMMON_BASE_METRICS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "prometheus/collectable.h"
#include "prometheus/exposer.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {

// Serves a registry over HTTP at /metrics. Thread-safe.
class MetricsServer {
 public:
  // Binds listen.metrics_address (UNAVAILABLE naming it when the port is in use) and writes the
  // bound port to listen.metrics_port_file when set. Returns null (no endpoint) when
  // listen.metrics_address is empty.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const v1::ListenConfig& listen, std::shared_ptr<prometheus::Registry> registry);

  int port() const { return port_; }

  // Serves `collectable` at /metrics too, collected at each scrape (e.g. gauges computed from
  // current state); a collectable that has expired is skipped.
  void RegisterCollectable(const std::weak_ptr<prometheus::Collectable>& collectable) {
    exposer_->RegisterCollectable(collectable);
  }

 private:
  MetricsServer(std::unique_ptr<prometheus::Exposer> exposer, int port)
      : exposer_(std::move(exposer)), port_(port) {}
  std::unique_ptr<prometheus::Exposer> exposer_;
  const int port_;
};

// Seconds-scale latency buckets from 1 ms to 30 s.
prometheus::Histogram::BucketBoundaries LatencyBuckets();

}  // namespace mecai

#endif  // MECAI_COMMON_BASE_METRICS_H_
