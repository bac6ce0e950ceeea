// CPU to parse one DER certificate: ParseDerCertificate (common/crypto/pem.h), which parses in the
// certificate library context (common/crypto/filtered_library_context.h), against d2i_X509 in
// OpenSSL's default library context, in the same run (docs/PERFORMANCE.md, "Where the
// coordinator's CPU per VR goes"). The certificates are a VR's: an EC P-256 leaf and its P-256
// intermediate (common/pki). Before measuring, the process makes a TLS server context and a
// TLS client context in the default library context, as every service of this project does for
// its gRPC listeners and channels: that fills the default context's method store, which OpenSSL
// 3.0 copies on every key decoding. A third row: CertificateCache::Parse (common/crypto/
// certificate_cache.h) of the same two certificates, answered from the cache as for a server that
// sends its chain again (the SHA-256 of the DER and a lookup).
//
//   bazel run -c opt //bench:certificate_parse_bench -- [parses per round] [rounds]
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "bench/bench_chain.h"
#include "bench/bench_stats.h"
#include "common/crypto/certificate_cache.h"
#include "common/crypto/openssl_types.h"
#include "common/crypto/pem.h"

namespace mecai {
namespace {

int Main(int argc, char** argv) {
  const int parses = argc > 1 ? std::atoi(argv[1]) : 20000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  // As a service's gRPC listener and channels do.
  SslCtxPtr server(SSL_CTX_new(TLS_server_method()));
  SslCtxPtr client(SSL_CTX_new(TLS_client_method()));
  absl::StatusOr<BenchChain> issued = IssueBenchChain();
  if (server == nullptr || client == nullptr || !issued.ok()) {
    std::fprintf(stderr, "cannot make the TLS contexts or issue the certificates\n");
    return 1;
  }
  const std::vector<std::string> chain = {CertificateToDer(issued->leaf.get()),
                                          CertificateToDer(issued->intermediate.get())};
  auto default_context = [&](const std::string& der) {
    const unsigned char* cursor = reinterpret_cast<const unsigned char*>(der.data());
    X509Ptr parsed(d2i_X509(nullptr, &cursor, static_cast<long>(der.size())));  // NOLINT
    return parsed != nullptr && X509_get0_pubkey(parsed.get()) != nullptr;
  };
  auto certificate_context = [&](const std::string& der) {
    absl::StatusOr<X509Ptr> parsed = ParseDerCertificate(der);
    return parsed.ok() && X509_get0_pubkey(parsed->get()) != nullptr;
  };
  CertificateCache cache(16);
  auto cached = [&](const std::string& der) {
    absl::StatusOr<X509Ptr> parsed = cache.Parse(der);
    return parsed.ok() && X509_get0_pubkey(parsed->get()) != nullptr;
  };
  // CPU µs per certificate of the chain, `parses` certificates.
  auto measure = [&](auto parse) {
    const double start = ThreadCpuSeconds();
    for (int i = 0; i < parses; ++i) {
      if (!parse(chain[i % chain.size()])) {
        std::fprintf(stderr, "a certificate did not parse\n");
        std::exit(1);
      }
    }
    return (ThreadCpuSeconds() - start) * 1e6 / parses;
  };
  measure(default_context);
  measure(certificate_context);
  measure(cached);
  std::vector<double> by_default, by_certificate_context, by_cache, ratios, cache_ratios;
  for (int round = 0; round < rounds; ++round) {
    by_default.push_back(measure(default_context));
    by_certificate_context.push_back(measure(certificate_context));
    by_cache.push_back(measure(cached));
    ratios.push_back(by_certificate_context.back() / by_default.back());
    cache_ratios.push_back(by_cache.back() / by_certificate_context.back());
  }
  std::printf("| parse of one certificate (median of %d rounds of %d) | µs |\n", rounds, parses);
  std::printf("|---|---:|\n");
  std::printf("| d2i_X509, default library context | %.2f |\n", Median(by_default));
  std::printf("| ParseDerCertificate, certificate library context | %.2f |\n",
              Median(by_certificate_context));
  std::printf("| ratio, certificate context / default | %.2f |\n", Median(ratios));
  std::printf("| CertificateCache::Parse, answered from the cache | %.2f |\n", Median(by_cache));
  std::printf("| ratio, from the cache / certificate context | %.3f |\n", Median(cache_ratios));
  return 0;
}

}  // namespace
}  // namespace mecai

int main(int argc, char** argv) { return mecai::Main(argc, argv); }
