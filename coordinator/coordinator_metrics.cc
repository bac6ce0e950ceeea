#include "coordinator/coordinator_metrics.h"

#include "common/base/metrics.h"

namespace mecai {

CoordinatorMetrics::CoordinatorMetrics(prometheus::Registry& registry)
    : decisions_(prometheus::BuildCounter()
                     .Name("mecai_coordinator_decisions_total")
                     .Help("Vouching Requests answered, by decision and refusal reason.")
                     .Register(registry)),
      answered_from_record_(prometheus::BuildCounter()
                                .Name("mecai_coordinator_answered_from_record_total")
                                .Help("Identical VRs answered from their record without probing.")
                                .Register(registry)
                                .Add({})),
      decisions_reused_(prometheus::BuildCounter()
                            .Name("mecai_coordinator_decisions_reused_total")
                            .Help("VRs answered, after their own checks, with the VD of a decision "
                                  "issued for the same hostname, port, trust list and "
                                  "certificates within decision_reuse_seconds.")
                            .Register(registry)
                            .Add({})),
      probe_rounds_(prometheus::BuildCounter()
                        .Name("mecai_coordinator_probe_rounds_total")
                        .Help("Probe rounds started (one ProbeTask to every perspective).")
                        .Register(registry)
                        .Add({})),
      vouch_seconds_(prometheus::BuildHistogram()
                         .Name("mecai_coordinator_vouch_duration_seconds")
                         .Help("Time to answer one Vouching Request.")
                         .Register(registry)
                         .Add({}, LatencyBuckets())),
      probe_seconds_(prometheus::BuildHistogram()
                         .Name("mecai_coordinator_probe_round_trip_seconds")
                         .Help("Round trip of one Probe call, by region and judged outcome.")
                         .Register(registry)),
      log_size_(prometheus::BuildGauge()
                    .Name("mecai_coordinator_log_leaves")
                    .Help("Quorum records in this coordinator's log shard.")
                    .Register(registry)
                    .Add({})),
      store_bytes_(prometheus::BuildGauge()
                       .Name("mecai_coordinator_store_bytes")
                       .Help("RocksDB figures of the record store, by kind.")
                       .Register(registry)),
      committed_batches_(prometheus::BuildGauge()
                             .Name("mecai_coordinator_store_committed_batches")
                             .Help("Synced WriteBatches (group commits) since the store opened.")
                             .Register(registry)
                             .Add({})),
      checkpoints_(prometheus::BuildCounter()
                       .Name("mecai_coordinator_checkpoints_total")
                       .Help("Periodic checkpoint attempts, by outcome (signed, failed).")
                       .Register(registry)),
      last_checkpoint_time_(prometheus::BuildGauge()
                                .Name("mecai_coordinator_last_checkpoint_timestamp_seconds")
                                .Help("Unix time of the last checkpoint the signer signed.")
                                .Register(registry)
                                .Add({})),
      log_guard_(prometheus::BuildGauge()
                     .Name("mecai_coordinator_log_guard")
                     .Help("1 for the log guard's state (unconfirmed, confirmed, "
                           "rolled_back_or_forked): whether the signer confirmed that this store "
                           "extends the last checkpoint it signed.")
                     .Register(registry)),
      store_commit_seconds_(prometheus::BuildHistogram()
                                .Name("mecai_coordinator_store_commit_seconds")
                                .Help("Time of one synced group commit of the record store "
                                      "(RocksDB write with its WAL's fdatasync).")
                                .Register(registry)
                                .Add({}, LatencyBuckets())),
      vouch_in_flight_(prometheus::BuildGauge()
                           .Name("mecai_coordinator_vouch_in_flight")
                           .Help("Vouching Requests being decided now.")
                           .Register(registry)
                           .Add({})),
      signings_(prometheus::BuildGauge()
                    .Name("mecai_coordinator_signings")
                    .Help("Decisions of this coordinator's log by signing state: in_flight (the "
                          "signer is asked now) or waiting (for a turn; at most "
                          "vouch_worker_threads are signed at once).")
                    .Register(registry)),
      signings_in_flight_(signings_.Add({{"state", "in_flight"}})),
      signings_waiting_(signings_.Add({{"state", "waiting"}})),
      vouch_refused_(prometheus::BuildCounter()
                         .Name("mecai_coordinator_vouch_refused_total")
                         .Help("Vouching Requests ended without a decision, by reason "
                               "(in_flight_limit, deadline_exceeded).")
                         .Register(registry)),
      backups_(prometheus::BuildCounter()
                   .Name("mecai_coordinator_backups_total")
                   .Help("Periodic store backups, by outcome (written, failed).")
                   .Register(registry)),
      last_backup_time_(prometheus::BuildGauge()
                            .Name("mecai_coordinator_last_backup_timestamp_seconds")
                            .Help("Unix time of the last store backup written (0 before the "
                                  "first; absent without store_backup).")
                            .Register(registry)),
      peer_connected_(prometheus::BuildGauge()
                          .Name("mecai_coordinator_peer_connected")
                          .Help("1 while the channel to a peer (a perspective id, or signer) is "
                                "connected, else 0.")
                          .Register(registry)),
      signer_evidence_uploads_(
          prometheus::BuildCounter()
              .Name("mecai_coordinator_signer_evidence_uploads_total")
              .Help("Revocation responses uploaded to the signer because it asked for them "
                    "(evidence by content hash), by result (stored, failed).")
              .Register(registry)),
      signer_evidence_upload_bytes_(
          prometheus::BuildCounter()
              .Name("mecai_coordinator_signer_evidence_upload_bytes_total")
              .Help("Bytes of revocation responses the signer stored from this coordinator.")
              .Register(registry)
              .Add({})),
      revocation_fetches_in_flight_(
          prometheus::BuildGauge()
              .Name("mecai_coordinator_revocation_fetches_in_flight")
              .Help("CRL and OCSP transfers of the revocation fetcher waiting or running now.")
              .Register(registry)
              .Add({})),
      revocation_fetches_refused_(
          prometheus::BuildCounter()
              .Name("mecai_coordinator_revocation_fetches_refused_total")
              .Help("CRL and OCSP transfers the revocation fetcher refused because its limit of "
                    "transfers in flight was reached (the VR fails UNAVAILABLE).")
              .Register(registry)
              .Add({})) {}

AsyncFetchObserver CoordinatorMetrics::RevocationFetchObserver() {
  AsyncFetchObserver observer;
  observer.in_flight_changed = [gauge = &revocation_fetches_in_flight_](int delta) {
    gauge->Increment(delta);
  };
  observer.refused_for_room = [counter = &revocation_fetches_refused_] { counter->Increment(); };
  return observer;
}

void CoordinatorMetrics::SetLogGuardState(const std::string& state) {
  for (const char* name : {"unconfirmed", "confirmed", "rolled_back_or_forked"}) {
    log_guard_.Add({{"state", name}}).Set(state == name ? 1 : 0);
  }
}

void CoordinatorMetrics::RecordStoreCommit(double seconds) {
  store_commit_seconds_.Observe(seconds);
}

void CoordinatorMetrics::AddVouchInFlight(double delta) { vouch_in_flight_.Increment(delta); }

void CoordinatorMetrics::SetSignings(size_t in_flight, size_t waiting) {
  signings_in_flight_.Set(static_cast<double>(in_flight));
  signings_waiting_.Set(static_cast<double>(waiting));
}

void CoordinatorMetrics::RecordVouchRefused(const std::string& reason) {
  vouch_refused_.Add({{"reason", reason}}).Increment();
}

void CoordinatorMetrics::ExpectBackups() { last_backup_time_.Add({}); }

void CoordinatorMetrics::RecordBackup(bool written) {
  backups_.Add({{"outcome", written ? "written" : "failed"}}).Increment();
  if (written) last_backup_time_.Add({}).SetToCurrentTime();
}

void CoordinatorMetrics::SetStoreFigures(uint64_t sst_bytes, uint64_t live_data_bytes,
                                         uint64_t memtable_bytes, uint64_t pending_compaction_bytes,
                                         uint64_t committed_batches) {
  store_bytes_.Add({{"kind", "sst_files"}}).Set(static_cast<double>(sst_bytes));
  store_bytes_.Add({{"kind", "live_data"}}).Set(static_cast<double>(live_data_bytes));
  store_bytes_.Add({{"kind", "memtables"}}).Set(static_cast<double>(memtable_bytes));
  store_bytes_.Add({{"kind", "pending_compaction"}})
      .Set(static_cast<double>(pending_compaction_bytes));
  committed_batches_.Set(static_cast<double>(committed_batches));
}

void CoordinatorMetrics::RecordDecision(bool issued, v1::RefusalReason reason, double seconds) {
  decisions_
      .Add({{"decision", issued ? "issued" : "refused"},
            {"reason", issued ? "" : v1::RefusalReason_Name(reason)}})
      .Increment();
  vouch_seconds_.Observe(seconds);
}

void CoordinatorMetrics::RecordAnsweredFromRecord() { answered_from_record_.Increment(); }

void CoordinatorMetrics::RecordDecisionReused() { decisions_reused_.Increment(); }

void CoordinatorMetrics::RecordProbeRound() { probe_rounds_.Increment(); }

void CoordinatorMetrics::RecordProbeRoundTrip(const std::string& region, const std::string& outcome,
                                              double seconds) {
  probe_seconds_.Add({{"region", region}, {"outcome", outcome}}, LatencyBuckets()).Observe(seconds);
}

void CoordinatorMetrics::RecordCheckpoint(bool signed_one) {
  checkpoints_.Add({{"outcome", signed_one ? "signed" : "failed"}}).Increment();
  if (signed_one) last_checkpoint_time_.SetToCurrentTime();
}

void CoordinatorMetrics::SetLogSize(uint64_t leaves) { log_size_.Set(static_cast<double>(leaves)); }

void CoordinatorMetrics::SetPeerConnected(const std::string& peer, bool connected) {
  peer_connected_.Add({{"peer", peer}}).Set(connected ? 1 : 0);
}

void CoordinatorMetrics::RecordSignerEvidenceUpload(bool stored, size_t bytes) {
  signer_evidence_uploads_.Add({{"result", stored ? "stored" : "failed"}}).Increment();
  if (stored) signer_evidence_upload_bytes_.Increment(static_cast<double>(bytes));
}

}  // namespace mecai
