// Stock TLS servers staple MECAI VDs and the default client reads them (docs/TLS_EXTENSION.md §5,
// §7), over a real LocalCluster: a real nginx (`ssl_conf_command ServerInfoFile`) and a real
// Apache (`SSLOpenSSLConfCmd ServerInfoFile`), each a child process on 127.0.0.1 with a
// configuration of this test, serve the cluster's server certificate and the serverinfo file the
// stapler (in process, real VRs to the public Vouch endpoint, no client certificate) writes and
// reloads them for. The default MecaiTlsClient and `mecai s_client` verify the VD over TLS 1.2
// and 1.3; then the stapler fetches a fresh VD, rewrites the file and reloads the server while
// handshakes run, none of which fails.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "client/mecai_tls_client.h"
#include "client/va_list.h"
#include "cluster/local_cluster.h"
#include "common/base/clock.h"
#include "common/base/files.h"
#include "common/crypto/openssl_error.h"
#include "common/process/child_process.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "stapler/stapler_daemon.h"
#include "stapler/testing/tls_pair.h"
#include "tests/support/cluster_fixture.h"

namespace mecai {
namespace {

using ::testing::HasSubstr;

constexpr char kNginx[] = "/usr/sbin/nginx";
// Debian's apache2 package (scripts/bootstrap.sh).
constexpr char kApache[] = "/usr/sbin/apache2";
constexpr char kApacheModules[] = "/usr/lib/apache2/modules";

enum class Kind { kNginx, kApache };

std::string KindName(Kind kind) { return kind == Kind::kNginx ? "nginx" : "apache"; }

// A stock TLS server in the foreground, as a child of this test, its every file in `directory`.
// Not thread-safe.
class StockServer {
 public:
  // Starts the server on 127.0.0.1:`port` serving `chain_file` and `key_file`, stapling nothing
  // yet: a server cannot start with a ServerInfoFile that does not exist (docs/TLS_EXTENSION.md
  // §7, "the first file").
  static absl::StatusOr<std::unique_ptr<StockServer>> Start(Kind kind, std::string directory,
                                                            int port, std::string chain_file,
                                                            std::string key_file) {
    const char* binary = kind == Kind::kNginx ? kNginx : kApache;
    if (access(binary, X_OK) != 0) {
      return absl::NotFoundError(
          absl::StrCat(binary, " is not installed (scripts/bootstrap.sh installs it)"));
    }
    std::unique_ptr<StockServer> server(new StockServer(
        kind, std::move(directory), port, std::move(chain_file), std::move(key_file)));
    RETURN_IF_ERROR(server->WriteConfig(""));
    std::vector<std::string> argv =
        kind == Kind::kNginx
            ? std::vector<std::string>{kNginx,
                                       "-e",
                                       "stderr",
                                       "-p",
                                       server->directory_,
                                       "-c",
                                       server->config_file(),
                                       "-g",
                                       "daemon off;"}
            : std::vector<std::string>{kApache, "-f", server->config_file(), "-DFOREGROUND"};
    ASSIGN_OR_RETURN(server->process_, ChildProcess::Start(argv, server->log_file()));
    absl::Status ready =
        WaitForTcpPort("127.0.0.1", port, absl::Seconds(20), server->process_.get());
    if (!ready.ok()) {
      return absl::UnavailableError(absl::StrCat(KindName(kind),
                                                 " did not start: ", ready.message(), "\n",
                                                 TailOfFile(server->log_file())));
    }
    return server;
  }

  // Rewrites the configuration to staple `serverinfo_file`; the server reads it at its next
  // reload.
  absl::Status ConfigureServerinfo(const std::string& serverinfo_file) {
    return WriteConfig(serverinfo_file);
  }

  // The stapler's reload_command: `nginx -s reload`, `apache2 -k graceful`.
  std::vector<std::string> ReloadCommand() const {
    if (kind_ == Kind::kNginx) {
      return {kNginx, "-e", "stderr", "-p", directory_, "-c", config_file(), "-s", "reload"};
    }
    return {kApache, "-f", config_file(), "-k", "graceful"};
  }

  std::string config_file() const {
    return directory_ + (kind_ == Kind::kNginx ? "/nginx.conf" : "/httpd.conf");
  }
  std::string log_file() const { return directory_ + "/server.log"; }
  bool running() { return process_->Running(); }

 private:
  StockServer(Kind kind, std::string directory, int port, std::string chain_file,
              std::string key_file)
      : kind_(kind),
        directory_(std::move(directory)),
        port_(port),
        chain_file_(std::move(chain_file)),
        key_file_(std::move(key_file)) {}

  // The configuration lines of deploy/nginx/mecai-stapling.conf and
  // deploy/apache/mecai-stapling.conf, around a minimal server of this directory. No session
  // resumption: every handshake is a full one, with the VD.
  absl::Status WriteConfig(const std::string& serverinfo_file) const {
    const std::string& d = directory_;
    std::string config;
    if (kind_ == Kind::kNginx) {
      config = absl::StrCat(
          // As root nginx would switch its workers to "nobody"; the test owns them anyway.
          geteuid() == 0 ? "user root root;\n" : "", "worker_processes 1;\npid ", d,
          "/nginx.pid;\nerror_log ", d, "/error.log notice;\nevents { worker_connections 256; }\n",
          "http {\n  access_log off;\n  client_body_temp_path ", d, "/client_body;\n",
          "  proxy_temp_path ", d, "/proxy;\n  fastcgi_temp_path ", d, "/fastcgi;\n",
          "  uwsgi_temp_path ", d, "/uwsgi;\n  scgi_temp_path ", d, "/scgi;\n",
          "  server {\n    listen 127.0.0.1:", port_, " ssl;\n    server_name ",
          LocalCluster::kTargetHost, ";\n    ssl_certificate ", chain_file_,
          ";\n    ssl_certificate_key ", key_file_,
          ";\n    ssl_protocols TLSv1.2 TLSv1.3;\n    ssl_session_cache off;\n",
          "    ssl_session_tickets off;\n",
          serverinfo_file.empty()
              ? ""
              : absl::StrCat("    ssl_conf_command ServerInfoFile ", serverinfo_file, ";\n"),
          "    return 200 \"MECAI stapled by nginx\\n\";\n  }\n}\n");
    } else {
      const std::string modules = kApacheModules;
      config = absl::StrCat(
          "ServerRoot ", d, "\nDefaultRuntimeDir ", d, "\nPidFile ", d, "/httpd.pid\nErrorLog ", d,
          "/error.log\nLogLevel warn\n", "LoadModule mpm_event_module ", modules,
          "/mod_mpm_event.so\n", "LoadModule authz_core_module ", modules, "/mod_authz_core.so\n",
          "LoadModule ssl_module ", modules, "/mod_ssl.so\n",
          // As root Apache's children need an unprivileged user; it reads every file as root
          // before they start.
          geteuid() == 0 ? "User nobody\nGroup nogroup\n" : "", "Listen 127.0.0.1:", port_,
          "\nServerName ", LocalCluster::kTargetHost, "\nDocumentRoot ", d, "\n",
          "SSLSessionTickets off\n", "<VirtualHost 127.0.0.1:", port_, ">\n",
          "  SSLEngine on\n  SSLProtocol -all +TLSv1.2 +TLSv1.3\n  SSLCertificateFile ",
          chain_file_, "\n  SSLCertificateKeyFile ", key_file_, "\n",
          serverinfo_file.empty()
              ? ""
              : absl::StrCat("  SSLOpenSSLConfCmd ServerInfoFile ", serverinfo_file, "\n"),
          "</VirtualHost>\n");
    }
    return WriteFileAtomically(config_file(), config);
  }

  const Kind kind_;
  const std::string directory_;
  const int port_;
  const std::string chain_file_;
  const std::string key_file_;
  std::unique_ptr<ChildProcess> process_;
};

// The default client: MecaiTlsClient with default options, the cluster's VA list, the web PKI's
// root for OpenSSL's own verification. Thread-safe (handshakes run from a second thread).
class DefaultClient {
 public:
  static absl::StatusOr<std::unique_ptr<DefaultClient>> Create(const LocalCluster& cluster) {
    std::unique_ptr<DefaultClient> client(new DefaultClient());
    ASSIGN_OR_RETURN(client->vas_, VaList::Load(cluster.VaListFile()));
    client->mecai_ = std::make_unique<MecaiTlsClient>(*client->vas_, SystemClock::Get(),
                                                      MecaiClientOptions{}, nullptr);
    for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
      SslCtxPtr context = testing_tls::MakeClientContext(version);
      if (SSL_CTX_load_verify_locations(context.get(), cluster.Path("pki/root-ca.pem").c_str(),
                                        nullptr) != 1) {
        return OpenSslError("loading pki/root-ca.pem");
      }
      SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
      RETURN_IF_ERROR(client->mecai_->Register(context.get()));
      (version == TLS1_2_VERSION ? client->tls12_ : client->tls13_) = std::move(context);
    }
    client->candidates_ = ChooseCandidateVas(*client->vas_, LocalCluster::kTargetHost,
                                             [](size_t) -> size_t { return 0; });
    return client;
  }

  // One full handshake with 127.0.0.1:`port` as www.mecai.test, the VDs verified inside it.
  absl::StatusOr<MecaiVerification> Handshake(int port, int version) const {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return absl::InternalError("socket");
    SslPtr ssl(SSL_new(version == TLS1_2_VERSION ? tls12_.get() : tls13_.get()));
    absl::StatusOr<MecaiVerification> verdict = Connect(fd, ssl.get(), port, version);
    close(fd);
    return verdict;
  }

 private:
  DefaultClient() = default;

  absl::StatusOr<MecaiVerification> Connect(int fd, SSL* ssl, int port, int version) const {
    // Every handshake is bounded (CONTRIBUTING.md rule 10).
    const timeval timeout{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      return absl::UnavailableError(absl::StrCat("cannot connect to 127.0.0.1:", port));
    }
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, LocalCluster::kTargetHost);
    SSL_set1_host(ssl, LocalCluster::kTargetHost);
    RETURN_IF_ERROR(mecai_->PrepareConnection(ssl, LocalCluster::kTargetHost,
                                              static_cast<uint16_t>(port), LocalCluster::kTrustList,
                                              candidates_));
    ClearOpenSslErrors();
    if (SSL_connect(ssl) != 1) {
      auto verdict = mecai_->VerifyConnection(ssl);
      if (absl::IsPermissionDenied(verdict.status())) return verdict.status();
      const std::string problem = MecaiTlsClient::HandshakeProblem(ssl);
      return problem.empty() ? OpenSslError("SSL_connect") : absl::UnavailableError(problem);
    }
    if (SSL_version(ssl) != version) return absl::InternalError("another TLS version");
    absl::StatusOr<MecaiVerification> verdict = mecai_->VerifyConnection(ssl);
    SSL_shutdown(ssl);
    return verdict;
  }

  std::unique_ptr<VaList> vas_;
  std::unique_ptr<MecaiTlsClient> mecai_;
  SslCtxPtr tls12_;
  SslCtxPtr tls13_;
  std::vector<std::string> candidates_;
};

class StockServersTest : public ::testing::TestWithParam<Kind> {
 protected:
  static void SetUpTestSuite() {
    LocalClusterOptions options;
    // Two servers, two probe rounds each, on one hostname.
    options.max_probe_rounds_per_hostname = 100;
    // A refresh seconds after the first fetch must bring a new VD, not the first one again
    // (decision reuse, docs/PROTOCOL.md, hands out an issued VD for ten minutes).
    options.decision_reuse = false;
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalCluster> cluster,
                         StartTestCluster("cluster", options));
    cluster_ = cluster.release();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  // The stapler of a server on `port`, its cache and serverinfo file in `directory`.
  static v1::StaplerConfig StaplerConfig(const std::string& directory, int port) {
    v1::StaplerConfig config;
    config.set_va_list_file(cluster_->VaListFile());
    auto* server = config.add_vouching_servers();
    server->set_va_id(LocalCluster::kVaId);
    // The public Vouch endpoint: no client certificate, as any server on the Internet.
    *server->mutable_vouching_server() = cluster_->CoordinatorPublicPeer();
    config.set_hostname(LocalCluster::kTargetHost);
    config.set_port(static_cast<uint32_t>(port));
    config.set_trust_list(LocalCluster::kTrustList);
    config.set_certificate_file(cluster_->ServerChainFile());
    config.set_key_file(cluster_->ServerKeyFile());
    config.set_cache_directory(directory + "/cache");
    config.set_serverinfo_file(directory + "/server.serverinfo");
    // Refreshes every 2 minutes (±10%) of the stapler's clock, which the test advances.
    config.set_refresh_interval_ms(120000);
    config.set_reload_timeout_ms(20000);
    return config;
  }

  static LocalCluster* cluster_;
};

LocalCluster* StockServersTest::cluster_ = nullptr;

TEST_P(StockServersTest, DefaultClientVerifiesTheStapledVdAndReloadsNeverFailAHandshake) {
  const Kind kind = GetParam();
  const std::string directory = cluster_->Path(KindName(kind));
  ASSERT_EQ(mkdir(directory.c_str(), 0700), 0);
  ASSERT_OK_AND_ASSIGN(const int port, PickFreeTcpPort());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<StockServer> server,
                       StockServer::Start(kind, directory, port, cluster_->ServerChainFile(),
                                          cluster_->ServerKeyFile()));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<DefaultClient> client, DefaultClient::Create(*cluster_));

  // Before any VD: the server answers the default client, with no VD.
  EXPECT_THAT(client->Handshake(port, TLS1_3_VERSION),
              test_pki::StatusIs(absl::StatusCode::kPermissionDenied,
                                 "MECAI: the server sent no Vouching Data for www.mecai.test; VAs "
                                 "asked for: demo-va"));

  // The stapler fetches a VD for this server's port (the perspectives probe this very server),
  // writes the serverinfo file and reloads the server, whose configuration now names the file.
  v1::StaplerConfig config = StaplerConfig(directory, port);
  for (const std::string& argument : server->ReloadCommand()) {
    config.add_reload_command(argument);
  }
  ASSERT_OK(server->ConfigureServerinfo(config.serverinfo_file()));
  FakeClock clock(absl::Now());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<StaplerDaemon> daemon,
                       BuildStaplerDaemon(config, clock, nullptr));
  ASSERT_NE(daemon->serverinfo, nullptr);
  daemon->stapler->RunDueFetches();
  const Stapler::VaStatus status = daemon->stapler->status(LocalCluster::kVaId);
  ASSERT_TRUE(status.holds_vd) << status.last_error;
  EXPECT_EQ(daemon->serverinfo->counts().updates,
            (std::map<std::string, uint64_t>{{"kept_empty", 1}, {"written", 1}}));
  ASSERT_EQ(daemon->serverinfo->counts().reloads,
            (std::map<std::string, uint64_t>{{"succeeded", 1}}))
      << TailOfFile(server->log_file()) << TailOfFile(directory + "/error.log");

  // The reload takes effect soon after the command returns, but the workers (nginx) or children
  // (Apache) of the old configuration keep accepting for a while: nginx signals its old workers
  // 100 ms after starting the new ones. Wait for a run of handshakes with the VD lasting a second.
  absl::StatusOr<MecaiVerification> first = absl::UnknownError("no handshake yet");
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  for (absl::Time run_start = absl::Now(); absl::Now() < give_up;) {
    first = client->Handshake(port, TLS1_3_VERSION);
    if (!first.ok()) {
      absl::SleepFor(absl::Milliseconds(20));
      run_start = absl::Now();
    } else if (absl::Now() - run_start >= absl::Seconds(1)) {
      break;
    }
  }
  ASSERT_TRUE(first.ok()) << first.status() << "\n" << TailOfFile(directory + "/error.log");
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    SCOPED_TRACE(version == TLS1_2_VERSION ? "TLS 1.2" : "TLS 1.3");
    ASSERT_OK_AND_ASSIGN(MecaiVerification verified, client->Handshake(port, version));
    EXPECT_EQ(verified.statement.va_id(), LocalCluster::kVaId);
    EXPECT_EQ(verified.statement.hostname(), LocalCluster::kTargetHost);
    EXPECT_EQ(verified.statement.port(), static_cast<uint32_t>(port));
    EXPECT_EQ(verified.statement.trust_list(), LocalCluster::kTrustList);
    EXPECT_EQ(verified.statement.log_index(), first->statement.log_index());
    EXPECT_TRUE(verified.problems.empty());
  }

  // `mecai s_client` with its defaults, over both versions.
  for (const char* version : {"1.2", "1.3"}) {
    const std::string log = absl::StrCat(directory, "/s_client-", version, ".log");
    auto s_client = ChildProcess::Start(
        {absl::StrCat(getenv("TEST_SRCDIR"), "/mecai/cli/mecai"), "s_client", "--connect",
         absl::StrCat("127.0.0.1:", port), "--servername", LocalCluster::kTargetHost, "--va-list",
         cluster_->VaListFile(), "--trust-list", LocalCluster::kTrustList, "--tls", version},
        log);
    ASSERT_TRUE(s_client.ok()) << s_client.status();
    ASSERT_TRUE((*s_client)->WaitForExit(absl::Seconds(30)));
    EXPECT_EQ((*s_client)->ExitCode(), 0) << TailOfFile(log) << "\n"
                                          << TailOfFile(directory + "/error.log", 5000);
    EXPECT_THAT(ReadFile(log).value_or(""), HasSubstr("MECAI: VALID, vouched by demo-va"));
    EXPECT_THAT(ReadFile(log).value_or(""), HasSubstr(absl::StrCat("protocol: TLSv", version)));
  }

  // A refresh with a reload while handshakes run: a second thread connects in a bounded loop,
  // alternating TLS 1.2 and 1.3, until it has seen the new VD ten times.
  const uint64_t old_index = first->statement.log_index();
  // The next VD must be issued in a later second than the first.
  absl::SleepFor(absl::Seconds(1));
  absl::Mutex mutex;
  int handshakes = 0;
  int with_new_vd = 0;
  std::vector<std::string> failures;
  std::atomic<bool> stop{false};
  std::thread loop([&] {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    for (int i = 0; i < 20000 && !stop.load() && absl::Now() < deadline; ++i) {
      absl::StatusOr<MecaiVerification> verified =
          client->Handshake(port, i % 2 == 0 ? TLS1_2_VERSION : TLS1_3_VERSION);
      absl::MutexLock lock(&mutex);
      ++handshakes;
      if (!verified.ok()) {
        failures.push_back(absl::StrCat("handshake ", i, ": ", verified.status().ToString()));
      } else if (verified->statement.log_index() != old_index && ++with_new_vd >= 10) {
        return;
      }
    }
  });
  // Let some handshakes run before the reload.
  {
    absl::MutexLock lock(&mutex);
    mutex.AwaitWithTimeout(absl::Condition(
                               +[](int* count) { return *count >= 20; }, &handshakes),
                           absl::Seconds(30));
  }
  clock.Advance(absl::Minutes(3));
  daemon->stapler->RunDueFetches();
  const Stapler::VaStatus refreshed = daemon->stapler->status(LocalCluster::kVaId);
  EXPECT_TRUE(refreshed.holds_vd && refreshed.consecutive_failures == 0) << refreshed.last_error;
  {
    absl::MutexLock lock(&mutex);
    mutex.AwaitWithTimeout(absl::Condition(
                               +[](int* count) { return *count >= 10; }, &with_new_vd),
                           absl::Seconds(30));
  }
  stop = true;
  loop.join();

  absl::MutexLock lock(&mutex);
  std::cout << KindName(kind) << ": " << handshakes << " handshakes during the refresh, "
            << failures.size() << " failed" << std::endl;
  EXPECT_THAT(failures, ::testing::IsEmpty()) << TailOfFile(directory + "/error.log");
  EXPECT_EQ(with_new_vd, 10) << handshakes << " handshakes";
  EXPECT_GE(handshakes, 30);
  EXPECT_EQ(daemon->serverinfo->counts().updates,
            (std::map<std::string, uint64_t>{{"kept_empty", 1}, {"written", 2}}));
  EXPECT_EQ(daemon->serverinfo->counts().reloads,
            (std::map<std::string, uint64_t>{{"succeeded", 2}}));
  EXPECT_TRUE(server->running());
}

INSTANTIATE_TEST_SUITE_P(StockServers, StockServersTest,
                         ::testing::Values(Kind::kNginx, Kind::kApache),
                         [](const ::testing::TestParamInfo<Kind>& info) {
                           return info.param == Kind::kNginx ? std::string("Nginx")
                                                             : std::string("Apache");
                         });

}  // namespace
}  // namespace mecai
