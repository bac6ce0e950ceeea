#include "common/net/tls_relay.h"

#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/logging.h"
#include "common/crypto/openssl_error.h"

namespace mecai {
namespace {

// Plaintext moved per read in each direction.
constexpr size_t kRelayBufferBytes = 16 << 10;
// The only application protocol the relay's server speaks (RFC 7301 ALPN identifier).
constexpr unsigned char kHttp11Alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

// OpenSSL writes to the socket with write(2), which cannot pass MSG_NOSIGNAL: a client that went
// away would otherwise end the process with SIGPIPE. Relay threads keep it blocked (the write
// fails with EPIPE instead).
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

int MillisecondsUntil(absl::Time deadline) {
  const int64_t left =
      absl::ToInt64Milliseconds(absl::Ceil(deadline - absl::Now(), absl::Milliseconds(1)));
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

// The client's numeric address, the key of the per-address limit.
std::string NumericAddress(const sockaddr_storage& address, socklen_t length) {
  char host[NI_MAXHOST] = {0};
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&address), length, host, sizeof(host), nullptr,
                  0, NI_NUMERICHOST) != 0) {
    return "";
  }
  return host;
}

// A lingering close: the server answered before the client finished sending (413 on a declared
// length, say). Closing now, with the client's bytes unread, would make the kernel reset the
// connection, and a reset can destroy the answer before the client reads it. So the sending side
// is shut, and what the client still sends is read and discarded until it stops, for a bounded
// time and number of bytes, before the caller closes.
void LingerThenClose(int client_fd, absl::Time deadline) {
  shutdown(client_fd, SHUT_WR);
  const absl::Time until = std::min(deadline, absl::Now() + kLinger);
  char discarded[kRelayBufferBytes];
  size_t total = 0;
  while (total < kMaxLingerBytes) {
    pollfd entry = {client_fd, POLLIN, 0};
    const int timeout = MillisecondsUntil(until);
    if (timeout == 0 || poll(&entry, 1, timeout) <= 0) return;
    const ssize_t read = recv(client_fd, discarded, sizeof(discarded), 0);
    if (read <= 0 && !(read < 0 && (errno == EINTR || errno == EAGAIN))) return;
    if (read > 0) total += static_cast<size_t>(read);
  }
}

}  // namespace

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
  if (relay->stop_fd_ < 0 || !SetNonBlocking(listening_fd)) {
    return absl::InternalError(absl::StrCat("eventfd: ", std::strerror(errno)));
  }
  relay->acceptor_ = std::thread([raw = relay.get()] { raw->AcceptLoop(); });
  return relay;
}

TlsRelay::TlsRelay(const TlsRelayOptions& options, SslCtxPtr context, Deliver deliver,
                   OnRefusal on_refusal)
    : options_(options),
      deliver_(std::move(deliver)),
      on_refusal_(std::move(on_refusal)),
      context_(std::move(context)),
      files_stamp_(FilesStamp(options)),
      next_reload_check_(absl::Now() + options.reload_interval) {}

SslPtr TlsRelay::NewConnectionSsl() {
  absl::MutexLock lock(&context_mutex_);
  const absl::Time now = absl::Now();
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
  if (acceptor_.joinable()) acceptor_.join();
  std::map<uint64_t, std::thread> threads;
  {
    absl::MutexLock lock(&mutex_);
    threads.swap(threads_);
  }
  for (auto& [id, thread] : threads) thread.join();
  if (listening_fd_ >= 0) close(listening_fd_);
  if (stop_fd_ >= 0) close(stop_fd_);
}

void TlsRelay::JoinFinished() {
  std::vector<std::thread> ended;
  {
    absl::MutexLock lock(&mutex_);
    for (uint64_t id : finished_) {
      auto it = threads_.find(id);
      if (it == threads_.end()) continue;
      ended.push_back(std::move(it->second));
      threads_.erase(it);
    }
    finished_.clear();
  }
  for (std::thread& thread : ended) thread.join();
}

void TlsRelay::AcceptLoop() {
  BlockSigpipeInThisThread();
  while (true) {
    pollfd fds[2] = {{listening_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    // Wakes now and then to join the threads of ended connections even when nobody connects.
    const int ready = poll(fds, 2, 1000);
    JoinFinished();
    if (ready < 0 && errno != EINTR) {
      MECAI_LOG(Error) << "TLS relay: poll: " << std::strerror(errno);
      return;
    }
    if (fds[1].revents != 0) return;
    if (ready <= 0 || (fds[0].revents & POLLIN) == 0) continue;
    sockaddr_storage address = {};
    socklen_t length = sizeof(address);
    const int fd = accept4(listening_fd_, reinterpret_cast<sockaddr*>(&address), &length,
                           SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      // Out of descriptors or memory: the connection waits in the backlog, and the loop waits a
      // moment rather than spin on a listening socket that stays readable.
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        pollfd stop = {stop_fd_, POLLIN, 0};
        poll(&stop, 1, 100);
      }
      continue;  // EAGAIN, ECONNABORTED ...: try again at the next turn.
    }
    std::string key = NumericAddress(address, length);
    std::optional<TlsRelayRefusal> refused;
    {
      absl::MutexLock lock(&mutex_);
      if (open_ >= options_.max_connections) {
        refused = TlsRelayRefusal::kConnectionLimit;
      } else if (options_.max_connections_per_address > 0 &&
                 open_per_address_[key] >= options_.max_connections_per_address) {
        refused = TlsRelayRefusal::kAddressConnectionLimit;
      } else {
        ++open_;
        ++open_per_address_[key];
        const uint64_t id = next_id_++;
        threads_.emplace(id, std::thread([this, id, fd, address, length, key] {
                           ServeConnection(id, fd, address, length, key);
                         }));
      }
      if (open_per_address_.count(key) != 0 && open_per_address_[key] == 0) {
        open_per_address_.erase(key);
      }
    }
    if (refused.has_value()) {
      close(fd);
      if (on_refusal_) on_refusal_(*refused);
    }
  }
}

bool TlsRelay::WaitFor(int fd, short events, absl::Time deadline) const {
  while (true) {
    const int timeout = MillisecondsUntil(deadline);
    pollfd fds[2] = {{fd, events, 0}, {stop_fd_, POLLIN, 0}};
    const int ready = poll(fds, 2, timeout);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0 || fds[1].revents != 0) return false;
    if (fds[0].revents != 0) return true;
  }
}

void TlsRelay::ServeConnection(uint64_t id, int client_fd, sockaddr_storage address,
                               socklen_t length, std::string address_key) {
  BlockSigpipeInThisThread();
  const absl::Time accepted = absl::Now();
  SslPtr ssl = NewConnectionSsl();
  bool handshaken = false;
  if (ssl != nullptr && SSL_set_fd(ssl.get(), client_fd) == 1) {
    const absl::Time deadline = accepted + options_.handshake_timeout;
    while (true) {
      ERR_clear_error();
      const int result = SSL_accept(ssl.get());
      if (result == 1) {
        handshaken = true;
        break;
      }
      const int error = SSL_get_error(ssl.get(), result);
      const short events =
          error == SSL_ERROR_WANT_READ ? POLLIN : (error == SSL_ERROR_WANT_WRITE ? POLLOUT : 0);
      if (events == 0 || !WaitFor(client_fd, events, deadline)) break;
    }
    ERR_clear_error();
  }
  if (!handshaken) {
    if (on_refusal_) on_refusal_(TlsRelayRefusal::kHandshakeFailed);
  } else {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0) {
      if (SetNonBlocking(pair[0])) {
        deliver_(pair[1], address, length);  // The server owns pair[1] from here on.
        Relay(ssl.get(), client_fd, pair[0], accepted + options_.max_connection_lifetime);
      } else {
        close(pair[1]);
      }
      close(pair[0]);
    } else {
      MECAI_LOG(Error) << "TLS relay: socketpair: " << std::strerror(errno);
    }
  }
  ssl.reset();
  close(client_fd);
  absl::MutexLock lock(&mutex_);
  --open_;
  auto it = open_per_address_.find(address_key);
  if (it != open_per_address_.end() && --it->second == 0) open_per_address_.erase(it);
  finished_.push_back(id);
}

void TlsRelay::Relay(SSL* ssl, int client_fd, int server_fd, absl::Time deadline) {
  // Each direction holds at most one buffer: nothing more is read from a side until what was read
  // from it has been written to the other (back-pressure both ways).
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
  char buffer[kRelayBufferBytes];
  while (true) {
    bool progressed = false;
    short client_events = 0;
    short server_events = 0;
    // Client → server.
    if (!client_ended && !server_input_closed && to_server_sent == to_server.size()) {
      to_server.clear();
      to_server_sent = 0;
      ERR_clear_error();
      const int read = SSL_read(ssl, buffer, sizeof(buffer));
      if (read > 0) {
        to_server.assign(buffer, static_cast<size_t>(read));
        progressed = true;
      } else {
        const int error = SSL_get_error(ssl, read);
        if (error == SSL_ERROR_WANT_READ) {
          client_events |= POLLIN;
        } else if (error == SSL_ERROR_WANT_WRITE) {
          client_events |= POLLOUT;
        } else {  // close_notify, end of stream or a TLS error: the client is done sending.
          client_ended = true;
          progressed = true;
        }
      }
    }
    if (to_server_sent < to_server.size()) {
      const ssize_t sent = send(server_fd, to_server.data() + to_server_sent,
                                to_server.size() - to_server_sent, MSG_NOSIGNAL);
      if (sent > 0) {
        to_server_sent += static_cast<size_t>(sent);
        progressed = true;
      } else if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        server_events |= POLLOUT;
      } else if (sent < 0 && errno != EINTR) {
        // The server closed its end (it answered without reading everything, a 413 say).
        server_input_closed = true;
        to_server.clear();
        to_server_sent = 0;
        progressed = true;
      }
    }
    if (client_ended && to_server_sent == to_server.size() && !server_write_shut) {
      shutdown(server_fd, SHUT_WR);
      server_write_shut = true;
    }
    // Server → client.
    if (!server_ended && to_client_sent == to_client.size()) {
      to_client.clear();
      to_client_sent = 0;
      const ssize_t received = recv(server_fd, buffer, sizeof(buffer), 0);
      if (received > 0) {
        to_client.assign(buffer, static_cast<size_t>(received));
        progressed = true;
      } else if (received < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        server_events |= POLLIN;
      } else if (received == 0 || errno != EINTR) {
        server_ended = true;
        progressed = true;
      }
    }
    if (to_client_sent < to_client.size()) {
      ERR_clear_error();
      const int written = SSL_write(ssl, to_client.data() + to_client_sent,
                                    static_cast<int>(to_client.size() - to_client_sent));
      if (written > 0) {
        to_client_sent += static_cast<size_t>(written);
        progressed = true;
      } else {
        const int error = SSL_get_error(ssl, written);
        if (error == SSL_ERROR_WANT_WRITE) {
          client_events |= POLLOUT;
        } else if (error == SSL_ERROR_WANT_READ) {
          client_events |= POLLIN;
        } else {
          ERR_clear_error();
          return;  // The client went away.
        }
      }
    }
    if (server_ended && to_client_sent == to_client.size()) {
      // Everything the server said was delivered: close_notify (RFC 8446 §6.1), best effort.
      ERR_clear_error();
      SSL_shutdown(ssl);
      ERR_clear_error();
      if (!client_ended) LingerThenClose(client_fd, deadline);
      return;
    }
    if (progressed) continue;
    // Nothing moved: wait for a side we wait on (a side we do not wait on is left out, so that its
    // hang-up does not wake the loop over and over), the deadline or the relay's end.
    pollfd fds[3] = {{client_events != 0 ? client_fd : -1, client_events, 0},
                     {server_events != 0 ? server_fd : -1, server_events, 0},
                     {stop_fd_, POLLIN, 0}};
    const int timeout = MillisecondsUntil(deadline);
    if (timeout == 0) return;
    const int ready = poll(fds, 3, timeout);
    if (ready < 0 && errno != EINTR) return;
    if (fds[2].revents != 0) return;
  }
}

}  // namespace mecai
