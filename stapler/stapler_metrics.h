// The stapler's Prometheus metrics of its fetches and held VDs (deploy/README.md "Stapler
// endpoints and metrics"), one series per VA of its VA list:
//   mecai_stapler_fetches_total{va,outcome}: every fetch, by kFetchOutcomes (stapler/stapler.h);
//   mecai_stapler_vouching_data_age_seconds{va}: now minus the held VD's issued_at; +Inf while no
//     VD is held;
//   mecai_stapler_vouching_data_expiry_timestamp_seconds{va}: when the held VD stops being stapled,
//     Unix seconds: its issued_at plus the maximum age (StaplerConfig.max_age_ms, what clients
//     accept) or the VA certificate's notAfter, whichever is earlier; 0 while no VD is held.
// The two gauges are computed at each scrape from the VDs the Stapler holds.
#ifndef MECAI_STAPLER_STAPLER_METRICS_H_
#define MECAI_STAPLER_STAPLER_METRICS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/base/clock.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"
#include "stapler/stapler.h"

namespace mecai {

// Thread-safe.
class StaplerMetrics : public prometheus::Collectable {
 public:
  // Registers the fetch counters in `registry`, at zero for every VA of `va_ids` and outcome.
  // `stapler` and `clock` must outlive this, and this must outlive whoever collects it.
  StaplerMetrics(prometheus::Registry& registry, const std::vector<std::string>& va_ids,
                 const Stapler& stapler, const Clock& clock, absl::Duration max_age);

  // Counts one fetch; an unknown VA or outcome is ignored.
  void RecordFetch(const std::string& va_id, const std::string& outcome);

  // The two gauges, now.
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const std::vector<std::string> va_ids_;
  const Stapler& stapler_;
  const Clock& clock_;
  const absl::Duration max_age_;
  // Constant after construction: va -> outcome -> counter.
  std::map<std::string, std::map<std::string, prometheus::Counter*>> fetches_;
};

}  // namespace mecai

#endif  // MECAI_STAPLER_STAPLER_METRICS_H_
