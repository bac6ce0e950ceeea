// CPU to validate a VR's chain (a P-256 leaf and its P-256 intermediate) to a trust list of one
// P-256 root: TrustLists::VerifyChain (common/evidence/trust_lists.h) the first time a chain is
// seen, which is OpenSSL's path validation (RFC 5280 §6, X509_verify_cert), against the same call
// for a chain validated before, answered from the cache of validated chains
// (common/evidence/validated_chain_cache.h), in the same run (docs/PERFORMANCE.md, "Where the
// coordinator's CPU per VR goes"). Each first validation uses a TrustLists of its own, loaded
// before the clock starts, so that none finds an earlier one's path.
//
//   bazel run -c opt //bench:chain_validation_bench -- [validations per round] [rounds]
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "bench/bench_chain.h"
#include "bench/bench_stats.h"
#include "common/crypto/openssl_types.h"
#include "common/crypto/pem.h"
#include "common/evidence/refusal.h"
#include "common/evidence/trust_lists.h"

namespace mecai {
namespace {

int Main(int argc, char** argv) {
  const int validations = argc > 1 ? std::atoi(argv[1]) : 2000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  absl::StatusOr<BenchChain> issued = IssueBenchChain();
  if (!issued.ok()) {
    std::fprintf(stderr, "cannot issue the certificates: %s\n", issued.status().ToString().c_str());
    return 1;
  }
  char directory[] = "/tmp/chain_validation_bench.XXXXXX";
  if (mkdtemp(directory) == nullptr) return 1;
  const std::string bundle = std::string(directory) + "/roots.pem";
  FILE* file = std::fopen(bundle.c_str(), "w");
  const std::string pem = CertificateToPem(issued->root.get());
  if (file == nullptr || std::fwrite(pem.data(), 1, pem.size(), file) != pem.size()) return 1;
  std::fclose(file);
  google::protobuf::RepeatedPtrField<v1::TrustListConfig> configs;
  configs.Add()->set_name("bench");
  configs.Mutable(0)->set_pem_file(bundle);
  auto load = [&] {
    auto lists = TrustLists::Load(configs);
    if (!lists.ok()) {
      std::fprintf(stderr, "%s\n", lists.status().ToString().c_str());
      std::exit(1);
    }
    return std::move(*lists);
  };
  const std::vector<X509*> chain = {issued->leaf.get(), issued->intermediate.get()};
  auto validate = [&](const TrustLists& lists) {
    if (!IsAccepted(lists.VerifyChain("bench", chain, absl::Now()).refusal)) {
      std::fprintf(stderr, "the chain did not validate\n");
      std::exit(1);
    }
  };
  // CPU µs per validation: `validations` first validations, each with a TrustLists of its own.
  auto first_validations = [&] {
    std::vector<std::unique_ptr<TrustLists>> fresh;
    for (int i = 0; i < validations; ++i) fresh.push_back(load());
    const double start = ThreadCpuSeconds();
    for (const auto& lists : fresh) validate(*lists);
    return (ThreadCpuSeconds() - start) * 1e6 / validations;
  };
  std::unique_ptr<TrustLists> warm = load();
  validate(*warm);
  auto from_cache = [&] {
    const double start = ThreadCpuSeconds();
    for (int i = 0; i < validations; ++i) validate(*warm);
    return (ThreadCpuSeconds() - start) * 1e6 / validations;
  };
  first_validations();
  from_cache();
  std::vector<double> firsts, cached, ratios;
  for (int round = 0; round < rounds; ++round) {
    firsts.push_back(first_validations());
    cached.push_back(from_cache());
    ratios.push_back(cached.back() / firsts.back());
  }
  std::printf("| validation of a leaf and intermediate (median of %d rounds of %d) | µs |\n",
              rounds, validations);
  std::printf("|---|---:|\n");
  std::printf("| TrustLists::VerifyChain, a chain not seen before | %.2f |\n", Median(firsts));
  std::printf("| TrustLists::VerifyChain, a chain validated before | %.2f |\n", Median(cached));
  std::printf("| ratio, validated before / not seen before | %.3f |\n", Median(ratios));
  unlink(bundle.c_str());
  rmdir(directory);
  return 0;
}

}  // namespace
}  // namespace mecai

int main(int argc, char** argv) { return mecai::Main(argc, argv); }
