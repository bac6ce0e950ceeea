// CPU to verify, and to make, one Ed25519 signature of a 300-byte message, about an Observation's
// size (docs/PERFORMANCE.md, "What it means for the ≤ 1 ms goal"): OpenSSL 3.0's
// EVP_DigestVerifyInit + EVP_DigestVerify, the path VerifySignature took before, against
// VerifySignature (common/crypto/signature.h), which now verifies Ed25519 with libsodium
// (common/crypto/ed25519_verify.h), in the same run, alternating round by round.
//
//   bazel build -c opt //bench:ed25519_verify_bench
//   bazel-bin/bench/ed25519_verify_bench [verifications per round] [rounds]
#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
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
  // CPU µs per call of `operation` (a verification or a signature), `verifications` of them; each
  // call must return true.
  auto measure = [&](auto operation) {
    const double start = ThreadCpuSeconds();
    for (int i = 0; i < verifications; ++i) {
      if (!operation()) {
        std::fprintf(stderr, "a signature did not verify, or was not OpenSSL's\n");
        std::exit(1);
      }
    }
    return (ThreadCpuSeconds() - start) * 1e6 / verifications;
  };
  // One table: OpenSSL's way against libsodium's, alternating round by round after a warm-up.
  auto compare = [&](const char* what, const char* openssl_row, auto by_openssl,
                     const char* libsodium_row, auto by_libsodium) {
    measure(by_openssl);
    measure(by_libsodium);
    std::vector<double> openssl_us, libsodium_us, ratios;
    for (int round = 0; round < rounds; ++round) {
      openssl_us.push_back(measure(by_openssl));
      libsodium_us.push_back(measure(by_libsodium));
      ratios.push_back(libsodium_us.back() / openssl_us.back());
    }
    std::printf("| Ed25519 %s of 300 bytes (median of %d rounds of %d) | µs |\n|---|---:|\n", what,
                rounds, verifications);
    std::printf("| %s | %.1f |\n| %s | %.1f |\n", openssl_row, Median(openssl_us), libsodium_row,
                Median(libsodium_us));
    std::printf("| ratio, libsodium / OpenSSL | %.2f |\n\n", Median(ratios));
  };
  compare("verification", "OpenSSL 3.0 `EVP_DigestVerifyInit` + `EVP_DigestVerify`", openssl,
          "`VerifySignature` (libsodium `crypto_sign_ed25519_verify_detached`)", verify_signature);

  // Signing, as an agent signs each Observation: SignBytes (OpenSSL's EVP_DigestSignInit +
  // EVP_DigestSign) against InMemorySigningKey, which signs Ed25519 with libsodium
  // (common/crypto/ed25519_sign.h); each signature checked to be the one OpenSSL made above.
  EvpPkeyPtr copy(EVP_PKEY_dup(key->get()));
  absl::StatusOr<std::unique_ptr<InMemorySigningKey>> in_memory =
      InMemorySigningKey::Create(std::move(copy));
  if (!in_memory.ok()) {
    std::fprintf(stderr, "cannot make the in-memory key\n");
    return 1;
  }
  auto sign_openssl = [&]() {
    absl::StatusOr<v1::Signature> made = SignBytes(key->get(), v1::ED25519, message);
    return made.ok() && made->value() == signature->value();
  };
  auto sign_libsodium = [&]() {
    absl::StatusOr<v1::Signature> made = (*in_memory)->Sign(message);
    return made.ok() && made->value() == signature->value();
  };
  compare("signature", "`SignBytes`, OpenSSL 3.0 `EVP_DigestSignInit` + `EVP_DigestSign`",
          sign_openssl, "`InMemorySigningKey::Sign` (libsodium `crypto_sign_ed25519_detached`)",
          sign_libsodium);
  return 0;
}

}  // namespace
}  // namespace mecai

int main(int argc, char** argv) { return mecai::Main(argc, argv); }
