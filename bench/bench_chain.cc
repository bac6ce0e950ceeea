#include "bench/bench_chain.h"

#include "absl/time/clock.h"
#include "common/base/status.h"
#include "common/pki/pki_builder.h"

namespace mecai {
namespace {

CertificateSpec Spec(const char* name, bool authority) {
  CertificateSpec spec;
  spec.common_name = name;
  if (!authority) spec.dns_names = {"bench.example.test"};
  spec.is_certificate_authority = authority;
  spec.not_before = absl::Now() - absl::Hours(1);
  spec.not_after = absl::Now() + absl::Hours(24);
  return spec;
}

}  // namespace

absl::StatusOr<BenchChain> IssueBenchChain() {
  ASSIGN_OR_RETURN(EvpPkeyPtr root_key, GenerateEcKey());
  ASSIGN_OR_RETURN(EvpPkeyPtr intermediate_key, GenerateEcKey());
  ASSIGN_OR_RETURN(EvpPkeyPtr leaf_key, GenerateEcKey());
  BenchChain chain;
  ASSIGN_OR_RETURN(chain.root, IssueCertificate(Spec("Bench Root", true), root_key.get(), nullptr,
                                                root_key.get()));
  ASSIGN_OR_RETURN(chain.intermediate,
                   IssueCertificate(Spec("Bench Intermediate", true), intermediate_key.get(),
                                    chain.root.get(), root_key.get()));
  ASSIGN_OR_RETURN(chain.leaf, IssueCertificate(Spec("leaf", false), leaf_key.get(),
                                                chain.intermediate.get(), intermediate_key.get()));
  return chain;
}

}  // namespace mecai
