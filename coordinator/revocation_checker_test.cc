// RevocationChecker against real components (ARCHITECTURE.md §9): a CA run by `openssl ca` (its
// index.txt records what is valid and what is revoked), its CRLs made by `openssl ca -gencrl` and
// served by nginx, and an `openssl ocsp` responder answering from the same index with a delegated
// responder certificate. Fetches go through CurlHttpFetcher with 127.0.0.0/8 allowlisted.
#include "coordinator/revocation_checker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/base/clock.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/net/address_policy.h"
#include "common/net/http_fetcher.h"
#include "common/pki/pki_builder.h"
#include "common/process/child_process.h"
#include "common/revocation/revocation.h"
#include "common/testing/process_threads.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "common/testing/test_revocation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using test_pki::StatusIs;
using test_revocation::IssuedCertificate;
using test_revocation::RevocationPki;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

// Counts the requests that reach the real fetcher.
class CountingFetcher : public HttpFetcher {
 public:
  explicit CountingFetcher(HttpFetcher& inner) : inner_(inner) {}

  absl::StatusOr<std::string> Fetch(const HttpRequest& request) override {
    {
      absl::MutexLock lock(&mutex_);
      urls_.push_back(request.url);
    }
    return inner_.Fetch(request);
  }

  void FetchAsync(const HttpRequest& request, absl::Duration start_after, FetchDone done) override {
    {
      absl::MutexLock lock(&mutex_);
      urls_.push_back(request.url);
    }
    inner_.FetchAsync(request, start_after, std::move(done));
  }

  std::vector<std::string> urls() const {
    absl::MutexLock lock(&mutex_);
    return urls_;
  }

 private:
  HttpFetcher& inner_;
  mutable absl::Mutex mutex_;
  std::vector<std::string> urls_ ABSL_GUARDED_BY(mutex_);
};

// Fault injection in front of the real fetcher: answers the next requests for a URL with the
// errors queued for it (each after its delay) and passes every other request on. Records every
// request it is given.
class FaultInjectingFetcher : public HttpFetcher {
 public:
  explicit FaultInjectingFetcher(HttpFetcher& inner) : inner_(inner) {}

  void FailNext(const std::string& url, absl::Status error,
                absl::Duration delay = absl::ZeroDuration()) {
    absl::MutexLock lock(&mutex_);
    faults_[url].push_back({std::move(error), delay});
  }

  absl::StatusOr<std::string> Fetch(const HttpRequest& request) override {
    std::optional<Fault> fault = Take(request);
    if (!fault.has_value()) return inner_.Fetch(request);
    absl::SleepFor(fault->delay);
    return fault->error;
  }

  // A fault is answered on the calling thread, after the pause and its delay.
  void FetchAsync(const HttpRequest& request, absl::Duration start_after, FetchDone done) override {
    std::optional<Fault> fault = Take(request);
    if (!fault.has_value()) return inner_.FetchAsync(request, start_after, std::move(done));
    absl::SleepFor(start_after + fault->delay);
    done(fault->error);
  }

  // The requests for `url`, in order.
  std::vector<HttpRequest> RequestsFor(const std::string& url) const {
    absl::MutexLock lock(&mutex_);
    std::vector<HttpRequest> found;
    for (const HttpRequest& request : requests_) {
      if (request.url == url) found.push_back(request);
    }
    return found;
  }

 private:
  struct Fault {
    absl::Status error;
    absl::Duration delay;
  };
  // Records `request` and takes the next fault queued for its URL, if any.
  std::optional<Fault> Take(const HttpRequest& request) {
    absl::MutexLock lock(&mutex_);
    requests_.push_back(request);
    std::deque<Fault>& queued = faults_[request.url];
    if (queued.empty()) return std::nullopt;
    Fault fault = std::move(queued.front());
    queued.pop_front();
    return fault;
  }

  HttpFetcher& inner_;
  mutable absl::Mutex mutex_;
  std::map<std::string, std::deque<Fault>> faults_ ABSL_GUARDED_BY(mutex_);
  std::vector<HttpRequest> requests_ ABSL_GUARDED_BY(mutex_);
};

// Sends all of `bytes` on `connection`, as far as the peer takes them.
void SendAll(int connection, const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t written =
        send(connection, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (written <= 0) return;
    sent += static_cast<size_t>(written);
  }
}

// A 200 answer carrying a CRL, closing the connection.
std::string CrlAnswer(const std::string& body) {
  return absl::StrCat("HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\nContent-Length: ",
                      body.size(), "\r\nConnection: close\r\n\r\n", body);
}

// A loopback server run by one thread of its own until destroyed; a subclass serves in Serve()
// and calls StopServing() first in its destructor.
class LoopbackServer {
 public:
  virtual ~LoopbackServer() {
    StopServing();
    if (listener_ >= 0) close(listener_);
  }

  std::string Url(const std::string& path) const {
    return absl::StrCat("http://127.0.0.1:", port_, path);
  }
  int connections() const { return connections_.load(); }

 protected:
  // Listens on 127.0.0.1 at a port of the kernel's choice and starts Serve on the thread.
  absl::Status Listen(int extra_socket_flags, int backlog) {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | extra_socket_flags, 0);
    if (listener_ < 0) return absl::InternalError(absl::StrCat("socket: errno ", errno));
    sockaddr_in address = {};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        listen(listener_, backlog) != 0 ||
        getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      return absl::InternalError(absl::StrCat("bind/listen on 127.0.0.1:0: errno ", errno));
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Serve(); });
    return absl::OkStatus();
  }
  void StopServing() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  virtual void Serve() = 0;

  int listener_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};

 private:
  int port_ = 0;
  std::thread thread_;
};

// A loopback HTTP server for a fault on the wire: it reads each request, then resets the first
// `resets` connections (SO_LINGER 0 closes with a RST, "Connection reset by peer") and answers the
// others 200 with `body`. One connection at a time, until destroyed.
class ResettingServer : public LoopbackServer {
 public:
  static absl::StatusOr<std::unique_ptr<ResettingServer>> Start(int resets, std::string body) {
    std::unique_ptr<ResettingServer> server(new ResettingServer(resets, std::move(body)));
    RETURN_IF_ERROR(server->Listen(0, 8));
    return server;
  }
  ~ResettingServer() override { StopServing(); }

 private:
  ResettingServer(int resets, std::string body) : resets_(resets), body_(std::move(body)) {}

  void Serve() override {
    while (!stop_) {
      pollfd ready = {listener_, POLLIN, 0};
      if (poll(&ready, 1, 20) <= 0) continue;
      const int connection = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (connection < 0) continue;
      const int number = ++connections_;
      const timeval receive_timeout = {2, 0};
      setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &receive_timeout, sizeof(receive_timeout));
      std::string request;
      char buffer[4096];
      while (request.find("\r\n\r\n") == std::string::npos && request.size() < 65536) {
        const ssize_t received = recv(connection, buffer, sizeof(buffer), 0);
        if (received <= 0) break;
        request.append(buffer, static_cast<size_t>(received));
      }
      if (number <= resets_) {
        const linger reset = {1, 0};
        setsockopt(connection, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
      } else {
        SendAll(connection, CrlAnswer(body_));
      }
      close(connection);
    }
  }

  const int resets_;
  const std::string body_;
};

// A loopback HTTP server as slow as a far or loaded CA: it accepts every connection at once and
// answers each 200 with `body` `delay` after accepting it, whatever the request. One thread, until
// destroyed.
class DelayedServer : public LoopbackServer {
 public:
  static absl::StatusOr<std::unique_ptr<DelayedServer>> Start(absl::Duration delay,
                                                              std::string body) {
    std::unique_ptr<DelayedServer> server(new DelayedServer(delay, std::move(body)));
    RETURN_IF_ERROR(server->Listen(SOCK_NONBLOCK, 256));
    return server;
  }
  ~DelayedServer() override {
    StopServing();
    for (const Held& held : held_) close(held.connection);
  }

 private:
  struct Held {
    int connection;
    absl::Time answer_at;
  };

  DelayedServer(absl::Duration delay, std::string body) : delay_(delay), body_(std::move(body)) {}

  void Serve() override {
    while (!stop_) {
      pollfd ready = {listener_, POLLIN, 0};
      poll(&ready, 1, 5);
      while (true) {
        const int connection = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (connection < 0) break;
        ++connections_;
        held_.push_back({connection, absl::Now() + delay_});
      }
      const absl::Time now = absl::Now();
      for (auto it = held_.begin(); it != held_.end();) {
        if (it->answer_at > now) {
          ++it;
          continue;
        }
        // The request is read first: closing a socket with unread bytes resets the connection.
        char buffer[4096];
        while (recv(it->connection, buffer, sizeof(buffer), MSG_DONTWAIT) > 0) {
        }
        SendAll(it->connection, CrlAnswer(body_));
        close(it->connection);
        it = held_.erase(it);
      }
    }
  }

  const absl::Duration delay_;
  const std::string body_;
  std::vector<Held> held_;
};

// The evidence as the signer receives it (v1::SignVouchingRequest.revocation).
google::protobuf::RepeatedPtrField<v1::RevocationEvidence> AsRepeated(
    const std::vector<v1::RevocationEvidence>& evidence) {
  return google::protobuf::RepeatedPtrField<v1::RevocationEvidence>(evidence.begin(),
                                                                    evidence.end());
}

// Runs a command to completion; INTERNAL with the end of its output when it fails.
absl::Status RunCommand(const std::vector<std::string>& argv, const std::string& log_path) {
  ASSIGN_OR_RETURN(std::unique_ptr<ChildProcess> child, ChildProcess::Start(argv, log_path));
  if (!child->WaitForExit(absl::Seconds(60))) {
    child->Stop();
    return absl::DeadlineExceededError(absl::StrCat(argv[0], " did not finish"));
  }
  if (child->ExitCode() != 0) {
    return absl::InternalError(absl::StrCat(absl::StrJoin(argv, " "), " ", child->ExitDescription(),
                                            ": ", TailOfFile(log_path)));
  }
  return absl::OkStatus();
}

// Waits until the file at `path` contains `text` (a server's "ready" line).
absl::Status WaitForLogLine(const std::string& path, const std::string& text,
                            absl::Duration timeout, ChildProcess& server) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    absl::StatusOr<std::string> contents = ReadFile(path);
    if (contents.ok() && absl::StrContains(*contents, text)) return absl::OkStatus();
    if (!server.Running()) {
      return absl::UnavailableError(
          absl::StrCat(server.name(), " ", server.ExitDescription(), ": ", TailOfFile(path)));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(absl::StrCat("no \"", text, "\" in ", path));
}

// The CA, its files and the servers, shared by every test of the suite.
struct Environment {
  std::string directory;
  int nginx_port = 0;
  int ocsp_port = 0;
  int dead_port = 0;
  RevocationPki pki;
  std::string crl_url;
  std::string older_crl_url;
  std::string expired_crl_url;
  std::string ocsp_url;
  std::string dead_ocsp_url;
  // Leaves, named by what the CA's index and CRLs say about them.
  IssuedCertificate good;                    // CRL + OCSP, valid.
  IssuedCertificate revoked_on_crl;          // CRL only, revoked (keyCompromise).
  IssuedCertificate revoked_on_ocsp;         // OCSP only, revoked.
  IssuedCertificate revoked_after_crl;       // older CRL (says good) + OCSP (says revoked).
  IssuedCertificate expired_crl_only;        // expired CRL only, valid.
  IssuedCertificate responder_down;          // OCSP at a port nothing listens on.
  IssuedCertificate crl_but_responder_down;  // CRL (valid) + OCSP at a port nothing listens on.
  IssuedCertificate no_urls;
  std::unique_ptr<ChildProcess> nginx;
  std::unique_ptr<ChildProcess> ocsp_responder;
};

absl::StatusOr<std::string> WriteCertificate(const std::string& directory, const std::string& name,
                                             const IssuedCertificate& issued) {
  return test_pki::WriteTestFile(directory, name, CertificateToPem(issued.certificate.get()));
}

absl::Status ConvertCrlToDer(const std::string& pem_path, const std::string& der_path,
                             const std::string& log) {
  return RunCommand({"openssl", "crl", "-in", pem_path, "-outform", "DER", "-out", der_path}, log);
}

absl::StatusOr<std::unique_ptr<Environment>> BuildEnvironment() {
  auto environment = std::make_unique<Environment>();
  Environment& env = *environment;
  ASSIGN_OR_RETURN(env.directory, test_pki::MakeTempDirectory());
  const std::string& dir = env.directory;
  const std::string log = dir + "/commands.log";
  ASSIGN_OR_RETURN(env.nginx_port, PickFreeTcpPort());
  ASSIGN_OR_RETURN(env.ocsp_port, PickFreeTcpPort());
  ASSIGN_OR_RETURN(env.dead_port, PickFreeTcpPort());
  const std::string nginx_base = absl::StrCat("http://127.0.0.1:", env.nginx_port);
  env.crl_url = nginx_base + "/ca.crl";
  env.older_crl_url = nginx_base + "/older.crl";
  env.expired_crl_url = nginx_base + "/expired.crl";
  env.ocsp_url = absl::StrCat("http://127.0.0.1:", env.ocsp_port, "/");
  env.dead_ocsp_url = absl::StrCat("http://127.0.0.1:", env.dead_port, "/");

  // The CA and its delegated OCSP responder (RFC 6960 §4.2.2.2).
  ASSIGN_OR_RETURN(env.pki, test_revocation::BuildRevocationPki(absl::Now()));
  ASSIGN_OR_RETURN(IssuedCertificate responder, env.pki.IssueResponder(true));
  RETURN_IF_ERROR(WriteCertificate(dir, "ca.pem", env.pki.ca).status());
  RETURN_IF_ERROR(
      test_pki::WriteTestFile(dir, "ca.key", PrivateKeyToPem(env.pki.ca.key.get())).status());
  RETURN_IF_ERROR(WriteCertificate(dir, "responder.pem", responder).status());
  RETURN_IF_ERROR(
      test_pki::WriteTestFile(dir, "responder.key", PrivateKeyToPem(responder.key.get())).status());
  RETURN_IF_ERROR(test_pki::WriteTestFile(dir, "index.txt", "").status());
  RETURN_IF_ERROR(test_pki::WriteTestFile(dir, "crlnumber", "01\n").status());
  ASSIGN_OR_RETURN(
      const std::string config,
      test_pki::WriteTestFile(dir, "ca.cnf",
                              absl::StrCat("[ ca ]\n"
                                           "default_ca = test_ca\n"
                                           "[ test_ca ]\n"
                                           "database = ",
                                           dir,
                                           "/index.txt\n"
                                           "certificate = ",
                                           dir,
                                           "/ca.pem\n"
                                           "private_key = ",
                                           dir,
                                           "/ca.key\n"
                                           "crlnumber = ",
                                           dir,
                                           "/crlnumber\n"
                                           "default_md = sha256\n"
                                           "unique_subject = no\n"
                                           "crl_extensions = crl_extensions\n"
                                           "[ crl_extensions ]\n"
                                           "authorityKeyIdentifier = keyid:always\n")));
  auto ca = [&](std::vector<std::string> arguments) {
    std::vector<std::string> argv = {"openssl", "ca", "-config", config, "-batch"};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    return RunCommand(argv, log);
  };

  // The leaves, entered into the CA's index with `openssl ca -valid` / `-revoke`.
  ASSIGN_OR_RETURN(env.good, env.pki.IssueLeaf("good.example.test", env.crl_url, env.ocsp_url));
  ASSIGN_OR_RETURN(env.revoked_on_crl,
                   env.pki.IssueLeaf("revoked-crl.example.test", env.crl_url, ""));
  ASSIGN_OR_RETURN(env.revoked_on_ocsp,
                   env.pki.IssueLeaf("revoked-ocsp.example.test", "", env.ocsp_url));
  ASSIGN_OR_RETURN(env.revoked_after_crl, env.pki.IssueLeaf("revoked-later.example.test",
                                                            env.older_crl_url, env.ocsp_url));
  ASSIGN_OR_RETURN(env.expired_crl_only,
                   env.pki.IssueLeaf("expired-crl.example.test", env.expired_crl_url, ""));
  ASSIGN_OR_RETURN(env.responder_down,
                   env.pki.IssueLeaf("responder-down.example.test", "", env.dead_ocsp_url));
  ASSIGN_OR_RETURN(env.no_urls, env.pki.IssueLeaf("no-urls.example.test", "", ""));
  ASSIGN_OR_RETURN(
      env.crl_but_responder_down,
      env.pki.IssueLeaf("crl-but-responder-down.example.test", env.crl_url, env.dead_ocsp_url));
  for (const auto& [name, leaf] : std::vector<std::pair<std::string, IssuedCertificate*>>{
           {"good.pem", &env.good},
           {"revoked_on_crl.pem", &env.revoked_on_crl},
           {"revoked_on_ocsp.pem", &env.revoked_on_ocsp},
           {"revoked_after_crl.pem", &env.revoked_after_crl},
           {"expired_crl_only.pem", &env.expired_crl_only}}) {
    ASSIGN_OR_RETURN(const std::string path, WriteCertificate(dir, name, *leaf));
    if (name == "revoked_on_crl.pem" || name == "revoked_on_ocsp.pem") {
      RETURN_IF_ERROR(ca({"-revoke", path, "-crl_reason", "keyCompromise"}));
    } else {
      RETURN_IF_ERROR(ca({"-valid", path}));
    }
  }

  // CRLs, served as DER (RFC 5280 §4.2.1.13): one from before revoked_after_crl was revoked, the
  // current one, and one that expired in 2020.
  RETURN_IF_ERROR(RunCommand({"mkdir", "-p", dir + "/www", dir + "/tmp"}, log));
  RETURN_IF_ERROR(ca({"-gencrl", "-crlhours", "24", "-out", dir + "/older.pem"}));
  RETURN_IF_ERROR(ca({"-revoke", dir + "/revoked_after_crl.pem", "-crl_reason", "superseded"}));
  RETURN_IF_ERROR(ca({"-gencrl", "-crlhours", "24", "-out", dir + "/ca.pem.crl"}));
  RETURN_IF_ERROR(ca({"-gencrl", "-crl_lastupdate", "20200101000000Z", "-crl_nextupdate",
                      "20200102000000Z", "-out", dir + "/expired.pem"}));
  RETURN_IF_ERROR(ConvertCrlToDer(dir + "/older.pem", dir + "/www/older.crl", log));
  RETURN_IF_ERROR(ConvertCrlToDer(dir + "/ca.pem.crl", dir + "/www/ca.crl", log));
  RETURN_IF_ERROR(ConvertCrlToDer(dir + "/expired.pem", dir + "/www/expired.crl", log));
  RETURN_IF_ERROR(
      test_pki::WriteTestFile(dir + "/www", "big.bin", std::string(100000, 'x')).status());
  RETURN_IF_ERROR(test_pki::WriteTestFile(dir + "/www", "malformed.crl", "not a CRL\n").status());

  // nginx on 127.0.0.1 only.
  ASSIGN_OR_RETURN(
      const std::string nginx_config,
      test_pki::WriteTestFile(dir, "nginx.conf",
                              absl::StrCat(geteuid() == 0 ? "user root root;\n" : "",
                                           "worker_processes 1;\n"
                                           "events { worker_connections 64; }\n"
                                           "http {\n"
                                           "  access_log off;\n"
                                           "  default_type application/pkix-crl;\n"
                                           "  client_body_temp_path ",
                                           dir, "/tmp/client_body;\n  proxy_temp_path ", dir,
                                           "/tmp/proxy;\n  fastcgi_temp_path ", dir,
                                           "/tmp/fastcgi;\n  uwsgi_temp_path ", dir,
                                           "/tmp/uwsgi;\n  scgi_temp_path ", dir,
                                           "/tmp/scgi;\n"
                                           "  server {\n"
                                           "    listen 127.0.0.1:",
                                           env.nginx_port, ";\n    root ", dir,
                                           "/www;\n"
                                           "    location = /busy.crl { return 503; }\n"
                                           "    location = /throttled.crl { return 429; }\n"
                                           "  }\n"
                                           "}\n")));
  ASSIGN_OR_RETURN(
      env.nginx,
      ChildProcess::Start({"nginx", "-e", "stderr", "-p", dir, "-c", nginx_config, "-g",
                           absl::StrCat("daemon off; pid ", dir, "/nginx.pid; error_log stderr;")},
                          dir + "/nginx.log"));
  absl::Status nginx_up = WaitForTcpPort("127.0.0.1", env.nginx_port, absl::Seconds(10));
  if (!nginx_up.ok()) {
    return Annotate(nginx_up, absl::StrCat("nginx: ", TailOfFile(dir + "/nginx.log")));
  }

  // The OCSP responder. `openssl ocsp -port` takes a port only and binds every interface; the
  // tests reach it on 127.0.0.1. It serves one connection at a time and a connection that sends
  // nothing blocks it, so readiness is read from its log rather than probed with a connection.
  ASSIGN_OR_RETURN(env.ocsp_responder,
                   ChildProcess::Start({"openssl", "ocsp", "-index", dir + "/index.txt", "-port",
                                        absl::StrCat(env.ocsp_port), "-rsigner",
                                        dir + "/responder.pem", "-rkey", dir + "/responder.key",
                                        "-CA", dir + "/ca.pem", "-nrequest", "1000", "-nmin", "60"},
                                       dir + "/ocsp.log"));
  absl::Status ocsp_up = WaitForLogLine(dir + "/ocsp.log", "waiting for OCSP client connections",
                                        absl::Seconds(10), *env.ocsp_responder);
  if (!ocsp_up.ok()) {
    return Annotate(ocsp_up, absl::StrCat("openssl ocsp: ", TailOfFile(dir + "/ocsp.log")));
  }
  return environment;
}

class RevocationCheckerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<Environment>> environment = BuildEnvironment();
    if (!environment.ok()) {
      setup_error_ = new std::string(environment.status().ToString());
      return;
    }
    environment_ = environment->release();
  }

  static void TearDownTestSuite() {
    if (environment_ != nullptr) {
      if (environment_->ocsp_responder) environment_->ocsp_responder->Stop();
      if (environment_->nginx) environment_->nginx->Stop();
    }
    delete environment_;
    environment_ = nullptr;
    delete setup_error_;
    setup_error_ = nullptr;
  }

  void SetUp() override {
    ASSERT_EQ(setup_error_, nullptr) << *setup_error_;
    absl::StatusOr<AddressPolicy> policy = AddressPolicy::Create({"127.0.0.0/8"});
    ASSERT_TRUE(policy.ok()) << policy.status();
    curl_ = std::make_unique<CurlHttpFetcher>(*policy);
    counting_ = std::make_unique<CountingFetcher>(*curl_);
    checker_ = std::make_unique<RevocationChecker>(*counting_, clock_);
  }

  Environment& env() { return *environment_; }
  X509* ca() { return env().pki.ca.certificate.get(); }

  RevocationOutcome Check(const IssuedCertificate& leaf) {
    return checker_->Check(leaf.certificate.get(), ca());
  }

  static Environment* environment_;
  static std::string* setup_error_;

  FakeClock clock_{absl::Now()};
  std::unique_ptr<CurlHttpFetcher> curl_;
  std::unique_ptr<CountingFetcher> counting_;
  std::unique_ptr<RevocationChecker> checker_;
};

Environment* RevocationCheckerTest::environment_ = nullptr;
std::string* RevocationCheckerTest::setup_error_ = nullptr;

TEST_F(RevocationCheckerTest, GoodCertificateIsGoodWithEvidenceFromCrlAndOcsp) {
  RevocationOutcome outcome = Check(env().good);
  EXPECT_EQ(outcome.reason, v1::REFUSAL_REASON_UNSPECIFIED) << outcome.explanation;
  EXPECT_EQ(outcome.source, v1::CRL);
  EXPECT_EQ(outcome.checked_at, clock_.Now());
  EXPECT_THAT(outcome.explanation,
              AllOf(HasSubstr("CRL " + env().crl_url), HasSubstr("OCSP " + env().ocsp_url)));
  ASSERT_THAT(outcome.evidence, SizeIs(2));
  EXPECT_EQ(outcome.evidence[0].source(), v1::CRL);
  EXPECT_EQ(outcome.evidence[0].url(), env().crl_url);
  EXPECT_EQ(outcome.evidence[1].source(), v1::OCSP);
  EXPECT_EQ(outcome.evidence[1].url(), env().ocsp_url);
  EXPECT_GT(outcome.evidence[1].next_update_unix_seconds(), clock_.NowUnixSeconds());
  // The request carried a nonce (RFC 8954) and `openssl ocsp` echoed it.
  const std::string& ocsp_der = outcome.evidence[1].response_der();
  const unsigned char* cursor = reinterpret_cast<const unsigned char*>(ocsp_der.data());
  OcspResponsePtr response(d2i_OCSP_RESPONSE(nullptr, &cursor, static_cast<long>(ocsp_der.size())));
  ASSERT_NE(response, nullptr);
  OcspBasicResponsePtr basic(OCSP_response_get1_basic(response.get()));
  ASSERT_NE(basic, nullptr);
  EXPECT_GE(OCSP_BASICRESP_get_ext_by_NID(basic.get(), NID_id_pkix_OCSP_Nonce, -1), 0);
  // The signer's independent re-check accepts both.
  for (const v1::RevocationEvidence& evidence : outcome.evidence) {
    RevocationVerdict verdict =
        VerifyRevocationEvidence(evidence, env().good.certificate.get(), ca(), clock_.Now());
    EXPECT_EQ(verdict.status, RevocationStatus::kGood) << verdict.detail;
  }
}

TEST_F(RevocationCheckerTest, RevokedOnTheCrlIsRevoked) {
  RevocationOutcome outcome = Check(env().revoked_on_crl);
  EXPECT_EQ(outcome.reason, v1::CERTIFICATE_REVOKED) << outcome.explanation;
  EXPECT_EQ(outcome.source, v1::CRL);
  EXPECT_THAT(outcome.explanation, AllOf(HasSubstr("CRL " + env().crl_url), HasSubstr("revoked at"),
                                         HasSubstr("keyCompromise")));
  ASSERT_THAT(outcome.evidence, SizeIs(1));
  EXPECT_EQ(VerifyRevocationEvidence(outcome.evidence[0], env().revoked_on_crl.certificate.get(),
                                     ca(), clock_.Now())
                .status,
            RevocationStatus::kRevoked);
}

TEST_F(RevocationCheckerTest, RevokedByOcspIsRevoked) {
  RevocationOutcome outcome = Check(env().revoked_on_ocsp);
  EXPECT_EQ(outcome.reason, v1::CERTIFICATE_REVOKED) << outcome.explanation;
  EXPECT_EQ(outcome.source, v1::OCSP);
  EXPECT_THAT(outcome.explanation, AllOf(HasSubstr("OCSP " + env().ocsp_url),
                                         HasSubstr("revoked at"), HasSubstr("keyCompromise")));
}

TEST_F(RevocationCheckerTest, OcspRevocationWinsOverAnOlderCrlSayingGood) {
  RevocationOutcome outcome = Check(env().revoked_after_crl);
  EXPECT_EQ(outcome.reason, v1::CERTIFICATE_REVOKED) << outcome.explanation;
  EXPECT_EQ(outcome.source, v1::OCSP);
  EXPECT_THAT(outcome.explanation, HasSubstr("superseded"));
  EXPECT_THAT(outcome.evidence, SizeIs(2));
}

TEST_F(RevocationCheckerTest, ResponderDownAndNoCrlIsUnknown) {
  RevocationOutcome outcome = Check(env().responder_down);
  EXPECT_EQ(outcome.reason, v1::REVOCATION_UNKNOWN) << outcome.explanation;
  EXPECT_EQ(outcome.source, v1::REVOCATION_SOURCE_UNSPECIFIED);
  EXPECT_THAT(outcome.explanation,
              AllOf(HasSubstr("revocation status unknown: OCSP " + env().dead_ocsp_url + ": "),
                    HasSubstr("onnect"), HasSubstr("(2 attempts)")));
  EXPECT_THAT(outcome.evidence, IsEmpty());
}

TEST_F(RevocationCheckerTest, ExpiredCrlIsUnknown) {
  RevocationOutcome outcome = Check(env().expired_crl_only);
  EXPECT_EQ(outcome.reason, v1::REVOCATION_UNKNOWN) << outcome.explanation;
  EXPECT_EQ(outcome.explanation, "revocation status unknown: CRL " + env().expired_crl_url +
                                     ": the CRL expired at 2020-01-02T00:00:00Z");
  EXPECT_THAT(outcome.evidence, IsEmpty());
  EXPECT_EQ(checker_->CachedCrlCount(), 0u);
}

TEST_F(RevocationCheckerTest, CertificateWithoutUrlsIsUnknown) {
  RevocationOutcome outcome = Check(env().no_urls);
  EXPECT_EQ(outcome.reason, v1::REVOCATION_UNKNOWN);
  EXPECT_THAT(outcome.explanation,
              HasSubstr("the certificate names no CRL distribution point or OCSP responder"));
  EXPECT_THAT(counting_->urls(), IsEmpty());
}

TEST_F(RevocationCheckerTest, SecondCheckIsServedFromTheCaches) {
  RevocationOutcome first = Check(env().good);
  ASSERT_EQ(first.reason, v1::REFUSAL_REASON_UNSPECIFIED) << first.explanation;
  EXPECT_THAT(counting_->urls(), SizeIs(2));
  EXPECT_EQ(checker_->CachedCrlCount(), 1u);
  EXPECT_EQ(checker_->CachedOcspResponseCount(), 1u);

  clock_.Advance(absl::Minutes(10));
  RevocationOutcome second = Check(env().good);
  EXPECT_EQ(second.reason, v1::REFUSAL_REASON_UNSPECIFIED) << second.explanation;
  EXPECT_THAT(counting_->urls(), SizeIs(2)) << "the second check fetched again";
  ASSERT_THAT(second.evidence, SizeIs(2));
  EXPECT_EQ(second.evidence[0].response_der(), first.evidence[0].response_der());
  EXPECT_EQ(second.evidence[1].response_der(), first.evidence[1].response_der());
  EXPECT_EQ(second.checked_at, first.checked_at + absl::Minutes(10));
  // Each response is named by the SHA-256 computed once, when it was fetched.
  for (const RevocationOutcome* outcome : {&first, &second}) {
    for (const v1::RevocationEvidence& evidence : outcome->evidence) {
      EXPECT_EQ(evidence.response_sha256(), Sha256(evidence.response_der()));
    }
  }

  // The cached CRL serves another certificate naming the same distribution point, and is
  // re-verified for it: it is revoked.
  RevocationOutcome other = Check(env().revoked_on_crl);
  EXPECT_EQ(other.reason, v1::CERTIFICATE_REVOKED) << other.explanation;
  EXPECT_THAT(counting_->urls(), SizeIs(2));
}

// The cached CRL's signature is verified once, with the key of the issuer it was stored for
// (CheckParsedCrl's `verified_with`). A certificate "issued" by an impostor CA with the issuer's
// name but another key is checked against the CRL's signature again, and the CRL does not verify
// with the impostor's key: not a good verdict from the cache.
TEST_F(RevocationCheckerTest, ACachedCrlIsVerifiedAgainForAnIssuerWithTheSameNameAndAnotherKey) {
  ASSERT_EQ(Check(env().good).reason, v1::REFUSAL_REASON_UNSPECIFIED);
  ASSERT_EQ(checker_->CachedCrlCount(), 1u);
  absl::StatusOr<EvpPkeyPtr> impostor_key = GenerateEcKey();
  ASSERT_TRUE(impostor_key.ok()) << impostor_key.status();
  X509Ptr impostor(X509_dup(ca()));
  ASSERT_NE(impostor, nullptr);
  ASSERT_EQ(X509_set_pubkey(impostor.get(), impostor_key->get()), 1);
  ASSERT_GT(X509_sign(impostor.get(), impostor_key->get(), EVP_sha256()), 0);

  RevocationOutcome outcome = checker_->Check(env().good.certificate.get(), impostor.get());
  EXPECT_EQ(outcome.reason, v1::REVOCATION_UNKNOWN) << outcome.explanation;
  EXPECT_THAT(outcome.explanation, HasSubstr("does not verify with the issuer's key"));
  // The true issuer is still answered from the cache.
  EXPECT_EQ(Check(env().good).reason, v1::REFUSAL_REASON_UNSPECIFIED);
}

// A response the log already holds is named by its hash only; the others carry their bytes.
TEST_F(RevocationCheckerTest, AResponseTheLogHoldsIsNamedByHashOnly) {
  std::set<std::string> held;
  RevocationOptions options;
  options.response_held_by_log = [&held](const std::string& sha256) {
    return held.count(sha256) != 0;
  };
  RevocationChecker checker(*counting_, clock_, options);
  RevocationOutcome first = checker.Check(env().good.certificate.get(), ca());
  ASSERT_EQ(first.reason, v1::REFUSAL_REASON_UNSPECIFIED) << first.explanation;
  ASSERT_THAT(first.evidence, SizeIs(2));
  for (const v1::RevocationEvidence& evidence : first.evidence) {
    ASSERT_FALSE(evidence.response_der().empty());
    EXPECT_EQ(evidence.response_sha256(), Sha256(evidence.response_der()));
  }
  // The log now holds the CRL (the first evidence), not the OCSP response.
  ASSERT_EQ(first.evidence[0].source(), v1::CRL);
  held.insert(first.evidence[0].response_sha256());
  RevocationOutcome second = checker.Check(env().good.certificate.get(), ca());
  ASSERT_EQ(second.reason, v1::REFUSAL_REASON_UNSPECIFIED) << second.explanation;
  ASSERT_THAT(second.evidence, SizeIs(2));
  EXPECT_TRUE(second.evidence[0].response_der().empty());
  EXPECT_EQ(second.evidence[0].response_sha256(), first.evidence[0].response_sha256());
  EXPECT_EQ(second.evidence[1].response_der(), first.evidence[1].response_der());
}

TEST_F(RevocationCheckerTest, OcspResponseIsFetchedAgainAfterItsNextUpdate) {
  // A maximum cache age beyond the OCSP response's nextUpdate, so that only the latter applies.
  RevocationOptions options;
  options.max_cache_age = absl::Hours(2);
  checker_ = std::make_unique<RevocationChecker>(*counting_, clock_, options);
  ASSERT_EQ(Check(env().good).reason, v1::REFUSAL_REASON_UNSPECIFIED);
  ASSERT_THAT(counting_->urls(), SizeIs(2));
  // `openssl ocsp -nmin 60`: the response is due for renewal after an hour; the CRL lasts a day.
  clock_.Advance(absl::Minutes(70));
  RevocationOutcome outcome = Check(env().good);
  EXPECT_THAT(counting_->urls(), SizeIs(3));
  EXPECT_EQ(counting_->urls().back(), env().ocsp_url);
  // The responder's fresh answer was produced at real time, an hour before the fake clock's now,
  // so it is stale too. The certificate names the responder, so the CRL alone does not decide.
  EXPECT_EQ(outcome.reason, v1::REVOCATION_UNKNOWN) << outcome.explanation;
  EXPECT_EQ(outcome.source, v1::REVOCATION_SOURCE_UNSPECIFIED);
  EXPECT_THAT(outcome.explanation,
              AllOf(HasSubstr("CRL " + env().crl_url + ": the CRL of"),
                    HasSubstr("OCSP " + env().ocsp_url + ": the OCSP response is stale")));
}

// A CRL valid for a day and an OCSP response valid for an hour are both fetched again once they
// were cached for max_cache_age, so a revocation published since is seen that soon.
TEST_F(RevocationCheckerTest, CachedResponsesAreFetchedAgainAfterTheMaximumCacheAge) {
  EXPECT_EQ(RevocationOptions().max_cache_age, absl::Hours(1));
  RevocationOptions options;
  options.max_cache_age = absl::Minutes(10);
  checker_ = std::make_unique<RevocationChecker>(*counting_, clock_, options);
  ASSERT_EQ(Check(env().good).reason, v1::REFUSAL_REASON_UNSPECIFIED);
  ASSERT_THAT(counting_->urls(), SizeIs(2));

  clock_.Advance(absl::Minutes(10) - absl::Seconds(1));
  RevocationOutcome cached = Check(env().good);
  EXPECT_EQ(cached.reason, v1::REFUSAL_REASON_UNSPECIFIED) << cached.explanation;
  EXPECT_THAT(counting_->urls(), SizeIs(2)) << "fetched again before max_cache_age";

  clock_.Advance(absl::Seconds(1));
  RevocationOutcome refetched = Check(env().good);
  EXPECT_EQ(refetched.reason, v1::REFUSAL_REASON_UNSPECIFIED) << refetched.explanation;
  const std::vector<std::string> urls = counting_->urls();
  ASSERT_THAT(urls, SizeIs(4));
  EXPECT_THAT(std::vector<std::string>(urls.begin() + 2, urls.end()),
              UnorderedElementsAre(env().crl_url, env().ocsp_url));
  ASSERT_THAT(refetched.evidence, SizeIs(2));
  for (const v1::RevocationEvidence& evidence : refetched.evidence) {
    EXPECT_EQ(evidence.obtained_at_unix_seconds(), clock_.NowUnixSeconds());
  }
}

TEST_F(RevocationCheckerTest, WithoutTheAllowlistLoopbackIsRefused) {
  absl::StatusOr<AddressPolicy> strict = AddressPolicy::Create({});
  ASSERT_TRUE(strict.ok());
  CurlHttpFetcher fetcher(*strict);
  HttpRequest request;
  request.url = env().crl_url;
  EXPECT_THAT(fetcher.Fetch(request),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       AllOf(HasSubstr("address 127.0.0.1"), HasSubstr("loopback"))));

  RevocationChecker checker(fetcher, clock_);
  RevocationOutcome outcome = checker.Check(env().good.certificate.get(), ca());
  EXPECT_EQ(outcome.reason, v1::REVOCATION_UNKNOWN);
  EXPECT_THAT(
      outcome.explanation,
      AllOf(HasSubstr("CRL " + env().crl_url + ": refused to connect: address 127.0.0.1"),
            HasSubstr("OCSP " + env().ocsp_url + ": refused to connect: address 127.0.0.1")));
}

TEST_F(RevocationCheckerTest, FetcherReportsHttpStatusSizeLimitAndScheme) {
  HttpRequest missing;
  missing.url = absl::StrCat("http://127.0.0.1:", env().nginx_port, "/missing.crl");
  EXPECT_THAT(curl_->Fetch(missing), StatusIs(absl::StatusCode::kUnavailable, "HTTP status 404"));

  HttpRequest big;
  big.url = absl::StrCat("http://127.0.0.1:", env().nginx_port, "/big.bin");
  big.max_response_bytes = 1000;
  EXPECT_THAT(curl_->Fetch(big), StatusIs(absl::StatusCode::kResourceExhausted,
                                          "the response exceeds the limit of 1000 bytes"));
  big.max_response_bytes = 100000;
  absl::StatusOr<std::string> body = curl_->Fetch(big);
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(body->size(), 100000u);

  HttpRequest ftp;
  ftp.url = absl::StrCat("ftp://127.0.0.1:", env().nginx_port, "/ca.crl");
  EXPECT_THAT(curl_->Fetch(ftp),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not an http or https URL")));
}

// The rule the signer applies (//common/revocation:revocation CombineRevocationVerdicts): a
// certificate that names both a CRL distribution point and an OCSP responder needs both to say
// good, so the CRL alone does not vouch for it while its responder is down.
TEST_F(RevocationCheckerTest, BothNamedSourcesMustSayGoodOrTheStatusIsUnknown) {
  RevocationOutcome outcome = Check(env().crl_but_responder_down);
  EXPECT_EQ(outcome.reason, v1::REVOCATION_UNKNOWN) << outcome.explanation;
  EXPECT_EQ(outcome.source, v1::REVOCATION_SOURCE_UNSPECIFIED);
  EXPECT_THAT(outcome.explanation,
              AllOf(HasSubstr("revocation status unknown: CRL " + env().crl_url + ": the CRL of"),
                    HasSubstr("does not list the certificate"),
                    HasSubstr("; OCSP " + env().dead_ocsp_url + ": ")));
  // The CRL is still evidence for the record; the signer would refuse it alone just the same.
  ASSERT_THAT(outcome.evidence, SizeIs(1));
  EXPECT_EQ(outcome.evidence[0].source(), v1::CRL);
  EXPECT_FALSE(JudgeRevocationEvidence(AsRepeated(outcome.evidence),
                                       env().crl_but_responder_down.certificate.get(), ca(),
                                       clock_.Now(), RevocationLimits())
                   .good());
}

// The time a good outcome rests on is the CA's, from inside the responses: the older of the CRL's
// and the OCSP response's thisUpdate, whatever the coordinator's clock said when it fetched them.
TEST_F(RevocationCheckerTest, GoodOutcomeCarriesTheOlderCaSignedTimeOfItsTwoSources) {
  clock_.Advance(absl::Minutes(3));
  RevocationOutcome outcome = Check(env().good);
  ASSERT_EQ(outcome.reason, v1::REFUSAL_REASON_UNSPECIFIED) << outcome.explanation;
  ASSERT_THAT(outcome.evidence, SizeIs(2));
  const absl::Time crl_this_update =
      VerifyRevocationEvidence(outcome.evidence[0], env().good.certificate.get(), ca(),
                               clock_.Now())
          .this_update;
  const absl::Time ocsp_this_update =
      VerifyRevocationEvidence(outcome.evidence[1], env().good.certificate.get(), ca(),
                               clock_.Now())
          .this_update;
  ASSERT_NE(crl_this_update, absl::InfinitePast());
  ASSERT_NE(ocsp_this_update, absl::InfinitePast());
  EXPECT_EQ(outcome.ca_signed_at, std::min(crl_this_update, ocsp_this_update));
  EXPECT_LT(outcome.ca_signed_at, clock_.Now());
  // The signer, judging the same evidence, arrives at the same time.
  RevocationJudgement judgement =
      JudgeRevocationEvidence(AsRepeated(outcome.evidence), env().good.certificate.get(), ca(),
                              clock_.Now(), RevocationLimits());
  EXPECT_TRUE(judgement.good()) << judgement.explanation;
  EXPECT_EQ(judgement.ca_signed_at, outcome.ca_signed_at);
}

// A cached CRL whose thisUpdate is older than the bound is fetched again rather than served; when
// the CA has published nothing newer, the status is unknown, naming the age.
TEST_F(RevocationCheckerTest, CachedCrlOlderThanTheEvidenceBoundIsFetchedAgainAndNotReliedOn) {
  RevocationOptions options;
  options.limits.max_evidence_age = absl::Hours(1);
  RevocationChecker checker(*counting_, clock_, options);
  ASSERT_EQ(checker.Check(env().good.certificate.get(), ca()).reason,
            v1::REFUSAL_REASON_UNSPECIFIED);
  ASSERT_THAT(counting_->urls(), SizeIs(2));

  // The CRL (`-crlhours 24`) is still valid two hours on, but older than the bound.
  clock_.Advance(absl::Hours(2));
  RevocationOutcome outcome = checker.Check(env().good.certificate.get(), ca());
  const std::vector<std::string> urls = counting_->urls();
  EXPECT_EQ(std::count(urls.begin(), urls.end(), env().crl_url), 2) << absl::StrJoin(urls, ", ");
  EXPECT_EQ(outcome.reason, v1::REVOCATION_UNKNOWN) << outcome.explanation;
  EXPECT_THAT(outcome.explanation,
              HasSubstr("CRL " + env().crl_url + ": too old to rely on: its thisUpdate "));
}

// What a second attempt could change is retried; an answer or a refusal is final.
TEST(IsRetryableFetchErrorTest, TransportErrorsAndBusyServersOnly) {
  EXPECT_TRUE(
      IsRetryableFetchError(absl::UnavailableError("Recv failure: Connection reset by peer")));
  EXPECT_TRUE(
      IsRetryableFetchError(absl::UnavailableError("Failed to connect to 127.0.0.1 port 1")));
  EXPECT_TRUE(IsRetryableFetchError(
      absl::UnavailableError("transfer closed with 100 bytes remaining to read")));
  EXPECT_TRUE(
      IsRetryableFetchError(absl::DeadlineExceededError("timed out: Connection timed out")));
  EXPECT_TRUE(IsRetryableFetchError(absl::UnavailableError("HTTP status 500")));
  EXPECT_TRUE(IsRetryableFetchError(absl::UnavailableError("HTTP status 503")));
  EXPECT_TRUE(IsRetryableFetchError(absl::UnavailableError("HTTP status 429")));
  EXPECT_FALSE(IsRetryableFetchError(absl::UnavailableError("HTTP status 404")));
  EXPECT_FALSE(IsRetryableFetchError(absl::UnavailableError("HTTP status 403")));
  EXPECT_FALSE(IsRetryableFetchError(absl::UnavailableError("HTTP status 301")));
  EXPECT_FALSE(IsRetryableFetchError(
      absl::ResourceExhaustedError("the response exceeds the limit of 1000 bytes")));
  EXPECT_FALSE(IsRetryableFetchError(
      absl::PermissionDeniedError("refused to connect: address 127.0.0.1 is loopback")));
  EXPECT_FALSE(IsRetryableFetchError(absl::InvalidArgumentError("not an http or https URL")));
  EXPECT_FALSE(IsRetryableFetchError(absl::InternalError("curl_easy_init failed")));
  EXPECT_FALSE(IsRetryableFetchError(absl::OkStatus()));
}

// The CRL server resets the connection once (after reading the request, as a crashing or
// overloaded server does); the second download is relied on.
TEST_F(RevocationCheckerTest, CrlDownloadResetOnceIsRetriedAndReliedOn) {
  ASSERT_OK_AND_ASSIGN(const std::string crl_der, ReadFile(env().directory + "/www/ca.crl"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ResettingServer> server,
                       ResettingServer::Start(/*resets=*/1, crl_der));
  const std::string url = server->Url("/ca.crl");
  ASSERT_OK_AND_ASSIGN(IssuedCertificate leaf,
                       env().pki.IssueLeaf("flaky-crl.example.test", url, ""));

  RevocationOutcome outcome = checker_->Check(leaf.certificate.get(), ca());
  EXPECT_EQ(outcome.reason, v1::REFUSAL_REASON_UNSPECIFIED) << outcome.explanation;
  EXPECT_EQ(outcome.source, v1::CRL);
  EXPECT_THAT(counting_->urls(), ::testing::ElementsAre(url, url));
  EXPECT_EQ(server->connections(), 2);
  ASSERT_THAT(outcome.evidence, SizeIs(1));
  EXPECT_EQ(outcome.evidence[0].url(), url);
  EXPECT_EQ(outcome.evidence[0].response_der(), crl_der);
  EXPECT_EQ(
      VerifyRevocationEvidence(outcome.evidence[0], leaf.certificate.get(), ca(), clock_.Now())
          .status,
      RevocationStatus::kGood);
}

TEST_F(RevocationCheckerTest, CrlDownloadResetTwiceIsUnknownNamingBothAttempts) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ResettingServer> server,
                       ResettingServer::Start(/*resets=*/2, ""));
  const std::string url = server->Url("/ca.crl");
  ASSERT_OK_AND_ASSIGN(IssuedCertificate leaf,
                       env().pki.IssueLeaf("down-crl.example.test", url, ""));

  RevocationOutcome outcome = checker_->Check(leaf.certificate.get(), ca());
  EXPECT_EQ(outcome.reason, v1::REVOCATION_UNKNOWN);
  EXPECT_EQ(outcome.explanation, "revocation status unknown: CRL " + url +
                                     ": Recv failure: Connection reset by peer (2 attempts)");
  EXPECT_THAT(outcome.evidence, IsEmpty());
  EXPECT_THAT(counting_->urls(), SizeIs(2));
  EXPECT_EQ(server->connections(), 2);
}

// An OCSP request that fails in transport is sent again, the same request with the same nonce.
TEST_F(RevocationCheckerTest, OcspRequestFailingInTransportIsRetried) {
  FaultInjectingFetcher faults(*counting_);
  faults.FailNext(env().ocsp_url, absl::UnavailableError("Recv failure: Connection reset by peer"));
  RevocationChecker checker(faults, clock_);

  RevocationOutcome outcome = checker.Check(env().good.certificate.get(), ca());
  EXPECT_EQ(outcome.reason, v1::REFUSAL_REASON_UNSPECIFIED) << outcome.explanation;
  ASSERT_THAT(outcome.evidence, SizeIs(2));
  EXPECT_EQ(outcome.evidence[1].source(), v1::OCSP);
  const std::vector<HttpRequest> requests = faults.RequestsFor(env().ocsp_url);
  ASSERT_THAT(requests, SizeIs(2));
  EXPECT_EQ(requests[1].post_body, requests[0].post_body);
  EXPECT_THAT(faults.RequestsFor(env().crl_url), SizeIs(1));
  EXPECT_THAT(counting_->urls(), UnorderedElementsAre(env().crl_url, env().ocsp_url));
}

TEST_F(RevocationCheckerTest, ServerErrorAndTooManyRequestsAreRetriedOnce) {
  for (const auto& [path, code] : std::vector<std::pair<std::string, std::string>>{
           {"/busy.crl", "503"}, {"/throttled.crl", "429"}}) {
    const std::string url = absl::StrCat("http://127.0.0.1:", env().nginx_port, path);
    ASSERT_OK_AND_ASSIGN(IssuedCertificate leaf,
                         env().pki.IssueLeaf("busy-crl.example.test", url, ""));
    RevocationChecker checker(*counting_, clock_);
    const size_t before = counting_->urls().size();
    RevocationOutcome outcome = checker.Check(leaf.certificate.get(), ca());
    EXPECT_EQ(outcome.reason, v1::REVOCATION_UNKNOWN);
    EXPECT_EQ(outcome.explanation,
              "revocation status unknown: CRL " + url + ": HTTP status " + code + " (2 attempts)");
    EXPECT_EQ(counting_->urls().size() - before, 2u) << path;
  }
}

// A 404, a CRL that does not parse and a body over the limit are answers: fetched once.
TEST_F(RevocationCheckerTest, AnswersAreNotRetried) {
  RevocationOptions options;
  options.max_crl_bytes = 1000;
  RevocationChecker checker(*counting_, clock_, options);
  const std::string base = absl::StrCat("http://127.0.0.1:", env().nginx_port);
  for (const auto& [path, detail] : std::vector<std::pair<std::string, std::string>>{
           {"/missing.crl", "HTTP status 404"},
           {"/malformed.crl", "the DER CRL does not parse"},
           {"/big.bin", "the response exceeds the limit of 1000 bytes"}}) {
    const std::string url = base + path;
    ASSERT_OK_AND_ASSIGN(IssuedCertificate leaf,
                         env().pki.IssueLeaf("answered-crl.example.test", url, ""));
    const size_t before = counting_->urls().size();
    RevocationOutcome outcome = checker.Check(leaf.certificate.get(), ca());
    EXPECT_EQ(outcome.reason, v1::REVOCATION_UNKNOWN);
    EXPECT_THAT(outcome.explanation,
                AllOf(HasSubstr("revocation status unknown: CRL " + url + ": " + detail),
                      Not(HasSubstr("attempts"))));
    EXPECT_EQ(counting_->urls().size() - before, 1u) << path;
  }
}

TEST_F(RevocationCheckerTest, AnAddressTheAllowlistRefusesIsNotRetried) {
  absl::StatusOr<AddressPolicy> strict = AddressPolicy::Create({});
  ASSERT_TRUE(strict.ok());
  CurlHttpFetcher fetcher(*strict);
  FaultInjectingFetcher recording(fetcher);
  RevocationChecker checker(recording, clock_);
  RevocationOutcome outcome = checker.Check(env().good.certificate.get(), ca());
  EXPECT_EQ(outcome.reason, v1::REVOCATION_UNKNOWN);
  EXPECT_THAT(outcome.explanation, AllOf(HasSubstr("refused to connect: address 127.0.0.1"),
                                         Not(HasSubstr("attempts"))));
  EXPECT_THAT(recording.RequestsFor(env().crl_url), SizeIs(1));
  EXPECT_THAT(recording.RequestsFor(env().ocsp_url), SizeIs(1));
}

// The retry gets what remains of fetch_timeout after the first attempt and the backoff, and is not
// made when too little would remain.
TEST_F(RevocationCheckerTest, TheRetryStaysWithinTheFetchTimeout) {
  RevocationOptions options;
  options.fetch_timeout = absl::Milliseconds(1000);
  options.retry_backoff = absl::Milliseconds(100);
  const absl::Status reset = absl::UnavailableError("Recv failure: Connection reset by peer");
  {
    FaultInjectingFetcher faults(*counting_);
    faults.FailNext(env().crl_url, reset, absl::Milliseconds(300));
    RevocationChecker checker(faults, clock_, options);
    const absl::Time start = absl::Now();
    RevocationOutcome outcome = checker.Check(env().revoked_on_crl.certificate.get(), ca());
    EXPECT_LT(absl::Now() - start, options.fetch_timeout);
    EXPECT_EQ(outcome.reason, v1::CERTIFICATE_REVOKED) << outcome.explanation;
    const std::vector<HttpRequest> requests = faults.RequestsFor(env().crl_url);
    ASSERT_THAT(requests, SizeIs(2));
    EXPECT_EQ(requests[0].timeout, options.fetch_timeout);
    EXPECT_LE(requests[1].timeout, absl::Milliseconds(600));
    EXPECT_GE(requests[1].timeout, kMinRetryTimeout);
  }
  {
    FaultInjectingFetcher faults(*counting_);
    faults.FailNext(env().crl_url, reset, absl::Milliseconds(850));
    RevocationChecker checker(faults, clock_, options);
    RevocationOutcome outcome = checker.Check(env().revoked_on_crl.certificate.get(), ca());
    EXPECT_EQ(outcome.reason, v1::REVOCATION_UNKNOWN);
    EXPECT_EQ(outcome.explanation, "revocation status unknown: CRL " + env().crl_url +
                                       ": Recv failure: Connection reset by peer");
    EXPECT_THAT(faults.RequestsFor(env().crl_url), SizeIs(1));
  }
}

// The outcomes of checks started with CheckAsync, as they end.
class Outcomes {
 public:
  RevocationChecker::CheckDone Collect() {
    return [this](RevocationOutcome outcome) {
      absl::MutexLock lock(&mutex_);
      outcomes_.push_back(std::move(outcome));
    };
  }
  size_t size() const {
    absl::MutexLock lock(&mutex_);
    return outcomes_.size();
  }
  // Waits (at most `timeout`) until `count` have ended; those that have.
  std::vector<RevocationOutcome> WaitFor(size_t count, absl::Duration timeout) const {
    absl::MutexLock lock(&mutex_);
    auto ended = [this, count]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return outcomes_.size() >= count; };
    mutex_.AwaitWithTimeout(absl::Condition(&ended), timeout);
    return outcomes_;
  }

 private:
  mutable absl::Mutex mutex_;
  std::vector<RevocationOutcome> outcomes_ ABSL_GUARDED_BY(mutex_);
};

// Runs a judging step at once, counting the steps.
RevocationChecker::Executor CountingExecutor(std::atomic<int>& steps) {
  return [&steps](std::function<void()> judge) {
    ++steps;
    judge();
  };
}

// A server as slow as `delay` serving `crl_der`, and `count` leaves of `pki`'s CA, each naming the
// CRL at `path(i)` on it as its only revocation source.
struct SlowCrlServer {
  std::unique_ptr<DelayedServer> server;
  std::vector<IssuedCertificate> leaves;
};
absl::StatusOr<SlowCrlServer> StartSlowCrlServer(const RevocationPki& pki, std::string crl_der,
                                                 absl::Duration delay, int count,
                                                 const std::function<std::string(int)>& path) {
  SlowCrlServer slow;
  ASSIGN_OR_RETURN(slow.server, DelayedServer::Start(delay, std::move(crl_der)));
  for (int i = 0; i < count; ++i) {
    ASSIGN_OR_RETURN(IssuedCertificate leaf, pki.IssueLeaf(absl::StrCat("leaf-", i, ".mecai.test"),
                                                           slow.server->Url(path(i)), ""));
    slow.leaves.push_back(std::move(leaf));
  }
  return slow;
}

// Starts a check of each of `leaves` (issued by `issuer`) at once, judged on this thread.
void CheckAllAsync(RevocationChecker& checker, const std::vector<IssuedCertificate>& leaves,
                   X509* issuer, std::atomic<int>& judging_steps, Outcomes& outcomes) {
  for (const IssuedCertificate& leaf : leaves) {
    checker.CheckAsync(leaf.certificate.get(), issuer, CountingExecutor(judging_steps),
                       outcomes.Collect());
  }
}

// Each CRL at its own path.
std::string CrlPath(int i) { return absl::StrCat("/ca-", i, ".crl"); }

// No thread waits for a slow server: 30 checks, each naming its own CRL on a server that answers
// 1 s after each connection, are all started at once from one thread, take about 1 s together
// (not 30), and the process has no thread per fetch while the 30 connections are open (below the
// 32 connections a host is given at once).
TEST_F(RevocationCheckerTest, ChecksAgainstASlowServerHoldNoThreadWhileTheyWait) {
  ASSERT_OK_AND_ASSIGN(std::string crl_der, curl_->Fetch({env().crl_url}));
  constexpr int kChecks = 30;
  ASSERT_OK_AND_ASSIGN(SlowCrlServer slow,
                       StartSlowCrlServer(env().pki, crl_der, absl::Seconds(1), kChecks, CrlPath));
  DelayedServer* server = slow.server.get();
  Outcomes outcomes;
  std::atomic<int> judging_steps{0};
  auto fetcher = std::make_unique<CurlHttpFetcher>(*AddressPolicy::Create({"127.0.0.0/8"}));
  RevocationChecker checker(*fetcher, clock_);
  // Transfers still running end (their callbacks into `checker` and `outcomes`) before those go.
  absl::Cleanup stop_fetching = [&fetcher] { fetcher.reset(); };

  const int threads_before = ThreadsOfThisProcess();
  const absl::Time start = absl::Now();
  CheckAllAsync(checker, slow.leaves, ca(), judging_steps, outcomes);
  const absl::Duration starting = absl::Now() - start;
  // Sampled once every connection is open, the fetches waiting for their answers.
  for (int i = 0; i < 100 && server->connections() < kChecks; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  const int threads_while_waiting = ThreadsOfThisProcess();
  EXPECT_EQ(server->connections(), kChecks);
  EXPECT_EQ(outcomes.size(), 0u) << "a check ended before its server answered";
  const std::vector<RevocationOutcome> ended = outcomes.WaitFor(kChecks, absl::Seconds(20));
  const absl::Duration all_checked = absl::Now() - start;
  ASSERT_THAT(ended, SizeIs(kChecks));
  EXPECT_LT(starting, absl::Milliseconds(900)) << "starting the checks waited for the server";
  EXPECT_LT(all_checked, absl::Seconds(kChecks) / 5) << "the fetches did not overlap";
  EXPECT_GE(all_checked, absl::Seconds(1));
  EXPECT_LE(threads_while_waiting, threads_before + 2) << "a thread per fetch";
  EXPECT_EQ(judging_steps.load(), kChecks);
  for (const RevocationOutcome& outcome : ended) {
    EXPECT_EQ(outcome.fault, absl::OkStatus());
    EXPECT_EQ(outcome.reason, v1::REFUSAL_REASON_UNSPECIFIED) << outcome.explanation;
    ASSERT_THAT(outcome.evidence, SizeIs(1));
    EXPECT_EQ(outcome.evidence[0].response_der(), crl_der);
  }
}

// A CA's server is given at most 32 connections at once, however many checks wait for it: of 40
// checks at once, each of its own CRL, 32 connect, and the other 8 once those are answered.
TEST_F(RevocationCheckerTest, AServerIsGivenAtMost32ConnectionsAtOnce) {
  ASSERT_OK_AND_ASSIGN(std::string crl_der, curl_->Fetch({env().crl_url}));
  constexpr int kChecks = 40;
  ASSERT_OK_AND_ASSIGN(SlowCrlServer slow,
                       StartSlowCrlServer(env().pki, crl_der, absl::Seconds(1), kChecks, CrlPath));
  DelayedServer* server = slow.server.get();
  Outcomes outcomes;
  std::atomic<int> judging_steps{0};
  RevocationChecker checker(*counting_, clock_);
  CheckAllAsync(checker, slow.leaves, ca(), judging_steps, outcomes);
  absl::SleepFor(absl::Milliseconds(600));
  EXPECT_EQ(server->connections(), 32);
  const std::vector<RevocationOutcome> ended = outcomes.WaitFor(kChecks, absl::Seconds(20));
  ASSERT_THAT(ended, SizeIs(kChecks));
  EXPECT_EQ(server->connections(), kChecks);
  for (const RevocationOutcome& outcome : ended) {
    EXPECT_EQ(outcome.reason, v1::REFUSAL_REASON_UNSPECIFIED) << outcome.explanation;
  }
}

// One CRL is downloaded once at a time: 20 checks at once, of 20 certificates naming the same CRL,
// make one connection to its slow server, and all rely on that one download.
TEST_F(RevocationCheckerTest, ChecksOfOneCrlAtOnceShareOneDownload) {
  ASSERT_OK_AND_ASSIGN(std::string crl_der, curl_->Fetch({env().crl_url}));
  constexpr int kChecks = 20;
  ASSERT_OK_AND_ASSIGN(SlowCrlServer slow,
                       StartSlowCrlServer(env().pki, crl_der, absl::Milliseconds(500), kChecks,
                                          [](int) { return std::string("/ca.crl"); }));
  DelayedServer* server = slow.server.get();
  Outcomes outcomes;
  std::atomic<int> judging_steps{0};
  RevocationChecker checker(*counting_, clock_);
  CheckAllAsync(checker, slow.leaves, ca(), judging_steps, outcomes);
  const std::vector<RevocationOutcome> ended = outcomes.WaitFor(kChecks, absl::Seconds(20));
  ASSERT_THAT(ended, SizeIs(kChecks));
  EXPECT_EQ(server->connections(), 1);
  EXPECT_EQ(checker.CachedCrlCount(), 1u);
  for (const RevocationOutcome& outcome : ended) {
    EXPECT_EQ(outcome.reason, v1::REFUSAL_REASON_UNSPECIFIED) << outcome.explanation;
    ASSERT_THAT(outcome.evidence, SizeIs(1));
    EXPECT_EQ(outcome.evidence[0].response_der(), crl_der);
  }
}

// A fetch this server did not make (its HTTP client at its limit) is no verdict on the
// certificate: the check ends with a fault, not REVOCATION_UNKNOWN.
TEST_F(RevocationCheckerTest, AFetchTheClientHadNoRoomForIsAFaultNotAVerdict) {
  ASSERT_OK_AND_ASSIGN(std::string crl_der, curl_->Fetch({env().crl_url}));
  ASSERT_OK_AND_ASSIGN(SlowCrlServer slow,
                       StartSlowCrlServer(env().pki, crl_der, absl::Milliseconds(500), 2, CrlPath));
  DelayedServer* server = slow.server.get();
  Outcomes outcomes;
  std::atomic<int> judging_steps{0};
  auto fetcher = std::make_unique<CurlHttpFetcher>(*AddressPolicy::Create({"127.0.0.0/8"}),
                                                   /*max_async_transfers=*/1);
  RevocationChecker checker(*fetcher, clock_);
  absl::Cleanup stop_fetching = [&fetcher] { fetcher.reset(); };
  CheckAllAsync(checker, slow.leaves, ca(), judging_steps, outcomes);
  const std::vector<RevocationOutcome> ended = outcomes.WaitFor(2, absl::Seconds(20));
  ASSERT_THAT(ended, SizeIs(2));
  // The second ended first, at once: the client had no room for its fetch.
  EXPECT_THAT(ended[0].fault, StatusIs(absl::StatusCode::kUnavailable,
                                       AllOf(HasSubstr("revocation status was not checked"),
                                             HasSubstr("1 transfers in flight"))));
  EXPECT_THAT(ended[0].evidence, IsEmpty());
  EXPECT_EQ(ended[1].fault, absl::OkStatus());
  EXPECT_EQ(ended[1].reason, v1::REFUSAL_REASON_UNSPECIFIED) << ended[1].explanation;
  EXPECT_EQ(server->connections(), 1);
}

// The asynchronous fetcher's bounds: a fetch beyond its limit is refused at once, and fetches still
// running or waiting to start when it is stopped end ABORTED, their `done` called; a fetch asked
// for while it is stopping, or after, is refused too.
TEST_F(RevocationCheckerTest, AsyncFetchesAreBoundedAndEndWhenTheFetcherStops) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<DelayedServer> server,
                       DelayedServer::Start(absl::Seconds(30), "never sent"));
  auto fetcher = std::make_unique<CurlHttpFetcher>(*AddressPolicy::Create({"127.0.0.0/8"}),
                                                   /*max_async_transfers=*/2);
  absl::Mutex mutex;
  std::vector<absl::Status> ended;
  absl::Status asked_again = absl::UnknownError("not asked");
  HttpRequest request;
  request.url = server->Url("/slow.crl");
  request.timeout = absl::Seconds(60);
  CurlHttpFetcher* const raw = fetcher.get();
  std::function<void(absl::StatusOr<std::string>)> record =
      [&mutex, &ended, &asked_again, raw, request](absl::StatusOr<std::string> body) {
        bool shutting_down = false;
        {
          absl::MutexLock lock(&mutex);
          ended.push_back(body.status());
          shutting_down = absl::StrContains(body.status().message(), "shutting down") &&
                          asked_again.code() == absl::StatusCode::kUnknown;
        }
        if (!shutting_down) return;
        // A callback that asks again while the fetcher is being destroyed is refused at once.
        raw->FetchAsync(request, absl::ZeroDuration(),
                        [&mutex, &asked_again](absl::StatusOr<std::string> again) {
                          absl::MutexLock lock(&mutex);
                          asked_again = again.status();
                        });
      };
  fetcher->FetchAsync(request, absl::ZeroDuration(), record);
  fetcher->FetchAsync(request, absl::Seconds(20), record);
  fetcher->FetchAsync(request, absl::ZeroDuration(), record);
  {
    absl::MutexLock lock(&mutex);
    ASSERT_THAT(ended, SizeIs(1));
    EXPECT_THAT(ended[0], StatusIs(absl::StatusCode::kAborted, HasSubstr("2 transfers in flight")));
  }
  const absl::Time start = absl::Now();
  fetcher->Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  // Stopped, it refuses every fetch at once; destroying it after is harmless.
  absl::Status after_stop;
  fetcher->FetchAsync(
      request, absl::ZeroDuration(),
      [&after_stop](absl::StatusOr<std::string> body) { after_stop = body.status(); });
  EXPECT_THAT(after_stop, StatusIs(absl::StatusCode::kAborted, HasSubstr("shutting down")));
  fetcher.reset();
  absl::MutexLock lock(&mutex);
  ASSERT_THAT(ended, SizeIs(3));
  EXPECT_THAT(ended[1], StatusIs(absl::StatusCode::kAborted, HasSubstr("shutting down")));
  EXPECT_THAT(ended[2], StatusIs(absl::StatusCode::kAborted, HasSubstr("shutting down")));
  EXPECT_THAT(asked_again, StatusIs(absl::StatusCode::kAborted, HasSubstr("shutting down")));
}

}  // namespace
}  // namespace mecai
