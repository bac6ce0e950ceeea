// coordinator --config FILE: the Vouching Server front of a MECAI cluster (ARCHITECTURE.md §1).
// Flags → config → wiring → serve.
#include <algorithm>
#include <cstring>
#include <iostream>
#include <limits>
#include <string>

#include "absl/cleanup/cleanup.h"
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
#include "coordinator/local_decision_log.h"
#include "coordinator/log_guard.h"
#include "coordinator/peer_monitor.h"
#include "coordinator/periodic_checkpoint.h"
#include "coordinator/probe_fanout.h"
#include "coordinator/public_endpoint.h"
#include "coordinator/public_endpoint_metrics.h"
#include "coordinator/record_store.h"
#include "coordinator/sequencer_client.h"
#include "coordinator/sequencer_service.h"
#include "coordinator/store_backup.h"
#include "coordinator/trust_list_admin.h"
#include "coordinator/vouching_service.h"
#include "coordinator/witness_collector.h"

namespace {

// How often the channels to the agents and the signer (or sequencer) are checked
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
    "With sequencer set it is a front: it keeps no state and has each decision recorded and\n"
    "signed by the VA's sequencer, the coordinator with store_path (docs/ARCHITECTURE.md §14).\n"
    "FILE is a mecai.v1.CoordinatorConfig in protobuf text format (see deploy/local/).\n";

// The half of a coordinator that holds the log: its record store and everything around it (the
// signer's checkpoints, witnesses, backups, trust-list administration, the auditors' service), and
// the SequencerService its fronts record decisions with (docs/ARCHITECTURE.md §14). Members in
// construction order; each outlives what is built after it.
struct LogSide {
  std::unique_ptr<mecai::RecordStore> store;
  std::unique_ptr<mecai::TrustListRelay> relay;
  std::unique_ptr<mecai::TrustListChangeLedger> trust_list_changes;
  std::unique_ptr<mecai::CheckpointSigner> checkpoints;
  std::unique_ptr<mecai::LoggedVdProofs> proofs;
  std::unique_ptr<mecai::WitnessCollector> witnesses;
  std::unique_ptr<mecai::LogGuard> log_guard;
  std::unique_ptr<mecai::LocalDecisionLog> decisions;
  std::unique_ptr<mecai::AuditServiceImpl> audit;
  std::unique_ptr<mecai::PeriodicCheckpoint> periodic_checkpoint;
  std::unique_ptr<mecai::StoreBackup> store_backup;
  std::unique_ptr<mecai::TrustListAdminImpl> admin;
  std::unique_ptr<mecai::SequencerServiceImpl> sequencer_service;
};

absl::StatusOr<std::unique_ptr<LogSide>> OpenLog(const mecai::v1::CoordinatorConfig& config,
                                                 mecai::TrustLists& trust_lists,
                                                 mecai::v1::SignerService::StubInterface& signer,
                                                 mecai::CoordinatorMetrics& metrics,
                                                 prometheus::Registry& registry,
                                                 const mecai::Clock& clock) {
  auto log = std::make_unique<LogSide>();
  ASSIGN_OR_RETURN(log->store,
                   mecai::RecordStore::Open(config.store_path(), config.log_shard_id()));
  // The trust-list changes kept in the store, verified again with the maintainers'
  // keys, in effect here (a removed root is refused before probing) and re-sent to the signer.
  ASSIGN_OR_RETURN(mecai::MaintainerKeys maintainer_keys,
                   mecai::MaintainerKeys::Load(config.trust_list_maintainer_key_files()));
  // Trust-list changes go to every signer replica (signer_replica_addresses, or every address the
  // signer's name resolves to), not only the one the signing connection lands on.
  log->relay = std::make_unique<mecai::TrustListRelay>(
      config.signer(),
      std::vector<std::string>(config.signer_replica_addresses().begin(),
                               config.signer_replica_addresses().end()),
      absl::Milliseconds(config.signer_timeout_milliseconds()));
  ASSIGN_OR_RETURN(log->trust_list_changes,
                   mecai::RestoreTrustListChanges(*log->store, std::move(maintainer_keys),
                                                  trust_lists, *log->relay));
  metrics.SetLogSize(log->store->TreeSize());
  log->store->ObserveCommits([&metrics](double seconds) { metrics.RecordStoreCommit(seconds); });
  log->checkpoints = std::make_unique<mecai::CheckpointSigner>(
      *log->store, signer, clock, absl::Milliseconds(config.signer_timeout_milliseconds()));
  // Logged VDs (docs/VOUCHING_DATA.md "Logged VDs"): checkpoints are signed with the log's entries
  // as the leaves, and each VR waits for the one that proves its VD.
  const bool logged_vds = config.batch_interval_milliseconds() > 0;
  log->proofs = std::make_unique<mecai::LoggedVdProofs>(*log->store);
  if (logged_vds) log->checkpoints->UseEntries();
  // Witnesses cosign each stored checkpoint (docs/PUBLIC_LOG.md "Witnesses"); a logged VD then
  // waits for the cosigned note, so that it carries the cosignatures.
  if (config.witnesses_size() > 0) {
    ASSIGN_OR_RETURN(log->witnesses, mecai::WitnessCollector::Create(
                                         {config.witnesses().begin(), config.witnesses().end()},
                                         *log->store, &registry));
    if (logged_vds) {
      log->witnesses->OnCollected(
          [proofs = log->proofs.get()](const mecai::v1::SignedCheckpoint& checkpoint,
                                       uint64_t tree_size) {
            proofs->CheckpointStored(checkpoint, tree_size);
          });
    }
  }
  log->checkpoints->ObserveCheckpoints(
      [witnesses = log->witnesses.get(), proofs = log->proofs.get(), logged_vds](
          const mecai::v1::SignedCheckpoint& checkpoint, uint64_t tree_size) {
        if (witnesses != nullptr) {
          witnesses->CheckpointStored(checkpoint);
        } else if (logged_vds) {
          proofs->CheckpointStored(checkpoint, tree_size);
        }
      });
  // No VR is decided until the signer confirms that this store extends the last checkpoint it
  // signed: a store restored from an old backup, or a copy, never serves a rolled-back or forked
  // log (docs/OPERATIONS.md "Restoring a coordinator's store").
  log->log_guard = std::make_unique<mecai::LogGuard>(*log->checkpoints, &metrics);
  log->log_guard->Confirm();
  log->decisions = std::make_unique<mecai::LocalDecisionLog>(
      *log->store, signer, absl::Milliseconds(config.signer_timeout_milliseconds()),
      mecai::LogIndexAttempts(config), static_cast<int>(config.vouch_worker_threads()),
      config.max_vouch_in_flight(), clock, &metrics);
  log->audit = std::make_unique<mecai::AuditServiceImpl>(*log->store, *log->checkpoints,
                                                         log->log_guard.get());
  // The signer holds every VD it signed until a checkpoint proves its record is in the log.
  log->periodic_checkpoint = std::make_unique<mecai::PeriodicCheckpoint>(
      *log->checkpoints, *log->store,
      logged_vds ? absl::Milliseconds(config.batch_interval_milliseconds())
                 : absl::Seconds(config.checkpoint_interval_seconds()),
      &metrics, log->log_guard.get(),
      [proofs = log->proofs.get()] { proofs->ExpireOverdue(absl::Now()); });
  if (config.has_store_backup()) {
    mecai::StoreBackupOptions backup_options;
    backup_options.directory = config.store_backup().directory();
    backup_options.interval = absl::Seconds(config.store_backup().interval_seconds());
    backup_options.kept = config.store_backup().kept();
    metrics.ExpectBackups();
    log->store_backup =
        std::make_unique<mecai::StoreBackup>(*log->store, backup_options, clock, &metrics);
  }
  log->admin = std::make_unique<mecai::TrustListAdminImpl>(
      *log->trust_list_changes, trust_lists, *log->store, *log->relay, clock,
      std::vector<std::string>(config.admin_identities().begin(), config.admin_identities().end()));
  // Fronts record their decisions here, on threads of their own: a front's VR never waits for a
  // thread of this coordinator's own VRs.
  if (config.front_identities_size() > 0) {
    log->sequencer_service = std::make_unique<mecai::SequencerServiceImpl>(
        *log->decisions,
        std::vector<std::string>(config.front_identities().begin(),
                                 config.front_identities().end()),
        log->log_guard.get(), logged_vds ? log->proofs.get() : nullptr, &metrics,
        static_cast<int>(config.vouch_worker_threads()), config.max_vouch_in_flight());
  }
  return log;
}

// The mutual-TLS listener. A sequencer's takes a front's decision with the bytes of the largest
// CRL and OCSP response the fronts fetch, which its store does not hold yet (evidence by hash,
// docs/ARCHITECTURE.md §14), whatever listen.max_receive_message_bytes says.
mecai::v1::ListenConfig ListenerFor(const mecai::v1::CoordinatorConfig& config) {
  mecai::v1::ListenConfig listen = config.listen();
  if (config.front_identities_size() == 0) return listen;
  const uint64_t evidence = config.revocation().max_crl_bytes() +
                            config.revocation().max_ocsp_response_bytes() + (1 << 20);
  const uint64_t limit = std::max<uint64_t>(
      listen.max_receive_message_bytes() == 0 ? (1 << 20) : listen.max_receive_message_bytes(),
      std::min<uint64_t>(evidence, std::numeric_limits<int32_t>::max()));
  listen.set_max_receive_message_bytes(static_cast<uint32_t>(limit));
  return listen;
}

absl::Status Run(const std::string& config_path) {
  ASSIGN_OR_RETURN(auto loaded, mecai::LoadConfig<mecai::v1::CoordinatorConfig>(config_path));
  mecai::v1::CoordinatorConfig config = mecai::WithCoordinatorDefaults(loaded);
  RETURN_IF_ERROR(mecai::ValidateCoordinatorConfig(config, config_path));
  // A front (docs/ARCHITECTURE.md §14) records through the VA's sequencer and keeps no state.
  const bool front = config.has_sequencer();
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
  // The peer this coordinator records with: the signer, or for a front the sequencer.
  const mecai::v1::PeerConfig& recorder = front ? config.sequencer() : config.signer();
  ASSIGN_OR_RETURN(auto recorder_channel, mecai::MakeChannel(recorder));
  // Watched from the start; VRs that need a peer that is down are refused until it is back.
  std::vector<mecai::MonitoredPeer> peers;
  for (const auto& agent : fanout->Channels()) {
    peers.push_back({agent.perspective_id, agent.address, agent.channel});
  }
  peers.push_back({front ? "sequencer" : "signer", recorder.address(), recorder_channel});
  mecai::PeerMonitor peer_monitor(std::move(peers), &metrics, kPeerCheckInterval);
  const std::vector<std::string> unconnected = peer_monitor.WaitForPeers(
      absl::Now() + absl::Milliseconds(config.startup_connect_timeout_milliseconds()));
  for (const std::string& peer : unconnected) {
    MECAI_LOG(Warning) << "starting without " << peer
                       << ": not connected within startup_connect_timeout_milliseconds; VRs "
                          "that need it are refused until it is";
  }
  std::unique_ptr<mecai::v1::SignerService::Stub> signer;
  std::unique_ptr<LogSide> log;
  std::unique_ptr<mecai::SequencerClient> sequencer;
  mecai::DecisionLog* decisions = nullptr;
  if (front) {
    sequencer = std::make_unique<mecai::SequencerClient>(
        mecai::v1::SequencerService::NewStub(recorder_channel), config.sequencer().address(),
        absl::Milliseconds(config.sequencer_timeout_milliseconds()));
    decisions = sequencer.get();
  } else {
    signer = mecai::v1::SignerService::NewStub(recorder_channel);
    ASSIGN_OR_RETURN(log, OpenLog(config, *trust_lists, *signer, metrics, *registry, clock));
    decisions = log->decisions.get();
  }
  // Serves /metrics when listen.metrics_address is set.
  ASSIGN_OR_RETURN(auto metrics_server, mecai::MetricsServer::Start(config.listen(), registry));
  std::vector<std::string> fetch_ranges(
      config.revocation().allowed_special_address_ranges().begin(),
      config.revocation().allowed_special_address_ranges().end());
  ASSIGN_OR_RETURN(mecai::AddressPolicy fetch_policy, mecai::AddressPolicy::Create(fetch_ranges));
  mecai::CurlHttpFetcher fetcher(std::move(fetch_policy), /*max_async_transfers=*/4096,
                                 metrics.RevocationFetchObserver());
  mecai::RevocationOptions revocation_options;
  revocation_options.fetch_timeout =
      absl::Milliseconds(config.revocation().fetch_timeout_milliseconds());
  revocation_options.max_crl_bytes = config.revocation().max_crl_bytes();
  revocation_options.max_ocsp_bytes = config.revocation().max_ocsp_response_bytes();
  revocation_options.max_cache_entries = config.revocation().max_cache_entries();
  revocation_options.max_cache_age = absl::Seconds(config.revocation().max_cache_age_seconds());
  revocation_options.limits.max_evidence_age =
      absl::Seconds(config.revocation().evidence_max_age_seconds());
  if (log != nullptr) {
    // Responses the store holds are named by hash only (ARCHITECTURE.md §8).
    revocation_options.response_held_by_log = [store = log->store.get()](const std::string& sha) {
      absl::StatusOr<bool> held = store->HasEvidence(sha);
      return held.ok() && *held;
    };
  }
  mecai::RevocationChecker revocation(fetcher, clock, revocation_options);
  // Out-of-band issuance approval (ARCHITECTURE.md §7), for trust lists that require it.
  std::unique_ptr<mecai::v1::ApprovalService::Stub> approval_service;
  std::unique_ptr<mecai::ApprovalChecker> approval;
  if (config.has_approval_service()) {
    ASSIGN_OR_RETURN(auto approval_channel, mecai::MakeChannel(config.approval_service()));
    approval_service = mecai::v1::ApprovalService::NewStub(approval_channel);
    approval = std::make_unique<mecai::ApprovalChecker>(
        approval_service.get(), config.approval_service().address(),
        absl::Milliseconds(config.approval_timeout_milliseconds()));
  }
  mecai::Coordinator coordinator(config, *trust_lists, *fanout, *decisions, revocation, clock,
                                 &metrics, approval.get(),
                                 log != nullptr ? log->log_guard.get() : nullptr);
  if (log != nullptr && config.batch_interval_milliseconds() > 0) {
    coordinator.UseLoggedVds(log->proofs.get());
  }
  // At shutdown the revocation fetches still running end first (ABORTED: those VRs fail
  // UNAVAILABLE), while the coordinator they call back into still exists; any fetch asked for after
  // is refused at once, so the coordinator's wait for its VRs ends.
  absl::Cleanup stop_fetching = [&fetcher] { fetcher.Stop(); };
  mecai::VouchingServiceImpl vouching(coordinator);
  // Bundles re-read when their files change, as in the signer; changes stay applied across reloads.
  mecai::TrustListReloader reloader(*trust_lists,
                                    absl::Seconds(config.trust_list_reload_seconds()));
  std::vector<grpc::Service*> services = {&vouching};
  if (log != nullptr) {
    services.insert(services.end(), {log->audit.get(), log->admin.get()});
    if (log->sequencer_service != nullptr) services.push_back(log->sequencer_service.get());
  }
  ASSIGN_OR_RETURN(auto server, mecai::StartServer(ListenerFor(config), services, &grpc_metrics));
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
  if (front) {
    MECAI_LOG(Info) << "front coordinator ready with " << agents->size()
                    << " perspectives; recording with the sequencer at "
                    << config.sequencer().address();
  } else {
    MECAI_LOG(Info) << "coordinator shard " << config.log_shard_id() << " ready with "
                    << agents->size() << " perspectives; log size " << log->store->TreeSize()
                    << (config.front_identities_size() > 0 ? "; sequencer for its fronts" : "");
  }
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
