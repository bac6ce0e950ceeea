// Client CPU per TLS handshake with and without the MECAI extension against the same server in
// the same run, and the time of one VD verification against one ECDSA P-256 verification
// (`openssl speed ecdsap256`). docs/PERFORMANCE.md has the method and the figures.
//
//   bazel run -c opt //bench:tls_extension_bench -- [handshakes per round] [rounds]
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/mecai_tls_client.h"
#include "client/va_list.h"
#include "client/vd_verifier.h"
#include "common/clock.h"
#include "common/pem.h"
#include "stapler/testing/tls_pair.h"
#include "stapler/tls_stapling.h"

namespace mecai {
namespace {

double ThreadCpuSeconds() {
  timespec now;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return now.tv_sec + now.tv_nsec / 1e9;
}

// Serves every socket handed to it with one TLS handshake. Thread-safe.
class Server {
 public:
  explicit Server(SSL_CTX* context) : context_(context), thread_([this] { Loop(); }) {}
  ~Server() {
    Hand(-1);
    thread_.join();
  }
  void Hand(int fd) {
    absl::MutexLock lock(&mutex_);
    queue_.push_back(fd);
  }

 private:
  void Loop() {
    while (true) {
      int fd;
      {
        absl::MutexLock lock(&mutex_);
        mutex_.Await(absl::Condition(
            +[](std::deque<int>* queue) { return !queue->empty(); }, &queue_));
        fd = queue_.front();
        queue_.pop_front();
      }
      if (fd < 0) return;
      SslPtr ssl(SSL_new(context_));
      SSL_set_fd(ssl.get(), fd);
      if (SSL_accept(ssl.get()) == 1) SSL_shutdown(ssl.get());
      close(fd);
    }
  }
  SSL_CTX* const context_;
  absl::Mutex mutex_;
  std::deque<int> queue_ ABSL_GUARDED_BY(mutex_);
  std::thread thread_;
};

// Client CPU seconds of `count` handshakes (and, with `mecai`, VD verifications).
double ClientCpu(Server& server, SSL_CTX* context, const MecaiTlsClient* mecai, int count) {
  double total = 0;
  for (int i = 0; i < count; ++i) {
    int fds[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
    server.Hand(fds[1]);
    const double start = ThreadCpuSeconds();
    SslPtr ssl(SSL_new(context));
    SSL_set_fd(ssl.get(), fds[0]);
    if (mecai != nullptr &&
        !mecai->PrepareConnection(ssl.get(), "www.example.com", 443, "", {"va-example"}).ok()) {
      std::abort();
    }
    if (SSL_connect(ssl.get()) != 1) std::abort();
    if (mecai != nullptr && !mecai->VerifyConnection(ssl.get()).ok()) std::abort();
    total += ThreadCpuSeconds() - start;
    SSL_shutdown(ssl.get());
    ssl.reset();
    close(fds[0]);
  }
  return total;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

double OpensslSpeedVerifiesPerSecond() {
  FILE* pipe = popen("openssl speed -seconds 3 ecdsap256 2>/dev/null", "r");
  char line[512];
  double verifies = 0;
  while (fgets(line, sizeof(line), pipe) != nullptr) {
    double sign_seconds, verify_seconds, signs, verify_rate;
    if (sscanf(line, " 256 bits ecdsa (nistp256) %lfs %lfs %lf %lf", &sign_seconds, &verify_seconds,
               &signs, &verify_rate) == 4) {
      verifies = verify_rate;
    }
  }
  pclose(pipe);
  return verifies;
}

int Main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);  // Either side may close first.
  const int handshakes = argc > 1 ? atoi(argv[1]) : 300;
  const int rounds = argc > 2 ? atoi(argv[2]) : 5;
  using testing_tls::VectorPath;
  auto vas = VaList::Load(VectorPath("va-list.textproto"));
  auto vd = testing_tls::SignVouchingData("www.example.com", {VectorPath("server-leaf.pem")},
                                          absl::Now() - absl::Minutes(5));
  if (!vas.ok() || !vd.ok()) {
    std::cerr << "run from the workspace with bazel run (testdata/vd/ needed)\n";
    return 1;
  }
  StaplingServer stapling(StaplingOptions{}, nullptr);
  stapling.SetVdSet(*VdSet::FromSerialized({*vd}));
  std::printf("VD size: %zu bytes\n\n", vd->size());
  std::printf(
      "| TLS | handshakes | client CPU without (µs) | client CPU with MECAI (µs) | ratio |\n");
  std::printf("|---|---:|---:|---:|---:|\n");
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    auto server_context = testing_tls::MakeServerContext(
        VectorPath("server-leaf.pem"), VectorPath("server-leaf.key.pem"), version);
    if (!server_context.ok() || !stapling.Register(server_context->get()).ok()) return 1;
    SSL_CTX_set_session_cache_mode(server_context->get(), SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(server_context->get(), SSL_OP_NO_TICKET);
    Server server(server_context->get());
    SslCtxPtr plain = testing_tls::MakeClientContext(version);
    SslCtxPtr with = testing_tls::MakeClientContext(version);
    MecaiClientOptions options;
    MecaiTlsClient client(**vas, SystemClock::Get(), options, nullptr);
    if (!client.Register(with.get()).ok()) return 1;
    ClientCpu(server, plain.get(), nullptr, 20);  // Warm up.
    ClientCpu(server, with.get(), &client, 20);
    std::vector<double> without_us, with_us, ratios;
    for (int round = 0; round < rounds; ++round) {
      const double a = ClientCpu(server, plain.get(), nullptr, handshakes) / handshakes * 1e6;
      const double b = ClientCpu(server, with.get(), &client, handshakes) / handshakes * 1e6;
      without_us.push_back(a);
      with_us.push_back(b);
      ratios.push_back(b / a);
    }
    std::printf("| %s | %d × %d | %.0f | %.0f | %.3f |\n",
                version == TLS1_2_VERSION ? "1.2" : "1.3", rounds, handshakes, Median(without_us),
                Median(with_us), Median(ratios));
  }

  // One VD verification (chain, EKU, ECDSA P-256 signature, statement checks).
  v1::VouchingData parsed;
  parsed.ParseFromString(*vd);
  auto leaf = LoadPemCertificatesAsDer(VectorPath("server-leaf.pem"));
  VdExpectation expected;
  expected.hostname = "www.example.com";
  expected.certificate_der = leaf->front();
  expected.candidate_vas = {"va-example"};
  expected.now = absl::Now();
  const int verifications = 3000;
  std::vector<double> per_vd;
  for (int round = 0; round < rounds; ++round) {
    const double start = ThreadCpuSeconds();
    for (int i = 0; i < verifications; ++i) {
      if (!VerifyVouchingData(parsed, **vas, expected).ok()) return 1;
    }
    per_vd.push_back((ThreadCpuSeconds() - start) / verifications * 1e6);
  }
  const double speed = OpensslSpeedVerifiesPerSecond();
  const double ecdsa_us = speed > 0 ? 1e6 / speed : 0;
  std::printf(
      "\n| measurement | µs | relative to one ECDSA P-256 verification |\n|---|---:|---:|\n");
  std::printf("| ECDSA P-256 verify (`openssl speed ecdsap256`, %.0f/s) | %.1f | 1.00 |\n", speed,
              ecdsa_us);
  std::printf("| VerifyVouchingData (median of %d × %d) | %.1f | %.2f |\n", rounds, verifications,
              Median(per_vd), ecdsa_us > 0 ? Median(per_vd) / ecdsa_us : 0);
  return 0;
}

}  // namespace
}  // namespace mecai

int main(int argc, char** argv) { return mecai::Main(argc, argv); }
