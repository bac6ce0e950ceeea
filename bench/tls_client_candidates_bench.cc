// Client CPU per full TLS handshake of the TLS libraries Debian 12 ships, as candidates for the
// probe engine, against Go's crypto/tls (bench/go_tls_client.go) and the probe engine itself, all
// against one local nginx in the same run; see docs/PERFORMANCE.md, "TLS client libraries for the
// probe engine".
//
// nginx serves a P-256 leaf and its intermediate (common/pki) on two ports, one TLS 1.2 only
// (RFC 5246) and one TLS 1.3 only (RFC 8446), with no session cache and no tickets, as
// bench/probe_cpu_bench.cc does. Each candidate (bench/tls_candidate.h: OpenSSL 3 minimal, GnuTLS,
// wolfSSL, Mbed TLS) makes its client context once and then does sequential full handshakes: TCP
// connect, handshake offering only what selects an ECDSA P-256 certificate, the whole chain copied
// out as DER and hashed (SHA-256 of each certificate and of the chain, as the probe records it),
// close_notify, close. CPU: getrusage(2) RUSAGE_SELF user+system over the measured handshakes (the
// candidates run on this thread; the engine on its event loops); Go: its own RUSAGE_SELF.
//
// Before measuring, each candidate's offer is checked: one ClientHello to a listener of this
// process, whose signature_algorithms (RFC 8446 §4.2.3) and TLS 1.2 cipher suites are decoded; and
// one handshake per version with nginx, whose certificates must equal, byte for byte, the two nginx
// was given.
//
// bazel build -c opt //bench:tls_client_candidates_bench, then
//   bazel-bin/bench/tls_client_candidates_bench [--handshakes 1000] [--seconds 4] [--rounds 5]
//   [--only openssl|openssl_probe_context|gnutls|wolfssl|mbedtls|engine|go] [--tls 1.2|1.3]
//   [--intermediates 10] [--extra_names 150]  (the chains of the check; --rounds 0: the check only)
// Go: Debian's golang-go; without it the Go column, and the ratios, are left out.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <regex>  // NOLINT(build/c++11): parsing the Go client's summary line.
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "bench/bench_stats.h"
#include "bench/tls_candidate.h"
#include "common/base/files.h"
#include "common/crypto/openssl_types.h"
#include "common/crypto/pem.h"
#include "common/pki/pki_builder.h"
#include "common/process/child_process.h"
#include "probe_agent/testing/test_servers.h"
#include "probe_agent/tls_engine.h"

namespace mecai {
namespace {

constexpr char kHost[] = "bench.example.test";

double CpuSecondsOf(int who) {
  rusage usage;
  getrusage(who, &usage);
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec +
         usage.ru_stime.tv_usec / 1e6;
}

struct Flags {
  int handshakes = 1000;
  int seconds = 4;
  int rounds = 5;
  int warmup = 20;
  std::string only;        // Empty: every client.
  std::string tls;         // Empty: both versions.
  int intermediates = 10;  // Of the long chain the chain check uses.
  int extra_names = 150;   // More DNS names in the large leaf the chain check uses.
};

// One client's measurement of one version in one round.
struct Measurement {
  int handshakes = 0;
  int failures = 0;
  double cpu_seconds = 0;
  double wall_seconds = 0;
  std::string note;  // Why nothing was measured, or what went wrong.
  double MicrosPerHandshake() const { return handshakes > 0 ? cpu_seconds / handshakes * 1e6 : 0; }
};

// nginx's files and the chain it sends, DER, leaf first.
struct ServerFiles {
  std::string chain_path;
  std::string key_path;
  std::vector<std::string> chain_der;
};

// A P-256 leaf for kHost (and `extra_names` more DNS names) issued through `intermediates` P-256
// intermediates under a P-256 root; nginx's files are `directory`/`stem`.{chain,key}.pem, the
// leaf first and the root left out. (1, 0) is the chain of probe_cpu_bench.
absl::StatusOr<ServerFiles> WriteServerPki(const std::string& directory, const std::string& stem,
                                           int intermediates, int extra_names) {
  const absl::Time now = absl::Now();
  CertificateSpec ca_spec;
  ca_spec.common_name = "Bench Root";
  ca_spec.is_certificate_authority = true;
  ca_spec.not_before = now - absl::Hours(1);
  ca_spec.not_after = now + absl::Hours(24 * 30);
  absl::StatusOr<EvpPkeyPtr> issuer_key = GenerateEcKey();
  if (!issuer_key.ok()) return issuer_key.status();
  absl::StatusOr<X509Ptr> issuer =
      IssueCertificate(ca_spec, issuer_key->get(), nullptr, issuer_key->get());
  if (!issuer.ok()) return issuer.status();
  std::vector<X509Ptr> sent;  // The intermediates, the root's child first.
  for (int i = 0; i < intermediates; ++i) {
    ca_spec.common_name = absl::StrCat("Bench Intermediate ", i + 1);
    absl::StatusOr<EvpPkeyPtr> key = GenerateEcKey();
    if (!key.ok()) return key.status();
    absl::StatusOr<X509Ptr> certificate =
        IssueCertificate(ca_spec, key->get(), issuer->get(), issuer_key->get());
    if (!certificate.ok()) return certificate.status();
    sent.push_back(std::move(*issuer));
    *issuer = std::move(*certificate);
    *issuer_key = std::move(*key);
  }
  CertificateSpec leaf_spec;
  leaf_spec.common_name = kHost;
  leaf_spec.dns_names = {kHost};
  for (int i = 0; i < extra_names; ++i) {
    leaf_spec.dns_names.push_back(absl::StrCat("name-", i, ".", kHost));
  }
  leaf_spec.extended_key_usages = {"serverAuth"};
  leaf_spec.not_before = ca_spec.not_before;
  leaf_spec.not_after = now + absl::Hours(24 * 7);
  absl::StatusOr<EvpPkeyPtr> leaf_key = GenerateEcKey();
  if (!leaf_key.ok()) return leaf_key.status();
  absl::StatusOr<X509Ptr> leaf =
      IssueCertificate(leaf_spec, leaf_key->get(), issuer->get(), issuer_key->get());
  if (!leaf.ok()) return leaf.status();
  ServerFiles files;
  files.chain_path = absl::StrCat(directory, "/", stem, ".chain.pem");
  files.key_path = absl::StrCat(directory, "/", stem, ".key.pem");
  std::string pem = CertificateToPem(leaf->get());
  files.chain_der = {CertificateToDer(leaf->get())};
  if (intermediates > 0) sent.push_back(std::move(*issuer));  // The leaf's issuer.
  // Sent leaf first, then each issuer: the last intermediate made first; the root not at all.
  for (size_t i = sent.size(); i-- > 1;) {
    pem += CertificateToPem(sent[i].get());
    files.chain_der.push_back(CertificateToDer(sent[i].get()));
  }
  absl::Status written = WriteFileAtomically(files.chain_path, pem);
  if (!written.ok()) return written;
  written = WriteFileAtomically(files.key_path, PrivateKeyToPem(leaf_key->get()));
  if (!written.ok()) return written;
  return files;
}

// What a ClientHello offers that selects the server's certificate.
struct Offer {
  bool captured = false;
  std::vector<int> signature_algorithms;  // RFC 8446 §4.2.3 code points.
  int tls12_suites = 0;                   // Cipher suites other than TLS 1.3's and SCSVs.
  int tls12_non_ecdsa_suites = 0;         // … of which not authenticated by ECDSA.
  std::vector<int> key_shares;            // The groups of the key_share entries (RFC 8446 §4.2.8).
};

// ECDHE_ECDSA cipher suites (RFC 8422 §6, RFC 5289, RFC 6209, RFC 6367, RFC 7251, RFC 7905).
bool IsEcdsaSuite(int suite) {
  static const std::set<int> kSuites = {
      0xC006, 0xC007, 0xC008, 0xC009, 0xC00A, 0xC023, 0xC024, 0xC02B, 0xC02C, 0xC048, 0xC049,
      0xC05C, 0xC05D, 0xC072, 0xC073, 0xC086, 0xC087, 0xC0AC, 0xC0AD, 0xC0AE, 0xC0AF, 0xCCA9};
  return kSuites.count(suite) > 0;
}

// Parses the ClientHello at the start of `bytes` (TLS records, RFC 8446 §4.1.2).
Offer ParseClientHello(const std::string& bytes) {
  Offer offer;
  // The handshake message may span records: concatenate the fragments.
  std::string message;
  for (size_t at = 0; at + 5 <= bytes.size();) {
    const size_t length = (static_cast<uint8_t>(bytes[at + 3]) << 8) | uint8_t(bytes[at + 4]);
    if (bytes[at] != 22 || at + 5 + length > bytes.size()) break;
    message += bytes.substr(at + 5, length);
    at += 5 + length;
  }
  auto u8 = [&](size_t at) { return at < message.size() ? uint8_t(message[at]) : 0; };
  auto u16 = [&](size_t at) { return (u8(at) << 8) | u8(at + 1); };
  if (message.size() < 4 || u8(0) != 1) return offer;
  size_t at = 4 + 2 + 32;  // Header, legacy_version, random.
  at += 1 + u8(at);        // legacy_session_id.
  const size_t suites_end = at + 2 + u16(at);
  for (at += 2; at + 1 < suites_end; at += 2) {
    const int suite = u16(at);
    if ((suite & 0xFF00) == 0x1300 || suite == 0x00FF || suite == 0x5600) continue;
    ++offer.tls12_suites;
    if (!IsEcdsaSuite(suite)) ++offer.tls12_non_ecdsa_suites;
  }
  at = suites_end;
  at += 1 + u8(at);  // legacy_compression_methods.
  const size_t extensions_end = at + 2 + u16(at);
  for (at += 2; at + 4 <= extensions_end && at + 4 <= message.size();) {
    const int type = u16(at);
    const size_t length = u16(at + 2);
    if (type == 13) {  // signature_algorithms.
      const size_t list_end = at + 6 + u16(at + 4);
      for (size_t i = at + 6; i + 1 < list_end; i += 2) {
        offer.signature_algorithms.push_back(u16(i));
      }
    }
    if (type == 51) {  // key_share: client_shares, each group(2) length(2) key_exchange.
      const size_t list_end = at + 6 + u16(at + 4);
      for (size_t i = at + 6; i + 3 < list_end; i += 4 + u16(i + 2)) {
        offer.key_shares.push_back(u16(i));
      }
    }
    at += 4 + length;
  }
  offer.captured = true;
  return offer;
}

// Accepts one connection on 127.0.0.1, reads what the client sends for up to 2 s (its ClientHello;
// no answer comes), closes. Not thread-safe.
class HelloCapture {
 public:
  HelloCapture() {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof(address);
    if (bind(listener_, reinterpret_cast<sockaddr*>(&address), size) != 0 ||
        listen(listener_, 1) != 0 ||
        getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
      return;
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] {
      const int connection = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (connection < 0) return;
      timeval timeout{0, 200000};
      setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
      const absl::Time end = absl::Now() + absl::Seconds(2);
      char buffer[4096];
      while (absl::Now() < end && bytes_.size() < 65536) {
        const ssize_t got = read(connection, buffer, sizeof(buffer));
        if (got == 0) break;
        if (got > 0) bytes_.append(buffer, got);
        if (got < 0 && !bytes_.empty()) break;  // A pause after the hello: it is all there.
      }
      close(connection);
    });
  }
  ~HelloCapture() {
    if (thread_.joinable()) thread_.join();
    close(listener_);
  }
  int port() const { return port_; }
  // Waits for the capture to end and parses it.
  Offer Result() {
    if (thread_.joinable()) thread_.join();
    return ParseClientHello(bytes_);
  }

 private:
  int listener_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::string bytes_;
};

// SHA-256 of each certificate and of the chain, as the probe records them; returns a byte of the
// last digest so the work is not optimized away.
unsigned char RecordChain(const std::vector<std::string>& chain) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  std::string concatenated;
  for (const std::string& der : chain) {
    SHA256(reinterpret_cast<const unsigned char*>(der.data()), der.size(), digest);
    concatenated += der;
  }
  SHA256(reinterpret_cast<const unsigned char*>(concatenated.data()), concatenated.size(), digest);
  return digest[0];
}

// Where the records' digests go, so that the work is not optimized away.
volatile unsigned char recorded = 0;

// One in-process candidate: a name for the flags, the library, and its capabilities as checked.
struct Candidate {
  std::string key;  // --only value.
  std::unique_ptr<bench::TlsCandidate> client;
  std::string missing;  // Why it is not measured.
  Offer offer;
  std::string chain12, chain13;  // "yes", or what went wrong.
  std::string large_leaf, long_chain;
};

Measurement MeasureCandidate(bench::TlsCandidate& client, int port, const std::string& version,
                             const Flags& flags, const std::vector<std::string>& expected_chain) {
  Measurement result;
  auto ok = [&](const absl::StatusOr<bench::CandidateHandshake>& handshake) {
    if (!handshake.ok()) return false;
    recorded ^= RecordChain(handshake->chain_der);
    return handshake->chain_der.size() == expected_chain.size() && handshake->version == version;
  };
  for (int i = 0; i < flags.warmup; ++i) {
    absl::StatusOr<bench::CandidateHandshake> handshake = client.Handshake(port, kHost);
    if (!ok(handshake)) {
      result.note = handshake.ok() ? absl::StrCat("warm-up: ", handshake->version, ", ",
                                                  handshake->chain_der.size(), " certificates")
                                   : handshake.status().ToString();
      return result;
    }
  }
  const double cpu_start = CpuSecondsOf(RUSAGE_SELF);
  const absl::Time start = absl::Now();
  const absl::Duration limit = absl::Seconds(flags.seconds);
  while (result.handshakes + result.failures < flags.handshakes && absl::Now() - start < limit) {
    if (ok(client.Handshake(port, kHost))) {
      ++result.handshakes;
    } else {
      ++result.failures;
    }
  }
  result.wall_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  result.cpu_seconds = CpuSecondsOf(RUSAGE_SELF) - cpu_start;
  return result;
}

probe_agent::FetchRequest EngineRequest(int port) {
  probe_agent::FetchRequest request;
  request.address = "127.0.0.1";
  request.port = static_cast<uint32_t>(port);
  request.sni = kHost;
  request.key_type = v1::KEY_TYPE_EC_P256;
  return request;
}

// The probe engine as the agent uses it for a key-typed P-256 handshake (probe_cpu_bench's (a)).
Measurement MeasureEngine(probe_agent::TlsEngine& engine, int port, const std::string& version,
                          const Flags& flags) {
  Measurement result;
  auto ok = [&](const v1::AddressObservation& observation) {
    return observation.outcome() == v1::PROBE_OK && observation.certificate_chain_der_size() == 2 &&
           observation.tls_version() == version;
  };
  for (int i = 0; i < flags.warmup; ++i) {
    const v1::AddressObservation observation = engine.Fetch(EngineRequest(port));
    if (!ok(observation)) {
      result.note = absl::StrCat("warm-up fetch: ", observation.error());
      return result;
    }
  }
  const double cpu_start = CpuSecondsOf(RUSAGE_SELF);
  const absl::Time start = absl::Now();
  const absl::Duration limit = absl::Seconds(flags.seconds);
  while (result.handshakes + result.failures < flags.handshakes && absl::Now() - start < limit) {
    if (ok(engine.Fetch(EngineRequest(port)))) {
      ++result.handshakes;
    } else {
      ++result.failures;
    }
  }
  result.wall_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  result.cpu_seconds = CpuSecondsOf(RUSAGE_SELF) - cpu_start;
  return result;
}

// Builds bench/go_tls_client.go into `directory` (as probe_cpu_bench); empty when Go is not
// installed or the source is not found.
std::string BuildGoClient(const std::string& directory, const char* argv0, std::string* why) {
  std::vector<std::string> candidates;
  if (const char* runfiles = std::getenv("TEST_SRCDIR")) {
    candidates.push_back(absl::StrCat(runfiles, "/mecai/bench/go_tls_client.go"));
  }
  candidates.push_back(absl::StrCat(argv0, ".runfiles/mecai/bench/go_tls_client.go"));
  candidates.push_back("bench/go_tls_client.go");
  std::string source;
  for (const std::string& candidate : candidates) {
    if (access(candidate.c_str(), R_OK) == 0) {
      source = candidate;
      break;
    }
  }
  if (source.empty()) {
    *why = "bench/go_tls_client.go not found (run from the workspace or through bazel run)";
    return "";
  }
  const std::string binary = directory + "/go_tls_client";
  const std::string log = directory + "/go_build.txt";
  std::vector<std::string> environment = {"GOPROXY=off", "GOFLAGS=", "CGO_ENABLED=0"};
  if (std::getenv("HOME") == nullptr && std::getenv("GOCACHE") == nullptr) {
    environment.push_back(absl::StrCat("GOCACHE=", directory, "/gocache"));
  }
  absl::StatusOr<std::unique_ptr<ChildProcess>> build =
      ChildProcess::Start({"go", "build", "-o", binary, source}, log, environment);
  if (!build.ok()) {
    *why = "Go is not installed (apt-get install -y golang-go)";
    return "";
  }
  if (!(*build)->WaitForExit(absl::Minutes(5)) || (*build)->ExitCode() != 0) {
    *why = absl::StrCat("go build failed: ", TailOfFile(log, 500));
    return "";
  }
  return binary;
}

// Runs the Go client; `port` is nginx's or a HelloCapture's (then it fails, and that is expected).
absl::StatusOr<std::unique_ptr<ChildProcess>> StartGo(const std::string& binary,
                                                      const std::string& output, int port,
                                                      const Flags& flags) {
  unlink(output.c_str());
  return ChildProcess::Start(
      {binary, "-address", absl::StrCat("127.0.0.1:", port), "-sni", kHost, "-handshakes",
       std::to_string(flags.handshakes), "-seconds", std::to_string(flags.seconds), "-warmup",
       std::to_string(flags.warmup)},
      output);
}

Measurement MeasureGo(const std::string& binary, const std::string& directory, int port,
                      const std::string& version, const Flags& flags) {
  Measurement result;
  const std::string output = absl::StrCat(directory, "/go_", port, ".txt");
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = StartGo(binary, output, port, flags);
  if (!child.ok() || !(*child)->WaitForExit(absl::Seconds(flags.seconds + 60)) ||
      (*child)->ExitCode() != 0) {
    result.note = absl::StrCat("Go client failed: ", TailOfFile(output, 300));
    return result;
  }
  const std::string text = ReadFile(output).value_or("");
  std::smatch match;
  if (!std::regex_search(text, match,
                         std::regex("handshakes ([0-9]+) failures ([0-9]+) cpu_seconds ([0-9.]+) "
                                    "wall_seconds ([0-9.]+) version (\\S+)"))) {
    result.note = absl::StrCat("unexpected Go output: ", text);
    return result;
  }
  result.handshakes = std::atoi(match[1].str().c_str());
  result.failures = std::atoi(match[2].str().c_str());
  result.cpu_seconds = std::atof(match[3].str().c_str());
  result.wall_seconds = std::atof(match[4].str().c_str());
  if (match[5].str() != version) {
    result.note = absl::StrCat("Go negotiated ", match[5].str(), ", not ", version);
    result.handshakes = 0;
  }
  return result;
}

// "median (low–high)" of `values` with `decimals` decimals; "–" when empty.
std::string MedianAndRange(const std::vector<double>& values, int decimals) {
  if (values.empty()) return "–";
  const auto [low, high] = std::minmax_element(values.begin(), values.end());
  return absl::StrFormat("%.*f (%.*f–%.*f)", decimals, Median(values), decimals, *low, decimals,
                         *high);
}

std::string DescribeOffer(const Offer& offer) {
  if (!offer.captured) return "no ClientHello captured | – | – | –";
  std::vector<std::string> codes;
  bool ecdsa_only = !offer.signature_algorithms.empty();
  for (int code : offer.signature_algorithms) {
    codes.push_back(absl::StrFormat("%04x", code));
    // ecdsa_secp{256,384,521}_sha*, ecdsa_sha1, ecdsa_brainpool* (RFC 8446 §4.2.3, RFC 8734).
    if (code != 0x0403 && code != 0x0503 && code != 0x0603 && code != 0x0203 &&
        (code < 0x081A || code > 0x081C)) {
      ecdsa_only = false;
    }
  }
  std::vector<std::string> shares;
  for (int group : offer.key_shares) shares.push_back(absl::StrFormat("%04x", group));
  return absl::StrCat(
      absl::StrJoin(codes, " "), " | ", ecdsa_only ? "yes" : "**no**", " | ", offer.tls12_suites,
      offer.tls12_non_ecdsa_suites == 0 ? ", all" : ", **",
      offer.tls12_non_ecdsa_suites == 0 ? "" : std::to_string(offer.tls12_non_ecdsa_suites),
      offer.tls12_non_ecdsa_suites == 0 ? " ECDHE_ECDSA" : " not ECDSA**", " | ",
      shares.empty() ? "–" : absl::StrJoin(shares, " "));
}

int Run(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string name = argv[i];
    const char* value = argv[i + 1];
    if (name == "--handshakes") flags.handshakes = std::atoi(value);
    if (name == "--seconds") flags.seconds = std::atoi(value);
    if (name == "--rounds") flags.rounds = std::atoi(value);
    if (name == "--warmup") flags.warmup = std::atoi(value);
    if (name == "--only") flags.only = value;
    if (name == "--tls") flags.tls = value;
    if (name == "--intermediates") flags.intermediates = std::atoi(value);
    if (name == "--extra_names") flags.extra_names = std::atoi(value);
  }
  auto wanted = [&](const std::string& key) { return flags.only.empty() || flags.only == key; };
  char scratch[] = "/tmp/tls_client_candidates_bench_XXXXXX";
  if (mkdtemp(scratch) == nullptr) return 1;
  const std::string directory = scratch;
  setenv("TEST_TMPDIR", scratch, 1);

  // The measured chain, and two that only check the chain bytes: by default a leaf of over 4 KB
  // (150 more DNS names) and a chain of ten intermediates.
  absl::StatusOr<ServerFiles> files = WriteServerPki(directory, "standard", 1, 0);
  absl::StatusOr<ServerFiles> large_leaf =
      WriteServerPki(directory, "large_leaf", 1, flags.extra_names);
  absl::StatusOr<ServerFiles> long_chain =
      WriteServerPki(directory, "long_chain", flags.intermediates, 0);
  if (!files.ok() || !large_leaf.ok() || !long_chain.ok()) {
    std::fprintf(stderr, "PKI: %s %s %s\n", files.status().ToString().c_str(),
                 large_leaf.status().ToString().c_str(), long_chain.status().ToString().c_str());
    return 1;
  }
  std::vector<int> ports;
  for (int i = 0; i < 4; ++i) {
    absl::StatusOr<int> port = PickFreeTcpPort();
    if (!port.ok() || std::count(ports.begin(), ports.end(), *port) > 0) return 1;
    ports.push_back(*port);
  }
  const int port12 = ports[0], port13 = ports[1], port_large = ports[2], port_long = ports[3];
  auto server = [&](int port, const char* protocols, const ServerFiles& pki) {
    return absl::StrCat("  server {\n    listen 127.0.0.1:", port, " ssl;\n    ssl_protocols ",
                        protocols, ";\n    ssl_certificate ", pki.chain_path,
                        ";\n    ssl_certificate_key ", pki.key_path, ";\n    return 204;\n  }\n");
  };
  absl::StatusOr<std::unique_ptr<test_support::NginxTestServer>> nginx =
      test_support::NginxTestServer::Start(server(port12, "TLSv1.2", *files) +
                                               server(port13, "TLSv1.3", *files) +
                                               server(port_large, "TLSv1.2 TLSv1.3", *large_leaf) +
                                               server(port_long, "TLSv1.2 TLSv1.3", *long_chain),
                                           {{"127.0.0.1", port12},
                                            {"127.0.0.1", port13},
                                            {"127.0.0.1", port_large},
                                            {"127.0.0.1", port_long}});
  if (!nginx.ok()) {
    std::fprintf(stderr, "nginx: %s\n", nginx.status().ToString().c_str());
    return 1;
  }

  // The candidates, their offers and their chains checked.
  std::vector<Candidate> candidates;
  const std::vector<
      std::pair<std::string, absl::StatusOr<std::unique_ptr<bench::TlsCandidate>> (*)()>>
      makers = {{"openssl", bench::MakeOpenSslCandidate},
                {"openssl_probe_context", bench::MakeOpenSslProbeContextCandidate},
                {"gnutls", bench::MakeGnuTlsCandidate},
                {"wolfssl", bench::MakeWolfSslCandidate},
                {"mbedtls", bench::MakeMbedTlsCandidate}};
  for (const auto& [key, make] : makers) {
    if (!wanted(key)) continue;
    Candidate candidate;
    candidate.key = key;
    absl::StatusOr<std::unique_ptr<bench::TlsCandidate>> client = make();
    if (!client.ok()) {
      candidate.missing = client.status().ToString();
      candidates.push_back(std::move(candidate));
      continue;
    }
    candidate.client = std::move(*client);
    {
      HelloCapture capture;
      (void)candidate.client->Handshake(capture.port(), kHost);
      candidate.offer = capture.Result();
    }
    // `version` empty: whichever the candidate negotiates.
    auto check = [&](int port, const std::string& version,
                     const std::vector<std::string>& expected) -> std::string {
      if (version == "TLSv1.3" && !candidate.client->SupportsTls13()) return "no TLS 1.3";
      absl::StatusOr<bench::CandidateHandshake> handshake =
          candidate.client->Handshake(port, kHost);
      if (!handshake.ok()) return absl::StrCat("**", handshake.status().ToString(), "**");
      if (!version.empty() && handshake->version != version) {
        return absl::StrCat("negotiated ", handshake->version);
      }
      if (handshake->chain_der != expected) {
        return absl::StrCat("**", handshake->chain_der.size(), " of ", expected.size(),
                            " certificates, not the bytes sent**");
      }
      return absl::StrCat("yes (", version.empty() ? handshake->version : handshake->cipher, ")");
    };
    candidate.chain12 = check(port12, "TLSv1.2", files->chain_der);
    candidate.chain13 = check(port13, "TLSv1.3", files->chain_der);
    candidate.large_leaf = check(port_large, "", large_leaf->chain_der);
    candidate.long_chain = check(port_long, "", long_chain->chain_der);
    candidates.push_back(std::move(candidate));
  }

  const bool want_engine = wanted("engine");
  const bool want_go = wanted("go");
  std::string go_binary;
  std::string go_missing;
  Offer go_offer;
  if (want_go) {
    go_binary = BuildGoClient(directory, argv[0], &go_missing);
    if (!go_binary.empty()) {
      HelloCapture capture;
      absl::StatusOr<std::unique_ptr<ChildProcess>> child =
          StartGo(go_binary, directory + "/go_hello.txt", capture.port(), flags);
      if (child.ok()) (*child)->WaitForExit(absl::Seconds(30));
      go_offer = capture.Result();
    }
  }
  std::unique_ptr<probe_agent::TlsEngine> engine;
  if (want_engine) {
    // The engine on OpenSSL, as this comparison measured it (probe_cpu_bench has both).
    probe_agent::TlsEngineOptions options;
    options.library = probe_agent::TlsLibrary::kOpenSsl;
    absl::StatusOr<std::unique_ptr<probe_agent::TlsEngine>> created =
        probe_agent::TlsEngine::Create(options);
    if (!created.ok()) {
      std::fprintf(stderr, "engine: %s\n", created.status().ToString().c_str());
      return 1;
    }
    engine = std::move(*created);
  }

  std::printf(
      "What each client offers and obtains (ClientHello to a local listener; one handshake per "
      "version with nginx, and one with each of two more chains, compared byte for byte with the "
      "certificates nginx sends)\n\n"
      "| client | signature_algorithms offered | ECDSA only | TLS 1.2 suites offered | "
      "TLS 1.3 key shares | TLS 1.2: chain as sent | TLS 1.3: chain as sent | %zu-byte leaf | "
      "%zu certificates |\n|---|---|---|---|---|---|---|---|---|\n",
      large_leaf->chain_der[0].size(), long_chain->chain_der.size());
  for (const Candidate& candidate : candidates) {
    if (!candidate.missing.empty()) {
      std::printf("| %s | not available: %s | | | | | | | |\n", candidate.key.c_str(),
                  candidate.missing.c_str());
      continue;
    }
    std::printf("| %s | %s | %s | %s | %s | %s |\n", candidate.client->Name().c_str(),
                DescribeOffer(candidate.offer).c_str(), candidate.chain12.c_str(),
                candidate.chain13.c_str(), candidate.large_leaf.c_str(),
                candidate.long_chain.c_str());
  }
  if (!go_binary.empty()) {
    std::printf("| Go crypto/tls (reference) | %s | not compared | not compared | – | – |\n",
                DescribeOffer(go_offer).c_str());
  }

  struct Column {
    std::string name;
    std::vector<Measurement> tls12, tls13;
  };
  std::vector<Column> columns;
  for (const Candidate& candidate : candidates) {
    if (candidate.client != nullptr) columns.push_back({candidate.client->Name()});
  }
  if (engine != nullptr) columns.push_back({"probe engine (OpenSSL 3.0, P-256 key-typed)"});
  const size_t go_column = columns.size();
  if (!go_binary.empty()) columns.push_back({"Go crypto/tls"});

  std::printf(
      "\nnginx (1 worker) P-256 leaf + intermediate, no session cache or tickets; %d rounds, "
      "each client up to %d handshakes in %d s per round after %d warm-up\n\n"
      "| round | TLS | client | handshakes | failures | wall s | client CPU s | "
      "CPU µs/handshake |\n|--:|---|---|--:|--:|--:|--:|--:|\n",
      flags.rounds, flags.handshakes, flags.seconds, flags.warmup);
  auto row = [](int round, const std::string& version, const std::string& client,
                const Measurement& m) {
    if (!m.note.empty()) {
      std::fprintf(stderr, "%s %s: %s\n", version.c_str(), client.c_str(), m.note.c_str());
    }
    std::printf("| %d | %s | %s | %d | %d | %.2f | %.3f | %.1f |\n", round, version.c_str(),
                client.c_str(), m.handshakes, m.failures, m.wall_seconds, m.cpu_seconds,
                m.MicrosPerHandshake());
    std::fflush(stdout);
  };
  std::vector<std::pair<std::string, int>> versions;
  if (flags.tls.empty() || flags.tls == "1.2") versions.push_back({"TLSv1.2", port12});
  if (flags.tls.empty() || flags.tls == "1.3") versions.push_back({"TLSv1.3", port13});
  for (int round = 1; round <= flags.rounds; ++round) {
    for (const auto& [version, port] : versions) {
      size_t index = 0;
      auto record = [&](const Measurement& m) {
        Column& column = columns[index++];
        (version == "TLSv1.2" ? column.tls12 : column.tls13).push_back(m);
        row(round, version, column.name, m);
      };
      for (Candidate& candidate : candidates) {
        if (candidate.client == nullptr) continue;
        if (version == "TLSv1.3" && !candidate.client->SupportsTls13()) {
          ++index;
          continue;
        }
        record(MeasureCandidate(*candidate.client, port, version, flags, files->chain_der));
      }
      if (engine != nullptr) record(MeasureEngine(*engine, port, version, flags));
      if (!go_binary.empty()) record(MeasureGo(go_binary, directory, port, version, flags));
    }
  }
  if (!go_missing.empty()) std::printf("\nGo column left out: %s\n", go_missing.c_str());

  // Per client and version: the median and range of µs/handshake over the rounds, and of the
  // ratio to Go's µs/handshake of the same round.
  std::printf(
      "\n| client | TLS 1.2 µs (median, range) | TLS 1.2 / Go (median of rounds, range) | "
      "TLS 1.3 µs | TLS 1.3 / Go |\n|---|--:|--:|--:|--:|\n");
  int failed = 0;
  for (const Column& column : columns) {
    std::string cells;
    for (const std::vector<Measurement>* runs : {&column.tls12, &column.tls13}) {
      const std::vector<Measurement>* go =
          go_column < columns.size()
              ? (runs == &column.tls12 ? &columns[go_column].tls12 : &columns[go_column].tls13)
              : nullptr;
      std::vector<double> micros, ratios;
      for (size_t i = 0; i < runs->size(); ++i) {
        const double us = (*runs)[i].MicrosPerHandshake();
        failed += (*runs)[i].failures + (us == 0 ? 1 : 0);
        if (us <= 0) continue;
        micros.push_back(us);
        if (go != nullptr && i < go->size() && (*go)[i].MicrosPerHandshake() > 0) {
          ratios.push_back(us / (*go)[i].MicrosPerHandshake());
        }
      }
      absl::StrAppend(&cells, " | ", MedianAndRange(micros, 0), " | ", MedianAndRange(ratios, 2));
    }
    std::printf("| %s%s |\n", column.name.c_str(), cells.c_str());
  }
  engine.reset();
  nginx->reset();
  return failed == 0 ? 0 : 2;
}

}  // namespace
}  // namespace mecai

int main(int argc, char** argv) { return mecai::Run(argc, argv); }
