#include "cluster/local_cluster.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "client/va_list.h"
#include "cluster/binaries.h"
#include "common/base/config_loader.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/pkcs11/pkcs11_provisioning.h"
#include "common/pki/pki_builder.h"
#include "common/transparency/note_key.h"
#include "google/protobuf/text_format.h"

namespace mecai {
namespace {

const char* const kRegions[] = {"eu-west", "us-east", "ap-south"};

}  // namespace

LocalCluster::LocalCluster(LocalClusterOptions options)
    : options_(std::move(options)), now_(absl::Now()) {}

LocalCluster::~LocalCluster() { Stop(); }

void LocalCluster::Stop() {
  for (auto it = processes_.rbegin(); it != processes_.rend(); ++it) (*it)->Stop();
  processes_.clear();
}

void LocalCluster::Step(const std::string& text) const {
  if (options_.verbose) std::cout << "• " << text << std::endl;
}

v1::PeerConfig LocalCluster::Peer(const std::string& server_name, int port,
                                  const Identity& client) const {
  return ClusterPeer(options_.workdir, server_name, port, client);
}

absl::Status LocalCluster::Kill(const std::string& name, int signal) {
  for (const auto& process : processes_) {
    if (process->log_path() != Path("logs/" + name + ".log") || !process->Running()) continue;
    kill(-process->pid(), signal);
    if (!process->WaitForExit(absl::Seconds(10))) {
      return absl::DeadlineExceededError(absl::StrCat(name, " did not exit after the signal"));
    }
    return absl::OkStatus();
  }
  return absl::NotFoundError(absl::StrCat("no running process named ", name));
}

absl::Status LocalCluster::Signal(const std::string& name, int signal) {
  for (const auto& process : processes_) {
    if (process->log_path() != Path("logs/" + name + ".log") || !process->Running()) continue;
    kill(-process->pid(), signal);
    return absl::OkStatus();
  }
  return absl::NotFoundError(absl::StrCat("no running process named ", name));
}

absl::Status LocalCluster::RestartCoordinator() {
  for (const char* file : {"run/coordinator.port", "run/coordinator.metrics-port",
                           "run/coordinator-public.port", "run/coordinator-public-http.port"}) {
    unlink(Path(file).c_str());
  }
  Step("restarting the coordinator");
  if (options_.fronts > 0) {
    // The fronts' configs name the sequencer's port: it comes back on it.
    ASSIGN_OR_RETURN(v1::CoordinatorConfig config,
                     LoadConfig<v1::CoordinatorConfig>(Path("coordinator.textproto")));
    config.mutable_listen()->set_address(absl::StrCat("127.0.0.1:", coordinator_port_));
    RETURN_IF_ERROR(WriteConfig("coordinator.textproto", config));
  }
  ASSIGN_OR_RETURN(
      ChildProcess * coordinator,
      Launch({coordinator_binary_, "--config", Path("coordinator.textproto")}, "coordinator"));
  return AwaitCoordinatorPorts(coordinator);
}

absl::Status LocalCluster::RestartSigner() {
  unlink(Path("run/signer.port").c_str());
  unlink(Path("run/signer.metrics-port").c_str());
  Step("restarting the signer");
  ASSIGN_OR_RETURN(v1::SignerConfig config, LoadConfig<v1::SignerConfig>(Path("signer.textproto")));
  config.mutable_listen()->set_address(absl::StrCat("127.0.0.1:", signer_port_));
  RETURN_IF_ERROR(WriteConfig("signer.textproto", config));
  ASSIGN_OR_RETURN(ChildProcess * signer,
                   Launch({signer_binary_, "--config", Path("signer.textproto")}, "signer",
                          {absl::StrCat("SOFTHSM2_CONF=", Path("hsm/softhsm2.conf"))}));
  ASSIGN_OR_RETURN(int port, AwaitPortFile(signer, Path("run/signer.port")));
  if (port != signer_port_) {
    return absl::InternalError(
        absl::StrCat("the signer came back on port ", port, ", not ", signer_port_));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::AgentEndpoint> LocalCluster::AddAgent(const std::string& region) {
  if (probe_agent_binary_.empty()) {
    return absl::FailedPreconditionError("the cluster was not started");
  }
  return StartAgent(probe_agent_binary_, agents_started_, dns_port_, region);
}

absl::Status LocalCluster::RestartAgent(const std::string& id) {
  auto port = agent_ports_.find(id);
  if (port == agent_ports_.end()) return absl::NotFoundError(absl::StrCat("no agent ", id));
  const std::string config_file = "agents/" + id + ".textproto";
  ASSIGN_OR_RETURN(v1::ProbeAgentConfig config,
                   LoadConfig<v1::ProbeAgentConfig>(Path(config_file)));
  const std::string address = config.listen().address();
  config.mutable_listen()->set_address(
      absl::StrCat(address.substr(0, address.rfind(':')), ":", port->second));
  RETURN_IF_ERROR(WriteConfig(config_file, config));
  unlink(Path("run/" + id + ".port").c_str());
  unlink(Path("run/" + id + ".metrics-port").c_str());
  Step("restarting probe agent " + id);
  ASSIGN_OR_RETURN(ChildProcess * agent, Launch(agent_commands_[id], id));
  ASSIGN_OR_RETURN(int serving, AwaitPortFile(agent, Path("run/" + id + ".port")));
  if (serving != port->second) {
    return absl::InternalError(
        absl::StrCat(id, " came back on port ", serving, ", not ", port->second));
  }
  return absl::OkStatus();
}

absl::Status LocalCluster::IssueInternalIdentity(const std::string& name,
                                                 const std::vector<std::string>& usages,
                                                 absl::Duration lifetime,
                                                 const std::string& certificate_file,
                                                 const std::string& key_file) const {
  CertificateSpec spec;
  spec.common_name = name;
  spec.dns_names = {name};
  spec.extended_key_usages = usages;
  spec.not_before = absl::Now() - absl::Hours(1);
  spec.not_after = absl::Now() + lifetime;
  ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateEcKey());
  ASSIGN_OR_RETURN(X509Ptr certificate,
                   IssueCertificate(spec, key.get(), internal_ca_.get(), internal_key_.get()));
  RETURN_IF_ERROR(WriteFileAtomically(certificate_file, CertificateToPem(certificate.get())));
  return WriteFileAtomically(key_file, PrivateKeyToPem(key.get()), 0600);
}

absl::Status LocalCluster::IssueVaCertificate(EVP_PKEY* va_public_key,
                                              const std::string& file) const {
  // As BuildHsm issues pki/va.pem: the designated-OCSP-responder usage (MECAI proposal).
  CertificateSpec va_spec;
  va_spec.common_name = "MECAI Demo Vouching Authority";
  va_spec.extended_key_usages = {"OCSPSigning"};
  va_spec.not_before = now_ - absl::Hours(1);
  va_spec.not_after = now_ + absl::Hours(24 * 30);
  ASSIGN_OR_RETURN(X509Ptr va,
                   IssueCertificate(va_spec, va_public_key, root_.get(), root_key_.get()));
  return WriteFileAtomically(file, CertificateToPem(va.get()));
}

v1::PeerConfig LocalCluster::SignerPeerAsCoordinator() const {
  return Peer("signer", signer_port_,
              Identity{Path("internal/coordinator.pem"), Path("internal/coordinator.key")});
}

v1::PeerConfig LocalCluster::SignerReplicaPeerAsCoordinator(int replica) const {
  v1::PeerConfig peer = SignerPeerAsCoordinator();
  if (replica >= 0 && static_cast<size_t>(replica) < signer_replica_ports_.size()) {
    peer.set_address(absl::StrCat("127.0.0.1:", signer_replica_ports_[replica]));
  }
  return peer;
}

absl::StatusOr<pid_t> LocalCluster::ProcessId(const std::string& name) const {
  for (auto it = processes_.rbegin(); it != processes_.rend(); ++it) {
    if ((*it)->log_path() == Path("logs/" + name + ".log")) return (*it)->pid();
  }
  return absl::NotFoundError(absl::StrCat("no process named ", name));
}

absl::StatusOr<int> LocalCluster::MetricsPort(const std::string& service) const {
  ASSIGN_OR_RETURN(std::string text, ReadFile(Path("run/" + service + ".metrics-port")));
  int port = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &port) || port <= 0) {
    return absl::InternalError(absl::StrCat("bad metrics port file for ", service));
  }
  return port;
}

v1::PeerConfig LocalCluster::CoordinatorPeer() const {
  return Peer("coordinator", coordinator_port_, stapler_);
}

v1::PeerConfig LocalCluster::CoordinatorPublicPeer() const {
  v1::PeerConfig peer;
  peer.set_address(absl::StrCat("127.0.0.1:", coordinator_public_port_));
  peer.mutable_tls()->set_server_ca_file(CoordinatorPublicCaFile());
  peer.mutable_tls()->set_server_identity("coordinator");
  return peer;
}

v1::PeerConfig LocalCluster::AdminPeer() const {
  return Peer("coordinator", coordinator_port_, admin_);
}

v1::PeerConfig LocalCluster::ApprovalPeer() const {
  return Peer("approval", approval_port_, approval_client_);
}

absl::StatusOr<int> LocalCluster::StartApprovalService(const std::string& binary) {
  if (binary.empty()) {
    return absl::NotFoundError(
        "cannot find the approval binary; build it with `bazel build //approval` or set "
        "MECAI_BIN_DIR");
  }
  mkdir(Path("approval").c_str(), 0700);
  ASSIGN_OR_RETURN(EvpPkeyPtr record_key, GenerateEd25519Key());
  RETURN_IF_ERROR(
      WriteFileAtomically(Path("approval/records.key"), PrivateKeyToPem(record_key.get()), 0600));
  RETURN_IF_ERROR(
      WriteFileAtomically(Path("approval/records.pub"), PublicKeyToPem(record_key.get())));
  v1::ApprovalConfig approval = ClusterApprovalConfig(
      options_.workdir, options_.approval_rdap_base_url, options_.approval_voice_gateway_url);
  if (options_.fronts > 0) {
    approval.mutable_listen()->mutable_tls()->add_allowed_client_identities("front");
  }
  RETURN_IF_ERROR(WriteConfig("approval.textproto", approval));
  Step("starting the phone-approval service");
  ASSIGN_OR_RETURN(ChildProcess * process,
                   Launch({binary, "--config", Path("approval.textproto")}, "approval"));
  ASSIGN_OR_RETURN(int port, AwaitPortFile(process, Path("run/approval.port")));
  ASSIGN_OR_RETURN(approval_web_port_, AwaitPortFile(process, Path("run/approval.web-port")));
  return port;
}

absl::Status LocalCluster::IssueServerCertificate(const std::string& hostname,
                                                  const std::string& name, EvpPkeyPtr key) {
  CertificateSpec spec;
  spec.common_name = hostname;
  spec.dns_names = {hostname};
  spec.extended_key_usages = {"serverAuth"};
  spec.not_before = now_ - absl::Hours(1);
  spec.not_after = now_ + absl::Hours(24 * 90);
  spec.crl_url = absl::StrCat("http://127.0.0.1:", crl_port_, "/issuing-ca.crl");
  if (key == nullptr) {
    ASSIGN_OR_RETURN(key, GenerateEcKey());
  }
  ASSIGN_OR_RETURN(X509Ptr certificate,
                   IssueCertificate(spec, key.get(), issuing_.get(), issuing_key_.get()));
  const std::string leaf = CertificateToPem(certificate.get());
  RETURN_IF_ERROR(WriteFileAtomically(Path("pki/" + name + "-leaf.pem"), leaf));
  RETURN_IF_ERROR(
      WriteFileAtomically(Path("pki/" + name + ".pem"), leaf + CertificateToPem(issuing_.get())));
  return WriteFileAtomically(Path("pki/" + name + ".key"), PrivateKeyToPem(key.get()), 0600);
}

absl::StatusOr<LocalCluster::Identity> LocalCluster::IssueIdentity(
    const std::string& name, const std::vector<std::string>& usages) {
  CertificateSpec spec;
  spec.common_name = name;
  spec.dns_names = {name};
  spec.extended_key_usages = usages;
  spec.not_before = now_ - absl::Hours(1);
  spec.not_after = now_ + absl::Hours(24 * 30);
  ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateEcKey());
  ASSIGN_OR_RETURN(X509Ptr certificate,
                   IssueCertificate(spec, key.get(), internal_ca_.get(), internal_key_.get()));
  const Identity identity = ClusterIdentityFiles(options_.workdir, name);
  RETURN_IF_ERROR(
      WriteFileAtomically(identity.certificate_file, CertificateToPem(certificate.get())));
  RETURN_IF_ERROR(WriteFileAtomically(identity.key_file, PrivateKeyToPem(key.get()), 0600));
  return identity;
}

absl::Status LocalCluster::BuildPki() {
  // The web PKI the target's certificate comes from: root → issuing CA → server certificate.
  CertificateSpec root_spec;
  root_spec.common_name = "MECAI Demo Root CA";
  root_spec.is_certificate_authority = true;
  root_spec.not_before = now_ - absl::Hours(1);
  root_spec.not_after = now_ + absl::Hours(24 * 365);
  ASSIGN_OR_RETURN(root_key_, GenerateEcKey());
  ASSIGN_OR_RETURN(root_, IssueCertificate(root_spec, root_key_.get(), nullptr, root_key_.get()));
  CertificateSpec issuing_spec = root_spec;
  issuing_spec.common_name = "MECAI Demo Issuing CA";
  issuing_spec.path_length = 0;
  ASSIGN_OR_RETURN(issuing_key_, GenerateEcKey());
  ASSIGN_OR_RETURN(
      issuing_, IssueCertificate(issuing_spec, issuing_key_.get(), root_.get(), root_key_.get()));
  RETURN_IF_ERROR(WriteFileAtomically(Path("pki/root-ca.pem"), CertificateToPem(root_.get())));
  RETURN_IF_ERROR(
      WriteFileAtomically(Path("pki/issuing-ca.pem"), CertificateToPem(issuing_.get())));
  ASSIGN_OR_RETURN(crl_port_reservation_, ReservedTcpPort::Reserve());
  crl_port_ = crl_port_reservation_->port();
  RETURN_IF_ERROR(IssueServerCertificate(kTargetHost, "server"));
  RETURN_IF_ERROR(IssueServerCertificate(kTargetHost, "revoked"));
  if (options_.target_serves_rsa_certificate) {
    ASSIGN_OR_RETURN(EvpPkeyPtr rsa_key, GenerateRsaKey(2048));
    RETURN_IF_ERROR(IssueServerCertificate(kTargetHost, "server-rsa", std::move(rsa_key)));
  }

  // The private CA of the cluster's mutual TLS (trust rule 7).
  CertificateSpec internal_spec = root_spec;
  internal_spec.common_name = "MECAI Demo Internal CA";
  ASSIGN_OR_RETURN(internal_key_, GenerateEcKey());
  ASSIGN_OR_RETURN(internal_ca_, IssueCertificate(internal_spec, internal_key_.get(), nullptr,
                                                  internal_key_.get()));
  RETURN_IF_ERROR(
      WriteFileAtomically(Path("internal/ca.pem"), CertificateToPem(internal_ca_.get())));
  return absl::OkStatus();
}

absl::Status LocalCluster::BuildHsm() {
  // A fresh SoftHSM2 token; the VA key is generated inside it and never leaves it.
  const std::string pin = "demo-user-pin-4821";
  const v1::Pkcs11Config pkcs11 = ClusterVaKeyPkcs11(options_.workdir, SoftHsmModulePath());
  RETURN_IF_ERROR(InitSoftHsmToken(Path("hsm"), pkcs11.token_label(), pin, "demo-so-pin-9377"));
  RETURN_IF_ERROR(WriteFileAtomically(pkcs11.pin_file(), pin + "\n", 0600));
  ASSIGN_OR_RETURN(EvpPkeyPtr va_public_key, GenerateEcKeyPairInToken(pkcs11));
  // The log key, beside it in the token: signs checkpoints only, Ed25519 so that each checkpoint
  // is also a C2SP signed note (docs/PUBLIC_LOG.md "Turning it on").
  v1::Pkcs11Config log_key = pkcs11;
  log_key.set_key_label(kClusterLogKeyLabel);
  ASSIGN_OR_RETURN(EvpPkeyPtr log_public_key, GenerateEd25519KeyPairInToken(log_key));
  ASSIGN_OR_RETURN(
      NoteVerifierKey vkey,
      Ed25519VerifierKey(absl::StrCat(LogOriginPrefix(), "/", kShardId), log_public_key.get()));
  RETURN_IF_ERROR(WriteFileAtomically(LogVkeyFile(), FormatVerifierKey(vkey) + "\n"));
  RETURN_IF_ERROR(
      WriteFileAtomically(Path("pki/log-key.pub.pem"), PublicKeyToPem(log_public_key.get())));
  // The VA certificate: issued by the CA, with the designated-OCSP-responder usage (MECAI
  // proposal).
  CertificateSpec va_spec;
  va_spec.common_name = "MECAI Demo Vouching Authority";
  va_spec.extended_key_usages = {"OCSPSigning"};
  va_spec.not_before = now_ - absl::Hours(1);
  va_spec.not_after = now_ + absl::Hours(24 * 30);
  ASSIGN_OR_RETURN(X509Ptr va,
                   IssueCertificate(va_spec, va_public_key.get(), root_.get(), root_key_.get()));
  RETURN_IF_ERROR(WriteFileAtomically(Path("pki/va.pem"), CertificateToPem(va.get())));
  v1::VaList va_list = ClusterVaList(options_.workdir, VaKeyPin(va_public_key.get()));
  va_list.mutable_vas(0)->set_id(VaId());
  va_list.mutable_vas(0)->add_log_vkeys(FormatVerifierKey(vkey));
  return WriteConfig("va-list.textproto", va_list);
}

absl::Status LocalCluster::StartWebServer(const std::string& nginx) {
  ASSIGN_OR_RETURN(auto revoked, LoadPemCertificates(Path("pki/revoked-leaf.pem")));
  CrlSpec crl;
  crl.this_update = now_ - absl::Minutes(5);
  crl.next_update = now_ + absl::Hours(24 * 7);
  crl.revoked.push_back({revoked.front().get(), now_ - absl::Minutes(10), /*keyCompromise*/ 1});
  // Serials of certificates nobody here holds (16 bytes, as CAs draw them), for a CRL the size of a
  // large CA's.
  for (int i = 0; i < options_.crl_padding_entries; ++i) {
    std::string serial = Sha256(absl::StrCat("revoked serial ", i)).substr(0, 16);
    serial[0] = static_cast<char>((serial[0] & 0x7f) | 0x01);
    crl.revoked.push_back(
        {nullptr, now_ - absl::Hours(1 + i % 1000), /*superseded*/ 4, std::move(serial)});
  }
  ASSIGN_OR_RETURN(std::string crl_der, IssueCrlDer(crl, issuing_.get(), issuing_key_.get()));
  const std::string root = Path("crl");
  mkdir(root.c_str(), 0755);
  RETURN_IF_ERROR(WriteFileAtomically(root + "/issuing-ca.crl", crl_der));
  const std::string config =
      ClusterNginxConfig(options_.workdir, options_.target_listen_address, crl_port_, target_port_,
                         /*as_root=*/geteuid() == 0, options_.target_serves_rsa_certificate);
  RETURN_IF_ERROR(WriteFileAtomically(Path("run/nginx.conf"), config));
  Step(absl::StrCat("starting nginx: the TLS target ", kTargetHost, " on 127.0.0.1:", target_port_,
                    ", and the issuing CA's CRL at http://127.0.0.1:", crl_port_,
                    "/issuing-ca.crl (pki/revoked.pem is on it)"));
  ASSIGN_OR_RETURN(ChildProcess * server, Launch({nginx, "-e", "stderr", "-p", root, "-c",
                                                  Path("run/nginx.conf"), "-g", "daemon off;"},
                                                 "nginx"));
  for (int port : {crl_port_, target_port_}) {
    absl::Status up = WaitForTcpPort("127.0.0.1", port, absl::Seconds(15));
    if (!up.ok() || !server->Running()) {
      return absl::UnavailableError(
          absl::StrCat("nginx did not start: ", TailOfFile(server->log_path())));
    }
  }
  return absl::OkStatus();
}

absl::Status LocalCluster::WriteConfig(const std::string& name,
                                       const google::protobuf::Message& config) {
  std::string text;
  google::protobuf::TextFormat::PrintToString(config, &text);
  return WriteFileAtomically(Path(name), text);
}

absl::StatusOr<ChildProcess*> LocalCluster::Launch(const std::vector<std::string>& argv,
                                                   const std::string& name,
                                                   const std::vector<std::string>& environment) {
  ASSIGN_OR_RETURN(auto process,
                   ChildProcess::Start(argv, Path("logs/" + name + ".log"), environment));
  processes_.push_back(std::move(process));
  return processes_.back().get();
}

absl::StatusOr<int> LocalCluster::AwaitPortFile(ChildProcess* process,
                                                const std::string& port_file) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    if (!process->Running()) {
      return absl::UnavailableError(
          absl::StrCat(process->name(), " ", process->ExitDescription(), "; its log (",
                       process->log_path(), ") ends with:\n", TailOfFile(process->log_path())));
    }
    auto text = ReadFile(port_file);
    int port = 0;
    if (text.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &port) && port > 0) {
      return port;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      process->name(), " did not start serving within 30 s; see ", process->log_path()));
}

absl::Status LocalCluster::Start() {
  MakeDirectories();
  ASSIGN_OR_RETURN(BinaryPaths binaries, FindClusterBinaries());
  Step("creating a throwaway PKI: root CA, issuing CA, a server certificate for www.mecai.test");
  RETURN_IF_ERROR(BuildPki());
  Step("creating a SoftHSM2 token and generating the VA key inside it");
  RETURN_IF_ERROR(BuildHsm());
  RETURN_IF_ERROR(CreateMaintainerKey());
  ASSIGN_OR_RETURN(Resolver dns, StartResolver(binaries.dnsmasq));
  ASSIGN_OR_RETURN(target_port_reservation_, ReservedTcpPort::Reserve());
  target_port_ = target_port_reservation_->port();
  RETURN_IF_ERROR(StartWebServer(binaries.nginx));
  if (!dns.process->Running()) {
    return absl::UnavailableError(
        absl::StrCat("dnsmasq did not start: ", TailOfFile(dns.process->log_path())));
  }
  RETURN_IF_ERROR(IssueServiceIdentities());
  probe_agent_binary_ = binaries.probe_agent;
  dns_port_ = dns.port;
  ASSIGN_OR_RETURN(std::vector<v1::AgentEndpoint> agents,
                   StartAgents(binaries.probe_agent, dns.port));
  if (with_approval()) {
    ASSIGN_OR_RETURN(approval_port_, StartApprovalService(binaries.approval));
  }
  RETURN_IF_ERROR(StartSigners(binaries.signer, agents));
  RETURN_IF_ERROR(StartCoordinator(binaries.coordinator, agents));
  for (int front = 1; front <= options_.fronts; ++front) RETURN_IF_ERROR(StartFront(front));
  return absl::OkStatus();
}

void LocalCluster::MakeDirectories() const {
  for (const char* directory : {"pki", "internal", "hsm", "logs", "agents", "run", "store"}) {
    mkdir(Path(directory).c_str(), 0700);
  }
}

absl::Status LocalCluster::CreateMaintainerKey() const {
  Step(
      "creating the trust-list maintainer's key (trust-list/maintainer.key): the signer and the "
      "coordinator accept only trust-list changes it signed");
  mkdir(Path("trust-list").c_str(), 0700);
  ASSIGN_OR_RETURN(EvpPkeyPtr maintainer_key, GenerateEd25519Key());
  RETURN_IF_ERROR(
      WriteFileAtomically(MaintainerKeyFile(), PrivateKeyToPem(maintainer_key.get()), 0600));
  return WriteFileAtomically(MaintainerPublicKeyFile(), PublicKeyToPem(maintainer_key.get()));
}

absl::StatusOr<LocalCluster::Resolver> LocalCluster::StartResolver(const std::string& dnsmasq) {
  // A resolver the agents use (dnsmasq from Debian): www.mecai.test → 127.0.0.1, plus any extra
  // host records, from a hosts file; authoritative for mecai.test so that a missing AAAA record
  // is an empty answer, not REFUSED.
  RETURN_IF_ERROR(WriteFileAtomically(Path("run/hosts"), ClusterHostsFile(options_.extra_hosts)));
  ASSIGN_OR_RETURN(int dns_port, PickFreeTcpPort());
  Step(
      absl::StrCat("starting dnsmasq on 127.0.0.1:", dns_port, " (", kTargetHost, " → 127.0.0.1)"));
  ASSIGN_OR_RETURN(
      ChildProcess * dns,
      Launch({dnsmasq, "--no-daemon", "--conf-file=/dev/null", absl::StrCat("--port=", dns_port),
              "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
              absl::StrCat("--addn-hosts=", Path("run/hosts")), "--local=/mecai.test/",
              absl::StrCat("--pid-file=", Path("run/dnsmasq.pid"))},
             "dnsmasq"));
  return Resolver{dns, dns_port};
}

absl::Status LocalCluster::IssueServiceIdentities() {
  RETURN_IF_ERROR(IssueIdentity("coordinator", {"serverAuth", "clientAuth"}).status());
  RETURN_IF_ERROR(IssueIdentity("signer", {"serverAuth", "clientAuth"}).status());
  if (options_.fronts > 0) {
    RETURN_IF_ERROR(IssueIdentity("front", {"serverAuth", "clientAuth"}).status());
  }
  ASSIGN_OR_RETURN(stapler_, IssueIdentity("stapler", {"clientAuth"}));
  ASSIGN_OR_RETURN(admin_, IssueIdentity("admin", {"clientAuth"}));
  if (with_approval()) {
    RETURN_IF_ERROR(IssueIdentity("approval", {"serverAuth"}).status());
    ASSIGN_OR_RETURN(approval_client_, IssueIdentity("ca-frontend", {"clientAuth"}));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::AgentEndpoint>> LocalCluster::StartAgents(const std::string& binary,
                                                                         int dns_port) {
  std::vector<v1::AgentEndpoint> endpoints;
  for (int i = 0; i < options_.perspectives; ++i) {
    ASSIGN_OR_RETURN(v1::AgentEndpoint endpoint, StartAgent(binary, i, dns_port));
    endpoints.push_back(std::move(endpoint));
  }
  return endpoints;
}

absl::StatusOr<v1::AgentEndpoint> LocalCluster::StartAgent(const std::string& binary, int index,
                                                           int dns_port,
                                                           const std::string& given_region) {
  const std::string id = absl::StrCat("agent-", index + 1);
  const std::string region = given_region.empty() ? kRegions[index % 3] : given_region;
  RETURN_IF_ERROR(IssueIdentity(id, {"serverAuth"}).status());
  ASSIGN_OR_RETURN(EvpPkeyPtr observation_key, GenerateEd25519Key());
  RETURN_IF_ERROR(WriteFileAtomically(Path("agents/" + id + "-observation.key"),
                                      PrivateKeyToPem(observation_key.get()), 0600));
  RETURN_IF_ERROR(WriteFileAtomically(Path("agents/" + id + "-observation.pub"),
                                      PublicKeyToPem(observation_key.get())));
  const AgentPlacement* placement = static_cast<size_t>(index) < options_.agent_placements.size()
                                        ? &options_.agent_placements[index]
                                        : nullptr;
  v1::ProbeAgentConfig agent_config =
      ClusterAgentConfig(options_.workdir, id, region, placement, dns_port);
  if (options_.fronts > 0) {
    agent_config.mutable_listen()->mutable_tls()->add_allowed_client_identities("front");
  }
  agent_config.MergeFrom(options_.agent_overrides);
  RETURN_IF_ERROR(WriteConfig("agents/" + id + ".textproto", agent_config));
  Step(absl::StrCat("starting probe agent ", id, " in region ", region,
                    placement != nullptr
                        ? " (network namespace " + placement->network_namespace + ")"
                        : std::string()));
  std::vector<std::string> argv = {binary, "--config", Path("agents/" + id + ".textproto")};
  if (placement != nullptr) {
    argv.insert(argv.begin(), {"ip", "netns", "exec", placement->network_namespace});
  }
  ASSIGN_OR_RETURN(ChildProcess * agent, Launch(argv, id));
  ASSIGN_OR_RETURN(int port, AwaitPortFile(agent, Path("run/" + id + ".port")));
  agents_started_ = std::max(agents_started_, index + 1);
  agent_ports_[id] = port;
  agent_commands_[id] = argv;
  return ClusterAgentEndpoint(options_.workdir, id, region, placement, port);
}

absl::Status LocalCluster::StartSigners(const std::string& binary,
                                        const std::vector<v1::AgentEndpoint>& agents) {
  v1::SignerConfig signer =
      ClusterSignerConfig(options_.workdir, SoftHsmModulePath(), agents, with_approval());
  signer.set_va_id(VaId());
  signer.set_log_origin_prefix(LogOriginPrefix());
  if (options_.logged_vouching_data) signer.set_logged_vouching_data(true);
  signer.MergeFrom(options_.signer_overrides);
  RETURN_IF_ERROR(WriteConfig("signer.textproto", signer));
  Step("starting the signer (PKCS#11, SoftHSM2)");
  ASSIGN_OR_RETURN(ChildProcess * signer_process,
                   Launch({binary, "--config", Path("signer.textproto")}, "signer",
                          {absl::StrCat("SOFTHSM2_CONF=", Path("hsm/softhsm2.conf"))}));
  ASSIGN_OR_RETURN(signer_port_, AwaitPortFile(signer_process, Path("run/signer.port")));
  signer_binary_ = binary;
  signer_replica_ports_ = {signer_port_};
  if (options_.signer_replicas == 1) return absl::OkStatus();
  if (options_.signer_replicas != 2) {
    return absl::InvalidArgumentError("signer_replicas must be 1 or 2");
  }
  // A second replica: the same VA key and token, its own port and its own state.
  RETURN_IF_ERROR(
      WriteConfig("signer-2.textproto", ClusterSecondSignerConfig(options_.workdir, signer)));
  Step("starting a second signer replica");
  ASSIGN_OR_RETURN(ChildProcess * second_process,
                   Launch({binary, "--config", Path("signer-2.textproto")}, "signer-2",
                          {absl::StrCat("SOFTHSM2_CONF=", Path("hsm/softhsm2.conf"))}));
  ASSIGN_OR_RETURN(int second_port, AwaitPortFile(second_process, Path("run/signer-2.port")));
  signer_replica_ports_.push_back(second_port);
  return absl::OkStatus();
}

absl::Status LocalCluster::StartCoordinator(const std::string& binary,
                                            const std::vector<v1::AgentEndpoint>& agents) {
  ClusterCoordinatorInputs inputs;
  inputs.agents = agents;
  inputs.signer_ports = signer_replica_ports_;
  inputs.approval_port = approval_port_;
  inputs.max_probe_rounds_per_hostname = options_.max_probe_rounds_per_hostname;
  inputs.decision_reuse = options_.decision_reuse;
  inputs.public_endpoint_limits = options_.public_endpoint_limits;
  inputs.serves_fronts = options_.fronts > 0;
  v1::CoordinatorConfig coordinator_config = ClusterCoordinatorConfig(options_.workdir, inputs);
  if (options_.logged_vouching_data) {
    coordinator_config.set_batch_interval_milliseconds(options_.batch_interval_milliseconds);
  }
  coordinator_config.MergeFrom(options_.coordinator_overrides);
  RETURN_IF_ERROR(WriteConfig("coordinator.textproto", coordinator_config));
  Step(
      "starting the coordinator (and its public endpoint, gRPC and HTTPS, without client "
      "certificates)");
  ASSIGN_OR_RETURN(ChildProcess * coordinator,
                   Launch({binary, "--config", Path("coordinator.textproto")}, "coordinator"));
  coordinator_binary_ = binary;
  return AwaitCoordinatorPorts(coordinator);
}

absl::Status LocalCluster::StartFront(int front) {
  const std::string id = absl::StrCat("front-", front);
  ASSIGN_OR_RETURN(v1::CoordinatorConfig sequencer,
                   LoadConfig<v1::CoordinatorConfig>(Path("coordinator.textproto")));
  RETURN_IF_ERROR(WriteConfig(
      id + ".textproto", ClusterFrontConfig(options_.workdir, sequencer, coordinator_port_, id)));
  Step(absl::StrCat("starting front coordinator ", id, ", recording with the coordinator"));
  return RestartFront(front);
}

absl::Status LocalCluster::RestartFront(int front) {
  const std::string id = absl::StrCat("front-", front);
  for (const std::string& file :
       {id + ".port", id + ".metrics-port", id + "-public.port", id + "-public-http.port"}) {
    unlink(Path("run/" + file).c_str());
  }
  ASSIGN_OR_RETURN(ChildProcess * process,
                   Launch({coordinator_binary_, "--config", Path(id + ".textproto")}, id));
  ASSIGN_OR_RETURN(int port, AwaitPortFile(process, Path("run/" + id + ".port")));
  if (front_ports_.size() < static_cast<size_t>(front)) front_ports_.resize(front);
  front_ports_[front - 1] = port;
  return absl::OkStatus();
}

v1::PeerConfig LocalCluster::FrontPeer(int front) const {
  return Peer("front", front_port(front), stapler_);
}

absl::Status LocalCluster::AwaitCoordinatorPorts(ChildProcess* coordinator) {
  ASSIGN_OR_RETURN(coordinator_port_, AwaitPortFile(coordinator, Path("run/coordinator.port")));
  // The public servers start after the internal one has written its port.
  ASSIGN_OR_RETURN(coordinator_public_port_,
                   AwaitPortFile(coordinator, Path("run/coordinator-public.port")));
  ASSIGN_OR_RETURN(coordinator_public_http_port_,
                   AwaitPortFile(coordinator, Path("run/coordinator-public-http.port")));
  return absl::OkStatus();
}

}  // namespace mecai
