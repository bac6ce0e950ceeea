#include "common/testing/tls_test_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace mecai {

absl::StatusOr<std::unique_ptr<TlsTestClient>> TlsTestClient::Connect(
    const std::string& ca_file, const std::string& server_name, int port) {
  return ConnectFrom("127.0.0.1", ca_file, server_name, port);
}

absl::StatusOr<std::unique_ptr<TlsTestClient>> TlsTestClient::ConnectFrom(
    const std::string& source, const std::string& ca_file, const std::string& server_name,
    int port) {
  auto client = std::unique_ptr<TlsTestClient>(new TlsTestClient());
  client->context_.reset(SSL_CTX_new(TLS_client_method()));
  if (client->context_ == nullptr ||
      SSL_CTX_load_verify_locations(client->context_.get(), ca_file.c_str(), nullptr) != 1) {
    ERR_clear_error();
    return absl::InternalError(absl::StrCat("cannot load the CA ", ca_file));
  }
  SSL_CTX_set_verify(client->context_.get(), SSL_VERIFY_PEER, nullptr);
  const bool ipv6 = source.find(':') != std::string::npos;
  sockaddr_storage local = {};
  sockaddr_storage remote = {};
  socklen_t length = 0;
  if (ipv6) {
    auto* from = reinterpret_cast<sockaddr_in6*>(&local);
    auto* to = reinterpret_cast<sockaddr_in6*>(&remote);
    from->sin6_family = to->sin6_family = AF_INET6;
    to->sin6_port = htons(static_cast<uint16_t>(port));
    to->sin6_addr = in6addr_loopback;
    if (inet_pton(AF_INET6, source.c_str(), &from->sin6_addr) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("'", source, "' is not an IPv6 address"));
    }
    length = sizeof(sockaddr_in6);
  } else {
    auto* from = reinterpret_cast<sockaddr_in*>(&local);
    auto* to = reinterpret_cast<sockaddr_in*>(&remote);
    from->sin_family = to->sin_family = AF_INET;
    to->sin_port = htons(static_cast<uint16_t>(port));
    to->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (inet_pton(AF_INET, source.c_str(), &from->sin_addr) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("'", source, "' is not an IPv4 address"));
    }
    length = sizeof(sockaddr_in);
  }
  client->fd_ = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (client->fd_ < 0 || bind(client->fd_, reinterpret_cast<sockaddr*>(&local), length) != 0 ||
      connect(client->fd_, reinterpret_cast<sockaddr*>(&remote), length) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot connect from ", source, " to the loopback port ", port));
  }
  timeval receive_timeout = {20, 0};
  setsockopt(client->fd_, SOL_SOCKET, SO_RCVTIMEO, &receive_timeout, sizeof(receive_timeout));
  client->ssl_.reset(SSL_new(client->context_.get()));
  SSL_set_fd(client->ssl_.get(), client->fd_);
  SSL_set_tlsext_host_name(client->ssl_.get(), server_name.c_str());
  SSL_set1_host(client->ssl_.get(), server_name.c_str());
  if (SSL_connect(client->ssl_.get()) != 1) {
    ERR_clear_error();
    return absl::UnavailableError(
        absl::StrCat("TLS handshake from ", source, " with the loopback port ", port, " failed"));
  }
  return client;
}

TlsTestClient::~TlsTestClient() {
  ssl_.reset();
  if (fd_ >= 0) close(fd_);
}

bool TlsTestClient::Write(const std::string& bytes) {
  const bool written = SSL_write(ssl_.get(), bytes.data(), static_cast<int>(bytes.size())) ==
                       static_cast<int>(bytes.size());
  ERR_clear_error();
  return written;
}

bool TlsTestClient::Readable(absl::Duration wait) {
  if (SSL_pending(ssl_.get()) > 0) return true;
  pollfd entry = {fd_, POLLIN, 0};
  return poll(&entry, 1, static_cast<int>(absl::ToInt64Milliseconds(wait))) > 0;
}

std::string TlsTestClient::ReadAll() {
  std::string received;
  char buffer[4096];
  while (true) {
    const int n = SSL_read(ssl_.get(), buffer, sizeof(buffer));
    if (n <= 0) break;
    received.append(buffer, static_cast<size_t>(n));
  }
  ERR_clear_error();
  return received;
}

absl::StatusOr<std::string> TlsExchange(const std::string& ca_file, const std::string& server_name,
                                        int port, const std::string& request) {
  absl::StatusOr<std::unique_ptr<TlsTestClient>> client =
      TlsTestClient::Connect(ca_file, server_name, port);
  if (!client.ok()) return client.status();
  if (!(*client)->Write(request)) return absl::UnavailableError("the request was not written");
  return (*client)->ReadAll();
}

}  // namespace mecai
