#include "signer/evidence_metrics.h"

namespace mecai {
namespace {

// 1 KiB to 64 MiB, by powers of 4.
prometheus::Histogram::BucketBoundaries RequestBytesBuckets() {
  prometheus::Histogram::BucketBoundaries buckets;
  for (double bound = 1024; bound <= 64.0 * 1024 * 1024; bound *= 4) buckets.push_back(bound);
  return buckets;
}

}  // namespace

EvidenceMetrics::EvidenceMetrics(prometheus::Registry& registry)
    : cache_bytes_(prometheus::BuildGauge()
                       .Name("mecai_signer_evidence_cache_bytes")
                       .Help("Bytes the evidence cache holds: revocation responses stored by "
                             "SHA-256 and the bytes of uploads in progress.")
                       .Register(registry)
                       .Add({})),
      uploads_(prometheus::BuildCounter()
                   .Name("mecai_signer_evidence_uploads_total")
                   .Help("UploadEvidence calls ended, by result (stored, or why nothing was).")
                   .Register(registry)),
      evictions_(prometheus::BuildCounter()
                     .Name("mecai_signer_evidence_evictions_total")
                     .Help("Revocation responses evicted from the evidence cache, least recently "
                           "used first, to make room.")
                     .Register(registry)
                     .Add({})),
      sign_vouching_request_bytes_(
          prometheus::BuildHistogram()
              .Name("mecai_signer_sign_vouching_request_bytes")
              .Help("Serialized size of each SignVouching request received.")
              .Register(registry)
              .Add({}, RequestBytesBuckets())) {}

void EvidenceMetrics::SetCacheBytes(size_t bytes) { cache_bytes_.Set(static_cast<double>(bytes)); }

void EvidenceMetrics::RecordUpload(const char* result) {
  uploads_.Add({{"result", result}}).Increment();
}

void EvidenceMetrics::RecordEviction() { evictions_.Increment(); }

void EvidenceMetrics::RecordSignVouchingRequestBytes(size_t bytes) {
  sign_vouching_request_bytes_.Observe(static_cast<double>(bytes));
}

}  // namespace mecai
