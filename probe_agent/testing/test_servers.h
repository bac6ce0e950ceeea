// Real servers for the probe agent's tests (ARCHITECTURE.md §9: real components, never mocks where
// a real one runs here): openssl s_server as the TLS target, dnsmasq as the DNS resolver, and a
// plain TCP listener for targets that are not TLS at all. Everything binds 127.0.0.1 or ::1 only.
#ifndef MECAI_PROBE_AGENT_TESTING_TEST_SERVERS_H_
#define MECAI_PROBE_AGENT_TESTING_TEST_SERVERS_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/process/child_process.h"

namespace mecai {
namespace test_support {

// $TEST_TMPDIR, or /tmp outside Bazel.
std::string TestTemporaryDirectory();

// $TEST_UNDECLARED_OUTPUTS_DIR, kept by Bazel after the test (server logs go there), else the
// temporary directory.
std::string TestOutputDirectory();

// A throwaway self-signed certificate (EC P-256 unless asked otherwise) and its key, as PEM files.
struct TestCertificate {
  std::string certificate_path;
  std::string key_path;
  std::string der;  // The certificate, DER.
};

// The key of a TestCertificate.
enum class TestKey { kEcP256, kRsa2048 };

// Generates a key of `key` and a self-signed certificate for `dns_name` (subject CN and a DNS
// subjectAltName) and writes them to `directory`/`file_stem`.{crt,key}.pem.
absl::StatusOr<TestCertificate> WriteSelfSignedCertificate(const std::string& directory,
                                                           const std::string& file_stem,
                                                           const std::string& dns_name,
                                                           TestKey key = TestKey::kEcP256);

// `openssl s_server` serving `certificate`, and `sni_certificate` to clients whose SNI
// (RFC 6066 §3) equals `sni_name` (-servername/-cert2/-key2). Stopped on destruction.
// Not thread-safe.
class OpenSslTestServer {
 public:
  struct Options {
    std::string host = "127.0.0.1";  // Or "::1".
    int port = 0;                    // 0: a free port.
    TestCertificate certificate;
    std::string sni_name;  // Empty: one certificate for every client.
    TestCertificate sni_certificate;
    // More s_server options, e.g. {"-tls1_2"} or {"-cert_chain", "intermediates.pem"}.
    std::vector<std::string> extra_arguments;
  };

  static absl::StatusOr<std::unique_ptr<OpenSslTestServer>> Start(const Options& options);
  int port() const { return port_; }

 private:
  OpenSslTestServer() = default;
  std::unique_ptr<ChildProcess> process_;
  int port_ = 0;
};

// nginx (Debian's /usr/sbin/nginx) in the foreground with a configuration of this test:
// `servers` is the text of one or more `server { ... }` blocks for the http context. Every path it
// writes (pid, logs, temporary files) lies in a fresh directory under TestTemporaryDirectory(). It
// is ready when each (numeric host, port) of `wait_for` accepts connections. Stopped on
// destruction. Not thread-safe.
class NginxTestServer {
 public:
  static absl::StatusOr<std::unique_ptr<NginxTestServer>> Start(
      const std::string& servers, const std::vector<std::pair<std::string, int>>& wait_for);
  // The directory holding nginx.conf and the logs.
  const std::string& directory() const { return directory_; }
  pid_t pid() const { return process_->pid(); }

 private:
  NginxTestServer() = default;
  std::unique_ptr<ChildProcess> process_;
  std::string directory_;
};

// The nginx binary, or empty when it is not installed.
std::string FindNginx();

// The dnsmasq binary, or empty when it is not installed.
std::string FindDnsmasq();

// dnsmasq on 127.0.0.1 answering only from its command line: `records` are dnsmasq options such
// as "--host-record=dual.test,127.0.0.1,::1" or "--address=/missing.test/" (NXDOMAIN). It reads no
// configuration file, no /etc/hosts and no resolv.conf. Stopped on destruction. Not thread-safe.
class DnsmasqTestServer {
 public:
  static absl::StatusOr<std::unique_ptr<DnsmasqTestServer>> Start(
      const std::vector<std::string>& records);
  // "127.0.0.1:<port>", for ResolverConfig.nameservers.
  std::string nameserver() const;

 private:
  DnsmasqTestServer() = default;
  std::unique_ptr<ChildProcess> process_;
  int port_ = 0;
};

// A TCP listener in this process that does not speak TLS. Each connection is answered as
// `behaviour` says. Thread-safe: counters may be read while it serves.
class PlainTcpTestServer {
 public:
  enum class Behaviour {
    // Writes a line of text that is not a TLS record, then closes.
    kGreetAndClose,
    // Reads and discards until the peer closes; never answers.
    kStaySilent,
  };

  // Listens on `host` (numeric) port `port`, 0 for a free one.
  static absl::StatusOr<std::unique_ptr<PlainTcpTestServer>> Start(const std::string& host,
                                                                   Behaviour behaviour,
                                                                   int port = 0);
  ~PlainTcpTestServer();
  int port() const { return port_; }
  // Connections accepted so far.
  int accepted_connections() const { return accepted_.load(); }
  // Connections the peer closed (kStaySilent) so far.
  int closed_by_peer() const { return closed_by_peer_.load(); }
  // Waits until at least `count` connections were accepted; false after `timeout`.
  bool WaitForConnections(int count, absl::Duration timeout) const;

 private:
  PlainTcpTestServer(int listener, int port, Behaviour behaviour);
  void Serve();

  const int listener_;
  const int port_;
  const Behaviour behaviour_;
  std::atomic<int> accepted_{0};
  std::atomic<int> closed_by_peer_{0};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace test_support
}  // namespace mecai

#endif  // MECAI_PROBE_AGENT_TESTING_TEST_SERVERS_H_
