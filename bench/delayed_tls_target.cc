#include "bench/delayed_tls_target.h"

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace mecai {
namespace {

// The connections accepted, each with the time its handshake may start (in accept order, which is
// also the order of those times: one delay for all), and those whose time has come.
class DelayedConnections {
 public:
  void Add(int fd, absl::Time release_at) {
    absl::MutexLock lock(&mutex_);
    waiting_.push_back({fd, release_at});
  }

  // The one thread that waits for the times, so that no handshake thread wakes but to work: moves
  // each connection to the released ones when its time comes. Never returns.
  void ReleaseWhenDue() {
    absl::MutexLock lock(&mutex_);
    while (true) {
      mutex_.Await(absl::Condition(
          +[](std::deque<Waiting>* waiting) { return !waiting->empty(); }, &waiting_));
      const absl::Time now = absl::Now();
      while (!waiting_.empty() && waiting_.front().release_at <= now) {
        released_.push_back(waiting_.front().fd);
        waiting_.pop_front();
      }
      if (waiting_.empty()) continue;
      const absl::Duration until_next = waiting_.front().release_at - now;
      mutex_.Unlock();
      absl::SleepFor(until_next);
      mutex_.Lock();
    }
  }

  // Blocks until a connection is released, and takes it.
  int TakeReleased() {
    absl::MutexLock lock(&mutex_);
    mutex_.Await(absl::Condition(
        +[](std::deque<int>* released) { return !released->empty(); }, &released_));
    const int fd = released_.front();
    released_.pop_front();
    return fd;
  }

 private:
  struct Waiting {
    int fd;
    absl::Time release_at;
  };
  absl::Mutex mutex_;
  std::deque<Waiting> waiting_ ABSL_GUARDED_BY(mutex_);
  std::deque<int> released_ ABSL_GUARDED_BY(mutex_);
};

// Enough handshakes at once that a slow client holds up no other: each worker blocks in one.
constexpr int kHandshakeWorkers = 64;
// A client that stops sending or reading holds its worker this long at most.
constexpr int kSocketTimeoutSeconds = 30;

struct Workers {
  SSL_CTX* context;
  DelayedConnections* connections;
};

void* ReleaseConnections(void* raw) {
  static_cast<DelayedConnections*>(raw)->ReleaseWhenDue();
  return nullptr;
}

void* HandshakeReleasedConnections(void* raw) {
  const Workers* workers = static_cast<const Workers*>(raw);
  while (true) {
    const int fd = workers->connections->TakeReleased();
    const timeval timeout = {kSocketTimeoutSeconds, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    SSL* ssl = SSL_new(workers->context);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
  }
  return nullptr;
}

}  // namespace

void ServeDelayedTlsTarget(int listener, const std::string& certificate_chain_file,
                           const std::string& key_file, absl::Duration delay) {
  signal(SIGPIPE, SIG_IGN);
  SSL_CTX* context = SSL_CTX_new(TLS_server_method());
  SSL_CTX_use_certificate_chain_file(context, certificate_chain_file.c_str());
  SSL_CTX_use_PrivateKey_file(context, key_file.c_str(), SSL_FILETYPE_PEM);
  // A probe never resumes: no session cache, and no TLS 1.3 tickets (RFC 8446 §4.6.1) to make.
  SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(context, 0);
  // A fixed set of threads rather than one per connection: thousands of connections held at once
  // cost no thread each, and the target's own CPU stays small beside the measured processes'.
  auto* connections = new DelayedConnections();
  auto* workers = new Workers{context, connections};
  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  pthread_attr_setstacksize(&attributes, 256 * 1024);
  pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
  pthread_t thread;
  if (pthread_create(&thread, &attributes, ReleaseConnections, connections) != 0) abort();
  for (int i = 0; i < kHandshakeWorkers; ++i) {
    if (pthread_create(&thread, &attributes, HandshakeReleasedConnections, workers) != 0) abort();
  }
  while (true) {
    const int fd = accept(listener, nullptr, nullptr);
    if (fd < 0) continue;
    connections->Add(fd, absl::Now() + delay);
  }
}

absl::StatusOr<DelayedTlsTarget> StartDelayedTlsTarget(
    const test_support::TestCertificate& certificate, absl::Duration delay) {
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(listener, 4096) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const std::string error = std::strerror(errno);
    if (listener >= 0) close(listener);
    return absl::UnavailableError(absl::StrCat("delayed TLS target: cannot listen: ", error));
  }
  DelayedTlsTarget target;
  target.port = ntohs(address.sin_port);
  target.pid = fork();
  if (target.pid == 0) {
    ServeDelayedTlsTarget(listener, certificate.certificate_path, certificate.key_path, delay);
  }
  close(listener);
  if (target.pid < 0) {
    return absl::InternalError(absl::StrCat("delayed TLS target: fork: ", std::strerror(errno)));
  }
  return target;
}

void StopDelayedTlsTarget(const DelayedTlsTarget& target) {
  if (target.pid <= 0) return;
  kill(target.pid, SIGKILL);
  waitpid(target.pid, nullptr, 0);
}

absl::StatusOr<DelayedTargetSetup> SetUpDelayedTarget(const std::string& stem,
                                                      const std::string& dns_name) {
  DelayedTargetSetup setup;
  std::string pattern = absl::StrCat("/tmp/", stem, "_XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", pattern, ": ", std::strerror(errno)));
  }
  setup.directory = pattern;
  setenv("TEST_TMPDIR", setup.directory.c_str(), 1);
  absl::StatusOr<test_support::TestCertificate> certificate =
      test_support::WriteSelfSignedCertificate(setup.directory, "target", dns_name);
  if (!certificate.ok()) return certificate.status();
  setup.certificate = *certificate;
  absl::StatusOr<DelayedTlsTarget> target =
      StartDelayedTlsTarget(setup.certificate, absl::Seconds(1));
  if (!target.ok()) return target.status();
  setup.target = *target;
  return setup;
}

EngineBurstResult RunEngineBurst(probe_agent::TlsEngine& engine,
                                 const probe_agent::FetchRequest& request, int probes) {
  absl::Mutex mutex;
  EngineBurstResult result;
  const absl::Time start = absl::Now();
  for (int i = 0; i < probes; ++i) {
    engine.Start(request, [&](v1::AddressObservation observation) {
      const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
      absl::MutexLock lock(&mutex);
      ++result.completed;
      if (observation.outcome() == v1::PROBE_OK) ++result.ok;
      result.completion_seconds.push_back(elapsed);
    });
  }
  result.started_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  absl::MutexLock lock(&mutex);
  std::pair<int*, int> wanted(&result.completed, probes);
  mutex.AwaitWithTimeout(
      absl::Condition(
          +[](std::pair<int*, int>* done) { return *done->first >= done->second; }, &wanted),
      absl::Seconds(60));
  result.all_done_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::sort(result.completion_seconds.begin(), result.completion_seconds.end());
  return result;
}

}  // namespace mecai
