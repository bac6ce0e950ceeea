#include "coordinator/decision_reuse.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace mecai {

DecisionReuse::DecisionReuse(const Clock& clock, absl::Duration window, size_t max_decisions)
    : clock_(clock), window_(window), max_decisions_(std::max<size_t>(max_decisions, 1)) {}

std::string DecisionReuse::KeyOf(const VerifiedVouchingRequest& request) {
  // Length-prefixed fields: no two different tuples give one key.
  std::string key;
  for (const std::string& field : {request.body.hostname(), request.body.trust_list()}) {
    absl::StrAppend(&key, field.size(), ":", field, ";");
  }
  absl::StrAppend(&key, request.body.port(), ";");
  for (const std::string& sha256 : request.leaf_sha256) {
    absl::StrAppend(&key, sha256.size(), ":", sha256, ";");
  }
  return key;
}

DecisionReuse::Found DecisionReuse::Find(const std::string& key, absl::Duration wait) {
  const absl::Time deadline = absl::Now() + wait;
  absl::MutexLock lock(&mutex_);
  while (true) {
    auto it = decisions_.find(key);
    if (it != decisions_.end() && clock_.Now() < it->second.decided + window_) {
      return Found{it->second.response, false};
    }
    if (deciding_.insert(key).second) return Found{std::nullopt, true};
    auto released = [this, &key]()
                        ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return deciding_.count(key) == 0; };
    if (!mutex_.AwaitWithDeadline(absl::Condition(&released), deadline)) {
      return Found{std::nullopt, false};
    }
  }
}

void DecisionReuse::FindOrWait(const std::string& key, std::function<void(Found)> then) {
  Found found;
  {
    absl::MutexLock lock(&mutex_);
    auto it = decisions_.find(key);
    if (it != decisions_.end() && clock_.Now() < it->second.decided + window_) {
      found.reusable = it->second.response;
    } else if (deciding_.insert(key).second) {
      found.claimed = true;
    } else {
      waiting_[key].push_back(std::move(then));
      return;
    }
  }
  then(std::move(found));
}

void DecisionReuse::Release(const std::string& key, const v1::VouchResponse* issued) {
  std::vector<std::function<void(Found)>> waiting;
  {
    absl::MutexLock lock(&mutex_);
    auto it = waiting_.find(key);
    if (it != waiting_.end()) {
      waiting = std::move(it->second);
      waiting_.erase(it);
    }
    ReleaseLocked(key, issued);
  }
  // Each waiter looks again: the decision to reuse, or the first of them claims the key.
  for (std::function<void(Found)>& then : waiting) FindOrWait(key, std::move(then));
}

void DecisionReuse::ReleaseLocked(const std::string& key, const v1::VouchResponse* issued) {
  const absl::Time now = clock_.Now();
  deciding_.erase(key);
  if (issued == nullptr || !issued->has_vouching_data()) return;
  if (decisions_.size() >= max_decisions_ && decisions_.count(key) == 0) {
    ForgetExpiredLocked(now);
    if (decisions_.size() >= max_decisions_) {
      decisions_.erase(std::min_element(
          decisions_.begin(), decisions_.end(),
          [](const auto& a, const auto& b) { return a.second.decided < b.second.decided; }));
    }
  }
  decisions_[key] = Decision{*issued, now};
}

size_t DecisionReuse::Size() const {
  absl::MutexLock lock(&mutex_);
  return decisions_.size();
}

void DecisionReuse::ForgetExpiredLocked(absl::Time now) {
  for (auto it = decisions_.begin(); it != decisions_.end();) {
    if (it->second.decided + window_ <= now) {
      it = decisions_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace mecai
