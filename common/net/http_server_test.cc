// The bounded HTTP server against slow-loris clients (docs/SECURITY.md, bad-input table):
// connections that never finish a request are closed after the idle timeout, one client address
// cannot hold more than its share of connections, and a real request from another client is
// answered while an attacker holds everything it may. Over HTTPS (the coordinator's public
// endpoint, docs/PROTOCOL.md): no client certificate is asked for, a handshake or a request that
// does not arrive in time is cut off (a client trickling bytes gets 408), a declared body over the
// limit is refused before it is sent, connection limits close at once, a flood of handshakes from
// one address is refused beyond its burst while others are served, and a blocking handler does
// not hold up other connections. Asynchronous handlers: connections waiting for their answers hold
// no thread (200 of them on 2 threads), are not idle-timed out, and an answer after the client left
// or after the server stopped is harmless. The TLS relay's event loop: 200 TLS connections add no
// thread, and bodies larger than its buffers go through both ways. Loopback only.
#include "common/net/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>  // NOLINT(build/c++11): answers from another thread.
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/base/status.h"
#include "common/testing/mtls_files.h"
#include "common/testing/process_threads.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "common/testing/tls_test_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;

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

// ---------------------------------------------------------------------------------------------
// Asynchronous handlers: a connection waiting for its answer is suspended and holds no thread.

// Collects the requests an asynchronous handler received and their `respond`, for the test to
// answer when it chooses. Thread-safe.
class HeldRequests {
 public:
  struct Held {
    std::string path;
    absl::Time arrived;
    HttpRespond respond;
  };

  AsyncHttpHandler Handler() {
    return [this](const HttpServerRequest& request, HttpRespond respond) {
      absl::MutexLock lock(&mutex_);
      held_.push_back({request.path, absl::Now(), std::move(respond)});
    };
  }
  // Waits up to `timeout` for `count` requests to be held; all of them once there are.
  std::vector<Held> Await(size_t count, absl::Duration timeout) {
    absl::MutexLock lock(&mutex_);
    auto reached = [&] { return held_.size() >= count; };
    if (!mutex_.AwaitWithTimeout(absl::Condition(&reached), timeout)) return {};
    return held_;
  }

 private:
  absl::Mutex mutex_;
  std::vector<Held> held_ ABSL_GUARDED_BY(mutex_);
};

// An answer naming the path it answers.
HttpServerResponse AnswerTo(const std::string& path) {
  HttpServerResponse response;
  response.content_type = "text/plain; charset=utf-8";
  response.body = absl::StrCat("answer to ", path);
  return response;
}

// Sends "GET `path`" with "Connection: close" on a new connection; -1 on failure.
int SendGet(int port, const std::string& path) {
  const int fd = ConnectFrom("127.0.0.1", port);
  if (fd < 0) return -1;
  if (!SendAll(fd, absl::StrCat("GET ", path,
                                " HTTP/1.1\r\nHost: server\r\nConnection: close\r\n\r\n"))) {
    close(fd);
    return -1;
  }
  return fd;
}

// 200 connections, each answered 1 s after its request arrived, on a pool of 2 threads: every
// request reaches the handler before any is answered (a handler that held its thread would let
// 2 in), the process gains no thread per connection, and all are answered in about 1 s (with a
// thread waiting per answer, 2 threads would need 100 s).
TEST(AsyncHttpServerTest, TwoHundredWaitingConnectionsAreAnsweredByTwoThreads) {
  constexpr int kConnections = 200;
  HttpServerOptions options;
  options.threads = 2;
  options.max_connections = 1024;
  options.max_connections_per_address = 0;
  options.idle_timeout = absl::Seconds(30);
  HeldRequests held;
  ASSERT_OK_AND_ASSIGN(auto server, HttpServer::StartAsync("127.0.0.1:0", held.Handler(), options));
  const int threads_before = ThreadsOfThisProcess();
  std::vector<int> fds;
  for (int i = 0; i < kConnections; ++i) {
    const int fd = SendGet(server->port(), absl::StrCat("/", i));
    ASSERT_GE(fd, 0) << "connection " << i;
    fds.push_back(fd);
  }
  const std::vector<HeldRequests::Held> requests = held.Await(kConnections, absl::Seconds(20));
  ASSERT_EQ(requests.size(), kConnections) << "the requests did not all reach the handler at once";
  EXPECT_LE(ThreadsOfThisProcess(), threads_before + 2)
      << "threads before the connections: " << threads_before;
  // One thread answers them all, each 1 s after it arrived.
  const absl::Time started = absl::Now();
  std::thread responder([&requests] {
    for (const HeldRequests::Held& request : requests) {
      absl::SleepFor(request.arrived + absl::Seconds(1) - absl::Now());
      request.respond(AnswerTo(request.path));
    }
  });
  for (int i = 0; i < kConnections; ++i) {
    std::string response;
    EXPECT_TRUE(ClosedByServerWithin(fds[i], absl::Seconds(30), &response)) << i;
    EXPECT_THAT(response, StartsWith("HTTP/1.1 200 OK\r\n")) << i;
    EXPECT_THAT(response, EndsWith(absl::StrCat("\r\n\r\nanswer to /", i))) << i;
    close(fds[i]);
  }
  responder.join();
  EXPECT_LT(absl::Now() - started, absl::Seconds(20));
}

// A suspended connection is not closed by the idle timeout (1 s here) while its answer is due.
TEST(AsyncHttpServerTest, AWaitingConnectionOutlivesTheIdleTimeout) {
  HttpServerOptions options;
  options.idle_timeout = absl::Seconds(1);
  HeldRequests held;
  ASSERT_OK_AND_ASSIGN(auto server, HttpServer::StartAsync("127.0.0.1:0", held.Handler(), options));
  const int fd = SendGet(server->port(), "/slow");
  ASSERT_GE(fd, 0);
  std::vector<HeldRequests::Held> requests = held.Await(1, absl::Seconds(10));
  ASSERT_EQ(requests.size(), 1u);
  absl::SleepFor(absl::Milliseconds(2500));
  requests[0].respond(AnswerTo("/slow"));
  // A second answer is ignored.
  requests[0].respond(AnswerTo("/again"));
  std::string response;
  EXPECT_TRUE(ClosedByServerWithin(fd, absl::Seconds(10), &response));
  close(fd);
  EXPECT_THAT(response, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(response, EndsWith("\r\n\r\nanswer to /slow"));
}

// An answer after the client left goes nowhere, harmlessly, and the server serves on; an answer
// given inside the handler is sent at once.
TEST(AsyncHttpServerTest, AnAnswerAfterTheClientLeftIsHarmless) {
  HeldRequests held;
  const AsyncHttpHandler holding = held.Handler();
  ASSERT_OK_AND_ASSIGN(auto server, HttpServer::StartAsync(
                                        "127.0.0.1:0", [&holding](const HttpServerRequest& request,
                                                                  HttpRespond respond) {
                                          if (request.path == "/now")
                                            return respond(AnswerTo(request.path));
                                          holding(request, std::move(respond));
                                        }));
  for (int i = 0; i < 5; ++i) {
    const int fd = SendGet(server->port(), absl::StrCat("/left", i));
    ASSERT_GE(fd, 0);
    ASSERT_EQ(held.Await(i + 1, absl::Seconds(10)).size(), static_cast<size_t>(i + 1));
    close(fd);
  }
  absl::SleepFor(absl::Milliseconds(200));
  for (const HeldRequests::Held& request : held.Await(5, absl::Seconds(1))) {
    request.respond(AnswerTo(request.path));
  }
  const int fd = SendGet(server->port(), "/now");
  ASSERT_GE(fd, 0);
  std::string response;
  EXPECT_TRUE(ClosedByServerWithin(fd, absl::Seconds(10), &response));
  close(fd);
  EXPECT_THAT(response, EndsWith("\r\n\r\nanswer to /now"));
}

// Destroying the server closes the connections still waiting, without an answer; answering them
// afterwards does nothing.
TEST(AsyncHttpServerTest, DestructionClosesWaitingConnectionsAndLaterAnswersAreHarmless) {
  HeldRequests held;
  ASSERT_OK_AND_ASSIGN(auto server, HttpServer::StartAsync("127.0.0.1:0", held.Handler()));
  std::vector<int> fds;
  for (int i = 0; i < 3; ++i) {
    fds.push_back(SendGet(server->port(), absl::StrCat("/", i)));
    ASSERT_GE(fds.back(), 0);
  }
  const std::vector<HeldRequests::Held> requests = held.Await(3, absl::Seconds(10));
  ASSERT_EQ(requests.size(), 3u);
  // The first connection's is answered just before, and delivered.
  for (const HeldRequests::Held& request : requests) {
    if (request.path == "/0") request.respond(AnswerTo(request.path));
  }
  std::string answered;
  EXPECT_TRUE(ClosedByServerWithin(fds[0], absl::Seconds(10), &answered));
  EXPECT_THAT(answered, StartsWith("HTTP/1.1 200 OK\r\n"));
  server.reset();
  for (int i = 1; i < 3; ++i) {
    std::string response;
    EXPECT_TRUE(ClosedByServerWithin(fds[i], absl::Seconds(10), &response)) << i;
    EXPECT_EQ(response, "") << i;
  }
  for (const HeldRequests::Held& request : requests) request.respond(AnswerTo(request.path));
  for (int fd : fds) close(fd);
}

// With a thread per connection, an asynchronous answer from another thread is waited for on the
// connection's thread.
TEST(AsyncHttpServerTest, AThreadPerConnectionWaitsForTheAnswer) {
  HttpServerOptions options;
  options.thread_per_connection = true;
  HeldRequests held;
  ASSERT_OK_AND_ASSIGN(auto server, HttpServer::StartAsync("127.0.0.1:0", held.Handler(), options));
  const int fd = SendGet(server->port(), "/waited");
  ASSERT_GE(fd, 0);
  std::vector<HeldRequests::Held> requests = held.Await(1, absl::Seconds(10));
  ASSERT_EQ(requests.size(), 1u);
  std::thread([respond = requests[0].respond] { respond(AnswerTo("/waited")); }).join();
  std::string response;
  EXPECT_TRUE(ClosedByServerWithin(fd, absl::Seconds(10), &response));
  close(fd);
  EXPECT_THAT(response, EndsWith("\r\n\r\nanswer to /waited"));
  // And one still waiting when the server stops is closed without an answer.
  const int waiting = SendGet(server->port(), "/never");
  ASSERT_GE(waiting, 0);
  ASSERT_EQ(held.Await(2, absl::Seconds(10)).size(), 2u);
  server.reset();
  std::string none;
  EXPECT_TRUE(ClosedByServerWithin(waiting, absl::Seconds(10), &none));
  close(waiting);
  EXPECT_EQ(none, "");
}

// ---------------------------------------------------------------------------------------------
// HTTPS (common/net/tls_relay.h) and the limits the public endpoint needs.

// Counts each refusal the server reports. Thread-safe.
class RefusalCounter {
 public:
  std::function<void(HttpServerRefusal)> Callback() {
    return [this](HttpServerRefusal refusal) {
      absl::MutexLock lock(&mutex_);
      ++counts_[refusal];
    };
  }
  int Count(HttpServerRefusal refusal) {
    absl::MutexLock lock(&mutex_);
    return counts_[refusal];
  }
  // Waits up to `timeout` for `refusal` to have been counted `count` times.
  bool AwaitCount(HttpServerRefusal refusal, int count, absl::Duration timeout) {
    absl::MutexLock lock(&mutex_);
    auto reached = [&] { return counts_[refusal] >= count; };
    return mutex_.AwaitWithTimeout(absl::Condition(&reached), timeout);
  }

 private:
  absl::Mutex mutex_;
  std::map<HttpServerRefusal, int> counts_ ABSL_GUARDED_BY(mutex_);
};

class HttpsServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { signal(SIGPIPE, SIG_IGN); }

  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(const std::string directory, test_pki::MakeTempDirectory());
    ASSERT_OK_AND_ASSIGN(files_,
                         WriteMutualTlsFiles(directory, "http_server_test CA", "server", "client"));
  }

  // HTTPS on a pool of `threads` for the asynchronous handler, one request per connection.
  HttpServerOptions PoolOptions(unsigned threads, unsigned max_connections,
                                unsigned max_connections_per_address) const {
    HttpServerTls tls;
    tls.certificate_chain_file = files_.server_certificate;
    tls.private_key_file = files_.server_key;
    HttpServerOptions options;
    options.tls = tls;
    options.threads = threads;
    options.max_connections = max_connections;
    options.max_connections_per_address = max_connections_per_address;
    options.one_request_per_connection = true;
    return options;
  }

  // `count` TLS clients of server_, client i having sent "GET /i".
  absl::StatusOr<std::vector<std::unique_ptr<TlsTestClient>>> Ask(int count) const {
    std::vector<std::unique_ptr<TlsTestClient>> clients;
    for (int i = 0; i < count; ++i) {
      ASSIGN_OR_RETURN(auto client, TlsTestClient::Connect(files_.ca, "server", server_->port()));
      if (!client->Write(absl::StrCat("GET /", i, " HTTP/1.1\r\nHost: server\r\n\r\n"))) {
        return absl::UnavailableError(absl::StrCat("client ", i, " could not send"));
      }
      clients.push_back(std::move(client));
    }
    return clients;
  }

  // An HTTPS server whose handler answers what it received, thread per connection, one request
  // per connection; `options` as given otherwise.
  void Start(HttpServerOptions options, HttpHandler handler = nullptr) {
    HttpServerTls tls;
    tls.certificate_chain_file = files_.server_certificate;
    tls.private_key_file = files_.server_key;
    tls.handshake_timeout = absl::Seconds(1);
    tls.handshake_rate = handshake_rate_;
    options.tls = tls;
    options.thread_per_connection = true;
    options.one_request_per_connection = true;
    options.on_refusal = refusals_.Callback();
    if (!handler) {
      handler = [](const HttpServerRequest& request) {
        HttpServerResponse response;
        response.content_type = "text/plain; charset=utf-8";
        response.body = absl::StrCat(request.method, " ", request.path, " from ",
                                     request.remote_address, ": ", request.body.size(), " bytes");
        return response;
      };
    }
    ASSERT_OK_AND_ASSIGN(server_, HttpServer::Start(address_, std::move(handler), options));
  }

  std::string Exchange(const std::string& request) {
    auto client = TlsTestClient::Connect(files_.ca, "server", server_->port());
    EXPECT_TRUE(client.ok()) << client.status();
    if (!client.ok() || !(*client)->Write(request)) return "";
    return (*client)->ReadAll();
  }

  // Whether a full exchange from `source` is answered 200, naming `source` as the client (on a
  // dual-stack listener an IPv4 client is ::ffff:`source`).
  bool ServedFrom(const std::string& source) {
    absl::StatusOr<std::unique_ptr<TlsTestClient>> client =
        TlsTestClient::ConnectFrom(source, files_.ca, "server", server_->port());
    if (!client.ok() || !(*client)->Write("GET /who HTTP/1.1\r\nHost: server\r\n\r\n")) {
      return false;
    }
    const std::string response = (*client)->ReadAll();
    return absl::StartsWith(response, "HTTP/1.1 200 OK\r\n") &&
           absl::StrContains(response, absl::StrCat(source, ": 0 bytes"));
  }

  // What Start uses, when a test sets them first.
  std::string address_ = "127.0.0.1:0";
  HandshakeRateLimit handshake_rate_;
  MutualTlsFiles files_;
  RefusalCounter refusals_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpsServerTest, ServesARequestWithoutAClientCertificateAndClosesAfterIt) {
  Start(HttpServerOptions());
  const std::string response =
      Exchange("POST /echo HTTP/1.1\r\nHost: server\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_THAT(response, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(response, HasSubstr("Connection: close\r\n"));
  // The client's own address reaches the handler, not the relay's socketpair.
  EXPECT_THAT(response, HasSubstr("POST /echo from 127.0.0.1: 5 bytes"));
}

TEST_F(HttpsServerTest, AClientThatNeverCompletesItsHandshakeIsCutOff) {
  Start(HttpServerOptions());
  const int fd = ConnectFrom("127.0.0.1", server_->port());
  ASSERT_GE(fd, 0);
  // The 1 s handshake timeout plus a margin for a loaded machine.
  EXPECT_TRUE(ClosedByServerWithin(fd, absl::Seconds(15)));
  close(fd);
  EXPECT_TRUE(refusals_.AwaitCount(HttpServerRefusal::kTlsHandshakeFailed, 1, absl::Seconds(5)));
  // Garbage instead of a ClientHello fails the handshake at once.
  const int garbage = ConnectFrom("127.0.0.1", server_->port());
  ASSERT_GE(garbage, 0);
  EXPECT_TRUE(SendAll(garbage, "GET / HTTP/1.1\r\n\r\n"));
  EXPECT_TRUE(ClosedByServerWithin(garbage, absl::Seconds(15)));
  close(garbage);
  EXPECT_TRUE(refusals_.AwaitCount(HttpServerRefusal::kTlsHandshakeFailed, 2, absl::Seconds(5)));
}

// A slow-loris client that sends a byte every 100 ms never trips the 10 s idle timeout; the
// request timeout (1 s) cuts it off, with a 408 that says why.
TEST_F(HttpsServerTest, ARequestTricklingInIsAnswered408AndCutOff) {
  HttpServerOptions options;
  options.idle_timeout = absl::Seconds(10);
  options.request_timeout = absl::Seconds(1);
  Start(options);
  ASSERT_OK_AND_ASSIGN(auto client, TlsTestClient::Connect(files_.ca, "server", server_->port()));
  const std::string request =
      "POST /echo HTTP/1.1\r\nHost: server\r\nX-Padding: " + std::string(400, 'x') + "\r\n\r\n";
  size_t sent = 0;
  const absl::Time started = absl::Now();
  while (sent < request.size() && !client->Readable(absl::Milliseconds(100))) {
    ASSERT_TRUE(client->Write(request.substr(sent, 1)));
    ++sent;
  }
  ASSERT_LT(sent, request.size()) << "the whole request trickled in without being cut off";
  const std::string response = client->ReadAll();
  EXPECT_THAT(response, StartsWith("HTTP/1.1 408 Request Timeout\r\n"));
  EXPECT_THAT(response, HasSubstr("did not arrive within its time limit"));
  EXPECT_LT(absl::Now() - started, absl::Seconds(15));
  EXPECT_TRUE(refusals_.AwaitCount(HttpServerRefusal::kRequestTimeout, 1, absl::Seconds(5)));
  // A request that arrives in time is served as before.
  EXPECT_THAT(Exchange("GET /echo HTTP/1.1\r\nHost: server\r\n\r\n"),
              StartsWith("HTTP/1.1 200 OK\r\n"));
}

// The same over plain HTTP.
TEST(HttpServerRequestTimeoutTest, ARequestTricklingInIsAnswered408AndCutOff) {
  RefusalCounter refusals;
  HttpServerOptions options;
  options.idle_timeout = absl::Seconds(10);
  options.request_timeout = absl::Seconds(1);
  options.on_refusal = refusals.Callback();
  ASSERT_OK_AND_ASSIGN(
      auto server,
      HttpServer::Start(
          "127.0.0.1:0", [](const HttpServerRequest&) { return HttpServerResponse(); }, options));
  const int fd = ConnectFrom("127.0.0.1", server->port());
  ASSERT_GE(fd, 0);
  const std::string request = "GET / HTTP/1.1\r\nX-Padding: " + std::string(400, 'x') + "\r\n\r\n";
  size_t sent = 0;
  pollfd entry = {fd, POLLIN, 0};
  while (sent < request.size() && poll(&entry, 1, 100) == 0) {
    ASSERT_TRUE(SendAll(fd, request.substr(sent, 1)));
    ++sent;
  }
  ASSERT_LT(sent, request.size()) << "the whole request trickled in without being cut off";
  std::string received;
  EXPECT_TRUE(ClosedByServerWithin(fd, absl::Seconds(15), &received));
  close(fd);
  EXPECT_THAT(received, StartsWith("HTTP/1.1 408 Request Timeout\r\n"));
  EXPECT_TRUE(refusals.AwaitCount(HttpServerRefusal::kRequestTimeout, 1, absl::Seconds(5)));
}

TEST_F(HttpsServerTest, ADeclaredBodyOverTheLimitIsRefusedBeforeItIsSent) {
  HttpServerOptions options;
  options.max_body_bytes = 1024;
  std::atomic<int> handled{0};
  Start(options, [&handled](const HttpServerRequest&) {
    ++handled;
    return HttpServerResponse();
  });
  ASSERT_OK_AND_ASSIGN(auto client, TlsTestClient::Connect(files_.ca, "server", server_->port()));
  // "Expect: 100-continue": the client waits for the server's go-ahead before sending the body,
  // so the refusal must come first.
  ASSERT_TRUE(
      client->Write("POST /echo HTTP/1.1\r\nHost: server\r\nContent-Length: 1000000\r\nExpect: "
                    "100-continue\r\n\r\n"));
  const std::string response = client->ReadAll();
  EXPECT_THAT(response, StartsWith("HTTP/1.1 413 "));
  EXPECT_THAT(response, HasSubstr("at most 1024 bytes"));
  EXPECT_EQ(handled.load(), 0);
  EXPECT_EQ(refusals_.Count(HttpServerRefusal::kBodyTooLarge), 1);
  // A body without a declared length (chunked) is refused once it passes the limit.
  const std::string chunk(2000, 'x');
  const std::string chunked = Exchange(absl::StrCat(
      "POST /echo HTTP/1.1\r\nHost: server\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n", chunk,
      "\r\n0\r\n\r\n"));
  EXPECT_THAT(chunked, StartsWith("HTTP/1.1 413 "));
  EXPECT_EQ(handled.load(), 0);
  EXPECT_EQ(refusals_.Count(HttpServerRefusal::kBodyTooLarge), 2);
}

// body_too_large_handler writes the 413 from the request's headers and query (the body never
// arrives), for a declared length and for a chunked body alike; the status stays 413.
TEST_F(HttpsServerTest, TheBodyTooLargeHandlerWritesThe413FromTheHeaders) {
  HttpServerOptions options;
  options.max_body_bytes = 1024;
  std::atomic<int> handled{0};
  options.body_too_large_handler = [](const HttpServerRequest& request) {
    HttpServerResponse response;
    response.status = 200;
    response.body = absl::StrCat("too large: ", request.method, " ", request.path,
                                 " tn=", request.query.count("tn") ? request.query.at("tn") : "-",
                                 " origin=", request.headers.count("origin") ? "yes" : "no",
                                 " body=", request.body.size());
    return response;
  };
  Start(options, [&handled](const HttpServerRequest&) {
    ++handled;
    return HttpServerResponse();
  });
  const std::string declared = Exchange(
      "POST /approve?tn=TN0001 HTTP/1.1\r\nHost: server\r\nOrigin: https://server\r\n"
      "Content-Length: 1000000\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_THAT(declared, StartsWith("HTTP/1.1 413 "));
  EXPECT_THAT(declared, HasSubstr("too large: POST /approve tn=TN0001 origin=yes body=0"));
  const std::string chunked = Exchange(absl::StrCat(
      "POST /reject HTTP/1.1\r\nHost: server\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n",
      std::string(2000, 'x'), "\r\n0\r\n\r\n"));
  EXPECT_THAT(chunked, StartsWith("HTTP/1.1 413 "));
  EXPECT_THAT(chunked, HasSubstr("too large: POST /reject tn=- origin=no body=0"));
  EXPECT_EQ(handled.load(), 0);
  EXPECT_EQ(refusals_.Count(HttpServerRefusal::kBodyTooLarge), 2);
}

// A client that sends a large body at once, without waiting for "100 Continue", still reads the
// 413 the server answered before the body arrived: the connection is not reset under it (the
// relay shuts its sending side and discards the rest before closing).
TEST_F(HttpsServerTest, ABodySentWithoutWaitingStillGetsThe413) {
  HttpServerOptions options;
  options.max_body_bytes = 1024;
  Start(options);
  for (int attempt = 0; attempt < 5; ++attempt) {
    SCOPED_TRACE(attempt);
    ASSERT_OK_AND_ASSIGN(auto client, TlsTestClient::Connect(files_.ca, "server", server_->port()));
    const std::string body(512 << 10, 'x');
    EXPECT_TRUE(client->Write(absl::StrCat(
        "POST /echo HTTP/1.1\r\nHost: server\r\nContent-Length: ", body.size(), "\r\n\r\n", body)));
    EXPECT_THAT(client->ReadAll(), StartsWith("HTTP/1.1 413 "));
  }
}

TEST_F(HttpsServerTest, ConnectionsOverTheLimitsAreClosedAtOnce) {
  HttpServerOptions options;
  options.max_connections = 4;
  options.max_connections_per_address = 2;
  Start(options);
  // Two connections from 127.0.0.1 that never handshake (within the 1 s handshake timeout, the
  // checks below are done at once).
  std::vector<int> held = {ConnectFrom("127.0.0.1", server_->port()),
                           ConnectFrom("127.0.0.1", server_->port())};
  ASSERT_GE(held[0], 0);
  ASSERT_GE(held[1], 0);
  // Let the relay count them before the next one arrives.
  absl::SleepFor(absl::Milliseconds(100));
  const int third = ConnectFrom("127.0.0.1", server_->port());
  ASSERT_GE(third, 0);
  EXPECT_TRUE(ClosedByServerWithin(third, absl::Milliseconds(900)))
      << "closed at once, not after the handshake timeout";
  close(third);
  EXPECT_TRUE(
      refusals_.AwaitCount(HttpServerRefusal::kAddressConnectionLimit, 1, absl::Seconds(5)));
  // Two more from other addresses fill the server; the next from anywhere is closed at once.
  held.push_back(ConnectFrom("127.0.0.2", server_->port()));
  held.push_back(ConnectFrom("127.0.0.3", server_->port()));
  absl::SleepFor(absl::Milliseconds(100));
  const int over = ConnectFrom("127.0.0.4", server_->port());
  ASSERT_GE(over, 0);
  EXPECT_TRUE(ClosedByServerWithin(over, absl::Milliseconds(900)));
  close(over);
  EXPECT_TRUE(refusals_.AwaitCount(HttpServerRefusal::kConnectionLimit, 1, absl::Seconds(5)));
  for (int fd : held) close(fd);
  // Once they are gone, requests are served again.
  std::string response;
  for (int attempt = 0; attempt < 50 && response.empty(); ++attempt) {
    auto client = TlsTestClient::Connect(files_.ca, "server", server_->port());
    if (client.ok() && (*client)->Write("GET / HTTP/1.1\r\nHost: server\r\n\r\n")) {
      response = (*client)->ReadAll();
    }
    if (response.empty()) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_THAT(response, StartsWith("HTTP/1.1 200 OK\r\n"));
}

// A flood of handshakes from one address (connect, handshake, close, again): beyond its burst each
// connection is closed at once, before any TLS work, and counted; another address is served
// meanwhile. At 1 handshake per 100 s, no token comes back during the test.
TEST_F(HttpsServerTest, AHandshakeFloodFromOneAddressIsRefusedBeyondItsBurst) {
  constexpr int kAttempts = 30;
  handshake_rate_.per_second = 0.01;
  handshake_rate_.burst = 5;
  Start(HttpServerOptions());
  int handshakes = 0;
  for (int i = 0; i < kAttempts; ++i) {
    absl::StatusOr<std::unique_ptr<TlsTestClient>> flood =
        TlsTestClient::ConnectFrom("127.0.0.1", files_.ca, "server", server_->port());
    if (flood.ok()) {
      ++handshakes;
    } else {
      EXPECT_EQ(flood.status().code(), absl::StatusCode::kUnavailable) << flood.status();
      EXPECT_THAT(std::string(flood.status().message()), StartsWith("TLS handshake from "));
    }
    // Another client is served between the flood's connections, each with a token of its own.
    if (i % 10 == 9) EXPECT_TRUE(ServedFrom("127.0.0.2")) << "after " << i + 1 << " of the flood";
  }
  EXPECT_EQ(handshakes, 5);
  EXPECT_TRUE(refusals_.AwaitCount(HttpServerRefusal::kAddressHandshakeRate, kAttempts - 5,
                                   absl::Seconds(5)));
  EXPECT_EQ(refusals_.Count(HttpServerRefusal::kAddressHandshakeRate), kAttempts - 5);
  // Refused before its handshake: no handshake failed, and no other limit was reached.
  EXPECT_EQ(refusals_.Count(HttpServerRefusal::kTlsHandshakeFailed), 0);
  EXPECT_EQ(refusals_.Count(HttpServerRefusal::kAddressConnectionLimit), 0);
  EXPECT_EQ(refusals_.Count(HttpServerRefusal::kConnectionLimit), 0);
  // A refused connection costs no handshake: the server closes without a ServerHello, so the
  // first bytes read are the end of the stream.
  const int raw = ConnectFrom("127.0.0.1", server_->port());
  ASSERT_GE(raw, 0);
  std::string received;
  EXPECT_TRUE(ClosedByServerWithin(raw, absl::Seconds(5), &received));
  EXPECT_EQ(received, "");
  close(raw);
  EXPECT_TRUE(refusals_.AwaitCount(HttpServerRefusal::kAddressHandshakeRate, kAttempts - 4,
                                   absl::Seconds(5)));
}

// The bucket fills again with time: at 2 handshakes a second, once the burst is spent, a client
// that waits a second is served again.
TEST_F(HttpsServerTest, TheHandshakeRateLimitRefillsWithTime) {
  handshake_rate_.per_second = 2;
  handshake_rate_.burst = 2;
  Start(HttpServerOptions());
  // Back to back, the burst is spent within a few attempts (a token comes back every 500 ms).
  int attempts = 0;
  while (refusals_.Count(HttpServerRefusal::kAddressHandshakeRate) == 0 && attempts < 20) {
    ++attempts;
    if (!TlsTestClient::ConnectFrom("127.0.0.1", files_.ca, "server", server_->port()).ok()) {
      refusals_.AwaitCount(HttpServerRefusal::kAddressHandshakeRate, 1, absl::Seconds(5));
    }
  }
  ASSERT_EQ(refusals_.Count(HttpServerRefusal::kAddressHandshakeRate), 1)
      << "never refused in " << attempts << " attempts";
  EXPECT_GE(attempts, 3) << "the burst of 2 was admitted first";
  absl::SleepFor(absl::Milliseconds(1100));
  EXPECT_TRUE(ServedFrom("127.0.0.1"));
}

// On a dual-stack listener an IPv4 client arrives as an IPv4-mapped IPv6 address: it is limited
// as its IPv4 address, not with every IPv4 client in the /64 ::/64 (which ::1 is in). A flood from
// 127.0.0.1 leaves 127.0.0.2 and ::1 served.
TEST_F(HttpsServerTest, ADualStackListenerLimitsIpv4ClientsByTheirOwnAddress) {
  address_ = "[::]:0";
  handshake_rate_.per_second = 0.01;
  handshake_rate_.burst = 2;
  Start(HttpServerOptions());
  EXPECT_TRUE(ServedFrom("127.0.0.1"));
  EXPECT_TRUE(ServedFrom("127.0.0.1"));
  EXPECT_FALSE(ServedFrom("127.0.0.1"));
  EXPECT_TRUE(refusals_.AwaitCount(HttpServerRefusal::kAddressHandshakeRate, 1, absl::Seconds(5)));
  EXPECT_TRUE(ServedFrom("127.0.0.2"));
  EXPECT_TRUE(ServedFrom("::1"));
  EXPECT_TRUE(ServedFrom("::1"));
  EXPECT_FALSE(ServedFrom("::1"));
  EXPECT_TRUE(refusals_.AwaitCount(HttpServerRefusal::kAddressHandshakeRate, 2, absl::Seconds(5)));
  EXPECT_TRUE(ServedFrom("127.0.0.2"));
  EXPECT_EQ(refusals_.Count(HttpServerRefusal::kAddressHandshakeRate), 2);
}

// With a thread per connection, a handler that blocks holds up no other connection: the slow
// request is released only by the fast one, which must be served meanwhile.
TEST_F(HttpsServerTest, ABlockingHandlerDoesNotHoldUpOtherConnections) {
  absl::Notification fast_served;
  Start(HttpServerOptions(), [&fast_served](const HttpServerRequest& request) {
    HttpServerResponse response;
    response.content_type = "text/plain; charset=utf-8";
    if (request.path == "/slow") {
      response.body = fast_served.WaitForNotificationWithTimeout(absl::Seconds(20))
                          ? "released by the fast request"
                          : "never released";
    } else {
      fast_served.Notify();
      response.body = "fast";
    }
    return response;
  });
  std::string slow_response;
  std::thread slow([&] { slow_response = Exchange("GET /slow HTTP/1.1\r\nHost: server\r\n\r\n"); });
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_THAT(Exchange("GET /fast HTTP/1.1\r\nHost: server\r\n\r\n"), HasSubstr("fast"));
  slow.join();
  EXPECT_THAT(slow_response, HasSubstr("released by the fast request"));
}

// Over HTTPS on a pool of 2 threads, with the asynchronous handler: 20 clients wait at once for
// answers given 1 s later, and a client still waiting when the server stops is closed.
TEST_F(HttpsServerTest, AnAsynchronousHandlerOnAPoolServesWaitingClients) {
  constexpr int kClients = 20;
  HeldRequests held;
  ASSERT_OK_AND_ASSIGN(
      server_, HttpServer::StartAsync("127.0.0.1:0", held.Handler(), PoolOptions(2, 64, 32)));
  ASSERT_OK_AND_ASSIGN(std::vector<std::unique_ptr<TlsTestClient>> clients, Ask(kClients));
  const std::vector<HeldRequests::Held> requests = held.Await(kClients, absl::Seconds(30));
  ASSERT_EQ(requests.size(), kClients);
  std::thread responder([&requests] {
    for (const HeldRequests::Held& request : requests) {
      absl::SleepFor(request.arrived + absl::Seconds(1) - absl::Now());
      request.respond(AnswerTo(request.path));
    }
  });
  for (int i = 0; i < kClients; ++i) {
    const std::string response = clients[i]->ReadAll();
    EXPECT_THAT(response, StartsWith("HTTP/1.1 200 OK\r\n")) << i;
    EXPECT_THAT(response, HasSubstr("Connection: close\r\n")) << i;
    EXPECT_THAT(response, EndsWith(absl::StrCat("\r\n\r\nanswer to /", i))) << i;
  }
  responder.join();
  ASSERT_OK_AND_ASSIGN(auto waiting, TlsTestClient::Connect(files_.ca, "server", server_->port()));
  ASSERT_TRUE(waiting->Write("GET /never HTTP/1.1\r\nHost: server\r\n\r\n"));
  ASSERT_EQ(held.Await(kClients + 1, absl::Seconds(10)).size(), kClients + 1u);
  server_.reset();
  EXPECT_EQ(waiting->ReadAll(), "");
}

// At the connection limit, every connection the TLS relay admitted is served: libmicrohttpd splits
// its own limit among its pool threads and picks a thread by descriptor, so with its limit equal to
// the relay's, a pool thread could close a connection the relay had admitted, unanswered.
// max_connections connections (4) at once on 4 pool threads, each held: all answered.
TEST_F(HttpsServerTest, EveryConnectionTheRelayAdmitsIsServedAtTheLimit) {
  constexpr int kClients = 4;
  HeldRequests held;
  ASSERT_OK_AND_ASSIGN(server_, HttpServer::StartAsync("127.0.0.1:0", held.Handler(),
                                                       PoolOptions(4, kClients, kClients)));
  ASSERT_OK_AND_ASSIGN(std::vector<std::unique_ptr<TlsTestClient>> clients, Ask(kClients));
  const std::vector<HeldRequests::Held> requests = held.Await(kClients, absl::Seconds(30));
  ASSERT_EQ(requests.size(), kClients) << "a connection the relay admitted was not served";
  for (const HeldRequests::Held& request : requests) request.respond(AnswerTo(request.path));
  for (int i = 0; i < kClients; ++i) {
    EXPECT_THAT(clients[i]->ReadAll(), EndsWith(absl::StrCat("\r\n\r\nanswer to /", i))) << i;
  }
}

// The TLS relay serves its connections on one event-loop thread: 200 TLS clients waiting at once
// for their answers add no thread to the process (with a relay thread per connection they would
// add 200), and each gets its answer.
TEST_F(HttpsServerTest, TwoHundredTlsConnectionsAddNoThread) {
  constexpr int kClients = 200;
  HttpServerTls tls;
  tls.certificate_chain_file = files_.server_certificate;
  tls.private_key_file = files_.server_key;
  tls.handshake_timeout = absl::Seconds(30);
  HttpServerOptions options;
  options.tls = tls;
  options.threads = 2;
  options.max_connections = 512;
  options.max_connections_per_address = 256;
  options.idle_timeout = absl::Seconds(60);
  options.one_request_per_connection = true;
  HeldRequests held;
  ASSERT_OK_AND_ASSIGN(server_, HttpServer::StartAsync("127.0.0.1:0", held.Handler(), options));
  const int threads_before = ThreadsOfThisProcess();
  std::vector<std::unique_ptr<TlsTestClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    ASSERT_OK_AND_ASSIGN(auto client, TlsTestClient::Connect(files_.ca, "server", server_->port()));
    ASSERT_TRUE(client->Write(absl::StrCat("GET /", i, " HTTP/1.1\r\nHost: server\r\n\r\n")));
    clients.push_back(std::move(client));
  }
  const std::vector<HeldRequests::Held> requests = held.Await(kClients, absl::Seconds(20));
  ASSERT_EQ(requests.size(), kClients);
  const int threads_while_waiting = ThreadsOfThisProcess();
  EXPECT_LE(threads_while_waiting, threads_before + 2)
      << "threads before the connections: " << threads_before;
  for (const HeldRequests::Held& request : requests) request.respond(AnswerTo(request.path));
  for (int i = 0; i < kClients; ++i) {
    const std::string response = clients[i]->ReadAll();
    EXPECT_THAT(response, StartsWith("HTTP/1.1 200 OK\r\n")) << i;
    EXPECT_THAT(response, EndsWith(absl::StrCat("\r\n\r\nanswer to /", i))) << i;
  }
}

// Bodies far larger than the relay's buffers go through both ways, with several clients at once
// (the relay waits on whichever side is slow and moves the others meanwhile).
TEST_F(HttpsServerTest, LargeBodiesAreRelayedBothWays) {
  constexpr int kClients = 4;
  constexpr size_t kBodyBytes = 2 << 20;
  HttpServerOptions options;
  options.max_body_bytes = kBodyBytes;
  Start(options, [](const HttpServerRequest& request) {
    HttpServerResponse response;
    response.content_type = "application/octet-stream";
    response.body = std::string(kBodyBytes, 'y');
    response.headers.push_back({"X-Received", absl::StrCat(request.body.size())});
    return response;
  });
  std::vector<std::unique_ptr<TlsTestClient>> clients;
  std::vector<std::thread> senders;
  for (int i = 0; i < kClients; ++i) {
    ASSERT_OK_AND_ASSIGN(auto client, TlsTestClient::Connect(files_.ca, "server", server_->port()));
    clients.push_back(std::move(client));
  }
  for (int i = 0; i < kClients; ++i) {
    senders.emplace_back([client = clients[i].get()] {
      EXPECT_TRUE(client->Write(
          absl::StrCat("POST /large HTTP/1.1\r\nHost: server\r\nContent-Length: ", kBodyBytes,
                       "\r\n\r\n", std::string(kBodyBytes, 'x'))));
    });
  }
  for (std::thread& sender : senders) sender.join();
  for (int i = 0; i < kClients; ++i) {
    const std::string response = clients[i]->ReadAll();
    EXPECT_THAT(response, StartsWith("HTTP/1.1 200 OK\r\n")) << i;
    EXPECT_THAT(response, HasSubstr(absl::StrCat("X-Received: ", kBodyBytes, "\r\n"))) << i;
    EXPECT_THAT(response, EndsWith(absl::StrCat("\r\n\r\n", std::string(kBodyBytes, 'y')))) << i;
  }
}

// TlsRelayOptions.reload_interval: a renewed certificate and key, moved into place key first, are
// presented to new connections without a restart; while only the key is new (it does not match
// the certificate) the last good pair is kept.
TEST_F(HttpsServerTest, ARenewedCertificateIsPresentedToNewConnectionsWithoutARestart) {
  HttpServerOptions options;
  HttpServerTls tls;
  tls.certificate_chain_file = files_.server_certificate;
  tls.private_key_file = files_.server_key;
  tls.handshake_timeout = absl::Seconds(1);
  tls.reload_interval = absl::Milliseconds(100);
  options.tls = tls;
  options.thread_per_connection = true;
  options.one_request_per_connection = true;
  ASSERT_OK_AND_ASSIGN(
      server_,
      HttpServer::Start(
          "127.0.0.1:0", [](const HttpServerRequest&) { return HttpServerResponse(); }, options));
  // The renewal: from another CA, so that which pair the server presents shows in which CA a
  // client verifies it with.
  ASSERT_OK_AND_ASSIGN(const std::string directory, test_pki::MakeTempDirectory());
  ASSERT_OK_AND_ASSIGN(MutualTlsFiles renewed,
                       WriteMutualTlsFiles(directory, "renewed CA", "server", "client"));
  ASSERT_OK(TlsTestClient::Connect(files_.ca, "server", server_->port()).status());

  ASSERT_EQ(rename(renewed.server_key.c_str(), files_.server_key.c_str()), 0);
  absl::SleepFor(absl::Milliseconds(300));
  absl::Status old_verifies = TlsTestClient::Connect(files_.ca, "server", server_->port()).status();
  EXPECT_TRUE(old_verifies.ok())
      << "the last good pair is kept while the key does not match the certificate: "
      << old_verifies;

  ASSERT_EQ(rename(renewed.server_certificate.c_str(), files_.server_certificate.c_str()), 0);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  absl::Status renewed_verifies = absl::UnknownError("not tried");
  while (absl::Now() < deadline) {
    renewed_verifies = TlsTestClient::Connect(renewed.ca, "server", server_->port()).status();
    if (renewed_verifies.ok()) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_OK(renewed_verifies);
  EXPECT_FALSE(TlsTestClient::Connect(files_.ca, "server", server_->port()).ok())
      << "still presents the old certificate";
}

TEST(HttpsServerStartTest, ACertificateThatCannotBeLoadedIsNamed) {
  HttpServerOptions options;
  options.tls = HttpServerTls();
  options.tls->certificate_chain_file = "/nonexistent/server.pem";
  options.tls->private_key_file = "/nonexistent/server.key";
  options.thread_per_connection = true;
  absl::StatusOr<std::unique_ptr<HttpServer>> started = HttpServer::Start(
      "127.0.0.1:0", [](const HttpServerRequest&) { return HttpServerResponse(); }, options);
  EXPECT_EQ(started.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(started.status().message()), HasSubstr("/nonexistent/server.pem"));
}

}  // namespace
}  // namespace mecai
