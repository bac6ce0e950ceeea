#include "probe_agent/tls_fetcher.h"

#include <netinet/in.h>
#include <openssl/err.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>  // NOLINT(build/c++11): steady time for durations.
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/hashing.h"
#include "common/ip_address.h"
#include "common/openssl_error.h"
#include "common/pem.h"

namespace mecai {
namespace probe_agent {
namespace {

// Trust rule 8 (bounded everything): the largest certificate list accepted from a server. A
// handshake that sends more fails with "excessive message size".
constexpr long kMaxCertificateListBytes = 100 * 1024;  // NOLINT(runtime/int): OpenSSL's type.

using SteadyClock = std::chrono::steady_clock;

uint32_t MillisecondsSince(SteadyClock::time_point start) {
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start);
  return static_cast<uint32_t>(std::max<int64_t>(0, elapsed.count()));
}

// Milliseconds left until `deadline` for poll(), at least 0.
int PollMillisecondsUntil(SteadyClock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

// Closes a socket on scope exit. Not thread-safe.
class ScopedSocket {
 public:
  explicit ScopedSocket(int fd) : fd_(fd) {}
  ~ScopedSocket() {
    if (fd_ >= 0) close(fd_);
  }
  ScopedSocket(const ScopedSocket&) = delete;
  ScopedSocket& operator=(const ScopedSocket&) = delete;
  int get() const { return fd_; }

 private:
  const int fd_;
};

// While alive, a write to a socket the server has closed fails with EPIPE in this thread instead
// of killing the process with SIGPIPE: OpenSSL writes with write(2), which cannot pass
// MSG_NOSIGNAL. SIGPIPE is blocked for the thread, and one raised meanwhile is consumed before the
// previous mask is restored (the technique of libcurl's sigpipe.h). Not thread-safe: it acts on the
// calling thread.
class ScopedSigpipeSuppression {
 public:
  ScopedSigpipeSuppression() {
    sigemptyset(&sigpipe_);
    sigaddset(&sigpipe_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &sigpipe_, &previous_);
  }
  ~ScopedSigpipeSuppression() {
    if (!was_pending_) {
      const timespec no_wait = {0, 0};
      while (sigtimedwait(&sigpipe_, nullptr, &no_wait) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  ScopedSigpipeSuppression(const ScopedSigpipeSuppression&) = delete;
  ScopedSigpipeSuppression& operator=(const ScopedSigpipeSuppression&) = delete;

 private:
  sigset_t sigpipe_;
  sigset_t previous_;
  bool was_pending_ = false;
};

v1::AddressObservation Failure(v1::AddressObservation observation, v1::ProbeOutcome outcome,
                               std::string error) {
  observation.set_outcome(outcome);
  observation.set_error(std::move(error));
  return observation;
}

// "TLS handshake with <target> failed: <why SSL_do_handshake returned `result`>"; drains the
// thread's OpenSSL error queue.
std::string HandshakeFailure(const std::string& target, SSL* ssl, int result, int saved_errno) {
  const std::string failed = absl::StrCat("TLS handshake with ", target, " failed");
  const int error = SSL_get_error(ssl, result);
  if (error == SSL_ERROR_SSL || ERR_peek_error() != 0) {
    return std::string(OpenSslError(failed).message());
  }
  if (error == SSL_ERROR_ZERO_RETURN) {
    return absl::StrCat(failed, ": the server closed the TLS connection");
  }
  if (error == SSL_ERROR_SYSCALL) {
    if (saved_errno != 0) return absl::StrCat(failed, ": ", std::strerror(saved_errno));
    return absl::StrCat(failed, ": the server closed the connection");
  }
  return absl::StrCat(failed, ": SSL_get_error ", error);
}

}  // namespace

absl::StatusOr<std::unique_ptr<OpenSslTlsFetcher>> OpenSslTlsFetcher::Create() {
  ClearOpenSslErrors();
  SslCtxPtr context(SSL_CTX_new(TLS_client_method()));
  if (context == nullptr) return OpenSslError("SSL_CTX_new");
  if (SSL_CTX_set_min_proto_version(context.get(), TLS1_2_VERSION) != 1) {
    return OpenSslError("cannot require TLS 1.2 or later");
  }
  // No verification: the agent reports the chain it was sent, whatever it is.
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_NONE, nullptr);
  // Security level 0 lets the handshake complete with servers whose certificates have weak keys
  // or SHA-1 signatures, which Debian's default level 2 refuses: such a certificate is still what
  // the server serves, and judging it is the coordinator's job. The connection carries no data.
  SSL_CTX_set_security_level(context.get(), 0);
  // Never resume (RFC 8446 §2.2): a resumed handshake carries no certificate.
  SSL_CTX_set_session_cache_mode(context.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(context.get(), SSL_OP_NO_TICKET);
  SSL_CTX_set_max_cert_list(context.get(), kMaxCertificateListBytes);
  return std::unique_ptr<OpenSslTlsFetcher>(new OpenSslTlsFetcher(std::move(context)));
}

v1::AddressObservation OpenSslTlsFetcher::Fetch(const std::string& address, uint32_t port,
                                                const std::string& sni,
                                                absl::Duration connect_timeout,
                                                absl::Duration handshake_timeout) {
  v1::AddressObservation observation;
  observation.set_address(address);
  const std::string target = absl::StrCat(address, " port ", port);

  // The address is used as given: parsed, never resolved (trust rule 6).
  absl::StatusOr<IpAddress> ip = ParseIpAddress(address);
  if (!ip.ok()) {
    return Failure(std::move(observation), v1::PROBE_CONNECT_FAILED,
                   absl::StrCat("cannot connect to ", address, ": not an IP address"));
  }
  if (port == 0 || port > 65535) {
    return Failure(std::move(observation), v1::PROBE_CONNECT_FAILED,
                   absl::StrCat("cannot connect to ", target, ": port out of range"));
  }
  sockaddr_storage storage;
  std::memset(&storage, 0, sizeof(storage));
  socklen_t storage_length = 0;
  int family = AF_INET;
  if (ip->family == IpAddress::Family::kIpv4) {
    auto* ipv4 = reinterpret_cast<sockaddr_in*>(&storage);
    ipv4->sin_family = AF_INET;
    ipv4->sin_port = htons(static_cast<uint16_t>(port));
    std::memcpy(&ipv4->sin_addr, ip->bytes.data(), 4);
    storage_length = sizeof(sockaddr_in);
  } else {
    family = AF_INET6;
    auto* ipv6 = reinterpret_cast<sockaddr_in6*>(&storage);
    ipv6->sin6_family = AF_INET6;
    ipv6->sin6_port = htons(static_cast<uint16_t>(port));
    std::memcpy(&ipv6->sin6_addr, ip->bytes.data(), 16);
    storage_length = sizeof(sockaddr_in6);
  }

  // TCP: a non-blocking connect, then poll until connected or the connect timeout passes.
  const SteadyClock::time_point connect_start = SteadyClock::now();
  ScopedSocket socket_fd(socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (socket_fd.get() < 0) {
    return Failure(std::move(observation), v1::PROBE_CONNECT_FAILED,
                   absl::StrCat("cannot create a socket for ", target, ": ", std::strerror(errno)));
  }
  int connect_error = 0;
  if (connect(socket_fd.get(), reinterpret_cast<sockaddr*>(&storage), storage_length) != 0) {
    connect_error = errno;
    if (connect_error == EINPROGRESS) {
      const SteadyClock::time_point deadline =
          connect_start + absl::ToChronoMilliseconds(connect_timeout);
      pollfd waiting = {socket_fd.get(), POLLOUT, 0};
      int ready;
      do {
        ready = poll(&waiting, 1, PollMillisecondsUntil(deadline));
      } while (ready < 0 && errno == EINTR);
      if (ready == 0) {
        observation.set_connect_milliseconds(MillisecondsSince(connect_start));
        return Failure(std::move(observation), v1::PROBE_CONNECT_FAILED,
                       absl::StrCat("TCP connect to ", target, " timed out after ",
                                    absl::ToInt64Milliseconds(connect_timeout), " ms"));
      }
      socklen_t length = sizeof(connect_error);
      if (ready < 0) {
        connect_error = errno;
      } else if (getsockopt(socket_fd.get(), SOL_SOCKET, SO_ERROR, &connect_error, &length) != 0) {
        connect_error = errno;
      }
    }
  }
  observation.set_connect_milliseconds(MillisecondsSince(connect_start));
  if (connect_error != 0) {
    return Failure(
        std::move(observation), v1::PROBE_CONNECT_FAILED,
        absl::StrCat("TCP connect to ", target, " failed: ", std::strerror(connect_error)));
  }

  // TLS: the handshake on the non-blocking socket, polling for whatever OpenSSL waits for.
  ScopedSigpipeSuppression no_sigpipe;
  const SteadyClock::time_point handshake_start = SteadyClock::now();
  const SteadyClock::time_point deadline =
      handshake_start + absl::ToChronoMilliseconds(handshake_timeout);
  ClearOpenSslErrors();
  SslPtr ssl(SSL_new(context_.get()));
  if (ssl == nullptr || SSL_set_fd(ssl.get(), socket_fd.get()) != 1 ||
      (!sni.empty() && SSL_set_tlsext_host_name(ssl.get(), sni.c_str()) != 1)) {
    return Failure(
        std::move(observation), v1::PROBE_HANDSHAKE_FAILED,
        std::string(OpenSslError(absl::StrCat("cannot set up TLS for ", target)).message()));
  }
  SSL_set_connect_state(ssl.get());
  while (true) {
    ClearOpenSslErrors();
    errno = 0;
    const int result = SSL_do_handshake(ssl.get());
    if (result == 1) break;
    const int saved_errno = errno;
    const int error = SSL_get_error(ssl.get(), result);
    if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
      observation.set_handshake_milliseconds(MillisecondsSince(handshake_start));
      return Failure(std::move(observation), v1::PROBE_HANDSHAKE_FAILED,
                     HandshakeFailure(target, ssl.get(), result, saved_errno));
    }
    pollfd waiting = {socket_fd.get(),
                      static_cast<short>(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
    int ready;
    do {
      ready = poll(&waiting, 1, PollMillisecondsUntil(deadline));
    } while (ready < 0 && errno == EINTR);
    if (ready <= 0) {
      observation.set_handshake_milliseconds(MillisecondsSince(handshake_start));
      return Failure(std::move(observation), v1::PROBE_HANDSHAKE_FAILED,
                     ready == 0 ? absl::StrCat("TLS handshake with ", target, " timed out after ",
                                               absl::ToInt64Milliseconds(handshake_timeout), " ms")
                                : absl::StrCat("TLS handshake with ", target,
                                               " failed: poll: ", std::strerror(errno)));
    }
  }
  observation.set_handshake_milliseconds(MillisecondsSince(handshake_start));

  // SSL_get_peer_cert_chain borrows: the stack and its certificates belong to `ssl` and are valid
  // until it is freed; nothing here frees them. On the client side the chain starts with the leaf.
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl.get());
  const int chain_length = chain != nullptr ? sk_X509_num(chain) : 0;
  if (chain_length == 0) {
    return Failure(
        std::move(observation), v1::PROBE_HANDSHAKE_FAILED,
        absl::StrCat("TLS handshake with ", target, " completed without a server certificate"));
  }
  for (int i = 0; i < chain_length; ++i) {
    observation.add_certificate_chain_der(CertificateToDer(sk_X509_value(chain, i)));
  }
  observation.set_leaf_sha256(Sha256(observation.certificate_chain_der(0)));
  observation.set_tls_version(SSL_get_version(ssl.get()));
  observation.set_outcome(v1::PROBE_OK);
  // A polite close_notify (RFC 8446 §6.1), sent once without waiting for the server's.
  SSL_shutdown(ssl.get());
  ClearOpenSslErrors();
  return observation;
}

}  // namespace probe_agent
}  // namespace mecai
