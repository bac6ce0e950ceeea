// The public log server's view of one coordinator's record store (coordinator/record_store.h):
// a RocksDB secondary instance of the store the coordinator writes, on the same file system,
// that never writes it and catches up with it on demand (RocksDB "Secondary instance"). It holds
// the log's leaf hashes in a Merkle tree in memory (about 64 bytes per leaf, as the coordinator
// does) and the newest checkpoint the signer signed as a C2SP note, checked before it is served:
// the note verifies with the log's verifier key, names the log's origin, and its size and root are
// those of the leaves read (docs/PUBLIC_LOG.md).
#ifndef MECAI_LOG_SERVER_STORE_FOLLOWER_H_
#define MECAI_LOG_SERVER_STORE_FOLLOWER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/transparency/merkle.h"
#include "common/transparency/note_key.h"
#include "common/transparency/tile_path.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
}  // namespace rocksdb

namespace mecai {

// The checkpoint being served.
struct ServedCheckpoint {
  uint64_t tree_size = 0;
  std::string root_hash;
  // The signed note, exactly as the signer made it.
  std::string note;
};

// RocksDB's info log in the secondary's directory gets a line at every catch-up (once a second by
// default): it is rolled at `file_bytes`, and of its files (the current one and the rolled ones)
// the newest `files_kept` are kept, so it stays near files_kept * (file_bytes + RocksDB's header
// of each file, the options, some 60 KB) however long the server runs (max_log_file_size and
// keep_log_file_num of rocksdb::DBOptions).
struct SecondaryInfoLogLimits {
  size_t file_bytes = 256 << 10;
  size_t files_kept = 3;
};

// Thread-safe: CatchUp excludes readers for the moment it installs what it read.
class StoreFollower {
 public:
  // Opens the store at `store_path` as a secondary whose own files go to `secondary_path` (a
  // directory of this process, created if missing), checks it holds `shard_id`, and catches up
  // once. `vkey` verifies the checkpoint notes; its key name is the log's origin.
  // FAILED_PRECONDITION for a store of another shard or format; RocksDB's errors otherwise.
  static absl::StatusOr<std::unique_ptr<StoreFollower>> Open(
      const std::string& store_path, const std::string& secondary_path, const std::string& shard_id,
      NoteVerifierKey vkey, SecondaryInfoLogLimits info_log = SecondaryInfoLogLimits());
  ~StoreFollower();
  StoreFollower(const StoreFollower&) = delete;
  StoreFollower& operator=(const StoreFollower&) = delete;

  // Reads what the coordinator wrote since the last call: new leaf hashes (contiguous, 32 bytes
  // each, else DATA_LOSS) and the newest checkpoint with a note. A note that does not verify or
  // does not match the leaves is not served (the previous one stays) and is the error returned
  // (PERMISSION_DENIED, DATA_LOSS).
  absl::Status CatchUp() ABSL_LOCKS_EXCLUDED(mutex_);

  // The checkpoint served; nullopt before the signer signed a note of this log.
  std::optional<ServedCheckpoint> Checkpoint() const ABSL_LOCKS_EXCLUDED(mutex_);

  // The hashes of hash tile `tile` in the served tree; NOT_FOUND beyond it (or before any
  // checkpoint).
  absl::StatusOr<std::string> TileHashes(const TileCoordinates& tile) const
      ABSL_LOCKS_EXCLUDED(mutex_);

  // The leaves (stored records) of entry bundle `bundle` in the served tree, each checked against
  // its leaf hash (DATA_LOSS otherwise); NOT_FOUND beyond the tree.
  absl::StatusOr<std::vector<std::string>> BundleEntries(const TileCoordinates& bundle) const
      ABSL_LOCKS_EXCLUDED(mutex_);

  // The bytes the store keeps under the content hash `sha256` (32 bytes): a revocation response a
  // record names by hash (the evidence family, coordinator/record_evidence.h), or a record the
  // log's entries name by hash (the record_hashes family, common/evidence/log_entry.h), read
  // whether or not a served checkpoint covers it yet. Checked to hash to `sha256` (DATA_LOSS
  // otherwise); NOT_FOUND when the store holds nothing under it.
  absl::StatusOr<std::string> Evidence(absl::string_view sha256) const;

  // Leaves read so far (at least the served tree size).
  uint64_t LeavesRead() const ABSL_LOCKS_EXCLUDED(mutex_);

 private:
  struct Families {
    rocksdb::ColumnFamilyHandle* default_family = nullptr;
    rocksdb::ColumnFamilyHandle* records = nullptr;
    rocksdb::ColumnFamilyHandle* merkle = nullptr;
    rocksdb::ColumnFamilyHandle* checkpoints = nullptr;
    rocksdb::ColumnFamilyHandle* evidence = nullptr;
    rocksdb::ColumnFamilyHandle* record_hashes = nullptr;
  };
  StoreFollower(std::string store_path, std::unique_ptr<rocksdb::DB> db, Families families,
                NoteVerifierKey vkey);

  // The note of the newest stored checkpoint that carries one, of a size at least `from` (the
  // served size: its note may have been stored again with cosignatures); nullopt when there is
  // none.
  absl::StatusOr<std::optional<std::string>> NewestNoteFrom(uint64_t from) const;
  // `note` checked against the vkey and `tree`.
  absl::StatusOr<ServedCheckpoint> CheckNote(const std::string& note, const MerkleTree& tree) const;

  const std::string store_path_;
  const std::unique_ptr<rocksdb::DB> db_;
  const Families families_;
  const NoteVerifierKey vkey_;

  // One CatchUp at a time; taken before mutex_.
  absl::Mutex catch_up_mutex_ ABSL_ACQUIRED_BEFORE(mutex_);
  mutable absl::Mutex mutex_;
  MerkleTree tree_ ABSL_GUARDED_BY(mutex_);
  std::optional<ServedCheckpoint> served_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace mecai

#endif  // MECAI_LOG_SERVER_STORE_FOLLOWER_H_
