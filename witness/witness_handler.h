// The witness's HTTP interface (https://c2sp.org/tlog-witness "HTTP Interface"):
//   POST <submission prefix>/add-checkpoint   witness/witness.h decides
//   GET  /health                              200 "ok" once serving (for probes)
// 405 for another method on those paths, 404 for any other path.
#ifndef MECAI_WITNESS_WITNESS_HANDLER_H_
#define MECAI_WITNESS_WITNESS_HANDLER_H_

#include <string>

#include "common/net/http_server.h"
#include "witness/witness.h"
#include "witness/witness_metrics.h"

namespace mecai {
namespace witness {

// Thread-safe.
class WitnessHandler {
 public:
  // `submission_prefix`: "" or a path beginning with '/' (WitnessConfig.submission_prefix).
  WitnessHandler(Witness& witness, const std::string& submission_prefix, WitnessMetrics* metrics)
      : witness_(witness),
        add_checkpoint_path_(submission_prefix + "/add-checkpoint"),
        metrics_(metrics) {}

  HttpServerResponse Handle(const HttpServerRequest& request);

 private:
  Witness& witness_;
  const std::string add_checkpoint_path_;
  WitnessMetrics* const metrics_;
};

}  // namespace witness
}  // namespace mecai

#endif  // MECAI_WITNESS_WITNESS_HANDLER_H_
