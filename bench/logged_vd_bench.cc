// Logged VDs against signed VDs (docs/VOUCHING_DATA.md "Logged VDs", docs/PERFORMANCE.md "Logged
// VDs: HSM signatures and latency"): two LocalClusters, one after the other, each with three probe
// agents and decision reuse off (every VR a probe round and a decision of its own). (A) signs every
// VD with the VA key in the HSM, as by default; (B) has the signer approve each statement without a
// signature and the coordinator ask for one checkpoint note per `--batch_interval_ms`, answering
// each VR with a VD proven by its log entry. For each: a warm-up, then `--vrs` fresh VRs for the
// cluster's nginx target, at most `--concurrency` in flight; per-VR latency (p50, p90, p99), the
// HSM signatures made over the measured phase (mecai_signer_signatures_total, in all and by kind),
// and the size of each serialized VouchingData. Every VD is verified with the client library
// (client/vd_verifier.h) before it counts.
//
//   bazel run -c opt --jobs=2 //bench:logged_vd_bench
//
// Flags, with their defaults: --vrs 300 --concurrency 16 --warmup 32 --batch_interval_ms 200.
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/va_list.h"
#include "client/vd_verifier.h"
#include "cluster/local_cluster.h"
#include "common/crypto/pem.h"
#include "common/rpc/grpc_channel.h"
#include "proto/mecai/v1/vouching.pb.h"
#include "tests/support/coordinator_calls.h"
#include "tests/support/procedure_steps.h"

namespace mecai {
namespace {

struct Options {
  int vrs = 300;
  int concurrency = 16;
  int warmup = 32;
  int batch_interval_ms = 200;
};

// The kinds of mecai_signer_signatures_total (signer/signer_metrics.h).
constexpr const char* kSignatureKinds[] = {"vouching_data", "checkpoint", "checkpoint_note",
                                           "log_key_endorsement"};

struct ModeResult {
  std::string name;
  int sent = 0;
  int issued = 0;
  int verified = 0;
  double seconds = 0;
  // Per issued VR, sorted.
  std::vector<double> latency_ms;
  std::vector<size_t> vd_bytes;
  // Over the measured phase: every kind, then by kind.
  double signatures = 0;
  std::map<std::string, double> signatures_by_kind;
};

// The nearest-rank percentile `p` (0..100) of sorted `values`; 0 when empty.
template <typename T>
double Percentile(const std::vector<T>& values, double p) {
  if (values.empty()) return 0;
  size_t rank = static_cast<size_t>(p / 100 * static_cast<double>(values.size()) + 0.999999);
  rank = std::min(std::max<size_t>(rank, 1), values.size());
  return static_cast<double>(values[rank - 1]);
}

// mecai_signer_signatures_total: every sample (key ""), and each kind's.
absl::StatusOr<std::map<std::string, double>> SignatureCounts(const LocalCluster& cluster) {
  absl::StatusOr<std::string> text = FetchMetrics(cluster, "signer");
  if (!text.ok()) return text.status();
  std::map<std::string, double> counts;
  // SumOfSamples answers -1 for a kind without a sample yet: none made.
  counts[""] = std::max(0.0, SumOfSamples(*text, "mecai_signer_signatures_total", ""));
  for (const char* kind : kSignatureKinds) {
    counts[kind] = std::max(0.0, SumOfSamples(*text, "mecai_signer_signatures_total",
                                              absl::StrCat("kind=\"", kind, "\"")));
  }
  return counts;
}

struct Answer {
  absl::StatusOr<v1::VouchResponse> response = absl::UnknownError("not sent");
  double milliseconds = 0;
};

// Sends `requests` from `concurrency` threads, each taking the next unsent one (so at most
// `concurrency` are in flight), and times each call.
std::vector<Answer> SendBounded(grpc::Channel& channel, const std::vector<std::string>& requests,
                                int concurrency) {
  std::vector<Answer> answers(requests.size());
  std::atomic<size_t> next{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < concurrency; ++t) {
    senders.emplace_back([&] {
      for (size_t i = next++; i < requests.size(); i = next++) {
        const absl::Time start = absl::Now();
        answers[i].response = CallVouch(channel, requests[i]);
        answers[i].milliseconds = absl::ToDoubleMilliseconds(absl::Now() - start);
      }
    });
  }
  for (std::thread& sender : senders) sender.join();
  return answers;
}

absl::StatusOr<std::vector<std::string>> FreshRequests(const LocalCluster& cluster, int count) {
  std::vector<std::string> requests;
  for (int i = 0; i < count; ++i) {
    absl::StatusOr<std::string> request = SignedRequestFromFiles(
        cluster.ServerChainFile(), cluster.ServerKeyFile(), LocalCluster::kTargetHost,
        static_cast<uint32_t>(cluster.target_port()), LocalCluster::kTrustList, absl::Now());
    if (!request.ok()) return request.status();
    requests.push_back(*std::move(request));
  }
  return requests;
}

// One mode on a cluster of its own in `workdir` (an existing, empty directory).
absl::StatusOr<ModeResult> RunMode(const std::string& name, bool logged, const Options& options,
                                   const std::string& workdir) {
  LocalClusterOptions cluster_options;
  cluster_options.workdir = workdir;
  cluster_options.perspectives = 3;
  cluster_options.verbose = false;
  cluster_options.decision_reuse = false;
  cluster_options.max_probe_rounds_per_hostname = 1000000;
  cluster_options.logged_vouching_data = logged;
  cluster_options.batch_interval_milliseconds = static_cast<uint32_t>(options.batch_interval_ms);
  LocalCluster cluster(cluster_options);
  absl::Status started = cluster.Start();
  if (!started.ok()) return started;
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(cluster.CoordinatorPeer());
  if (!channel.ok()) return channel.status();
  absl::StatusOr<std::unique_ptr<VaList>> vas = VaList::Load(cluster.VaListFile());
  if (!vas.ok()) return vas.status();
  absl::StatusOr<std::vector<std::string>> chain =
      LoadPemCertificatesAsDer(cluster.ServerChainFile());
  if (!chain.ok()) return chain.status();

  // Warm-up: connections, the CRL cache, HSM sessions, and (B) the log key's endorsement.
  absl::StatusOr<std::vector<std::string>> warmup = FreshRequests(cluster, options.warmup);
  if (!warmup.ok()) return warmup.status();
  for (const Answer& answer : SendBounded(**channel, *warmup, options.concurrency)) {
    if (!answer.response.ok()) return answer.response.status();
  }
  // Signed beforehand, so that the measured phase holds only the calls.
  absl::StatusOr<std::vector<std::string>> requests = FreshRequests(cluster, options.vrs);
  if (!requests.ok()) return requests.status();
  // Every warm-up VR was answered, so its note (B) is signed; nothing is pending now.
  absl::StatusOr<std::map<std::string, double>> before = SignatureCounts(cluster);
  if (!before.ok()) return before.status();
  const absl::Time start = absl::Now();
  std::vector<Answer> answers = SendBounded(**channel, *requests, options.concurrency);
  ModeResult result;
  result.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  absl::StatusOr<std::map<std::string, double>> after = SignatureCounts(cluster);
  if (!after.ok()) return after.status();

  result.name = name;
  result.sent = options.vrs;
  VdExpectation expected;
  expected.hostname = LocalCluster::kTargetHost;
  expected.port = static_cast<uint32_t>(cluster.target_port());
  expected.certificate_der = chain->at(0);
  expected.now = absl::Now();
  for (const Answer& answer : answers) {
    if (!answer.response.ok()) {
      std::fprintf(stderr, "%s: call failed: %s\n", name.c_str(),
                   answer.response.status().ToString().c_str());
      continue;
    }
    if (!answer.response->has_vouching_data()) {
      std::fprintf(stderr, "%s: refused: %s\n", name.c_str(),
                   answer.response->refusal().explanation().c_str());
      continue;
    }
    ++result.issued;
    const v1::VouchingData& vd = answer.response->vouching_data();
    // The mode is what the VD shows: a VA signature (A) or a log proof (B), never both.
    if (logged != vd.has_log_proof() || logged == vd.has_signature()) {
      std::fprintf(stderr, "%s: VD of the other form (signature %d, log proof %d)\n", name.c_str(),
                   vd.has_signature(), vd.has_log_proof());
      continue;
    }
    absl::StatusOr<v1::VouchingStatement> statement = VerifyVouchingData(vd, **vas, expected);
    if (!statement.ok()) {
      std::fprintf(stderr, "%s: VD does not verify: %s\n", name.c_str(),
                   statement.status().ToString().c_str());
      continue;
    }
    ++result.verified;
    result.latency_ms.push_back(answer.milliseconds);
    result.vd_bytes.push_back(vd.ByteSizeLong());
  }
  std::sort(result.latency_ms.begin(), result.latency_ms.end());
  std::sort(result.vd_bytes.begin(), result.vd_bytes.end());
  for (const auto& [kind, count] : *after) {
    const double made = count - (*before)[kind];
    if (kind.empty()) {
      result.signatures = made;
    } else {
      result.signatures_by_kind[kind] = made;
    }
  }
  return result;
}

double Mean(const std::vector<size_t>& values) {
  if (values.empty()) return 0;
  double sum = 0;
  for (size_t value : values) sum += static_cast<double>(value);
  return sum / static_cast<double>(values.size());
}

void PrintTable(const std::vector<ModeResult>& results, const Options& options) {
  std::printf(
      "| mode | VRs | VDs issued and verified | VRs/s | p50 ms | p90 ms | p99 ms | HSM signatures "
      "| of which vouching_data / checkpoint / checkpoint_note / log_key_endorsement "
      "| signatures per 1,000 VDs | VD bytes mean (min–max) |\n"
      "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
  for (const ModeResult& r : results) {
    std::printf(
        "| %s | %d | %d | %.1f | %.1f | %.1f | %.1f | %.0f | %.0f / %.0f / %.0f / %.0f | %.1f | "
        "%.0f (%.0f–%.0f) |\n",
        r.name.c_str(), r.sent, r.verified, r.verified / r.seconds, Percentile(r.latency_ms, 50),
        Percentile(r.latency_ms, 90), Percentile(r.latency_ms, 99), r.signatures,
        r.signatures_by_kind.at("vouching_data"), r.signatures_by_kind.at("checkpoint"),
        r.signatures_by_kind.at("checkpoint_note"), r.signatures_by_kind.at("log_key_endorsement"),
        r.verified > 0 ? r.signatures * 1000 / r.verified : 0, Mean(r.vd_bytes),
        Percentile(r.vd_bytes, 0), Percentile(r.vd_bytes, 100));
  }
  const double p50_signed = Percentile(results[0].latency_ms, 50);
  const double p50_logged = Percentile(results[1].latency_ms, 50);
  const double added = p50_logged - p50_signed;
  const double goal = options.batch_interval_ms + 50;
  std::printf("\n| comparison | value |\n|---|--:|\n");
  std::printf("| p50 ratio, logged / signed | %.2f |\n", p50_logged / p50_signed);
  std::printf("| added p50 latency, p50(logged) − p50(signed) | %.1f ms |\n", added);
  std::printf("| goal: batch interval + 50 ms | ≤ %.0f ms (%s) |\n", goal,
              added <= goal ? "met" : "not met");
  std::printf("| HSM signatures, logged / signed | %.3f |\n",
              results[0].signatures > 0 ? results[1].signatures / results[0].signatures : 0);
  std::fflush(stdout);
}

int Run(const Options& options) {
  std::vector<ModeResult> results;
  const struct {
    const char* name;
    bool logged;
  } modes[] = {
      {"A signed VDs", false},
      {"B logged VDs", true},
  };
  for (const auto& mode : modes) {
    std::string name = mode.name;
    if (mode.logged) absl::StrAppend(&name, ", batch ", options.batch_interval_ms, " ms");
    std::fprintf(stderr, "running %s\n", name.c_str());
    char pattern[] = "/var/tmp/mecai-logged-vd-bench-XXXXXX";
    if (mkdtemp(pattern) == nullptr) return 1;
    absl::StatusOr<ModeResult> result = RunMode(name, mode.logged, options, pattern);
    if (!result.ok()) {
      std::fprintf(stderr, "%s: %s (logs under %s)\n", name.c_str(),
                   result.status().ToString().c_str(), pattern);
      return 1;
    }
    // The cluster has stopped; its PKI, token, logs and store are no longer needed.
    std::error_code ignored;
    std::filesystem::remove_all(pattern, ignored);
    results.push_back(*std::move(result));
  }
  std::printf("`logged_vd_bench --vrs %d --concurrency %d --warmup %d --batch_interval_ms %d`\n\n",
              options.vrs, options.concurrency, options.warmup, options.batch_interval_ms);
  PrintTable(results, options);
  for (const ModeResult& r : results) {
    if (r.verified != r.sent) return 1;
  }
  return 0;
}

}  // namespace
}  // namespace mecai

int main(int argc, char** argv) {
  mecai::Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int value = std::atoi(argv[i + 1]);
    if (flag == "--vrs") {
      options.vrs = value;
    } else if (flag == "--concurrency") {
      options.concurrency = value;
    } else if (flag == "--warmup") {
      options.warmup = value;
    } else if (flag == "--batch_interval_ms") {
      options.batch_interval_ms = value;
    } else {
      argc = 0;
    }
  }
  if (argc % 2 == 0 || options.vrs < 1 || options.concurrency < 1 || options.warmup < 1 ||
      options.batch_interval_ms < 1) {
    std::fprintf(stderr,
                 "usage: logged_vd_bench [--vrs N] [--concurrency N] [--warmup N] "
                 "[--batch_interval_ms N]\n");
    return 2;
  }
  return mecai::Run(options);
}
