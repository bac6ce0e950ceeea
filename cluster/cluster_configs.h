// The configuration of every service of a local cluster, built from its options and its file paths.
#ifndef MECAI_CLUSTER_CLUSTER_CONFIGS_H_
#define MECAI_CLUSTER_CLUSTER_CONFIGS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "proto/mecai/v1/config.pb.h"

namespace mecai {

// The names every local cluster uses (LocalCluster names the public ones too).
inline constexpr char kClusterTargetHost[] = "www.mecai.test";
inline constexpr char kClusterTrustList[] = "demo-roots";
// Served only with the approval service: the same roots, requiring an approved record.
inline constexpr char kClusterApprovalTrustList[] = "demo-roots-approved-out-of-band";
inline constexpr char kClusterVaId[] = "demo-va";
inline constexpr char kClusterShardId[] = "demo-shard-1";
// The SoftHSM2 token and its two keys: the VA key signs VDs, the log key checkpoints.
inline constexpr char kClusterTokenLabel[] = "mecai-va";
inline constexpr char kClusterVaKeyLabel[] = "va-signing-key";
inline constexpr char kClusterLogKeyLabel[] = "va-log-key";
// The signer's log_origin_prefix: the log key (Ed25519) also signs each checkpoint as a C2SP note
// of origin "<prefix>/<shard>" (docs/PUBLIC_LOG.md), which a log server serves.
inline constexpr char kClusterLogOriginPrefix[] = "log.mecai.test";

// Where one probe agent runs when it is not on this host's loopback: a network namespace (the
// simulated region, `ip netns`) with its own address and its own resolver (ARCHITECTURE.md §9).
struct AgentPlacement {
  // The namespace to run the agent in (ip netns exec).
  std::string network_namespace;
  // The agent's address inside the namespace, reachable from the host (its listen address).
  std::string address;
  // The resolver the agent asks ("ip" or "ip:port"), usually inside the namespace.
  std::string nameserver;
  // The special-purpose range the agent may connect to (the test network), CIDR.
  std::string allowed_range;
};

// A certificate and its private key of the cluster's internal mutual TLS (trust rule 7).
struct ClusterIdentity {
  std::string certificate_file;
  std::string key_file;
};

// `workdir`/`name`: every file of a cluster is under its work directory.
std::string ClusterPath(const std::string& workdir, const std::string& name);

// The files of the internal identity `name`: internal/<name>.pem and internal/<name>.key.
ClusterIdentity ClusterIdentityFiles(const std::string& workdir, const std::string& name);

// How a client holding `client` reaches the service `server_name` on 127.0.0.1:`port`, verifying
// it with the internal CA (internal/ca.pem).
v1::PeerConfig ClusterPeer(const std::string& workdir, const std::string& server_name, int port,
                           const ClusterIdentity& client);

// A service's side of the internal mutual TLS: `identity`, and clients of the internal CA whose
// identity is `client`.
v1::ServerTls ClusterServerTls(const std::string& workdir, const ClusterIdentity& identity,
                               const std::string& client);

// The VA key in the cluster's token: SoftHSM2 at `module_path`, the PIN in hsm/user.pin.
v1::Pkcs11Config ClusterVaKeyPkcs11(const std::string& workdir, const std::string& module_path);

// The dnsmasq hosts file: the target host on 127.0.0.1, then every extra host's addresses.
std::string ClusterHostsFile(const std::map<std::string, std::vector<std::string>>& extra_hosts);

// nginx (run/nginx.conf): the issuing CA's CRL over HTTP on 127.0.0.1:`crl_port` from crl/, and
// the TLS target (pki/server.pem) on `target_listen_address`:`target_port`. `as_root`: nginx runs
// as root (its workers too), as a root caller needs. `with_rsa_certificate`: the target also holds
// pki/server-rsa.pem (a second ssl_certificate line) and presents the one the ClientHello selects
// (docs/PROTOCOL.md "Key-typed handshakes").
std::string ClusterNginxConfig(const std::string& workdir, const std::string& target_listen_address,
                               int crl_port, int target_port, bool as_root,
                               bool with_rsa_certificate = false);

// Probe agent `id` of `region`, its Observation key in agents/, on loopback asking the cluster's
// dnsmasq on `dns_port`, or placed in a network namespace when `placement` is not null.
v1::ProbeAgentConfig ClusterAgentConfig(const std::string& workdir, const std::string& id,
                                        const std::string& region, const AgentPlacement* placement,
                                        int dns_port);

// The coordinator's view of probe agent `id` serving on `port`: its perspective, how the
// coordinator (identity "coordinator") reaches it, and its Observation public key.
v1::AgentEndpoint ClusterAgentEndpoint(const std::string& workdir, const std::string& id,
                                       const std::string& region, const AgentPlacement* placement,
                                       int port);

// The trust list kClusterTrustList: the cluster's root CA (pki/root-ca.pem); with
// `require_approval`, the same roots as kClusterApprovalTrustList, requiring an approved record
// (ARCHITECTURE.md §7).
v1::TrustListConfig ClusterTrustList(const std::string& workdir, bool require_approval);

// The VA list of clients and auditors: the cluster's VA, pinned to `va_spki_sha256`
// (docs/VOUCHING_DATA.md §4), with its log key.
v1::VaList ClusterVaList(const std::string& workdir, const std::string& va_spki_sha256);

// The signer: the VA and log keys in the token of ClusterVaKeyPkcs11, the agents' Observation keys,
// the trust lists (the approval one and the approval service's record key `with_approval`), and the
// trust-list maintainer's key.
v1::SignerConfig ClusterSignerConfig(const std::string& workdir, const std::string& module_path,
                                     const std::vector<v1::AgentEndpoint>& agents,
                                     bool with_approval);

// A second signer replica like `first`: the same key and token, its own port file, log state and
// trust-list changes file.
v1::SignerConfig ClusterSecondSignerConfig(const std::string& workdir,
                                           const v1::SignerConfig& first);

struct ClusterCoordinatorInputs {
  std::vector<v1::AgentEndpoint> agents;
  // Every signer replica's port, the first's first; signing calls go to the first.
  std::vector<int> signer_ports;
  // The approval service's gRPC port; 0: none.
  int approval_port = 0;
  // LocalClusterOptions.max_probe_rounds_per_hostname; 0: the coordinator's default.
  uint32_t max_probe_rounds_per_hostname = 0;
  // LocalClusterOptions.decision_reuse: false turns decision reuse off.
  bool decision_reuse = true;
  // LocalClusterOptions.public_endpoint_limits: fields set here replace the public endpoint's.
  v1::PublicListenConfig public_endpoint_limits;
  // LocalClusterOptions.fronts > 0: the coordinator is also the sequencer of front coordinators,
  // identity "front" (docs/ARCHITECTURE.md §14).
  bool serves_fronts = false;
};

// The coordinator: its clients "stapler" and "admin", the agents, the signer (and its replicas),
// the trust lists, the approval service when there is one, and the trust-list maintainer's key;
// and the public endpoint (docs/PROTOCOL.md "The public endpoint") on loopback, gRPC and HTTPS,
// presenting the coordinator's own certificate of the internal CA (clients verify it with
// internal/ca.pem and the name "coordinator", and present none).
v1::CoordinatorConfig ClusterCoordinatorConfig(const std::string& workdir,
                                               const ClusterCoordinatorInputs& inputs);

// Front coordinator `front_id` ("front-1", ...; docs/ARCHITECTURE.md §14): `sequencer`'s checks,
// agents, trust lists and public endpoint limits, without its log (store, signer, checkpoints,
// administration), recording with the sequencer at 127.0.0.1:`sequencer_port`, all under the
// identity "front" (which the agents and the approval service accept, the signer not); its ports in
// run/<front_id>.port, run/<front_id>-public.port, run/<front_id>-public-http.port and
// run/<front_id>.metrics-port.
v1::CoordinatorConfig ClusterFrontConfig(const std::string& workdir,
                                         const v1::CoordinatorConfig& sequencer, int sequencer_port,
                                         const std::string& front_id);

// The phone-approval service: its record-signing key in approval/, RDAP for the "test" TLD at
// `rdap_base_url`, calls through `voice_gateway_url`, both on loopback.
v1::ApprovalConfig ClusterApprovalConfig(const std::string& workdir,
                                         const std::string& rdap_base_url,
                                         const std::string& voice_gateway_url);

}  // namespace mecai

#endif  // MECAI_CLUSTER_CLUSTER_CONFIGS_H_
