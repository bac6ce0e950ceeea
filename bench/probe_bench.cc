// Benchmarks of the probe agent's TLS engine (probe_agent/tls_engine.h); see docs/PERFORMANCE.md.
//
// (a) Client CPU per handshake: the engine, one handshake at a time, against `openssl s_time -new`
//     on the same local nginx in the same run (both full TLS 1.3 handshakes, X25519, no
//     resumption).
// (b) Scale: 1,000 probes started at once against a target that holds every connection one second
//     before it answers the ClientHello; wall time until all completed and the peak RSS of this
//     process (the engine with the agent's default options).
//
// bazel build -c opt //bench:probe_bench && bazel-bin/bench/probe_bench [--seconds 10]
//     [--probes 1000]
#include <openssl/ssl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <regex>  // NOLINT(build/c++11): parsing s_time's summary line.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/delayed_tls_target.h"
#include "common/base/files.h"
#include "common/crypto/openssl_types.h"
#include "common/crypto/pem.h"
#include "common/process/child_process.h"
#include "probe_agent/testing/test_servers.h"
#include "probe_agent/tls_engine.h"

namespace mecai {
namespace {

double CpuSeconds(const rusage& usage) {
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec +
         usage.ru_stime.tv_usec / 1e6;
}

double SelfCpuSeconds() {
  rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return CpuSeconds(usage);
}

long PeakRssKilobytes() {  // NOLINT(runtime/int): rusage's type.
  rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

long CurrentRssKilobytes() {  // NOLINT(runtime/int)
  absl::StatusOr<std::string> status = ReadFile("/proc/self/status");
  if (!status.ok()) return -1;
  const size_t at = status->find("VmRSS:");
  return at == std::string::npos ? -1 : std::atol(status->c_str() + at + 6);
}

probe_agent::FetchRequest Request(int port, const std::string& sni) {
  probe_agent::FetchRequest request;
  request.address = "127.0.0.1";
  request.port = static_cast<uint32_t>(port);
  request.sni = sni;
  request.connect_timeout = absl::Seconds(3);
  request.handshake_timeout = absl::Seconds(5);
  return request;
}

int Run(int argc, char** argv) {
  int seconds = 10;
  int probes = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--probes") == 0) probes = std::atoi(argv[i + 1]);
  }
  // (b)'s target, forked first (no threads exist yet).
  absl::StatusOr<DelayedTargetSetup> setup =
      SetUpDelayedTarget("probe_bench", "bench.example.test");
  if (!setup.ok()) {
    std::fprintf(stderr, "%s\n", setup.status().ToString().c_str());
    return 1;
  }
  const std::string& directory = setup->directory;
  const test_support::TestCertificate* certificate = &setup->certificate;
  const DelayedTlsTarget* target = &setup->target;
  const int delayed_port = target->port;

  probe_agent::TlsEngineOptions options;  // The agent's defaults: one loop per core.
  options.max_in_flight_per_target_address = probes;
  absl::StatusOr<std::unique_ptr<probe_agent::TlsEngine>> engine =
      probe_agent::TlsEngine::Create(options);
  if (!engine.ok()) {
    std::fprintf(stderr, "engine: %s\n", engine.status().ToString().c_str());
    return 1;
  }

  // (b) 1,000 probes at once.
  const long rss_before = CurrentRssKilobytes();  // NOLINT(runtime/int)
  const EngineBurstResult burst =
      RunEngineBurst(**engine, Request(delayed_port, "bench.example.test"), probes);
  const long peak_b = PeakRssKilobytes();  // NOLINT(runtime/int)
  StopDelayedTlsTarget(*target);
  const std::vector<double>& latencies = burst.completion_seconds;
  std::printf("(b) %d probes at once, target holds each connection 1 s, %d event loop(s)\n", probes,
              (*engine)->event_loop_threads());
  std::printf(
      "    started all in %.3f s; completed %d, PROBE_OK %d; first %.3f s, median %.3f s, "
      "last %.3f s\n",
      burst.started_seconds, burst.completed, burst.ok, latencies.empty() ? 0 : latencies.front(),
      latencies.empty() ? 0 : latencies[latencies.size() / 2], burst.all_done_seconds);
  std::printf("    RSS before %ld kB, peak RSS of this process %ld kB (%.1f MB)\n", rss_before,
              peak_b, peak_b / 1024.0);

  // (a) CPU per handshake against nginx, engine vs openssl s_time -new.
  absl::StatusOr<int> nginx_port = PickFreeTcpPort();
  if (!nginx_port.ok()) return 1;
  const std::string servers =
      absl::StrCat("  server {\n    listen 127.0.0.1:", *nginx_port, " ssl;\n    ssl_certificate ",
                   certificate->certificate_path, ";\n    ssl_certificate_key ",
                   certificate->key_path, ";\n    return 204;\n  }\n");
  absl::StatusOr<std::unique_ptr<test_support::NginxTestServer>> nginx =
      test_support::NginxTestServer::Start(servers, {{"127.0.0.1", *nginx_port}});
  if (!nginx.ok()) {
    std::fprintf(stderr, "nginx: %s\n", nginx.status().ToString().c_str());
    return 1;
  }

  const double engine_cpu_start = SelfCpuSeconds();
  const absl::Time engine_start = absl::Now();
  int handshakes = 0;
  int failures = 0;
  while (absl::Now() - engine_start < absl::Seconds(seconds)) {
    const v1::AddressObservation observation =
        (*engine)->Fetch(Request(*nginx_port, "bench.example.test"));
    if (observation.outcome() == v1::PROBE_OK) {
      ++handshakes;
    } else {
      ++failures;
    }
  }
  const double engine_wall = absl::ToDoubleSeconds(absl::Now() - engine_start);
  const double engine_cpu = SelfCpuSeconds() - engine_cpu_start;

  rusage children_before;
  getrusage(RUSAGE_CHILDREN, &children_before);
  const std::string s_time_output = directory + "/s_time.txt";
  absl::StatusOr<std::unique_ptr<ChildProcess>> s_time =
      ChildProcess::Start({"openssl", "s_time", "-connect", absl::StrCat("127.0.0.1:", *nginx_port),
                           "-new", "-time", std::to_string(seconds)},
                          s_time_output);
  if (!s_time.ok()) return 1;
  (*s_time)->WaitForExit(absl::Seconds(seconds + 30));
  rusage children_after;
  getrusage(RUSAGE_CHILDREN, &children_after);
  const double s_time_cpu = CpuSeconds(children_after) - CpuSeconds(children_before);
  const std::string text = ReadFile(s_time_output).value_or("");
  std::smatch match;
  int s_time_handshakes = 0;
  if (std::regex_search(text, match, std::regex("([0-9]+) connections in ([0-9.]+)s"))) {
    s_time_handshakes = std::atoi(match[1].str().c_str());
  }
  const double engine_per = handshakes > 0 ? engine_cpu / handshakes * 1e6 : 0;
  const double s_time_per = s_time_handshakes > 0 ? s_time_cpu / s_time_handshakes * 1e6 : 0;
  std::printf("(a) sequential full handshakes against local nginx, %d s each\n", seconds);
  std::printf("    | client | handshakes | handshakes/s | client CPU s | CPU us/handshake |\n");
  std::printf("    | probe engine | %d | %.0f | %.3f | %.1f |\n", handshakes,
              handshakes / engine_wall, engine_cpu, engine_per);
  std::printf("    | openssl s_time -new | %d | %.0f | %.3f | %.1f |\n", s_time_handshakes,
              s_time_handshakes / static_cast<double>(seconds), s_time_cpu, s_time_per);
  std::printf("    ratio engine/s_time: %.2f (engine failures: %d)\n",
              s_time_per > 0 ? engine_per / s_time_per : 0, failures);
  std::printf("peak RSS of this process at exit: %ld kB\n", PeakRssKilobytes());
  return 0;
}

}  // namespace
}  // namespace mecai

int main(int argc, char** argv) { return mecai::Run(argc, argv); }
