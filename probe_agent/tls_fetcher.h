// Fetching the certificate chain a TLS server presents at one address (DESIGN §1: the agent
// "performs the TLS handshake with SNI, and returns what it saw"). Behind an interface so the
// prober can be tested with another dialer; only main.cc picks OpenSslTlsFetcher.
#ifndef MECAI_PROBE_AGENT_TLS_FETCHER_H_
#define MECAI_PROBE_AGENT_TLS_FETCHER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/openssl_types.h"
#include "proto/mecai/v1/probe.pb.h"

namespace mecai {
namespace probe_agent {

// Implementations are thread-safe.
class TlsFetcher {
 public:
  virtual ~TlsFetcher() = default;

  // Connects over TCP to `address`, an IP literal, exactly as given (trust rule 6: it is never
  // resolved again, so no DNS-rebinding window opens between the policy check and the connection),
  // performs a TLS handshake sending `sni` as the server name (RFC 6066 §3; empty: none, as for
  // literal-IP targets), and reports what happened. Failures are outcomes in the result, never
  // errors: PROBE_OK with the chain, PROBE_CONNECT_FAILED or PROBE_HANDSHAKE_FAILED with a
  // sentence.
  virtual v1::AddressObservation Fetch(const std::string& address, uint32_t port,
                                       const std::string& sni, absl::Duration connect_timeout,
                                       absl::Duration handshake_timeout) = 0;
};

// The TLS client of the agent, on OpenSSL 3. It does not verify the server's certificate
// (SSL_VERIFY_NONE): it records the chain the server sent, leaf first, and the coordinator and
// signer judge it (DESIGN §3). TLS 1.2 (RFC 5246) is the minimum version, TLS 1.3 (RFC 8446)
// preferred. No session is ever resumed, so every probe sees the server send its certificate.
//
// Thread-safe: the SSL_CTX is configured once in Create and only read afterwards.
class OpenSslTlsFetcher : public TlsFetcher {
 public:
  static absl::StatusOr<std::unique_ptr<OpenSslTlsFetcher>> Create();

  v1::AddressObservation Fetch(const std::string& address, uint32_t port, const std::string& sni,
                               absl::Duration connect_timeout,
                               absl::Duration handshake_timeout) override;

 private:
  explicit OpenSslTlsFetcher(SslCtxPtr context) : context_(std::move(context)) {}

  const SslCtxPtr context_;
};

}  // namespace probe_agent
}  // namespace mecai

#endif  // MECAI_PROBE_AGENT_TLS_FETCHER_H_
