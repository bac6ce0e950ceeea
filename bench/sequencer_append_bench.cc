// Sequencer appends from two coordinator processes against RocksDB's own synced writes
// (docs/PERFORMANCE.md "Sequencer appends from two coordinator processes"; ARCHITECTURE.md §14).
//
// One LocalCluster whose coordinator is the VA's sequencer (LocalClusterOptions.fronts): its
// record store on the file system of --dir, its signer on SoftHSM2. Two client processes (this
// binary again, --client) play two front coordinators: each holds the fronts' mutual-TLS
// identity, as front-1.textproto's `sequencer` peer says, and records REFUSED decisions with the
// front's own SequencerClient (which carries the decisions that wait while its calls are out
// together in one RecordDecisions call), W/2 decisions at once each, a realistic ~2 KiB record
// each (a VR, three Observations). For W in --writers, each round:
//   (a) RocksDB Put with WriteOptions.sync = true of values the size of the stored record, from W
//       threads, on a fresh database under --dir (bench/synced_writes.h);
//   (b) --records decisions, half from each client process: the rate is --records over the time
//       from the start signal (a file both clients wait for, connected and with their requests
//       built) until both have written their results.
// Prints the median of --rounds rounds of both, the ratio (b)/(a) (the goal: ≥ 0.5), the records
// per synced group commit and the mean group commit (the sequencer's
// mecai_coordinator_store_commit_seconds), and the sequencer's CPU per record. Then checks the
// log: every answer has an index of its own, the log grew by exactly the answered records, and
// `mecai audit --verify` finds it whole. Exits non-zero when a call failed or the log does not
// verify.
//
//   bazel build -c opt //bench:sequencer_append_bench //coordinator //signer //probe_agent
//   bazel-bin/bench/sequencer_append_bench --records 2000 --rounds 3 --writers 4,8,16
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "bench/bench_stats.h"
#include "bench/realistic_record.h"
#include "bench/synced_writes.h"
#include "cli/audit_client.h"
#include "cluster/local_cluster.h"
#include "common/base/config_loader.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/process/child_process.h"
#include "common/rpc/grpc_channel.h"
#include "coordinator/sequencer_client.h"
#include "proto/mecai/v1/audit.grpc.pb.h"
#include "proto/mecai/v1/sequencer.grpc.pb.h"
#include "proto/mecai/v1/vouching.pb.h"
#include "tests/support/procedure_steps.h"

namespace mecai {
namespace {

constexpr char kName[] = "sequencer_append_bench";

struct Flags {
  // Parent.
  uint64_t records = 2000;
  int rounds = 3;
  std::vector<int> writers = {4, 8, 16};
  std::string dir = "/var/tmp";
  int sequencer_threads = 0;
  // Client (--client).
  bool client = false;
  std::string config;
  uint64_t first = 0;
  std::string ready;
  std::string go;
  std::string result;
};

constexpr char kUsage[] =
    "Usage: sequencer_append_bench [--records N] [--rounds R] [--writers 4,8,16] [--dir DIR]\n"
    "                              [--sequencer_threads T]\n"
    "  SequencerService.RecordDecision from two client processes against RocksDB synced Puts.\n"
    "  --records N   decisions per round, half from each client process (default 2000)\n"
    "  --rounds R    rounds per writer count; the median is reported (default 3)\n"
    "  --writers L   total writers, split between the two processes (default 4,8,16; even)\n"
    "  --dir DIR     where the cluster (and its record store) and the RocksDB baseline live\n"
    "                (default /var/tmp; its file system is printed)\n"
    "  --sequencer_threads T  the sequencer's vouch_worker_threads (default: the coordinator's)\n";

[[noreturn]] void Usage(const std::string& problem) {
  std::fprintf(stderr, "%s: %s\n%s", kName, problem.c_str(), kUsage);
  std::exit(2);
}

Flags ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    const std::string name = argv[i];
    if (name == "--help" || name == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (name == "--client") {
      flags.client = true;
      continue;
    }
    if (i + 1 >= argc) Usage(name + " needs a value");
    const std::string value = argv[++i];
    bool ok = true;
    if (name == "--records") {
      ok = absl::SimpleAtoi(value, &flags.records) && flags.records >= 2;
    } else if (name == "--rounds") {
      ok = absl::SimpleAtoi(value, &flags.rounds) && flags.rounds > 0;
    } else if (name == "--writers") {
      flags.writers.clear();
      for (absl::string_view part : absl::StrSplit(value, ',')) {
        int writers = 0;
        ok = ok && absl::SimpleAtoi(part, &writers) && writers >= 1;
        flags.writers.push_back(writers);
      }
    } else if (name == "--dir") {
      flags.dir = value;
      ok = !value.empty();
    } else if (name == "--sequencer_threads") {
      ok = absl::SimpleAtoi(value, &flags.sequencer_threads) && flags.sequencer_threads >= 0;
    } else if (name == "--config") {
      flags.config = value;
    } else if (name == "--first") {
      ok = absl::SimpleAtoi(value, &flags.first);
    } else if (name == "--ready") {
      flags.ready = value;
    } else if (name == "--go") {
      flags.go = value;
    } else if (name == "--result") {
      flags.result = value;
    } else {
      Usage("unknown flag " + name);
    }
    if (!ok) Usage(absl::StrCat("bad value \"", value, "\" for ", name));
  }
  return flags;
}

// Decision `k` as a front sends it: a realistic record (a ~700-byte VR, three Observations)
// without its index, shard and time, REFUSED, with the SHA-256 of its VR.
v1::RecordDecisionRequest Decision(uint64_t k) {
  v1::RecordDecisionRequest request;
  v1::QuorumRecord& decision = *request.mutable_decision();
  decision = RealisticRecord(k, "");
  decision.clear_log_index();
  decision.clear_log_shard_id();
  decision.clear_decided_at_unix_milliseconds();
  decision.clear_vouching_data();
  // A VR of the realistic size in the VR's own format, whose body names what the record is indexed
  // by (the sequencer parses the body and checks them; it does not verify the signature or the
  // certificate, which the front did): a 520-byte certificate, a 72-byte signature.
  std::mt19937_64 random(k);
  v1::VouchingRequestBody body;
  body.set_hostname(decision.hostname());
  body.set_port(443);
  body.set_trust_list(LocalCluster::kTrustList);
  body.set_timestamp_unix_seconds(absl::ToUnixSeconds(absl::Now()));
  body.set_nonce(RandomBytes(random, 16));
  body.add_certificate_chain_der(RandomBytes(random, 520));
  v1::VouchingRequest vr;
  vr.mutable_single()->set_tbs(body.SerializeAsString());
  vr.mutable_single()->mutable_signature()->set_value(RandomBytes(random, 72));
  decision.set_vouching_request(vr.SerializeAsString());
  decision.set_port(body.port());
  decision.set_trust_list(body.trust_list());
  decision.clear_certificate_sha256();
  decision.add_certificate_sha256(Sha256(body.certificate_chain_der(0)));
  decision.set_decision(v1::REFUSED);
  decision.mutable_refusal()->set_reason(v1::CERTIFICATE_MISMATCH);
  decision.mutable_refusal()->set_explanation(
      "the certificate the perspectives observed is not the VR's");
  decision.set_vouching_request_sha256(Sha256(decision.vouching_request()));
  return request;
}

// This process's CPU time, seconds (CLOCK_PROCESS_CPUTIME_ID, clock_gettime(2)).
double OwnCpuSeconds() {
  timespec now;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

// --client: one coordinator process. Connects to the sequencer as front-1's config says, builds
// its decisions, writes --ready, waits for --go, records them from --writers threads, and writes
// --result: "answered A failed F cpu S" (S: its CPU seconds while recording), the first failure's
// message, then each answer's log index.
int RunClient(const Flags& flags) {
  absl::StatusOr<v1::CoordinatorConfig> config = LoadConfig<v1::CoordinatorConfig>(flags.config);
  if (!config.ok()) {
    std::fprintf(stderr, "%s --client: %s\n", kName, config.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(config->sequencer());
  if (!channel.ok()) {
    std::fprintf(stderr, "%s --client: %s\n", kName, channel.status().ToString().c_str());
    return 1;
  }
  if (!(*channel)->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(30)))) {
    std::fprintf(stderr, "%s --client: the sequencer did not accept a connection\n", kName);
    return 1;
  }
  // The front's own client: decisions that wait while its calls are out go together in the next.
  SequencerClient sequencer(v1::SequencerService::NewStub(*channel), config->sequencer().address(),
                            absl::Seconds(60));
  const int threads = flags.writers.at(0);
  const uint64_t count = flags.records;
  std::vector<v1::RecordDecisionRequest> requests;
  requests.reserve(count);
  for (uint64_t i = 0; i < count; ++i) requests.push_back(Decision(flags.first + i));
  std::vector<int64_t> indices(count, -1);
  std::atomic<uint64_t> next{0};
  std::atomic<uint64_t> failed{0};
  std::mutex mutex;
  std::string first_failure;
  if (!WriteFileAtomically(flags.ready, "ready\n").ok()) return 1;
  while (!std::filesystem::exists(flags.go)) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  const double cpu_before = OwnCpuSeconds();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (uint64_t k = next.fetch_add(1); k < count; k = next.fetch_add(1)) {
        const absl::StatusOr<RecordedDecision> recorded = sequencer.Record(requests[k]);
        std::string problem;
        if (!recorded.ok()) {
          problem = absl::StrCat("RecordDecision: ", recorded.status().ToString());
        } else if (recorded->record.decision() != v1::REFUSED ||
                   recorded->record.vouching_request_sha256() !=
                       requests[k].decision().vouching_request_sha256()) {
          problem = "RecordDecision answered with a record of another decision";
        } else {
          indices[k] = static_cast<int64_t>(recorded->record.log_index());
          continue;
        }
        ++failed;
        std::lock_guard<std::mutex> lock(mutex);
        if (first_failure.empty()) first_failure = problem;
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  const double cpu_seconds = OwnCpuSeconds() - cpu_before;
  std::string result = absl::StrCat("answered ", count - failed.load(), " failed ", failed.load(),
                                    " cpu ", cpu_seconds, "\n", first_failure, "\n");
  for (int64_t index : indices) {
    if (index >= 0) absl::StrAppend(&result, index, "\n");
  }
  return WriteFileAtomically(flags.result, result).ok() ? 0 : 1;
}

// What one client process reported.
struct ClientResult {
  uint64_t answered = 0;
  uint64_t failed = 0;
  double cpu_seconds = 0;
  std::string first_failure;
  std::vector<uint64_t> indices;
};

absl::StatusOr<ClientResult> ParseResult(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  ClientResult result;
  std::vector<std::string> head = absl::StrSplit(lines.at(0), ' ');
  if (lines.size() < 2 || head.size() != 6 || !absl::SimpleAtoi(head[1], &result.answered) ||
      !absl::SimpleAtoi(head[3], &result.failed) ||
      !absl::SimpleAtod(head[5], &result.cpu_seconds)) {
    return absl::InternalError(absl::StrCat("a client's result is malformed: ", lines.at(0)));
  }
  result.first_failure = lines[1];
  for (size_t i = 2; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    uint64_t index = 0;
    if (!absl::SimpleAtoi(lines[i], &index)) return absl::InternalError("a malformed log index");
    result.indices.push_back(index);
  }
  if (result.indices.size() != result.answered) {
    return absl::InternalError("a client's result lists fewer indices than answers");
  }
  return result;
}

// The path of this executable, to start it again as a client.
std::string OwnPath() {
  char path[4096];
  const ssize_t length = readlink("/proc/self/exe", path, sizeof(path) - 1);
  return length > 0 ? std::string(path, static_cast<size_t>(length)) : std::string(kName);
}

// The sequencer's group commits so far and their total seconds
// (mecai_coordinator_store_commit_seconds).
struct Commits {
  double count = 0;
  double seconds = 0;
};

absl::StatusOr<Commits> SequencerCommits(const LocalCluster& cluster) {
  ASSIGN_OR_RETURN(std::string text, FetchMetrics(cluster, "coordinator"));
  Commits commits;
  commits.count = SumOfSamples(text, "mecai_coordinator_store_commit_seconds_count", "");
  commits.seconds = SumOfSamples(text, "mecai_coordinator_store_commit_seconds_sum", "");
  if (commits.count < 0 || commits.seconds < 0) {
    return absl::NotFoundError("the sequencer exports no mecai_coordinator_store_commit_seconds");
  }
  return commits;
}

// The tree size of a checkpoint the sequencer signs now.
absl::StatusOr<uint64_t> TreeSize(const LocalCluster& cluster) {
  ASSIGN_OR_RETURN(auto channel, MakeChannel(cluster.CoordinatorPeer()));
  auto audit = v1::AuditService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  v1::GetCheckpointRequest request;
  request.set_log_shard_id(LocalCluster::kShardId);
  v1::GetCheckpointResponse response;
  const grpc::Status status = audit->GetCheckpoint(&context, request, &response);
  if (!status.ok()) return absl::InternalError(status.error_message());
  v1::CheckpointBody body;
  if (!body.ParseFromString(response.checkpoint().tbs())) {
    return absl::InternalError("the checkpoint's tbs does not parse");
  }
  return body.tree_size();
}

// One round's figures for the sequencer.
struct Round {
  double rate = 0;
  double commits = 0;
  double commit_seconds = 0;
  double cpu_seconds = 0;
  ClientResult clients;
};

// Runs one round: two client processes with `writers`/2 writers each, `records`/2 decisions each
// from decision `*next` on.
absl::StatusOr<Round> SequencerRound(LocalCluster& cluster, const Flags& flags, int writers,
                                     uint64_t* next, int round_number, pid_t sequencer) {
  const std::string dir = cluster.Path(absl::StrCat("bench/round-", round_number));
  std::filesystem::create_directories(dir);
  const std::string go = dir + "/go";
  std::vector<std::unique_ptr<ChildProcess>> clients;
  std::vector<std::string> ready, results;
  for (int c = 0; c < 2; ++c) {
    const uint64_t count = flags.records / 2 + (c == 0 ? flags.records % 2 : 0);
    ready.push_back(absl::StrCat(dir, "/ready-", c));
    results.push_back(absl::StrCat(dir, "/result-", c));
    ASSIGN_OR_RETURN(
        auto client,
        ChildProcess::Start(
            {OwnPath(), "--client", "--config", cluster.Path("front-1.textproto"), "--writers",
             absl::StrCat(writers / 2), "--records", absl::StrCat(count), "--first",
             absl::StrCat(*next), "--ready", ready.back(), "--go", go, "--result", results.back()},
            cluster.Path(absl::StrCat("logs/bench-client-", round_number, "-", c, ".log"))));
    clients.push_back(std::move(client));
    *next += count;
  }
  const absl::Time give_up = absl::Now() + absl::Seconds(120);
  auto await = [&](const std::vector<std::string>& files) -> absl::Status {
    for (const std::string& file : files) {
      while (!std::filesystem::exists(file)) {
        for (auto& client : clients) {
          if (!client->Running() && client->ExitCode() != 0) {
            return absl::InternalError(absl::StrCat("a client process ", client->ExitDescription(),
                                                    ": ", TailOfFile(client->log_path())));
          }
        }
        if (absl::Now() > give_up) return absl::DeadlineExceededError("the clients take too long");
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(await(ready));
  ASSIGN_OR_RETURN(const Commits before, SequencerCommits(cluster));
  const double cpu_before = ProcessCpuSeconds(sequencer);
  RETURN_IF_ERROR(WriteFileAtomically(go, "go\n"));
  const auto start = std::chrono::steady_clock::now();
  RETURN_IF_ERROR(await(results));
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  Round round;
  round.rate = static_cast<double>(flags.records) / elapsed.count();
  round.cpu_seconds = ProcessCpuSeconds(sequencer) - cpu_before;
  ASSIGN_OR_RETURN(const Commits after, SequencerCommits(cluster));
  round.commits = after.count - before.count;
  round.commit_seconds = after.seconds - before.seconds;
  for (auto& client : clients) {
    if (!client->WaitForExit(absl::Seconds(30)) || client->ExitCode() != 0) {
      return absl::InternalError(absl::StrCat("a client process ", client->ExitDescription()));
    }
  }
  for (const std::string& file : results) {
    ASSIGN_OR_RETURN(std::string text, ReadFile(file));
    ASSIGN_OR_RETURN(ClientResult result, ParseResult(text));
    round.clients.answered += result.answered;
    round.clients.failed += result.failed;
    round.clients.cpu_seconds += result.cpu_seconds;
    if (round.clients.first_failure.empty()) round.clients.first_failure = result.first_failure;
    round.clients.indices.insert(round.clients.indices.end(), result.indices.begin(),
                                 result.indices.end());
  }
  return round;
}

std::string LoadAverage() {
  absl::StatusOr<std::string> text = ReadFile("/proc/loadavg");
  if (!text.ok()) return "unknown";
  std::vector<std::string> fields = absl::StrSplit(*text, ' ');
  return fields.size() >= 3 ? absl::StrCat(fields[0], " ", fields[1], " ", fields[2]) : "unknown";
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "%s: %s\n", kName, status.ToString().c_str());
  return 1;
}

int RunParent(const Flags& flags) {
  for (int writers : flags.writers) {
    if (writers % 2 != 0) Usage("--writers are split between two processes: even counts only");
  }
  absl::StatusOr<std::string> workdir = FreshDirectory(flags.dir, "mecai-sequencer-append-bench");
  if (!workdir.ok()) return Fail(workdir.status());
  LocalClusterOptions options;
  options.workdir = *workdir;
  options.perspectives = 3;
  options.verbose = false;
  options.decision_reuse = false;
  options.fronts = 1;  // The sequencer role and front-1.textproto; the benchmark plays the fronts.
  if (flags.sequencer_threads > 0) {
    options.coordinator_overrides.set_vouch_worker_threads(flags.sequencer_threads);
  }
  LocalCluster cluster(options);
  absl::Status started = cluster.Start();
  if (!started.ok()) return Fail(started);
  absl::StatusOr<pid_t> sequencer = cluster.ProcessId("coordinator");
  if (!sequencer.ok()) return Fail(sequencer.status());
  absl::StatusOr<uint64_t> tree_before = TreeSize(cluster);
  if (!tree_before.ok()) return Fail(tree_before.status());

  v1::QuorumRecord stored = Decision(0).decision();
  stored.set_log_index(1u << 20);
  stored.set_log_shard_id(LocalCluster::kShardId);
  stored.set_decided_at_unix_milliseconds(1'790'000'000'000);
  const size_t value_bytes = stored.ByteSizeLong();

  std::printf("directory: %s (file system: %s)\n", workdir->c_str(),
              FileSystemOf(*workdir).c_str());
  std::printf("hardware threads: %u; load average at the start: %s\n",
              std::thread::hardware_concurrency(), LoadAverage().c_str());
  std::printf(
      "records per round: %llu from 2 client processes, rounds: %d (median reported); "
      "sequencer worker threads: %s\n",
      static_cast<unsigned long long>(flags.records), flags.rounds,
      flags.sequencer_threads > 0 ? absl::StrCat(flags.sequencer_threads).c_str()
                                  : "the coordinator's default");
  std::printf("decision sent: %zu bytes; record stored: %zu bytes; RocksDB value: %zu bytes\n\n",
              Decision(0).ByteSizeLong(), value_bytes, value_bytes);
  std::printf(
      "| writers (2 processes) | RocksDB synced Put (writes/s) | sequencer RecordDecision "
      "(records/s) | ratio | records per group commit | mean group commit (ms) "
      "| sequencer CPU per record (ms) | clients' CPU per record (ms) |\n");
  std::printf("|--:|--:|--:|--:|--:|--:|--:|--:|\n");
  std::fflush(stdout);

  uint64_t next = 0;
  int round_number = 0;
  uint64_t answered = 0;
  uint64_t failed = 0;
  std::string first_failure;
  std::set<uint64_t> indices;
  bool duplicate_index = false;
  bool goal_met = true;
  for (int writers : flags.writers) {
    std::vector<double> raw_rates, rates, per_commit, commit_ms, cpu_ms, client_cpu_ms;
    for (int r = 0; r < flags.rounds; ++r) {
      absl::StatusOr<double> raw =
          RocksDbSyncedPutRate(*workdir, writers, flags.records, value_bytes);
      if (!raw.ok()) return Fail(raw.status());
      raw_rates.push_back(*raw);
      absl::StatusOr<Round> round =
          SequencerRound(cluster, flags, writers, &next, ++round_number, *sequencer);
      if (!round.ok()) return Fail(round.status());
      rates.push_back(round->rate);
      if (round->commits > 0) {
        per_commit.push_back(static_cast<double>(round->clients.answered) / round->commits);
        commit_ms.push_back(round->commit_seconds / round->commits * 1000);
      }
      cpu_ms.push_back(round->cpu_seconds / static_cast<double>(flags.records) * 1000);
      client_cpu_ms.push_back(round->clients.cpu_seconds / static_cast<double>(flags.records) *
                              1000);
      answered += round->clients.answered;
      failed += round->clients.failed;
      if (first_failure.empty()) first_failure = round->clients.first_failure;
      for (uint64_t index : round->clients.indices) {
        duplicate_index = !indices.insert(index).second || duplicate_index;
      }
    }
    const double ratio = Median(rates) / Median(raw_rates);
    goal_met = goal_met && ratio >= 0.5;
    std::printf("| %d | %.0f | %.0f | %.2f | %.2f | %.2f | %.3f | %.3f |\n", writers,
                Median(raw_rates), Median(rates), ratio, Median(per_commit), Median(commit_ms),
                Median(cpu_ms), Median(client_cpu_ms));
    std::fflush(stdout);
  }
  std::printf("\ngoal sequencer / RocksDB >= 0.5 at every writer count: %s\n",
              goal_met ? "met" : "NOT met");

  // The log: each answer at an index of its own, grown by exactly the answers, and verified.
  std::string audit_out;
  absl::StatusOr<AuditReport> report = AuditWholeLog(cluster, &audit_out);
  if (!report.ok()) return Fail(report.status());
  const bool grew_exactly = report->tree_size == *tree_before + answered;
  std::printf(
      "log: %llu answers (%llu failed calls%s), tree size %llu -> %llu, %s, "
      "`mecai audit --verify`: %zu problems\n",
      static_cast<unsigned long long>(answered), static_cast<unsigned long long>(failed),
      first_failure.empty() ? "" : (", first: " + first_failure).c_str(),
      static_cast<unsigned long long>(*tree_before),
      static_cast<unsigned long long>(report->tree_size),
      duplicate_index ? "an index answered twice" : "every answer at an index of its own",
      report->problems.size());
  for (const std::string& problem : report->problems) {
    std::fprintf(stderr, "audit: %s\n", problem.c_str());
  }
  const bool ok = failed == 0 && !duplicate_index && grew_exactly && report->problems.empty() &&
                  answered == next;
  cluster.Stop();
  if (ok) {
    std::error_code ignored;
    std::filesystem::remove_all(*workdir, ignored);
  } else {
    std::fprintf(stderr, "%s: the log check failed; the cluster's files are kept in %s\n", kName,
                 workdir->c_str());
  }
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace mecai

int main(int argc, char** argv) {
  const mecai::Flags flags = mecai::ParseFlags(argc, argv);
  return flags.client ? mecai::RunClient(flags) : mecai::RunParent(flags);
}
