#include "signer/signer_metrics.h"

#include "common/base/metrics.h"

namespace mecai {

SignerMetrics::SignerMetrics(prometheus::Registry& registry)
    : signatures_(prometheus::BuildCounter()
                      .Name("mecai_signer_signatures_total")
                      .Help("Signatures made in the HSM (VA key or log key), by kind.")
                      .Register(registry)),
      refusals_(prometheus::BuildCounter()
                    .Name("mecai_signer_refusals_total")
                    .Help("Signing requests refused after the independent check, by reason.")
                    .Register(registry)),
      approved_statements_(prometheus::BuildCounter()
                               .Name("mecai_signer_approved_statements_total")
                               .Help("Logged VD statements approved without an HSM signature.")
                               .Register(registry)
                               .Add({})),
      hsm_seconds_(prometheus::BuildHistogram()
                       .Name("mecai_signer_hsm_sign_duration_seconds")
                       .Help("Time for one signature in the PKCS#11 token.")
                       .Register(registry)
                       .Add({}, LatencyBuckets())) {}

void SignerMetrics::RecordSignature(const char* kind, double hsm_seconds) {
  signatures_.Add({{"kind", kind}}).Increment();
  hsm_seconds_.Observe(hsm_seconds);
}

void SignerMetrics::RecordApprovedStatement() { approved_statements_.Increment(); }

void SignerMetrics::RecordRefusal(v1::RefusalReason reason) {
  refusals_.Add({{"reason", v1::RefusalReason_Name(reason)}}).Increment();
}

}  // namespace mecai
