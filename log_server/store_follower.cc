#include "log_server/store_follower.h"

#include <utility>

#include "absl/memory/memory.h"
#include "absl/strings/str_cat.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/evidence/log_entry.h"
#include "common/storage/rocksdb_status.h"
#include "common/transparency/signed_note.h"
#include "common/transparency/tiles.h"
#include "common/transparency/tlog_checkpoint.h"
#include "coordinator/record_store_layout.h"
#include "proto/mecai/v1/signer.pb.h"
#include "rocksdb/db.h"
#include "rocksdb/iterator.h"
#include "rocksdb/options.h"

namespace mecai {
namespace {

namespace layout = record_store_layout;

absl::string_view ToView(const rocksdb::Slice& slice) {
  return absl::string_view(slice.data(), slice.size());
}

}  // namespace

absl::StatusOr<std::unique_ptr<StoreFollower>> StoreFollower::Open(
    const std::string& store_path, const std::string& secondary_path, const std::string& shard_id,
    NoteVerifierKey vkey, SecondaryInfoLogLimits info_log) {
  rocksdb::Options options;
  // A secondary keeps every file open: the primary may delete them after a compaction.
  options.max_open_files = -1;
  options.create_if_missing = false;
  options.paranoid_checks = true;
  options.max_log_file_size = info_log.file_bytes;
  options.keep_log_file_num = info_log.files_kept;
  const std::vector<std::string> names = {
      rocksdb::kDefaultColumnFamilyName, layout::kRecordsFamily,  layout::kMerkleFamily,
      layout::kCheckpointsFamily,        layout::kEvidenceFamily, layout::kRecordHashesFamily};
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : names) {
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions(options));
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw_db = nullptr;
  RETURN_IF_ERROR(FromRocksDbStatus(
      rocksdb::DB::OpenAsSecondary(rocksdb::DBOptions(options), store_path, secondary_path,
                                   descriptors, &handles, &raw_db),
      absl::StrCat("record store at ", store_path, ": opening it as a RocksDB secondary")));
  Families families{handles[0], handles[1], handles[2], handles[3], handles[4], handles[5]};
  auto follower = absl::WrapUnique(new StoreFollower(
      store_path, std::unique_ptr<rocksdb::DB>(raw_db), families, std::move(vkey)));
  std::string stored_shard;
  RETURN_IF_ERROR(FromRocksDbStatus(
      follower->db_->Get(rocksdb::ReadOptions(), families.default_family, layout::kShardIdKey,
                         &stored_shard),
      absl::StrCat("record store at ", store_path, ": reading its log shard id")));
  if (stored_shard != shard_id) {
    return absl::FailedPreconditionError(absl::StrCat("record store at ", store_path,
                                                      " holds log shard \"", stored_shard,
                                                      "\", not \"", shard_id, "\""));
  }
  std::string format_version;
  RETURN_IF_ERROR(FromRocksDbStatus(
      follower->db_->Get(rocksdb::ReadOptions(), families.default_family, layout::kFormatVersionKey,
                         &format_version),
      absl::StrCat("record store at ", store_path, ": reading its format version")));
  if (format_version != layout::kFormatVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("record store at ", store_path, " has format version \"", format_version,
                     "\"; this binary reads version ", layout::kFormatVersion));
  }
  absl::Status caught_up = follower->CatchUp();
  // A checkpoint that does not verify is not served, but the log may still be followed.
  if (!caught_up.ok() && caught_up.code() != absl::StatusCode::kPermissionDenied) {
    return caught_up;
  }
  return follower;
}

StoreFollower::StoreFollower(std::string store_path, std::unique_ptr<rocksdb::DB> db,
                             Families families, NoteVerifierKey vkey)
    : store_path_(std::move(store_path)),
      db_(std::move(db)),
      families_(families),
      vkey_(std::move(vkey)) {}

StoreFollower::~StoreFollower() {
  for (rocksdb::ColumnFamilyHandle* handle :
       {families_.default_family, families_.records, families_.merkle, families_.checkpoints,
        families_.evidence, families_.record_hashes}) {
    if (handle != nullptr) db_->DestroyColumnFamilyHandle(handle);
  }
  db_->Close().PermitUncheckedError();
}

absl::Status StoreFollower::CatchUp() {
  absl::MutexLock catch_up(&catch_up_mutex_);
  const std::string what = absl::StrCat("record store at ", store_path_);
  RETURN_IF_ERROR(FromRocksDbStatus(db_->TryCatchUpWithPrimary(),
                                    absl::StrCat(what, ": catching up with the coordinator")));
  // Only this function changes tree_, and only under catch_up_mutex_: its size is stable here.
  const uint64_t known = LeavesRead();
  std::string size_bytes;
  RETURN_IF_ERROR(FromRocksDbStatus(
      db_->Get(rocksdb::ReadOptions(), families_.merkle, layout::kTreeSizeKey, &size_bytes),
      absl::StrCat(what, ": reading the tree size")));
  uint64_t tree_size = 0;
  if (!layout::DecodeIndex(size_bytes, &tree_size) || tree_size < known) {
    return absl::DataLossError(absl::StrCat(what, ": the tree size is unreadable or shrank"));
  }
  std::vector<std::string> new_hashes;
  if (tree_size > known) {
    rocksdb::ReadOptions scan;
    scan.fill_cache = false;
    const std::string end = layout::EncodeIndex(tree_size);
    const rocksdb::Slice upper(end);
    scan.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(scan, families_.merkle));
    uint64_t expected = known;
    for (it->Seek(layout::EncodeIndex(known)); it->Valid(); it->Next()) {
      uint64_t index = 0;
      if (!layout::DecodeIndex(ToView(it->key()), &index)) continue;  // the tree size key
      if (index != expected || it->value().size() != kMerkleHashBytes) {
        return absl::DataLossError(
            absl::StrCat(what, ": the leaf hash of record ", expected, " is missing or malformed"));
      }
      new_hashes.emplace_back(ToView(it->value()));
      ++expected;
    }
    RETURN_IF_ERROR(FromRocksDbStatus(it->status(), absl::StrCat(what, ": reading leaf hashes")));
    if (expected != tree_size) {
      return absl::DataLossError(
          absl::StrCat(what, ": the leaf hash of record ", expected, " is missing"));
    }
  }
  uint64_t served_size = 0;
  {
    absl::MutexLock lock(&mutex_);
    for (const std::string& hash : new_hashes) RETURN_IF_ERROR(tree_.AppendLeafHash(hash));
    if (served_) served_size = served_->tree_size;
  }
  ASSIGN_OR_RETURN(std::optional<std::string> note, NewestNoteFrom(served_size));
  if (!note) return absl::OkStatus();
  absl::MutexLock lock(&mutex_);
  // The served note again, or the same tree's note stored again with witnesses' cosignatures
  // (coordinator/witness_collector.h), which replaces it once it verifies.
  if (served_ && served_->note == *note) return absl::OkStatus();
  ASSIGN_OR_RETURN(ServedCheckpoint checked, CheckNote(*note, tree_));
  if (!served_ || checked.tree_size >= served_->tree_size) served_ = std::move(checked);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> StoreFollower::NewestNoteFrom(uint64_t from) const {
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), families_.checkpoints));
  for (it->SeekToLast(); it->Valid(); it->Prev()) {
    uint64_t size = 0;
    if (!layout::DecodeIndex(ToView(it->key()), &size)) {
      return absl::DataLossError(
          absl::StrCat("record store at ", store_path_, ": a checkpoint key is malformed"));
    }
    if (size < from) break;
    v1::SignedCheckpoint checkpoint;
    if (!checkpoint.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError(absl::StrCat(
          "record store at ", store_path_, ": the checkpoint of size ", size, " does not parse"));
    }
    if (!checkpoint.note().empty()) return std::optional<std::string>(checkpoint.note());
  }
  RETURN_IF_ERROR(FromRocksDbStatus(it->status(), "reading the checkpoints"));
  return std::optional<std::string>();
}

absl::StatusOr<ServedCheckpoint> StoreFollower::CheckNote(const std::string& note,
                                                          const MerkleTree& tree) const {
  absl::StatusOr<OpenedNote> opened = OpenSignedNote(note, {vkey_});
  if (!opened.ok()) {
    return Annotate(opened.status(), "the newest checkpoint note does not verify with the vkey");
  }
  ASSIGN_OR_RETURN(TlogCheckpoint checkpoint, ParseCheckpointText(opened->text));
  if (checkpoint.origin != vkey_.name) {
    return absl::PermissionDeniedError(absl::StrCat("the newest checkpoint note is of origin \"",
                                                    checkpoint.origin, "\", not \"", vkey_.name,
                                                    "\""));
  }
  absl::StatusOr<std::string> root = tree.RootHash(checkpoint.tree_size);
  if (!root.ok() || *root != checkpoint.root_hash) {
    return absl::DataLossError(absl::StrCat("the checkpoint note of size ", checkpoint.tree_size,
                                            " does not match the leaves of the store"));
  }
  return ServedCheckpoint{checkpoint.tree_size, checkpoint.root_hash, note};
}

std::optional<ServedCheckpoint> StoreFollower::Checkpoint() const {
  absl::MutexLock lock(&mutex_);
  return served_;
}

uint64_t StoreFollower::LeavesRead() const {
  absl::MutexLock lock(&mutex_);
  return tree_.size();
}

absl::StatusOr<std::string> StoreFollower::TileHashes(const TileCoordinates& tile) const {
  absl::MutexLock lock(&mutex_);
  return mecai::TileHashes(tree_, served_ ? served_->tree_size : 0, tile);
}

absl::StatusOr<std::vector<std::string>> StoreFollower::BundleEntries(
    const TileCoordinates& bundle) const {
  std::vector<std::string> leaf_hashes;
  const uint64_t first = FirstEntryIndex(bundle);
  {
    absl::MutexLock lock(&mutex_);
    RETURN_IF_ERROR(CheckTileInTree(bundle, served_ ? served_->tree_size : 0));
    for (uint64_t i = 0; i < bundle.width; ++i) {
      ASSIGN_OR_RETURN(std::string hash, tree_.LeafHashAt(first + i));
      leaf_hashes.push_back(std::move(hash));
    }
  }
  rocksdb::ReadOptions read;
  read.verify_checksums = true;
  const std::string end_key = layout::EncodeIndex(first + bundle.width);
  const rocksdb::Slice upper(end_key);
  read.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, families_.records));
  std::vector<std::string> entries;
  for (it->Seek(layout::EncodeIndex(first)); it->Valid() && entries.size() < bundle.width;
       it->Next()) {
    const uint64_t index = first + entries.size();
    // The leaves are the records' LogEntries (common/evidence/log_entry.h).
    absl::StatusOr<std::string> entry = LogEntryOfRecord(ToView(it->value()));
    uint64_t key = 0;
    if (!layout::DecodeIndex(ToView(it->key()), &key) || key != index || !entry.ok() ||
        LeafHash(*entry) != leaf_hashes[entries.size()]) {
      return absl::DataLossError(absl::StrCat("record store at ", store_path_, ": record ", index,
                                              " is missing or does not hash to its leaf"));
    }
    entries.push_back(*std::move(entry));
  }
  RETURN_IF_ERROR(FromRocksDbStatus(it->status(), "reading records"));
  if (entries.size() != bundle.width) {
    return absl::DataLossError(absl::StrCat("record store at ", store_path_, ": record ",
                                            first + entries.size(), " is missing"));
  }
  return entries;
}

absl::StatusOr<std::string> StoreFollower::Evidence(absl::string_view sha256) const {
  if (sha256.size() != kMerkleHashBytes) {
    return absl::InvalidArgumentError("an evidence hash is 32 bytes (SHA-256)");
  }
  rocksdb::ReadOptions read;
  read.verify_checksums = true;
  const rocksdb::Slice key(sha256.data(), sha256.size());
  std::string bytes;
  rocksdb::Status status = db_->Get(read, families_.evidence, key, &bytes);
  if (status.IsNotFound()) {
    // Not a revocation response: a record, by the hash its log entry names?
    std::string index_key;
    status = db_->Get(read, families_.record_hashes, key, &index_key);
    if (status.ok()) status = db_->Get(read, families_.records, index_key, &bytes);
  }
  if (status.IsNotFound()) {
    return absl::NotFoundError(absl::StrCat("no evidence ", HexEncode(sha256)));
  }
  RETURN_IF_ERROR(FromRocksDbStatus(
      status, absl::StrCat("record store at ", store_path_, ": reading evidence")));
  if (Sha256(bytes) != sha256) {
    return absl::DataLossError(absl::StrCat("record store at ", store_path_, ": evidence ",
                                            HexEncode(sha256), " does not hash to its name"));
  }
  return bytes;
}

}  // namespace mecai
