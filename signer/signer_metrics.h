// The signer's Prometheus metrics (CONTRIBUTING.md rule 7): signatures made, refusals by reason,
// and the latency of signing in the HSM.
#ifndef MECAI_SIGNER_SIGNER_METRICS_H_
#define MECAI_SIGNER_SIGNER_METRICS_H_

#include <cstddef>

#include "absl/synchronization/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
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
  // The CRLs the signer keeps parsed (common/revocation/parsed_crl_cache.h): how many, the memory
  // they count against their budget, and the checks answered from them since start (`reuses`, a
  // running total: the counter is raised to it).
  void SetParsedCrls(size_t count, size_t memory_bytes, size_t reuses);

 private:
  prometheus::Family<prometheus::Counter>& signatures_;
  prometheus::Family<prometheus::Counter>& refusals_;
  prometheus::Counter& approved_statements_;
  prometheus::Histogram& hsm_seconds_;
  prometheus::Gauge& parsed_crls_;
  prometheus::Gauge& parsed_crl_memory_bytes_;
  absl::Mutex reuses_mutex_;
  prometheus::Counter& parsed_crl_reuses_;
};

}  // namespace mecai

#endif  // MECAI_SIGNER_SIGNER_METRICS_H_
