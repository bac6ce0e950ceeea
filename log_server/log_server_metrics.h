// Prometheus metrics of the public log server (docs/PUBLIC_LOG.md §3).
#ifndef MECAI_LOG_SERVER_LOG_SERVER_METRICS_H_
#define MECAI_LOG_SERVER_LOG_SERVER_METRICS_H_

#include <cstdint>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace mecai {

// Thread-safe.
class LogServerMetrics {
 public:
  explicit LogServerMetrics(prometheus::Registry& registry);

  // `resource` is "checkpoint", "tile", "entries", "evidence" or "other"; `code` the HTTP status.
  void RecordRequest(const char* resource, int code);
  // After each catch-up with the store: whether it succeeded, the leaves read and the size of the
  // checkpoint served (0 for none).
  void RecordCatchUp(bool ok, uint64_t leaves, uint64_t served_tree_size);

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Counter>& catch_ups_;
  prometheus::Gauge& leaves_;
  prometheus::Gauge& served_tree_size_;
};

}  // namespace mecai

#endif  // MECAI_LOG_SERVER_LOG_SERVER_METRICS_H_
