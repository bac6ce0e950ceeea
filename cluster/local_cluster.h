// A whole MECAI cluster on this machine, for `mecai demo` and the end-to-end tests: a throwaway web
// PKI, the internal mutual-TLS CA, a fresh SoftHSM2 token holding the VA key, a dnsmasq resolver, a
// real TLS target (nginx, which also serves the CRL), N probe agents, the signer and the
// coordinator, each a real process. Destruction stops every process it started.
#ifndef MECAI_CLUSTER_LOCAL_CLUSTER_H_
#define MECAI_CLUSTER_LOCAL_CLUSTER_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cluster/cluster_configs.h"
#include "common/crypto/openssl_types.h"
#include "common/process/child_process.h"
#include "google/protobuf/message.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {

struct LocalClusterOptions {
  // An existing, empty directory (absolute path).
  std::string workdir;
  // Probe agents (≥ 3), regions assigned round-robin from eu-west, us-east, ap-south.
  int perspectives = 3;
  // Print a line per step to stdout.
  bool verbose = true;
  // More names for the cluster's resolver: hostname → addresses (e.g. two loopback addresses
  // serving the two certificates of a rollover).
  std::map<std::string, std::vector<std::string>> extra_hosts;
  // The coordinator's per-hostname probe-round limit (0: its default); benchmarks raise it.
  uint32_t max_probe_rounds_per_hostname = 0;
  // Decision reuse (docs/PROTOCOL.md "Decision reuse"), on by default as in the coordinator; tests
  // and benchmarks that need a probe round per VR turn it off.
  bool decision_reuse = true;
  // Fields set here replace the limits of the coordinator's public endpoint.
  v1::PublicListenConfig public_endpoint_limits;
  // Agent i runs as agent_placements[i] says when given; otherwise on loopback with the cluster's
  // resolver.
  std::vector<AgentPlacement> agent_placements;
  // The address nginx serves the TLS target on (default 127.0.0.1; "0.0.0.0" to reach it from
  // network namespaces).
  std::string target_listen_address = "127.0.0.1";
  // When set, the phone-approval service (ARCHITECTURE.md §7) runs too, finding the domain's
  // contacts at this RDAP base URL for the "test" TLD (RFC 9083, e.g. approval/testing's nginx
  // RdapServer) and calling them through approval_voice_gateway_url (e.g. its recording
  // VoiceGateway); and the coordinator and signer serve kApprovalTrustList, the same roots as
  // kTrustList, requiring an approved record for the certificate's key.
  std::string approval_rdap_base_url;
  std::string approval_voice_gateway_url;
  // When set, the TLS target also serves an RSA certificate for kTargetHost (pki/server-rsa.pem)
  // beside its EC P-256 one (pki/server.pem), as nginx does with two ssl_certificate lines: it
  // presents the one the ClientHello selects (docs/PROTOCOL.md "Key-typed handshakes").
  bool target_serves_rsa_certificate = false;
  // Fields set here replace those of the coordinator's configuration, and of every probe agent's
  // (e.g. the limits of a load test).
  v1::CoordinatorConfig coordinator_overrides;
  v1::ProbeAgentConfig agent_overrides;
  // Signer replicas (1 or 2): the second serves on its own port with its own log state and
  // trust-list changes file, and the coordinator relays trust-list changes to both
  // (CoordinatorConfig.signer_replica_addresses); signing calls go to the first.
  int signer_replicas = 1;
  // Logged VDs (docs/VOUCHING_DATA.md "Logged VDs"): the signer approves statements without
  // signing each, and the coordinator asks for a checkpoint (a note of the Ed25519 log key) every
  // `batch_interval_milliseconds`.
  bool logged_vouching_data = false;
  uint32_t batch_interval_milliseconds = 200;
  // Fields set here replace those of the signer's configuration (e.g. its evidence cache limits).
  v1::SignerConfig signer_overrides;
  // Serial numbers of certificates nobody holds that the issuing CA's CRL lists as revoked, beside
  // pki/revoked.pem: about 51 bytes each, so 48000 make a CRL of about 2.4 MiB, the size of a large
  // CA's.
  int crl_padding_entries = 0;
  // The signer's log_origin_prefix when set (otherwise kClusterLogOriginPrefix): the log key is
  // Ed25519 and every checkpoint is also a C2SP note (docs/PUBLIC_LOG.md); the log's vkey is
  // written to LogVkeyFile().
  std::string log_origin_prefix;
  // The VA's id (VaListEntry.id, SignerConfig.va_id) when set (otherwise kClusterVaId): clusters
  // that run side by side, in one VA list, each need one of their own.
  std::string va_id;
  // Front coordinators "front-1" … (docs/ARCHITECTURE.md §14): each checks, probes and decides
  // VRs like the coordinator, and has its decisions recorded and signed by the coordinator, which
  // is then also the VA's sequencer. 0: none.
  int fronts = 0;
};

// Not thread-safe.
class LocalCluster {
 public:
  // The names of cluster/cluster_configs.h.
  static constexpr const auto& kTargetHost = kClusterTargetHost;
  static constexpr const auto& kTrustList = kClusterTrustList;
  // Served only with the approval service (LocalClusterOptions.approval_rdap_base_url).
  static constexpr const auto& kApprovalTrustList = kClusterApprovalTrustList;
  static constexpr const auto& kVaId = kClusterVaId;
  static constexpr const auto& kShardId = kClusterShardId;

  explicit LocalCluster(LocalClusterOptions options);
  ~LocalCluster();

  // Creates the PKI and token, starts every process and waits until each serves.
  absl::Status Start();
  // Stops every process (reverse start order). Idempotent.
  void Stop();

  // Sends `signal` to a started service's process group and waits (up to 10 s) until it exits.
  absl::Status Kill(const std::string& name, int signal);
  // Sends `signal` (e.g. SIGSTOP) to a started service's process group without waiting.
  absl::Status Signal(const std::string& name, int signal);
  // Starts the coordinator again with the same config and store (after Kill), waits until it
  // serves, and updates coordinator_port(); with fronts, on the port it had, which their configs
  // name.
  absl::Status RestartCoordinator();
  // Starts front coordinator `front` (1-based) again with the same config (after Kill), waits
  // until it serves, and updates front_port().
  absl::Status RestartFront(int front);
  // Starts the signer again with the same config, token and trust-list changes file (after Kill),
  // on the port it had, so that the coordinator's configuration still names it; waits until it
  // serves.
  absl::Status RestartSigner();
  // Starts probe agent "agent-<n+1>" of `region` beside the n already started (its TLS identity and
  // Observation key made as Start() makes theirs), without telling the signer or the coordinator:
  // enrolling it is the operator's change of their configs (docs/OPERATIONS.md "Adding a probe
  // agent"). Returns how the coordinator reaches it.
  absl::StatusOr<v1::AgentEndpoint> AddAgent(const std::string& region);
  // Starts the probe agent `id` again with the same config (after Kill), on the port it had, so
  // that the coordinator's configuration still names it; waits until it serves.
  absl::Status RestartAgent(const std::string& id);
  // Issues the internal mutual-TLS identity `name` again from the cluster's internal CA, with a new
  // EC P-256 key, valid from an hour ago for `lifetime`, and writes its certificate and key to the
  // two files (PEM; the key 0600): a renewed identity to move into place.
  absl::Status IssueInternalIdentity(const std::string& name,
                                     const std::vector<std::string>& usages,
                                     absl::Duration lifetime, const std::string& certificate_file,
                                     const std::string& key_file) const;
  // Issues a VA certificate for `va_public_key` (a key in the cluster's token) from the cluster's
  // root CA, as Start() issues pki/va.pem, and writes it to `file` (PEM).
  absl::Status IssueVaCertificate(EVP_PKEY* va_public_key, const std::string& file) const;

  const std::string& workdir() const { return options_.workdir; }
  std::string Path(const std::string& name) const { return options_.workdir + "/" + name; }
  int target_port() const { return target_port_; }
  int coordinator_port() const { return coordinator_port_; }
  // Front coordinator `front`'s mutual-TLS port (1-based; LocalClusterOptions.fronts).
  int front_port(int front) const { return front_ports_.at(front - 1); }
  // How a TLS server operator (identity "stapler") reaches front coordinator `front`.
  v1::PeerConfig FrontPeer(int front) const;
  // The coordinator's public endpoint (docs/PROTOCOL.md "The public endpoint"): its gRPC and its
  // HTTPS port on 127.0.0.1.
  int coordinator_public_port() const { return coordinator_public_port_; }
  int coordinator_public_http_port() const { return coordinator_public_http_port_; }
  int signer_port() const { return signer_port_; }
  // The process id of a started service ("coordinator", "signer", "agent-1", "nginx", ...), or
  // NOT_FOUND.
  absl::StatusOr<pid_t> ProcessId(const std::string& name) const;
  // How a TLS server operator (identity "stapler") reaches the coordinator.
  v1::PeerConfig CoordinatorPeer() const;
  // How anyone reaches the public endpoint's gRPC binding: no client certificate, the server
  // verified with the internal CA (internal/ca.pem) as "coordinator".
  v1::PeerConfig CoordinatorPublicPeer() const;
  // The CA file that verifies the public endpoint's certificate, for HTTPS clients (curl --cacert).
  std::string CoordinatorPublicCaFile() const { return Path("internal/ca.pem"); }
  // How a trust-list administrator (identity "admin") reaches the coordinator.
  v1::PeerConfig AdminPeer() const;
  // How a CA front end (identity "ca-frontend") reaches the approval service to submit requests.
  v1::PeerConfig ApprovalPeer() const;
  // The certapproval web page's port (plain HTTP on 127.0.0.1); 0 without the approval service.
  int approval_web_port() const { return approval_web_port_; }
  // Files: the served certificate with its chain, its leaf alone, its key, the VA list.
  std::string ServerChainFile() const { return Path("pki/server.pem"); }
  std::string ServerLeafFile() const { return Path("pki/server-leaf.pem"); }
  std::string ServerKeyFile() const { return Path("pki/server.key"); }
  // With LocalClusterOptions.target_serves_rsa_certificate: the target's RSA certificate with its
  // chain, and its key.
  std::string ServerRsaChainFile() const { return Path("pki/server-rsa.pem"); }
  std::string ServerRsaKeyFile() const { return Path("pki/server-rsa.key"); }
  // The VA list of the cluster's one VA (VaId()): its CA, the VA key's pin, its log key and the
  // shard's log vkey (VaListEntry.log_vkeys, which witnesses of the list witness).
  std::string VaListFile() const { return Path("va-list.textproto"); }
  // The shard's log vkey (`mecai log vkey`).
  std::string LogVkeyFile() const { return Path("pki/log.vkey"); }
  // The signer's log_origin_prefix: LocalClusterOptions.log_origin_prefix, or
  // kClusterLogOriginPrefix.
  std::string LogOriginPrefix() const {
    return options_.log_origin_prefix.empty() ? std::string(kClusterLogOriginPrefix)
                                              : options_.log_origin_prefix;
  }
  // LocalClusterOptions.va_id, or kClusterVaId.
  std::string VaId() const {
    return options_.va_id.empty() ? std::string(kClusterVaId) : options_.va_id;
  }
  // The trust-list maintainer's key pair (docs/PROTOCOL.md): the Ed25519 private key that signs
  // trust-list changes (`mecai trust-list`), and its public key, which the coordinator's and the
  // signer's trust_list_maintainer_key_files name.
  std::string MaintainerKeyFile() const { return Path("trust-list/maintainer.key"); }
  std::string MaintainerPublicKeyFile() const { return Path("trust-list/maintainer.pub"); }
  // The signer's own record of the trust-list changes it applied (SignerConfig
  // .trust_list_changes_file).
  std::string SignerTrustListChangesFile() const {
    return Path("store/signer-trust-list-changes.pb");
  }
  // How the coordinator reaches the signer: its mutual-TLS identity "coordinator" (what a
  // compromised coordinator holds).
  v1::PeerConfig SignerPeerAsCoordinator() const;
  // The same for signer replica `replica` (0 is the first; LocalClusterOptions.signer_replicas).
  v1::PeerConfig SignerReplicaPeerAsCoordinator(int replica) const;
  // The Prometheus endpoint port of a service ("coordinator", "signer", "agent-1", ...).
  absl::StatusOr<int> MetricsPort(const std::string& service) const;

  // Issues another valid certificate for `hostname` from the same issuing CA (one the target does
  // not serve) and writes "<name>.pem" (with chain), "<name>-leaf.pem" and "<name>.key" under
  // pki/. Its CRL distribution point is the cluster's CRL. Its key is `key`, or a fresh EC P-256
  // key when null.
  absl::Status IssueServerCertificate(const std::string& hostname, const std::string& name,
                                      EvpPkeyPtr key = nullptr);
  // pki/revoked.pem: a certificate for the target host that the cluster's CRL lists as revoked.
  std::string RevokedChainFile() const { return Path("pki/revoked.pem"); }
  std::string RevokedKeyFile() const { return Path("pki/revoked.key"); }

 private:
  using Identity = ClusterIdentity;
  struct Resolver {
    ChildProcess* process;
    int port;
  };

  // The steps of Start(), in order.
  void MakeDirectories() const;
  absl::Status BuildPki();
  absl::Status BuildHsm();
  absl::Status CreateMaintainerKey() const;
  // Starts dnsmasq answering for kTargetHost and options_.extra_hosts.
  absl::StatusOr<Resolver> StartResolver(const std::string& dnsmasq);
  // Writes the issuing CA's CRL (revoking pki/revoked.pem) and starts nginx serving it over HTTP
  // and the TLS target (pki/server.pem) on target_port_.
  absl::Status StartWebServer(const std::string& nginx);
  // The identities of the internal mutual TLS that every cluster has.
  absl::Status IssueServiceIdentities();
  // Starts options_.perspectives probe agents, regions round-robin; returns how the coordinator
  // reaches each.
  absl::StatusOr<std::vector<v1::AgentEndpoint>> StartAgents(const std::string& binary,
                                                             int dns_port);
  // `region`: empty for round-robin.
  absl::StatusOr<v1::AgentEndpoint> StartAgent(const std::string& binary, int index, int dns_port,
                                               const std::string& region = "");
  // Starts the approval service (its record-signing key in approval/) and returns its gRPC port.
  absl::StatusOr<int> StartApprovalService(const std::string& binary);
  // Starts the signer and, with options_.signer_replicas 2, its second replica.
  absl::Status StartSigners(const std::string& binary,
                            const std::vector<v1::AgentEndpoint>& agents);
  absl::Status StartCoordinator(const std::string& binary,
                                const std::vector<v1::AgentEndpoint>& agents);
  // Writes front `front`'s config and starts it; waits until it serves.
  absl::Status StartFront(int front);
  // Waits for the started coordinator's port files (its own, and its public endpoint's).
  absl::Status AwaitCoordinatorPorts(ChildProcess* coordinator);

  absl::StatusOr<Identity> IssueIdentity(const std::string& name,
                                         const std::vector<std::string>& usages);
  absl::StatusOr<ChildProcess*> Launch(const std::vector<std::string>& argv,
                                       const std::string& name,
                                       const std::vector<std::string>& environment = {});
  absl::StatusOr<int> AwaitPortFile(ChildProcess* process, const std::string& port_file);
  absl::Status WriteConfig(const std::string& name, const google::protobuf::Message& config);
  v1::PeerConfig Peer(const std::string& server_name, int port, const Identity& client) const;
  void Step(const std::string& text) const;
  bool with_approval() const { return !options_.approval_rdap_base_url.empty(); }

  const LocalClusterOptions options_;
  const absl::Time now_;
  std::vector<std::unique_ptr<ChildProcess>> processes_;
  EvpPkeyPtr root_key_;
  X509Ptr root_;
  EvpPkeyPtr issuing_key_;
  X509Ptr issuing_;
  EvpPkeyPtr internal_key_;
  X509Ptr internal_ca_;
  Identity stapler_;
  Identity admin_;
  int target_port_ = 0;
  // The issuing CA's CRL distribution point, served by nginx (RFC 5280 §4.2.1.13).
  int crl_port_ = 0;
  // nginx's two ports, held from their choice on (ReservedTcpPort): the CRL's URL is in the
  // certificates issued before nginx starts, and no other server may answer on it.
  std::unique_ptr<ReservedTcpPort> crl_port_reservation_;
  std::unique_ptr<ReservedTcpPort> target_port_reservation_;
  int coordinator_port_ = 0;
  std::vector<int> front_ports_;
  int coordinator_public_port_ = 0;
  int coordinator_public_http_port_ = 0;
  int signer_port_ = 0;
  // Every signer replica's port, the first's first.
  std::vector<int> signer_replica_ports_;
  int approval_port_ = 0;
  int approval_web_port_ = 0;
  Identity approval_client_;
  std::string coordinator_binary_;
  std::string signer_binary_;
  std::string probe_agent_binary_;
  int dns_port_ = 0;
  // Probe agents started so far (Start() and AddAgent()), and by id the port each serves on and
  // the command that starts it.
  int agents_started_ = 0;
  std::map<std::string, int> agent_ports_;
  std::map<std::string, std::vector<std::string>> agent_commands_;
};

}  // namespace mecai

#endif  // MECAI_CLUSTER_LOCAL_CLUSTER_H_
