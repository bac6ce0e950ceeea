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
  auto client = std::unique_ptr<TlsTestClient>(new TlsTestClient());
  client->context_.reset(SSL_CTX_new(TLS_client_method()));
  if (client->context_ == nullptr ||
      SSL_CTX_load_verify_locations(client->context_.get(), ca_file.c_str(), nullptr) != 1) {
    ERR_clear_error();
    return absl::InternalError(absl::StrCat("cannot load the CA ", ca_file));
  }
  SSL_CTX_set_verify(client->context_.get(), SSL_VERIFY_PEER, nullptr);
  client->fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (client->fd_ < 0 ||
      connect(client->fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot connect to 127.0.0.1:", port));
  }
  timeval receive_timeout = {20, 0};
  setsockopt(client->fd_, SOL_SOCKET, SO_RCVTIMEO, &receive_timeout, sizeof(receive_timeout));
  client->ssl_.reset(SSL_new(client->context_.get()));
  SSL_set_fd(client->ssl_.get(), client->fd_);
  SSL_set_tlsext_host_name(client->ssl_.get(), server_name.c_str());
  SSL_set1_host(client->ssl_.get(), server_name.c_str());
  if (SSL_connect(client->ssl_.get()) != 1) {
    ERR_clear_error();
    return absl::UnavailableError(absl::StrCat("TLS handshake with 127.0.0.1:", port, " failed"));
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
