// The signer's metrics of evidence by content hash (ARCHITECTURE.md §8 "Evidence by content
// hash"; CONTRIBUTING.md rule 7): the bytes its evidence cache holds, uploads by result, evictions,
// and the size of the SignVouching requests it receives.
#ifndef MECAI_SIGNER_EVIDENCE_METRICS_H_
#define MECAI_SIGNER_EVIDENCE_METRICS_H_

#include <cstddef>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace mecai {

// Thread-safe (prometheus-cpp metrics are).
class EvidenceMetrics {
 public:
  explicit EvidenceMetrics(prometheus::Registry& registry);

  // The bytes the cache holds now: responses stored and the bytes of uploads in progress.
  void SetCacheBytes(size_t bytes);
  // One upload ended; `result` is one of the kUpload* names of signer/evidence_upload.h.
  void RecordUpload(const char* result);
  // A stored response was evicted (least recently used) to make room.
  void RecordEviction();
  // One SignVouching request of `bytes` serialized bytes was received.
  void RecordSignVouchingRequestBytes(size_t bytes);

 private:
  prometheus::Gauge& cache_bytes_;
  prometheus::Family<prometheus::Counter>& uploads_;
  prometheus::Counter& evictions_;
  prometheus::Histogram& sign_vouching_request_bytes_;
};

}  // namespace mecai

#endif  // MECAI_SIGNER_EVIDENCE_METRICS_H_
