#include "common/net/tls_relay.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/logging.h"
#include "common/crypto/openssl_error.h"
#include "common/net/client_address_key.h"

namespace mecai {
namespace {

// Plaintext moved per read in each direction.
constexpr size_t kRelayBufferBytes = 16 << 10;
// The only application protocol the relay's server speaks (RFC 7301 ALPN identifier).
constexpr unsigned char kHttp11Alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

// OpenSSL writes to the socket with write(2), which cannot pass MSG_NOSIGNAL: a client that went
// away would otherwise end the process with SIGPIPE. The event-loop thread keeps it blocked (the
// write fails with EPIPE instead).
void BlockSigpipeInThisThread() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

bool SetNonBlocking(int fd) {
  const int flags = fcntl(fd, F_GETFL, 0);
  return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

// How long, and how many bytes, a connection is read and discarded after the answer went out.
constexpr absl::Duration kLinger = absl::Seconds(2);
constexpr size_t kMaxLingerBytes = 1 << 20;
// Rounds of moving bytes one connection gets before the others have their turn.
constexpr int kRoundsPerTurn = 16;
// Connections accepted per turn, and epoll events taken per turn.
// New connections (each a handshake, its private-key operation included, on the loop's thread)
// taken per turn before the connections already open are served again.
constexpr int kAcceptsPerTurn = 8;
constexpr int kEventsPerTurn = 256;
// How long the listening socket rests when the process is out of descriptors or memory.
constexpr absl::Duration kAcceptPause = absl::Milliseconds(100);
// The epoll tags of the listening socket and of the stop eventfd; a connection's sides are
// 2 * id and 2 * id + 1 (ids start at 1).
constexpr uint64_t kListeningTag = 0;
constexpr uint64_t kStopTag = 1;

// The relay's clock: monotonic (std::chrono::steady_clock), so that a step of the wall clock (an
// NTP correction) neither extends nor cuts a handshake's or a connection's time. Only differences
// of its values mean anything.
absl::Time RelayNow() {
  return absl::UnixEpoch() + absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
}

int MillisecondsUntil(absl::Time deadline) {
  const int64_t left =
      absl::ToInt64Milliseconds(absl::Ceil(deadline - RelayNow(), absl::Milliseconds(1)));
  return static_cast<int>(std::clamp<int64_t>(left, 0, 60000));
}

// ALPN (RFC 7301): http/1.1 when the client offers it; no protocol otherwise (the client then
// speaks HTTP/1.1 anyway, or fails).
int SelectHttp11(SSL* /*ssl*/, const unsigned char** out, unsigned char* out_length,
                 const unsigned char* in, unsigned int in_length, void* /*argument*/) {
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, out_length, kHttp11Alpn, sizeof(kHttp11Alpn), in,
                            in_length) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

absl::StatusOr<SslCtxPtr> ServerContext(const TlsRelayOptions& options) {
  ClearOpenSslErrors();
  SslCtxPtr context(SSL_CTX_new(TLS_server_method()));
  if (context == nullptr) return OpenSslError("SSL_CTX_new");
  SSL_CTX_set_min_proto_version(context.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(context.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(context.get(),
                   SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // No client certificate is asked for (SSL_VERIFY_NONE is the server's default).
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_NONE, nullptr);
  if (SSL_CTX_use_certificate_chain_file(context.get(), options.certificate_chain_file.c_str()) !=
      1) {
    return OpenSslError(
        absl::StrCat("cannot load the certificate chain ", options.certificate_chain_file),
        absl::StatusCode::kInvalidArgument);
  }
  if (SSL_CTX_use_PrivateKey_file(context.get(), options.private_key_file.c_str(),
                                  SSL_FILETYPE_PEM) != 1) {
    return OpenSslError(absl::StrCat("cannot load the private key ", options.private_key_file),
                        absl::StatusCode::kInvalidArgument);
  }
  if (SSL_CTX_check_private_key(context.get()) != 1) {
    return OpenSslError(
        absl::StrCat("the private key ", options.private_key_file,
                     " does not belong to the certificate in ", options.certificate_chain_file),
        absl::StatusCode::kInvalidArgument);
  }
  SSL_CTX_set_alpn_select_cb(context.get(), &SelectHttp11, nullptr);
  return context;
}

// What identifies the current content of the certificate chain and key files without reading
// them: device, inode, size and modification time of each. Empty when either cannot be stat'ed.
std::string FilesStamp(const TlsRelayOptions& options) {
  std::string stamp;
  for (const std::string* file : {&options.certificate_chain_file, &options.private_key_file}) {
    struct stat info;
    if (stat(file->c_str(), &info) != 0) return "";
    absl::StrAppend(&stamp, info.st_dev, ":", info.st_ino, ":", info.st_size, ":",
                    info.st_mtim.tv_sec, ".", info.st_mtim.tv_nsec, ";");
  }
  return stamp;
}

// The key of the per-address limits (an IPv4 address, an IPv6 /64). An accepted TCP connection
// always has one; were it not so, such clients would share the empty key.
std::string AddressKey(const sockaddr_storage& address, socklen_t length) {
  absl::StatusOr<std::string> key =
      ClientAddressKey(reinterpret_cast<const sockaddr*>(&address), length);
  return key.ok() ? *std::move(key) : "";
}

}  // namespace

struct TlsRelay::Connection {
  enum class Stage {
    // SSL_accept until it completes, by handshake_timeout.
    kHandshake,
    // Plaintext both ways, by max_connection_lifetime.
    kRelay,
    // The server's answer went out before the client finished sending: the client's sending side
    // is read and discarded, for kLinger and kMaxLingerBytes at most, before the close. Closing at
    // once, with the client's bytes unread, would make the kernel reset the connection, and a
    // reset can destroy the answer before the client reads it.
    kLinger,
  };

  uint64_t id = 0;
  Stage stage = Stage::kHandshake;
  int client_fd = -1;
  // The relay's end of the socketpair (the server has the other); -1 before delivery.
  int server_fd = -1;
  SslPtr ssl;
  sockaddr_storage address = {};
  socklen_t length = 0;
  std::string address_key;
  absl::Time accepted;
  absl::Time deadline = absl::InfiniteFuture();
  // What each side is watched for (0: not registered with epoll).
  uint32_t client_watched = 0;
  uint32_t server_watched = 0;
  // In the list of connections driven again next turn.
  bool queued_again = false;
  // epoll refused to watch one of its sockets: it ends at the loop's next turn.
  bool unwatchable = false;

  // Each direction holds at most one buffer.
  std::string to_server;
  size_t to_server_sent = 0;
  std::string to_client;
  size_t to_client_sent = 0;
  bool client_ended = false;  // No more bytes will come from the client.
  bool server_ended = false;  // No more bytes will come from the server.
  bool server_write_shut = false;
  // The server closed its end and takes no more input: what the client still sends is not read
  // now (the lingering close discards it), but the server's answer is still delivered.
  bool server_input_closed = false;
  size_t lingered_bytes = 0;
};

absl::StatusOr<std::unique_ptr<TlsRelay>> TlsRelay::Start(int listening_fd,
                                                          const TlsRelayOptions& options,
                                                          Deliver deliver, OnRefusal on_refusal) {
  absl::StatusOr<SslCtxPtr> context = ServerContext(options);
  if (!context.ok()) {
    close(listening_fd);
    return context.status();
  }
  std::unique_ptr<TlsRelay> relay(
      new TlsRelay(options, *std::move(context), std::move(deliver), std::move(on_refusal)));
  relay->listening_fd_ = listening_fd;
  relay->stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  relay->epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (relay->stop_fd_ < 0 || relay->epoll_fd_ < 0 || !SetNonBlocking(listening_fd)) {
    return absl::InternalError(absl::StrCat("TLS relay: ", std::strerror(errno)));
  }
  epoll_event stop = {};
  stop.events = EPOLLIN;
  stop.data.u64 = kStopTag;
  if (epoll_ctl(relay->epoll_fd_, EPOLL_CTL_ADD, relay->stop_fd_, &stop) != 0) {
    return absl::InternalError(absl::StrCat("TLS relay: epoll_ctl: ", std::strerror(errno)));
  }
  relay->loop_ = std::thread([raw = relay.get()] { raw->Loop(); });
  return relay;
}

TlsRelay::TlsRelay(const TlsRelayOptions& options, SslCtxPtr context, Deliver deliver,
                   OnRefusal on_refusal)
    : options_(options),
      deliver_(std::move(deliver)),
      on_refusal_(std::move(on_refusal)),
      context_(std::move(context)),
      files_stamp_(FilesStamp(options)),
      next_reload_check_(RelayNow() + options.reload_interval),
      handshake_rate_(options.handshake_rate) {}

SslPtr TlsRelay::NewConnectionSsl() {
  absl::MutexLock lock(&context_mutex_);
  const absl::Time now = RelayNow();
  if (options_.reload_interval > absl::ZeroDuration() && now >= next_reload_check_) {
    next_reload_check_ = now + options_.reload_interval;
    const std::string stamp = FilesStamp(options_);
    if (!stamp.empty() && stamp != files_stamp_) {
      absl::StatusOr<SslCtxPtr> reloaded = ServerContext(options_);
      if (reloaded.ok()) {
        context_ = *std::move(reloaded);
        files_stamp_ = stamp;
        MECAI_LOG(Info) << "TLS relay: reloaded " << options_.certificate_chain_file << " and "
                        << options_.private_key_file << " for new connections";
      } else {
        // Checked again at the next interval: the second file of a rotation may be on its way.
        MECAI_LOG(Warning) << "TLS relay: keeping the last good certificate: "
                           << reloaded.status().message();
      }
    }
  }
  return SslPtr(SSL_new(context_.get()));
}

TlsRelay::~TlsRelay() {
  if (stop_fd_ >= 0) {
    const uint64_t one = 1;
    if (write(stop_fd_, &one, sizeof(one)) < 0) {
      MECAI_LOG(Error) << "cannot stop the TLS relay: " << std::strerror(errno);
    }
  }
  if (loop_.joinable()) loop_.join();
  // The loop has ended: what it left is closed here.
  while (!connections_.empty()) Finish(connections_.begin()->first);
  if (listening_fd_ >= 0) close(listening_fd_);
  if (stop_fd_ >= 0) close(stop_fd_);
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

void TlsRelay::Loop() {
  BlockSigpipeInThisThread();
  epoll_event events[kEventsPerTurn];
  while (true) {
    const absl::Time now = RelayNow();
    // The listening socket is watched unless accepting rests (out of descriptors or memory).
    const bool watch_listening = now >= accept_paused_until_;
    if (watch_listening != listening_watched_) {
      epoll_event listening = {};
      listening.events = EPOLLIN;
      listening.data.u64 = kListeningTag;
      epoll_ctl(epoll_fd_, watch_listening ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, listening_fd_,
                &listening);
      listening_watched_ = watch_listening;
    }
    // Deadlines that passed end their connections: a handshake not completed in time is a
    // refusal; a lifetime or a lingering close that ran out just closes.
    while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
      const uint64_t id = deadlines_.begin()->second;
      Connection& connection = *connections_.at(id);
      if (connection.stage == Connection::Stage::kHandshake && on_refusal_) {
        on_refusal_(TlsRelayRefusal::kHandshakeFailed);
      }
      Finish(id);
    }
    absl::Time wake = now + absl::Seconds(1);
    if (!deadlines_.empty()) wake = std::min(wake, deadlines_.begin()->first);
    if (!listening_watched_) wake = std::min(wake, accept_paused_until_);
    const int timeout = again_.empty() ? MillisecondsUntil(wake) : 0;
    const int ready = epoll_wait(epoll_fd_, events, kEventsPerTurn, timeout);
    if (ready < 0 && errno != EINTR) {
      // Nothing is served any more: the process stops rather than look healthy without its
      // endpoint, and its supervisor starts it again.
      MECAI_LOG(Error) << "TLS relay: epoll_wait: " << std::strerror(errno)
                       << "; the relay cannot serve, stopping the process";
      std::abort();
    }
    std::vector<uint64_t> again;
    again.swap(again_);
    for (int i = 0; i < ready; ++i) {
      const uint64_t tag = events[i].data.u64;
      if (tag == kStopTag) return;
      if (tag == kListeningTag) {
        Accept();
        continue;
      }
      auto it = connections_.find(tag / 2);
      if (it != connections_.end()) Drive(*it->second);  // Else finished earlier in this turn.
    }
    for (uint64_t id : again) {
      auto it = connections_.find(id);
      if (it == connections_.end()) continue;
      it->second->queued_again = false;
      Drive(*it->second);
    }
  }
}

void TlsRelay::Accept() {
  for (int i = 0; i < kAcceptsPerTurn; ++i) {
    sockaddr_storage address = {};
    socklen_t length = sizeof(address);
    const int fd = accept4(listening_fd_, reinterpret_cast<sockaddr*>(&address), &length,
                           SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      // Out of descriptors or memory: the connection waits in the backlog, and the listening
      // socket rests a moment rather than wake the loop over and over while it stays readable.
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        accept_paused_until_ = RelayNow() + kAcceptPause;
      }
      return;  // EAGAIN, ECONNABORTED ...: at the next turn.
    }
    std::string key = AddressKey(address, length);
    std::optional<TlsRelayRefusal> refused;
    if (connections_.size() >= options_.max_connections) {
      refused = TlsRelayRefusal::kConnectionLimit;
    } else if (options_.max_connections_per_address > 0) {
      auto it = open_per_address_.find(key);
      if (it != open_per_address_.end() && it->second >= options_.max_connections_per_address) {
        refused = TlsRelayRefusal::kAddressConnectionLimit;
      }
    }
    // Last, so that a connection the limits above refuse costs its address no token.
    if (!refused.has_value() && !handshake_rate_.Admit(key, RelayNow())) {
      refused = TlsRelayRefusal::kAddressHandshakeRate;
    }
    if (refused.has_value()) {
      close(fd);
      if (on_refusal_) on_refusal_(*refused);
      continue;
    }
    auto connection = std::make_unique<Connection>();
    connection->id = next_id_++;
    connection->client_fd = fd;
    connection->address = address;
    connection->length = length;
    connection->address_key = key;
    connection->accepted = RelayNow();
    connection->ssl = NewConnectionSsl();
    ++open_per_address_[key];
    Connection& added = *connection;
    connections_.emplace(added.id, std::move(connection));
    if (added.ssl == nullptr || SSL_set_fd(added.ssl.get(), fd) != 1) {
      ERR_clear_error();
      if (on_refusal_) on_refusal_(TlsRelayRefusal::kHandshakeFailed);
      Finish(added.id);
      continue;
    }
    SetDeadline(added, added.accepted + options_.handshake_timeout);
    Drive(added);
  }
}

void TlsRelay::Drive(Connection& connection) {
  bool going = true;
  switch (connection.stage) {
    case Connection::Stage::kHandshake:
      going = Handshake(connection);
      break;
    case Connection::Stage::kRelay:
      going = Relay(connection);
      break;
    case Connection::Stage::kLinger:
      going = Linger(connection);
      break;
  }
  if (!going) Finish(connection.id);
}

bool TlsRelay::Handshake(Connection& connection) {
  ERR_clear_error();
  const int result = SSL_accept(connection.ssl.get());
  if (result != 1) {
    const int error = SSL_get_error(connection.ssl.get(), result);
    ERR_clear_error();
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
      Watch(connection, false, error == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT);
      return true;
    }
    if (on_refusal_) on_refusal_(TlsRelayRefusal::kHandshakeFailed);
    return false;
  }
  ERR_clear_error();
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    MECAI_LOG(Error) << "TLS relay: socketpair: " << std::strerror(errno);
    return false;
  }
  if (!SetNonBlocking(pair[0])) {
    close(pair[0]);
    close(pair[1]);
    return false;
  }
  connection.server_fd = pair[0];
  connection.stage = Connection::Stage::kRelay;
  SetDeadline(connection, connection.accepted + options_.max_connection_lifetime);
  deliver_(pair[1], connection.address, connection.length);  // The server owns pair[1] now.
  return Relay(connection);
}

bool TlsRelay::Relay(Connection& connection) {
  SSL* ssl = connection.ssl.get();
  char buffer[kRelayBufferBytes];
  for (int round = 0; round < kRoundsPerTurn; ++round) {
    bool progressed = false;
    uint32_t client_events = 0;
    uint32_t server_events = 0;
    // Client → server.
    if (!connection.client_ended && !connection.server_input_closed &&
        connection.to_server_sent == connection.to_server.size()) {
      connection.to_server.clear();
      connection.to_server_sent = 0;
      ERR_clear_error();
      const int read = SSL_read(ssl, buffer, sizeof(buffer));
      if (read > 0) {
        connection.to_server.assign(buffer, static_cast<size_t>(read));
        progressed = true;
      } else {
        const int error = SSL_get_error(ssl, read);
        if (error == SSL_ERROR_WANT_READ) {
          client_events |= EPOLLIN;
        } else if (error == SSL_ERROR_WANT_WRITE) {
          client_events |= EPOLLOUT;
        } else {  // close_notify, end of stream or a TLS error: the client is done sending.
          ERR_clear_error();
          connection.client_ended = true;
          progressed = true;
        }
      }
    }
    if (connection.to_server_sent < connection.to_server.size()) {
      const ssize_t sent =
          send(connection.server_fd, connection.to_server.data() + connection.to_server_sent,
               connection.to_server.size() - connection.to_server_sent, MSG_NOSIGNAL);
      if (sent > 0) {
        connection.to_server_sent += static_cast<size_t>(sent);
        progressed = true;
      } else if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        server_events |= EPOLLOUT;
      } else if (sent < 0 && errno == EINTR) {
        progressed = true;  // Tried again in the next round.
      } else if (sent < 0) {
        // The server closed its end (it answered without reading everything, a 413 say).
        connection.server_input_closed = true;
        connection.to_server.clear();
        connection.to_server_sent = 0;
        progressed = true;
      }
    }
    if (connection.client_ended && connection.to_server_sent == connection.to_server.size() &&
        !connection.server_write_shut) {
      shutdown(connection.server_fd, SHUT_WR);
      connection.server_write_shut = true;
    }
    // Server → client.
    if (!connection.server_ended && connection.to_client_sent == connection.to_client.size()) {
      connection.to_client.clear();
      connection.to_client_sent = 0;
      const ssize_t received = recv(connection.server_fd, buffer, sizeof(buffer), 0);
      if (received > 0) {
        connection.to_client.assign(buffer, static_cast<size_t>(received));
        progressed = true;
      } else if (received < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        server_events |= EPOLLIN;
      } else if (received < 0 && errno == EINTR) {
        progressed = true;  // Tried again in the next round.
      } else {
        connection.server_ended = true;
        progressed = true;
      }
    }
    if (connection.to_client_sent < connection.to_client.size()) {
      ERR_clear_error();
      const int written =
          SSL_write(ssl, connection.to_client.data() + connection.to_client_sent,
                    static_cast<int>(connection.to_client.size() - connection.to_client_sent));
      if (written > 0) {
        connection.to_client_sent += static_cast<size_t>(written);
        progressed = true;
      } else {
        const int error = SSL_get_error(ssl, written);
        if (error == SSL_ERROR_WANT_WRITE) {
          client_events |= EPOLLOUT;
        } else if (error == SSL_ERROR_WANT_READ) {
          client_events |= EPOLLIN;
        } else {
          ERR_clear_error();
          return false;  // The client went away.
        }
      }
    }
    if (connection.server_ended && connection.to_client_sent == connection.to_client.size()) {
      // Everything the server said was delivered: close_notify (RFC 8446 §6.1), best effort.
      ERR_clear_error();
      SSL_shutdown(ssl);
      ERR_clear_error();
      if (connection.client_ended) return false;
      shutdown(connection.client_fd, SHUT_WR);
      close(connection.server_fd);  // Also ends its epoll registration.
      connection.server_fd = -1;
      connection.server_watched = 0;
      connection.stage = Connection::Stage::kLinger;
      SetDeadline(connection, std::min(connection.accepted + options_.max_connection_lifetime,
                                       RelayNow() + kLinger));
      return Linger(connection);
    }
    if (progressed) continue;
    // Nothing moved: watch the sides it waits for (a side not waited for is left out, so that
    // its hang-up does not wake the loop over and over).
    Watch(connection, false, client_events);
    Watch(connection, true, server_events);
    return true;
  }
  // Still moving: the other connections have their turn first (once per turn, however often it
  // was driven in this one).
  if (!connection.queued_again) {
    connection.queued_again = true;
    again_.push_back(connection.id);
  }
  return true;
}

bool TlsRelay::Linger(Connection& connection) {
  char discarded[kRelayBufferBytes];
  while (connection.lingered_bytes < kMaxLingerBytes) {
    const ssize_t read = recv(connection.client_fd, discarded, sizeof(discarded), 0);
    if (read > 0) {
      connection.lingered_bytes += static_cast<size_t>(read);
    } else if (read < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      Watch(connection, false, EPOLLIN);
      return true;
    } else if (read == 0 || errno != EINTR) {
      return false;
    }
  }
  return false;
}

void TlsRelay::Watch(Connection& connection, bool server_side, uint32_t events) {
  uint32_t& watched = server_side ? connection.server_watched : connection.client_watched;
  const int fd = server_side ? connection.server_fd : connection.client_fd;
  if (events == watched || fd < 0) return;
  epoll_event event = {};
  event.events = events;
  event.data.u64 = 2 * connection.id + (server_side ? 1 : 0);
  const int operation =
      events == 0 ? EPOLL_CTL_DEL : (watched == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD);
  if (epoll_ctl(epoll_fd_, operation, fd, &event) != 0) {
    MECAI_LOG(Error) << "TLS relay: epoll_ctl: " << std::strerror(errno)
                     << (events != 0 ? "; the connection is closed" : "");
    // A connection the loop cannot watch would wait for its deadline: it ends at the next turn.
    if (events != 0) {
      connection.unwatchable = true;
      SetDeadline(connection, absl::InfinitePast());
    }
  }
  watched = events;
}

void TlsRelay::SetDeadline(Connection& connection, absl::Time deadline) {
  if (connection.unwatchable) deadline = absl::InfinitePast();
  deadlines_.erase({connection.deadline, connection.id});
  connection.deadline = deadline;
  deadlines_.insert({deadline, connection.id});
}

void TlsRelay::Finish(uint64_t id) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  Connection& connection = *it->second;
  deadlines_.erase({connection.deadline, id});
  connection.ssl.reset();
  // Closing a descriptor also ends its epoll registration.
  if (connection.client_fd >= 0) close(connection.client_fd);
  if (connection.server_fd >= 0) close(connection.server_fd);
  auto per_address = open_per_address_.find(connection.address_key);
  if (per_address != open_per_address_.end() && --per_address->second == 0) {
    open_per_address_.erase(per_address);
  }
  connections_.erase(it);
}

}  // namespace mecai
