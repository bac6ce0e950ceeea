// A VR's certificate chain for the benchmarks that parse or validate one: an EC P-256 leaf for
// bench.example.test, its P-256 intermediate and their P-256 root (common/pki), valid from an hour
// ago for a day.
#ifndef MECAI_BENCH_BENCH_CHAIN_H_
#define MECAI_BENCH_BENCH_CHAIN_H_

#include "absl/status/statusor.h"
#include "common/crypto/openssl_types.h"

namespace mecai {

struct BenchChain {
  X509Ptr root;
  X509Ptr intermediate;
  X509Ptr leaf;
};

absl::StatusOr<BenchChain> IssueBenchChain();

}  // namespace mecai

#endif  // MECAI_BENCH_BENCH_CHAIN_H_
