#include "stapler/stapler.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "common/base/logging.h"
#include "common/base/status.h"

namespace mecai {
namespace {

// VA ids become file names: letters, digits, '.', '_' and '-', not starting with '.'.
bool IsSafeFileName(const std::string& name) {
  if (name.empty() || name[0] == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

// kFetchOutcomes: what the fetch returned (a refusal is FAILED_PRECONDITION, VouchingFetcher;
// no endpoint answering is UNAVAILABLE, FetchFromEndpoints) and whether its VD passed the check.
std::string FetchOutcome(const absl::Status& fetched, const absl::Status& checked) {
  if (fetched.code() == absl::StatusCode::kFailedPrecondition) return "refused";
  if (fetched.code() == absl::StatusCode::kUnavailable ||
      fetched.code() == absl::StatusCode::kDeadlineExceeded) {
    return "unreachable";
  }
  if (!fetched.ok()) return "error";
  return checked.ok() ? "ok" : "invalid_vd";
}

}  // namespace

Stapler::Stapler(StaplerOptions options, std::vector<std::string> va_ids, const Clock& clock,
                 VdFetchFunction fetch, VdCheckFunction check, std::function<double()> random_unit)
    : options_(std::move(options)),
      va_ids_(std::move(va_ids)),
      clock_(clock),
      fetch_(std::move(fetch)),
      check_(std::move(check)),
      random_unit_(std::move(random_unit)),
      current_(std::make_shared<VdSet>()) {
  absl::MutexLock lock(&mutex_);
  for (const std::string& va_id : va_ids_) states_[va_id];
}

void Stapler::SetListener(VdSetListener listener) {
  std::shared_ptr<const VdSet> set;
  VdSetListener copy;
  {
    absl::MutexLock lock(&mutex_);
    listener_ = std::move(listener);
    set = current_;
    copy = listener_;
  }
  if (copy) copy(set);
}

void Stapler::SetFetchObserver(FetchObserver observer) {
  absl::MutexLock lock(&mutex_);
  fetch_observer_ = std::move(observer);
}

std::string Stapler::CachePath(const std::string& va_id) const {
  return absl::StrCat(options_.cache_directory, "/", va_id, ".vd");
}

absl::Duration Stapler::Jittered(absl::Duration interval) const {
  const double factor = 1.0 + options_.jitter * (2.0 * random_unit_() - 1.0);
  return interval * factor;
}

absl::Status Stapler::LoadCache() {
  for (const std::string& va_id : va_ids_) {
    if (!IsSafeFileName(va_id)) {
      return absl::InvalidArgumentError(
          absl::StrCat("VA id '", va_id, "' cannot name a cache file"));
    }
  }
  for (const std::string& va_id : va_ids_) {
    auto contents = ReadFile(CachePath(va_id), 1 << 20);
    if (!contents.ok()) continue;  // No cached VD: due now.
    v1::VouchingData vd;
    v1::VouchingStatement statement;
    absl::Status checked =
        vd.ParseFromString(*contents) && statement.ParseFromString(vd.statement())
            ? check_(va_id, vd)
            : absl::InvalidArgumentError("not a serialized VouchingData");
    if (!checked.ok()) {
      MECAI_LOG(Warning) << "cached VD of " << va_id << " not used: " << checked.message();
      continue;
    }
    absl::MutexLock lock(&mutex_);
    VaState& state = states_[va_id];
    state.serialized_vd = *contents;
    state.next_fetch = absl::FromUnixSeconds(statement.issued_at_unix_seconds()) +
                       Jittered(options_.refresh_interval);
  }
  Publish();
  return absl::OkStatus();
}

absl::Time Stapler::RunDueFetches() {
  const absl::Time now = clock_.Now();
  std::vector<std::string> due;
  bool dropped = false;
  {
    absl::MutexLock lock(&mutex_);
    for (auto& [va_id, state] : states_) {
      if (state.next_fetch <= now) due.push_back(va_id);
    }
  }
  // Held VDs age: one that no longer passes (too old) is no longer stapled.
  for (const std::string& va_id : va_ids_) {
    std::string held;
    {
      absl::MutexLock lock(&mutex_);
      held = states_[va_id].serialized_vd;
    }
    if (held.empty()) continue;
    v1::VouchingData vd;
    vd.ParseFromString(held);
    absl::Status checked = check_(va_id, vd);
    if (!checked.ok()) {
      MECAI_LOG(Warning) << "VD of " << va_id << " no longer stapled: " << checked.message();
      absl::MutexLock lock(&mutex_);
      states_[va_id].serialized_vd.clear();
      states_[va_id].next_fetch = std::min(states_[va_id].next_fetch, now);
      if (std::find(due.begin(), due.end(), va_id) == due.end()) due.push_back(va_id);
      dropped = true;
    }
  }
  bool changed = dropped;
  for (const std::string& va_id : due) {
    // Every line about this VA's fetch names it (deploy/README.md "Logs").
    ScopedLogContext log_context("va", va_id);
    absl::StatusOr<v1::VouchingData> vd = fetch_(va_id);
    absl::Status accepted = vd.ok() ? check_(va_id, *vd) : vd.status();
    std::string outcome = FetchOutcome(vd.status(), accepted);
    std::string serialized;
    if (accepted.ok()) {
      serialized = vd->SerializeAsString();
      accepted = WriteFileAtomically(CachePath(va_id), serialized);
      if (!accepted.ok()) outcome = "error";
    }
    FetchObserver observer;
    {
      absl::MutexLock lock(&mutex_);
      observer = fetch_observer_;
    }
    if (observer) observer(va_id, outcome);
    absl::MutexLock lock(&mutex_);
    VaState& state = states_[va_id];
    const absl::Time finished = clock_.Now();
    if (accepted.ok()) {
      state.serialized_vd = std::move(serialized);
      state.consecutive_failures = 0;
      state.last_error.clear();
      state.next_fetch = finished + Jittered(options_.refresh_interval);
      changed = true;
    } else {
      ++state.consecutive_failures;
      state.last_error = std::string(accepted.message());
      const double exponent = std::min(state.consecutive_failures - 1, 30);
      const absl::Duration backoff =
          std::min(options_.initial_backoff * std::pow(2.0, exponent), options_.max_backoff);
      state.next_fetch = finished + Jittered(backoff);
      MECAI_LOG(Warning) << "fetching the VD of " << va_id << " failed ("
                         << state.consecutive_failures << " in a row): " << accepted.message();
    }
  }
  if (changed) Publish();
  absl::MutexLock lock(&mutex_);
  absl::Time next = absl::InfiniteFuture();
  for (const auto& [va_id, state] : states_) next = std::min(next, state.next_fetch);
  return next;
}

void Stapler::Publish() {
  std::vector<std::string> serialized;
  VdSetListener listener;
  std::shared_ptr<const VdSet> set;
  {
    absl::MutexLock lock(&mutex_);
    for (const std::string& va_id : va_ids_) {
      if (!states_[va_id].serialized_vd.empty()) serialized.push_back(states_[va_id].serialized_vd);
    }
  }
  auto built = VdSet::FromSerialized(serialized);
  if (!built.ok()) {
    MECAI_LOG(Error) << "VD set not published: " << built.status().message();
    return;
  }
  {
    absl::MutexLock lock(&mutex_);
    current_ = *built;
    set = current_;
    listener = listener_;
  }
  if (listener) listener(set);
}

std::shared_ptr<const VdSet> Stapler::current() const {
  absl::MutexLock lock(&mutex_);
  return current_;
}

std::map<std::string, v1::VouchingData> Stapler::HeldVds() const {
  absl::MutexLock lock(&mutex_);
  std::map<std::string, v1::VouchingData> held;
  for (const auto& [va_id, state] : states_) {
    if (!state.serialized_vd.empty()) held[va_id].ParseFromString(state.serialized_vd);
  }
  return held;
}

Stapler::VaStatus Stapler::status(const std::string& va_id) const {
  absl::MutexLock lock(&mutex_);
  VaStatus status;
  auto found = states_.find(va_id);
  if (found == states_.end()) return status;
  status.next_fetch = found->second.next_fetch;
  status.consecutive_failures = found->second.consecutive_failures;
  status.last_error = found->second.last_error;
  status.holds_vd = !found->second.serialized_vd.empty();
  return status;
}

}  // namespace mecai
