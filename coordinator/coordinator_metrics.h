// The coordinator's Prometheus metrics (CONTRIBUTING.md rule 7). Labels are bounded: decisions,
// refusal reason names, configured perspective ids and "signer"; never a hostname.
#ifndef MECAI_COORDINATOR_COORDINATOR_METRICS_H_
#define MECAI_COORDINATOR_COORDINATOR_METRICS_H_

#include <cstddef>
#include <string>

#include "common/net/http_fetcher.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "proto/mecai/v1/common.pb.h"

namespace mecai {

// Thread-safe (prometheus-cpp metrics are).
class CoordinatorMetrics {
 public:
  explicit CoordinatorMetrics(prometheus::Registry& registry);

  // One VR answered: issued, or refused for `reason` (before or after probing).
  void RecordDecision(bool issued, v1::RefusalReason reason, double seconds);
  void RecordAnsweredFromRecord();
  // A VR answered with the VD of another VR's decision (docs/PROTOCOL.md "Decision reuse").
  void RecordDecisionReused();
  // One probe round started: a ProbeTask to every perspective.
  void RecordProbeRound();
  // One Probe call: the perspective's region and how the coordinator judged its answer
  // ("agrees", or a RefusalReason name such as CERTIFICATE_MISMATCH or PERSPECTIVE_TIMEOUT).
  void RecordProbeRoundTrip(const std::string& region, const std::string& outcome, double seconds);
  void SetLogSize(uint64_t leaves);
  // One periodic checkpoint attempt (coordinator/periodic_checkpoint.h); a signed one also sets
  // the time of the last signed checkpoint.
  void RecordCheckpoint(bool signed_one);
  // The log guard's state (coordinator/log_guard.h): "unconfirmed", "confirmed" or
  // "rolled_back_or_forked"; the gauge of that state is 1, the others 0.
  void SetLogGuardState(const std::string& state);
  // One synced group commit of the record store took `seconds` (the WAL's fdatasync included).
  void RecordStoreCommit(double seconds);
  // A VR entered or left Coordinator::VouchAsync.
  void AddVouchInFlight(double delta);
  // Decisions of this log being signed now, and waiting for their turn to be (at most
  // vouch_worker_threads are signed at once, ARCHITECTURE.md §13).
  void SetSignings(size_t in_flight, size_t waiting);
  // A VR the coordinator ended without a decision: "in_flight_limit" (max_vouch_in_flight VRs were
  // in flight) or "deadline_exceeded" (its deadline passed before it was decided; on a sequencer,
  // also a front's VR whose deadline passed before it was signed, docs/ARCHITECTURE.md §14).
  void RecordVouchRefused(const std::string& reason);
  // One periodic backup attempt (coordinator/store_backup.h); a written one also sets the time of
  // the last backup.
  void RecordBackup(bool written);
  // This coordinator makes periodic backups (store_backup): the time of the last one is exported
  // from now on, 0 until one is written, so that a store never backed up is noticed. A front, or a
  // coordinator without backups, exports none.
  void ExpectBackups();
  // RocksDB's figures and the number of synced group commits so far.
  void SetStoreFigures(uint64_t sst_bytes, uint64_t live_data_bytes, uint64_t memtable_bytes,
                       uint64_t pending_compaction_bytes, uint64_t committed_batches);
  // Whether the channel to `peer` (a configured perspective id, or "signer") is connected
  // (coordinator/peer_monitor.h).
  void SetPeerConnected(const std::string& peer, bool connected);
  // One revocation response of `bytes` uploaded to the signer at its request (ARCHITECTURE.md §8
  // "Evidence by content hash"): stored, or the upload failed.
  void RecordSignerEvidenceUpload(bool stored, size_t bytes);
  // What the revocation fetcher (CurlHttpFetcher::FetchAsync, common/net/curl_multi_loop.h) tells
  // of its transfers: those in flight now, and those refused for lack of room (ABORTED: the VR
  // fails UNAVAILABLE, docs/ARCHITECTURE.md §13). The observer lives as long as these metrics.
  AsyncFetchObserver RevocationFetchObserver();

 private:
  prometheus::Family<prometheus::Counter>& decisions_;
  prometheus::Counter& answered_from_record_;
  prometheus::Counter& decisions_reused_;
  prometheus::Counter& probe_rounds_;
  prometheus::Histogram& vouch_seconds_;
  prometheus::Family<prometheus::Histogram>& probe_seconds_;
  prometheus::Gauge& log_size_;
  prometheus::Family<prometheus::Gauge>& store_bytes_;
  prometheus::Gauge& committed_batches_;
  prometheus::Family<prometheus::Counter>& checkpoints_;
  prometheus::Gauge& last_checkpoint_time_;
  prometheus::Family<prometheus::Gauge>& log_guard_;
  prometheus::Histogram& store_commit_seconds_;
  prometheus::Gauge& vouch_in_flight_;
  prometheus::Family<prometheus::Gauge>& signings_;
  prometheus::Gauge& signings_in_flight_;
  prometheus::Gauge& signings_waiting_;
  prometheus::Family<prometheus::Counter>& vouch_refused_;
  prometheus::Family<prometheus::Counter>& backups_;
  prometheus::Family<prometheus::Gauge>& last_backup_time_;
  prometheus::Family<prometheus::Gauge>& peer_connected_;
  prometheus::Family<prometheus::Counter>& signer_evidence_uploads_;
  prometheus::Counter& signer_evidence_upload_bytes_;
  prometheus::Gauge& revocation_fetches_in_flight_;
  prometheus::Counter& revocation_fetches_refused_;
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_COORDINATOR_METRICS_H_
