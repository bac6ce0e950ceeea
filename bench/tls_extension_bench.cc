// Client CPU per TLS handshake with and without the MECAI extension against the same server in
// the same run, and the time of one VD verification against one ECDSA P-256 verification
// (`openssl speed ecdsap256`). docs/PERFORMANCE.md has the method and the figures.
//
// Two baselines per TLS version: the bare one (neither client checks the server certificate), and
// one where both clients verify the server certificate (chain to a trust anchor and host name),
// as a real client does.
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
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/bench_stats.h"
#include "client/mecai_tls_client.h"
#include "client/va_list.h"
#include "client/vd_verifier.h"
#include "common/base/clock.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/crypto/openssl_error.h"
#include "common/crypto/pem.h"
#include "stapler/testing/tls_pair.h"
#include "stapler/tls_stapling.h"

namespace mecai {
namespace {

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

// Client CPU seconds of `count` handshakes (and, with `mecai`, VD verifications). With
// `check_host`, each connection also names the host its certificate must be for (the context
// verifies the peer).
double ClientCpu(Server& server, SSL_CTX* context, const MecaiTlsClient* mecai, bool check_host,
                 int count) {
  double total = 0;
  for (int i = 0; i < count; ++i) {
    int fds[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
    server.Hand(fds[1]);
    const double start = ThreadCpuSeconds();
    SslPtr ssl(SSL_new(context));
    SSL_set_fd(ssl.get(), fds[0]);
    if (check_host && SSL_set1_host(ssl.get(), "www.example.com") != 1) std::abort();
    if (mecai != nullptr &&
        !mecai->PrepareConnection(ssl.get(), "www.example.com", 443, "", {"va-example"}).ok()) {
      std::abort();
    }
    if (SSL_connect(ssl.get()) != 1 ||
        (check_host && SSL_get_verify_result(ssl.get()) != X509_V_OK)) {
      std::abort();
    }
    if (mecai != nullptr && !mecai->VerifyConnection(ssl.get()).ok()) std::abort();
    total += ThreadCpuSeconds() - start;
    SSL_shutdown(ssl.get());
    ssl.reset();
    close(fds[0]);
  }
  return total;
}

// The files of a server certificate issued by testdata/vd/'s CA (ca.pem), as a web server's is
// by its CA, so that verifying it costs a real client its ECDSA verification.
struct IssuedServerFiles {
  std::string chain;  // PEM leaf.
  std::string key;    // PEM private key.
};

// Issues an EC P-256 leaf for www.example.com (serverAuth, valid from an hour ago for a day) under
// testdata/vd/ca.pem and writes it into a fresh temporary directory.
absl::StatusOr<IssuedServerFiles> IssueServerLeaf() {
  ASSIGN_OR_RETURN(std::vector<X509Ptr> ca, LoadPemCertificates(testing_tls::VectorPath("ca.pem")));
  ASSIGN_OR_RETURN(EvpPkeyPtr ca_key, LoadPemPrivateKey(testing_tls::VectorPath("ca.key.pem")));
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  X509Ptr leaf(X509_new());
  if (key == nullptr || leaf == nullptr) return absl::InternalError("out of memory");
  X509_set_version(leaf.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(leaf.get()), 4242);
  X509_gmtime_adj(X509_getm_notBefore(leaf.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(leaf.get()), 86400);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(leaf.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("www.example.com"), -1, -1, 0);
  X509_set_issuer_name(leaf.get(), X509_get_subject_name(ca.front().get()));
  X509_set_pubkey(leaf.get(), key.get());
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, ca.front().get(), leaf.get(), nullptr, nullptr, 0);
  for (const auto& [name, value] :
       std::vector<std::pair<const char*, const char*>>{{"basicConstraints", "critical,CA:FALSE"},
                                                        {"keyUsage", "critical,digitalSignature"},
                                                        {"extendedKeyUsage", "serverAuth"},
                                                        {"subjectAltName", "DNS:www.example.com"},
                                                        {"authorityKeyIdentifier", "keyid"}}) {
    X509ExtensionPtr extension(X509V3_EXT_conf(nullptr, &context, name, value));
    if (extension == nullptr || X509_add_ext(leaf.get(), extension.get(), -1) != 1) {
      return OpenSslError(absl::StrCat("adding ", name));
    }
  }
  if (X509_sign(leaf.get(), ca_key.get(), EVP_sha256()) == 0) return OpenSslError("X509_sign");
  char directory[] = "/tmp/tls_extension_bench.XXXXXX";
  if (mkdtemp(directory) == nullptr) return absl::InternalError("mkdtemp");
  IssuedServerFiles files{absl::StrCat(directory, "/leaf.pem"),
                          absl::StrCat(directory, "/leaf.key.pem")};
  RETURN_IF_ERROR(WriteFileAtomically(files.chain, CertificateToPem(leaf.get()), 0600));
  RETURN_IF_ERROR(WriteFileAtomically(files.key, PrivateKeyToPem(key.get()), 0600));
  return files;
}

// A client context for `version` that verifies the server certificate (RFC 5280 path to
// testdata/vd/ca.pem as the only trust anchor; the host name per connection).
SslCtxPtr MakeVerifyingClientContext(int version) {
  SslCtxPtr context = testing_tls::MakeClientContext(version);
  auto anchors = LoadPemCertificates(testing_tls::VectorPath("ca.pem"));
  if (!anchors.ok()) std::abort();
  X509_STORE* store = SSL_CTX_get_cert_store(context.get());  // Borrowed.
  for (const X509Ptr& anchor : *anchors) X509_STORE_add_cert(store, anchor.get());
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
  return context;
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
  auto issued = IssueServerLeaf();
  auto issued_vd = issued.ok() ? testing_tls::SignVouchingData("www.example.com", {issued->chain},
                                                               absl::Now() - absl::Minutes(5))
                               : absl::StatusOr<std::string>(issued.status());
  if (!issued_vd.ok()) {
    std::cerr << "issuing the CA-signed server certificate: " << issued_vd.status() << "\n";
    return 1;
  }
  std::printf("VD size: %zu bytes\n\n", vd->size());
  std::printf(
      "| TLS | server certificate (both clients) | handshakes | client CPU without (µs) | client "
      "CPU with MECAI (µs) | ratio |\n");
  std::printf("|---|---|---:|---:|---:|---:|\n");
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    for (bool verify_server : {false, true}) {
      // The bare baseline serves testdata/vd/'s self-signed leaf, unchecked; the second
      // variant a leaf issued by testdata/vd/ca.pem, which both clients verify.
      StaplingServer stapling(StaplingOptions{}, nullptr);
      stapling.SetVdSet(*VdSet::FromSerialized({verify_server ? *issued_vd : *vd}));
      auto server_context =
          verify_server
              ? testing_tls::MakeServerContext(issued->chain, issued->key, version)
              : testing_tls::MakeServerContext(VectorPath("server-leaf.pem"),
                                               VectorPath("server-leaf.key.pem"), version);
      if (!server_context.ok() || !stapling.Register(server_context->get()).ok()) return 1;
      SSL_CTX_set_session_cache_mode(server_context->get(), SSL_SESS_CACHE_OFF);
      SSL_CTX_set_options(server_context->get(), SSL_OP_NO_TICKET);
      Server server(server_context->get());
      SslCtxPtr plain = verify_server ? MakeVerifyingClientContext(version)
                                      : testing_tls::MakeClientContext(version);
      SslCtxPtr with = verify_server ? MakeVerifyingClientContext(version)
                                     : testing_tls::MakeClientContext(version);
      MecaiClientOptions options;
      MecaiTlsClient client(**vas, SystemClock::Get(), options, nullptr);
      if (!client.Register(with.get()).ok()) return 1;
      ClientCpu(server, plain.get(), nullptr, verify_server, 20);  // Warm up.
      ClientCpu(server, with.get(), &client, verify_server, 20);
      std::vector<double> without_us, with_us, ratios;
      for (int round = 0; round < rounds; ++round) {
        const double a =
            ClientCpu(server, plain.get(), nullptr, verify_server, handshakes) / handshakes * 1e6;
        const double b =
            ClientCpu(server, with.get(), &client, verify_server, handshakes) / handshakes * 1e6;
        without_us.push_back(a);
        with_us.push_back(b);
        ratios.push_back(b / a);
      }
      std::printf("| %s | %s | %d × %d | %.0f | %.0f | %.3f |\n",
                  version == TLS1_2_VERSION ? "1.2" : "1.3",
                  verify_server ? "CA-issued, verified (chain + host name)"
                                : "self-signed, not checked (bare baseline)",
                  rounds, handshakes, Median(without_us), Median(with_us), Median(ratios));
    }
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
  // The same VA list without the verified-VA cache: every call validates the VA chain.
  auto uncached = VaList::Load(VectorPath("va-list.textproto"), /*verified_va_cache_capacity=*/0);
  if (!uncached.ok()) return 1;
  auto time_verifications = [&](const VaList& list) {
    std::vector<double> per_vd;
    for (int round = 0; round < rounds; ++round) {
      const double start = ThreadCpuSeconds();
      for (int i = 0; i < verifications; ++i) {
        if (!VerifyVouchingData(parsed, list, expected).ok()) std::abort();
      }
      per_vd.push_back((ThreadCpuSeconds() - start) / verifications * 1e6);
    }
    return Median(per_vd);
  };
  const double cached_us = time_verifications(**vas);
  const double uncached_us = time_verifications(**uncached);
  const double speed = OpensslSpeedVerifiesPerSecond();
  const double ecdsa_us = speed > 0 ? 1e6 / speed : 0;
  std::printf(
      "\n| measurement | µs | relative to one ECDSA P-256 verification |\n|---|---:|---:|\n");
  std::printf("| ECDSA P-256 verify (`openssl speed ecdsap256`, %.0f/s) | %.1f | 1.00 |\n", speed,
              ecdsa_us);
  std::printf(
      "| VerifyVouchingData, a VD seen before: VA chain and signature cached (median of %d × "
      "%d) | %.1f | %.2f |\n"
      "| VerifyVouchingData, no cache: chain validated every call (median of %d × %d) | %.1f | "
      "%.2f |\n",
      rounds, verifications, cached_us, ecdsa_us > 0 ? cached_us / ecdsa_us : 0, rounds,
      verifications, uncached_us, ecdsa_us > 0 ? uncached_us / ecdsa_us : 0);
  return 0;
}

}  // namespace
}  // namespace mecai

int main(int argc, char** argv) { return mecai::Main(argc, argv); }
