#include "common/testing/in_memory_handshake.h"

#include "common/crypto/openssl_error.h"

namespace mecai {

absl::Status HandshakeInMemory(SSL* client, SSL* server) {
  BIO* client_bio = nullptr;
  BIO* server_bio = nullptr;
  if (BIO_new_bio_pair(&client_bio, 0, &server_bio, 0) != 1) return OpenSslError("BIO pair");
  SSL_set_bio(client, client_bio, client_bio);  // Each SSL takes ownership of its end.
  SSL_set_bio(server, server_bio, server_bio);
  SSL_set_connect_state(client);
  SSL_set_accept_state(server);
  bool client_done = false;
  bool server_done = false;
  ClearOpenSslErrors();
  for (int round = 0; round < 64 && !(client_done && server_done); ++round) {
    if (!client_done) {
      const int result = SSL_do_handshake(client);
      if (result == 1) {
        client_done = true;
      } else if (SSL_get_error(client, result) != SSL_ERROR_WANT_READ) {
        return OpenSslError("client handshake", absl::StatusCode::kUnavailable);
      }
    }
    if (!server_done) {
      const int result = SSL_do_handshake(server);
      if (result == 1) {
        server_done = true;
      } else if (SSL_get_error(server, result) != SSL_ERROR_WANT_READ) {
        return OpenSslError("server handshake", absl::StatusCode::kUnavailable);
      }
    }
  }
  if (!(client_done && server_done)) return absl::DeadlineExceededError("handshake stalled");
  return absl::OkStatus();
}

}  // namespace mecai
