// The witness's memory (docs/PUBLIC_LOG.md "Witnesses"): per log origin, the size and root hash of
// the last checkpoint it cosigned, kept in one file (v1::WitnessState) that is replaced atomically
// and synced, file and directory, before Put returns: a cosignature made after Put never outlives
// a crash that forgets its tree. A lock file (<state file>.lock, flock(2)) keeps a second process
// off the same state.
#ifndef MECAI_WITNESS_WITNESS_STATE_H_
#define MECAI_WITNESS_WITNESS_STATE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {
namespace witness {

struct CosignedTree {
  uint64_t tree_size = 0;
  // 32 bytes.
  std::string root_hash;
};

// Thread-safe.
class WitnessState {
 public:
  // Reads `path` (absent: an empty state, created on the first Put). FAILED_PRECONDITION when
  // another process holds the lock; DATA_LOSS when the file does not parse, names an origin twice
  // or holds a root that is not 32 bytes.
  static absl::StatusOr<std::unique_ptr<WitnessState>> Open(const std::string& path);
  ~WitnessState();

  // The last tree cosigned of `origin`; none before the first.
  std::optional<CosignedTree> Get(const std::string& origin) const;

  // Records `tree` as the last cosigned of `origin` and syncs the file before returning. On an
  // error the state in memory is unchanged.
  absl::Status Put(const std::string& origin, const CosignedTree& tree);

 private:
  WitnessState(std::string path, int lock_fd, std::map<std::string, CosignedTree> trees)
      : path_(std::move(path)), lock_fd_(lock_fd), trees_(std::move(trees)) {}

  const std::string path_;
  const int lock_fd_;
  mutable absl::Mutex mutex_;
  std::map<std::string, CosignedTree> trees_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace witness
}  // namespace mecai

#endif  // MECAI_WITNESS_WITNESS_STATE_H_
