// VRs in flight at once (docs/PERFORMANCE.md "VRs in flight"): one LocalCluster (real coordinator,
// signer on SoftHSM2, three probe agents) and the delayed TLS target, which holds every connection
// 1 s before its handshake. First the sequential baseline: VRs one after another against the
// cluster's nginx target, the coordinator's CPU per VR. Then the burst: `--vrs` VRs sent at once,
// each for a hostname of its own on the delayed target; the time until all are issued, the
// coordinator's CPU per VR (and its ratio to the baseline's), and its peak resident memory
// (VmHWM, proc(5)).
//
//   bazel build -c opt //bench:vouch_concurrency_bench //bench:delayed_tls_target_server
//   bazel build -c opt //coordinator //signer //probe_agent
//   bazel-bin/bench/vouch_concurrency_bench --vrs 1000 --baseline 200
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/bench_stats.h"
#include "cluster/local_cluster.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/evidence/vouching_request.h"
#include "common/process/child_process.h"
#include "common/rpc/grpc_channel.h"
#include "proto/mecai/v1/vouching.grpc.pb.h"

namespace mecai {
namespace {

struct Options {
  int vrs = 1000;
  int baseline = 200;
};

// The machine's busy CPU seconds since boot, all cores, every process (/proc/stat "cpu": all but
// idle and iowait), or 0.
double MachineBusySeconds() {
  auto stat = ReadFile("/proc/stat");
  if (!stat.ok()) return 0;
  std::vector<std::string> fields =
      absl::StrSplit(stat->substr(0, stat->find('\n')), ' ', absl::SkipEmpty());
  double busy = 0;
  for (size_t i = 1; i < fields.size() && i <= 8; ++i) {
    if (i == 4 || i == 5) continue;  // idle, iowait
    double ticks = 0;
    if (absl::SimpleAtod(fields[i], &ticks)) busy += ticks;
  }
  return busy / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// A field of /proc/<pid>/status in MB ("VmHWM", "VmRSS"), or 0.
double StatusMegabytes(pid_t pid, const std::string& field) {
  auto status = ReadFile(absl::StrCat("/proc/", pid, "/status"));
  if (!status.ok()) return 0;
  for (absl::string_view line : absl::StrSplit(*status, '\n')) {
    if (!absl::ConsumePrefix(&line, field + ":")) continue;
    line = absl::StripAsciiWhitespace(line);
    absl::ConsumeSuffix(&line, " kB");
    double kilobytes = 0;
    if (absl::SimpleAtod(line, &kilobytes)) return kilobytes / 1024;
  }
  return 0;
}

// The directory of this executable.
std::string OwnDirectory() {
  char path[4096];
  const ssize_t length = readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (length <= 0) return ".";
  std::string own(path, static_cast<size_t>(length));
  return own.substr(0, own.rfind('/'));
}

std::string HostnameOf(int i) { return absl::StrCat("vr-", i, ".mecai.test"); }

absl::StatusOr<std::string> SignedVr(const std::string& chain_file, const std::string& key_file,
                                     const std::string& hostname, int port, int nonce) {
  ASSIGN_OR_RETURN(std::vector<std::string> chain, LoadPemCertificatesAsDer(chain_file));
  ASSIGN_OR_RETURN(EvpPkeyPtr key, LoadPemPrivateKey(key_file));
  ASSIGN_OR_RETURN(auto signing_key, InMemorySigningKey::Create(std::move(key)));
  v1::VouchingRequestBody body;
  body.set_hostname(hostname);
  body.set_port(static_cast<uint32_t>(port));
  body.set_trust_list(LocalCluster::kTrustList);
  body.set_timestamp_unix_seconds(absl::ToUnixSeconds(absl::Now()));
  body.set_nonce(absl::StrCat("concurrency-bench-", nonce));
  return BuildVouchingRequest(body, chain, *signing_key);
}

// Sends every request at once on the callback API and waits (at most 10 minutes) for all.
// `seconds_to_answer`, when given, receives each call's time from the first send to its answer.
int IssuedAtOnce(v1::VouchingService::Stub& stub, const std::vector<std::string>& requests,
                 std::vector<double>* seconds_to_answer = nullptr) {
  struct Call {
    grpc::ClientContext context;
    v1::VouchRequest request;
    v1::VouchResponse response;
    grpc::Status status;
    bool answered = false;
    absl::Time answered_at;
  };
  std::vector<Call> calls(requests.size());
  absl::Mutex mutex;
  size_t answered = 0;
  const absl::Time first_sent = absl::Now();
  for (size_t i = 0; i < requests.size(); ++i) {
    Call& call = calls[i];
    call.request.set_vouching_request(requests[i]);
    call.context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(5)));
    stub.async()->Vouch(&call.context, &call.request, &call.response,
                        [&mutex, &answered, &call](grpc::Status status) {
                          absl::MutexLock lock(&mutex);
                          call.status = std::move(status);
                          call.answered = true;
                          call.answered_at = absl::Now();
                          ++answered;
                        });
  }
  absl::MutexLock lock(&mutex);
  auto all = [&] { return answered == calls.size(); };
  mutex.AwaitWithTimeout(absl::Condition(&all), absl::Minutes(10));
  int issued = 0;
  for (const Call& call : calls) {
    if (seconds_to_answer != nullptr && call.answered) {
      seconds_to_answer->push_back(absl::ToDoubleSeconds(call.answered_at - first_sent));
    }
    if (call.status.ok() && call.response.has_vouching_data()) {
      ++issued;
    } else {
      std::fprintf(stderr, "not issued: %s %s\n", call.status.error_message().c_str(),
                   call.response.refusal().explanation().c_str());
    }
  }
  return issued;
}

int Run(const Options& options) {
  char pattern[] = "/var/tmp/mecai-concurrency-bench-XXXXXX";
  if (mkdtemp(pattern) == nullptr) return 1;
  LocalClusterOptions cluster_options;
  cluster_options.workdir = pattern;
  cluster_options.perspectives = 3;
  cluster_options.verbose = false;
  cluster_options.max_probe_rounds_per_hostname = 1000000;
  cluster_options.decision_reuse = false;
  for (int i = 0; i < options.vrs; ++i) cluster_options.extra_hosts[HostnameOf(i)] = {"127.0.0.1"};
  cluster_options.agent_overrides.set_max_in_flight_probes(4096);
  cluster_options.agent_overrides.set_max_in_flight_per_target_address(4096);
  cluster_options.agent_overrides.set_max_queued_per_target_address(4096);
  // 3,000 handshakes released at once on a shared machine exceed the agents' default connect and
  // handshake timeouts (3 s, 5 s); the benchmark measures the coordinator, so nothing times out.
  cluster_options.agent_overrides.set_connect_timeout_milliseconds(60000);
  cluster_options.agent_overrides.set_handshake_timeout_milliseconds(60000);
  cluster_options.coordinator_overrides.set_probe_timeout_milliseconds(120000);
  LocalCluster cluster(cluster_options);
  absl::Status started = cluster.Start();
  if (started.ok()) started = cluster.IssueServerCertificate("*.mecai.test", "wildcard");
  if (!started.ok()) {
    std::fprintf(stderr, "cluster: %s\n", std::string(started.message()).c_str());
    return 1;
  }
  const std::string port_file = cluster.Path("run/delayed-target.port");
  auto target = ChildProcess::Start(
      {OwnDirectory() + "/delayed_tls_target_server", "--certificate_chain",
       cluster.Path("pki/wildcard.pem"), "--key", cluster.Path("pki/wildcard.key"),
       "--delay_milliseconds", "1000", "--port_file", port_file},
      cluster.Path("logs/delayed-target.log"));
  if (!target.ok()) {
    std::fprintf(stderr, "delayed target: %s\n", std::string(target.status().message()).c_str());
    return 1;
  }
  int target_port = 0;
  for (int i = 0; i < 200 && target_port == 0; ++i) {
    auto port = ReadFile(port_file);
    if (!port.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*port), &target_port)) {
      absl::SleepFor(absl::Milliseconds(50));
    }
  }
  auto channel = MakeChannel(cluster.CoordinatorPeer());
  auto pid = cluster.ProcessId("coordinator");
  if (target_port == 0 || !channel.ok() || !pid.ok()) return 1;
  auto stub = v1::VouchingService::NewStub(*channel);

  // The sequential baseline: one VR at a time against nginx (no delay), as before VRs stopped
  // holding a thread. The first VR warms the connections, the CRL cache and the HSM session.
  std::vector<std::string> sequential;
  for (int i = 0; i <= options.baseline; ++i) {
    auto request = SignedVr(cluster.ServerChainFile(), cluster.ServerKeyFile(),
                            LocalCluster::kTargetHost, cluster.target_port(), i);
    if (!request.ok()) return 1;
    sequential.push_back(*request);
  }
  if (IssuedAtOnce(*stub, {sequential[0]}) != 1) return 1;
  double cpu_before = ProcessCpuSeconds(*pid);
  absl::Time start = absl::Now();
  int sequential_issued = 0;
  for (int i = 1; i <= options.baseline; ++i) {
    sequential_issued += IssuedAtOnce(*stub, {sequential[i]});
  }
  const double sequential_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const double sequential_cpu_ms = (ProcessCpuSeconds(*pid) - cpu_before) / options.baseline * 1000;

  // The burst: every VR at once, each for its own hostname on the delayed target.
  std::vector<std::string> burst;
  for (int i = 0; i < options.vrs; ++i) {
    auto request = SignedVr(cluster.Path("pki/wildcard.pem"), cluster.Path("pki/wildcard.key"),
                            HostnameOf(i), target_port, options.baseline + 1 + i);
    if (!request.ok()) return 1;
    burst.push_back(*request);
  }
  const double rss_before = StatusMegabytes(*pid, "VmRSS");
  // Every process's share of the burst's CPU: where a faster burst has to come from.
  std::vector<std::pair<std::string, pid_t>> processes = {{"delayed target", (*target)->pid()},
                                                          {"this client", getpid()}};
  for (const char* name : {"coordinator", "signer", "agent-1", "agent-2", "agent-3", "dnsmasq"}) {
    auto process = cluster.ProcessId(name);
    if (process.ok()) processes.emplace_back(name, *process);
  }
  std::vector<double> process_cpu_before;
  for (const auto& [name, process] : processes) {
    process_cpu_before.push_back(ProcessCpuSeconds(process));
  }
  cpu_before = ProcessCpuSeconds(*pid);
  const double machine_before = MachineBusySeconds();
  start = absl::Now();
  std::vector<double> seconds_to_answer;
  const int burst_issued = IssuedAtOnce(*stub, burst, &seconds_to_answer);
  const double burst_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const double machine_busy = MachineBusySeconds() - machine_before;
  const double burst_cpu_ms = (ProcessCpuSeconds(*pid) - cpu_before) / options.vrs * 1000;
  const double peak_rss = StatusMegabytes(*pid, "VmHWM");
  std::vector<double> process_cpu;
  for (size_t i = 0; i < processes.size(); ++i) {
    process_cpu.push_back(ProcessCpuSeconds(processes[i].second) - process_cpu_before[i]);
  }

  std::printf(
      "| run | VRs | issued | seconds | coordinator CPU ms/VR | coordinator RSS MB |\n"
      "|---|--:|--:|--:|--:|--:|\n");
  std::printf("| sequential baseline (nginx, no delay) | %d | %d | %.2f | %.2f | %.0f |\n",
              options.baseline, sequential_issued, sequential_seconds, sequential_cpu_ms,
              rss_before);
  std::printf("| all at once (1 s-slow target) | %d | %d | %.2f | %.2f | %.0f (VmHWM) |\n",
              options.vrs, burst_issued, burst_seconds, burst_cpu_ms, peak_rss);
  std::printf("| ratio, all at once / sequential | | | | %.2f | |\n",
              burst_cpu_ms / sequential_cpu_ms);
  // Whether the burst's wall time is the machine's: the CPU every process (the agents' handshakes
  // and Observations, the delayed target, the signer, the coordinator, the client) used over it.
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);  // NOLINT(runtime/int): sysconf's type.
  std::printf(
      "\nThe machine over the burst: %.2f CPU s busy of %.2f available (%ld cores × %.2f s), "
      "%.0f %%; the coordinator %.2f CPU s of it.\n",
      machine_busy, cores * burst_seconds, cores, burst_seconds,
      100.0 * machine_busy / (cores * burst_seconds), burst_cpu_ms * options.vrs / 1000);
  std::sort(seconds_to_answer.begin(), seconds_to_answer.end());
  if (seconds_to_answer.empty()) seconds_to_answer.push_back(0);  // No answer: all zeros.
  auto quantile = [&](double q) {
    return seconds_to_answer[static_cast<size_t>(q * (seconds_to_answer.size() - 1))];
  };
  std::printf(
      "\nAnswers after the first send: first %.2f s, 10 %% %.2f s, median %.2f s, 90 %% %.2f s, "
      "last %.2f s.\n\n| process | CPU s over the burst | ms per VR |\n|---|--:|--:|\n",
      quantile(0), quantile(0.1), quantile(0.5), quantile(0.9), quantile(1));
  for (size_t i = 0; i < processes.size(); ++i) {
    std::printf("| %s | %.2f | %.2f |\n", processes[i].first.c_str(), process_cpu[i],
                process_cpu[i] * 1000 / options.vrs);
  }
  std::fflush(stdout);
  target->reset();
  return burst_issued == options.vrs && sequential_issued == options.baseline ? 0 : 1;
}

}  // namespace
}  // namespace mecai

int main(int argc, char** argv) {
  mecai::Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--vrs") {
      options.vrs = std::atoi(value.c_str());
    } else if (flag == "--baseline") {
      options.baseline = std::atoi(value.c_str());
    } else {
      std::fprintf(stderr, "usage: vouch_concurrency_bench [--vrs N] [--baseline N]\n");
      return 2;
    }
  }
  if (options.vrs < 1 || options.baseline < 1) return 2;
  return mecai::Run(options);
}
