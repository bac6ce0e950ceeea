// Prometheus metrics of the witness (docs/PUBLIC_LOG.md "Witnesses").
#ifndef MECAI_WITNESS_WITNESS_METRICS_H_
#define MECAI_WITNESS_WITNESS_METRICS_H_

#include <cstdint>
#include <string>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace mecai {
namespace witness {

// Thread-safe.
class WitnessMetrics {
 public:
  explicit WitnessMetrics(prometheus::Registry& registry);

  // One add-checkpoint answer: `result` is one of the fixed names of witness.h
  // (AddCheckpointResult).
  void RecordRequest(const char* result);
  // The tree size last cosigned of `origin` (one of the configured logs: bounded).
  void RecordCosignedSize(const std::string& origin, uint64_t tree_size);

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Gauge>& cosigned_size_;
};

}  // namespace witness
}  // namespace mecai

#endif  // MECAI_WITNESS_WITNESS_METRICS_H_
