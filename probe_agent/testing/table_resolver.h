// A Resolver answering from a table, for tests of the prober and the service logic. The real
// resolver (CaresResolver) is tested against dnsmasq in resolver_test.
#ifndef MECAI_PROBE_AGENT_TESTING_TABLE_RESOLVER_H_
#define MECAI_PROBE_AGENT_TESTING_TABLE_RESOLVER_H_

#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "probe_agent/resolver.h"

namespace mecai {
namespace test_support {

// Thread-safe.
class TableResolver : public probe_agent::Resolver {
 public:
  // From now on `hostname` resolves to `answer` (addresses, or an error status).
  void Set(const std::string& hostname, absl::StatusOr<std::vector<std::string>> answer);

  // The table's answer; NOT_FOUND for names not in the table.
  absl::StatusOr<std::vector<std::string>> Resolve(const std::string& hostname,
                                                   absl::Duration timeout) override;

 private:
  absl::Mutex mutex_;
  std::map<std::string, absl::StatusOr<std::vector<std::string>>> answers_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace test_support
}  // namespace mecai

#endif  // MECAI_PROBE_AGENT_TESTING_TABLE_RESOLVER_H_
