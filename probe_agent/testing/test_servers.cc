#include "probe_agent/testing/test_servers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/crypto/openssl_error.h"
#include "common/crypto/openssl_types.h"
#include "common/crypto/pem.h"

namespace mecai {
namespace test_support {
namespace {

constexpr absl::Duration kStartTimeout = absl::Seconds(10);
constexpr int kStartAttempts = 3;

absl::StatusOr<X509Ptr> SelfSign(EVP_PKEY* key, const std::string& dns_name) {
  X509Ptr certificate(X509_new());
  if (certificate == nullptr) return OpenSslError("X509_new");
  BignumPtr serial(BN_new());
  if (serial == nullptr || BN_rand(serial.get(), 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(certificate.get())) == nullptr) {
    return OpenSslError("serial number");
  }
  X509_NAME* name = X509_get_subject_name(certificate.get());
  if (X509_set_version(certificate.get(), X509_VERSION_3) != 1 ||
      X509_gmtime_adj(X509_getm_notBefore(certificate.get()), -3600) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(certificate.get()), 7 * 86400) == nullptr ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(dns_name.c_str()), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(certificate.get(), name) != 1 ||
      X509_set_pubkey(certificate.get(), key) != 1) {
    return OpenSslError("certificate fields");
  }
  X509V3_CTX context;
  X509V3_set_ctx(&context, certificate.get(), certificate.get(), nullptr, nullptr, 0);
  const std::string san = "DNS:" + dns_name;
  X509ExtensionPtr extension(
      X509V3_EXT_conf_nid(nullptr, &context, NID_subject_alt_name, san.c_str()));
  if (extension == nullptr || X509_add_ext(certificate.get(), extension.get(), -1) != 1) {
    return OpenSslError("subjectAltName");
  }
  if (X509_sign(certificate.get(), key, EVP_sha256()) == 0) return OpenSslError("X509_sign");
  return certificate;
}

}  // namespace

std::string TestTemporaryDirectory() {
  const char* directory = std::getenv("TEST_TMPDIR");
  return directory != nullptr ? directory : "/tmp";
}

std::string TestOutputDirectory() {
  const char* directory = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  return directory != nullptr ? directory : TestTemporaryDirectory();
}

absl::StatusOr<TestCertificate> WriteSelfSignedCertificate(const std::string& directory,
                                                           const std::string& file_stem,
                                                           const std::string& dns_name,
                                                           TestKey key_type) {
  ClearOpenSslErrors();
  EvpPkeyPtr key(key_type == TestKey::kRsa2048 ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256"));
  if (key == nullptr) return OpenSslError("key generation");
  ASSIGN_OR_RETURN(X509Ptr certificate, SelfSign(key.get(), dns_name));
  TestCertificate result;
  result.certificate_path = absl::StrCat(directory, "/", file_stem, ".crt.pem");
  result.key_path = absl::StrCat(directory, "/", file_stem, ".key.pem");
  result.der = CertificateToDer(certificate.get());
  RETURN_IF_ERROR(
      WriteFileAtomically(result.certificate_path, CertificateToPem(certificate.get())));
  RETURN_IF_ERROR(WriteFileAtomically(result.key_path, PrivateKeyToPem(key.get()), 0600));
  return result;
}

absl::StatusOr<std::unique_ptr<OpenSslTestServer>> OpenSslTestServer::Start(
    const Options& options) {
  std::unique_ptr<OpenSslTestServer> server(new OpenSslTestServer());
  absl::Status last = absl::UnknownError("not started");
  // A port found free may be taken before s_server binds it: try a few.
  const int attempts = options.port != 0 ? 1 : kStartAttempts;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    if (options.port != 0) {
      server->port_ = options.port;
    } else {
      ASSIGN_OR_RETURN(server->port_, PickFreeTcpPort());
    }
    const std::string bracketed =
        options.host.find(':') != std::string::npos ? "[" + options.host + "]" : options.host;
    std::vector<std::string> argv = {"openssl",  "s_server",
                                     "-accept",  absl::StrCat(bracketed, ":", server->port_),
                                     "-cert",    options.certificate.certificate_path,
                                     "-key",     options.certificate.key_path,
                                     "-naccept", "1000",
                                     "-quiet"};
    if (!options.sni_name.empty()) {
      argv.insert(argv.end(), {"-servername", options.sni_name, "-cert2",
                               options.sni_certificate.certificate_path, "-key2",
                               options.sni_certificate.key_path});
    }
    argv.insert(argv.end(), options.extra_arguments.begin(), options.extra_arguments.end());
    const std::string log =
        absl::StrCat(TestOutputDirectory(), "/s_server_", server->port_, ".log");
    ChildProcess::Options output;
    output.stdout_path = log;
    output.stderr_path = log + ".err";
    ASSIGN_OR_RETURN(server->process_, ChildProcess::Start(argv, output));
    last = WaitForTcpPort(options.host, server->port_, kStartTimeout, server->process_.get());
    if (last.ok()) return server;
    server->process_->Stop();
  }
  return Annotate(last, "openssl s_server did not start");
}

std::string FindDnsmasq() {
  for (const char* candidate : {"/usr/sbin/dnsmasq", "/usr/bin/dnsmasq", "/sbin/dnsmasq"}) {
    if (access(candidate, X_OK) == 0) return candidate;
  }
  return "";
}

absl::StatusOr<std::unique_ptr<DnsmasqTestServer>> DnsmasqTestServer::Start(
    const std::vector<std::string>& records) {
  const std::string binary = FindDnsmasq();
  if (binary.empty()) return absl::NotFoundError("dnsmasq is not installed");
  std::unique_ptr<DnsmasqTestServer> server(new DnsmasqTestServer());
  absl::Status last = absl::UnknownError("not started");
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    ASSIGN_OR_RETURN(server->port_, PickFreeTcpAndUdpPort());
    std::vector<std::string> argv = {binary,
                                     "--no-daemon",
                                     "--conf-file=/dev/null",
                                     absl::StrCat("--port=", server->port_),
                                     "--listen-address=127.0.0.1",
                                     "--bind-interfaces",
                                     "--no-resolv",
                                     "--no-hosts",
                                     "--log-queries",
                                     "--log-facility=-"};
    argv.insert(argv.end(), records.begin(), records.end());
    const std::string log = absl::StrCat(TestOutputDirectory(), "/dnsmasq_", server->port_, ".log");
    ASSIGN_OR_RETURN(server->process_, ChildProcess::Start(argv, log));
    // dnsmasq binds TCP and UDP together, so an accepted TCP connection means both are ready.
    last = WaitForTcpPort("127.0.0.1", server->port_, kStartTimeout, server->process_.get());
    if (last.ok()) return server;
    server->process_->Stop();
  }
  return Annotate(last, "dnsmasq did not start");
}

std::string FindNginx() {
  for (const char* candidate : {"/usr/sbin/nginx", "/usr/bin/nginx"}) {
    if (access(candidate, X_OK) == 0) return candidate;
  }
  return "";
}

absl::StatusOr<std::unique_ptr<NginxTestServer>> NginxTestServer::Start(
    const std::string& servers, const std::vector<std::pair<std::string, int>>& wait_for) {
  const std::string binary = FindNginx();
  if (binary.empty()) return absl::NotFoundError("nginx is not installed");
  static std::atomic<int> instance{0};
  std::unique_ptr<NginxTestServer> server(new NginxTestServer());
  server->directory_ =
      absl::StrCat(TestTemporaryDirectory(), "/nginx_", getpid(), "_", instance.fetch_add(1));
  const std::string& directory = server->directory_;
  if (mkdir(directory.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::InternalError(absl::StrCat("mkdir ", directory, ": ", std::strerror(errno)));
  }
  const std::string configuration = absl::StrCat(
      // nginx refuses to switch to its default user "nobody" when that is not possible; as root
      // it keeps root for the workers, which this test owns anyway.
      geteuid() == 0 ? "user root root;\n" : "", "worker_processes 1;\n", "pid ", directory,
      "/nginx.pid;\n", "error_log ", directory, "/error.log warn;\n",
      "worker_rlimit_nofile 8192;\n", "events { worker_connections 4096; }\n", "http {\n",
      "  access_log off;\n", "  client_body_temp_path ", directory, "/client_body;\n",
      "  proxy_temp_path ", directory, "/proxy;\n", "  fastcgi_temp_path ", directory,
      "/fastcgi;\n", "  uwsgi_temp_path ", directory, "/uwsgi;\n", "  scgi_temp_path ", directory,
      "/scgi;\n",
      // nginx before 1.23.4 leaves TLS 1.3 out of its default ssl_protocols.
      "  ssl_protocols TLSv1.2 TLSv1.3;\n", "  ssl_session_cache off;\n",
      "  ssl_session_tickets off;\n", servers, "\n}\n");
  const std::string path = directory + "/nginx.conf";
  RETURN_IF_ERROR(WriteFileAtomically(path, configuration));
  const std::string log = directory + "/stderr.log";
  ASSIGN_OR_RETURN(
      server->process_,
      ChildProcess::Start({binary, "-p", directory, "-c", path, "-g", "daemon off;"}, log));
  for (const auto& [host, port] : wait_for) {
    absl::Status ready = WaitForTcpPort(host, port, kStartTimeout, server->process_.get());
    if (!ready.ok()) {
      std::string errors;
      ReadFile(log).value_or("").swap(errors);
      return Annotate(ready, absl::StrCat("nginx did not start: ", errors));
    }
  }
  return server;
}

std::string DnsmasqTestServer::nameserver() const { return absl::StrCat("127.0.0.1:", port_); }

absl::StatusOr<std::unique_ptr<PlainTcpTestServer>> PlainTcpTestServer::Start(
    const std::string& host, Behaviour behaviour, int port) {
  sockaddr_storage address;
  std::memset(&address, 0, sizeof(address));
  socklen_t length = 0;
  int family = AF_INET;
  auto* ipv4 = reinterpret_cast<sockaddr_in*>(&address);
  auto* ipv6 = reinterpret_cast<sockaddr_in6*>(&address);
  if (inet_pton(AF_INET, host.c_str(), &ipv4->sin_addr) == 1) {
    ipv4->sin_family = AF_INET;
    ipv4->sin_port = htons(static_cast<uint16_t>(port));
    length = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &ipv6->sin6_addr) == 1) {
    family = AF_INET6;
    ipv6->sin6_family = AF_INET6;
    ipv6->sin6_port = htons(static_cast<uint16_t>(port));
    length = sizeof(sockaddr_in6);
  } else {
    return absl::InvalidArgumentError(absl::StrCat(host, " is not an IP address"));
  }
  const int listener = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  if (bind(listener, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      listen(listener, 64) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const int error = errno;
    close(listener);
    return absl::InternalError(absl::StrCat("listen on ", host, ": ", std::strerror(error)));
  }
  const int bound_port = ntohs(family == AF_INET ? ipv4->sin_port : ipv6->sin6_port);
  return std::unique_ptr<PlainTcpTestServer>(
      new PlainTcpTestServer(listener, bound_port, behaviour));
}

PlainTcpTestServer::PlainTcpTestServer(int listener, int port, Behaviour behaviour)
    : listener_(listener), port_(port), behaviour_(behaviour) {
  thread_ = std::thread([this] { Serve(); });
}

PlainTcpTestServer::~PlainTcpTestServer() {
  stopping_.store(true);
  thread_.join();
  close(listener_);
}

bool PlainTcpTestServer::WaitForConnections(int count, absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  while (accepted_.load() < count) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

void PlainTcpTestServer::Serve() {
  std::vector<int> open_connections;
  while (!stopping_.load()) {
    std::vector<pollfd> watched = {{listener_, POLLIN, 0}};
    for (int connection : open_connections) watched.push_back({connection, POLLIN, 0});
    if (poll(watched.data(), watched.size(), 20) <= 0) continue;
    if (watched[0].revents & POLLIN) {
      const int connection = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (connection >= 0) {
        accepted_.fetch_add(1);
        if (behaviour_ == Behaviour::kGreetAndClose) {
          static constexpr char kGreeting[] = "SSH-2.0-NotTls\r\n";
          ssize_t ignored = send(connection, kGreeting, sizeof(kGreeting) - 1, MSG_NOSIGNAL);
          (void)ignored;
          close(connection);
        } else {
          open_connections.push_back(connection);
        }
      }
    }
    for (size_t i = 1; i < watched.size(); ++i) {
      if (watched[i].revents == 0) continue;
      char discarded[512];
      if (recv(watched[i].fd, discarded, sizeof(discarded), 0) <= 0) {
        closed_by_peer_.fetch_add(1);
        close(watched[i].fd);
        open_connections.erase(
            std::find(open_connections.begin(), open_connections.end(), watched[i].fd));
      }
    }
  }
  for (int connection : open_connections) close(connection);
}

}  // namespace test_support
}  // namespace mecai
