#include "log_server/log_server_metrics.h"

#include <string>

namespace mecai {

LogServerMetrics::LogServerMetrics(prometheus::Registry& registry)
    : requests_(prometheus::BuildCounter()
                    .Name("mecai_log_server_requests_total")
                    .Help("HTTP requests answered, by resource kind and status code.")
                    .Register(registry)),
      catch_ups_(prometheus::BuildCounter()
                     .Name("mecai_log_server_catch_ups_total")
                     .Help("Catch-ups with the coordinator's store, by result (ok or error).")
                     .Register(registry)),
      leaves_(prometheus::BuildGauge()
                  .Name("mecai_log_server_leaves")
                  .Help("Leaves of the log read from the store.")
                  .Register(registry)
                  .Add({})),
      served_tree_size_(prometheus::BuildGauge()
                            .Name("mecai_log_server_checkpoint_tree_size")
                            .Help("Tree size of the checkpoint served at /checkpoint (0: none).")
                            .Register(registry)
                            .Add({})) {}

void LogServerMetrics::RecordRequest(const char* resource, int code) {
  requests_.Add({{"resource", resource}, {"code", std::to_string(code)}}).Increment();
}

void LogServerMetrics::RecordCatchUp(bool ok, uint64_t leaves, uint64_t served_tree_size) {
  catch_ups_.Add({{"result", ok ? "ok" : "error"}}).Increment();
  leaves_.Set(static_cast<double>(leaves));
  served_tree_size_.Set(static_cast<double>(served_tree_size));
}

}  // namespace mecai
