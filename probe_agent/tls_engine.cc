#include "probe_agent/tls_engine.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>  // NOLINT(build/c++11): steady time for durations and timers.
#include <cstring>
#include <thread>  // NOLINT(build/c++11): hardware_concurrency.
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/crypto/certificate_key_type.h"
#include "common/crypto/hashing.h"
#include "common/crypto/openssl_error.h"
#include "common/crypto/pem.h"
#include "common/net/ip_address.h"
#include "probe_agent/event_loop.h"
#include "probe_agent/probe_library_context.h"

namespace mecai {
namespace probe_agent {
namespace {

// Trust rule 8: the largest certificate list accepted from a server. A handshake that sends more
// fails with "excessive message size".
constexpr long kMaxCertificateListBytes = 100 * 1024;  // NOLINT(runtime/int): OpenSSL's type.

constexpr char kTls13CipherSuites[] =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

using SteadyClock = EventLoop::Clock;

uint32_t MillisecondsBetween(SteadyClock::time_point start, SteadyClock::time_point end) {
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(end - start);
  return static_cast<uint32_t>(std::max<int64_t>(0, elapsed.count()));
}

// The steady-clock instant of a wall-clock deadline (the coordinator's deadline is wall time).
SteadyClock::time_point SteadyDeadline(absl::Time deadline, SteadyClock::time_point now) {
  if (deadline == absl::InfiniteFuture()) return SteadyClock::time_point::max();
  const absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return now;
  return now + absl::ToChronoMilliseconds(left);
}

SteadyClock::time_point After(SteadyClock::time_point now, absl::Duration timeout) {
  return now + absl::ToChronoMilliseconds(timeout);
}

void SetFailure(v1::AddressObservation* observation, v1::ProbeOutcome outcome,
                v1::ErrorClass error_class, std::string error) {
  observation->set_outcome(outcome);
  observation->set_error_class(error_class);
  observation->set_error(std::move(error));
}

// Fills `storage` with `address`:`port`; false when `address` is not an IP literal.
bool ToSocketAddress(const std::string& address, uint32_t port, sockaddr_storage* storage,
                     socklen_t* length) {
  absl::StatusOr<IpAddress> ip = ParseIpAddress(address);
  if (!ip.ok()) return false;
  std::memset(storage, 0, sizeof(*storage));
  if (ip->family == IpAddress::Family::kIpv4) {
    auto* ipv4 = reinterpret_cast<sockaddr_in*>(storage);
    ipv4->sin_family = AF_INET;
    ipv4->sin_port = htons(static_cast<uint16_t>(port));
    std::memcpy(&ipv4->sin_addr, ip->bytes.data(), 4);
    *length = sizeof(sockaddr_in);
  } else {
    auto* ipv6 = reinterpret_cast<sockaddr_in6*>(storage);
    ipv6->sin6_family = AF_INET6;
    ipv6->sin6_port = htons(static_cast<uint16_t>(port));
    std::memcpy(&ipv6->sin6_addr, ip->bytes.data(), 16);
    *length = sizeof(sockaddr_in6);
  }
  return true;
}

// SSL_CTX_set_cert_verify_callback's callback: no path validation (RFC 5280 §6) of the server's
// chain; the handshake's own signature checks still run.
int AcceptWithoutValidation(X509_STORE_CTX* /*store_context*/, void* /*argument*/) { return 1; }

std::string TargetKey(const FetchRequest& request) {
  return absl::StrCat(request.address, "|", request.port);
}

}  // namespace

// One connection: TCP connect, then the TLS handshake. Owned by its HandshakeLoop. Not
// thread-safe: only its loop's thread touches it after it is handed over.
struct TlsEngine::Connection {
  enum class State { kQueued, kConnecting, kHandshaking };

  uint64_t id = 0;
  FetchRequest request;
  FetchCallback done;
  std::string target;  // "address port N", for messages.
  std::string target_key;
  State state = State::kQueued;
  int fd = -1;
  SslPtr ssl;
  v1::AddressObservation observation;
  SteadyClock::time_point overall_deadline;
  SteadyClock::time_point phase_deadline;  // Of the current state.
  SteadyClock::time_point connect_start;
  SteadyClock::time_point handshake_start;
  uint32_t registered_events = 0;
  // The timer of the current phase's deadline.
  EventLoop::TimerId timer = EventLoop::kNoTimer;
  // While waiting for a slot of its target (TlsEngine::AdmitOrQueue): when the wait ends.
  absl::Time wait_deadline = absl::InfiniteFuture();
};

namespace {

bool Cancelled(const TlsEngine::Connection& connection) {
  return connection.request.cancellation != nullptr && connection.request.cancellation->cancelled();
}

// Ends a connection that never left the wait for a slot of its target: the agent stopping, the
// coordinator's cancellation, or its wait deadline.
void EndWaiting(std::unique_ptr<TlsEngine::Connection> connection, int per_address_limit,
                bool stopping) {
  const std::string& target = connection->target;
  if (stopping || Cancelled(*connection)) {
    SetFailure(&connection->observation, v1::PROBE_CONNECT_FAILED, v1::LOCAL_ERROR,
               absl::StrCat("probe of ", target, " abandoned: ",
                            stopping ? "the agent is stopping" : "the coordinator cancelled it"));
  } else {
    SetFailure(&connection->observation, v1::PROBE_OVERLOADED, v1::OVERLOADED,
               absl::StrCat("not probed: no connection to ", target,
                            " became free before the probe's deadline (limit ", per_address_limit,
                            " per address)"));
  }
  connection->done(std::move(connection->observation));
}

}  // namespace

// The connections of one event loop (probe_agent/event_loop.h) and their state machine: each
// socket is watched on the loop, and each phase's deadline is one of its timers. Connections
// arrive as tasks posted to the loop.
// Thread-safe: Enqueue and RequestSweep may be called from any thread; everything else runs on the
// loop's thread.
class TlsEngine::HandshakeLoop {
 public:
  explicit HandshakeLoop(TlsEngine& engine) : engine_(engine) {}
  // Connections still queued or open complete with LOCAL_ERROR, on the loop's thread.
  ~HandshakeLoop() {
    stopping_.store(true);
    loop_.Stop();
  }

  absl::Status Init() {
    return loop_.Start([this] { AbandonOpen(); });
  }

  // Asks the loop to end its cancelled connections (TlsEngine::AbandonCancelled). Requests made
  // before the loop gets to one are served by it.
  void RequestSweep() {
    if (sweep_requested_.exchange(true)) return;
    loop_.Post([this] {
      sweep_requested_.store(false);
      EndCancelled();
    });
  }

  void Enqueue(std::unique_ptr<Connection> connection) {
    loop_.Post(
        [this, connection = std::move(connection)]() mutable { Begin(std::move(connection)); });
  }

 private:
  static bool IsCancelled(const Connection& c) {
    return c.request.cancellation != nullptr && c.request.cancellation->cancelled();
  }

  static void SetCancelled(Connection* c) {
    SetFailure(&c->observation,
               c->state == Connection::State::kHandshaking ? v1::PROBE_HANDSHAKE_FAILED
                                                           : v1::PROBE_CONNECT_FAILED,
               v1::LOCAL_ERROR,
               absl::StrCat("probe of ", c->target, " abandoned: the coordinator cancelled it"));
  }

  static void SetShuttingDown(Connection* c) {
    SetFailure(&c->observation, v1::PROBE_CONNECT_FAILED, v1::LOCAL_ERROR,
               absl::StrCat("probe of ", c->target, " abandoned: the agent is shutting down"));
  }

  // Ends every connection whose probe was cancelled.
  void EndCancelled() {
    std::vector<Connection*> cancelled;
    for (auto& entry : connections_) {
      if (IsCancelled(*entry.second)) cancelled.push_back(entry.second.get());
    }
    for (Connection* c : cancelled) {
      SetCancelled(c);
      Complete(c);
    }
  }

  // The loop ended: everything still open completes as a local error.
  void AbandonOpen() {
    std::vector<std::unique_ptr<Connection>> left;
    for (auto& entry : connections_) left.push_back(std::move(entry.second));
    connections_.clear();
    for (std::unique_ptr<Connection>& connection : left) {
      SetShuttingDown(connection.get());
      Finish(std::move(connection));
    }
  }

  void Begin(std::unique_ptr<Connection> connection) {
    Connection* c = connection.get();
    const SteadyClock::time_point now = SteadyClock::now();
    c->connect_start = now;
    if (stopping_.load()) {
      SetShuttingDown(c);
      Finish(std::move(connection));
      return;
    }
    if (IsCancelled(*c)) {
      SetCancelled(c);
      Finish(std::move(connection));
      return;
    }
    c->overall_deadline = SteadyDeadline(c->request.deadline, now);
    if (c->overall_deadline <= now) {
      SetFailure(
          &c->observation, v1::PROBE_CONNECT_FAILED, v1::DEADLINE_EXCEEDED,
          absl::StrCat("not connected to ", c->target, ": the coordinator's deadline had passed"));
      Finish(std::move(connection));
      return;
    }
    sockaddr_storage storage;
    socklen_t length = 0;
    ToSocketAddress(c->request.address, c->request.port, &storage, &length);
    c->fd = socket(storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
      SetFailure(
          &c->observation, v1::PROBE_CONNECT_FAILED, v1::LOCAL_ERROR,
          absl::StrCat("cannot create a socket for ", c->target, ": ", std::strerror(errno)));
      Finish(std::move(connection));
      return;
    }
    const int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->id = next_id_++;
    connections_.emplace(c->id, std::move(connection));
    c->state = Connection::State::kConnecting;
    c->phase_deadline = std::min(c->overall_deadline, After(now, c->request.connect_timeout));
    SetPhaseTimer(c);
    if (connect(c->fd, reinterpret_cast<sockaddr*>(&storage), length) == 0) {
      StartHandshake(c);
      return;
    }
    if (errno != EINPROGRESS) {
      ConnectFailed(c, errno);
      return;
    }
    Watch(c, EPOLLOUT);
  }

  void OnReady(uint64_t id, uint32_t events) {
    auto found = connections_.find(id);
    if (found == connections_.end()) return;
    Connection* c = found->second.get();
    if (c->state == Connection::State::kConnecting) {
      int error = 0;
      socklen_t length = sizeof(error);
      if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
      if (error != 0) {
        ConnectFailed(c, error);
        return;
      }
      if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
      StartHandshake(c);
      return;
    }
    DriveHandshake(c);
  }

  void ConnectFailed(Connection* c, int error) {
    c->observation.set_connect_milliseconds(
        MillisecondsBetween(c->connect_start, SteadyClock::now()));
    const v1::ErrorClass error_class =
        error == ECONNREFUSED ? v1::CONNECT_REFUSED
                              : (error == ETIMEDOUT ? v1::CONNECT_TIMEOUT : v1::CONNECT_ERROR);
    SetFailure(&c->observation, v1::PROBE_CONNECT_FAILED, error_class,
               absl::StrCat("TCP connect to ", c->target, " failed: ", std::strerror(error)));
    Complete(c);
  }

  void StartHandshake(Connection* c) {
    const SteadyClock::time_point now = SteadyClock::now();
    c->observation.set_connect_milliseconds(MillisecondsBetween(c->connect_start, now));
    c->handshake_start = now;
    c->state = Connection::State::kHandshaking;
    c->phase_deadline = std::min(c->overall_deadline, After(now, c->request.handshake_timeout));
    SetPhaseTimer(c);
    SSL_CTX* context = engine_.ContextFor(c->request.key_type);
    if (context == nullptr) {
      SetFailure(&c->observation, v1::PROBE_HANDSHAKE_FAILED, v1::LOCAL_ERROR,
                 absl::StrCat("cannot set up TLS for ", c->target, ": no ClientHello for ",
                              KeyTypeName(c->request.key_type)));
      Complete(c);
      return;
    }
    ClearOpenSslErrors();
    c->ssl.reset(SSL_new(context));
    if (c->ssl == nullptr || SSL_set_fd(c->ssl.get(), c->fd) != 1 ||
        (!c->request.sni.empty() &&
         SSL_set_tlsext_host_name(c->ssl.get(), c->request.sni.c_str()) != 1)) {
      SetFailure(
          &c->observation, v1::PROBE_HANDSHAKE_FAILED, v1::LOCAL_ERROR,
          std::string(OpenSslError(absl::StrCat("cannot set up TLS for ", c->target)).message()));
      Complete(c);
      return;
    }
    SSL_set_connect_state(c->ssl.get());
    DriveHandshake(c);
  }

  void DriveHandshake(Connection* c) {
    ClearOpenSslErrors();
    errno = 0;
    const int result = SSL_do_handshake(c->ssl.get());
    if (result == 1) {
      Record(c);
      Complete(c);
      return;
    }
    const int saved_errno = errno;
    const int error = SSL_get_error(c->ssl.get(), result);
    if (error == SSL_ERROR_WANT_READ) {
      Watch(c, EPOLLIN);
      return;
    }
    if (error == SSL_ERROR_WANT_WRITE) {
      Watch(c, EPOLLOUT);
      return;
    }
    c->observation.set_handshake_milliseconds(
        MillisecondsBetween(c->handshake_start, SteadyClock::now()));
    HandshakeFailed(c, error, saved_errno);
    Complete(c);
  }

  // Classifies a failed SSL_do_handshake: an alert from the server (RFC 8446 §6.2; OpenSSL reports
  // a received alert as reason SSL_AD_REASON_OFFSET + alert), a closed connection, or any other
  // protocol failure. Drains the thread's OpenSSL error queue into the sentence.
  void HandshakeFailed(Connection* c, int error, int saved_errno) {
    const std::string failed = absl::StrCat("TLS handshake with ", c->target, " failed");
    const unsigned long first = ERR_peek_error();  // NOLINT(runtime/int): OpenSSL's type.
    if (error == SSL_ERROR_SSL || first != 0) {
      const int reason = ERR_GET_REASON(first);
      v1::ErrorClass error_class = v1::PROTOCOL_ERROR;
      if (ERR_GET_LIB(first) == ERR_LIB_SSL && reason >= SSL_AD_REASON_OFFSET &&
          reason < SSL_AD_REASON_OFFSET + 256) {
        error_class = v1::TLS_ALERT;
        c->observation.set_tls_alert(static_cast<uint32_t>(reason - SSL_AD_REASON_OFFSET));
      } else if (ERR_GET_LIB(first) == ERR_LIB_SSL &&
                 reason == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        error_class = v1::CONNECTION_CLOSED;
      }
      SetFailure(&c->observation, v1::PROBE_HANDSHAKE_FAILED, error_class,
                 std::string(OpenSslError(failed).message()));
      return;
    }
    std::string why = absl::StrCat(": SSL_get_error ", error);
    if (error == SSL_ERROR_ZERO_RETURN) {
      why = ": the server closed the TLS connection";
    } else if (error == SSL_ERROR_SYSCALL) {
      why = saved_errno != 0 ? absl::StrCat(": ", std::strerror(saved_errno))
                             : ": the server closed the connection";
    }
    SetFailure(&c->observation, v1::PROBE_HANDSHAKE_FAILED, v1::CONNECTION_CLOSED,
               absl::StrCat(failed, why));
  }

  // Records what the completed handshake showed. SSL_get_peer_cert_chain borrows: the stack and
  // its certificates belong to the SSL object; on the client side it starts with the leaf.
  void Record(Connection* c) {
    SSL* ssl = c->ssl.get();
    v1::AddressObservation& observation = c->observation;
    observation.set_handshake_milliseconds(
        MillisecondsBetween(c->handshake_start, SteadyClock::now()));
    STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
    const int chain_length = chain != nullptr ? sk_X509_num(chain) : 0;
    if (chain_length == 0) {
      SetFailure(&observation, v1::PROBE_HANDSHAKE_FAILED, v1::NO_CERTIFICATE,
                 absl::StrCat("TLS handshake with ", c->target,
                              " completed without a server certificate"));
      return;
    }
    std::string concatenated;
    for (int i = 0; i < chain_length; ++i) {
      std::string der = CertificateToDer(sk_X509_value(chain, i));
      observation.add_certificate_sha256(Sha256(der));
      concatenated += der;
      observation.add_certificate_chain_der(std::move(der));
    }
    observation.set_leaf_sha256(observation.certificate_sha256(0));
    observation.set_chain_sha256(Sha256(concatenated));
    observation.set_tls_version(SSL_get_version(ssl));
    const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
    if (cipher != nullptr) {
      const char* name = SSL_CIPHER_standard_name(cipher);
      observation.set_cipher(name != nullptr ? name : SSL_CIPHER_get_name(cipher));
    }
    const int group = SSL_get_negotiated_group(ssl);
    if (group != 0 && group != NID_undef) {
      const char* name = OBJ_nid2sn(group & ~TLSEXT_nid_unknown);
      if (name != nullptr && (group & TLSEXT_nid_unknown) == 0) {
        observation.set_key_exchange_group(name);
      }
    }
    observation.set_outcome(v1::PROBE_OK);
    observation.set_error_class(v1::ERROR_CLASS_NONE);
    // A polite close_notify (RFC 8446 §6.1), sent once without waiting for the server's.
    SSL_shutdown(ssl);
    ClearOpenSslErrors();
  }

  void Watch(Connection* c, uint32_t events) {
    if (c->registered_events == events) return;
    const absl::Status watched =
        c->registered_events == 0
            ? loop_.Watch(c->fd, events, [this, id = c->id](uint32_t ready) { OnReady(id, ready); })
            : loop_.ChangeEvents(c->fd, events);
    if (!watched.ok()) {
      SetFailure(
          &c->observation, v1::PROBE_CONNECT_FAILED, v1::LOCAL_ERROR,
          absl::StrCat("cannot watch the connection to ", c->target, ": ", watched.message()));
      Complete(c);
      return;
    }
    c->registered_events = events;
  }

  // Replaces the timer of the previous phase with one for c->phase_deadline.
  void SetPhaseTimer(Connection* c) {
    loop_.CancelTimer(c->timer);
    c->timer = loop_.AddTimer(c->phase_deadline, [this, id = c->id] {
      auto found = connections_.find(id);
      if (found == connections_.end()) return;
      found->second->timer = EventLoop::kNoTimer;
      TimedOut(found->second.get(), SteadyClock::now());
    });
  }

  void TimedOut(Connection* c, SteadyClock::time_point now) {
    const bool overall = c->phase_deadline == c->overall_deadline;
    if (c->state == Connection::State::kConnecting) {
      c->observation.set_connect_milliseconds(MillisecondsBetween(c->connect_start, now));
      if (overall) {
        SetFailure(&c->observation, v1::PROBE_CONNECT_FAILED, v1::DEADLINE_EXCEEDED,
                   absl::StrCat("TCP connect to ", c->target,
                                " did not complete before the coordinator's deadline"));
      } else {
        SetFailure(&c->observation, v1::PROBE_CONNECT_FAILED, v1::CONNECT_TIMEOUT,
                   absl::StrCat("TCP connect to ", c->target, " timed out after ",
                                absl::ToInt64Milliseconds(c->request.connect_timeout), " ms"));
      }
    } else {
      c->observation.set_handshake_milliseconds(MillisecondsBetween(c->handshake_start, now));
      if (overall) {
        SetFailure(&c->observation, v1::PROBE_HANDSHAKE_FAILED, v1::DEADLINE_EXCEEDED,
                   absl::StrCat("TLS handshake with ", c->target,
                                " did not complete before the coordinator's deadline"));
      } else {
        SetFailure(&c->observation, v1::PROBE_HANDSHAKE_FAILED, v1::HANDSHAKE_TIMEOUT,
                   absl::StrCat("TLS handshake with ", c->target, " timed out after ",
                                absl::ToInt64Milliseconds(c->request.handshake_timeout), " ms"));
      }
    }
    Complete(c);
  }

  // Removes `c` from the loop, frees its SSL object and socket, and reports it.
  void Complete(Connection* c) {
    auto found = connections_.find(c->id);
    if (found == connections_.end()) return;
    std::unique_ptr<Connection> owned = std::move(found->second);
    connections_.erase(found);
    Finish(std::move(owned));
  }

  void Finish(std::unique_ptr<Connection> connection) {
    loop_.CancelTimer(connection->timer);
    connection->ssl.reset();
    if (connection->fd >= 0) {
      if (connection->registered_events != 0) loop_.Unwatch(connection->fd);
      close(connection->fd);
      connection->fd = -1;
    }
    engine_.Release(connection->target_key);
    FetchCallback done = std::move(connection->done);
    v1::AddressObservation observation = std::move(connection->observation);
    connection.reset();
    done(std::move(observation));
  }

  TlsEngine& engine_;
  // Set before the loop stops: connections that arrive after it complete at once.
  std::atomic<bool> stopping_{false};
  std::atomic<bool> sweep_requested_{false};
  // Loop-thread only.
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> connections_;
  // Declared last: destroyed (its thread joined) before the connection table.
  EventLoop loop_;
};

absl::StatusOr<int> ParseTlsVersion(const std::string& text) {
  if (text == "TLSv1.2") return TLS1_2_VERSION;
  if (text == "TLSv1.3") return TLS1_3_VERSION;
  return absl::InvalidArgumentError(
      absl::StrCat("TLS version '", text, "' is neither \"TLSv1.2\" nor \"TLSv1.3\""));
}

absl::StatusOr<SslCtxPtr> CreateProbeSslContext(const TlsClientOptions& options,
                                                v1::CertificateKeyType key_type) {
  // Its certificates' public keys decode without OpenSSL 3.0's enumeration of every decoder
  // (probe_agent/probe_library_context.h).
  absl::StatusOr<OSSL_LIB_CTX*> library = ProbeLibraryContext();
  if (!library.ok()) return library.status();
  return CreateProbeSslContextIn(*library, options, key_type);
}

absl::StatusOr<SslCtxPtr> CreateProbeSslContextIn(OSSL_LIB_CTX* library,
                                                  const TlsClientOptions& options,
                                                  v1::CertificateKeyType key_type) {
  ClearOpenSslErrors();
  SslCtxPtr context(SSL_CTX_new_ex(library, nullptr, TLS_client_method()));
  if (context == nullptr) return OpenSslError("SSL_CTX_new_ex");
  if (options.min_version < TLS1_2_VERSION || options.max_version > TLS1_3_VERSION ||
      options.min_version > options.max_version) {
    return absl::InvalidArgumentError("TLS versions must satisfy TLSv1.2 <= min <= max <= TLSv1.3");
  }
  if (SSL_CTX_set_min_proto_version(context.get(), options.min_version) != 1 ||
      SSL_CTX_set_max_proto_version(context.get(), options.max_version) != 1) {
    return OpenSslError("cannot set the TLS versions");
  }
  if (!options.groups.empty() &&
      SSL_CTX_set1_groups_list(context.get(), options.groups.c_str()) != 1) {
    ClearOpenSslErrors();
    return absl::InvalidArgumentError(
        absl::StrCat("TLS groups '", options.groups, "' are not a list OpenSSL accepts"));
  }
  // The TLS 1.3 cipher suites OpenSSL offers, AES-128-GCM first (RFC 8446 §9.1 makes it the one a
  // server must implement): a SHA-256 key schedule rather than SHA-384 where the server follows
  // the client's order.
  if (SSL_CTX_set_ciphersuites(context.get(), kTls13CipherSuites) != 1) {
    return OpenSslError("cannot set the TLS 1.3 cipher suites");
  }
  // docs/PROTOCOL.md "Key-typed handshakes": only what selects a certificate of this key type.
  if (key_type != v1::CERTIFICATE_KEY_TYPE_UNSPECIFIED) {
    absl::Status restricted = RestrictOfferToKeyType(context.get(), key_type);
    if (!restricted.ok()) return restricted;
  }
  // No verification: the agent reports the chain it was sent, whatever it is. With SSL_VERIFY_NONE
  // libssl still ran X509_verify_cert on the chain and ignored its result; this callback replaces
  // that path validation, whose result nothing reads.
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_cert_verify_callback(context.get(), AcceptWithoutValidation, nullptr);
  // Security level 0 lets the handshake complete with servers whose certificates have weak keys
  // or SHA-1 signatures, which Debian's default level 2 refuses: such a certificate is still what
  // the server serves, and judging it is the coordinator's job. The connection carries no data.
  SSL_CTX_set_security_level(context.get(), 0);
  // Never resume (RFC 8446 §2.2): a resumed handshake carries no certificate.
  SSL_CTX_set_session_cache_mode(context.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(context.get(), SSL_OP_NO_TICKET);
  SSL_CTX_set_max_cert_list(context.get(), kMaxCertificateListBytes);
  // Bounded memory: buffers of idle connections (waiting for the server) are released.
  SSL_CTX_set_mode(context.get(), SSL_MODE_RELEASE_BUFFERS);
  return context;
}

TlsEngine::TlsEngine(const TlsEngineOptions& options, SslCtxPtr context)
    : options_(options), context_(std::move(context)) {}

SSL_CTX* TlsEngine::ContextFor(v1::CertificateKeyType key_type) const {
  if (key_type == v1::CERTIFICATE_KEY_TYPE_UNSPECIFIED) return context_.get();
  auto found = key_type_contexts_.find(key_type);
  return found != key_type_contexts_.end() ? found->second.get() : nullptr;
}

absl::StatusOr<std::unique_ptr<TlsEngine>> TlsEngine::Create(const TlsEngineOptions& options) {
  absl::StatusOr<SslCtxPtr> context = CreateProbeSslContext(options.tls);
  if (!context.ok()) return context.status();
  if (options.max_in_flight_connections < 1 || options.max_in_flight_per_target_address < 1) {
    return absl::InvalidArgumentError("in-flight limits must be at least 1");
  }
  std::unique_ptr<TlsEngine> engine(new TlsEngine(options, std::move(*context)));
  for (v1::CertificateKeyType key_type : kSelectableKeyTypes) {
    absl::StatusOr<SslCtxPtr> restricted = CreateProbeSslContext(options.tls, key_type);
    if (!restricted.ok()) return restricted.status();
    engine->key_type_contexts_.emplace(key_type, std::move(*restricted));
  }
  int threads = options.event_loop_threads;
  if (threads <= 0) threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  for (int i = 0; i < threads; ++i) {
    auto loop = std::make_unique<HandshakeLoop>(*engine);
    absl::Status started = loop->Init();
    if (!started.ok()) return started;
    engine->loops_.push_back(std::move(loop));
  }
  engine->expiry_thread_ = std::thread([raw = engine.get()] { raw->ExpireWaiting(); });
  return engine;
}

TlsEngine::~TlsEngine() {
  std::vector<std::unique_ptr<Connection>> waiting;
  {
    absl::MutexLock lock(&targets_mutex_);
    stopping_ = true;
    waiting_changed_ = true;
    waiting = TakeWaiting(absl::InfiniteFuture(), /*all=*/true);
  }
  if (expiry_thread_.joinable()) expiry_thread_.join();
  for (auto& connection : waiting) {
    EndWaiting(std::move(connection), options_.max_in_flight_per_target_address,
               /*stopping=*/true);
  }
  loops_.clear();
}

TlsEngine::Admission TlsEngine::AdmitOrQueue(std::unique_ptr<Connection>& connection) {
  if (in_flight_.fetch_add(1) >= options_.max_in_flight_connections) {
    in_flight_.fetch_sub(1);
    return Admission::kRefused;
  }
  absl::MutexLock lock(&targets_mutex_);
  int& count = in_flight_by_target_[connection->target_key];
  if (count < options_.max_in_flight_per_target_address) {
    ++count;
    return Admission::kAdmitted;
  }
  // No connection opens now: the fetch waits for one of its target's to end.
  in_flight_.fetch_sub(1);
  std::deque<std::unique_ptr<Connection>>& queue = waiting_[connection->target_key];
  if (stopping_ || static_cast<int>(queue.size()) >= options_.max_queued_per_target_address) {
    if (queue.empty()) waiting_.erase(connection->target_key);
    return Admission::kRefused;
  }
  const FetchRequest& request = connection->request;
  connection->wait_deadline =
      std::min(request.deadline, absl::Now() + request.connect_timeout + request.handshake_timeout);
  queue.push_back(std::move(connection));
  waiting_changed_ = true;
  return Admission::kQueued;
}

void TlsEngine::Release(const std::string& target) {
  std::vector<std::unique_ptr<Connection>> ended;
  std::unique_ptr<Connection> next;
  {
    absl::MutexLock lock(&targets_mutex_);
    auto waiting = waiting_.find(target);
    const absl::Time now = absl::Now();
    while (!stopping_ && waiting != waiting_.end() && !waiting->second.empty()) {
      std::unique_ptr<Connection> first = std::move(waiting->second.front());
      waiting->second.pop_front();
      if (first->wait_deadline <= now || Cancelled(*first)) {
        ended.push_back(std::move(first));
      } else {
        next = std::move(first);
        break;
      }
    }
    if (waiting != waiting_.end() && waiting->second.empty()) waiting_.erase(waiting);
    if (next == nullptr) {
      auto found = in_flight_by_target_.find(target);
      if (found != in_flight_by_target_.end() && --found->second <= 0) {
        in_flight_by_target_.erase(found);
      }
    }
  }
  // The slot passes to `next`: the target's count and in_flight_ stay as they are.
  if (next == nullptr) in_flight_.fetch_sub(1);
  for (auto& connection : ended) {
    EndWaiting(std::move(connection), options_.max_in_flight_per_target_address,
               /*stopping=*/false);
  }
  if (next != nullptr) Dispatch(std::move(next));
}

std::vector<std::unique_ptr<TlsEngine::Connection>> TlsEngine::TakeWaiting(absl::Time now,
                                                                           bool all) {
  std::vector<std::unique_ptr<Connection>> taken;
  for (auto target = waiting_.begin(); target != waiting_.end();) {
    std::deque<std::unique_ptr<Connection>>& queue = target->second;
    for (auto it = queue.begin(); it != queue.end();) {
      if (all || (*it)->wait_deadline <= now || Cancelled(**it)) {
        taken.push_back(std::move(*it));
        it = queue.erase(it);
      } else {
        ++it;
      }
    }
    target = queue.empty() ? waiting_.erase(target) : std::next(target);
  }
  return taken;
}

void TlsEngine::ExpireWaiting() {
  absl::MutexLock lock(&targets_mutex_);
  while (!stopping_) {
    absl::Time earliest = absl::InfiniteFuture();
    for (const auto& [target, queue] : waiting_) {
      for (const auto& connection : queue) {
        earliest = std::min(earliest, connection->wait_deadline);
      }
    }
    targets_mutex_.AwaitWithDeadline(absl::Condition(&waiting_changed_), earliest);
    waiting_changed_ = false;
    if (stopping_) break;
    std::vector<std::unique_ptr<Connection>> ended = TakeWaiting(absl::Now(), /*all=*/false);
    if (ended.empty()) continue;
    targets_mutex_.Unlock();
    for (auto& connection : ended) {
      EndWaiting(std::move(connection), options_.max_in_flight_per_target_address,
                 /*stopping=*/false);
    }
    targets_mutex_.Lock();
  }
}

void TlsEngine::Dispatch(std::unique_ptr<Connection> connection) {
  const uint64_t index = next_loop_.fetch_add(1) % loops_.size();
  loops_[index]->Enqueue(std::move(connection));
}

void TlsEngine::Start(FetchRequest request, FetchCallback done) {
  v1::AddressObservation observation;
  observation.set_address(request.address);
  observation.set_requested_key_type(request.key_type);
  const std::string target = absl::StrCat(request.address, " port ", request.port);
  // The address is used as given: parsed, never resolved (trust rule 6).
  if (!ParseIpAddress(request.address).ok()) {
    SetFailure(&observation, v1::PROBE_CONNECT_FAILED, v1::FORBIDDEN,
               absl::StrCat("cannot connect to ", request.address, ": not an IP address"));
    done(std::move(observation));
    return;
  }
  if (request.port == 0 || request.port > 65535) {
    SetFailure(&observation, v1::PROBE_CONNECT_FAILED, v1::FORBIDDEN,
               absl::StrCat("cannot connect to ", target, ": port out of range"));
    done(std::move(observation));
    return;
  }
  auto connection = std::make_unique<Connection>();
  connection->target_key = TargetKey(request);
  connection->request = std::move(request);
  connection->done = std::move(done);
  connection->target = target;
  connection->observation = std::move(observation);
  switch (AdmitOrQueue(connection)) {
    case Admission::kAdmitted:
      Dispatch(std::move(connection));
      return;
    case Admission::kQueued:
      return;
    case Admission::kRefused:
      break;
  }
  SetFailure(&connection->observation, v1::PROBE_OVERLOADED, v1::OVERLOADED,
             absl::StrCat("not probed: the agent is at its limit of ",
                          options_.max_in_flight_connections, " connections in flight, or of ",
                          options_.max_queued_per_target_address, " probes waiting for ", target));
  connection->done(std::move(connection->observation));
}

void TlsEngine::AbandonCancelled() {
  {
    absl::MutexLock lock(&targets_mutex_);
    waiting_changed_ = true;
  }
  for (const std::unique_ptr<HandshakeLoop>& loop : loops_) loop->RequestSweep();
}

v1::AddressObservation TlsEngine::Fetch(FetchRequest request) {
  // Shared with the callback, which may still be unlocking when this thread returns.
  struct Waiter {
    absl::Mutex mutex;
    bool finished ABSL_GUARDED_BY(mutex) = false;
    v1::AddressObservation result ABSL_GUARDED_BY(mutex);
  };
  auto waiter = std::make_shared<Waiter>();
  Start(std::move(request), [waiter](v1::AddressObservation observation) {
    absl::MutexLock lock(&waiter->mutex);
    waiter->result = std::move(observation);
    waiter->finished = true;
  });
  absl::MutexLock lock(&waiter->mutex);
  waiter->mutex.Await(absl::Condition(&waiter->finished));
  return std::move(waiter->result);
}

}  // namespace probe_agent
}  // namespace mecai
