// coordinator --config FILE: the Vouching Server front of a MECAI cluster (ARCHITECTURE.md §1).
// Flags → config → wiring → serve.
#include <algorithm>
#include <cstring>
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/base/clock.h"
#include "common/base/config_loader.h"
#include "common/base/logging.h"
#include "common/base/metrics.h"
#include "common/base/service_main.h"
#include "common/base/shutdown_signal.h"
#include "common/base/status.h"
#include "common/evidence/enrolled_agents.h"
#include "common/evidence/trust_list_reloader.h"
#include "common/evidence/trust_lists.h"
#include "common/net/address_policy.h"
#include "common/net/http_fetcher.h"
#include "common/rpc/certificate_expiry_metrics.h"
#include "common/rpc/grpc_channel.h"
#include "common/rpc/grpc_server.h"
#include "common/rpc/tls_credentials.h"
#include "coordinator/approval_checker.h"
#include "coordinator/audit_service.h"
#include "coordinator/checkpoint_signer.h"
#include "coordinator/coordinator.h"
#include "coordinator/coordinator_config.h"
#include "coordinator/coordinator_metrics.h"
#include "coordinator/log_guard.h"
#include "coordinator/peer_monitor.h"
#include "coordinator/periodic_checkpoint.h"
#include "coordinator/probe_fanout.h"
#include "coordinator/public_endpoint.h"
#include "coordinator/public_endpoint_metrics.h"
#include "coordinator/record_store.h"
#include "coordinator/store_backup.h"
#include "coordinator/trust_list_admin.h"
#include "coordinator/vouching_service.h"
#include "coordinator/witness_collector.h"

namespace {

// How often the channels to the agents and the signer are checked
// (mecai_coordinator_peer_connected).
constexpr absl::Duration kPeerCheckInterval = absl::Seconds(1);

constexpr char kUsage[] =
    "usage: coordinator --config FILE\n"
    "\n"
    "Serves mecai.v1.VouchingService: checks Vouching Requests, probes from every configured\n"
    "perspective, records each decision in RocksDB and returns Vouching Data from the signer.\n"
    "With public_listen, also serves Vouch to anyone without a client certificate, over gRPC\n"
    "and as an HTTPS POST (docs/PROTOCOL.md \"The public endpoint\").\n"
    "An agent or the signer that is down does not stop it: VRs that need that peer are refused\n"
    "until it is back (metric mecai_coordinator_peer_connected).\n"
    "FILE is a mecai.v1.CoordinatorConfig in protobuf text format (see deploy/local/).\n";

absl::Status Run(const std::string& config_path) {
  ASSIGN_OR_RETURN(auto loaded, mecai::LoadConfig<mecai::v1::CoordinatorConfig>(config_path));
  mecai::v1::CoordinatorConfig config = mecai::WithCoordinatorDefaults(loaded);
  RETURN_IF_ERROR(mecai::ValidateCoordinatorConfig(config, config_path));
  ASSIGN_OR_RETURN(auto trust_lists, mecai::TrustLists::Load(config.trust_lists()));
  ASSIGN_OR_RETURN(auto agents, mecai::EnrolledAgents::Load(config.agents()));
  mecai::SystemClock& clock = mecai::SystemClock::Get();
  auto registry = std::make_shared<prometheus::Registry>();
  mecai::GrpcServerMetrics grpc_metrics(*registry);
  mecai::CoordinatorMetrics metrics(*registry);
  mecai::CertificateExpiryMetrics certificate_expiry(
      *registry, "coordinator",
      std::min(mecai::TlsReloadInterval(config.listen().tls().reload_interval_seconds()),
               mecai::TlsReloadInterval(config.public_listen().reload_interval_seconds())));
  RETURN_IF_ERROR(certificate_expiry.WatchListener(config.listen()));
  if (config.has_public_listen()) {
    RETURN_IF_ERROR(certificate_expiry.Watch(mecai::kPublicCertificate,
                                             config.public_listen().certificate_file()));
  }
  ASSIGN_OR_RETURN(auto fanout, mecai::ProbeFanout::Create(config.agents(), *agents, clock));
  ASSIGN_OR_RETURN(auto signer_channel, mecai::MakeChannel(config.signer()));
  auto signer = mecai::v1::SignerService::NewStub(signer_channel);
  // Peers are awaited for a while at start, then followed: one that is down does not stop this
  // coordinator, only the VRs that need it (coordinator/peer_monitor.h).
  std::vector<mecai::MonitoredPeer> peers;
  for (const auto& agent : fanout->Channels()) {
    peers.push_back({agent.perspective_id, agent.address, agent.channel});
  }
  peers.push_back({"signer", config.signer().address(), signer_channel});
  mecai::PeerMonitor peer_monitor(std::move(peers), &metrics, kPeerCheckInterval);
  const std::vector<std::string> unconnected = peer_monitor.WaitForPeers(
      absl::Now() + absl::Milliseconds(config.startup_connect_timeout_milliseconds()));
  for (const std::string& peer : unconnected) {
    MECAI_LOG(Warning) << "starting without " << peer
                       << ": not connected within startup_connect_timeout_milliseconds; VRs "
                          "that need it are refused until it is";
  }
  ASSIGN_OR_RETURN(auto store,
                   mecai::RecordStore::Open(config.store_path(), config.log_shard_id()));
  // The trust-list changes kept in the store, verified again with the maintainers'
  // keys, in effect here (a removed root is refused before probing) and re-sent to the signer.
  ASSIGN_OR_RETURN(mecai::MaintainerKeys maintainer_keys,
                   mecai::MaintainerKeys::Load(config.trust_list_maintainer_key_files()));
  // Trust-list changes go to every signer replica (signer_replica_addresses, or every address the
  // signer's name resolves to), not only the one the signing connection lands on.
  mecai::TrustListRelay relay(config.signer(),
                              std::vector<std::string>(config.signer_replica_addresses().begin(),
                                                       config.signer_replica_addresses().end()),
                              absl::Milliseconds(config.signer_timeout_milliseconds()));
  ASSIGN_OR_RETURN(
      auto trust_list_changes,
      mecai::RestoreTrustListChanges(*store, std::move(maintainer_keys), *trust_lists, relay));
  metrics.SetLogSize(store->TreeSize());
  store->ObserveCommits([&metrics](double seconds) { metrics.RecordStoreCommit(seconds); });
  // Serves /metrics when listen.metrics_address is set.
  ASSIGN_OR_RETURN(auto metrics_server, mecai::MetricsServer::Start(config.listen(), registry));
  std::vector<std::string> fetch_ranges(
      config.revocation().allowed_special_address_ranges().begin(),
      config.revocation().allowed_special_address_ranges().end());
  ASSIGN_OR_RETURN(mecai::AddressPolicy fetch_policy, mecai::AddressPolicy::Create(fetch_ranges));
  mecai::CurlHttpFetcher fetcher(std::move(fetch_policy));
  mecai::RevocationOptions revocation_options;
  revocation_options.fetch_timeout =
      absl::Milliseconds(config.revocation().fetch_timeout_milliseconds());
  revocation_options.max_crl_bytes = config.revocation().max_crl_bytes();
  revocation_options.max_ocsp_bytes = config.revocation().max_ocsp_response_bytes();
  revocation_options.max_cache_entries = config.revocation().max_cache_entries();
  revocation_options.max_cache_age = absl::Seconds(config.revocation().max_cache_age_seconds());
  revocation_options.limits.max_evidence_age =
      absl::Seconds(config.revocation().evidence_max_age_seconds());
  mecai::RevocationChecker revocation(fetcher, clock, revocation_options);
  // Asked for VRs of trust lists that require issuance approval (ARCHITECTURE.md §7); connects
  // lazily, so while it is unreachable only those VRs are refused.
  std::unique_ptr<mecai::v1::ApprovalService::Stub> approval_service;
  std::unique_ptr<mecai::ApprovalChecker> approval;
  if (config.has_approval_service()) {
    ASSIGN_OR_RETURN(auto approval_channel, mecai::MakeChannel(config.approval_service()));
    approval_service = mecai::v1::ApprovalService::NewStub(approval_channel);
    approval = std::make_unique<mecai::ApprovalChecker>(
        approval_service.get(), config.approval_service().address(),
        absl::Milliseconds(config.approval_timeout_milliseconds()));
  }
  mecai::CheckpointSigner checkpoints(*store, *signer, clock,
                                      absl::Milliseconds(config.signer_timeout_milliseconds()));
  // Logged VDs (docs/VOUCHING_DATA.md "Logged VDs"): one checkpoint every batch interval proves
  // every VD recorded since.
  const bool logged_vds = config.batch_interval_milliseconds() > 0;
  mecai::LoggedVdProofs proofs(*store);
  if (logged_vds) checkpoints.UseEntries();
  // Witnesses cosign each stored checkpoint note, on the collector's own thread; logged VDs then
  // wait for that round, so that they carry the cosignatures (docs/PUBLIC_LOG.md "Witnesses").
  std::unique_ptr<mecai::WitnessCollector> witnesses;
  if (config.witnesses_size() > 0) {
    ASSIGN_OR_RETURN(witnesses, mecai::WitnessCollector::Create(
                                    {config.witnesses().begin(), config.witnesses().end()}, *store,
                                    registry.get()));
    if (logged_vds) {
      witnesses->OnCollected(
          [&proofs](const mecai::v1::SignedCheckpoint& checkpoint, uint64_t tree_size) {
            proofs.CheckpointStored(checkpoint, tree_size);
          });
    }
  }
  checkpoints.ObserveCheckpoints(
      [&witnesses, &proofs, logged_vds](const mecai::v1::SignedCheckpoint& checkpoint,
                                        uint64_t tree_size) {
        if (witnesses != nullptr) {
          witnesses->CheckpointStored(checkpoint);
        } else if (logged_vds) {
          proofs.CheckpointStored(checkpoint, tree_size);
        }
      });
  // No VR is decided until the signer confirms that this store extends the last checkpoint it
  // signed: a store restored from an old backup, or a copy, never serves a rolled-back or forked
  // log (docs/OPERATIONS.md "Restoring a coordinator's store").
  mecai::LogGuard log_guard(checkpoints, &metrics);
  log_guard.Confirm();
  mecai::Coordinator coordinator(config, *trust_lists, *fanout, *store, *signer, revocation, clock,
                                 &metrics, approval.get(), &log_guard);
  if (logged_vds) coordinator.UseLoggedVds(&proofs);
  mecai::VouchingServiceImpl vouching(coordinator);
  mecai::AuditServiceImpl audit(*store, checkpoints, &log_guard);
  // The signer holds every VD it signed until a checkpoint proves its record is in the log.
  mecai::PeriodicCheckpoint periodic_checkpoint(
      checkpoints, *store,
      logged_vds ? absl::Milliseconds(config.batch_interval_milliseconds())
                 : absl::Seconds(config.checkpoint_interval_seconds()),
      &metrics, &log_guard, [&proofs] { proofs.ExpireOverdue(absl::Now()); });
  std::unique_ptr<mecai::StoreBackup> store_backup;
  if (config.has_store_backup()) {
    mecai::StoreBackupOptions backup_options;
    backup_options.directory = config.store_backup().directory();
    backup_options.interval = absl::Seconds(config.store_backup().interval_seconds());
    backup_options.kept = config.store_backup().kept();
    store_backup = std::make_unique<mecai::StoreBackup>(*store, backup_options, clock, &metrics);
  }
  mecai::TrustListAdminImpl admin(
      *trust_list_changes, *trust_lists, *store, relay, clock,
      std::vector<std::string>(config.admin_identities().begin(), config.admin_identities().end()));
  // Bundles re-read when their files change, as in the signer; changes stay applied across reloads.
  mecai::TrustListReloader reloader(*trust_lists,
                                    absl::Seconds(config.trust_list_reload_seconds()));
  ASSIGN_OR_RETURN(auto server,
                   mecai::StartServer(config.listen(), {&vouching, &audit, &admin}, &grpc_metrics));
  // The public Vouch endpoint (docs/PROTOCOL.md "The public endpoint"): VRs only, from anyone,
  // without a client certificate; everything else stays on the mutual-TLS server above.
  std::unique_ptr<mecai::PublicEndpointMetrics> public_metrics;
  std::unique_ptr<mecai::PublicEndpoint> public_endpoint;
  mecai::PublicEndpointServers public_servers;
  if (config.has_public_listen()) {
    public_metrics = std::make_unique<mecai::PublicEndpointMetrics>(*registry);
    public_endpoint = mecai::PublicEndpoint::FromConfig(
        config,
        [&coordinator](const std::string& serialized_request, absl::Time deadline,
                       mecai::PublicEndpoint::VouchDone done) {
          coordinator.VouchAsync(serialized_request, deadline, std::move(done));
        },
        public_metrics.get());
    ASSIGN_OR_RETURN(public_servers, mecai::StartPublicEndpoint(config, *public_endpoint));
  }
  MECAI_LOG(Info) << "coordinator shard " << config.log_shard_id() << " ready with "
                  << agents->size() << " perspectives; log size " << store->TreeSize();
  mecai::ServeUntilSignal(*server);
  // The public servers stop as this returns, before what they call into.
  if (public_servers.grpc != nullptr) public_servers.grpc->Shutdown();
  public_servers.http.reset();
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  return mecai::ServiceMain(argc, argv, "coordinator", kUsage, Run);
}
