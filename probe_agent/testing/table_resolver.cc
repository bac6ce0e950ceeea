#include "probe_agent/testing/table_resolver.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace mecai {
namespace test_support {

void TableResolver::Set(const std::string& hostname,
                        absl::StatusOr<std::vector<std::string>> answer) {
  absl::MutexLock lock(&mutex_);
  answers_.insert_or_assign(hostname, std::move(answer));
}

absl::StatusOr<std::vector<std::string>> TableResolver::Resolve(const std::string& hostname,
                                                                absl::Duration /*timeout*/) {
  absl::MutexLock lock(&mutex_);
  auto found = answers_.find(hostname);
  if (found == answers_.end()) {
    return absl::NotFoundError(absl::StrCat("hostname ", hostname, " has no A or AAAA records"));
  }
  return found->second;
}

}  // namespace test_support
}  // namespace mecai
