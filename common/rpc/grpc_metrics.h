// gRPC server metrics through an interceptor (every service): calls handled by method and status
// code, and their latency. Method names are the services' own (bounded); never a peer or a host.
#ifndef MECAI_COMMON_RPC_GRPC_METRICS_H_
#define MECAI_COMMON_RPC_GRPC_METRICS_H_

#include <memory>
#include <vector>

#include "grpcpp/support/server_interceptor.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace mecai {

// Thread-safe. Must outlive every server it is given to.
class GrpcServerMetrics {
 public:
  explicit GrpcServerMetrics(prometheus::Registry& registry);

  // Interceptor factories for grpc::ServerBuilder::experimental().SetInterceptorCreators.
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
  InterceptorFactories();

  // One call of `method` finished with `code` after `seconds`.
  void RecordCall(const char* method, grpc::StatusCode code, double seconds);

 private:
  prometheus::Family<prometheus::Counter>& handled_;
  prometheus::Family<prometheus::Histogram>& handling_seconds_;
};

}  // namespace mecai

#endif  // MECAI_COMMON_RPC_GRPC_METRICS_H_
