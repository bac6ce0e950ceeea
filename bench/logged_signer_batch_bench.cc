// HSM signatures per 1,000 VDs at the signer, at the coordinator's batch interval
// (docs/PERFORMANCE.md "Logged VDs: HSM signatures per 1,000 VDs at the signer"). The whole cluster
// of this machine cannot issue enough VRs per second to fill a batch of 1 s; the signer, whose HSM
// the count is about, can be driven alone. This benchmark plays the coordinator against the real
// signer binary (SoftHSM2), as many VRs in flight as --concurrency, with a batch every
// --batch_interval_ms, and counts C_Sign twice over: the signer's mecai_signer_signatures_total and
// a PKCS#11 module between the signer and SoftHSM2 that counts every C_Sign
// (bench/counting_pkcs11_module.cc). Two modes in one run, each on a LocalCluster of its own: (A)
// signed VDs, one VA-key signature per VD, as by default; (B) logged VDs
// (docs/VOUCHING_DATA.md §5a), the statement approved and one checkpoint note per batch.
//
// The evidence is a real decision's: one VR through the cluster's own coordinator, whose record
// gives each probe agent's Observation and the CRL evidence. Each VR of the benchmark is a fresh
// one (BuildVouchingRequest with the served certificate's key, as SignedRequestFromFiles), and each
// agent's Observation of it is that agent's body with this VR's digest, a fresh probe nonce and
// fresh times, signed with the agent's own Observation key (probe_agent/agent_key.h
// LoadAgentSigningKey, SignObject as probe_agent/prober.cc signs) — built before the clock starts,
// so that the measured CPU is the signer's and the coordinator's part. Then, as the coordinator
// does (coordinator/coordinator.cc AskSigner, coordinator/main.cc): RecordStore::Append with the
// SignVouching call inside it, evidence by hash through SignerEvidenceUpload, the coordinator's
// mutual-TLS identity; in (B) CheckpointSigner::UseEntries under PeriodicCheckpoint at the batch
// interval, and LoggedVdProofs completing each VD when a checkpoint covers its record; in (A)
// PeriodicCheckpoint at the coordinator's default checkpoint_interval_seconds. Every VD is then
// verified with the client library (client/vd_verifier.h) against the cluster's VA list: in (B) the
// checkpoint note's signature under the log key the VA key endorses, and the entry's inclusion
// proof. The benchmark exits 1 unless every VD issued in the measured phase verifies, in its mode's
// form, and the two counts of signatures agree.
//
//   bazel run -c opt --jobs=2 //bench:logged_signer_batch_bench
//
// Flags, with their defaults: --seconds 20 --concurrency 8 --warmup 64 --batch_interval_ms 1000
// --perspectives 5 --max_vrs 12000.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/bench_stats.h"
#include "bench/counting_pkcs11_counts.h"
#include "client/va_list.h"
#include "client/vd_verifier.h"
#include "cluster/local_cluster.h"
#include "common/base/clock.h"
#include "common/base/config_loader.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/crypto/signed_object.h"
#include "common/evidence/vouching_request.h"
#include "common/rpc/grpc_channel.h"
#include "coordinator/checkpoint_signer.h"
#include "coordinator/logged_vd_proofs.h"
#include "coordinator/periodic_checkpoint.h"
#include "coordinator/record_store.h"
#include "coordinator/signer_evidence_upload.h"
#include "probe_agent/agent_key.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/signer.grpc.pb.h"
#include "tests/support/coordinator_calls.h"
#include "tests/support/procedure_steps.h"

namespace mecai {
namespace {

struct Options {
  int seconds = 20;
  int concurrency = 8;
  int warmup = 64;
  int batch_interval_ms = 1000;
  int perspectives = 5;
  int max_vrs = 12000;
  // The counting PKCS#11 module; found beside this binary when empty.
  std::string counting_module;
};

// The shard the benchmark's coordinator logs to: not the cluster coordinator's.
constexpr char kShard[] = "bench-shard-1";
// The kinds of mecai_signer_signatures_total (signer/signer_metrics.h).
constexpr const char* kSignatureKinds[] = {"vouching_data", "checkpoint", "checkpoint_note",
                                           "log_key_endorsement"};
constexpr absl::Duration kSignerTimeout = absl::Seconds(5);  // The coordinator's default.

// The signer's counters and the counting module's, at one moment.
struct Counts {
  std::map<std::string, double> metric;  // "" every kind; "approved" the approved statements.
  CountingPkcs11Counts pkcs11{};
};

absl::StatusOr<Counts> ReadCounts(const LocalCluster& cluster, const CountingPkcs11Counts* shared) {
  Counts counts;
  ASSIGN_OR_RETURN(std::string text, FetchMetrics(cluster, "signer"));
  // SumOfSamples answers -1 for a series without a sample yet: none counted.
  counts.metric[""] = std::max(0.0, SumOfSamples(text, "mecai_signer_signatures_total", ""));
  for (const char* kind : kSignatureKinds) {
    counts.metric[kind] = std::max(0.0, SumOfSamples(text, "mecai_signer_signatures_total",
                                                     absl::StrCat("kind=\"", kind, "\"")));
  }
  counts.metric["approved"] =
      std::max(0.0, SumOfSamples(text, "mecai_signer_approved_statements_total", ""));
  counts.pkcs11.sign_init_calls = __atomic_load_n(&shared->sign_init_calls, __ATOMIC_SEQ_CST);
  counts.pkcs11.sign_calls = __atomic_load_n(&shared->sign_calls, __ATOMIC_SEQ_CST);
  counts.pkcs11.sign_final_calls = __atomic_load_n(&shared->sign_final_calls, __ATOMIC_SEQ_CST);
  counts.pkcs11.signatures = __atomic_load_n(&shared->signatures, __ATOMIC_SEQ_CST);
  return counts;
}

// One VR's evidence, built before the measured phase: what the coordinator sends the signer
// (without log index and shard) and the record it keeps (without index, shard and decision).
struct Prepared {
  v1::SignVouchingRequest request;
  v1::QuorumRecord record;
};

// What a real decision of the cluster gave: each agent's Observation body and perspective result,
// the revocation evidence with its bytes.
struct Template {
  v1::QuorumRecord record;
  std::vector<v1::RevocationEvidence> evidence;
};

absl::StatusOr<Template> DecideOnce(const LocalCluster& cluster, grpc::Channel& coordinator) {
  ASSIGN_OR_RETURN(std::string request,
                   SignedRequestFromFiles(cluster.ServerChainFile(), cluster.ServerKeyFile(),
                                          LocalCluster::kTargetHost,
                                          static_cast<uint32_t>(cluster.target_port()),
                                          LocalCluster::kTrustList, absl::Now()));
  ASSIGN_OR_RETURN(v1::VouchResponse response, CallVouch(coordinator, request));
  if (!response.has_vouching_data()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the cluster refused the template VR: ", response.refusal().explanation()));
  }
  Template result;
  ASSIGN_OR_RETURN(result.record, CallGetRecord(coordinator, response.log_index()));
  for (const v1::RevocationEvidence& stored : result.record.revocation()) {
    v1::RevocationEvidence evidence = stored;
    ASSIGN_OR_RETURN(*evidence.mutable_response_der(),
                     CallGetEvidence(coordinator, stored.response_sha256()));
    result.evidence.push_back(std::move(evidence));
  }
  return result;
}

// Each agent's Observation key, by perspective id, as the agent loads it from its own config.
absl::StatusOr<std::map<std::string, std::unique_ptr<SigningKey>>> AgentKeys(
    const LocalCluster& cluster, int perspectives) {
  std::map<std::string, std::unique_ptr<SigningKey>> keys;
  for (int i = 1; i <= perspectives; ++i) {
    const std::string id = absl::StrCat("agent-", i);
    ASSIGN_OR_RETURN(v1::ProbeAgentConfig config,
                     LoadConfig<v1::ProbeAgentConfig>(cluster.Path("agents/" + id + ".textproto")));
    ASSIGN_OR_RETURN(probe_agent::AgentSigningKey key, probe_agent::LoadAgentSigningKey(config));
    keys[id] = std::move(key.key);
  }
  return keys;
}

// The served certificate's chain and key: what a VR is signed with (as SignedRequestFromFiles
// signs it, loaded once).
struct ServerIdentity {
  std::vector<std::string> chain_der;
  std::unique_ptr<InMemorySigningKey> key;
};

absl::StatusOr<ServerIdentity> LoadServerIdentity(const LocalCluster& cluster) {
  ServerIdentity identity;
  ASSIGN_OR_RETURN(identity.chain_der, LoadPemCertificatesAsDer(cluster.ServerChainFile()));
  ASSIGN_OR_RETURN(EvpPkeyPtr key, LoadPemPrivateKey(cluster.ServerKeyFile()));
  ASSIGN_OR_RETURN(identity.key, InMemorySigningKey::Create(std::move(key)));
  return identity;
}

absl::StatusOr<Prepared> Prepare(const LocalCluster& cluster, const Template& model,
                                 const ServerIdentity& server,
                                 std::map<std::string, std::unique_ptr<SigningKey>>& agent_keys,
                                 int serial) {
  const absl::Time now = absl::Now();
  v1::VouchingRequestBody vr_body;
  vr_body.set_hostname(LocalCluster::kTargetHost);
  vr_body.set_port(static_cast<uint32_t>(cluster.target_port()));
  vr_body.set_trust_list(LocalCluster::kTrustList);
  vr_body.set_timestamp_unix_seconds(absl::ToUnixSeconds(now));
  vr_body.set_nonce(absl::StrCat("bench-vr-nonce-", serial, "-", absl::ToUnixNanos(now)));
  ASSIGN_OR_RETURN(std::string vr,
                   BuildVouchingRequest(std::move(vr_body), server.chain_der, *server.key));
  const std::string vr_sha256 = Sha256(vr);
  const std::string probe_nonce =
      absl::StrCat("bench-probe-nonce-", serial, "-", absl::ToUnixNanos(now));
  Prepared prepared;
  prepared.request.set_vouching_request(vr);
  prepared.request.set_probe_nonce(probe_nonce);
  AddEvidenceByHash(model.evidence, &prepared.request);
  v1::QuorumRecord& record = prepared.record;
  record.set_vouching_request(vr);
  record.set_vouching_request_sha256(vr_sha256);
  record.set_hostname(model.record.hostname());
  record.set_port(model.record.port());
  record.set_trust_list(model.record.trust_list());
  *record.mutable_certificate_sha256() = model.record.certificate_sha256();
  for (const v1::RevocationEvidence& evidence : model.evidence) *record.add_revocation() = evidence;
  for (const v1::PerspectiveResult& result : model.record.perspectives()) {
    v1::ObservationBody body;
    if (!body.ParseFromString(result.observation().tbs())) {
      return absl::InternalError("the template record's Observation does not parse");
    }
    auto key = agent_keys.find(body.perspective().id());
    if (key == agent_keys.end()) {
      return absl::NotFoundError(absl::StrCat("no key for agent ", body.perspective().id()));
    }
    // The same probe of the same server, for this VR and round, at this time.
    const int64_t took = body.finished_at_unix_milliseconds() - body.started_at_unix_milliseconds();
    body.set_vouching_request_sha256(vr_sha256);
    body.set_nonce(probe_nonce);
    body.set_finished_at_unix_milliseconds(absl::ToUnixMillis(now));
    body.set_started_at_unix_milliseconds(absl::ToUnixMillis(now) - took);
    v1::SignedObservation observation;
    body.SerializeToString(observation.mutable_tbs());
    ASSIGN_OR_RETURN(*observation.mutable_signature(),
                     SignObject(*key->second, SignedObject::kObservation, observation.tbs()));
    *prepared.request.add_observations() = observation;
    v1::PerspectiveResult* kept = record.add_perspectives();
    *kept = result;
    *kept->mutable_observation() = std::move(observation);
  }
  return prepared;
}

// The benchmark's coordinator: the record store, the signer's gRPC client, the checkpoints and
// proofs, as coordinator/main.cc wires them.
class BenchCoordinator {
 public:
  BenchCoordinator(std::unique_ptr<RecordStore> store,
                   std::unique_ptr<v1::SignerService::Stub> signer, bool logged,
                   absl::Duration interval, std::vector<v1::RevocationEvidence> evidence)
      : store_(std::move(store)),
        signer_(std::move(signer)),
        logged_(logged),
        evidence_(std::move(evidence)),
        upload_(*signer_, kSignerTimeout, nullptr),
        checkpoints_(*store_, *signer_, SystemClock::Get(), kSignerTimeout),
        proofs_(*store_) {
    if (logged_) checkpoints_.UseEntries();
    checkpoints_.ObserveCheckpoints(
        [this](const v1::SignedCheckpoint& checkpoint, uint64_t tree_size) {
          {
            absl::MutexLock lock(&mutex_);
            checkpoint_sizes_.emplace_back(absl::Now(), tree_size);
          }
          if (logged_) proofs_.CheckpointStored(checkpoint, tree_size);
        });
    periodic_ =
        std::make_unique<PeriodicCheckpoint>(checkpoints_, *store_, interval, nullptr, nullptr,
                                             [this] { proofs_.ExpireOverdue(absl::Now()); });
  }

  // One decision: SignVouching inside Append, as Coordinator::AskSigner. Returns an error for a
  // VR that did not end in a VD; the VD (complete, or, logged, once proven) goes to vds().
  absl::Status Decide(const Prepared& prepared) {
    v1::SignVouchingResponse signed_response;
    absl::StatusOr<v1::QuorumRecord> stored =
        store_->Append([&](uint64_t log_index) -> absl::StatusOr<v1::QuorumRecord> {
          v1::SignVouchingRequest request = prepared.request;
          request.set_log_index(log_index);
          request.set_log_shard_id(kShard);
          grpc::Status status = upload_.SignVouching(request, evidence_, &signed_response);
          if (!status.ok()) {
            return absl::UnavailableError(absl::StrCat("signer: ", status.error_message()));
          }
          v1::QuorumRecord record = prepared.record;
          record.set_log_index(log_index);
          record.set_log_shard_id(kShard);
          record.set_decided_at_unix_milliseconds(absl::ToUnixMillis(absl::Now()));
          record.set_decision(v1::REFUSED);
          if (signed_response.has_refusal()) {
            *record.mutable_refusal() = signed_response.refusal();
          } else if (signed_response.has_approved_statement()) {
            record.set_decision(v1::ISSUED);
            record.mutable_vouching_data()->set_statement(signed_response.approved_statement());
          } else if (signed_response.has_vouching_data()) {
            record.set_decision(v1::ISSUED);
            *record.mutable_vouching_data() = signed_response.vouching_data();
          } else {
            return absl::UnavailableError("signer: no VD, statement or refusal");
          }
          return record;
        });
    RETURN_IF_ERROR(stored.status());
    if (stored->decision() != v1::ISSUED) {
      return absl::FailedPreconditionError(
          absl::StrCat("refused: ", stored->refusal().explanation()));
    }
    v1::VouchResponse response;
    *response.mutable_vouching_data() = stored->vouching_data();
    response.set_log_index(stored->log_index());
    if (!LoggedVdProofs::NeedsProof(response)) {
      Collect(std::move(response));
      return absl::OkStatus();
    }
    proofs_.WhenProven(std::move(response), absl::Now() + absl::Seconds(60),
                       [this](absl::StatusOr<v1::VouchResponse> proven) {
                         if (proven.ok()) return Collect(*std::move(proven));
                         absl::MutexLock lock(&mutex_);
                         ++unproven_;
                         if (first_unproven_.empty()) {
                           first_unproven_ = std::string(proven.status().message());
                         }
                       });
    return absl::OkStatus();
  }

  // Waits (at most `limit`) until `count` VDs are collected or have failed; how many are.
  size_t AwaitVds(size_t count, absl::Duration limit) {
    const absl::Time give_up = absl::Now() + limit;
    absl::MutexLock lock(&mutex_);
    auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
      return vds_.size() + unproven_ >= count;
    };
    mutex_.AwaitWithDeadline(absl::Condition(&done), give_up);
    return vds_.size();
  }

  // The VDs from index `from` of the order they were completed in.
  std::vector<v1::VouchResponse> VdsFrom(size_t from) {
    absl::MutexLock lock(&mutex_);
    return std::vector<v1::VouchResponse>(vds_.begin() + static_cast<ptrdiff_t>(from), vds_.end());
  }
  size_t VdCount() {
    absl::MutexLock lock(&mutex_);
    return vds_.size();
  }
  // Tree sizes of the checkpoints stored after `since`.
  std::vector<uint64_t> CheckpointSizesSince(absl::Time since) {
    absl::MutexLock lock(&mutex_);
    std::vector<uint64_t> sizes;
    for (const auto& [when, size] : checkpoint_sizes_) {
      if (when > since) sizes.push_back(size);
    }
    return sizes;
  }
  std::string FirstUnproven() {
    absl::MutexLock lock(&mutex_);
    return first_unproven_;
  }
  uint64_t TreeSize() const { return store_->TreeSize(); }

  ~BenchCoordinator() {
    periodic_.reset();
    proofs_.ExpireOverdue(absl::InfiniteFuture());
  }

 private:
  void Collect(v1::VouchResponse response) {
    absl::MutexLock lock(&mutex_);
    vds_.push_back(std::move(response));
  }

  std::unique_ptr<RecordStore> store_;
  std::unique_ptr<v1::SignerService::Stub> signer_;
  const bool logged_;
  const std::vector<v1::RevocationEvidence> evidence_;
  SignerEvidenceUpload upload_;
  CheckpointSigner checkpoints_;
  LoggedVdProofs proofs_;
  std::unique_ptr<PeriodicCheckpoint> periodic_;
  absl::Mutex mutex_;
  std::vector<v1::VouchResponse> vds_ ABSL_GUARDED_BY(mutex_);
  size_t unproven_ ABSL_GUARDED_BY(mutex_) = 0;
  std::string first_unproven_ ABSL_GUARDED_BY(mutex_);
  std::vector<std::pair<absl::Time, uint64_t>> checkpoint_sizes_ ABSL_GUARDED_BY(mutex_);
};

struct ModeResult {
  std::string name;
  bool logged = false;
  int prepared = 0;
  double prepare_seconds = 0;
  int sent = 0;
  int issued = 0;
  int failed = 0;
  std::string first_failure;
  int verified = 0;
  std::string first_unverified;
  double seconds = 0;
  std::vector<uint64_t> batch_sizes;  // Entries each checkpoint stored in the phase added.
  size_t distinct_notes = 0;
  Counts before;
  Counts after;
  double load_before = 0;
  double load_after = 0;
  // CPU seconds over the measured phase: the signer process, and this process (the coordinator's
  // part: gRPC client, record store, checkpoints and proofs).
  double signer_cpu_seconds = 0;
  double coordinator_cpu_seconds = 0;
};

double LoadAverage() {
  absl::StatusOr<std::string> text = ReadFile("/proc/loadavg");
  double load = 0;
  if (text.ok()) (void)absl::SimpleAtod(text->substr(0, text->find(' ')), &load);
  return load;
}

// Sends prepared[first..] from `concurrency` threads, each taking the next one, until `end` or
// `count` are sent.
void Send(BenchCoordinator& coordinator, const std::vector<Prepared>& prepared, size_t first,
          size_t count, absl::Time end, int concurrency, ModeResult& result) {
  std::atomic<size_t> next{first};
  const size_t last = std::min(prepared.size(), first + count);
  std::atomic<int> sent{0};
  std::atomic<int> issued{0};
  absl::Mutex failure_mutex;
  std::vector<std::thread> senders;
  for (int t = 0; t < concurrency; ++t) {
    senders.emplace_back([&] {
      for (size_t i = next++; i < last && absl::Now() < end; i = next++) {
        ++sent;
        absl::Status status = coordinator.Decide(prepared[i]);
        if (status.ok()) {
          ++issued;
          continue;
        }
        absl::MutexLock lock(&failure_mutex);
        if (result.failed++ == 0) result.first_failure = std::string(status.message());
      }
    });
  }
  for (std::thread& sender : senders) sender.join();
  result.sent += sent.load();
  result.issued += issued.load();
}

// One mode on a cluster in `workdir`; every process and channel is gone when it returns.
absl::StatusOr<ModeResult> RunModeIn(const Options& options, bool logged,
                                     const CountingPkcs11Counts* shared,
                                     const std::string& workdir) {
  ModeResult result;
  result.logged = logged;
  result.name = logged ? absl::StrCat("B logged VDs, batch ", options.batch_interval_ms, " ms")
                       : "A signed VDs";
  LocalClusterOptions cluster_options;
  cluster_options.workdir = workdir;
  cluster_options.verbose = false;
  cluster_options.perspectives = options.perspectives;
  cluster_options.decision_reuse = false;
  cluster_options.logged_vouching_data = logged;
  cluster_options.batch_interval_milliseconds = static_cast<uint32_t>(options.batch_interval_ms);
  // The cluster's own coordinator checkpoints its one decision before the measured phase.
  cluster_options.coordinator_overrides.set_checkpoint_interval_seconds(1);
  cluster_options.signer_overrides.mutable_pkcs11()->set_module_path(options.counting_module);
  LocalCluster cluster(cluster_options);
  RETURN_IF_ERROR(cluster.Start());

  // A real decision, through the cluster's coordinator and agents: the evidence to model.
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> coordinator_channel,
                   MakeChannel(cluster.CoordinatorPeer()));
  ASSIGN_OR_RETURN(Template model, DecideOnce(cluster, *coordinator_channel));
  if (model.record.perspectives_size() != options.perspectives) {
    return absl::InternalError("the template decision lacks a perspective");
  }
  ASSIGN_OR_RETURN(auto agent_keys, AgentKeys(cluster, options.perspectives));

  // The benchmark's coordinator, with the coordinator's identity and its signer settings.
  ASSIGN_OR_RETURN(v1::CoordinatorConfig coordinator_config,
                   LoadConfig<v1::CoordinatorConfig>(cluster.Path("coordinator.textproto")));
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> signer_channel,
                   MakeChannel(coordinator_config.signer()));
  ASSIGN_OR_RETURN(std::unique_ptr<RecordStore> store,
                   RecordStore::Open(cluster.Path("bench-store"), kShard));
  // Signed VDs: the coordinator's default checkpoint interval (CoordinatorConfig
  // checkpoint_interval_seconds, 60 s); logged: the batch interval.
  const absl::Duration interval =
      logged ? absl::Milliseconds(options.batch_interval_ms) : absl::Seconds(60);
  BenchCoordinator coordinator(std::move(store), v1::SignerService::NewStub(signer_channel), logged,
                               interval, model.evidence);

  // Every VR's evidence, before the clock starts.
  ASSIGN_OR_RETURN(ServerIdentity server, LoadServerIdentity(cluster));
  const size_t total = static_cast<size_t>(options.warmup + options.max_vrs);
  std::vector<Prepared> prepared(total);
  {
    const absl::Time prepare_start = absl::Now();
    std::atomic<size_t> next{0};
    absl::Mutex error_mutex;
    absl::Status error;
    std::vector<std::thread> builders;
    for (unsigned t = 0; t < std::max(1u, std::thread::hardware_concurrency()); ++t) {
      builders.emplace_back([&] {
        for (size_t i = next++; i < total; i = next++) {
          absl::StatusOr<Prepared> one =
              Prepare(cluster, model, server, agent_keys, static_cast<int>(i));
          if (one.ok()) {
            prepared[i] = *std::move(one);
            continue;
          }
          absl::MutexLock lock(&error_mutex);
          error.Update(one.status());
        }
      });
    }
    for (std::thread& builder : builders) builder.join();
    RETURN_IF_ERROR(error);
    result.prepare_seconds = absl::ToDoubleSeconds(absl::Now() - prepare_start);
  }
  result.prepared = options.max_vrs;

  // Warm-up: connections, the evidence upload, HSM sessions, and in B the log key's endorsement
  // and the first checkpoint of the shard; every warm-up VD completed.
  ModeResult warmup;
  Send(coordinator, prepared, 0, static_cast<size_t>(options.warmup), absl::InfiniteFuture(),
       options.concurrency, warmup);
  if (warmup.issued != options.warmup) {
    return absl::InternalError(
        absl::StrCat("warm-up: ", warmup.failed, " VRs without a VD: ", warmup.first_failure));
  }
  if (coordinator.AwaitVds(static_cast<size_t>(options.warmup), absl::Seconds(30)) !=
      static_cast<size_t>(options.warmup)) {
    return absl::InternalError(
        absl::StrCat("warm-up: not every VD completed: ", coordinator.FirstUnproven()));
  }
  // The cluster coordinator's checkpoint of its one decision is signed by now (1 s interval).
  absl::SleepFor(absl::Seconds(2));

  result.load_before = LoadAverage();
  ASSIGN_OR_RETURN(result.before, ReadCounts(cluster, shared));
  ASSIGN_OR_RETURN(const pid_t signer_pid, cluster.ProcessId("signer"));
  const double signer_cpu_before = ProcessCpuSeconds(signer_pid);
  const double own_cpu_before = ProcessCpuSeconds(getpid());
  const absl::Time start = absl::Now();
  Send(coordinator, prepared, static_cast<size_t>(options.warmup),
       static_cast<size_t>(options.max_vrs), start + absl::Seconds(options.seconds),
       options.concurrency, result);
  result.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  // B: every approved statement proven by a checkpoint; at most two batches more.
  const size_t expected = static_cast<size_t>(options.warmup + result.issued);
  coordinator.AwaitVds(expected,
                       absl::Milliseconds(2 * options.batch_interval_ms) + absl::Seconds(10));
  result.signer_cpu_seconds = ProcessCpuSeconds(signer_pid) - signer_cpu_before;
  result.coordinator_cpu_seconds = ProcessCpuSeconds(getpid()) - own_cpu_before;
  ASSIGN_OR_RETURN(result.after, ReadCounts(cluster, shared));
  result.load_after = LoadAverage();
  const std::vector<uint64_t> sizes = coordinator.CheckpointSizesSince(start);
  uint64_t previous = static_cast<uint64_t>(options.warmup) + 0;
  // The bench store's first records are the warm-up's; each later checkpoint adds a batch.
  for (uint64_t size : sizes) {
    if (size > previous) result.batch_sizes.push_back(size - previous);
    previous = size;
  }

  // Every VD of the measured phase, verified as a TLS client verifies it.
  const std::vector<v1::VouchResponse> vds =
      coordinator.VdsFrom(static_cast<size_t>(options.warmup));
  ASSIGN_OR_RETURN(std::unique_ptr<VaList> vas, VaList::Load(cluster.VaListFile()));
  ASSIGN_OR_RETURN(std::string chain, ReadFile(cluster.ServerChainFile()));
  ASSIGN_OR_RETURN(std::vector<X509Ptr> certificates, ParsePemCertificates(chain));
  VdExpectation expected_vd;
  expected_vd.hostname = LocalCluster::kTargetHost;
  expected_vd.port = static_cast<uint32_t>(cluster.target_port());
  expected_vd.certificate_der = CertificateToDer(certificates[0].get());
  expected_vd.now = absl::Now();
  std::set<std::string> notes;
  for (const v1::VouchResponse& response : vds) {
    const v1::VouchingData& vd = response.vouching_data();
    absl::Status form = absl::OkStatus();
    if (logged && (vd.has_signature() || !vd.has_log_proof())) {
      form = absl::InternalError("a logged VD without a log proof, or with a signature");
    } else if (!logged && (!vd.has_signature() || vd.has_log_proof())) {
      form = absl::InternalError("a signed VD without a signature, or with a log proof");
    }
    absl::StatusOr<v1::VouchingStatement> statement =
        form.ok() ? VerifyVouchingData(vd, *vas, expected_vd) : form;
    if (statement.ok() && statement->log_index() == response.log_index()) {
      ++result.verified;
      if (logged) notes.insert(vd.log_proof().checkpoint_note());
    } else if (result.first_unverified.empty()) {
      result.first_unverified = statement.ok() ? "the statement names another log index"
                                               : std::string(statement.status().message());
    }
  }
  result.distinct_notes = notes.size();
  if (vds.size() != static_cast<size_t>(result.issued) && result.first_unverified.empty()) {
    result.first_unverified =
        absl::StrCat(result.issued - static_cast<int>(vds.size()),
                     " approved statements have no proven VD: ", coordinator.FirstUnproven());
  }
  return result;
}

absl::StatusOr<ModeResult> RunMode(const Options& options, bool logged,
                                   const CountingPkcs11Counts* shared) {
  std::string workdir = "/tmp/mecai-signer-batch-XXXXXX";
  if (mkdtemp(&workdir[0]) == nullptr) return absl::InternalError("mkdtemp failed");
  absl::StatusOr<ModeResult> result = RunModeIn(options, logged, shared, workdir);
  std::error_code ignored;
  std::filesystem::remove_all(workdir, ignored);
  return result;
}

double Delta(const ModeResult& mode, const std::string& kind) {
  return mode.after.metric.at(kind) - mode.before.metric.at(kind);
}
double Pkcs11Delta(const ModeResult& mode, uint64_t CountingPkcs11Counts::*counter) {
  return static_cast<double>(mode.after.pkcs11.*counter - mode.before.pkcs11.*counter);
}
double PerThousand(double signatures, int vds) { return vds > 0 ? 1000 * signatures / vds : 0; }

void Print(const Options& options, const std::vector<ModeResult>& modes) {
  std::printf(
      "\n| mode | VDs issued and verified | seconds | VDs/s | C_Sign calls (PKCS#11) | signatures "
      "(PKCS#11) | mecai_signer_signatures_total | of which vouching_data / checkpoint / "
      "checkpoint_note / log_key_endorsement | approved statements | C_Sign per 1,000 VDs | "
      "signer CPU ms per VD | coordinator-role CPU ms per VD |\n");
  std::printf("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
  for (const ModeResult& mode : modes) {
    std::printf(
        "| %s | %d of %d | %.1f | %.1f | %.0f | %.0f | %.0f | %.0f / %.0f / %.0f / %.0f | "
        "%.0f | %.2f | %.2f | %.2f |\n",
        mode.name.c_str(), mode.verified, mode.issued, mode.seconds, mode.issued / mode.seconds,
        Pkcs11Delta(mode, &CountingPkcs11Counts::sign_calls),
        Pkcs11Delta(mode, &CountingPkcs11Counts::signatures), Delta(mode, ""),
        Delta(mode, "vouching_data"), Delta(mode, "checkpoint"), Delta(mode, "checkpoint_note"),
        Delta(mode, "log_key_endorsement"), Delta(mode, "approved"),
        PerThousand(Pkcs11Delta(mode, &CountingPkcs11Counts::sign_calls), mode.issued),
        PerThousand(mode.signer_cpu_seconds, mode.issued),
        PerThousand(mode.coordinator_cpu_seconds, mode.issued));
  }
  const ModeResult* logged = nullptr;
  const ModeResult* signed_mode = nullptr;
  for (const ModeResult& mode : modes) (mode.logged ? logged : signed_mode) = &mode;
  if (logged == nullptr || signed_mode == nullptr) return;
  const std::vector<uint64_t>& batches = logged->batch_sizes;
  double mean = 0;
  for (uint64_t size : batches) mean += static_cast<double>(size);
  if (!batches.empty()) mean /= static_cast<double>(batches.size());
  const double logged_rate =
      PerThousand(Pkcs11Delta(*logged, &CountingPkcs11Counts::sign_calls), logged->issued);
  const double signed_rate = PerThousand(
      Pkcs11Delta(*signed_mode, &CountingPkcs11Counts::sign_calls), signed_mode->issued);
  std::printf("\n| B: batches | value |\n|---|--:|\n");
  std::printf("| checkpoints stored in the measured phase | %zu |\n", batches.size());
  std::printf(
      "| approvals per batch, mean (min–max) | %.1f (%llu–%llu) |\n", mean,
      batches.empty()
          ? 0ULL
          : static_cast<unsigned long long>(*std::min_element(batches.begin(), batches.end())),
      batches.empty()
          ? 0ULL
          : static_cast<unsigned long long>(*std::max_element(batches.begin(), batches.end())));
  std::printf("| distinct checkpoint notes proving the VDs (each verified) | %zu |\n",
              logged->distinct_notes);
  std::printf("\n| comparison | value |\n|---|--:|\n");
  std::printf("| C_Sign per 1,000 VDs, logged / signed | %.4f |\n",
              signed_rate > 0 ? logged_rate / signed_rate : 0);
  std::printf("| goal: C_Sign per 1,000 logged VDs at a %d ms batch | ≤ 5 (%s: %.2f) |\n",
              options.batch_interval_ms, logged_rate <= 5 ? "met" : "not met", logged_rate);
  std::printf("| load average (1 min), A start → end, B start → end | %.2f → %.2f, %.2f → %.2f |\n",
              signed_mode->load_before, signed_mode->load_after, logged->load_before,
              logged->load_after);
}

absl::StatusOr<std::string> CountingModulePath() {
  char buffer[4096];
  const ssize_t length = readlink("/proc/self/exe", buffer, sizeof(buffer) - 1);
  if (length <= 0) return absl::InternalError("readlink /proc/self/exe failed");
  const std::string self(buffer, static_cast<size_t>(length));
  const std::string directory = self.substr(0, self.rfind('/'));
  std::vector<std::string> candidates;
  for (const char* variable : {"RUNFILES_DIR", "TEST_SRCDIR"}) {
    if (const char* runfiles = getenv(variable)) {
      candidates.push_back(absl::StrCat(runfiles, "/mecai/bench/libcounting_pkcs11.so"));
    }
  }
  candidates.push_back(absl::StrCat(self, ".runfiles/mecai/bench/libcounting_pkcs11.so"));
  candidates.push_back(absl::StrCat(directory, "/libcounting_pkcs11.so"));
  for (const std::string& candidate : candidates) {
    if (access(candidate.c_str(), R_OK) == 0) return candidate;
  }
  return absl::NotFoundError(
      "cannot find libcounting_pkcs11.so; build //bench:libcounting_pkcs11.so or pass "
      "--counting_module");
}

int Main(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    int number = 0;
    if (flag == "--counting_module") {
      options.counting_module = value;
      continue;
    }
    if (!absl::SimpleAtoi(value, &number) || number <= 0) {
      std::fprintf(stderr, "bad value for %s: %s\n", flag.c_str(), value.c_str());
      return 2;
    }
    if (flag == "--seconds") {
      options.seconds = number;
    } else if (flag == "--concurrency") {
      options.concurrency = number;
    } else if (flag == "--warmup") {
      options.warmup = number;
    } else if (flag == "--batch_interval_ms") {
      options.batch_interval_ms = number;
    } else if (flag == "--perspectives") {
      options.perspectives = number;
    } else if (flag == "--max_vrs") {
      options.max_vrs = number;
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (options.counting_module.empty()) {
    absl::StatusOr<std::string> found = CountingModulePath();
    if (!found.ok()) {
      std::fprintf(stderr, "%s\n", std::string(found.status().message()).c_str());
      return 1;
    }
    options.counting_module = *found;
  }
  // The counters every signer process of this run adds to (bench/counting_pkcs11_counts.h).
  char counts_path[] = "/tmp/mecai-pkcs11-counts-XXXXXX";
  const int fd = mkstemp(counts_path);
  if (fd < 0 || ftruncate(fd, sizeof(CountingPkcs11Counts)) != 0) {
    std::fprintf(stderr, "cannot create the counts file\n");
    return 1;
  }
  void* mapped =
      mmap(nullptr, sizeof(CountingPkcs11Counts), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (mapped == MAP_FAILED) {
    std::fprintf(stderr, "cannot map the counts file\n");
    return 1;
  }
  setenv("MECAI_COUNTING_PKCS11_FILE", counts_path, 1);
  const auto* shared = static_cast<const CountingPkcs11Counts*>(mapped);

  std::printf(
      "signer batch bench: --seconds %d --concurrency %d --warmup %d --batch_interval_ms "
      "%d --perspectives %d --max_vrs %d, %u cores\n",
      options.seconds, options.concurrency, options.warmup, options.batch_interval_ms,
      options.perspectives, options.max_vrs, std::thread::hardware_concurrency());
  std::vector<ModeResult> modes;
  int status = 0;
  for (bool logged : {false, true}) {
    absl::StatusOr<ModeResult> mode = RunMode(options, logged, shared);
    if (!mode.ok()) {
      std::fprintf(stderr, "%s: %s\n", logged ? "logged" : "signed",
                   std::string(mode.status().message()).c_str());
      unlink(counts_path);
      return 1;
    }
    if (mode->failed > 0) {
      std::fprintf(stderr, "%s: %d VRs without a VD, the first: %s\n", mode->name.c_str(),
                   mode->failed, mode->first_failure.c_str());
      status = 1;
    }
    if (mode->verified != mode->issued) {
      std::fprintf(stderr, "%s: %d of %d VDs verified; the first that did not: %s\n",
                   mode->name.c_str(), mode->verified, mode->issued,
                   mode->first_unverified.c_str());
      status = 1;
    }
    if (Pkcs11Delta(*mode, &CountingPkcs11Counts::signatures) != Delta(*mode, "")) {
      std::fprintf(stderr, "%s: the PKCS#11 layer counted %.0f signatures, the signer %.0f\n",
                   mode->name.c_str(), Pkcs11Delta(*mode, &CountingPkcs11Counts::signatures),
                   Delta(*mode, ""));
      status = 1;
    }
    if (mode->logged && mode->distinct_notes > Delta(*mode, "checkpoint_note")) {
      std::fprintf(stderr, "%s: the VDs carry %zu notes, the signer signed %.0f\n",
                   mode->name.c_str(), mode->distinct_notes, Delta(*mode, "checkpoint_note"));
      status = 1;
    }
    if (mode->issued >= options.max_vrs) {
      std::fprintf(stderr,
                   "%s: every prepared VR was sent before the time was up; raise --max_vrs\n",
                   mode->name.c_str());
    }
    std::printf("%s: %d VRs prepared in %.1f s\n", mode->name.c_str(), mode->prepared,
                mode->prepare_seconds);
    modes.push_back(*std::move(mode));
  }
  unlink(counts_path);
  Print(options, modes);
  return status;
}

}  // namespace
}  // namespace mecai

int main(int argc, char** argv) { return mecai::Main(argc, argv); }
