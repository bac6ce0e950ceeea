// The approval web page's HTTP server against slow-loris clients (docs/SECURITY.md, bad-input
// table): connections that never finish a request are closed after the idle timeout, one client
// address cannot hold more than its share of connections, and a real request from another client
// is answered while an attacker holds everything it may.
#include "common/net/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

// A connected TCP socket from `source` (a numeric 127.x.y.z address) to 127.0.0.1:`port`; -1 on
// failure. Every address of 127.0.0.0/8 is on the loopback interface, so each source is a client
// address of its own for the server.
int ConnectFrom(const std::string& source, int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in local = {};
  local.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &local.sin_addr);
  sockaddr_in server = {};
  server.sin_family = AF_INET;
  server.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &server.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&server), sizeof(server)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

// Reads until the server closes `fd` or `timeout` passes; true when it was closed (end of stream
// or reset). What the server sent before closing is appended to `received` when given.
bool ClosedByServerWithin(int fd, absl::Duration timeout, std::string* received = nullptr) {
  const absl::Time deadline = absl::Now() + timeout;
  char buffer[4096];
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    pollfd entry = {fd, POLLIN, 0};
    const int ready = poll(&entry, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (ready <= 0) continue;
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) return true;
    if (received != nullptr) received->append(buffer, static_cast<size_t>(n));
  }
}

// One complete GET / from `source`; the response's status line, or empty when the server closed
// without answering (or did not answer within 20 s).
std::string StatusLineOfGet(const std::string& source, int port) {
  const int fd = ConnectFrom(source, port);
  if (fd < 0) return "";
  std::string response;
  if (SendAll(fd, "GET / HTTP/1.1\r\nHost: certapproval.test\r\nConnection: close\r\n\r\n")) {
    ClosedByServerWithin(fd, absl::Seconds(20), &response);
  }
  close(fd);
  return response.substr(0, response.find("\r\n"));
}

class HttpServerSlowClientTest : public ::testing::Test {
 protected:
  void Start(HttpServerOptions options) {
    absl::StatusOr<std::unique_ptr<HttpServer>> started = HttpServer::Start(
        "127.0.0.1:0",
        [](const HttpServerRequest&) {
          HttpServerResponse response;
          response.content_type = "text/plain; charset=utf-8";
          response.body = "served\n";
          return response;
        },
        options);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = std::move(*started);
  }

  // Opens `count` connections from `source`; half of them send nothing, the other half the start
  // of a request whose header block never ends (a slow-loris client).
  std::vector<int> OpenSlowConnections(const std::string& source, int count) {
    std::vector<int> fds;
    for (int i = 0; i < count; ++i) {
      const int fd = ConnectFrom(source, server_->port());
      EXPECT_GE(fd, 0) << "connection " << i << " from " << source;
      if (fd < 0) continue;
      if (i % 2 == 1) {
        EXPECT_TRUE(SendAll(fd, "GET / HTTP/1.1\r\nHost: certapproval.test\r\nX-Slow: "));
      }
      fds.push_back(fd);
    }
    return fds;
  }

  void TearDown() override {
    for (int fd : open_) close(fd);
  }

  std::unique_ptr<HttpServer> server_;
  std::vector<int> open_;
};

TEST_F(HttpServerSlowClientTest, IdleAndUnfinishedConnectionsAreClosedAfterTheIdleTimeout) {
  HttpServerOptions options;
  options.idle_timeout = absl::Seconds(2);
  options.max_connections_per_address = 8;
  Start(options);
  open_ = OpenSlowConnections("127.0.0.1", 6);
  ASSERT_EQ(open_.size(), 6u);
  // A real request while they wait is answered.
  EXPECT_EQ(StatusLineOfGet("127.0.0.2", server_->port()), "HTTP/1.1 200 OK");
  // The idle timeout plus a margin for a loaded machine; the timeout is what closes them (a
  // connection the server kept would stay open indefinitely).
  for (int fd : open_) {
    std::string received;
    EXPECT_TRUE(ClosedByServerWithin(fd, absl::Seconds(2 + 15), &received));
    EXPECT_EQ(received, "") << "an unfinished request is closed, not answered";
  }
}

TEST_F(HttpServerSlowClientTest, OneAddressCannotHoldMoreThanItsShareOfConnections) {
  HttpServerOptions options;
  options.idle_timeout = absl::Seconds(120);  // Far beyond the test: nothing times out.
  options.max_connections = 32;  // 8 per server thread (4 threads), above the per-address 4.
  options.max_connections_per_address = 4;
  Start(options);
  open_ = OpenSlowConnections("127.0.0.1", 4);
  ASSERT_EQ(open_.size(), 4u);
  // Beyond its share, the attacker's next connections are closed at once: the kernel completes
  // the TCP handshake, the server accepts and closes without reading.
  for (int i = 0; i < 4; ++i) {
    const int extra = ConnectFrom("127.0.0.1", server_->port());
    ASSERT_GE(extra, 0);
    EXPECT_TRUE(ClosedByServerWithin(extra, absl::Seconds(30))) << "extra connection " << i;
    close(extra);
  }
  // So is a complete request from that address while it holds its share.
  EXPECT_EQ(StatusLineOfGet("127.0.0.1", server_->port()), "");
  // Other clients are served while the attacker's connections stay open.
  EXPECT_EQ(StatusLineOfGet("127.0.0.2", server_->port()), "HTTP/1.1 200 OK");
  EXPECT_EQ(StatusLineOfGet("127.0.0.3", server_->port()), "HTTP/1.1 200 OK");
  for (int fd : open_) {
    EXPECT_FALSE(ClosedByServerWithin(fd, absl::Milliseconds(100)))
        << "the attacker's held connections are still open (nothing timed out)";
  }
  // Once the attacker lets go, its address is served again.
  for (int fd : open_) close(fd);
  open_.clear();
  std::string status;
  for (int attempt = 0; attempt < 50 && status.empty(); ++attempt) {
    status = StatusLineOfGet("127.0.0.1", server_->port());
    if (status.empty()) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(status, "HTTP/1.1 200 OK");
}

TEST(HttpServerLimitsTest, APerAddressLimitAThreadCannotServeBesideOthersIsRefused) {
  HttpServerOptions options;
  options.max_connections = 16;  // 4 per thread.
  options.max_connections_per_address = 4;
  absl::StatusOr<std::unique_ptr<HttpServer>> started = HttpServer::Start(
      "127.0.0.1:0", [](const HttpServerRequest&) { return HttpServerResponse(); }, options);
  EXPECT_EQ(started.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace mecai
