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
                       .Add({}, LatencyBuckets())),
      parsed_crls_(prometheus::BuildGauge()
                       .Name("mecai_signer_parsed_crls")
                       .Help("CRLs of the revocation evidence kept parsed and verified.")
                       .Register(registry)
                       .Add({})),
      parsed_crl_memory_bytes_(prometheus::BuildGauge()
                                   .Name("mecai_signer_parsed_crl_memory_bytes")
                                   .Help("Memory the parsed CRLs count against their 128 MiB "
                                         "budget (their DER twice and 300 bytes per entry).")
                                   .Register(registry)
                                   .Add({})),
      parsed_crl_reuses_(prometheus::BuildCounter()
                             .Name("mecai_signer_parsed_crl_reuses_total")
                             .Help("CRL checks answered from a CRL kept parsed, without parsing, "
                                   "hashing or verifying it again.")
                             .Register(registry)
                             .Add({})) {}

void SignerMetrics::RecordSignature(const char* kind, double hsm_seconds) {
  signatures_.Add({{"kind", kind}}).Increment();
  hsm_seconds_.Observe(hsm_seconds);
}

void SignerMetrics::RecordApprovedStatement() { approved_statements_.Increment(); }

void SignerMetrics::SetParsedCrls(size_t count, size_t memory_bytes, size_t reuses) {
  parsed_crls_.Set(static_cast<double>(count));
  parsed_crl_memory_bytes_.Set(static_cast<double>(memory_bytes));
  absl::MutexLock lock(&reuses_mutex_);
  const double shown = parsed_crl_reuses_.Value();
  if (static_cast<double>(reuses) > shown) {
    parsed_crl_reuses_.Increment(static_cast<double>(reuses) - shown);
  }
}

void SignerMetrics::RecordRefusal(v1::RefusalReason reason) {
  refusals_.Add({{"reason", v1::RefusalReason_Name(reason)}}).Increment();
}

}  // namespace mecai
