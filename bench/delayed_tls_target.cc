#include "bench/delayed_tls_target.h"

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
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

// The connections accepted, each with the time its handshake may start; in accept order, which is
// also the order of those times (one delay for all).
class DelayedConnections {
 public:
  void Add(int fd, absl::Time release_at) {
    absl::MutexLock lock(&mutex_);
    waiting_.push_back({fd, release_at});
  }

  // Blocks until the oldest connection's time has come, and takes it.
  int TakeReleased() {
    absl::MutexLock lock(&mutex_);
    while (true) {
      mutex_.Await(absl::Condition(
          +[](std::deque<Waiting>* waiting) { return !waiting->empty(); }, &waiting_));
      const absl::Time release_at = waiting_.front().release_at;
      const absl::Time now = absl::Now();
      if (release_at <= now) break;
      mutex_.Unlock();
      absl::SleepFor(release_at - now);
      mutex_.Lock();
    }
    const int fd = waiting_.front().fd;
    waiting_.pop_front();
    return fd;
  }

 private:
  struct Waiting {
    int fd;
    absl::Time release_at;
  };
  absl::Mutex mutex_;
  std::deque<Waiting> waiting_ ABSL_GUARDED_BY(mutex_);
};

// Enough handshakes at once that a slow client holds up no other: each worker blocks in one.
constexpr int kHandshakeWorkers = 64;

struct Workers {
  SSL_CTX* context;
  DelayedConnections* connections;
};

void* HandshakeReleasedConnections(void* raw) {
  const Workers* workers = static_cast<const Workers*>(raw);
  while (true) {
    const int fd = workers->connections->TakeReleased();
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
  for (int i = 0; i < kHandshakeWorkers; ++i) {
    pthread_t thread;
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
