// A blocking TLS client for tests of servers that ask for no client certificate (the bounded HTTP
// server's HTTPS, the coordinator's public endpoint): it verifies the server and sends and reads
// raw bytes, so a test can send what no well-behaved client would (a request trickled in byte by
// byte, a malformed one). OpenSSL through common/crypto/openssl_types.h; loopback only.
#ifndef MECAI_COMMON_TESTING_TLS_TEST_CLIENT_H_
#define MECAI_COMMON_TESTING_TLS_TEST_CLIENT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/crypto/openssl_types.h"

namespace mecai {

// Not thread-safe.
class TlsTestClient {
 public:
  // Connects to 127.0.0.1:`port` and completes a handshake that verifies the server's certificate
  // against `ca_file` for `server_name` (also sent as SNI). Reads time out after 20 s.
  static absl::StatusOr<std::unique_ptr<TlsTestClient>> Connect(const std::string& ca_file,
                                                                const std::string& server_name,
                                                                int port);
  // The same from `source`, a numeric loopback address: an IPv4 one (any of 127.0.0.0/8, each a
  // client address of its own for the server) connects to 127.0.0.1, "::1" to ::1.
  static absl::StatusOr<std::unique_ptr<TlsTestClient>> ConnectFrom(const std::string& source,
                                                                    const std::string& ca_file,
                                                                    const std::string& server_name,
                                                                    int port);
  ~TlsTestClient();
  TlsTestClient(const TlsTestClient&) = delete;
  TlsTestClient& operator=(const TlsTestClient&) = delete;

  // Writes all of `bytes`; false when the connection is gone.
  bool Write(const std::string& bytes);
  // True when something (data or the end of the connection) can be read now or within `wait`.
  bool Readable(absl::Duration wait);
  // Everything the server sends until it closes the connection (or a read times out).
  std::string ReadAll();

 private:
  TlsTestClient() = default;
  SslCtxPtr context_;
  SslPtr ssl_;
  int fd_ = -1;
};

// One exchange on a fresh connection: writes `request`, returns all the server answered.
absl::StatusOr<std::string> TlsExchange(const std::string& ca_file, const std::string& server_name,
                                        int port, const std::string& request);

}  // namespace mecai

#endif  // MECAI_COMMON_TESTING_TLS_TEST_CLIENT_H_
