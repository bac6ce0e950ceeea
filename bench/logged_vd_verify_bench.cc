// Client CPU and size of logged VDs (docs/VOUCHING_DATA.md "Logged VDs") against signed VDs, in one
// run, on the golden vectors of testdata/vd/: valid.vd (signed) and logged.vd (the same statement,
// proven as entry 1234 of a log of 2,000 entries). Each is verified over and over through one VA
// list, whose verified-VA cache then holds the chain, the signature (signed) or the endorsement and
// the checkpoint note (logged): what a client pays for a VD of a VA and checkpoint it has seen.
// Also: the size of a logged VD whose proof is for a log of 2^24 entries (24 proof nodes).
//
//   bazel run -c opt //bench:logged_vd_verify_bench -- [verifications per round] [rounds]
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/bench_stats.h"
#include "client/testing/vd_vectors.h"
#include "client/va_list.h"
#include "client/vd_verifier.h"
#include "common/base/files.h"
#include "common/crypto/pem.h"

namespace mecai {
namespace {

std::string VectorPath(const std::string& name) {
  const char* runfiles = std::getenv("TEST_SRCDIR");
  if (runfiles == nullptr) runfiles = std::getenv("RUNFILES_DIR");
  return absl::StrCat(runfiles != nullptr ? runfiles : ".", "/mecai/testdata/vd/", name);
}

int Main(int argc, char** argv) {
  const int verifications = argc > 1 ? std::atoi(argv[1]) : 20000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  auto vas = VaList::Load(VectorPath("va-list.textproto"));
  auto uncached = VaList::Load(VectorPath("va-list.textproto"), /*verified_va_cache_capacity=*/0);
  auto leaf = LoadPemCertificatesAsDer(VectorPath("server-leaf.pem"));
  auto signed_bytes = ReadFile(VectorPath("valid.vd"));
  auto logged_bytes = ReadFile(VectorPath("logged.vd"));
  if (!vas.ok() || !uncached.ok() || !leaf.ok() || !signed_bytes.ok() || !logged_bytes.ok()) {
    std::fprintf(stderr, "cannot read the vectors under %s\n", VectorPath("").c_str());
    return 1;
  }
  v1::VouchingData signed_vd, logged_vd;
  signed_vd.ParseFromString(*signed_bytes);
  logged_vd.ParseFromString(*logged_bytes);
  const VdExpectation expected = vd_vectors::VectorExpectation(leaf->front());

  // Alternating rounds, so that a change of machine load hits both alike; the ratio is per round.
  auto time_round = [&](const v1::VouchingData& vd, const VaList& list, int count) {
    const double start = ThreadCpuSeconds();
    for (int i = 0; i < count; ++i) {
      if (!VerifyVouchingData(vd, list, expected).ok()) std::abort();
    }
    return (ThreadCpuSeconds() - start) / count * 1e6;
  };
  time_round(signed_vd, **vas, 100);  // Warm the cache and the code.
  time_round(logged_vd, **vas, 100);
  std::vector<double> signed_us, logged_us, ratios, logged_uncached_us, signed_uncached_us;
  for (int round = 0; round < rounds; ++round) {
    const double a = time_round(signed_vd, **vas, verifications);
    const double b = time_round(logged_vd, **vas, verifications);
    signed_us.push_back(a);
    logged_us.push_back(b);
    ratios.push_back(b / a);
    signed_uncached_us.push_back(time_round(signed_vd, **uncached, verifications / 100 + 1));
    logged_uncached_us.push_back(time_round(logged_vd, **uncached, verifications / 100 + 1));
  }
  std::printf("| verification (median of %d rounds) | signed VD (µs) | logged VD (µs) | ratio |\n",
              rounds);
  std::printf("|---|---:|---:|---:|\n");
  std::printf(
      "| VA, signature / endorsement and note seen before (%d per round) | %.2f | %.2f | "
      "%.2f |\n",
      verifications, Median(signed_us), Median(logged_us), Median(ratios));
  std::printf("| nothing cached (%d per round) | %.1f | %.1f | %.2f |\n", verifications / 100 + 1,
              Median(signed_uncached_us), Median(logged_uncached_us),
              Median(logged_uncached_us) / Median(signed_uncached_us));

  // Sizes: the VD as a whole and without its VA chain (which a client that saw the VA before
  // could be sent once), for the vector's tree of 2,000 entries and for one of 2^24.
  v1::VouchingData big = logged_vd;
  while (big.log_proof().inclusion_proof_size() < 24) {
    big.mutable_log_proof()->add_inclusion_proof(std::string(32, '\x5a'));
  }
  auto without_chain = [](v1::VouchingData vd) {
    vd.clear_va_certificate_chain_der();
    return vd.ByteSizeLong();
  };
  std::printf(
      "\n| VD | proof nodes | bytes | bytes without the VA chain |\n|---|---:|---:|---:|\n");
  std::printf("| signed (valid.vd) | — | %zu | %zu |\n", signed_vd.ByteSizeLong(),
              without_chain(signed_vd));
  std::printf("| logged (logged.vd, 2,000 entries) | %d | %zu | %zu |\n",
              logged_vd.log_proof().inclusion_proof_size(), logged_vd.ByteSizeLong(),
              without_chain(logged_vd));
  std::printf("| logged, a log of 2^24 entries | 24 | %zu | %zu |\n", big.ByteSizeLong(),
              without_chain(big));
  std::printf("| of which: statement %zu, note %zu, endorsement %zu, VA chain %zu |\n",
              logged_vd.statement().size(), logged_vd.log_proof().checkpoint_note().size(),
              logged_vd.log_proof().log_key_endorsement().ByteSizeLong(),
              logged_vd.va_certificate_chain_der(0).size());
  return 0;
}

}  // namespace
}  // namespace mecai

int main(int argc, char** argv) { return mecai::Main(argc, argv); }
