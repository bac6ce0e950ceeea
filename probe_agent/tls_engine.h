// The agent's TLS client engine (ARCHITECTURE.md §1, trust rule 8): every connection of every probe
// runs as a small state machine on one of a few epoll event loops (probe_agent/event_loop.h) — a
// non-blocking TCP connect, then the TLS handshake of a TlsClient (probe_agent/tls_handshake.h:
// OpenSSL 3 or GnuTLS) driven by its want-read/want-write steps — with a timer per connection for
// its connect and handshake deadlines. No thread per connection: thousands of probes are in flight
// with one thread per core, and each connection's TLS session is freed the moment it completes.
#ifndef MECAI_PROBE_AGENT_TLS_ENGINE_H_
#define MECAI_PROBE_AGENT_TLS_ENGINE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "probe_agent/tls_handshake.h"
#include "proto/mecai/v1/probe.pb.h"

namespace mecai {
namespace probe_agent {

struct TlsEngineOptions {
  TlsClientOptions tls;
  // The library the handshakes run in (ProbeAgentConfig.tls_library): GnuTLS, which costs less
  // client CPU per handshake (docs/PERFORMANCE.md "Probe engine on GnuTLS"), or OpenSSL.
  TlsLibrary library = TlsLibrary::kGnuTls;
  // Event-loop threads; 0: one per core.
  int event_loop_threads = 0;
  // Connections open at once over all probes; beyond it a fetch ends PROBE_OVERLOADED at once.
  int max_in_flight_connections = 4096;
  // Connections open at once to one address and port. A fetch beyond it waits for one of them to
  // end (many hostnames share one CDN address), until its deadline: request.deadline, or its
  // connect and handshake timeouts from when it started waiting, whichever is first.
  int max_in_flight_per_target_address = 32;
  // Fetches waiting at once for one address and port; beyond it a fetch ends PROBE_OVERLOADED at
  // once.
  int max_queued_per_target_address = 1024;
};

// Set once when the work of a probe is no longer wanted (the coordinator cancelled its call, e.g.
// on the first mismatch). Thread-safe.
class Cancellation {
 public:
  void Cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }

 private:
  std::atomic<bool> cancelled_{false};
};

// One address to fetch from.
struct FetchRequest {
  // An IP literal, used exactly as given: never resolved (trust rule 6, no DNS-rebinding window).
  std::string address;
  uint32_t port = 0;
  // Sent as the server_name extension (RFC 6066 §3); empty: none, as for literal-IP targets.
  std::string sni;
  // The key type of the certificate to ask for: the ClientHello offers only the signature
  // algorithms and TLS 1.2 cipher suites that select it (OfferSelecting,
  // common/crypto/certificate_key_type.h; docs/PROTOCOL.md "Key-typed handshakes").
  // CERTIFICATE_KEY_TYPE_UNSPECIFIED: the whole default offer.
  v1::CertificateKeyType key_type = v1::CERTIFICATE_KEY_TYPE_UNSPECIFIED;
  absl::Duration connect_timeout = absl::Seconds(3);
  absl::Duration handshake_timeout = absl::Seconds(5);
  // The whole fetch ends by then (the coordinator's deadline), whatever the timeouts say.
  absl::Time deadline = absl::InfiniteFuture();
  // Null: never cancelled. Once cancelled, the fetch ends with LOCAL_ERROR at the loop's next turn
  // after TlsEngine::AbandonCancelled(), or before it connects.
  std::shared_ptr<const Cancellation> cancellation;
};

// Receives the result of one fetch, exactly once. Runs on an event-loop thread (or on the caller's
// thread when the fetch ends before it starts, e.g. overloaded): it must not block.
using FetchCallback = std::function<void(v1::AddressObservation)>;

// Thread-safe. Destruction stops the loops; fetches still open then complete with LOCAL_ERROR.
class TlsEngine {
 public:
  static absl::StatusOr<std::unique_ptr<TlsEngine>> Create(const TlsEngineOptions& options);
  ~TlsEngine();
  TlsEngine(const TlsEngine&) = delete;
  TlsEngine& operator=(const TlsEngine&) = delete;

  // Starts fetching the certificate chain at `request.address` and calls `done` with what happened:
  // PROBE_OK with the chain, its hashes, version, cipher and timings; PROBE_CONNECT_FAILED,
  // PROBE_HANDSHAKE_FAILED or PROBE_OVERLOADED with an error_class and a sentence. The result's
  // requested_key_type is request.key_type. Never blocks.
  void Start(FetchRequest request, FetchCallback done);

  // Ends every open fetch whose request.cancellation is set, on the loops' next turn: its socket
  // and TLS session are freed and its callback runs with LOCAL_ERROR. Never blocks.
  void AbandonCancelled();

  // Start, then waits for the result. Not for event-loop threads.
  v1::AddressObservation Fetch(FetchRequest request);

  // Connections open now (admitted and not yet completed).
  int in_flight() const { return in_flight_.load(); }
  int event_loop_threads() const { return static_cast<int>(loops_.size()); }

  class HandshakeLoop;
  struct Connection;

 private:
  TlsEngine(const TlsEngineOptions& options, std::unique_ptr<TlsClient> client);

  enum class Admission { kAdmitted, kQueued, kRefused };
  // Admits `connection` under both limits, or queues it (taking it) when only its target's limit
  // is reached and the target's queue has room.
  Admission AdmitOrQueue(std::unique_ptr<Connection>& connection);
  // Called once per admitted connection, when it completes: its slot goes to the first connection
  // waiting for that target that may still run, which is handed to a loop.
  void Release(const std::string& target);
  // Hands an admitted connection to a loop.
  void Dispatch(std::unique_ptr<Connection> connection);
  // The expiry thread: ends waiting connections whose wait deadline passed or that were cancelled.
  void ExpireWaiting();
  // Removes and returns the waiting connections whose wait ended by `now` or that were cancelled;
  // every waiting connection with `all`.
  std::vector<std::unique_ptr<Connection>> TakeWaiting(absl::Time now, bool all)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(targets_mutex_);

  const TlsEngineOptions options_;
  // Makes every connection's handshake: the default offer and one per key type.
  const std::unique_ptr<TlsClient> client_;
  std::vector<std::unique_ptr<HandshakeLoop>> loops_;
  std::atomic<uint64_t> next_loop_{0};
  std::atomic<int> in_flight_{0};
  absl::Mutex targets_mutex_;
  std::map<std::string, int> in_flight_by_target_ ABSL_GUARDED_BY(targets_mutex_);
  // Connections waiting for a slot of their target, oldest first.
  std::map<std::string, std::deque<std::unique_ptr<Connection>>> waiting_
      ABSL_GUARDED_BY(targets_mutex_);
  // Set to wake the expiry thread (a connection queued, a cancellation, shutdown).
  bool waiting_changed_ ABSL_GUARDED_BY(targets_mutex_) = false;
  bool stopping_ ABSL_GUARDED_BY(targets_mutex_) = false;
  std::thread expiry_thread_;
};

}  // namespace probe_agent
}  // namespace mecai

#endif  // MECAI_PROBE_AGENT_TLS_ENGINE_H_
