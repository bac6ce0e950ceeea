#include "coordinator/coordinator.h"

#include <openssl/rand.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/base/logging.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/evidence/approval_record.h"
#include "common/evidence/enrolled_agents.h"
#include "common/evidence/quorum_policy.h"
#include "common/evidence/refusal.h"
#include "common/rpc/grpc_channel.h"
#include "common/rpc/grpc_server.h"

namespace mecai {
namespace {

VouchingRequestLimits LimitsFrom(const v1::CoordinatorConfig& config) {
  VouchingRequestLimits limits;
  limits.max_request_bytes = config.max_request_bytes();
  limits.max_chain_length = config.max_chain_length();
  limits.freshness_window = absl::Seconds(config.freshness_window_seconds());
  return limits;
}

std::unique_ptr<DecisionReuse> ReuseFrom(const v1::CoordinatorConfig& config, const Clock& clock) {
  if (config.disable_decision_reuse() || config.decision_reuse_seconds() == 0) return nullptr;
  return std::make_unique<DecisionReuse>(clock, absl::Seconds(config.decision_reuse_seconds()));
}

v1::VouchResponse RefusedBeforeProbing(const v1::Refusal& refusal) {
  MECAI_LOG(Info) << "refused VR before probing: " << v1::RefusalReason_Name(refusal.reason())
                  << ": " << refusal.explanation();
  v1::VouchResponse response;
  *response.mutable_refusal() = refusal;
  return response;
}

std::string RandomBytes(size_t count) {
  std::string bytes(count, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(&bytes[0]), static_cast<int>(count));
  return bytes;
}

v1::VouchResponse ResponseFromRecord(const v1::QuorumRecord& record) {
  v1::VouchResponse response;
  if (record.decision() == v1::ISSUED) {
    *response.mutable_vouching_data() = record.vouching_data();
  } else {
    *response.mutable_refusal() = record.refusal();
  }
  *response.mutable_perspectives() = record.perspectives();
  response.set_log_index(record.log_index());
  return response;
}

// The quorum record's fields every decision about `request` shares; the log adds its index, shard
// and time.
v1::QuorumRecord DecisionFor(const std::string& serialized_request,
                             const VerifiedVouchingRequest& request,
                             const std::vector<v1::RevocationEvidence>& revocation_evidence,
                             const v1::ApprovalCheck& approval) {
  v1::QuorumRecord record;
  record.set_vouching_request(serialized_request);
  record.set_vouching_request_sha256(request.request_sha256);
  record.set_hostname(request.body.hostname());
  record.set_port(request.body.port());
  record.set_trust_list(request.body.trust_list());
  for (const std::string& sha256 : request.leaf_sha256) record.add_certificate_sha256(sha256);
  for (const v1::RevocationEvidence& evidence : revocation_evidence) {
    *record.add_revocation() = evidence;
  }
  if (approval.required()) *record.mutable_approval() = approval;
  return record;
}

}  // namespace

Coordinator::Coordinator(const v1::CoordinatorConfig& config, const TrustLists& trust_lists,
                         const ProbeFanout& fanout, DecisionLog& log, RevocationChecker& revocation,
                         const Clock& clock, CoordinatorMetrics* metrics,
                         const ApprovalChecker* approval, const LogGuard* log_guard)
    : config_(config),
      limits_(LimitsFrom(config)),
      rate_limiter_(clock, config.max_probe_rounds_per_hostname(),
                    absl::Seconds(config.rate_limit_window_seconds())),
      reuse_(ReuseFrom(config, clock)),
      trust_lists_(trust_lists),
      fanout_(fanout),
      log_(log),
      revocation_(revocation),
      clock_(clock),
      metrics_(metrics),
      approval_(approval),
      log_guard_(log_guard),
      // Each VR in flight has at most one step waiting for a thread.
      workers_(static_cast<int>(config.vouch_worker_threads()), config.max_vouch_in_flight()) {}

Coordinator::~Coordinator() {
  const absl::Time give_up = absl::Now() +
                             absl::Milliseconds(config_.max_vouch_deadline_milliseconds()) +
                             absl::Seconds(10);
  auto none = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(in_flight_mutex_) { return in_flight_ == 0; };
  while (true) {
    // Logged VDs still waiting for a checkpoint end now (UNAVAILABLE, their records kept): no
    // checkpoint comes after the coordinator stops.
    if (proofs_ != nullptr) proofs_->ExpireOverdue(absl::InfiniteFuture());
    absl::MutexLock lock(&in_flight_mutex_);
    // A VR whose record is being written is answered whatever the time: the log calls back into
    // this coordinator (its signing ends by the signer's timeout).
    if (recording_ == 0 && (in_flight_ == 0 || absl::Now() >= give_up)) return;
    in_flight_mutex_.AwaitWithTimeout(absl::Condition(&none), absl::Milliseconds(100));
  }
}

v1::VouchResponse Coordinator::AnswerFromRecord(const v1::QuorumRecord& record) {
  v1::VouchResponse response = ResponseFromRecord(record);
  response.set_served_from_record(true);
  return response;
}

bool Coordinator::BeginDeciding(const std::string& digest) {
  absl::MutexLock lock(&deciding_mutex_);
  return deciding_.insert(digest).second;
}

void Coordinator::EndDeciding(const std::string& digest) {
  absl::MutexLock lock(&deciding_mutex_);
  deciding_.erase(digest);
}

// One VR on its way through the decision's steps: what each step found, for the steps after it.
struct Coordinator::Deciding {
  explicit Deciding(const std::string& serialized) : serialized_request(serialized) {}

  const std::string& serialized_request;
  // The checks before probing: the VR, once accepted, and the revocation evidence of its
  // certificates.
  VouchingRequestCheck check;
  std::vector<v1::RevocationEvidence> revocation_evidence;
  // CheckApprovalAsync: the approval service's answer, when the trust list requires one.
  v1::ApprovalCheck approval;
  // ProbeAll: the round's nonce, the quorum decision (each result with its Observation and round
  // trip), and the Observations the agents sent, one per configured agent (empty when none came).
  std::string probe_nonce;
  QuorumDecision quorum;
  std::vector<v1::SignedObservation> observations;

  const VerifiedVouchingRequest& request() const { return check.request; }
};

// One VR from VouchAsync to its answer. Its steps run one at a time, each handing it to the next.
struct Coordinator::Operation {
  Operation(std::string serialized, std::string sha256, absl::Time start, absl::Time end,
            VouchDone on_done)
      : serialized_request(std::move(serialized)),
        digest(std::move(sha256)),
        vr_id(HexEncode(digest).substr(0, 16)),
        started(start),
        deadline(end),
        done(std::move(on_done)),
        vr(serialized_request) {}

  const std::string serialized_request;
  const std::string digest;
  // The first 16 hex digits of its SHA-256, as the replay cache and the quorum record know it.
  const std::string vr_id;
  const absl::Time started;
  const absl::Time deadline;
  VouchDone done;
  Deciding vr;
  // The DecisionReuse key this VR holds the claim on, released when it is answered.
  std::optional<std::string> reuse_key;
};

absl::StatusOr<v1::VouchResponse> Coordinator::Vouch(const std::string& serialized_request) {
  absl::Notification answered;
  absl::StatusOr<v1::VouchResponse> answer = absl::UnknownError("not answered");
  VouchAsync(serialized_request, absl::InfiniteFuture(),
             [&answered, &answer](absl::StatusOr<v1::VouchResponse> response) {
               answer = std::move(response);
               answered.Notify();
             });
  answered.WaitForNotification();
  return answer;
}

void Coordinator::VouchAsync(std::string serialized_request, absl::Time deadline, VouchDone done) {
  const absl::Time started = absl::Now();
  deadline =
      std::min(deadline, started + absl::Milliseconds(config_.max_vouch_deadline_milliseconds()));
  // Admission: a VR beyond the limit is refused at once, never left waiting.
  uint32_t in_flight = 0;
  {
    absl::MutexLock lock(&in_flight_mutex_);
    in_flight = in_flight_;
    if (in_flight_ < config_.max_vouch_in_flight()) ++in_flight_;
  }
  if (in_flight >= config_.max_vouch_in_flight()) {
    if (metrics_ != nullptr) metrics_->RecordVouchRefused("in_flight_limit");
    MECAI_LOG(Warning) << "refused a VR: " << in_flight << " VRs in flight";
    done(absl::ResourceExhaustedError(
        absl::StrCat("the Vouching Server has ", in_flight, " VRs in flight, the limit is ",
                     config_.max_vouch_in_flight(), "; send it again when one is answered")));
    return;
  }
  auto leave = [this] {
    absl::MutexLock lock(&in_flight_mutex_);
    --in_flight_;
  };
  // Nothing is decided on a log the signer has not confirmed extends what it signed.
  if (log_guard_ != nullptr) {
    absl::Status allowed = log_guard_->AllowsAppends();
    if (!allowed.ok()) {
      leave();
      done(std::move(allowed));
      return;
    }
  }
  // Claimed before the replay cache is read (in StartDeciding): an identical VR that arrives
  // while this one is being decided is refused here; one that arrives later finds the recorded
  // decision.
  std::string digest = Sha256(serialized_request);
  if (!BeginDeciding(digest)) {
    leave();
    done(absl::AbortedError(
        absl::StrCat("VR ", ShortHex(digest),
                     " is being decided by an earlier call; send it again to receive the "
                     "recorded decision")));
    return;
  }
  if (metrics_ != nullptr) metrics_->AddVouchInFlight(1);
  auto* op = new Operation(std::move(serialized_request), std::move(digest), started, deadline,
                           std::move(done));
  RunStep(op, [this, op] { StartDeciding(op); });
}

void Coordinator::RunStep(Operation* op, std::function<void()> step) {
  // Every line logged while this VR is handled names it (deploy/README.md "Logs").
  auto run = [op, step = std::move(step)] {
    ScopedLogContext log_context("vr_id", op->vr_id);
    step();
  };
  // The queue holds max_vouch_in_flight steps and each VR has at most one waiting: never full.
  if (!workers_.TrySchedule(std::move(run))) {
    Finish(op, absl::ResourceExhaustedError("the Vouching Server's worker queue is full"));
  }
}

bool Coordinator::Expired(Operation* op) {
  if (absl::Now() < op->deadline) return false;
  if (metrics_ != nullptr) metrics_->RecordVouchRefused("deadline_exceeded");
  MECAI_LOG(Warning) << "VR not decided within its deadline";
  Finish(op,
         absl::DeadlineExceededError(absl::StrCat(
             "the VR was not decided within its deadline of ",
             absl::FormatDuration(absl::Trunc(op->deadline - op->started, absl::Milliseconds(1))),
             "; nothing was recorded")));
  return true;
}

void Coordinator::StartDeciding(Operation* op) {
  if (Expired(op)) return;
  // ARCHITECTURE.md §3, in order: size and form, freshness, signatures.
  VouchingRequestCheck& check = op->vr.check;
  check = CheckVouchingRequestEnvelope(op->vr.serialized_request, limits_, clock_.Now());
  if (!check.accepted()) return Finish(op, RefusedBeforeProbing(check.refusal));
  // An identical VR inside the freshness window is answered from its record (no new probes). A
  // front asks its sequencer without holding a thread; the answer of a local store, given at once
  // on this thread, is taken here.
  const std::thread::id caller = std::this_thread::get_id();
  auto asking = std::make_shared<std::atomic<bool>>(true);
  log_.FindByRequestDigestAsync(
      check.request.request_sha256,
      [this, op, caller, asking](absl::StatusOr<std::optional<v1::QuorumRecord>> earlier) {
        if (asking->load() && std::this_thread::get_id() == caller) {
          return AfterEarlierRecord(op, std::move(earlier));
        }
        auto shared =
            std::make_shared<absl::StatusOr<std::optional<v1::QuorumRecord>>>(std::move(earlier));
        RunStep(op, [this, op, shared] { AfterEarlierRecord(op, std::move(*shared)); });
      });
  asking->store(false);
}

void Coordinator::AfterEarlierRecord(Operation* op,
                                     absl::StatusOr<std::optional<v1::QuorumRecord>> earlier) {
  if (!earlier.ok()) return Finish(op, earlier.status());
  if (earlier->has_value()) return Finish(op, AnswerFromRecord(**earlier));
  if (Expired(op)) return;
  // Then hostname, usage, trust list and chain; then revocation.
  VouchingRequestCheck& check = op->vr.check;
  CheckVouchingRequestCertificates(trust_lists_, clock_.Now(), &check);
  if (!check.accepted()) return Finish(op, RefusedBeforeProbing(check.refusal));
  CheckRevocationAsync(op, 0);
}

void Coordinator::CheckRevocationAsync(Operation* op, size_t path_index) {
  VouchingRequestCheck& check = op->vr.check;
  if (!check.accepted() || path_index >= check.request.validated_paths.size()) {
    return AfterRevocation(op);
  }
  const std::vector<X509Ptr>& path = check.request.validated_paths[path_index];
  // A leaf that is its own trust anchor has no issuer to check its revocation with.
  check.refusal = CheckPathHasIssuer(path);
  if (!check.accepted()) return AfterRevocation(op);
  // No thread waits while the CA's servers answer; what they sent is judged on a worker.
  revocation_.CheckAsync(
      path[0].get(), path[1].get(),
      [this, op](std::function<void()> judge) { RunStep(op, std::move(judge)); },
      [this, op, path_index](RevocationOutcome outcome) {
        // Not a verdict: this server could not check (trust rule 2); nothing is recorded.
        if (!outcome.fault.ok()) return Finish(op, outcome.fault);
        VouchingRequestCheck& checked = op->vr.check;
        if (outcome.reason != v1::REFUSAL_REASON_UNSPECIFIED) {
          checked.refusal = MakeRefusal(outcome.reason, outcome.explanation);
        }
        for (v1::RevocationEvidence& evidence : outcome.evidence) {
          op->vr.revocation_evidence.push_back(std::move(evidence));
        }
        CheckRevocationAsync(op, path_index + 1);
      });
}

void Coordinator::AfterRevocation(Operation* op) {
  if (Expired(op)) return;
  Deciding& vr = op->vr;
  if (!vr.check.accepted()) return Finish(op, RefusedBeforeProbing(vr.check.refusal));
  // Decision reuse (docs/PROTOCOL.md "Decision reuse"): this VR passed its own checks; a VD issued
  // within the window for the same hostname, port, trust list and certificates answers it without
  // a probe round. Otherwise this VR decides, and VRs of the same key wait for its decision,
  // holding no thread. Not for a trust list that requires issuance approval (ARCHITECTURE.md §7):
  // the approval service is asked for every VR, as its answer may change at any moment.
  if (reuse_ == nullptr || trust_lists_.RequiresIssuanceApproval(vr.request().body.trust_list())) {
    return CheckAndProbe(op);
  }
  std::string key = DecisionReuse::KeyOf(vr.request());
  reuse_->FindOrWait(key, [this, op, key](DecisionReuse::Found found) {
    if (found.reusable.has_value()) {
      v1::VouchResponse reused = *std::move(found.reusable);
      reused.set_served_from_record(true);
      reused.set_reused_decision(true);
      ScopedLogContext log_context("vr_id", op->vr_id);
      MECAI_LOG(Info) << op->vr.request().body.hostname() << ":" << op->vr.request().body.port()
                      << " ISSUED by reusing record " << reused.log_index();
      return Finish(op, std::move(reused));
    }
    op->reuse_key = key;
    RunStep(op, [this, op] { CheckAndProbe(op); });
  });
}

void Coordinator::CheckAndProbe(Operation* op) {
  if (Expired(op)) return;
  Deciding& vr = op->vr;
  // The hostname's probe budget (trust rule 8), spent only by a VR that could be issued.
  std::optional<v1::Refusal> limited = CheckProbeRateLimit(vr.request().body.hostname());
  if (limited.has_value()) return Finish(op, RefusedBeforeProbing(*limited));
  if (!trust_lists_.RequiresIssuanceApproval(vr.request().body.trust_list())) {
    return StartProbeRound(op);
  }
  CheckApprovalAsync(op);
}

void Coordinator::StartProbeRound(Operation* op) {
  Deciding& vr = op->vr;
  // Probe from every perspective (MECAI proposal: "initiate a separate connection from the
  // geographic location of the VS"); no thread waits for the answers. The calls still running at
  // the VR's deadline are cancelled then, and the VR ends (DecideOnAnswers): a refusal is never
  // made of a round the caller's deadline cut short.
  const v1::ProbeTask task = ProbeTaskFor(vr);
  const absl::Duration timeout = absl::Milliseconds(config_.probe_timeout_milliseconds());
  // The fan-out takes the time again as each answer arrives.
  const ObservationExpectation expected =
      ExpectationFor(vr.request(), task.nonce(), clock_.Now(),
                     absl::Milliseconds(config_.probe_timeout_milliseconds()) + absl::Seconds(60));
  if (metrics_ != nullptr) metrics_->RecordProbeRound();
  fanout_.ProbeAllAsync(
      task, expected, vr.request().leaf_sha256, timeout,
      [this, op](std::vector<PerspectiveAnswer> answers) {
        auto shared = std::make_shared<std::vector<PerspectiveAnswer>>(std::move(answers));
        RunStep(op, [this, op, shared] { DecideOnAnswers(op, std::move(*shared)); });
      },
      op->deadline);
}

void Coordinator::DecideOnAnswers(Operation* op, std::vector<PerspectiveAnswer> answers) {
  // A round cut short by the deadline decides nothing: the caller has given up on it.
  if (Expired(op)) return;
  ApplyQuorum(op->vr, std::move(answers));
  // The recording holds no thread while the signer, the commit or the sequencer works
  // (ARCHITECTURE.md §13); the answer is made on a worker, not on the thread that had the record.
  RecordThen(op, DecisionToRecord(op->vr), [this, op](absl::StatusOr<RecordedDecision> recorded) {
    AfterRecorded(op, std::move(recorded));
  });
}

void Coordinator::RecordThen(Operation* op, v1::RecordDecisionRequest decision,
                             std::function<void(absl::StatusOr<RecordedDecision>)> then) {
  {
    absl::MutexLock lock(&in_flight_mutex_);
    ++recording_;
  }
  log_.RecordAsync(std::move(decision), op->deadline,
                   [this, op, then = std::move(then)](absl::StatusOr<RecordedDecision> recorded) {
                     auto shared =
                         std::make_shared<absl::StatusOr<RecordedDecision>>(std::move(recorded));
                     RunStep(op, [then, shared] { then(std::move(*shared)); });
                     // The last access to this coordinator: its destructor waits for it.
                     absl::MutexLock lock(&in_flight_mutex_);
                     --recording_;
                   });
}

void Coordinator::AfterRecorded(Operation* op, absl::StatusOr<RecordedDecision> recorded) {
  if (recorded.status().code() == absl::StatusCode::kDeadlineExceeded &&
      absl::Now() >= op->deadline) {
    // The caller has gone (e.g. the VR waited past its deadline for its turn to be signed).
    if (metrics_ != nullptr) metrics_->RecordVouchRefused("deadline_exceeded");
    MECAI_LOG(Warning) << "VR not decided within its deadline: " << recorded.status().message();
    return Finish(op, recorded.status());
  }
  if (!recorded.ok()) {
    MECAI_LOG(Error) << "no record for " << op->vr.request().body.hostname() << ": "
                     << recorded.status();
    return Finish(op, Annotate(recorded.status(), "no VD was issued"));
  }
  Finish(op, Respond(op->vr, *recorded));
}

void Coordinator::Finish(Operation* op, absl::StatusOr<v1::VouchResponse> response) {
  if (proofs_ != nullptr && response.ok() && LoggedVdProofs::NeedsProof(*response)) {
    // Held by no thread until the checkpoint that proves it (or the VR's deadline).
    proofs_->WhenProven(*std::move(response), op->deadline,
                        [this, op](absl::StatusOr<v1::VouchResponse> proven) {
                          FinishProven(op, std::move(proven));
                        });
    return;
  }
  FinishProven(op, std::move(response));
}

void Coordinator::FinishProven(Operation* op, absl::StatusOr<v1::VouchResponse> response) {
  std::unique_ptr<Operation> owned(op);
  // The claim ends on every path, keeping the answer for reuse when it is a VD.
  if (op->reuse_key.has_value()) {
    reuse_->Release(*op->reuse_key, response.ok() ? &*response : nullptr);
  }
  EndDeciding(op->digest);
  if (metrics_ != nullptr) metrics_->AddVouchInFlight(-1);
  RecordDecisionMetrics(response, op->started);
  VouchDone done = std::move(op->done);
  owned.reset();
  {
    absl::MutexLock lock(&in_flight_mutex_);
    --in_flight_;
  }
  done(std::move(response));
}

void Coordinator::RecordDecisionMetrics(const absl::StatusOr<v1::VouchResponse>& response,
                                        absl::Time started) {
  if (metrics_ == nullptr || !response.ok()) return;
  if (response->reused_decision()) {
    metrics_->RecordDecisionReused();
  } else if (response->served_from_record()) {
    metrics_->RecordAnsweredFromRecord();
  }
  metrics_->RecordDecision(response->has_vouching_data(), response->refusal().reason(),
                           absl::ToDoubleSeconds(absl::Now() - started));
  for (const v1::PerspectiveResult& result : response->perspectives()) {
    if (!response->served_from_record()) {
      metrics_->RecordProbeRoundTrip(result.perspective().region(),
                                     result.disagreement() == v1::REFUSAL_REASON_UNSPECIFIED
                                         ? std::string("agrees")
                                         : v1::RefusalReason_Name(result.disagreement()),
                                     result.round_trip_milliseconds() / 1000.0);
    }
  }
}

std::optional<v1::Refusal> Coordinator::CheckProbeRateLimit(const std::string& hostname) {
  absl::Duration retry_after;
  if (rate_limiter_.TryAcquire(hostname, &retry_after)) return std::nullopt;
  return MakeRefusal(
      v1::RATE_LIMITED,
      absl::StrCat(hostname, " had ", config_.max_probe_rounds_per_hostname(),
                   " probe rounds in the last ",
                   absl::FormatDuration(absl::Seconds(config_.rate_limit_window_seconds())),
                   "; the next is allowed in ",
                   absl::FormatDuration(absl::Ceil(retry_after, absl::Seconds(1)))));
}

void Coordinator::CheckApprovalAsync(Operation* op) {
  // Out-of-band approval (ARCHITECTURE.md §7, MECAI phone-approval proposal) last of the checks,
  // before probing: the approval state does not depend on what the perspectives see, and asking the
  // approval service is far cheaper than a probe round, so a VR that cannot be issued never costs
  // the target and the agents a round. A refusal is recorded like a decision after probing (trust
  // rule 4), with the approval service's answer as evidence; no answer is a fault (trust rule 2),
  // not recorded. No thread waits for the service's answer.
  const VerifiedVouchingRequest& request = op->vr.request();
  std::vector<std::string> keys;
  for (const std::vector<X509Ptr>& path : request.validated_paths) {
    keys.push_back(SubjectPublicKeyInfoSha256(path[0].get()));
  }
  static const ApprovalChecker* const kNoApprovalService =
      new ApprovalChecker(nullptr, "", absl::ZeroDuration());
  const ApprovalChecker& checker = approval_ != nullptr ? *approval_ : *kNoApprovalService;
  checker.CheckAsync(keys, request.body.hostname(), [this, op](ApprovalCheckOutcome outcome) {
    auto shared = std::make_shared<ApprovalCheckOutcome>(std::move(outcome));
    RunStep(op, [this, op, shared] { AfterApproval(op, std::move(*shared)); });
  });
}

void Coordinator::AfterApproval(Operation* op, ApprovalCheckOutcome outcome) {
  if (Expired(op)) return;
  Deciding& vr = op->vr;
  if (!outcome.fault.ok()) {
    MECAI_LOG(Warning) << "no decision for " << vr.request().body.hostname() << ": "
                       << outcome.fault.message();
    return Finish(op, outcome.fault);
  }
  vr.approval = outcome.check;
  if (outcome.approved()) return StartProbeRound(op);
  MECAI_LOG(Info) << "refused VR before probing: APPROVAL_REQUIRED: "
                  << outcome.refusal.explanation();
  v1::RecordDecisionRequest decision;
  v1::QuorumRecord& record = *decision.mutable_decision();
  record = DecisionFor(vr.serialized_request, vr.request(), vr.revocation_evidence, vr.approval);
  record.set_decision(v1::REFUSED);
  *record.mutable_refusal() = outcome.refusal;
  RecordThen(op, std::move(decision), [this, op](absl::StatusOr<RecordedDecision> stored) {
    if (!stored.ok()) {
      return Finish(op, Annotate(stored.status(), "the refusal could not be recorded"));
    }
    Finish(op, ResponseFromRecord(stored->record));
  });
}

v1::ProbeTask Coordinator::ProbeTaskFor(Deciding& vr) const {
  const VerifiedVouchingRequest& request = vr.request();
  v1::ProbeTask task;
  task.set_hostname(request.body.hostname());
  task.set_port(request.body.port());
  task.set_vouching_request_sha256(request.request_sha256);
  task.set_nonce(RandomBytes(32));
  // Each address is asked once per key type of the VR's certificates (docs/PROTOCOL.md "Key-typed
  // handshakes").
  for (v1::CertificateKeyType key_type : ProbeKeyTypes(request)) {
    task.add_certificate_key_types(key_type);
  }
  vr.probe_nonce = task.nonce();
  return task;
}

void Coordinator::ApplyQuorum(Deciding& vr, std::vector<PerspectiveAnswer> answers) const {
  std::vector<PerspectiveOutcome> outcomes;
  for (PerspectiveAnswer& answer : answers) outcomes.push_back(std::move(answer.outcome));
  vr.quorum = DecideQuorum(outcomes, vr.request().vouched, config_.policy());
  for (size_t i = 0; i < vr.quorum.results.size(); ++i) {
    v1::PerspectiveResult& result = vr.quorum.results[i];
    if (!answers[i].observation.tbs().empty()) {
      *result.mutable_observation() = answers[i].observation;
    }
    result.set_round_trip_milliseconds(answers[i].round_trip_milliseconds);
  }
  for (PerspectiveAnswer& answer : answers) {
    vr.observations.push_back(std::move(answer.observation));
  }
}

v1::RecordDecisionRequest Coordinator::DecisionToRecord(const Deciding& vr) {
  // Recorded durably before anything leaves (trust rule 4); the log has the signer sign at the
  // index the record takes.
  v1::RecordDecisionRequest decision;
  v1::QuorumRecord& record = *decision.mutable_decision();
  record = DecisionFor(vr.serialized_request, vr.request(), vr.revocation_evidence, vr.approval);
  for (const v1::PerspectiveResult& result : vr.quorum.results) {
    *record.add_perspectives() = result;
  }
  if (vr.quorum.issued()) {
    record.set_decision(v1::ISSUED);
    for (const v1::SignedObservation& observation : vr.observations) {
      *decision.add_observations() = observation;
    }
    decision.set_probe_nonce(vr.probe_nonce);
  } else {
    record.set_decision(v1::REFUSED);
    *record.mutable_refusal() = vr.quorum.refusal;
  }
  return decision;
}

absl::StatusOr<v1::VouchResponse> Coordinator::Respond(const Deciding& vr,
                                                       const RecordedDecision& recorded) {
  const v1::QuorumRecord& stored = recorded.record;
  MECAI_LOG(Info) << vr.request().body.hostname() << ":" << vr.request().body.port() << " "
                  << v1::Decision_Name(stored.decision()) << " record " << stored.log_index()
                  << (stored.decision() == v1::REFUSED
                          ? absl::StrCat(" (", v1::RefusalReason_Name(stored.refusal().reason()),
                                         ")")
                          : std::string());
  if (!recorded.signer_fault.ok()) {
    return Annotate(recorded.signer_fault,
                    absl::StrCat("recorded as refused at log index ", stored.log_index()));
  }
  return ResponseFromRecord(stored);
}

}  // namespace mecai
