// Signer throughput: Vouching Data signed per second through gRPC with
// five-perspective evidence, against a bare in-process loop doing the same PKCS#11 signature and
// the same verifications, in the same run, with the raw signature rate of the token beside them.
// The goal: gRPC at least 0.6 of in-process.
//
// One run, on a fresh SoftHSM2 token (in a temporary directory) holding an EC P-256 VA key:
//   (a)  Pkcs11SigningKey::Sign of a 200-byte message (C_Sign plus the key's own verification of
//        the signature against the public key), T threads;
//   (a') bare C_SignInit/C_Sign with CKM_ECDSA on a SHA-256 digest, one logged-in session per
//        thread, T threads: the token alone;
//   (b)  VouchingSigner::SignVouching called directly, T threads;
//   (c)  the same VouchingSigner behind SignerServiceImpl on 127.0.0.1:0 with mutual TLS
//        (common/rpc/grpc_server.h StartServer), T client threads making synchronous calls on one
//        channel (common/rpc/grpc_channel.h MakeChannel) as the coordinator "coordinator".
// Each measurement is N operations shared among the T threads (each takes the next one), after a
// warm-up of T operations; rate = N / wall time. The phases alternate for --rounds rounds and the
// median of each is reported.
//
//   bazel build -c opt //bench:signer_bench
//   bazel-bin/bench/signer_bench --signatures 2000 --threads 4 --rounds 3
#include <stdlib.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench_stats.h"
#include "common/base/clock.h"
#include "common/base/files.h"
#include "common/base/logging.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/crypto/signed_object.h"
#include "common/evidence/enrolled_agents.h"
#include "common/evidence/trust_lists.h"
#include "common/evidence/vouching_request.h"
#include "common/pkcs11/pkcs11_key.h"
#include "common/pkcs11/pkcs11_login.h"
#include "common/pkcs11/pkcs11_module.h"
#include "common/pkcs11/pkcs11_provisioning.h"
#include "common/pki/pki_builder.h"
#include "common/rpc/grpc_channel.h"
#include "common/rpc/grpc_server.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/signer.grpc.pb.h"
#include "signer/signer_config.h"
#include "signer/signer_service.h"
#include "signer/vouching_signer.h"

namespace mecai {
namespace {

constexpr char kHost[] = "www.example.test";
constexpr uint32_t kPort = 443;
constexpr char kTrustList[] = "bench-roots";
constexpr char kVaId[] = "va.example.test";
constexpr char kShard[] = "shard-bench-1";
constexpr char kProbeNonce[] = "probe-nonce-0123456789abcdef";  // 28 bytes.
constexpr char kTokenLabel[] = "mecai-bench-token";
constexpr char kKeyLabel[] = "va-key";
constexpr char kUserPin[] = "314159";
constexpr char kSoPin[] = "27182818";
constexpr char kSignerIdentity[] = "signer";
constexpr char kCoordinatorIdentity[] = "coordinator";
constexpr size_t kMessageBytes = 200;

// Five perspectives in five regions: the evidence of a five-agent deployment.
constexpr const char* kAgents[][2] = {{"eu-west-1a", "eu-west"},
                                      {"us-east-1a", "us-east"},
                                      {"ap-south-1a", "ap-south"},
                                      {"us-west-2a", "us-west"},
                                      {"eu-central-1a", "eu-central"}};

struct Options {
  int signatures = 2000;
  int threads = 4;
  int rounds = 3;
  std::string directory = "/tmp";
};

struct Agent {
  v1::Perspective perspective;
  EvpPkeyPtr key;
};

// A certificate with its key.
struct Issued {
  EvpPkeyPtr key;
  X509Ptr certificate;
};

absl::StatusOr<Issued> Issue(const CertificateSpec& spec, const Issued* issuer) {
  Issued issued;
  ASSIGN_OR_RETURN(issued.key, GenerateEcKey(256));
  ASSIGN_OR_RETURN(issued.certificate,
                   IssueCertificate(spec, issued.key.get(),
                                    issuer != nullptr ? issuer->certificate.get() : nullptr,
                                    issuer != nullptr ? issuer->key.get() : issued.key.get()));
  return issued;
}

CertificateSpec Spec(const std::string& common_name, absl::Time now) {
  CertificateSpec spec;
  spec.common_name = common_name;
  spec.not_before = now - absl::Hours(24);
  spec.not_after = now + absl::Hours(24 * 90);
  return spec;
}

// Everything the signer and its clients need: the Web PKI of the vouched host (root →
// intermediate → leaf), the enrolled agents, the VA key in a fresh token, the internal mTLS CA.
// Built once; not thread-safe while being built, read-only afterwards.
class Fixture {
 public:
  absl::Status Build(const Options& options) {
    std::string pattern = absl::StrCat(options.directory, "/mecai-signer-bench-XXXXXX");
    if (mkdtemp(&pattern[0]) == nullptr) {
      return absl::InternalError(absl::StrCat("mkdtemp ", pattern, " failed"));
    }
    directory_ = pattern;
    const absl::Time now = absl::Now();

    // The vouched host's certificates.
    CertificateSpec ca = Spec("MECAI Bench Root", now);
    ca.is_certificate_authority = true;
    ASSIGN_OR_RETURN(root_, Issue(ca, nullptr));
    ca.common_name = "MECAI Bench Intermediate";
    ca.path_length = 0;
    ASSIGN_OR_RETURN(intermediate_, Issue(ca, &root_));
    CertificateSpec leaf = Spec(kHost, now);
    leaf.dns_names = {kHost};
    leaf.extended_key_usages = {"serverAuth"};
    ASSIGN_OR_RETURN(leaf_, Issue(leaf, &intermediate_));
    leaf_der_ = CertificateToDer(leaf_.certificate.get());
    chain_der_ = {leaf_der_, CertificateToDer(intermediate_.certificate.get())};

    v1::TrustListConfig trust_list;
    trust_list.set_name(kTrustList);
    ASSIGN_OR_RETURN(*trust_list.mutable_pem_file(),
                     Write("roots.pem", CertificateToPem(root_.certificate.get())));
    *config_.add_trust_lists() = trust_list;
    ASSIGN_OR_RETURN(trust_lists_, TrustLists::Load(config_.trust_lists()));

    // Five enrolled agents, their public keys as PEM files (as the signer's config names them).
    for (const auto& [id, region] : kAgents) {
      Agent agent;
      agent.perspective.set_id(id);
      agent.perspective.set_region(region);
      ASSIGN_OR_RETURN(agent.key, GenerateEcKey(256));
      v1::AgentEndpoint* endpoint = config_.add_agents();
      *endpoint->mutable_perspective() = agent.perspective;
      ASSIGN_OR_RETURN(*endpoint->mutable_public_key_file(),
                       Write(absl::StrCat(id, ".pub"), PublicKeyToPem(agent.key.get())));
      agents_.push_back(std::move(agent));
    }
    ASSIGN_OR_RETURN(enrolled_, EnrolledAgents::Load(config_.agents()));

    // The VA key, generated inside a fresh SoftHSM2 token; the VA certificate from the root.
    const std::string token_directory = absl::StrCat(directory_, "/hsm");
    RETURN_IF_ERROR(InitSoftHsmToken(token_directory, kTokenLabel, kUserPin, kSoPin));
    v1::Pkcs11Config* pkcs11 = config_.mutable_pkcs11();
    pkcs11->set_module_path(kSoftHsmModulePath);
    pkcs11->set_token_label(kTokenLabel);
    pkcs11->set_key_label(kKeyLabel);
    pkcs11->set_session_pool_size(static_cast<uint32_t>(options.threads));
    ASSIGN_OR_RETURN(*pkcs11->mutable_pin_file(),
                     Write("user.pin", absl::StrCat(kUserPin, "\n"), 0600));
    ASSIGN_OR_RETURN(EvpPkeyPtr va_public_key, GenerateEcKeyPairInToken(*pkcs11));
    ASSIGN_OR_RETURN(va_key_, Pkcs11SigningKey::Open(*pkcs11));
    // The log key beside it: signs checkpoints only.
    v1::Pkcs11Config log_key = *pkcs11;
    log_key.set_key_label("bench-log-key");
    config_.set_log_key_label(log_key.key_label());
    RETURN_IF_ERROR(GenerateEcKeyPairInToken(log_key).status());
    ASSIGN_OR_RETURN(log_key_, Pkcs11SigningKey::Open(log_key));
    config_.set_log_state_file(absl::StrCat(directory_, "/signer-log-state.pb"));
    ASSIGN_OR_RETURN(log_state_, SignerLogState::Open(config_.log_state_file()));
    CertificateSpec va = Spec("MECAI Bench VA", now);
    va.extended_key_usages = {"OCSPSigning"};
    ASSIGN_OR_RETURN(
        X509Ptr va_certificate,
        IssueCertificate(va, va_public_key.get(), root_.certificate.get(), root_.key.get()));
    va_chain_der_ = {CertificateToDer(va_certificate.get())};

    config_.set_va_id(kVaId);
    config_ = WithSignerDefaults(config_);
    return BuildInternalPki(now);
  }

  // The request an honest coordinator sends right now: a VR timestamped now, one signed
  // Observation from each of the five agents (probing started 3 to 2.6 s ago, finished 1 s ago),
  // and CRL evidence that the leaf is not revoked. It stays acceptable for as long as the
  // Observations are younger than observation_max_age_seconds (120 s by default) and the VR within
  // the freshness window (300 s), far longer than one measurement.
  absl::StatusOr<v1::SignVouchingRequest> FreshRequest() const {
    const absl::Time now = absl::Now();
    v1::VouchingRequestBody body;
    body.set_hostname(kHost);
    body.set_port(kPort);
    body.set_trust_list(kTrustList);
    body.set_timestamp_unix_seconds(absl::ToUnixSeconds(now));
    body.set_nonce(absl::StrCat("bench-vr-nonce-", absl::ToUnixNanos(now)));
    ASSIGN_OR_RETURN(std::unique_ptr<InMemorySigningKey> leaf_key,
                     InMemorySigningKey::Create(Share(leaf_.key.get())));
    ASSIGN_OR_RETURN(std::string vouching_request,
                     BuildVouchingRequest(body, chain_der_, *leaf_key));

    v1::SignVouchingRequest request;
    request.set_vouching_request(vouching_request);
    for (size_t i = 0; i < agents_.size(); ++i) {
      v1::ObservationBody observation;
      *observation.mutable_perspective() = agents_[i].perspective;
      observation.set_hostname(kHost);
      observation.set_port(kPort);
      observation.set_vouching_request_sha256(Sha256(vouching_request));
      observation.set_nonce(kProbeNonce);
      // The leaf is EC P-256: one handshake asking for that key type (docs/PROTOCOL.md "Key-typed
      // handshakes").
      observation.add_certificate_key_types(v1::KEY_TYPE_EC_P256);
      observation.set_started_at_unix_milliseconds(absl::ToUnixMillis(
          now - absl::Seconds(3) + absl::Milliseconds(100 * static_cast<int64_t>(i))));
      observation.set_finished_at_unix_milliseconds(absl::ToUnixMillis(now - absl::Seconds(1)));
      observation.set_outcome(v1::PROBE_OK);
      observation.set_resolution_milliseconds(4);
      const std::string address = absl::StrCat("192.0.2.", i + 1);
      observation.add_resolved_addresses(address);
      v1::AddressObservation* seen = observation.add_addresses();
      seen->set_address(address);
      seen->set_outcome(v1::PROBE_OK);
      seen->set_requested_key_type(v1::KEY_TYPE_EC_P256);
      seen->add_certificate_chain_der(leaf_der_);
      seen->set_leaf_sha256(Sha256(leaf_der_));
      seen->set_tls_version("TLSv1.3");
      seen->set_connect_milliseconds(3);
      seen->set_handshake_milliseconds(7);
      v1::SignedObservation* signed_observation = request.add_observations();
      signed_observation->set_tbs(observation.SerializeAsString());
      ASSIGN_OR_RETURN(
          *signed_observation->mutable_signature(),
          SignBytes(agents_[i].key.get(), v1::ECDSA_P256_SHA256,
                    SignedMessage(SignedObject::kObservation, signed_observation->tbs())));
    }

    CrlSpec crl;
    crl.this_update = now - absl::Hours(1);
    crl.next_update = now + absl::Hours(24 * 7);
    v1::RevocationEvidence* evidence = request.add_revocation();
    evidence->set_certificate_sha256(Sha256(leaf_der_));
    evidence->set_source(v1::CRL);
    ASSIGN_OR_RETURN(*evidence->mutable_response_der(),
                     IssueCrlDer(crl, intermediate_.certificate.get(), intermediate_.key.get()));
    evidence->set_obtained_at_unix_seconds(absl::ToUnixSeconds(now) - 30);
    evidence->set_url("http://crl.example.test/intermediate.crl");

    request.set_log_index(42);
    request.set_log_shard_id(kShard);
    request.set_probe_nonce(kProbeNonce);
    return request;
  }

  std::unique_ptr<VouchingSigner> MakeSigner() const {
    return std::make_unique<VouchingSigner>(config_, va_chain_der_,
                                            VouchingSigner::Keys{*va_key_, *log_key_}, *log_state_,
                                            *enrolled_, *trust_lists_, SystemClock::Get());
  }

  Pkcs11SigningKey& va_key() const { return *va_key_; }
  TrustLists& trust_lists() const { return *trust_lists_; }
  const v1::SignerConfig& config() const { return config_; }
  const v1::ListenConfig& listen() const { return listen_; }
  const v1::PeerConfig& peer() const { return peer_; }
  const std::string& directory() const { return directory_; }

 private:
  static EvpPkeyPtr Share(EVP_PKEY* key) {
    EVP_PKEY_up_ref(key);
    return EvpPkeyPtr(key);
  }

  absl::StatusOr<std::string> Write(const std::string& name, const std::string& contents,
                                    mode_t mode = 0644) const {
    std::string path = absl::StrCat(directory_, "/", name);
    RETURN_IF_ERROR(WriteFileAtomically(path, contents, mode));
    return path;
  }

  // The internal CA of the cluster's mutual TLS, the signer's server identity and the
  // coordinator's client identity, as `mecai demo` issues them (cluster/local_cluster.cc).
  absl::Status BuildInternalPki(absl::Time now) {
    CertificateSpec ca = Spec("MECAI Bench Internal CA", now);
    ca.is_certificate_authority = true;
    ASSIGN_OR_RETURN(Issued internal_ca, Issue(ca, nullptr));
    ASSIGN_OR_RETURN(std::string ca_file,
                     Write("internal-ca.pem", CertificateToPem(internal_ca.certificate.get())));
    std::string certificate_files[2];
    std::string key_files[2];
    const char* names[2] = {kSignerIdentity, kCoordinatorIdentity};
    for (int i = 0; i < 2; ++i) {
      CertificateSpec spec = Spec(names[i], now);
      spec.dns_names = {names[i]};
      spec.extended_key_usages = {"serverAuth", "clientAuth"};
      ASSIGN_OR_RETURN(Issued identity, Issue(spec, &internal_ca));
      ASSIGN_OR_RETURN(certificate_files[i], Write(absl::StrCat(names[i], ".pem"),
                                                   CertificateToPem(identity.certificate.get())));
      ASSIGN_OR_RETURN(key_files[i], Write(absl::StrCat(names[i], ".key"),
                                           PrivateKeyToPem(identity.key.get()), 0600));
    }
    listen_.set_address("127.0.0.1:0");
    v1::ServerTls* server_tls = listen_.mutable_tls();
    server_tls->set_certificate_file(certificate_files[0]);
    server_tls->set_private_key_file(key_files[0]);
    server_tls->set_client_ca_file(ca_file);
    server_tls->add_allowed_client_identities(kCoordinatorIdentity);
    v1::ClientTls* client_tls = peer_.mutable_tls();
    client_tls->set_certificate_file(certificate_files[1]);
    client_tls->set_private_key_file(key_files[1]);
    client_tls->set_server_ca_file(ca_file);
    client_tls->set_server_identity(kSignerIdentity);
    return absl::OkStatus();
  }

  std::string directory_;
  v1::SignerConfig config_;
  Issued root_;
  Issued intermediate_;
  Issued leaf_;
  std::string leaf_der_;
  std::vector<std::string> chain_der_;
  std::unique_ptr<TrustLists> trust_lists_;
  std::vector<Agent> agents_;
  std::unique_ptr<EnrolledAgents> enrolled_;
  std::unique_ptr<Pkcs11SigningKey> va_key_;
  std::vector<std::string> va_chain_der_;
  std::unique_ptr<Pkcs11SigningKey> log_key_;
  std::unique_ptr<SignerLogState> log_state_;
  v1::ListenConfig listen_;
  v1::PeerConfig peer_;
};

// The outcome of one measurement.
struct Measurement {
  double per_second = 0;
  // The process's CPU time (user + system, every thread: clients, server and signer) per measured
  // operation, milliseconds.
  double cpu_milliseconds = 0;
  int failures = 0;
  std::string first_failure;
};

// User + system CPU time of the whole process so far, seconds (getrusage(2)).
double ProcessCpuSeconds() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// Runs `operation(thread)` `warm_up` times and then `count` times more, shared among `threads`
// threads; each call returns an empty string on success, else what went wrong. The rate counts
// the `count` measured calls only.
Measurement Measure(int threads, int warm_up, int count,
                    const std::function<std::string(int)>& operation) {
  Measurement measurement;
  std::atomic<int> failures{0};
  std::string first_failure;
  std::atomic<bool> failure_recorded{false};
  auto run = [&](int total) {
    std::atomic<int> next{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        while (next.fetch_add(1) < total) {
          std::string failure = operation(t);
          if (failure.empty()) continue;
          ++failures;
          if (!failure_recorded.exchange(true)) first_failure = std::move(failure);
        }
      });
    }
    for (std::thread& worker : workers) worker.join();
  };
  run(warm_up);
  const double cpu_before = ProcessCpuSeconds();
  const absl::Time start = absl::Now();
  run(count);
  measurement.per_second = count / absl::ToDoubleSeconds(absl::Now() - start);
  measurement.cpu_milliseconds = (ProcessCpuSeconds() - cpu_before) * 1000 / count;
  measurement.failures = failures.load();
  measurement.first_failure = first_failure;
  return measurement;
}

// What went wrong with a signer's answer; empty for a VD.
std::string Problem(const absl::StatusOr<v1::SignVouchingResponse>& response) {
  if (!response.ok()) return std::string(response.status().message());
  if (!response->has_vouching_data()) {
    return absl::StrCat("refused: ", v1::RefusalReason_Name(response->refusal().reason()), ": ",
                        response->refusal().explanation());
  }
  return "";
}

// One logged-in session per thread and the VA private key's handle in it, for bare C_Sign.
struct BareSession {
  std::unique_ptr<Pkcs11Session> session;
  CK_OBJECT_HANDLE private_key = CK_INVALID_HANDLE;
};

absl::StatusOr<std::vector<BareSession>> OpenBareSessions(const Pkcs11Module& module,
                                                          const v1::Pkcs11Config& config,
                                                          int count) {
  std::vector<BareSession> sessions;
  for (int i = 0; i < count; ++i) {
    BareSession bare;
    ASSIGN_OR_RETURN(bare.session, OpenLoggedInSession(module, config, /*read_write=*/false));
    CK_OBJECT_CLASS key_class = CKO_PRIVATE_KEY;
    std::string label = config.key_label();
    ASSIGN_OR_RETURN(std::vector<CK_OBJECT_HANDLE> keys,
                     bare.session->FindObjects({{CKA_CLASS, &key_class, sizeof(key_class)},
                                                {CKA_LABEL, &label[0], label.size()}}));
    if (keys.size() != 1) {
      return absl::FailedPreconditionError(
          absl::StrCat("expected one private key labelled ", label, ", found ", keys.size()));
    }
    bare.private_key = keys[0];
    sessions.push_back(std::move(bare));
  }
  return sessions;
}

// C_SignInit + C_Sign with CKM_ECDSA of a SHA-256 digest (PKCS#11 v2.40 §5.11; Current Mechanisms
// §2.3.6); empty on success.
std::string BareSign(BareSession& bare, const std::string& digest) {
  CK_FUNCTION_LIST* functions = bare.session->functions();
  CK_MECHANISM mechanism = {CKM_ECDSA, nullptr, 0};
  CK_RV rv = functions->C_SignInit(bare.session->handle(), &mechanism, bare.private_key);
  if (rv != CKR_OK) return absl::StrCat("C_SignInit: ", CkrName(rv));
  unsigned char signature[132];
  CK_ULONG signature_length = sizeof(signature);
  rv = functions->C_Sign(
      bare.session->handle(),
      reinterpret_cast<unsigned char*>(const_cast<char*>(digest.data())),  // Read only.
      static_cast<CK_ULONG>(digest.size()), signature, &signature_length);
  if (rv != CKR_OK) return absl::StrCat("C_Sign: ", CkrName(rv));
  return "";
}

// Reports `measurement` of `what`; false (and a message) when any operation failed.
bool Check(const char* what, const Measurement& measurement) {
  if (measurement.failures == 0) return true;
  std::fprintf(stderr, "FAILED: %s: %d operations were not signed; first: %s\n", what,
               measurement.failures, measurement.first_failure.c_str());
  return false;
}

int Run(const Options& options) {
  // The signer logs one Info line per VD; silenced here in both (b) and (c), so that the figures
  // are the signer's and not the terminal's. Refusals still log (Warning).
  SetMinimumLogLevel(LogLevel::kWarning);
  Fixture fixture;
  absl::Status built = fixture.Build(options);
  if (!built.ok()) {
    std::fprintf(stderr, "fixture: %s\n", built.ToString().c_str());
    return 1;
  }
  std::unique_ptr<VouchingSigner> signer = fixture.MakeSigner();
  std::atomic<uint64_t> next_log_index{0};
  // No trust-list changes file: the bench applies none.
  SignerServiceImpl service(*signer, /*trust_list_changes=*/nullptr);
  auto server = StartServer(fixture.listen(), {&service});
  if (!server.ok()) {
    std::fprintf(stderr, "server: %s\n", server.status().ToString().c_str());
    return 1;
  }
  v1::PeerConfig peer = fixture.peer();
  peer.set_address(absl::StrCat("127.0.0.1:", (*server)->port()));
  auto channel = MakeChannel(peer);
  if (!channel.ok()) {
    std::fprintf(stderr, "channel: %s\n", channel.status().ToString().c_str());
    return 1;
  }
  absl::Status connected =
      WaitUntilConnected(**channel, absl::Now() + absl::Seconds(10), "the bench signer");
  if (!connected.ok()) {
    std::fprintf(stderr, "%s\n", connected.ToString().c_str());
    return 1;
  }
  auto signer_client = v1::SignerService::NewStub(*channel);

  auto module = Pkcs11Module::Load(kSoftHsmModulePath);
  if (!module.ok()) {
    std::fprintf(stderr, "module: %s\n", module.status().ToString().c_str());
    return 1;
  }
  auto bare_sessions = OpenBareSessions(**module, fixture.config().pkcs11(), options.threads);
  if (!bare_sessions.ok()) {
    std::fprintf(stderr, "sessions: %s\n", bare_sessions.status().ToString().c_str());
    return 1;
  }

  const std::string message(kMessageBytes, 'm');
  const std::string digest = Sha256(message);
  const int n = options.signatures;
  const int t = options.threads;
  std::vector<double> key_sign, bare_sign, in_process, through_grpc, in_process_cpu, grpc_cpu;
  size_t request_bytes = 0;
  int failures = 0;
  bool ok = true;
  std::printf(
      "| round | (a) Pkcs11SigningKey::Sign /s | (a') bare C_Sign /s | (b) in-process VDs/s "
      "| (c) gRPC VDs/s | (c)/(b) | (b)/(a) | (b) CPU ms/VD | (c) CPU ms/VD |\n"
      "|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
  for (int round = 1; round <= options.rounds && ok; ++round) {
    Measurement a = Measure(t, t, n, [&](int) {
      absl::StatusOr<v1::Signature> signature = fixture.va_key().Sign(message);
      return signature.ok() ? std::string() : std::string(signature.status().message());
    });
    Measurement bare = Measure(t, t, n, [&](int thread) {
      return BareSign((*bare_sessions)[static_cast<size_t>(thread)], digest);
    });

    // One fresh request per phase, reused by every call in it: the signer keeps no state between
    // calls, so each call re-checks the whole evidence and signs a new VD.
    absl::StatusOr<v1::SignVouchingRequest> request = fixture.FreshRequest();
    if (!request.ok()) {
      std::fprintf(stderr, "request: %s\n", request.status().ToString().c_str());
      return 1;
    }
    request_bytes = request->ByteSizeLong();
    // The signer gives each log index to one VD: every call takes the next index, set on its
    // thread's own copy of the request (one field).
    std::vector<v1::SignVouchingRequest> per_thread(static_cast<size_t>(t), *request);
    Measurement b = Measure(t, t, n, [&](int thread) {
      v1::SignVouchingRequest& mine = per_thread[static_cast<size_t>(thread)];
      mine.set_log_index(next_log_index.fetch_add(1));
      return Problem(signer->SignVouching(mine));
    });

    request = fixture.FreshRequest();
    if (!request.ok()) {
      std::fprintf(stderr, "request: %s\n", request.status().ToString().c_str());
      return 1;
    }
    per_thread.assign(static_cast<size_t>(t), *request);
    Measurement c = Measure(t, t, n, [&](int thread) {
      v1::SignVouchingRequest& mine = per_thread[static_cast<size_t>(thread)];
      mine.set_log_index(next_log_index.fetch_add(1));
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      v1::SignVouchingResponse response;
      grpc::Status status = signer_client->SignVouching(&context, mine, &response);
      if (!status.ok()) {
        return absl::StrCat("gRPC ", status.error_code(), ": ", status.error_message());
      }
      return Problem(response);
    });
    ok = Check("(a) Pkcs11SigningKey::Sign", a) && Check("(a') bare C_Sign", bare) &&
         Check("(b) in-process SignVouching", b) && Check("(c) gRPC SignVouching", c);
    failures += a.failures + bare.failures + b.failures + c.failures;
    key_sign.push_back(a.per_second);
    bare_sign.push_back(bare.per_second);
    in_process.push_back(b.per_second);
    through_grpc.push_back(c.per_second);
    in_process_cpu.push_back(b.cpu_milliseconds);
    grpc_cpu.push_back(c.cpu_milliseconds);
    std::printf("| %d | %.0f | %.0f | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f |\n", round,
                a.per_second, bare.per_second, b.per_second, c.per_second,
                c.per_second / b.per_second, b.per_second / a.per_second, b.cpu_milliseconds,
                c.cpu_milliseconds);
    std::fflush(stdout);
  }
  if (!ok) return 1;
  const double median_b = Median(in_process);
  const double median_c = Median(through_grpc);
  std::printf("| median | %.0f | %.0f | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f |\n",
              Median(key_sign), Median(bare_sign), median_b, median_c, median_c / median_b,
              median_b / Median(key_sign), Median(in_process_cpu), Median(grpc_cpu));
  std::printf(
      "\n%d operations per measurement, %d threads, session pool %zu, request %zu bytes, "
      "%d refusals or errors; goal (c)/(b) >= 0.6: %s\n"
      "CPU per VD, (b)/(c): %.2f (the ratio on a machine the bench saturates alone; other load "
      "on the cores skews the wall-clock ratio, see docs/PERFORMANCE.md)\n",
      n, t, fixture.va_key().SessionPoolSize(), request_bytes, failures,
      median_c / median_b >= 0.6 ? "met" : "NOT met", Median(in_process_cpu) / Median(grpc_cpu));
  bare_sessions->clear();
  (*server)->Shutdown();
  return 0;
}

}  // namespace
}  // namespace mecai

int main(int argc, char** argv) {
  mecai::Options options;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = i + 1 < argc ? argv[i + 1] : "";
    int number = 0;
    const bool numeric = absl::SimpleAtoi(value, &number) && number > 0;
    if (flag == "--signatures" && numeric) {
      options.signatures = number;
    } else if (flag == "--threads" && numeric && number <= 64) {
      options.threads = number;
    } else if (flag == "--rounds" && numeric) {
      options.rounds = number;
    } else if (flag == "--dir" && !value.empty()) {
      options.directory = value;
    } else {
      std::fprintf(stderr,
                   "usage: signer_bench [--signatures N] [--threads T (1..64)] [--rounds R] "
                   "[--dir DIR]\n");
      return 2;
    }
  }
  return mecai::Run(options);
}
