#include "coordinator/witness_collector.h"

#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/base/logging.h"
#include "common/base/status.h"
#include "common/transparency/cosignature.h"
#include "common/transparency/signed_note.h"
#include "common/transparency/tlog_checkpoint.h"
#include "witness/add_checkpoint_request.h"
#include "witness/witness_client.h"

namespace mecai {
namespace {

constexpr absl::Duration kDefaultTimeout = absl::Seconds(5);

}  // namespace

absl::StatusOr<std::unique_ptr<WitnessCollector>> WitnessCollector::Create(
    const std::vector<v1::WitnessEndpoint>& endpoints, RecordStore& store,
    prometheus::Registry* registry) {
  std::vector<Witness> witnesses;
  std::set<std::string> names;
  for (const v1::WitnessEndpoint& endpoint : endpoints) {
    Witness witness;
    absl::StatusOr<NoteVerifierKey> key = ParseCosignerVkey(endpoint.vkey());
    if (!key.ok()) return Annotate(key.status(), absl::StrCat("witness ", endpoint.url()));
    witness.key = *std::move(key);
    if (!names.insert(witness.key.name).second) {
      return absl::InvalidArgumentError(absl::StrCat("two witnesses are named ", witness.key.name));
    }
    if (!absl::StartsWith(endpoint.url(), "http://") &&
        !absl::StartsWith(endpoint.url(), "https://")) {
      return absl::InvalidArgumentError(
          absl::StrCat("witness ", witness.key.name, ": not an http(s) URL: ", endpoint.url()));
    }
    witness.url = absl::StrCat(absl::StripSuffix(endpoint.url(), "/"), "/add-checkpoint");
    witness.timeout = endpoint.timeout_milliseconds() == 0
                          ? kDefaultTimeout
                          : absl::Milliseconds(endpoint.timeout_milliseconds());
    witness.ca_file = endpoint.ca_certificate_file();
    witnesses.push_back(std::move(witness));
  }
  prometheus::Family<prometheus::Counter>* family = nullptr;
  if (registry != nullptr) {
    family = &prometheus::BuildCounter()
                  .Name("mecai_coordinator_witness_cosignatures_total")
                  .Help(
                      "Cosignatures asked of each witness, by result: cosigned, conflict "
                      "(its size was learnt), refused, unreachable, bad_cosignature.")
                  .Register(*registry);
  }
  return std::unique_ptr<WitnessCollector>(
      new WitnessCollector(std::move(witnesses), store, family));
}

WitnessCollector::WitnessCollector(std::vector<Witness> witnesses, RecordStore& store,
                                   prometheus::Family<prometheus::Counter>* cosignatures)
    : witnesses_(std::move(witnesses)), store_(store), cosignatures_(cosignatures) {
  thread_ = std::thread([this] { Run(); });
}

WitnessCollector::~WitnessCollector() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  thread_.join();
}

void WitnessCollector::CheckpointStored(const v1::SignedCheckpoint& checkpoint) {
  if (checkpoint.note().empty() || witnesses_.empty()) return;
  absl::MutexLock lock(&mutex_);
  pending_ = checkpoint;
}

void WitnessCollector::WaitUntilIdle() {
  absl::MutexLock lock(&mutex_);
  mutex_.Await(absl::Condition(
      +[](WitnessCollector* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mutex_) {
        return !self->pending_.has_value() && !self->busy_;
      },
      this));
}

void WitnessCollector::Record(const Witness& witness, const char* result) {
  if (cosignatures_ != nullptr) {
    cosignatures_->Add({{"witness", witness.key.name}, {"result", result}}).Increment();
  }
}

void WitnessCollector::Run() {
  while (true) {
    v1::SignedCheckpoint checkpoint;
    {
      absl::MutexLock lock(&mutex_);
      busy_ = false;
      mutex_.Await(absl::Condition(
          +[](WitnessCollector* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mutex_) {
            return self->stopping_ || self->pending_.has_value();
          },
          this));
      if (stopping_) return;
      checkpoint = *std::move(pending_);
      pending_.reset();
      busy_ = true;
    }
    absl::StatusOr<ParsedNote> parsed = ParseSignedNote(checkpoint.note());
    absl::StatusOr<TlogCheckpoint> body =
        parsed.ok() ? ParseCheckpointText(parsed->text) : parsed.status();
    if (!body.ok()) {
      MECAI_LOG(Error) << "the stored checkpoint note does not parse: " << body.status();
      continue;
    }
    // Every witness at once, each within its own timeout.
    std::vector<std::string> lines(witnesses_.size());
    std::vector<std::thread> asks;
    for (size_t i = 0; i < witnesses_.size(); ++i) {
      asks.emplace_back([&, i] {
        lines[i] = Collect(witnesses_[i], checkpoint.note(), parsed->text, body->tree_size);
      });
    }
    for (std::thread& ask : asks) ask.join();
    std::string added;
    for (const std::string& line : lines) absl::StrAppend(&added, line);
    v1::SignedCheckpoint cosigned = checkpoint;
    if (!added.empty()) {
      cosigned.set_note(absl::StrCat(checkpoint.note(), added));
      if (!ParseSignedNote(cosigned.note()).ok()) {
        MECAI_LOG(Warning) << "the cosigned note of " << body->tree_size
                           << " would exceed the limits of a signed note; stored without them";
        cosigned = checkpoint;
      } else {
        absl::Status stored = store_.PutCheckpoint(cosigned, body->tree_size);
        if (!stored.ok()) {
          MECAI_LOG(Error) << "cannot store the cosigned checkpoint of " << body->tree_size << ": "
                           << stored;
          cosigned = checkpoint;
        }
      }
    }
    // Logged VDs staple the note as the witnesses left it (with what cosignatures came in time).
    if (on_collected_) on_collected_(cosigned, body->tree_size);
  }
}

std::string WitnessCollector::Collect(Witness& witness, const std::string& note,
                                      const std::string& text, uint64_t tree_size) {
  // At most two requests: the second from the size a 409 names.
  for (int attempt = 0; attempt < 2; ++attempt) {
    witness::AddCheckpointRequest request;
    request.old_size = witness.known_size <= tree_size ? witness.known_size : 0;
    if (request.old_size > 0 && request.old_size < tree_size) {
      absl::StatusOr<std::vector<std::string>> proof =
          store_.ConsistencyProof(request.old_size, tree_size);
      if (!proof.ok()) {
        MECAI_LOG(Error) << "no consistency proof from " << request.old_size << " to " << tree_size
                         << " for witness " << witness.key.name << ": " << proof.status();
        Record(witness, "refused");
        return "";
      }
      request.consistency_proof = *std::move(proof);
    }
    request.note = note;
    absl::StatusOr<witness::WitnessAnswer> answer =
        witness::PostToWitness(witness.url, witness::FormatAddCheckpointRequest(request),
                               witness.timeout, witness.ca_file);
    if (!answer.ok()) {
      MECAI_LOG(Warning) << "witness " << witness.key.name << ": " << answer.status();
      Record(witness, "unreachable");
      return "";
    }
    if (answer->status == 409 && absl::StartsWith(answer->content_type, "text/x.tlog.size")) {
      uint64_t size = 0;
      absl::string_view size_text = answer->body;
      if (!absl::ConsumeSuffix(&size_text, "\n") || !absl::SimpleAtoi(size_text, &size)) {
        MECAI_LOG(Warning) << "witness " << witness.key.name << " answered 409 without a size";
        Record(witness, "refused");
        return "";
      }
      Record(witness, "conflict");
      if (size > tree_size || size == request.old_size) {
        MECAI_LOG(Warning) << "witness " << witness.key.name << " holds a tree of " << size
                           << " leaves; this checkpoint has " << tree_size;
        witness.known_size = size;
        return "";
      }
      witness.known_size = size;
      continue;
    }
    if (answer->status != 200) {
      MECAI_LOG(Warning) << "witness " << witness.key.name << " refused the checkpoint of "
                         << tree_size << " (old " << request.old_size << "): HTTP "
                         << answer->status << " " << answer->body;
      Record(witness, "refused");
      return "";
    }
    // The answer: signature lines. Those of this witness's key must verify.
    absl::StatusOr<ParsedNote> lines = ParseSignedNote(absl::StrCat(text, "\n", answer->body));
    std::string verified;
    if (lines.ok()) {
      for (const NoteSignature& signature : lines->signatures) {
        if (signature.key_name != witness.key.name || signature.key_id != witness.key.key_id) {
          continue;
        }
        if (VerifyCosignatureV1(text, witness.key, signature).ok()) {
          verified = FormatNoteSignatureLine(signature);
          break;
        }
      }
    }
    witness.known_size = tree_size;
    if (verified.empty()) {
      MECAI_LOG(Warning) << "witness " << witness.key.name
                         << " answered no cosignature that verifies with its vkey";
      Record(witness, "bad_cosignature");
      return "";
    }
    Record(witness, "cosigned");
    return verified;
  }
  Record(witness, "refused");
  return "";
}

}  // namespace mecai
