// CPU to verify one Ed25519 signature of a 300-byte message, about an Observation's size
// (docs/PERFORMANCE.md, "What it means for the ≤ 1 ms goal"): OpenSSL 3.0's EVP_DigestVerifyInit +
// EVP_DigestVerify, the path VerifySignature took before, against VerifySignature
// (common/crypto/signature.h), which now verifies Ed25519 with libsodium
// (common/crypto/ed25519_verify.h), in the same run, alternating round by round.
//
//   bazel build -c opt //bench:ed25519_verify_bench
//   bazel-bin/bench/ed25519_verify_bench [verifications per round] [rounds]
#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/bench_stats.h"
#include "common/crypto/openssl_types.h"
#include "common/crypto/signature.h"
#include "common/pki/pki_builder.h"

namespace mecai {
namespace {

int Main(int argc, char** argv) {
  const int verifications = argc > 1 ? std::atoi(argv[1]) : 5000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  if (verifications <= 0 || rounds <= 0) {
    std::fprintf(stderr, "usage: ed25519_verify_bench [verifications per round] [rounds]\n");
    return 2;
  }
  absl::StatusOr<EvpPkeyPtr> key = GenerateEd25519Key();
  if (!key.ok()) {
    std::fprintf(stderr, "cannot make the key\n");
    return 1;
  }
  std::string message(300, '\0');
  for (size_t i = 0; i < message.size(); ++i) message[i] = static_cast<char>(i * 131 + 7);
  absl::StatusOr<v1::Signature> signature = SignBytes(key->get(), v1::ED25519, message);
  if (!signature.ok()) {
    std::fprintf(stderr, "cannot sign\n");
    return 1;
  }
  const auto* signature_bytes = reinterpret_cast<const unsigned char*>(signature->value().data());
  const auto* message_bytes = reinterpret_cast<const unsigned char*>(message.data());
  auto openssl = [&]() {
    EvpMdCtxPtr context(EVP_MD_CTX_new());
    return context != nullptr &&
           EVP_DigestVerifyInit(context.get(), nullptr, nullptr, nullptr, key->get()) == 1 &&
           EVP_DigestVerify(context.get(), signature_bytes, signature->value().size(),
                            message_bytes, message.size()) == 1;
  };
  auto verify_signature = [&]() { return VerifySignature(key->get(), *signature, message).ok(); };
  // CPU µs per verification, `verifications` of them.
  auto measure = [&](auto verify) {
    const double start = ThreadCpuSeconds();
    for (int i = 0; i < verifications; ++i) {
      if (!verify()) {
        std::fprintf(stderr, "a signature did not verify\n");
        std::exit(1);
      }
    }
    return (ThreadCpuSeconds() - start) * 1e6 / verifications;
  };
  measure(openssl);
  measure(verify_signature);
  std::vector<double> by_openssl, by_libsodium, ratios;
  for (int round = 0; round < rounds; ++round) {
    by_openssl.push_back(measure(openssl));
    by_libsodium.push_back(measure(verify_signature));
    ratios.push_back(by_libsodium.back() / by_openssl.back());
  }
  std::printf("| Ed25519 verification of 300 bytes (median of %d rounds of %d) | µs |\n", rounds,
              verifications);
  std::printf("|---|---:|\n");
  std::printf("| OpenSSL 3.0 `EVP_DigestVerifyInit` + `EVP_DigestVerify` | %.1f |\n",
              Median(by_openssl));
  std::printf("| `VerifySignature` (libsodium `crypto_sign_ed25519_verify_detached`) | %.1f |\n",
              Median(by_libsodium));
  std::printf("| ratio, libsodium / OpenSSL | %.2f |\n", Median(ratios));
  return 0;
}

}  // namespace
}  // namespace mecai

int main(int argc, char** argv) { return mecai::Main(argc, argv); }
