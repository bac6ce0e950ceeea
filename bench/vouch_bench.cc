// End-to-end vouching throughput on loopback: a LocalCluster (real
// coordinator, signer on SoftHSM2, N probe agents, nginx as the target and CRL server) answers
// freshly signed VRs from concurrent clients. Reports VRs per second, p50/p99 latency and the
// coordinator's own CPU time per VR and the signer's per VD, for each perspective count.
// --crl_revoked N: the issuing CA's CRL lists N more revoked serials (a large CA's CRL: 48,000 is
// about 2.3 MB), which every VR's revocation evidence then names.
// --fronts 1: the VRs go to a front coordinator, which has its decisions recorded by the
// coordinator as the VA's sequencer (docs/ARCHITECTURE.md §14); the coordinator column is then
// the front's CPU per VR, and the sequencer's per VR (its calls, record and signer call) has a
// column of its own.
//
//   bazel run -c opt //bench:vouch_bench -- --requests 300 --clients 8 --perspectives 3,5 \
//     [--crl_revoked 48000] [--fronts 1]
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/bench_stats.h"
#include "cluster/local_cluster.h"
#include "common/base/files.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/evidence/vouching_request.h"
#include "common/rpc/grpc_channel.h"
#include "proto/mecai/v1/vouching.grpc.pb.h"

namespace mecai {
namespace {

struct Options {
  int requests = 300;
  int clients = 8;
  std::vector<int> perspectives = {3, 5};
  int crl_revoked = 0;
  int fronts = 0;
};

double Percentile(std::vector<double> values, double fraction) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t index = static_cast<size_t>(fraction * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

int RunOne(const Options& options, int perspectives) {
  char pattern[] = "/var/tmp/mecai-vouch-bench-XXXXXX";
  if (mkdtemp(pattern) == nullptr) return 1;
  LocalClusterOptions cluster_options;
  cluster_options.workdir = pattern;
  cluster_options.perspectives = perspectives;
  cluster_options.verbose = false;
  cluster_options.max_probe_rounds_per_hostname = 1000000;
  // Every VR of the benchmark is for the one served certificate: each must be a decision of its
  // own, not the reuse of an earlier one (docs/PROTOCOL.md "Decision reuse").
  cluster_options.decision_reuse = false;
  cluster_options.crl_padding_entries = options.crl_revoked;
  cluster_options.fronts = options.fronts;
  LocalCluster cluster(cluster_options);
  absl::Status started = cluster.Start();
  if (!started.ok()) {
    std::fprintf(stderr, "cluster: %s\n", std::string(started.message()).c_str());
    return 1;
  }
  auto chain = LoadPemCertificatesAsDer(cluster.ServerChainFile());
  auto key = LoadPemPrivateKey(cluster.ServerKeyFile());
  // With fronts, the VRs go to front-1 and the coordinator is the sequencer.
  const bool with_front = options.fronts > 0;
  auto channel = MakeChannel(with_front ? cluster.FrontPeer(1) : cluster.CoordinatorPeer());
  auto coordinator_pid = cluster.ProcessId(with_front ? "front-1" : "coordinator");
  auto sequencer_pid = cluster.ProcessId("coordinator");
  auto signer_pid = cluster.ProcessId("signer");
  if (!chain.ok() || !key.ok() || !channel.ok() || !coordinator_pid.ok() || !signer_pid.ok() ||
      !sequencer_pid.ok()) {
    std::fprintf(stderr, "the cluster's files, channel or processes are missing\n");
    return 1;
  }
  auto signing_key = InMemorySigningKey::Create(std::move(*key));
  if (!signing_key.ok()) return 1;

  // Prepare every VR first so that the measured time is the cluster's, not the client's signing.
  std::vector<std::string> requests;
  for (int i = 0; i < options.requests + options.clients; ++i) {
    v1::VouchingRequestBody body;
    body.set_hostname(LocalCluster::kTargetHost);
    body.set_port(static_cast<uint32_t>(cluster.target_port()));
    body.set_trust_list(LocalCluster::kTrustList);
    body.set_timestamp_unix_seconds(absl::ToUnixSeconds(absl::Now()));
    body.set_nonce(absl::StrCat("bench-", i));
    auto request = BuildVouchingRequest(body, *chain, **signing_key);
    if (!request.ok()) return 1;
    requests.push_back(*request);
  }
  auto stub = v1::VouchingService::NewStub(*channel);
  // The first few failures say why: a benchmark that fails must say what to raise.
  std::atomic<int> reported{0};
  auto vouch = [&](const std::string& serialized, double* seconds) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    v1::VouchRequest request;
    request.set_vouching_request(serialized);
    v1::VouchResponse response;
    const absl::Time start = absl::Now();
    grpc::Status status = stub->Vouch(&context, request, &response);
    *seconds = absl::ToDoubleSeconds(absl::Now() - start);
    const bool issued = status.ok() && response.has_vouching_data();
    if (!issued && reported++ < 5) {
      std::fprintf(stderr, "not issued: %s %s\n", status.error_message().c_str(),
                   response.refusal().explanation().c_str());
    }
    return issued;
  };
  // Warm up: connections, CRL cache, HSM sessions.
  for (int i = 0; i < options.clients; ++i) {
    double ignored;
    if (!vouch(requests[options.requests + i], &ignored)) {
      std::fprintf(stderr, "warm-up VR was not issued\n");
      return 1;
    }
  }

  std::vector<std::vector<double>> latencies(options.clients);
  std::atomic<int> next{0};
  std::atomic<int> failures{0};
  const double cpu_before = ProcessCpuSeconds(*coordinator_pid);
  const double signer_cpu_before = ProcessCpuSeconds(*signer_pid);
  const double sequencer_cpu_before = ProcessCpuSeconds(*sequencer_pid);
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int c = 0; c < options.clients; ++c) {
    threads.emplace_back([&, c] {
      for (int i = next++; i < options.requests; i = next++) {
        double seconds = 0;
        if (!vouch(requests[i], &seconds)) ++failures;
        latencies[c].push_back(seconds);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  const double cpu = ProcessCpuSeconds(*coordinator_pid) - cpu_before;
  const double signer_cpu = ProcessCpuSeconds(*signer_pid) - signer_cpu_before;
  const double sequencer_cpu = ProcessCpuSeconds(*sequencer_pid) - sequencer_cpu_before;
  std::vector<double> all;
  for (const auto& per_client : latencies)
    all.insert(all.end(), per_client.begin(), per_client.end());
  const std::string sequencer_column =
      with_front ? absl::StrFormat("%.2f", sequencer_cpu / options.requests * 1000) : "—";
  std::printf("| %d | %d | %d | %d | %.1f | %.1f | %.1f | %.2f | %s | %.2f | %d |\n", perspectives,
              options.crl_revoked, options.clients, options.requests, options.requests / elapsed,
              Percentile(all, 0.5) * 1000, Percentile(all, 0.99) * 1000,
              cpu / options.requests * 1000, sequencer_column.c_str(),
              signer_cpu / options.requests * 1000, failures.load());
  std::fflush(stdout);
  return failures.load() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace mecai

int main(int argc, char** argv) {
  mecai::Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--requests") {
      options.requests = std::atoi(value.c_str());
    } else if (flag == "--clients") {
      options.clients = std::atoi(value.c_str());
    } else if (flag == "--fronts") {
      options.fronts = std::atoi(value.c_str());
    } else if (flag == "--crl_revoked") {
      options.crl_revoked = std::atoi(value.c_str());
    } else if (flag == "--perspectives") {
      options.perspectives.clear();
      for (absl::string_view part : absl::StrSplit(value, ',')) {
        int count = 0;
        if (absl::SimpleAtoi(part, &count)) options.perspectives.push_back(count);
      }
    } else {
      std::fprintf(stderr,
                   "usage: vouch_bench [--requests N] [--clients C] [--perspectives 3,5] "
                   "[--crl_revoked N] [--fronts 0|1]\n");
      return 2;
    }
  }
  std::printf(
      "| perspectives | CRL entries added | clients | VRs | VRs/s | p50 ms | p99 ms | %s CPU "
      "ms/VR | sequencer CPU ms/VR | signer CPU ms/VD | failed |\n"
      "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n",
      options.fronts > 0 ? "front coordinator" : "coordinator");
  int status = 0;
  for (int perspectives : options.perspectives) {
    status |= mecai::RunOne(options, perspectives);
  }
  return status;
}
