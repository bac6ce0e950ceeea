// Fetching the certificate chain a TLS server presents at one address (ARCHITECTURE.md §1: the
// agent "performs the TLS handshake with SNI, and returns what it saw"). Behind an interface so the
// prober can be tested with another dialer; only main.cc picks EngineTlsFetcher.
#ifndef MECAI_PROBE_AGENT_TLS_FETCHER_H_
#define MECAI_PROBE_AGENT_TLS_FETCHER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "probe_agent/tls_engine.h"
#include "proto/mecai/v1/probe.pb.h"

namespace mecai {
namespace probe_agent {

// Implementations are thread-safe.
class TlsFetcher {
 public:
  virtual ~TlsFetcher() = default;

  // Connects over TCP to `request.address`, an IP literal, exactly as given (trust rule 6: it is
  // never resolved again, so no DNS-rebinding window opens between the policy check and the
  // connection), performs a TLS handshake sending `request.sni` as the server name (RFC 6066 §3;
  // empty: none, as for literal-IP targets) and offering what selects a certificate of
  // `request.key_type` (docs/PROTOCOL.md "Key-typed handshakes"), and reports what happened.
  // Failures are outcomes in the result, never errors: PROBE_OK with the chain,
  // PROBE_CONNECT_FAILED or PROBE_HANDSHAKE_FAILED with a sentence. request.deadline and
  // request.cancellation may be ignored.
  virtual v1::AddressObservation Fetch(const FetchRequest& request) = 0;

  // The same without blocking the caller: `done` receives the result exactly once, on another
  // thread or on the caller's, and must not block. This default runs Fetch on a thread of its own
  // per call and ignores request.deadline; EngineTlsFetcher runs it on its event loops instead.
  virtual void FetchAsync(FetchRequest request, FetchCallback done);

  // Ends the fetches whose request.cancellation is set without waiting for their timeouts; their
  // callbacks still run once each. Never blocks. This default does nothing: its fetches end at
  // their timeouts.
  virtual void AbandonCancelled() {}
};

// The TLS client of the agent over a TlsEngine (epoll event loops; see tls_engine.h), in the
// library of TlsEngineOptions::library: GnuTLS (the default) or OpenSSL 3. It does not verify
// the server's certificate: it records the chain the server sent, leaf first, and the coordinator
// and signer judge it (ARCHITECTURE.md §3).
// TLS 1.2 (RFC 5246) and TLS 1.3 (RFC 8446) by default, or the versions and groups of `options`. No
// session is ever resumed, so every probe sees the server send its certificate. A fetch that asks
// for a key type offers only what selects it.
//
// Thread-safe.
class EngineTlsFetcher : public TlsFetcher {
 public:
  static absl::StatusOr<std::unique_ptr<EngineTlsFetcher>> Create(
      const TlsEngineOptions& options = TlsEngineOptions());

  v1::AddressObservation Fetch(const FetchRequest& request) override;
  void FetchAsync(FetchRequest request, FetchCallback done) override;
  void AbandonCancelled() override { engine_->AbandonCancelled(); }

  TlsEngine& engine() { return *engine_; }

 private:
  explicit EngineTlsFetcher(std::unique_ptr<TlsEngine> engine) : engine_(std::move(engine)) {}

  const std::unique_ptr<TlsEngine> engine_;
};

}  // namespace probe_agent
}  // namespace mecai

#endif  // MECAI_PROBE_AGENT_TLS_FETCHER_H_
