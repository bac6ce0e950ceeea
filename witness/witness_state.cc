#include "witness/witness_state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/transparency/merkle.h"

namespace mecai {
namespace witness {
namespace {

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

absl::StatusOr<std::unique_ptr<WitnessState>> WitnessState::Open(const std::string& path) {
  const std::string lock_path = absl::StrCat(path, ".lock");
  const int lock_fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) return ErrnoError("cannot open", lock_path);
  if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    close(lock_fd);
    return absl::FailedPreconditionError(
        absl::StrCat("another process holds the witness state ", path, " (", lock_path, ")"));
  }
  std::map<std::string, CosignedTree> trees;
  absl::StatusOr<std::string> bytes = ReadFile(path, 64 << 20);
  if (bytes.ok()) {
    v1::WitnessState state;
    if (!state.ParseFromString(*bytes)) {
      close(lock_fd);
      return absl::DataLossError(absl::StrCat("the witness state ", path, " does not parse"));
    }
    for (const v1::WitnessState::Log& log : state.logs()) {
      if (log.root_hash().size() != kMerkleHashBytes ||
          !trees.emplace(log.origin(), CosignedTree{log.tree_size(), log.root_hash()}).second) {
        close(lock_fd);
        return absl::DataLossError(
            absl::StrCat("the witness state ", path, " is corrupt at origin ", log.origin()));
      }
    }
  } else if (!absl::IsNotFound(bytes.status())) {
    close(lock_fd);
    return bytes.status();
  }
  return std::unique_ptr<WitnessState>(new WitnessState(path, lock_fd, std::move(trees)));
}

WitnessState::~WitnessState() { close(lock_fd_); }

std::optional<CosignedTree> WitnessState::Get(const std::string& origin) const {
  absl::MutexLock lock(&mutex_);
  auto it = trees_.find(origin);
  if (it == trees_.end()) return std::nullopt;
  return it->second;
}

absl::Status WitnessState::Put(const std::string& origin, const CosignedTree& tree) {
  absl::MutexLock lock(&mutex_);
  std::map<std::string, CosignedTree> next = trees_;
  next[origin] = tree;
  v1::WitnessState state;
  for (const auto& [name, cosigned] : next) {
    v1::WitnessState::Log* log = state.add_logs();
    log->set_origin(name);
    log->set_tree_size(cosigned.tree_size);
    log->set_root_hash(cosigned.root_hash);
  }
  RETURN_IF_ERROR(WriteFileAtomically(path_, state.SerializeAsString(), 0600));
  // The rename itself is durable once the directory is synced.
  const std::string directory = DirectoryOf(path_);
  const int fd = open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", directory);
  const int synced = fsync(fd);
  close(fd);
  if (synced != 0) return ErrnoError("cannot sync", directory);
  trees_ = std::move(next);
  return absl::OkStatus();
}

}  // namespace witness
}  // namespace mecai
