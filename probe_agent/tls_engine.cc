#include "probe_agent/tls_engine.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
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
#include "common/crypto/hashing.h"
#include "common/net/ip_address.h"
#include "probe_agent/event_loop.h"

namespace mecai {
namespace probe_agent {
namespace {

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
  std::unique_ptr<TlsHandshake> handshake;
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
    absl::StatusOr<std::unique_ptr<TlsHandshake>> handshake =
        engine_.client_->Start(c->fd, c->request.sni, c->request.key_type, c->target);
    if (!handshake.ok()) {
      SetFailure(&c->observation, v1::PROBE_HANDSHAKE_FAILED, v1::LOCAL_ERROR,
                 std::string(handshake.status().message()));
      Complete(c);
      return;
    }
    c->handshake = std::move(*handshake);
    DriveHandshake(c);
  }

  void DriveHandshake(Connection* c) {
    switch (c->handshake->Continue()) {
      case TlsHandshake::Step::kDone:
        Record(c);
        Complete(c);
        return;
      case TlsHandshake::Step::kWantRead:
        Watch(c, EPOLLIN);
        return;
      case TlsHandshake::Step::kWantWrite:
        Watch(c, EPOLLOUT);
        return;
      case TlsHandshake::Step::kFailed:
        break;
    }
    c->observation.set_handshake_milliseconds(
        MillisecondsBetween(c->handshake_start, SteadyClock::now()));
    const HandshakeFailure& failure = c->handshake->failure();
    if (failure.error_class == v1::TLS_ALERT) c->observation.set_tls_alert(failure.alert);
    SetFailure(&c->observation, v1::PROBE_HANDSHAKE_FAILED, failure.error_class, failure.sentence);
    Complete(c);
  }

  // Records what the completed handshake showed.
  void Record(Connection* c) {
    v1::AddressObservation& observation = c->observation;
    observation.set_handshake_milliseconds(
        MillisecondsBetween(c->handshake_start, SteadyClock::now()));
    HandshakeEvidence evidence = c->handshake->Finish();
    if (evidence.chain_der.empty()) {
      SetFailure(&observation, v1::PROBE_HANDSHAKE_FAILED, v1::NO_CERTIFICATE,
                 absl::StrCat("TLS handshake with ", c->target,
                              " completed without a server certificate"));
      return;
    }
    // Trust rule 8, whatever the library: the certificate list as the Certificate message frames
    // it (RFC 8446 §4.4.2: a 3-byte length before each certificate) within the bound. A library
    // that accepted a CompressedCertificate (RFC 8879) it never asked for could otherwise
    // record a chain far larger than the bytes it read.
    size_t list_bytes = 0;
    for (const std::string& der : evidence.chain_der) list_bytes += 3 + der.size();
    if (list_bytes > static_cast<size_t>(kMaxCertificateListBytes)) {
      SetFailure(&observation, v1::PROBE_HANDSHAKE_FAILED, v1::PROTOCOL_ERROR,
                 absl::StrCat("TLS handshake with ", c->target,
                              " failed: excessive message size: a certificate list of ", list_bytes,
                              " bytes, over ", kMaxCertificateListBytes));
      return;
    }
    std::string concatenated;
    for (std::string& der : evidence.chain_der) {
      observation.add_certificate_sha256(Sha256(der));
      concatenated += der;
      observation.add_certificate_chain_der(std::move(der));
    }
    observation.set_leaf_sha256(observation.certificate_sha256(0));
    observation.set_chain_sha256(Sha256(concatenated));
    observation.set_tls_version(std::move(evidence.version));
    if (!evidence.cipher.empty()) observation.set_cipher(std::move(evidence.cipher));
    if (!evidence.group.empty()) observation.set_key_exchange_group(std::move(evidence.group));
    observation.set_outcome(v1::PROBE_OK);
    observation.set_error_class(v1::ERROR_CLASS_NONE);
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

  // Removes `c` from the loop, frees its TLS session and socket, and reports it.
  void Complete(Connection* c) {
    auto found = connections_.find(c->id);
    if (found == connections_.end()) return;
    std::unique_ptr<Connection> owned = std::move(found->second);
    connections_.erase(found);
    Finish(std::move(owned));
  }

  void Finish(std::unique_ptr<Connection> connection) {
    loop_.CancelTimer(connection->timer);
    connection->handshake.reset();
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

TlsEngine::TlsEngine(const TlsEngineOptions& options, std::unique_ptr<TlsClient> client)
    : options_(options), client_(std::move(client)) {}

absl::StatusOr<std::unique_ptr<TlsEngine>> TlsEngine::Create(const TlsEngineOptions& options) {
  absl::StatusOr<std::unique_ptr<TlsClient>> client = CreateTlsClient(options.library, options.tls);
  if (!client.ok()) return client.status();
  if (options.max_in_flight_connections < 1 || options.max_in_flight_per_target_address < 1) {
    return absl::InvalidArgumentError("in-flight limits must be at least 1");
  }
  std::unique_ptr<TlsEngine> engine(new TlsEngine(options, std::move(*client)));
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
