// One TLS client library as a candidate for the probe engine (docs/PERFORMANCE.md, "TLS client
// libraries for the probe engine"): full handshakes to a local server, each returning what the
// probe records of it: the server's certificates as sent (RFC 8446 §4.4.2, RFC 5246 §7.4.2), the
// negotiated version and cipher suite. Every candidate offers TLS 1.2–1.3 where it can, no session
// resumption (RFC 8446 §2.2), no certificate verification, server_name (RFC 6066 §3), and the offer
// of the probe's key-typed handshake for an ECDSA P-256 certificate: signature_algorithms
// ecdsa_secp256r1_sha256 only (RFC 8446 §4.2.3) and, for TLS 1.2, ECDHE_ECDSA cipher suites only
// (RFC 8422 §2.1) — as far as the library lets it (see ClientHelloOffer in the benchmark).
#ifndef MECAI_BENCH_TLS_CANDIDATE_H_
#define MECAI_BENCH_TLS_CANDIDATE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mecai {
namespace bench {

// What one handshake obtained.
struct CandidateHandshake {
  std::vector<std::string> chain_der;  // Each certificate's DER, the server's order.
  std::string version;                 // "TLSv1.2" or "TLSv1.3".
  std::string cipher;                  // The library's name of the negotiated cipher suite.
};

// A client context of one library, made once and reused for every handshake. Not thread-safe.
class TlsCandidate {
 public:
  virtual ~TlsCandidate() = default;
  // The library and its version, e.g. "GnuTLS 3.7.9".
  virtual std::string Name() const = 0;
  // False when the library as Debian builds it has no TLS 1.3.
  virtual bool SupportsTls13() const { return true; }
  // One full handshake with 127.0.0.1:`port` sending `sni`: TCP connect, handshake, the chain
  // copied out, close_notify, close.
  virtual absl::StatusOr<CandidateHandshake> Handshake(int port, const std::string& sni) = 0;
};

// The candidates, each in its own file (their headers do not mix).
absl::StatusOr<std::unique_ptr<TlsCandidate>> MakeOpenSslCandidate();
// The same client in the probe's library context (probe_agent/probe_library_context.h): the
// library part of the probe engine's CPU, without the engine's event loops and record.
absl::StatusOr<std::unique_ptr<TlsCandidate>> MakeOpenSslProbeContextCandidate();
absl::StatusOr<std::unique_ptr<TlsCandidate>> MakeGnuTlsCandidate();
absl::StatusOr<std::unique_ptr<TlsCandidate>> MakeWolfSslCandidate();
absl::StatusOr<std::unique_ptr<TlsCandidate>> MakeMbedTlsCandidate();

// A blocking TCP connection to 127.0.0.1:`port` with TCP_NODELAY and 5 s send and receive
// timeouts; the caller closes the descriptor.
absl::StatusOr<int> ConnectLoopback(int port);

}  // namespace bench
}  // namespace mecai

#endif  // MECAI_BENCH_TLS_CANDIDATE_H_
