// Benchmark (b) of the probe agent through its binary (docs/PERFORMANCE.md, "Probe agent"): the
// real probe_agent process, mutual TLS on its gRPC port as in production, 1,000 Probe RPCs sent at
// once against a target that holds every connection one second before it answers the ClientHello.
// Reports the time until all 1,000 calls completed and the agent's peak RSS (VmHWM), beside the
// same burst run through the TLS engine inside this process (probe_bench's (b)) as the baseline.
//
// bazel build -c opt //bench:probe_agent_bench //probe_agent &&
//     bazel-bin/bench/probe_agent_bench [--probes 1000] [--pkcs11]
// --pkcs11 signs the Observations with an Ed25519 key in a fresh SoftHSM2 token instead of a key
// file.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/delayed_tls_target.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/pkcs11/pkcs11_provisioning.h"
#include "common/pki/pki_builder.h"
#include "common/process/child_process.h"
#include "common/rpc/grpc_channel.h"
#include "common/testing/mtls_files.h"
#include "google/protobuf/text_format.h"
#include "grpcpp/grpcpp.h"
#include "probe_agent/testing/test_servers.h"
#include "probe_agent/tls_engine.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/probe.grpc.pb.h"

namespace mecai {
namespace {

constexpr char kPin[] = "135792";

// The probe_agent binary in this benchmark's runfiles (data = ["//probe_agent"]): under
// $TEST_SRCDIR as bench/run_all sets it, else beside this executable. Empty when absent.
std::string FindProbeAgentBinary() {
  std::vector<std::string> candidates;
  if (const char* runfiles = getenv("TEST_SRCDIR")) {
    candidates.push_back(absl::StrCat(runfiles, "/mecai/probe_agent/probe_agent"));
  }
  char self[4096] = {0};
  if (readlink("/proc/self/exe", self, sizeof(self) - 1) > 0) {
    candidates.push_back(absl::StrCat(self, ".runfiles/mecai/probe_agent/probe_agent"));
  }
  for (const std::string& candidate : candidates) {
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// "VmHWM:  12345 kB" (peak resident set) or "VmRSS:" of process `pid`, in kB; -1 if unreadable.
long ProcessMemoryKilobytes(pid_t pid, const char* field) {  // NOLINT(runtime/int)
  absl::StatusOr<std::string> status = ReadFile(absl::StrCat("/proc/", pid, "/status"));
  if (!status.ok()) return -1;
  const size_t at = status->find(field);
  return at == std::string::npos ? -1 : std::atol(status->c_str() + at + std::strlen(field));
}

// The agent's config: mutual TLS for the "coordinator" client, literal-IP targets on loopback,
// limits that admit the whole burst (trust rule 8 still bounds it), the agent key from a file or
// a SoftHSM2 token.
absl::StatusOr<v1::ProbeAgentConfig> AgentConfig(const std::string& directory, int probes,
                                                 bool pkcs11, const MutualTlsFiles& tls_files) {
  v1::ProbeAgentConfig config;
  config.mutable_listen()->set_address("127.0.0.1:0");
  config.mutable_listen()->set_port_file(directory + "/agent.port");
  v1::ServerTls* tls = config.mutable_listen()->mutable_tls();
  tls->set_certificate_file(tls_files.server_certificate);
  tls->set_private_key_file(tls_files.server_key);
  tls->set_client_ca_file(tls_files.ca);
  tls->add_allowed_client_identities("coordinator");
  config.mutable_perspective()->set_id("bench-1a");
  config.mutable_perspective()->set_region("bench-1");
  config.mutable_resolver()->add_nameservers("127.0.0.1:1");  // Literal-IP targets only.
  config.add_allowed_special_address_ranges("127.0.0.0/8");
  config.set_max_in_flight_probes(static_cast<uint32_t>(probes));
  config.set_max_in_flight_per_target_address(static_cast<uint32_t>(probes));
  if (pkcs11) {
    RETURN_IF_ERROR(InitSoftHsmToken(directory + "/hsm", "agent-token", kPin, "24681357"));
    v1::Pkcs11Config* token = config.mutable_signing_key_pkcs11();
    token->set_module_path(kSoftHsmModulePath);
    token->set_token_label("agent-token");
    token->set_key_label("observation-key");
    token->set_pin_file(directory + "/agent-token.pin");
    RETURN_IF_ERROR(WriteFileAtomically(token->pin_file(), kPin, 0600));
    RETURN_IF_ERROR(GenerateEd25519KeyPairInToken(*token).status());
  } else {
    ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateEd25519Key());
    config.set_signing_key_file(directory + "/observation.key");
    RETURN_IF_ERROR(
        WriteFileAtomically(config.signing_key_file(), PrivateKeyToPem(key.get()), 0600));
  }
  return config;
}

v1::ProbeRequest Request(int port, int index) {
  v1::ProbeRequest request;
  request.mutable_task()->set_hostname("127.0.0.1");
  request.mutable_task()->set_port(static_cast<uint32_t>(port));
  request.mutable_task()->set_vouching_request_sha256(Sha256(absl::StrCat("bench VR ", index)));
  request.mutable_task()->set_nonce(std::string(16, static_cast<char>(index)));
  return request;
}

struct BurstResult {
  double seconds = 0;
  int completed = 0;
  int ok = 0;
};

// `probes` Probe RPCs started at once on one channel, for VRs first_vr, first_vr + 1, ... (an
// agent probes each VR once); waits (at most 60 s) for all of them.
BurstResult ProbeBurst(v1::ProbeService::Stub& stub, int target_port, int probes, int first_vr) {
  grpc::CompletionQueue queue;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<v1::ProbeResponse> responses(probes);
  std::vector<grpc::Status> statuses(probes);
  const absl::Time start = absl::Now();
  for (int i = 0; i < probes; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    contexts.back()->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    stub.AsyncProbe(contexts.back().get(), Request(target_port, first_vr + i), &queue)
        ->Finish(&responses[i], &statuses[i], &responses[i]);
  }
  BurstResult result;
  void* tag = nullptr;
  bool ok = false;
  while (result.completed < probes && queue.Next(&tag, &ok)) ++result.completed;
  result.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  int failed_calls = 0;
  for (int i = 0; i < probes; ++i) {
    v1::ObservationBody body;
    if (statuses[i].ok() && body.ParseFromString(responses[i].observation().tbs()) &&
        body.outcome() == v1::PROBE_OK) {
      ++result.ok;
    } else if (!statuses[i].ok() && failed_calls++ == 0) {
      std::fprintf(stderr, "probe %d failed: %s\n", i, statuses[i].error_message().c_str());
    }
  }
  queue.Shutdown();
  while (queue.Next(&tag, &ok)) {
  }
  return result;
}

// The baseline: the same burst through a TlsEngine in this process (the agent's engine defaults).
BurstResult EngineBurst(int target_port, int probes) {
  probe_agent::TlsEngineOptions options;
  options.max_in_flight_per_target_address = probes;
  absl::StatusOr<std::unique_ptr<probe_agent::TlsEngine>> engine =
      probe_agent::TlsEngine::Create(options);
  BurstResult result;
  if (!engine.ok()) return result;
  probe_agent::FetchRequest request;
  request.address = "127.0.0.1";
  request.port = static_cast<uint32_t>(target_port);
  const EngineBurstResult burst = RunEngineBurst(**engine, request, probes);
  result.completed = burst.completed;
  result.ok = burst.ok;
  result.seconds = burst.all_done_seconds;
  return result;
}

int Run(int argc, char** argv) {
  int probes = 1000;
  bool pkcs11 = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--probes") == 0 && i + 1 < argc) probes = std::atoi(argv[++i]);
    if (std::strcmp(argv[i], "--pkcs11") == 0) pkcs11 = true;
  }
  // Forked first: no threads exist yet.
  absl::StatusOr<DelayedTargetSetup> setup =
      SetUpDelayedTarget("probe_agent_bench", "target.example.test");
  if (!setup.ok()) {
    std::fprintf(stderr, "%s\n", setup.status().ToString().c_str());
    return 1;
  }
  const std::string& directory = setup->directory;
  const DelayedTlsTarget* target = &setup->target;

  // The internal CA of the mutual TLS, the agent's server identity, the coordinator's client
  // identity, and the agent's config.
  absl::StatusOr<MutualTlsFiles> tls_files =
      WriteMutualTlsFiles(directory, "MECAI Bench Internal CA", "agent-bench", "coordinator");
  absl::StatusOr<v1::ProbeAgentConfig> config =
      tls_files.ok() ? AgentConfig(directory, probes, pkcs11, *tls_files)
                     : absl::StatusOr<v1::ProbeAgentConfig>(tls_files.status());
  const std::string binary = FindProbeAgentBinary();
  if (!config.ok() || binary.empty()) {
    std::fprintf(
        stderr, "setup: %s%s\n", config.status().ToString().c_str(),
        binary.empty() ? "; probe_agent binary not found (bazel build //probe_agent)" : "");
    StopDelayedTlsTarget(*target);
    return 1;
  }
  std::string text;
  google::protobuf::TextFormat::PrintToString(*config, &text);
  const std::string config_path = directory + "/agent.textproto";
  if (!WriteFileAtomically(config_path, text).ok()) return 1;
  absl::StatusOr<std::unique_ptr<ChildProcess>> agent =
      ChildProcess::Start({binary, "--config", config_path}, directory + "/agent.log");
  int agent_port = 0;
  for (int i = 0; agent.ok() && i < 1000 && agent_port == 0 && (*agent)->Running(); ++i) {
    agent_port = std::atoi(ReadFile(config->listen().port_file()).value_or("0").c_str());
    absl::SleepFor(absl::Milliseconds(10));
  }
  if (agent_port == 0) {
    std::fprintf(stderr, "the agent did not start; see %s/agent.log\n", directory.c_str());
    StopDelayedTlsTarget(*target);
    return 1;
  }
  v1::PeerConfig peer;
  peer.set_address(absl::StrCat("127.0.0.1:", agent_port));
  peer.mutable_tls()->set_certificate_file(tls_files->client_certificate);
  peer.mutable_tls()->set_private_key_file(tls_files->client_key);
  peer.mutable_tls()->set_server_ca_file(tls_files->ca);
  peer.mutable_tls()->set_server_identity("agent-bench");
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(peer);
  if (!channel.ok()) return 1;
  std::unique_ptr<v1::ProbeService::Stub> stub = v1::ProbeService::NewStub(*channel);

  // One probe first: the mutual TLS connection is up before the clock starts.
  const BurstResult warm = ProbeBurst(*stub, target->port, 1, /*first_vr=*/0);
  const pid_t pid = (*agent)->pid();
  const long rss_before = ProcessMemoryKilobytes(pid, "VmRSS:");  // NOLINT(runtime/int)
  const BurstResult through_agent = ProbeBurst(*stub, target->port, probes, /*first_vr=*/1);
  const long peak = ProcessMemoryKilobytes(pid, "VmHWM:");  // NOLINT(runtime/int)
  (*agent)->Stop();
  const BurstResult in_process = EngineBurst(target->port, probes);
  StopDelayedTlsTarget(*target);

  std::printf("(b) %d probes at once, target holds each connection 1 s; agent key: %s\n", probes,
              pkcs11 ? "Ed25519 in a SoftHSM2 token (CKM_EDDSA)" : "Ed25519 file");
  std::printf("    | path | completed | PROBE_OK | all done s |\n");
  std::printf("    | probe_agent binary, gRPC over mutual TLS | %d | %d | %.3f |\n",
              through_agent.completed, through_agent.ok, through_agent.seconds);
  std::printf("    | TLS engine in this process (baseline) | %d | %d | %.3f |\n",
              in_process.completed, in_process.ok, in_process.seconds);
  std::printf("    ratio agent/engine: %.2f (warm-up probe ok: %d)\n",
              in_process.seconds > 0 ? through_agent.seconds / in_process.seconds : 0, warm.ok);
  std::printf("    agent RSS before the burst %ld kB; agent peak RSS (VmHWM) %ld kB (%.1f MB)\n",
              rss_before, peak, peak / 1024.0);
  return 0;
}

}  // namespace
}  // namespace mecai

int main(int argc, char** argv) { return mecai::Run(argc, argv); }
