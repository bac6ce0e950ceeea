// Wiring of a Stapler from a v1::StaplerConfig: the VA list, the VR fetcher with the server's
// certificate(s) and key(s), the client-side check of every fetched VD, and each VA's Vouching
// Server. Used by stapler/main.cc and by tests that run the stapler in process.
#ifndef MECAI_STAPLER_STAPLER_DAEMON_H_
#define MECAI_STAPLER_STAPLER_DAEMON_H_

#include <memory>
#include <random>

#include "absl/status/statusor.h"
#include "client/va_list.h"
#include "common/base/clock.h"
#include "proto/mecai/v1/config.pb.h"
#include "stapler/stapler.h"
#include "stapler/vouching_fetcher.h"

namespace mecai {

// Owns everything a running stapler needs. Not thread-safe to destroy while RunDueFetches runs.
struct StaplerDaemon {
  std::unique_ptr<VaList> vas;
  std::unique_ptr<VouchingFetcher> fetcher;
  std::unique_ptr<Stapler> stapler;
};

// Validates `config` (INVALID_ARGUMENT naming the field), creates the cache directory and loads
// the cache. `clock` must outlive the result.
absl::StatusOr<std::unique_ptr<StaplerDaemon>> BuildStaplerDaemon(const v1::StaplerConfig& config,
                                                                  const Clock& clock);

}  // namespace mecai

#endif  // MECAI_STAPLER_STAPLER_DAEMON_H_
