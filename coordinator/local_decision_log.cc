#include "coordinator/local_decision_log.h"

#include <algorithm>
#include <memory>
#include <set>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/base/logging.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/evidence/refusal.h"
#include "common/rpc/grpc_channel.h"
#include "common/rpc/grpc_server.h"
#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {

namespace {

// The body of the VR's first signed request (the single form's, or the old certificate's of a
// rollover), parsed but not verified: the front verified it, and the signer verifies it again for
// every VD (trust rule 9).
absl::StatusOr<v1::VouchingRequestBody> FirstBodyOf(const std::string& serialized_request) {
  v1::VouchingRequest request;
  v1::SignedVouchingRequest first;
  bool parsed = request.ParseFromString(serialized_request);
  if (parsed && request.has_single()) {
    first = request.single();
  } else if (parsed && request.has_rollover()) {
    parsed = first.ParseFromString(request.rollover().old_certificate().inner());
  } else {
    parsed = false;
  }
  v1::VouchingRequestBody body;
  if (!parsed || !body.ParseFromString(first.tbs())) {
    return absl::InvalidArgumentError("the decision's VR is not a VouchingRequest");
  }
  return body;
}

}  // namespace

int LogIndexAttempts(const v1::CoordinatorConfig& config) {
  // At most vouch_worker_threads signings are in flight (LocalDecisionLog's signings_), which this
  // exceeds; it also covers the threads that could record before the worker threads existed (an
  // internal server thread or a slot of the public endpoint per VR).
  const int public_in_flight =
      config.has_public_listen() ? static_cast<int>(config.public_listen().max_in_flight()) : 0;
  return MaxServerThreads(config.listen()) + public_in_flight +
         2 * static_cast<int>(config.vouch_worker_threads()) + 1;
}

// What follows a signer's answer or a commit is short (a record's checks, a response): a few
// threads do it for every recording.
constexpr int kLogThreads = 2;

LocalDecisionLog::LocalDecisionLog(RecordStore& store, v1::SignerService::StubInterface& signer,
                                   absl::Duration signer_timeout, int log_index_attempts,
                                   int max_signings, size_t max_waiting_signings,
                                   const Clock& clock, CoordinatorMetrics* metrics)
    : store_(store),
      log_index_attempts_(log_index_attempts),
      metrics_(metrics),
      signings_(static_cast<size_t>(std::max(1, max_signings)), max_waiting_signings),
      clock_(clock),
      signer_evidence_(
          signer, signer_timeout, metrics,
          [this](const std::string& sha256) { return store_.GetEvidence(sha256); },
          [this](std::function<void()> work) { OnLogThread(std::move(work)); }),
      log_threads_(kLogThreads, SIZE_MAX) {}

LocalDecisionLog::~LocalDecisionLog() {
  absl::MutexLock lock(&recordings_mutex_);
  auto none = [this]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(recordings_mutex_) { return recordings_ == 0; };
  recordings_mutex_.Await(absl::Condition(&none));
}

void LocalDecisionLog::OnLogThread(std::function<void()> work) {
  // The queue is unbounded: a recording's next step is never dropped.
  log_threads_.TrySchedule(std::move(work));
}

void LocalDecisionLog::ReportSignings() {
  if (metrics_ != nullptr) metrics_->SetSignings(signings_.InFlight(), signings_.Waiting());
}

absl::StatusOr<std::vector<std::string>> LocalDecisionLog::MissingEvidence(
    const v1::RecordDecisionRequest& decision) const {
  std::vector<std::string> missing;
  std::set<std::string> asked;
  for (const v1::RevocationEvidence& evidence : decision.decision().revocation()) {
    if (!evidence.response_der().empty()) continue;
    const std::string& sha256 = evidence.response_sha256();
    if (sha256.size() != 32) {
      return absl::InvalidArgumentError(
          "a revocation evidence carries neither its response nor its 32-byte SHA-256");
    }
    if (!asked.insert(sha256).second) continue;
    ASSIGN_OR_RETURN(bool held, store_.HasEvidence(sha256));
    if (!held) missing.push_back(sha256);
  }
  return missing;
}

absl::Status LocalDecisionLog::Validate(const v1::RecordDecisionRequest& decision) const {
  const v1::QuorumRecord& record = decision.decision();
  if (Sha256(record.vouching_request()) != record.vouching_request_sha256()) {
    return absl::InvalidArgumentError(
        "the decision's vouching_request_sha256 is not the SHA-256 of its vouching_request");
  }
  if (record.decision() != v1::ISSUED && record.decision() != v1::REFUSED) {
    return absl::InvalidArgumentError("a decision to record is ISSUED or REFUSED");
  }
  // The fields the log indexes the record by are the VR's own (auditors find a hostname's
  // records by them).
  ASSIGN_OR_RETURN(v1::VouchingRequestBody body, FirstBodyOf(record.vouching_request()));
  if (record.hostname() != body.hostname() || record.port() != body.port() ||
      record.trust_list() != body.trust_list() || record.certificate_sha256_size() == 0 ||
      body.certificate_chain_der_size() == 0 ||
      record.certificate_sha256(0) != Sha256(body.certificate_chain_der(0))) {
    return absl::InvalidArgumentError(
        "the decision's hostname, port, trust list or first certificate is not its VR's");
  }
  // What the store would refuse only after taking an index (an abandoned record) is refused here.
  if (record.hostname().find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("the decision's hostname has a NUL character");
  }
  for (const v1::RevocationEvidence& evidence : record.revocation()) {
    if (!evidence.response_der().empty() && !evidence.response_sha256().empty() &&
        Sha256(evidence.response_der()) != evidence.response_sha256()) {
      return absl::InvalidArgumentError(
          "a revocation evidence's response_sha256 is not the SHA-256 of its response_der");
    }
  }
  return absl::OkStatus();
}

struct LocalDecisionLog::Recording {
  v1::RecordDecisionRequest decision;
  RecordDone done;
  // The VR's deadline: the decision is signed only if its turn comes before it.
  absl::Time sign_by = absl::InfiniteFuture();
  std::function<absl::Status()> still_wanted;
  // Ends this recording's signing turn; set when the turn comes.
  std::function<void()> end_turn;
  int attempts_made = 0;
};

absl::StatusOr<RecordedDecision> LocalDecisionLog::Record(
    const v1::RecordDecisionRequest& decision) {
  absl::Notification answered;
  absl::StatusOr<RecordedDecision> answer = absl::UnknownError("not answered");
  RecordAsync(decision, absl::InfiniteFuture(), [&](absl::StatusOr<RecordedDecision> result) {
    answer = std::move(result);
    answered.Notify();
  });
  answered.WaitForNotification();
  return answer;
}

void LocalDecisionLog::RecordAsync(v1::RecordDecisionRequest decision, absl::Time sign_by,
                                   RecordDone done) {
  if (absl::Status valid = Validate(decision); !valid.ok()) return done(std::move(valid));
  absl::StatusOr<std::vector<std::string>> missing = MissingEvidence(decision);
  if (!missing.ok()) return done(missing.status());
  if (!missing->empty()) {
    return done(absl::InvalidArgumentError(
        absl::StrCat("the decision names revocation evidence ", ShortHex((*missing)[0]),
                     " by hash, which this log does not hold; nothing was recorded")));
  }
  RecordValidatedAsync(std::move(decision), sign_by, std::move(done));
}

absl::Status LocalDecisionLog::VrDeadlineCheck(absl::Time sign_by, absl::string_view step) {
  if (absl::Now() < sign_by) return absl::OkStatus();
  return absl::DeadlineExceededError(absl::StrCat("the VR's deadline passed before its decision ",
                                                  step, "; nothing was recorded"));
}

void LocalDecisionLog::RecordValidatedAsync(v1::RecordDecisionRequest decision, absl::Time sign_by,
                                            RecordDone done,
                                            std::function<absl::Status()> still_wanted) {
  // Nothing is recorded, nor a signing turn taken, for a caller that has already gone.
  if (absl::Status open = VrDeadlineCheck(sign_by, "reached the log"); !open.ok()) {
    return done(std::move(open));
  }
  auto recording = std::make_shared<Recording>();
  recording->decision = std::move(decision);
  recording->done = std::move(done);
  recording->sign_by = sign_by;
  recording->still_wanted = std::move(still_wanted);
  {
    absl::MutexLock lock(&recordings_mutex_);
    // One for the recording, one for this call until it returns (the recording may be answered
    // before then, on this thread or another).
    recordings_ += 2;
  }
  auto this_call_ends = absl::MakeCleanup([this] {
    absl::MutexLock lock(&recordings_mutex_);
    --recordings_;
  });
  // A refusal asks the signer nothing: it takes no turn.
  if (recording->decision.decision().decision() == v1::REFUSED) return AppendAttempt(recording);
  const bool queued = signings_.TryRun([this, recording](std::function<void()> end_turn) {
    recording->end_turn = std::move(end_turn);
    ReportSignings();
    absl::Status in_time = VrDeadlineCheck(recording->sign_by, "had its turn to be signed");
    if (!in_time.ok()) return Answer(recording, std::move(in_time));
    if (recording->still_wanted) {
      absl::Status wanted = recording->still_wanted();
      if (!wanted.ok()) return Answer(recording, std::move(wanted));
    }
    // Record the decision durably before anything leaves (trust rule 4).
    AppendAttempt(recording);
  });
  if (!queued) {
    const size_t waiting = signings_.Waiting();
    MECAI_LOG(Warning) << "refused a decision: " << waiting
                       << " decisions already wait for their turn to be signed";
    return Answer(recording,
                  absl::ResourceExhaustedError(absl::StrCat(
                      waiting,
                      " decisions already wait for their turn to be signed (the signer is slow or "
                      "unreachable); nothing was recorded; send the VR again later")));
  }
  ReportSignings();
}

void LocalDecisionLog::Answer(const std::shared_ptr<Recording>& recording,
                              absl::StatusOr<RecordedDecision> result) {
  std::function<void()> end_turn = std::move(recording->end_turn);
  RecordDone done = std::move(recording->done);
  // Whoever decided it, the log's figures follow every record (a sequencer's fronts included).
  if (result.ok() && metrics_ != nullptr) ReportFigures(*metrics_);
  if (end_turn) {
    end_turn();
    ReportSignings();
  }
  done(std::move(result));
  absl::MutexLock lock(&recordings_mutex_);
  --recordings_;
}

void LocalDecisionLog::AppendAttempt(std::shared_ptr<Recording> recording) {
  // The signer gives a log index to one VD only. An index it already gave away (a VD signed just
  // before this coordinator crashed, whose record never committed) is abandoned in the log and the
  // decision asked for again at the next index, a few times at most.
  ++recording->attempts_made;
  auto signing = std::make_shared<SigningAttempt>();
  store_.AppendAsync(
      [this, recording, signing](uint64_t log_index, RecordStore::BuildDone built) {
        BuildRecordAt(recording->decision, log_index, signing, std::move(built));
      },
      [this, recording, signing](absl::StatusOr<v1::QuorumRecord> appended) {
        auto shared = std::make_shared<absl::StatusOr<v1::QuorumRecord>>(std::move(appended));
        OnLogThread([this, recording, signing, shared] {
          absl::StatusOr<v1::QuorumRecord>& stored = *shared;
          if (signing->index_taken) {
            MECAI_LOG(Warning) << "log index abandoned for "
                               << recording->decision.decision().hostname() << ": "
                               << (stored.ok() ? stored->refusal().explanation()
                                               : std::string(stored.status().message()));
            if (recording->attempts_made < log_index_attempts_) return AppendAttempt(recording);
            if (stored.ok()) stored = absl::AbortedError("every log index tried was taken");
          }
          if (!stored.ok()) return Answer(recording, stored.status());
          Answer(recording, RecordedDecision{*std::move(stored), signing->signer_fault});
        });
      });
}

absl::StatusOr<std::optional<v1::QuorumRecord>> LocalDecisionLog::FindByRequestDigest(
    const std::string& sha256) {
  ASSIGN_OR_RETURN(std::optional<uint64_t> index, store_.FindByRequestDigest(sha256));
  if (!index.has_value()) return std::nullopt;
  ASSIGN_OR_RETURN(v1::QuorumRecord record, store_.GetRecord(*index));
  return record;
}

void LocalDecisionLog::ReportFigures(CoordinatorMetrics& metrics) const {
  metrics.SetLogSize(store_.TreeSize());
  // RocksDB's figures are properties it computes on each read: once a second is enough for a
  // gauge, and not once a record.
  const int64_t now = absl::ToUnixMillis(absl::Now());
  int64_t last = figures_reported_at_.load(std::memory_order_relaxed);
  if (now - last < 1000 ||
      !figures_reported_at_.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
    return;
  }
  const RecordStore::StoreFigures figures = store_.Figures();
  metrics.SetStoreFigures(figures.sst_files_bytes, figures.live_data_bytes, figures.memtable_bytes,
                          figures.pending_compaction_bytes, store_.CommittedBatches());
}

void LocalDecisionLog::BuildRecordAt(const v1::RecordDecisionRequest& decision, uint64_t log_index,
                                     std::shared_ptr<SigningAttempt> signing,
                                     RecordStore::BuildDone built) {
  v1::QuorumRecord record = decision.decision();
  // What only the signer or an administrator puts in a record never comes from the decision.
  record.clear_vouching_data();
  record.clear_unrecorded_vouching_data();
  record.clear_trust_list_change();
  record.set_log_index(log_index);
  record.set_log_shard_id(store_.shard_id());
  record.set_decided_at_unix_milliseconds(clock_.NowUnixMilliseconds());
  if (record.decision() == v1::REFUSED) return built(std::move(record));
  record.clear_refusal();
  AskSigner(decision, log_index, std::move(record), std::move(signing), std::move(built));
}

void LocalDecisionLog::AskSigner(const v1::RecordDecisionRequest& decision, uint64_t log_index,
                                 v1::QuorumRecord record, std::shared_ptr<SigningAttempt> signing,
                                 RecordStore::BuildDone built) {
  v1::SignVouchingRequest sign_request;
  sign_request.set_vouching_request(record.vouching_request());
  for (const v1::SignedObservation& observation : decision.observations()) {
    if (!observation.tbs().empty()) *sign_request.add_observations() = observation;
  }
  sign_request.set_log_index(log_index);
  sign_request.set_log_shard_id(store_.shard_id());
  sign_request.set_probe_nonce(decision.probe_nonce());
  // ARCHITECTURE.md §8 "Evidence by content hash": each response by its SHA-256; the signer is
  // sent the bytes only when it asks for them.
  std::vector<v1::RevocationEvidence> evidence(record.revocation().begin(),
                                               record.revocation().end());
  AddEvidenceByHash(evidence, &sign_request);
  *sign_request.mutable_approval_records() = record.approval().records();
  auto pending = std::make_shared<v1::QuorumRecord>(std::move(record));
  signer_evidence_.SignVouchingAsync(
      std::move(sign_request), std::move(evidence),
      [this, log_index, pending, signing, built = std::move(built)](
          grpc::Status status, v1::SignVouchingResponse answer) {
        auto answered = std::make_shared<v1::SignVouchingResponse>(std::move(answer));
        OnLogThread([this, log_index, pending, signing, built, status, answered] {
          built(RecordFromSignerAnswer(log_index, std::move(*pending), status, *answered,
                                       signing.get()));
        });
      });
}

absl::StatusOr<v1::QuorumRecord> LocalDecisionLog::RecordFromSignerAnswer(
    uint64_t log_index, v1::QuorumRecord record, const grpc::Status& status,
    const v1::SignVouchingResponse& signed_response, SigningAttempt* signing) const {
  record.set_decision(v1::REFUSED);
  if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
    signing->index_taken = true;
    return absl::AbortedError(absl::StrCat("signer: ", status.error_message()));
  }
  if (status.ok() && signed_response.has_log_index_taken()) {
    // A VD signed here for a decision whose record never committed (its coordinator stopped
    // first): this index is abandoned with that VD in its record, so that the log holds every VD
    // at its own index (docs/SECURITY.md T7); the decision is asked for again at the next index.
    signing->index_taken = true;
    const v1::LogIndexTaken& taken = signed_response.log_index_taken();
    v1::QuorumRecord abandoned;
    abandoned.set_log_index(log_index);
    abandoned.set_log_shard_id(store_.shard_id());
    abandoned.set_decided_at_unix_milliseconds(clock_.NowUnixMilliseconds());
    abandoned.mutable_refusal()->set_explanation(absl::StrCat(
        "abandoned: the signer had given this index to another VD: ", taken.explanation()));
    if (taken.has_vouching_data_at_index()) {
      *abandoned.mutable_unrecorded_vouching_data() = taken.vouching_data_at_index();
    }
    return abandoned;
  }
  if (!status.ok()) {
    signing->signer_fault = FromGrpcStatus(status, "signer");
    *record.mutable_refusal() =
        MakeRefusal(v1::SIGNER_REFUSED,
                    absl::StrCat("the signer could not be reached: ", status.error_message()));
  } else if (signed_response.has_refusal()) {
    *record.mutable_refusal() = signed_response.refusal();
  } else if (signed_response.has_approved_statement()) {
    // A logged VD: its proof is added once a checkpoint covers this record.
    record.set_decision(v1::ISSUED);
    record.mutable_vouching_data()->set_statement(signed_response.approved_statement());
  } else {
    record.set_decision(v1::ISSUED);
    *record.mutable_vouching_data() = signed_response.vouching_data();
  }
  return record;
}

}  // namespace mecai
