// The signer's Prometheus metrics (CONTRIBUTING.md rule 7): signatures made, refusals by reason,
// and the latency of signing in the HSM.
#ifndef MECAI_SIGNER_SIGNER_METRICS_H_
#define MECAI_SIGNER_SIGNER_METRICS_H_

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "proto/mecai/v1/common.pb.h"

namespace mecai {

// Thread-safe.
class SignerMetrics {
 public:
  explicit SignerMetrics(prometheus::Registry& registry);

  // `kind` is "vouching_data", "checkpoint", "checkpoint_note" or "log_key_endorsement".
  void RecordSignature(const char* kind, double hsm_seconds);
  // A logged VD statement approved without an HSM signature (docs/VOUCHING_DATA.md "Logged VDs").
  void RecordApprovedStatement();
  void RecordRefusal(v1::RefusalReason reason);

 private:
  prometheus::Family<prometheus::Counter>& signatures_;
  prometheus::Family<prometheus::Counter>& refusals_;
  prometheus::Counter& approved_statements_;
  prometheus::Histogram& hsm_seconds_;
};

}  // namespace mecai

#endif  // MECAI_SIGNER_SIGNER_METRICS_H_
