// Client CPU per full TLS handshake: the probe agent's TLS engine (probe_agent/tls_engine.h) as the
// agent uses it, on OpenSSL and on GnuTLS (TlsEngineOptions::library), against Go's crypto/tls
// (bench/go_tls_client.go) and `openssl s_time -new`, all against one local nginx in the same run;
// see docs/PERFORMANCE.md, "Probe engine: client CPU per full handshake" and "Probe engine on
// GnuTLS".
//
// nginx serves a P-256 leaf and its intermediate (root → intermediate → leaf, common/pki) on two
// ports, one TLS 1.2 only (RFC 5246) and one TLS 1.3 only (RFC 8446), with no session cache and no
// tickets, so every handshake is full. Each client offers both versions with its own defaults;
// the port decides the version. Every round measures, for each version, the engine on OpenSSL, the
// engine on GnuTLS, then Go, then s_time, each doing up to --handshakes sequential handshakes
// within --seconds (s_time: --seconds) after a warm-up; a client's CPU is its own process's
// getrusage(2) user+system time over the measured handshakes (the engine: this process, its event
// loops included; Go: its own RUSAGE_SELF around its loop; s_time: RUSAGE_CHILDREN around it, the
// whole process).
//
// bazel build -c opt //bench:probe_cpu_bench && bazel-bin/bench/probe_cpu_bench
//     [--handshakes 2000] [--seconds 6] [--rounds 3] [--only engine|gnutls|go|s_time]
//     [--tls 1.2|1.3]
//     [--groups X25519:P-256]  (the engine's groups; default: the agent's)
// Go: Debian's golang-go (apt-get install -y golang-go); without it the Go column is left out.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <regex>  // NOLINT(build/c++11): parsing the clients' summary lines.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/bench_stats.h"
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

double CpuSeconds(const rusage& usage) {
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec +
         usage.ru_stime.tv_usec / 1e6;
}

double CpuSecondsOf(int who) {
  rusage usage;
  getrusage(who, &usage);
  return CpuSeconds(usage);
}

struct Flags {
  int handshakes = 2000;
  int seconds = 6;
  int rounds = 3;
  int warmup = 20;
  std::string only;    // Empty: every client; "engine": the engine on OpenSSL; "gnutls": on GnuTLS.
  std::string tls;     // Empty: both versions.
  std::string groups;  // Empty: the agent's default (TlsClientOptions::groups).
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

// The files nginx serves: a P-256 leaf for kHost issued by a P-256 intermediate under a P-256
// root, the leaf first in the certificate file and the intermediate after it.
struct ServerFiles {
  std::string chain_path;
  std::string key_path;
};

absl::StatusOr<ServerFiles> WriteServerPki(const std::string& directory) {
  const absl::Time now = absl::Now();
  CertificateSpec root_spec;
  root_spec.common_name = "Bench Root";
  root_spec.is_certificate_authority = true;
  root_spec.not_before = now - absl::Hours(1);
  root_spec.not_after = now + absl::Hours(24 * 30);
  CertificateSpec intermediate_spec = root_spec;
  intermediate_spec.common_name = "Bench Intermediate";
  intermediate_spec.path_length = 0;
  CertificateSpec leaf_spec;
  leaf_spec.common_name = kHost;
  leaf_spec.dns_names = {kHost};
  leaf_spec.extended_key_usages = {"serverAuth"};
  leaf_spec.not_before = root_spec.not_before;
  leaf_spec.not_after = now + absl::Hours(24 * 7);
  absl::StatusOr<EvpPkeyPtr> root_key = GenerateEcKey();
  absl::StatusOr<EvpPkeyPtr> intermediate_key = GenerateEcKey();
  absl::StatusOr<EvpPkeyPtr> leaf_key = GenerateEcKey();
  if (!root_key.ok() || !intermediate_key.ok() || !leaf_key.ok()) {
    return absl::InternalError("cannot generate the P-256 keys");
  }
  absl::StatusOr<X509Ptr> root =
      IssueCertificate(root_spec, root_key->get(), nullptr, root_key->get());
  if (!root.ok()) return root.status();
  absl::StatusOr<X509Ptr> intermediate =
      IssueCertificate(intermediate_spec, intermediate_key->get(), root->get(), root_key->get());
  if (!intermediate.ok()) return intermediate.status();
  absl::StatusOr<X509Ptr> leaf =
      IssueCertificate(leaf_spec, leaf_key->get(), intermediate->get(), intermediate_key->get());
  if (!leaf.ok()) return leaf.status();
  ServerFiles files;
  files.chain_path = directory + "/chain.pem";
  files.key_path = directory + "/leaf.key.pem";
  absl::Status written = WriteFileAtomically(
      files.chain_path, CertificateToPem(leaf->get()) + CertificateToPem(intermediate->get()));
  if (!written.ok()) return written;
  written = WriteFileAtomically(files.key_path, PrivateKeyToPem(leaf_key->get()));
  if (!written.ok()) return written;
  return files;
}

probe_agent::FetchRequest Request(int port) {
  probe_agent::FetchRequest request;
  request.address = "127.0.0.1";
  request.port = static_cast<uint32_t>(port);
  request.sni = kHost;
  return request;
}

// (a) The engine as the agent uses it: TlsEngine::Fetch, the chain recorded and hashed. A
// handshake counts when it is PROBE_OK with both certificates and the expected version.
Measurement MeasureEngine(probe_agent::TlsEngine& engine, int port, const std::string& version,
                          const Flags& flags) {
  Measurement result;
  auto ok = [&](const v1::AddressObservation& observation) {
    return observation.outcome() == v1::PROBE_OK && observation.certificate_chain_der_size() == 2 &&
           observation.tls_version() == version;
  };
  for (int i = 0; i < flags.warmup; ++i) {
    const v1::AddressObservation observation = engine.Fetch(Request(port));
    if (!ok(observation)) {
      result.note = absl::StrCat("warm-up fetch: ", observation.error(), " (",
                                 observation.tls_version(), ")");
      return result;
    }
  }
  const double cpu_start = CpuSecondsOf(RUSAGE_SELF);
  const absl::Time start = absl::Now();
  const absl::Duration limit = absl::Seconds(flags.seconds);
  while (result.handshakes + result.failures < flags.handshakes && absl::Now() - start < limit) {
    if (ok(engine.Fetch(Request(port)))) {
      ++result.handshakes;
    } else {
      ++result.failures;
    }
  }
  result.wall_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  result.cpu_seconds = CpuSecondsOf(RUSAGE_SELF) - cpu_start;
  return result;
}

// Builds bench/go_tls_client.go into `directory`; empty when Go is not installed or the source is
// not found.
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
    *why = "bench/go_tls_client.go not found (run through bazel run or bench/run_all)";
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

// (b) Go's crypto/tls, the same handshakes in its own process; its CPU as it reports it.
Measurement MeasureGo(const std::string& binary, const std::string& directory, int port,
                      const std::string& version, const Flags& flags) {
  Measurement result;
  const std::string output = absl::StrCat(directory, "/go_", port, ".txt");
  unlink(output.c_str());
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Start({binary, "-address", absl::StrCat("127.0.0.1:", port), "-sni", kHost,
                           "-handshakes", std::to_string(flags.handshakes), "-seconds",
                           std::to_string(flags.seconds), "-warmup", std::to_string(flags.warmup)},
                          output);
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

// (c) `openssl s_time -new` for --seconds; its CPU is RUSAGE_CHILDREN around it.
Measurement MeasureSTime(const std::string& directory, int port, const Flags& flags) {
  Measurement result;
  const std::string output = absl::StrCat(directory, "/s_time_", port, ".txt");
  unlink(output.c_str());
  const double cpu_start = CpuSecondsOf(RUSAGE_CHILDREN);
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Start({"openssl", "s_time", "-connect", absl::StrCat("127.0.0.1:", port),
                           "-new", "-time", std::to_string(flags.seconds)},
                          output);
  if (!child.ok() || !(*child)->WaitForExit(absl::Seconds(flags.seconds + 60))) {
    result.note = "openssl s_time failed";
    return result;
  }
  result.cpu_seconds = CpuSecondsOf(RUSAGE_CHILDREN) - cpu_start;
  const std::string text = ReadFile(output).value_or("");
  std::smatch match;
  if (std::regex_search(text, match, std::regex("([0-9]+) connections in ([0-9.]+)s"))) {
    result.handshakes = std::atoi(match[1].str().c_str());
    result.wall_seconds = std::atof(match[2].str().c_str());
  } else {
    result.note = absl::StrCat("unexpected s_time output: ", TailOfFile(output, 300));
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
    if (name == "--groups") flags.groups = value;
  }
  char scratch[] = "/tmp/probe_cpu_bench_XXXXXX";
  if (mkdtemp(scratch) == nullptr) return 1;
  const std::string directory = scratch;
  setenv("TEST_TMPDIR", scratch, 1);

  absl::StatusOr<ServerFiles> files = WriteServerPki(directory);
  if (!files.ok()) {
    std::fprintf(stderr, "PKI: %s\n", files.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<int> port12 = PickFreeTcpPort();
  absl::StatusOr<int> port13 = PickFreeTcpPort();
  if (!port12.ok() || !port13.ok() || *port12 == *port13) return 1;
  auto server = [&](int port, const char* protocols) {
    return absl::StrCat("  server {\n    listen 127.0.0.1:", port, " ssl;\n    ssl_protocols ",
                        protocols, ";\n    ssl_certificate ", files->chain_path,
                        ";\n    ssl_certificate_key ", files->key_path,
                        ";\n    return 204;\n  }\n");
  };
  absl::StatusOr<std::unique_ptr<test_support::NginxTestServer>> nginx =
      test_support::NginxTestServer::Start(server(*port12, "TLSv1.2") + server(*port13, "TLSv1.3"),
                                           {{"127.0.0.1", *port12}, {"127.0.0.1", *port13}});
  if (!nginx.ok()) {
    std::fprintf(stderr, "nginx: %s\n", nginx.status().ToString().c_str());
    return 1;
  }

  const bool want_engine = flags.only.empty() || flags.only == "engine";
  const bool want_gnutls = flags.only.empty() || flags.only == "gnutls";
  const bool want_go = flags.only.empty() || flags.only == "go";
  const bool want_s_time = flags.only.empty() || flags.only == "s_time";
  std::string go_binary;
  std::string go_missing;
  if (want_go) go_binary = BuildGoClient(directory, argv[0], &go_missing);

  // The agent's defaults (ProbeAgentConfig): one event loop per core, TLS 1.2–1.3.
  probe_agent::TlsEngineOptions options;
  if (!flags.groups.empty()) options.tls.groups = flags.groups;
  options.library = probe_agent::TlsLibrary::kOpenSsl;
  absl::StatusOr<std::unique_ptr<probe_agent::TlsEngine>> engine =
      probe_agent::TlsEngine::Create(options);
  options.library = probe_agent::TlsLibrary::kGnuTls;
  absl::StatusOr<std::unique_ptr<probe_agent::TlsEngine>> gnutls_engine =
      probe_agent::TlsEngine::Create(options);
  if (!engine.ok() || !gnutls_engine.ok()) {
    std::fprintf(stderr, "engine: %s / %s\n", engine.status().ToString().c_str(),
                 gnutls_engine.status().ToString().c_str());
    return 1;
  }

  struct Version {
    std::string name;
    int port;
    std::vector<Measurement> engine, gnutls, go, s_time;
  };
  std::vector<Version> versions;
  if (flags.tls.empty() || flags.tls == "1.2") versions.push_back({"TLSv1.2", *port12});
  if (flags.tls.empty() || flags.tls == "1.3") versions.push_back({"TLSv1.3", *port13});

  std::printf(
      "nginx (1 worker) P-256 leaf + intermediate, no session cache or tickets; %d rounds, "
      "each client up to %d handshakes in %d s per round after %d warm-up\n\n",
      flags.rounds, flags.handshakes, flags.seconds, flags.warmup);
  std::printf(
      "| round | TLS | client | handshakes | failures | wall s | client CPU s | "
      "CPU µs/handshake |\n|--:|---|---|--:|--:|--:|--:|--:|\n");
  auto row = [](int round, const std::string& version, const char* client, const Measurement& m) {
    if (!m.note.empty())
      std::fprintf(stderr, "%s %s: %s\n", version.c_str(), client, m.note.c_str());
    std::printf("| %d | %s | %s | %d | %d | %.2f | %.3f | %.1f |\n", round, version.c_str(), client,
                m.handshakes, m.failures, m.wall_seconds, m.cpu_seconds, m.MicrosPerHandshake());
    std::fflush(stdout);
  };
  for (int round = 1; round <= flags.rounds; ++round) {
    for (Version& version : versions) {
      if (want_engine) {
        version.engine.push_back(MeasureEngine(**engine, version.port, version.name, flags));
        row(round, version.name, "probe engine, OpenSSL", version.engine.back());
      }
      if (want_gnutls) {
        version.gnutls.push_back(MeasureEngine(**gnutls_engine, version.port, version.name, flags));
        row(round, version.name, "probe engine, GnuTLS", version.gnutls.back());
      }
      if (want_go && !go_binary.empty()) {
        version.go.push_back(MeasureGo(go_binary, directory, version.port, version.name, flags));
        row(round, version.name, "Go crypto/tls", version.go.back());
      }
      if (want_s_time) {
        version.s_time.push_back(MeasureSTime(directory, version.port, flags));
        row(round, version.name, "`openssl s_time -new`", version.s_time.back());
      }
    }
  }
  if (!go_missing.empty()) std::printf("\nGo column left out: %s\n", go_missing.c_str());

  // Per version: medians and spreads of µs/handshake, and the per-round ratios' median.
  std::printf(
      "\n| TLS | engine, OpenSSL µs (median, range) | engine, GnuTLS µs | Go crypto/tls µs | "
      "`s_time -new` µs | OpenSSL engine/Go (median of rounds, range) | GnuTLS engine/Go | "
      "GnuTLS/OpenSSL engine |\n|---|--:|--:|--:|--:|--:|--:|--:|\n");
  int failed = 0;
  auto micros = [](const std::vector<Measurement>& measurements) {
    std::vector<double> values;
    for (const Measurement& m : measurements) {
      if (m.MicrosPerHandshake() > 0) values.push_back(m.MicrosPerHandshake());
    }
    return values;
  };
  // Per round, a / b where both were measured.
  auto ratios = [](const std::vector<Measurement>& a, const std::vector<Measurement>& b) {
    std::vector<double> values;
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
      if (a[i].MicrosPerHandshake() > 0 && b[i].MicrosPerHandshake() > 0) {
        values.push_back(a[i].MicrosPerHandshake() / b[i].MicrosPerHandshake());
      }
    }
    return values;
  };
  for (const Version& version : versions) {
    for (const std::vector<Measurement>* engine_rounds : {&version.engine, &version.gnutls}) {
      for (const Measurement& m : *engine_rounds) {
        failed += m.failures + (m.MicrosPerHandshake() == 0 ? 1 : 0);
      }
    }
    std::printf("| %s | %s | %s | %s | %s | %s | %s | %s |\n", version.name.c_str(),
                MedianAndRange(micros(version.engine), 0).c_str(),
                MedianAndRange(micros(version.gnutls), 0).c_str(),
                MedianAndRange(micros(version.go), 0).c_str(),
                MedianAndRange(micros(version.s_time), 0).c_str(),
                MedianAndRange(ratios(version.engine, version.go), 2).c_str(),
                MedianAndRange(ratios(version.gnutls, version.go), 2).c_str(),
                MedianAndRange(ratios(version.gnutls, version.engine), 2).c_str());
  }
  engine->reset();
  gnutls_engine->reset();
  nginx->reset();
  return failed == 0 ? 0 : 2;
}

}  // namespace
}  // namespace mecai

int main(int argc, char** argv) { return mecai::Run(argc, argv); }
