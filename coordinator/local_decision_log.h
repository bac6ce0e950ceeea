// The decision log in the coordinator's own record store (docs/ARCHITECTURE.md §14): a coordinator
// alone, or the VA's sequencer recording its fronts' decisions. The signer signs each VD inside the
// store's Append, so that the VD names the log index its record takes (trust rule 4).
#ifndef MECAI_COORDINATOR_LOCAL_DECISION_LOG_H_
#define MECAI_COORDINATOR_LOCAL_DECISION_LOG_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/base/clock.h"
#include "coordinator/call_limit.h"
#include "coordinator/coordinator_metrics.h"
#include "coordinator/decision_log.h"
#include "coordinator/record_store.h"
#include "coordinator/signer_evidence_upload.h"
#include "coordinator/worker_pool.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/signer.grpc.pb.h"

namespace mecai {

// How often one decision is asked for a log index, for a coordinator configured as `config`. A
// coordinator of this shard that crashed had at most one signing in flight per thread that can
// record, so the signer can have given away at most that many indices its store never committed;
// one more attempt then succeeds.
int LogIndexAttempts(const v1::CoordinatorConfig& config);

// Thread-safe. Every dependency must outlive it.
class LocalDecisionLog final : public DecisionLog {
 public:
  // `signer_timeout` bounds each signer call (a signing is at most three: sign, upload the evidence
  // the signer asks for, sign again); at most `max_signings` decisions are signed at once
  // and at most `max_waiting_signings` wait for their turn (beyond: RESOURCE_EXHAUSTED, nothing
  // recorded); `metrics` may be null.
  LocalDecisionLog(RecordStore& store, v1::SignerService::StubInterface& signer,
                   absl::Duration signer_timeout, int log_index_attempts, int max_signings,
                   size_t max_waiting_signings, const Clock& clock, CoordinatorMetrics* metrics);
  // Waits for every recording under way to be answered (each is bounded by the signer's timeout
  // and its deadline).
  ~LocalDecisionLog() override;

  // INVALID_ARGUMENT when `decision` is malformed: its vouching_request_sha256 is not the SHA-256
  // of its vouching_request, its decision neither ISSUED nor REFUSED, its VR does not parse or
  // its hostname, port, trust list or first certificate SHA-256 are not the VR's, its hostname
  // holds a NUL, or a revocation response does not hash to the response_sha256 given with it.
  absl::Status Validate(const v1::RecordDecisionRequest& decision) const;

  // INVALID_ARGUMENT, nothing recorded, when Validate refuses `decision` or it names a response by
  // hash that the store does not hold (MissingEvidence). No thread waits for the signer or the
  // commit (ARCHITECTURE.md §13): the checks run on the calling thread, the signer is called on
  // gRPC's callback API, and `done` runs on the store's commit thread (or on a gRPC thread or
  // this one, when nothing is recorded). Record waits for RecordAsync.
  absl::StatusOr<RecordedDecision> Record(const v1::RecordDecisionRequest& decision) override;
  void RecordAsync(v1::RecordDecisionRequest decision, absl::Time sign_by,
                   RecordDone done) override;
  // RecordAsync without its checks, for a caller that made them (the sequencer's service, which
  // answers evidence_needed itself). REQUIRES: Validate(decision) is OK and
  // MissingEvidence(decision) is empty. `sign_by` is the VR's deadline (a front's decision
  // carries it, RecordDecisionRequest.sign_by_unix_milliseconds): a decision that arrives after
  // it, or one whose turn to be signed comes after it, is answered DEADLINE_EXCEEDED
  // (VrDeadlineCheck) and nothing is recorded. `still_wanted`, when set, is asked next once the
  // turn has come: an error from it is answered as is, and nothing is recorded. A refusal is
  // recorded without waiting for a turn (it asks the signer nothing).
  void RecordValidatedAsync(v1::RecordDecisionRequest decision, absl::Time sign_by, RecordDone done,
                            std::function<absl::Status()> still_wanted = nullptr);
  // The one rule for a VR's deadline `sign_by` (DecisionLog::RecordAsync), at the step `step`
  // names ("reached the log", "had its turn to be signed"): OK before it; once it has
  // passed, DEADLINE_EXCEEDED saying so and that nothing was recorded.
  static absl::Status VrDeadlineCheck(absl::Time sign_by, absl::string_view step);
  absl::StatusOr<std::optional<v1::QuorumRecord>> FindByRequestDigest(
      const std::string& sha256) override;

  // The SHA-256 of each revocation response `decision` names by hash only (without its bytes) that
  // the store does not hold, each once.
  absl::StatusOr<std::vector<std::string>> MissingEvidence(
      const v1::RecordDecisionRequest& decision) const;

  const std::string& shard_id() const { return store_.shard_id(); }

 private:
  // One attempt to have the signer sign at one log index.
  struct SigningAttempt {
    // The signer had already given the index to another VD.
    bool index_taken = false;
    absl::Status signer_fault;
  };
  // One decision on its way into the log.
  struct Recording;

  // Sets the log's size and, at most once a second, RocksDB's figures in `metrics`: after every
  // record, whoever decided it.
  void ReportFigures(CoordinatorMetrics& metrics) const;
  // Appends the decision record at the next log index. When the signer had already given that
  // index to another VD, the index is abandoned and the next one tried, log_index_attempts_ times
  // at most; then the recording is answered.
  void AppendAttempt(std::shared_ptr<Recording> recording);
  // Ends `recording` (its signing turn too) with `result`.
  void Answer(const std::shared_ptr<Recording>& recording, absl::StatusOr<RecordedDecision> result);
  // Runs `work` on this log's threads: what follows the signer's answer and the commit never runs
  // on a gRPC thread or the store's commit thread.
  void OnLogThread(std::function<void()> work);
  // Sets the signing gauges from signings_.
  void ReportSignings();
  // Builds the record of the decision at `log_index` for the store: refused as decided, or what
  // the signer answered.
  void BuildRecordAt(const v1::RecordDecisionRequest& decision, uint64_t log_index,
                     std::shared_ptr<SigningAttempt> signing, RecordStore::BuildDone built);
  // Asks the signer for the VD at `log_index` and completes `record` with its answer. ABORTED when
  // the signer already gave that index away; an unreachable signer is recorded as SIGNER_REFUSED
  // and reported in `signing->signer_fault`.
  void AskSigner(const v1::RecordDecisionRequest& decision, uint64_t log_index,
                 v1::QuorumRecord record, std::shared_ptr<SigningAttempt> signing,
                 RecordStore::BuildDone built);
  // The record completed with the signer's answer (see AskSigner).
  absl::StatusOr<v1::QuorumRecord> RecordFromSignerAnswer(uint64_t log_index,
                                                          v1::QuorumRecord record,
                                                          const grpc::Status& status,
                                                          const v1::SignVouchingResponse& answer,
                                                          SigningAttempt* signing) const;

  RecordStore& store_;
  const int log_index_attempts_;
  CoordinatorMetrics* const metrics_;
  // When RocksDB's figures were last read for the metrics, Unix milliseconds.
  mutable std::atomic<int64_t> figures_reported_at_{0};
  // No more signings at once than the signer has threads for: a signing it turns away would be
  // recorded as a refusal (ARCHITECTURE.md §13). The others wait their turn, holding no thread.
  CallLimit signings_;
  const Clock& clock_;
  // Recordings begun and not yet answered; the destructor waits for none.
  absl::Mutex recordings_mutex_;
  size_t recordings_ ABSL_GUARDED_BY(recordings_mutex_) = 0;
  // Signs with the revocation evidence named by hash, uploading what the signer lacks (from the
  // decision, or from the store for a response the decision named by hash).
  SignerEvidenceUpload signer_evidence_;
  // Declared last: destroyed first, running what it holds, while everything it uses still exists.
  WorkerPool log_threads_;
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_LOCAL_DECISION_LOG_H_
