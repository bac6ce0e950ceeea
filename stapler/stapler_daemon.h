// Wiring of a Stapler from a v1::StaplerConfig: the VA list, the VR fetcher with the server's
// certificate(s) and key(s), the client-side check of every fetched VD, each VA's Vouching
// Server, and the serverinfo files of stock TLS servers with their reload command. Used by
// stapler/main.cc and by tests that run the stapler in process.
#ifndef MECAI_STAPLER_STAPLER_DAEMON_H_
#define MECAI_STAPLER_STAPLER_DAEMON_H_

#include <memory>
#include <random>
#include <string>

#include "absl/status/statusor.h"
#include "client/va_list.h"
#include "common/base/clock.h"
#include "prometheus/registry.h"
#include "proto/mecai/v1/config.pb.h"
#include "stapler/serverinfo_publisher.h"
#include "stapler/stapler.h"
#include "stapler/stapler_metrics.h"
#include "stapler/vouching_fetcher.h"

namespace mecai {

// Owns everything a running stapler needs. Not thread-safe to destroy while RunDueFetches runs.
struct StaplerDaemon {
  std::unique_ptr<VaList> vas;
  std::unique_ptr<VouchingFetcher> fetcher;
  // Null without serverinfo files; the stapler's listener when present (declared before the
  // stapler, so it outlives it).
  std::unique_ptr<ServerinfoPublisher> serverinfo;
  std::unique_ptr<Stapler> stapler;
  // With a registry: the fetch counters and the held VDs' gauges (stapler/stapler_metrics.h);
  // register it with the metrics endpoint (MetricsServer::RegisterCollectable), which must be
  // stopped before this is destroyed. Null without a registry.
  std::shared_ptr<StaplerMetrics> metrics;
};

// Checks `config` without reading any file (ARCHITECTURE.md §10): one INVALID_ARGUMENT naming
// `source` and every bad field.
absl::Status ValidateStaplerConfig(const v1::StaplerConfig& config, const std::string& source);

// Validates `config` (also that each serverinfo file's directory exists and the reload program
// is executable), creates the cache directory and loads the cache; with serverinfo files, brings
// them up to the cache at once (and reloads when one was written). `clock` and `registry` (may be
// null: no Prometheus metrics) must outlive the result.
absl::StatusOr<std::unique_ptr<StaplerDaemon>> BuildStaplerDaemon(
    const v1::StaplerConfig& config, const Clock& clock, prometheus::Registry* registry = nullptr);

}  // namespace mecai

#endif  // MECAI_STAPLER_STAPLER_DAEMON_H_
