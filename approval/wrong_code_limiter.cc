#include "approval/wrong_code_limiter.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/net/ip_address.h"

namespace mecai {

std::string WrongCodeLimiter::NetworkOf(const std::string& address) {
  absl::StatusOr<IpAddress> parsed = ParseIpAddress(address);
  if (!parsed.ok()) return address;
  if (std::optional<IpAddress> embedded = parsed->EmbeddedIpv4()) return embedded->ToString();
  if (parsed->family == IpAddress::Family::kIpv4) return parsed->ToString();
  // One IPv6 subscriber usually holds a whole /64 (RFC 6177).
  IpAddress network = *parsed;
  std::fill(network.bytes.begin() + 8, network.bytes.end(), 0);
  return absl::StrCat(network.ToString(), "/64");
}

bool WrongCodeLimiter::Expire(std::deque<absl::Time>& times, absl::Time now) const {
  while (!times.empty() && times.front() + limits_.window <= now) times.pop_front();
  return times.empty();
}

void WrongCodeLimiter::Sweep(absl::Time now) {
  if (now - last_sweep_ < limits_.window) return;
  last_sweep_ = now;
  for (auto* map : {&by_address_, &by_request_}) {
    for (auto entry = map->begin(); entry != map->end();) {
      entry = Expire(entry->second, now) ? map->erase(entry) : std::next(entry);
    }
  }
}

bool WrongCodeLimiter::TryAcquire(const std::string& address, const std::string& transaction_number,
                                  absl::Duration* retry_after) {
  const absl::Time now = clock_.Now();
  const std::string network = NetworkOf(address);
  absl::MutexLock lock(&mutex_);
  Sweep(now);
  std::deque<absl::Time>& per_address = by_address_[network];
  std::deque<absl::Time>& per_request =
      by_request_[absl::StrCat(network, std::string(1, '\0'), transaction_number)];
  Expire(per_address, now);
  Expire(per_request, now);
  absl::Time free_at = absl::InfinitePast();
  if (per_address.size() >= limits_.per_address) {
    free_at = std::max(free_at, per_address[per_address.size() - limits_.per_address]);
  }
  if (per_request.size() >= limits_.per_address_and_request) {
    free_at = std::max(free_at, per_request[per_request.size() - limits_.per_address_and_request]);
  }
  if (free_at != absl::InfinitePast()) {
    *retry_after = free_at + limits_.window - now;
    return false;
  }
  per_address.push_back(now);
  per_request.push_back(now);
  return true;
}

void WrongCodeLimiter::Release(const std::string& address, const std::string& transaction_number) {
  const std::string network = NetworkOf(address);
  absl::MutexLock lock(&mutex_);
  // The newest time is this attempt's, or one as recent: either leaves the same count.
  auto per_address = by_address_.find(network);
  if (per_address != by_address_.end() && !per_address->second.empty()) {
    per_address->second.pop_back();
  }
  auto per_request =
      by_request_.find(absl::StrCat(network, std::string(1, '\0'), transaction_number));
  if (per_request != by_request_.end() && !per_request->second.empty()) {
    per_request->second.pop_back();
  }
}

}  // namespace mecai
