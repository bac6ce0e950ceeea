#include "witness/witness_metrics.h"

namespace mecai {
namespace witness {

WitnessMetrics::WitnessMetrics(prometheus::Registry& registry)
    : requests_(prometheus::BuildCounter()
                    .Name("mecai_witness_requests_total")
                    .Help("add-checkpoint requests answered, by result.")
                    .Register(registry)),
      cosigned_size_(prometheus::BuildGauge()
                         .Name("mecai_witness_cosigned_tree_size")
                         .Help("Tree size of the last checkpoint cosigned, by log origin.")
                         .Register(registry)) {}

void WitnessMetrics::RecordRequest(const char* result) {
  requests_.Add({{"result", result}}).Increment();
}

void WitnessMetrics::RecordCosignedSize(const std::string& origin, uint64_t tree_size) {
  cosigned_size_.Add({{"origin", origin}}).Set(static_cast<double>(tree_size));
}

}  // namespace witness
}  // namespace mecai
